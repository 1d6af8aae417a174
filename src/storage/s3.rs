//! The OCFL root on S3-compatible storage, through the `object_store` crate (its S3
//! client signs, retries and pages; [`ObjectStoreBlobs`] keeps the blob-store promises
//! on top). What `object_store` does not do is here: checking the bucket at start,
//! creating it for tests, and finding the multipart uploads a crash left incomplete
//! (ListMultipartUploads, signed by `object_store`'s own SigV4 signer) so the sweep
//! can abort them.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsAuthorizer, AwsCredential};
use object_store::client::{ClientOptions, HttpClient, HttpConnector, HttpRequestBody};
use object_store::{BackoffConfig, RetryConfig};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};

use super::blob::validate_key;
use super::remote::{store_error, ObjectStoreBlobs};
use super::StorageError;
use crate::config::Secret;
use crate::http_client::{self, Peer};

/// Default multipart part size; S3 requires at least 5 MiB for all parts but
/// the last.
pub const DEFAULT_PART_SIZE: u64 = 16 << 20;
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Retries of a request that meets a 5xx answer or a connection error (so four tries).
const MAX_RETRIES: usize = 3;
/// First retry delay; later ones grow about twofold (with jitter), up to the maximum.
const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(4);

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

/// Characters left as they are in a query value (unreserved), as SigV4 encodes them.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn s3_error(what: &str, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Io(std::io::Error::other(format!("S3 {what}: {detail}")))
}

/// Hands `object_store` holdfast's one HTTP client (see [`crate::http_client`]) rather
/// than letting it build its own.
#[derive(Debug)]
struct HoldfastConnector(reqwest::Client);

impl HttpConnector for HoldfastConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.0.clone()))
    }
}

/// The blob store on a bucket (all of [`ObjectStoreBlobs`], through `Deref`), plus the
/// bucket chores `object_store` leaves to its users. Cheap to clone.
#[derive(Clone)]
pub struct S3Store {
    blobs: ObjectStoreBlobs,
    settings: S3Settings,
    /// For the bucket-level requests below (the same client `object_store` uses).
    http: reqwest::Client,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Deref for S3Store {
    type Target = ObjectStoreBlobs;
    fn deref(&self) -> &ObjectStoreBlobs {
        &self.blobs
    }
}

impl S3Store {
    pub fn new(settings: S3Settings) -> Result<S3Store, StorageError> {
        let http =
            http_client::client(Peer::ObjectStore, None).map_err(|e| s3_error("client", e))?;
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: RETRY_BASE,
                max_backoff: RETRY_MAX,
                base: 2.0,
            },
            max_retries: MAX_RETRIES,
            retry_timeout: Duration::from_secs(180),
        };
        let s3 = AmazonS3Builder::new()
            .with_endpoint(&settings.endpoint)
            .with_allow_http(settings.endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_region(&settings.region)
            .with_bucket_name(&settings.bucket)
            .with_access_key_id(&settings.access_key)
            .with_secret_access_key(settings.secret_key.expose())
            .with_retry(retry)
            .with_http_connector(HoldfastConnector(http.clone()))
            .build()
            .map_err(|e| StorageError::InvalidInput(format!("S3 settings: {e}")))?;
        let s3: Arc<AmazonS3> = Arc::new(s3);
        Ok(S3Store {
            blobs: ObjectStoreBlobs::new(s3, &settings.prefix, settings.part_size),
            settings,
            http,
        })
    }

    /// Smaller listing pages, so tests can follow continuation tokens.
    #[doc(hidden)]
    pub fn with_list_page_size(mut self, keys: u32) -> S3Store {
        self.blobs = self.blobs.with_list_page_size(keys as usize);
        self
    }

    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    /// The blob store itself, to hand to the OCFL root.
    pub fn blobs(&self) -> ObjectStoreBlobs {
        self.blobs.clone()
    }

    /// Sends a bucket-level request (`query`: encoded name and value pairs) signed by
    /// `object_store`'s SigV4 signer. Requests that may run twice with the same effect
    /// (all of these) are retried on 5xx answers and connection errors, as object
    /// requests are.
    async fn bucket_request(
        &self,
        method: Method,
        query: &[(&str, &str)],
    ) -> Result<reqwest::Response, StorageError> {
        let mut url = format!("{}/{}", self.settings.endpoint, self.settings.bucket);
        if !query.is_empty() {
            let pairs: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
                .collect();
            url = format!("{url}?{}", pairs.join("&"));
        }
        let credential = AwsCredential {
            key_id: self.settings.access_key.clone(),
            secret_key: self.settings.secret_key.expose().to_string(),
            token: None,
        };
        let mut retry = 0;
        loop {
            let mut request = http::Request::builder()
                .method(method.clone())
                .uri(url.as_str())
                .body(HttpRequestBody::from(Bytes::new()))
                .map_err(|e| s3_error("request", e))?;
            AwsAuthorizer::new(&credential, "s3", &self.settings.region)
                .authorize(&mut request, None);
            let (parts, _) = request.into_parts();
            let sent = self
                .http
                .request(parts.method, url.as_str())
                .headers(parts.headers)
                .send()
                .await;
            let retryable = match &sent {
                Ok(resp) => resp.status().is_server_error(),
                Err(e) => e.is_connect() || e.is_request(),
            };
            if !retryable || retry >= MAX_RETRIES {
                return sent.map_err(|e| s3_error(&format!("{method} bucket"), e));
            }
            retry += 1;
            let delay = RETRY_BASE * 2u32.pow(retry as u32 - 1);
            tracing::warn!(%method, retry, "S3 bucket request failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// Fails with the status and S3's error code unless the answer is a success.
    async fn check(what: &str, resp: reqwest::Response) -> Result<reqwest::Response, StorageError> {
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
        let resp = self.bucket_request(Method::PUT, &[]).await?;
        if resp.status() == StatusCode::CONFLICT {
            return Ok(()); // BucketAlreadyOwnedByYou / BucketAlreadyExists
        }
        Self::check("create bucket", resp).await.map(|_| ())
    }

    /// Checks at start that the bucket exists and the credentials are accepted,
    /// with a message that says which.
    pub async fn check_bucket(&self) -> Result<(), StorageError> {
        let resp = self.bucket_request(Method::HEAD, &[]).await?;
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
    /// `object_store` cannot list them, so this one request is made here.
    pub async fn incomplete_uploads(&self) -> Result<Vec<IncompleteUpload>, StorageError> {
        let prefix = if self.settings.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.settings.prefix)
        };
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut query = vec![("uploads", ""), ("prefix", prefix.as_str())];
            if let Some((key, id)) = &markers {
                query.push(("key-marker", key));
                query.push(("upload-id-marker", id));
            }
            let resp = self.bucket_request(Method::GET, &query).await?;
            let resp = Self::check("list multipart uploads", resp).await?;
            let body = resp
                .text()
                .await
                .map_err(|e| s3_error("list multipart uploads", e))?;
            for upload in xml_elements(&body, "Upload")? {
                let field = |tag: &str| -> Result<String, StorageError> {
                    xml_values(&upload, tag)?.into_iter().next().ok_or_else(|| {
                        s3_error("list multipart uploads", format!("an upload without {tag}"))
                    })
                };
                let initiated = chrono::DateTime::parse_from_rfc3339(&field("Initiated")?)
                    .map_err(|e| s3_error("list multipart uploads", e))?
                    .with_timezone(&chrono::Utc);
                if let Some(key) = self.blobs.relative_key(&field("Key")?) {
                    out.push(IncompleteUpload {
                        key,
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
                self.blobs
                    .abort_upload(&upload.key, &upload.upload_id)
                    .await;
                tracing::info!(key = %upload.key, initiated = %upload.initiated, "aborted a stale multipart upload");
                aborted += 1;
            }
        }
        Ok(aborted)
    }

    /// Starts a multipart upload and leaves it incomplete (for tests of the sweep).
    #[doc(hidden)]
    pub async fn start_multipart_upload(&self, key: &str) -> Result<String, StorageError> {
        let path = self.blobs.path(key)?;
        self.blobs
            .backend()
            .create_multipart(&path)
            .await
            .map_err(|e| store_error("create multipart upload of", key, e))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::BlobStore;

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
    async fn requests_are_retried_after_server_errors() {
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
            MAX_RETRIES + 1
        );
        let (endpoint, seen) = answering_server(vec![("403 Forbidden", ""); 2]);
        assert!(store_at(&endpoint).get_bytes("a/b").await.is_err());
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
        let (endpoint, seen) = answering_server(vec![("403 Forbidden", ""); 2]);
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

    #[tokio::test]
    async fn bucket_requests_are_retried_and_refusals_named() {
        let (endpoint, seen) = answering_server(vec![
            ("503 Service Unavailable", ""),
            (
                "403 Forbidden",
                "<Error><Code>SignatureDoesNotMatch</Code></Error>",
            ),
        ]);
        let err = store_at(&endpoint)
            .check_bucket()
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("HOLDFAST_S3_SECRET_KEY"), "{err}");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn xml_values_unescape() {
        let xml = "<ListBucketResult><Contents><Key>a&amp;b</Key></Contents>\
                   <Contents><Key>c</Key></Contents><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(xml_values(xml, "Key").expect("xml"), vec!["a&b", "c"]);
        assert_eq!(xml_values(xml, "IsTruncated").expect("xml"), vec!["false"]);
    }
}
