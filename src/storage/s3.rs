//! An S3-compatible object store holding the same OCFL layout as the local
//! disk: path-style requests through reqwest, signed with AWS Signature V4
//! (hand-written from AWS's documented algorithm; tested against AWS's
//! published examples). Large files go up as multipart uploads, which S3 makes
//! visible only on `CompleteMultipartUpload`, so a failed or mismatching upload
//! is aborted and nothing appears at the key.

use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::stream::{StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, Response, StatusCode};
use sha2::{Digest as _, Sha256};

use super::blob::{validate_key, BlobStore, ByteStream, PutReceipt};
use super::StorageError;
use crate::secret::Secret;

/// Default multipart part size; S3 requires at least 5 MiB for all parts but
/// the last.
pub const DEFAULT_PART_SIZE: u64 = 16 << 20;
pub const MIN_PART_SIZE: u64 = 5 << 20;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Tries of an idempotent request (GET, HEAD, PUT, DELETE) that meets a 5xx answer or
/// a connection error: the first and this many minus one retries.
const MAX_TRIES: u32 = 4;
/// First retry delay; it doubles per retry (250 ms, 500 ms, 1 s), with jitter.
const RETRY_BASE_MS: u64 = 250;

/// Whether an answer is worth asking again for: the server's own trouble (500, 502,
/// 503 SlowDown, 504), not a refusal of the request.
fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED
}

/// Only requests that may run twice with the same effect are retried; a POST
/// (create or complete a multipart upload) is not.
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    )
}

/// The wait before retry `retry` (1-based): base × 2^(retry-1), plus up to half again.
fn retry_delay(retry: u32) -> std::time::Duration {
    let base = RETRY_BASE_MS << retry.saturating_sub(1).min(10);
    let jitter = rand::random::<u64>() % (base / 2 + 1);
    std::time::Duration::from_millis(base + jitter)
}

/// Where and how to reach the bucket (from `HOLDFAST_STORAGE_URL` and the
/// `HOLDFAST_S3_*` settings).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Scheme, host and port, no trailing slash, e.g. `http://127.0.0.1:8333`.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/`; may be empty.
    pub prefix: String,
    pub access_key: String,
    pub secret_key: Secret,
    pub part_size: u64,
}

/// `s3://bucket/prefix` into (bucket, prefix).
pub fn parse_storage_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .trim()
        .strip_prefix("s3://")
        .ok_or_else(|| format!("HOLDFAST_STORAGE_URL '{url}' must look like s3://bucket/prefix"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if !valid_bucket {
        return Err(format!(
            "HOLDFAST_STORAGE_URL '{url}': '{bucket}' is not an S3 bucket name (3-63 lowercase letters, digits, '-' or '.')"
        ));
    }
    let prefix = prefix.trim_matches('/');
    if !prefix.is_empty() {
        validate_key(prefix).map_err(|e| format!("HOLDFAST_STORAGE_URL '{url}': prefix {e}"))?;
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

impl S3Settings {
    /// Checks and assembles the settings; every problem is named in the error.
    pub fn new(
        storage_url: &str,
        endpoint: Option<String>,
        region: Option<String>,
        access_key: Option<String>,
        secret_key: Option<String>,
        part_size: Option<u64>,
    ) -> Result<S3Settings, String> {
        let (bucket, prefix) = parse_storage_url(storage_url)?;
        let region = region
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = endpoint
            .map(|e| e.trim().trim_end_matches('/').to_string())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let parsed = url::Url::parse(&endpoint)
            .map_err(|e| format!("HOLDFAST_S3_ENDPOINT '{endpoint}' is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str().is_none()
            || parsed.path() != "/"
            || parsed.query().is_some()
        {
            return Err(format!(
                "HOLDFAST_S3_ENDPOINT '{endpoint}' must be an http(s) URL without a path, like http://127.0.0.1:8333"
            ));
        }
        let access_key = access_key
            .filter(|k| !k.trim().is_empty())
            .ok_or("HOLDFAST_STORAGE_URL=s3://... needs HOLDFAST_S3_ACCESS_KEY")?;
        let secret_key = secret_key
            .filter(|k| !k.is_empty())
            .ok_or("HOLDFAST_STORAGE_URL=s3://... needs HOLDFAST_S3_SECRET_KEY")?;
        let part_size = part_size.unwrap_or(DEFAULT_PART_SIZE);
        if !(MIN_PART_SIZE..=(5 << 30)).contains(&part_size) {
            return Err(format!(
                "HOLDFAST_S3_PART_SIZE {part_size} must be between 5 MiB ({MIN_PART_SIZE}) and 5 GiB"
            ));
        }
        Ok(S3Settings {
            endpoint,
            region,
            bucket,
            prefix,
            access_key: access_key.trim().to_string(),
            secret_key: Secret::new(secret_key),
            part_size,
        })
    }
}

/// Characters left as they are in a SigV4 canonical URI (unreserved and `/`).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');
/// Characters left as they are in canonical query names and values.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The canonical query string: names and values encoded, sorted.
fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| {
            (
                utf8_percent_encode(k, QUERY).to_string(),
                utf8_percent_encode(v, QUERY).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Authorization` header value of a request (AWS Signature Version 4).
/// `path` is already URI-encoded; `headers` are (lowercase name, value) and
/// must include `host`, `x-amz-date` and `x-amz-content-sha256`.
#[allow(clippy::too_many_arguments)]
fn authorization(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    payload_sha256: &str,
    access_key: &str,
    secret_key: &str,
    region: &str,
    amz_date: &str,
) -> String {
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_sha256}"
    );
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, b"s3");
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

fn s3_error(what: &str, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Io(std::io::Error::other(format!("S3 {what}: {detail}")))
}

/// The texts of every `<tag>` element in an XML answer, unescaped, in order.
fn xml_values(xml: &str, tag: &str) -> Result<Vec<String>, StorageError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().as_ref() == tag => {
                inside = true;
                text.clear();
            }
            Ok(Event::Text(t)) if inside => {
                // Entity references arrive as their own events, so text is plain.
                text.push_str(&t.into_inner());
            }
            Ok(Event::GeneralRef(r)) if inside => {
                // Entity references (&amp; ...) come as their own events.
                let name = r.into_inner();
                let raw = format!("&{name};");
                let s = quick_xml::escape::unescape(&raw)
                    .map_err(|e| s3_error("answer", format!("bad XML: {e}")))?;
                text.push_str(&s);
            }
            Ok(Event::End(e)) if inside && e.local_name().as_ref() == tag => {
                inside = false;
                out.push(std::mem::take(&mut text));
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(s3_error("answer", format!("bad XML: {e}"))),
        }
    }
    Ok(out)
}

/// The raw XML of every `<tag>` element, so fields of repeated records (the uploads
/// of a listing) stay together.
fn xml_elements(xml: &str, tag: &str) -> Result<Vec<String>, StorageError> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start..];
        let end = after
            .find(&close)
            .ok_or_else(|| s3_error("answer", format!("bad XML: unclosed <{tag}>")))?;
        out.push(after[..end + close.len()].to_string());
        rest = &after[end + close.len()..];
    }
    Ok(out)
}

/// Cheap to clone (the HTTP client is shared), so a pending multipart upload can
/// abort itself from a background task when its future is dropped.
#[derive(Clone)]
pub struct S3Store {
    http: reqwest::Client,
    settings: S3Settings,
    /// `host[:port]` as sent in the Host header and signed.
    host: String,
    /// ListObjectsV2 `max-keys` (S3 answers at most 1000 per page anyway).
    list_page: u32,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("settings", &self.settings)
            .finish()
    }
}

struct Request<'a> {
    method: Method,
    /// Object key relative to the store root; None for the bucket itself.
    key: Option<&'a str>,
    query: Vec<(&'a str, String)>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl<'a> Request<'a> {
    fn new(method: Method, key: Option<&'a str>) -> Self {
        Request {
            method,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

impl S3Store {
    pub fn new(settings: S3Settings) -> Result<S3Store, StorageError> {
        let url = url::Url::parse(&settings.endpoint)
            .map_err(|e| StorageError::InvalidInput(format!("S3 endpoint: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => {
                return Err(StorageError::InvalidInput(
                    "S3 endpoint has no host".to_string(),
                ))
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            // No whole-request timeout (a part or a download may be large); a
            // server that stops sending for this long fails the request.
            .read_timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| s3_error("client", e))?;
        Ok(S3Store {
            http,
            settings,
            host,
            list_page: 1000,
        })
    }

    /// Smaller listing pages, so tests can follow continuation tokens.
    #[doc(hidden)]
    pub fn with_list_page_size(mut self, keys: u32) -> S3Store {
        self.list_page = keys.max(1);
        self
    }

    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    fn full_key(&self, key: &str) -> String {
        if self.settings.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.settings.prefix)
        }
    }

    /// Sends a request; idempotent ones are retried with backoff on 5xx answers and
    /// connection errors (bounded by `MAX_TRIES`, each retry logged).
    async fn send(&self, req: Request<'_>) -> Result<Response, StorageError> {
        let tries = if idempotent(&req.method) {
            MAX_TRIES
        } else {
            1
        };
        let mut attempt = 1;
        loop {
            let result = self.send_once(&req).await;
            let why = match &result {
                Ok(resp) if retryable_status(resp.status()) => resp.status().to_string(),
                Ok(_) => return result,
                Err(e) => e.to_string(),
            };
            if attempt >= tries {
                return result;
            }
            let delay = retry_delay(attempt);
            tracing::warn!(
                method = %req.method,
                key = req.key.unwrap_or(""),
                attempt,
                error = %why,
                retry_in_ms = delay.as_millis() as u64,
                "S3 request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, req: &Request<'_>) -> Result<Response, StorageError> {
        let mut path = format!("/{}", self.settings.bucket);
        if let Some(key) = req.key {
            path.push('/');
            path.push_str(&utf8_percent_encode(&self.full_key(key), PATH).to_string());
        }
        let query_pairs: Vec<(&str, &str)> =
            req.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let query = canonical_query(&query_pairs);
        let payload = if req.body.is_empty() {
            EMPTY_SHA256.to_string()
        } else {
            hex::encode(Sha256::digest(&req.body))
        };
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut headers = req.headers.clone();
        headers.push(("host".into(), self.host.clone()));
        headers.push(("x-amz-date".into(), amz_date.clone()));
        headers.push(("x-amz-content-sha256".into(), payload.clone()));
        let auth = authorization(
            req.method.as_str(),
            &path,
            &query,
            &headers,
            &payload,
            &self.settings.access_key,
            self.settings.secret_key.expose(),
            &self.settings.region,
            &amz_date,
        );
        let mut url = format!("{}{path}", self.settings.endpoint);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let mut builder = self.http.request(req.method.clone(), &url);
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        builder = builder.header("authorization", auth);
        if req.method == Method::PUT || req.method == Method::POST {
            builder = builder.body(req.body.clone());
        }
        builder
            .send()
            .await
            .map_err(|e| s3_error(&format!("{} {path}", req.method), e))
    }

    /// Fails with the status and S3's error code unless the answer is a success.
    async fn check(what: &str, resp: Response) -> Result<Response, StorageError> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let code = xml_values(&body, "Code")
            .ok()
            .and_then(|v| v.into_iter().next())
            .unwrap_or_default();
        Err(s3_error(what, format!("{status} {code}")))
    }

    /// Creates the bucket if it does not exist (for tests and first set-up).
    pub async fn create_bucket(&self) -> Result<(), StorageError> {
        let resp = self.send(Request::new(Method::PUT, None)).await?;
        if resp.status() == StatusCode::CONFLICT {
            return Ok(()); // BucketAlreadyOwnedByYou / BucketAlreadyExists
        }
        Self::check("create bucket", resp).await.map(|_| ())
    }

    /// Checks at start that the bucket exists and the credentials are accepted,
    /// with a message that says which.
    pub async fn check_bucket(&self) -> Result<(), StorageError> {
        let resp = self.send(Request::new(Method::HEAD, None)).await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(s3_error(
                "bucket",
                format!(
                    "bucket '{}' does not exist at {}",
                    self.settings.bucket, self.settings.endpoint
                ),
            )),
            StatusCode::FORBIDDEN => Err(s3_error(
                "bucket",
                format!(
                    "access to bucket '{}' at {} was refused: check HOLDFAST_S3_ACCESS_KEY, HOLDFAST_S3_SECRET_KEY and HOLDFAST_S3_REGION",
                    self.settings.bucket, self.settings.endpoint
                ),
            )),
            s => Err(s3_error("bucket", format!("HEAD bucket answered {s}"))),
        }
    }

    /// Multipart uploads under this store's prefix that were started and neither
    /// completed nor aborted (a crash or a lost connection mid-upload).
    pub async fn incomplete_uploads(&self) -> Result<Vec<IncompleteUpload>, StorageError> {
        let (full_prefix, strip) = if self.settings.prefix.is_empty() {
            (String::new(), 0)
        } else {
            (
                format!("{}/", self.settings.prefix),
                self.settings.prefix.len() + 1,
            )
        };
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut req = Request::new(Method::GET, None);
            req.query.push(("uploads", String::new()));
            req.query.push(("prefix", full_prefix.clone()));
            if let Some((key, id)) = &markers {
                req.query.push(("key-marker", key.clone()));
                req.query.push(("upload-id-marker", id.clone()));
            }
            let resp = Self::check("list multipart uploads", self.send(req).await?).await?;
            let body = resp
                .text()
                .await
                .map_err(|e| s3_error("list multipart uploads", e))?;
            let uploads = xml_elements(&body, "Upload")?;
            for upload in &uploads {
                let field = |tag: &str| -> Result<String, StorageError> {
                    xml_values(upload, tag)?.into_iter().next().ok_or_else(|| {
                        s3_error("list multipart uploads", format!("an upload without {tag}"))
                    })
                };
                let key = field("Key")?;
                let initiated = chrono::DateTime::parse_from_rfc3339(&field("Initiated")?)
                    .map_err(|e| s3_error("list multipart uploads", e))?
                    .with_timezone(&chrono::Utc);
                if key.len() > strip && key.starts_with(&full_prefix) {
                    out.push(IncompleteUpload {
                        key: key[strip..].to_string(),
                        upload_id: field("UploadId")?,
                        initiated,
                    });
                }
            }
            let truncated = xml_values(&body, "IsTruncated")?
                .first()
                .is_some_and(|v| v == "true");
            let next_key = xml_values(&body, "NextKeyMarker")?.into_iter().next();
            let next_id = xml_values(&body, "NextUploadIdMarker")?.into_iter().next();
            match (truncated, next_key, next_id) {
                (true, Some(k), Some(i)) if markers.as_ref() != Some(&(k.clone(), i.clone())) => {
                    markers = Some((k, i))
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Aborts the incomplete multipart uploads under this store's prefix started
    /// before `cutoff`, so their parts stop taking space. Returns how many.
    pub async fn abort_stale_uploads(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StorageError> {
        let mut aborted = 0;
        for upload in self.incomplete_uploads().await? {
            if upload.initiated < cutoff {
                self.abort_upload(&upload.key, &upload.upload_id).await;
                tracing::info!(key = %upload.key, initiated = %upload.initiated, "aborted a stale multipart upload");
                aborted += 1;
            }
        }
        Ok(aborted)
    }

    /// Starts a multipart upload and leaves it incomplete (for tests of the sweep).
    #[doc(hidden)]
    pub async fn start_multipart_upload(&self, key: &str) -> Result<String, StorageError> {
        validate_key(key)?;
        self.create_multipart(key).await
    }

    async fn create_multipart(&self, key: &str) -> Result<String, StorageError> {
        let mut req = Request::new(Method::POST, Some(key));
        req.query.push(("uploads", String::new()));
        let resp = Self::check(
            &format!("create multipart upload of {key}"),
            self.send(req).await?,
        )
        .await?;
        let body = resp
            .text()
            .await
            .map_err(|e| s3_error("create upload", e))?;
        xml_values(&body, "UploadId")?
            .into_iter()
            .next()
            .ok_or_else(|| s3_error("create multipart upload", "no UploadId in the answer"))
    }

    async fn put_object(&self, key: &str, body: Bytes) -> Result<(), StorageError> {
        let mut req = Request::new(Method::PUT, Some(key));
        req.body = body;
        let resp = self.send(req).await?;
        Self::check(&format!("PUT {key}"), resp).await.map(|_| ())
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) {
        let mut req = Request::new(Method::DELETE, Some(key));
        req.query.push(("uploadId", upload_id.to_string()));
        let result = match self.send(req).await {
            Ok(resp) => Self::check("abort multipart upload", resp)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            // The bucket's lifecycle rules (or a later sweep) remove it; the
            // object itself never became visible.
            tracing::warn!(key, error = %e, "could not abort a multipart upload");
        }
    }

    /// Uploads the parts after the first and completes the upload; the caller
    /// aborts on any error.
    async fn multipart_rest(
        &self,
        key: &str,
        upload_id: &str,
        mut reader: PartReader,
        first: Bytes,
        second: Bytes,
        expected: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        let mut etags = Vec::new();
        let mut part = first;
        // The second part was read ahead to tell small files from large ones.
        let mut queued = Some(second);
        loop {
            let number = etags.len() + 1;
            let mut req = Request::new(Method::PUT, Some(key));
            req.query.push(("partNumber", number.to_string()));
            req.query.push(("uploadId", upload_id.to_string()));
            req.body = part;
            let resp = Self::check(
                &format!("upload part {number} of {key}"),
                self.send(req).await?,
            )
            .await?;
            let etag = resp
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| s3_error("upload part", "no ETag in the answer"))?
                .to_string();
            etags.push(etag);
            let next = match queued.take() {
                Some(q) => q,
                None => {
                    let (r, next) = reader.next_part().await?;
                    reader = r;
                    next
                }
            };
            if next.is_empty() {
                break;
            }
            part = next;
        }
        let (size, sha256) = reader.finish();
        if let Some(expected) = expected {
            if !expected.eq_ignore_ascii_case(&sha256) {
                return Err(StorageError::DigestMismatch {
                    path: key.to_string(),
                    expected: expected.to_string(),
                    found: sha256,
                });
            }
        }
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                quick_xml::escape::escape(etag.as_str())
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let mut req = Request::new(Method::POST, Some(key));
        req.query.push(("uploadId", upload_id.to_string()));
        req.body = Bytes::from(xml);
        let resp = Self::check(
            &format!("complete multipart upload of {key}"),
            self.send(req).await?,
        )
        .await?;
        // S3 may answer 200 and still report an error in the body.
        let body = resp.text().await.map_err(|e| s3_error("complete", e))?;
        if body.contains("<Error>") {
            let code = xml_values(&body, "Code")?
                .into_iter()
                .next()
                .unwrap_or_default();
            return Err(s3_error("complete multipart upload", code));
        }
        Ok(PutReceipt { size, sha256 })
    }
}

/// A multipart upload in progress; aborted from a background task if dropped while
/// `store` is still set.
struct PendingUpload {
    store: Option<S3Store>,
    key: String,
    upload_id: String,
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        let (key, upload_id) = (
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.upload_id),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { store.abort_upload(&key, &upload_id).await });
            }
            // No runtime left (shutting down): the stale-upload sweep removes it later.
            Err(_) => tracing::warn!(key, "a multipart upload was left for the sweep to abort"),
        }
    }
}

/// A multipart upload S3 still holds parts of (ListMultipartUploads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteUpload {
    /// Key relative to the store root.
    pub key: String,
    pub upload_id: String,
    pub initiated: chrono::DateTime<chrono::Utc>,
}

/// Reads a local file in parts on the blocking pool, hashing as it goes.
struct PartReader {
    file: std::fs::File,
    hasher: Sha256,
    size: u64,
    part_size: usize,
}

impl PartReader {
    /// The next part (empty at the end of the file).
    async fn next_part(mut self) -> Result<(PartReader, Bytes), StorageError> {
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = vec![0u8; self.part_size];
            let mut filled = 0;
            while filled < buf.len() {
                match self.file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(StorageError::Io(e)),
                }
            }
            buf.truncate(filled);
            self.hasher.update(&buf);
            self.size += filled as u64;
            Ok((self, Bytes::from(buf)))
        })
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
    }

    fn finish(self) -> (u64, String) {
        (self.size, hex::encode(self.hasher.finalize()))
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    async fn put_file(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        validate_key(key)?;
        let file = std::fs::File::open(source)?;
        let reader = PartReader {
            file,
            hasher: Sha256::new(),
            size: 0,
            part_size: self.settings.part_size as usize,
        };
        let (reader, first) = reader.next_part().await?;
        let (reader, second) = reader.next_part().await?;
        if second.is_empty() {
            // Small file: one PUT, after the digest is known to be right.
            let (size, sha256) = reader.finish();
            if let Some(expected) = expected_sha256 {
                if !expected.eq_ignore_ascii_case(&sha256) {
                    return Err(StorageError::DigestMismatch {
                        path: key.to_string(),
                        expected: expected.to_string(),
                        found: sha256,
                    });
                }
            }
            self.put_object(key, first).await?;
            return Ok(PutReceipt { size, sha256 });
        }
        let upload_id = self.create_multipart(key).await?;
        // Armed until the upload completes or is aborted here: a caller that drops
        // this future half-way (a cancelled request) still has the upload aborted.
        let mut pending = PendingUpload {
            store: Some(self.clone()),
            key: key.to_string(),
            upload_id: upload_id.clone(),
        };
        let result = self
            .multipart_rest(key, &upload_id, reader, first, second, expected_sha256)
            .await;
        pending.store = None;
        if result.is_err() {
            self.abort_upload(key, &upload_id).await;
        }
        result
    }

    async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        validate_key(key)?;
        // A single PUT replaces the object atomically.
        self.put_object(key, bytes).await
    }

    async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        validate_key(key)?;
        let resp = self.send(Request::new(Method::GET, Some(key))).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = Self::check(&format!("GET {key}"), resp).await?;
        Ok(Some(
            resp.bytes().await.map_err(|e| s3_error("GET body", e))?,
        ))
    }

    async fn get_range(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        validate_key(key)?;
        let mut req = Request::new(Method::GET, Some(key));
        if let Some(r) = &range {
            if r.start > r.end {
                return Err(StorageError::InvalidInput(format!(
                    "range {}..{} is reversed",
                    r.start, r.end
                )));
            }
            if r.start == r.end {
                // HTTP cannot ask for no bytes: check the object and answer empty.
                let len = self.size(key).await?.ok_or(StorageError::NotFound)?;
                if r.end > len {
                    return Err(StorageError::InvalidInput(format!(
                        "range {}..{} outside object of {len} bytes",
                        r.start, r.end
                    )));
                }
                return Ok(futures_util::stream::empty().boxed());
            }
            req.headers
                .push(("range".into(), format!("bytes={}-{}", r.start, r.end - 1)));
        }
        let resp = self.send(req).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => return Err(StorageError::NotFound),
            StatusCode::RANGE_NOT_SATISFIABLE => {
                return Err(StorageError::InvalidInput(format!(
                    "range {range:?} outside the object"
                )))
            }
            _ => {}
        }
        let resp = Self::check(&format!("GET {key}"), resp).await?;
        if let Some(r) = &range {
            // S3 shortens a range that runs past the end; the trait refuses it.
            let total = resp
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit('/').next())
                .and_then(|t| t.parse::<u64>().ok());
            match (resp.status(), total) {
                (StatusCode::PARTIAL_CONTENT, Some(total)) if r.end <= total => {}
                (StatusCode::PARTIAL_CONTENT, Some(total)) => {
                    return Err(StorageError::InvalidInput(format!(
                        "range {}..{} outside object of {total} bytes",
                        r.start, r.end
                    )))
                }
                (status, _) => {
                    return Err(s3_error(
                        &format!("GET {key}"),
                        format!("a range request answered {status} without Content-Range"),
                    ))
                }
            }
        }
        Ok(resp.bytes_stream().map_err(std::io::Error::other).boxed())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        validate_key(key)?;
        let resp = self.send(Request::new(Method::HEAD, Some(key))).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = Self::check(&format!("HEAD {key}"), resp).await?;
        let len = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| s3_error("HEAD", "no Content-Length in the answer"))?;
        Ok(Some(len))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let full_prefix = if self.settings.prefix.is_empty() {
            prefix.to_string()
        } else {
            format!("{}/{prefix}", self.settings.prefix)
        };
        let strip = if self.settings.prefix.is_empty() {
            0
        } else {
            self.settings.prefix.len() + 1
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = Request::new(Method::GET, None);
            req.query.push(("list-type", "2".into()));
            req.query.push(("prefix", full_prefix.clone()));
            req.query.push(("max-keys", self.list_page.to_string()));
            if let Some(t) = &token {
                req.query.push(("continuation-token", t.clone()));
            }
            let resp = Self::check("list objects", self.send(req).await?).await?;
            let body = resp.text().await.map_err(|e| s3_error("list", e))?;
            for key in xml_values(&body, "Key")? {
                if key.len() > strip && key.starts_with(&full_prefix) {
                    out.push(key[strip..].to_string());
                }
            }
            let truncated = xml_values(&body, "IsTruncated")?
                .first()
                .is_some_and(|v| v == "true");
            token = xml_values(&body, "NextContinuationToken")?
                .into_iter()
                .next();
            if !truncated || token.is_none() {
                break;
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        let resp = self.send(Request::new(Method::DELETE, Some(key))).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Self::check(&format!("DELETE {key}"), resp)
            .await
            .map(|_| ())
    }

    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }

    async fn check_writable(&self) -> Result<(), StorageError> {
        // OCFL ignores unknown files at the top of a storage root (E087).
        let key = format!(".healthz-{:032x}", rand::random::<u128>());
        self.put_object(&key, Bytes::from_static(b"probe")).await?;
        self.delete(&key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn h(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    // AWS's worked examples in "Signature Calculations for the Authorization
    // Header: Transferring Payload in a Single Chunk" (S3 API reference).
    #[test]
    fn sigv4_matches_aws_get_object_example() {
        let auth = authorization(
            "GET",
            "/test.txt",
            "",
            &[
                h("host", "examplebucket.s3.amazonaws.com"),
                h("range", "bytes=0-9"),
                h("x-amz-content-sha256", EMPTY_SHA256),
                h("x-amz-date", "20130524T000000Z"),
            ],
            EMPTY_SHA256,
            AK,
            SK,
            "us-east-1",
            "20130524T000000Z",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn sigv4_matches_aws_list_objects_example() {
        let query = canonical_query(&[("max-keys", "2"), ("prefix", "J")]);
        assert_eq!(query, "max-keys=2&prefix=J");
        let auth = authorization(
            "GET",
            "/",
            &query,
            &[
                h("host", "examplebucket.s3.amazonaws.com"),
                h("x-amz-content-sha256", EMPTY_SHA256),
                h("x-amz-date", "20130524T000000Z"),
            ],
            EMPTY_SHA256,
            AK,
            SK,
            "us-east-1",
            "20130524T000000Z",
        );
        assert!(
            auth.ends_with(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
            ),
            "{auth}"
        );
    }

    #[test]
    fn canonical_query_encodes_and_sorts() {
        assert_eq!(
            canonical_query(&[("uploadId", "a/b+c="), ("partNumber", "2")]),
            "partNumber=2&uploadId=a%2Fb%2Bc%3D"
        );
        assert_eq!(canonical_query(&[("uploads", "")]), "uploads=");
        assert_eq!(
            utf8_percent_encode("a b/ü~.txt", PATH).to_string(),
            "a%20b/%C3%BC~.txt"
        );
    }

    #[test]
    fn storage_urls_parse_or_are_refused() {
        assert_eq!(
            parse_storage_url("s3://archive/ocfl/root/"),
            Ok(("archive".into(), "ocfl/root".into()))
        );
        assert_eq!(
            parse_storage_url("s3://archive"),
            Ok(("archive".into(), String::new()))
        );
        for bad in [
            "file:///x",
            "s3://",
            "s3://A_Bucket/x",
            "s3://ab/x",
            "s3://bucket/../x",
            "s3://bucket/a//b",
        ] {
            assert!(parse_storage_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn settings_need_credentials_and_a_sane_part_size() {
        let ok = S3Settings::new(
            "s3://bucket/p",
            Some("http://127.0.0.1:8333/".into()),
            None,
            Some("ak".into()),
            Some("sk".into()),
            None,
        )
        .expect("valid");
        assert_eq!(ok.endpoint, "http://127.0.0.1:8333");
        assert_eq!(ok.region, "us-east-1");
        assert_eq!(ok.part_size, DEFAULT_PART_SIZE);
        assert!(!format!("{ok:?}").contains("\"sk\""));
        let no_secret = S3Settings::new("s3://bucket", None, None, Some("ak".into()), None, None);
        assert!(no_secret.is_err_and(|e| e.contains("HOLDFAST_S3_SECRET_KEY")));
        let small = S3Settings::new(
            "s3://bucket",
            None,
            None,
            Some("ak".into()),
            Some("sk".into()),
            Some(1024),
        );
        assert!(small.is_err_and(|e| e.contains("HOLDFAST_S3_PART_SIZE")));
        let path = S3Settings::new(
            "s3://bucket",
            Some("http://h:1/x".into()),
            None,
            Some("ak".into()),
            Some("sk".into()),
            None,
        );
        assert!(path.is_err_and(|e| e.contains("HOLDFAST_S3_ENDPOINT")));
    }

    /// A plain HTTP server on 127.0.0.1 that answers each connection with the next of
    /// `answers` (status line and body; an empty status hangs up instead) and counts the
    /// requests it saw.
    fn answering_server(
        answers: Vec<(&'static str, &'static str)>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = std::io::BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut stream = reader.into_inner();
                if status.is_empty() {
                    continue; // hang up without an answer: a connection error
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (endpoint, seen)
    }

    fn store_at(endpoint: &str) -> S3Store {
        let settings = S3Settings::new(
            "s3://bucket/p",
            Some(endpoint.to_string()),
            None,
            Some("ak".into()),
            Some("sk".into()),
            None,
        )
        .expect("settings");
        S3Store::new(settings).expect("store")
    }

    #[tokio::test]
    async fn idempotent_requests_are_retried_after_server_errors() {
        let (endpoint, seen) = answering_server(vec![
            (
                "503 Service Unavailable",
                "<Error><Code>SlowDown</Code></Error>",
            ),
            ("500 Internal Server Error", ""),
            ("200 OK", "stored bytes"),
        ]);
        let bytes = store_at(&endpoint)
            .get_bytes("a/b")
            .await
            .expect("third try");
        assert_eq!(bytes.as_deref(), Some(&b"stored bytes"[..]));
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn retries_are_bounded_and_refusals_are_not_retried() {
        let (endpoint, seen) = answering_server(vec![("503 Service Unavailable", ""); 6]);
        let err = store_at(&endpoint)
            .get_bytes("a/b")
            .await
            .expect_err("gives up");
        assert!(err.to_string().contains("503"), "{err}");
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            MAX_TRIES as usize
        );
        let (endpoint, seen) = answering_server(vec![("403 Forbidden", ""); 2]);
        assert!(store_at(&endpoint).get_bytes("a/b").await.is_err());
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Creating a multipart upload is not idempotent: one try only.
        let (endpoint, seen) = answering_server(vec![("503 Service Unavailable", ""); 2]);
        assert!(store_at(&endpoint)
            .start_multipart_upload("a/b")
            .await
            .is_err());
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn connection_errors_are_retried() {
        let (endpoint, seen) = answering_server(vec![("", ""), ("", ""), ("200 OK", "at last")]);
        let bytes = store_at(&endpoint)
            .get_bytes("a/b")
            .await
            .expect("third try");
        assert_eq!(bytes.as_deref(), Some(&b"at last"[..]));
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn retry_delays_double_and_stay_bounded() {
        for retry in 1..=3 {
            let d = retry_delay(retry).as_millis() as u64;
            let base = RETRY_BASE_MS << (retry - 1);
            assert!((base..=base + base / 2).contains(&d), "{retry}: {d}");
        }
        assert!(retry_delay(u32::MAX) <= std::time::Duration::from_millis(RETRY_BASE_MS << 11));
        assert!(retryable_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!retryable_status(StatusCode::NOT_FOUND));
        assert!(!retryable_status(StatusCode::NOT_IMPLEMENTED));
    }

    #[test]
    fn xml_values_unescape() {
        let xml = "<ListBucketResult><Contents><Key>a&amp;b</Key></Contents>\
                   <Contents><Key>c</Key></Contents><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(xml_values(xml, "Key").expect("xml"), vec!["a&b", "c"]);
        assert_eq!(xml_values(xml, "IsTruncated").expect("xml"), vec!["false"]);
    }
}
