//! File downloads: streamed, with Content-Length, the sha256 as `Content-Digest`
//! (RFC 9530) and single byte ranges (RFC 9110).

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use std::ops::Range;

use crate::app::Archive;
use crate::deposit::ingest::DatasetPath;
use crate::deposit::model::{DatasetView, FileRow};
use crate::deposit::service;
use crate::doi::export::signposting;
use crate::error::{DomainError, ErrorContext};
use crate::packaging::{self, BagInfo, Package, PackageFile, Source};
use crate::storage::ByteStream;
use crate::usage;
use crate::web::auth::Viewer;
use crate::web::errors::PageError;
use crate::web::limits::Limits;
use crate::web::pages::count_usage;
use crate::web::protocols::signposting::{link_value, LandingUrls};

/// What a Range header asks of a representation of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    Full,
    Partial(Range<u64>),
    Unsatisfiable,
}

/// Parses a `Range` header. Several ranges, or units other than bytes, are answered with
/// the whole file, which RFC 9110 allows.
pub fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // A suffix: the last N bytes.
        match end.parse::<u64>() {
            Ok(0) => return RangeRequest::Unsatisfiable,
            Ok(n) => size.saturating_sub(n)..size,
            Err(_) => return RangeRequest::Full,
        }
    } else {
        let Ok(first) = start.parse::<u64>() else {
            return RangeRequest::Full;
        };
        let last = if end.is_empty() {
            size.saturating_sub(1)
        } else {
            match end.parse::<u64>() {
                Ok(last) if last >= first => last.min(size.saturating_sub(1)),
                _ => return RangeRequest::Full,
            }
        };
        if first >= size {
            return RangeRequest::Unsatisfiable;
        }
        first..last + 1
    };
    if range.start >= range.end {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(range)
}

fn content_disposition(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn open_local(
    path: std::path::PathBuf,
    range: Option<Range<u64>>,
) -> Result<ByteStream, DomainError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let reading = || format!("reading the staged file {}", path.display());
    let mut file = tokio::fs::File::open(&path).await.with_context(reading)?;
    let (start, len) = match &range {
        Some(r) => (r.start, r.end - r.start),
        None => (0, file.metadata().await.with_context(reading)?.len()),
    };
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .with_context(reading)?;
    let reader = file.take(len);
    Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
        reader,
        256 * 1024,
    )))
}

/// A stored file that failed its fixity audit is not served (503) until it is repaired:
/// better no bytes than bad bytes.
fn refuse_damaged(
    conn: &mut crate::db::AnyConnection,
    view: &DatasetView,
    files: &[&FileRow],
) -> Result<(), DomainError> {
    let Some(object_id) = &view.dataset.ocfl_object_id else {
        return Ok(());
    };
    let paths: Vec<&str> = files
        .iter()
        .filter(|f| f.staged_name.is_none() || view.is_published_version())
        .filter_map(|f| f.content_path.as_deref())
        .collect();
    if paths.is_empty() {
        return Ok(());
    }
    let damaged = crate::fixity::files::damaged_among(conn, object_id, &paths)?;
    let Some(first) = damaged.first() else {
        return Ok(());
    };
    let names: Vec<&str> = files
        .iter()
        .filter(|f| {
            f.content_path
                .as_deref()
                .is_some_and(|p| damaged.iter().any(|d| d.content_path == p))
        })
        .map(|f| f.path.as_str())
        .take(10)
        .collect();
    Err(DomainError::Unavailable(format!(
        "the stored copy of {} failed its fixity audit on {} ({}): the archive does not serve bytes it cannot vouch for. Curators have been alerted and it is being repaired from a good copy; please try again later.",
        names.join(", "),
        crate::fixity::record::iso(first.last_checked_at),
        first.last_outcome
    )))
}

async fn serve(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    id: i64,
    number: Option<i32>,
    raw_path: String,
) -> Result<HttpResponse, PageError> {
    if let Err(refused) = crate::web::auth::federation_audience(&req).await? {
        return Ok(refused);
    }
    let path = DatasetPath::parse(&raw_path).map_err(|_| DomainError::NotFound)?;
    let v = viewer.0.clone();
    let (view, file) = archive
        .db
        .run(move |conn| {
            let view = service::load_view(conn, v.as_ref(), id, number)?;
            view.access(v.as_ref())
                .check_download(view.is_published_version())?;
            let file = view
                .files
                .iter()
                .find(|f| f.path == path.as_str())
                .cloned()
                .ok_or(DomainError::NotFound)?;
            refuse_damaged(conn, &view, &[&file])?;
            Ok((view, file))
        })
        .await?;
    let size = u64::try_from(file.size).map_err(DomainError::internal)?;
    let range = parse_range(
        req.headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok()),
        size,
    );
    let wanted = match range {
        RangeRequest::Unsatisfiable => {
            return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish());
        }
        RangeRequest::Full => None,
        RangeRequest::Partial(r) => Some(r),
    };
    let length = wanted.as_ref().map(|r| r.end - r.start).unwrap_or(size);
    let mut response = file_response(&archive, &view, number, &file, wanted.as_ref(), size)?;
    if crate::web::head::is_head(&req) {
        // No file is opened: the HEAD answer keeps the Content-Length of a sized body.
        let empty: ByteStream = Box::pin(futures_util::stream::empty());
        return Ok(response.body(SizedStream::new(length, empty)));
    }
    let stream = file_stream(&archive, &view, &file, wanted).await?;
    if view.is_published_version() {
        count_usage(
            &req,
            &archive,
            view.dataset.id,
            view.version.number,
            usage::Kind::Download,
        );
    }
    Ok(response.body(SizedStream::new(length, stream)))
}

/// The status and headers of a file's answer: 200 with its digest, or 206 with the
/// part `wanted`.
fn file_response(
    archive: &Archive,
    view: &DatasetView,
    number: Option<i32>,
    file: &FileRow,
    wanted: Option<&Range<u64>>,
    size: u64,
) -> Result<actix_web::HttpResponseBuilder, DomainError> {
    let digest_b64 = hex::decode(&file.sha256)
        .map(|raw| base64::engine::general_purpose::STANDARD.encode(raw))
        .map_err(DomainError::internal)?;
    let mut response = match wanted {
        None => {
            let mut r = HttpResponse::Ok();
            r.insert_header(("Content-Digest", format!("sha-256=:{digest_b64}:")));
            r
        }
        Some(r) => {
            let mut resp = HttpResponse::PartialContent();
            resp.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            ));
            resp
        }
    };
    response
        .insert_header(("Repr-Digest", format!("sha-256=:{digest_b64}:")))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, format!("\"{}\"", file.sha256)))
        .insert_header((header::CONTENT_TYPE, file.media_type.clone()))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(&file.path)));
    crate::web::user_content(&mut response);
    if view.is_published_version() {
        // Level 1 Signposting on a content file: the landing page it belongs to.
        let urls = LandingUrls::new(archive, view, number);
        if let Some(value) = link_value(&signposting::item_header(&urls.urls())) {
            response.insert_header((header::LINK, value));
        }
    } else {
        response.insert_header((header::CACHE_CONTROL, "private, no-store"));
    }
    Ok(response)
}

/// The bytes of `file` (or the part `wanted`), from the store or from staging.
async fn file_stream(
    archive: &Archive,
    view: &DatasetView,
    file: &FileRow,
    wanted: Option<Range<u64>>,
) -> Result<ByteStream, DomainError> {
    Ok(match (&file.content_path, &file.staged_name) {
        // Published files, and files a new draft carries over from a published version.
        (Some(content_path), _) => {
            let object_id = view.dataset.ocfl_object_id.clone().ok_or_else(|| {
                DomainError::internal("stored file of a dataset without OCFL object")
            })?;
            let key = format!("{}/{content_path}", archive.ocfl.object_root(&object_id));
            let stream = archive
                .store
                .get_range(&key, wanted.clone())
                .await
                .map_err(|e| {
                    tracing::warn!(key = %key, error = %e, "a stored file cannot be read");
                    DomainError::Unavailable("the stored file cannot be read right now".into())
                })?;
            if wanted.is_none() {
                // A whole file is checked while it is sent: on a mismatch the last chunk
                // is withheld, so no client ever receives a complete damaged file.
                let audit = archive.fixity();
                let dataset_id = view.dataset.id;
                let content_path = content_path.clone();
                verified(stream, &file.sha256, move || {
                    actix_web::rt::spawn(async move {
                        crate::fixity::run::audit_paths(&audit, dataset_id, vec![content_path])
                            .await
                    });
                })
            } else {
                stream
            }
        }
        (_, Some(blob)) => open_local(archive.staged_blob_path(blob)?, wanted).await?,
        _ => {
            return Err(DomainError::internal(format!(
                "file {} has no bytes",
                file.id
            )))
        }
    })
}

/// Passes a stream through while hashing it, holding back its last chunk until the
/// digest is known: on a mismatch the stream ends in an error instead (the connection
/// is cut short of its Content-Length) and `on_mismatch` runs.
fn verified(
    inner: ByteStream,
    sha256: &str,
    on_mismatch: impl FnOnce() + Send + 'static,
) -> ByteStream {
    use futures_util::StreamExt;
    use sha2::Digest as _;
    struct State {
        inner: ByteStream,
        hasher: sha2::Sha256,
        held: Option<bytes::Bytes>,
        expected: String,
        on_mismatch: Option<Box<dyn FnOnce() + Send>>,
        done: bool,
    }
    let state = State {
        inner,
        hasher: sha2::Sha256::new(),
        held: None,
        expected: sha256.to_ascii_lowercase(),
        on_mismatch: Some(Box::new(on_mismatch)),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    st.hasher.update(&chunk);
                    if let Some(previous) = st.held.replace(chunk) {
                        return Some((Ok(previous), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    let found = hex::encode(std::mem::take(&mut st.hasher).finalize());
                    if found == st.expected {
                        return st.held.take().map(|last| (Ok(last), st));
                    }
                    tracing::error!(expected = %st.expected, %found, "a stored file failed verification while it was being sent; the download was cut short");
                    if let Some(f) = st.on_mismatch.take() {
                        f();
                    }
                    return Some((
                        Err(std::io::Error::other(
                            "the stored bytes do not match their sha256; the download was stopped",
                        )),
                        st,
                    ));
                }
            }
        }
    }))
}

pub async fn download(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, file_path) = path.into_inner();
    serve(req, archive, viewer, id, None, file_path).await
}

pub async fn download_numbered(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, i32, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, n, file_path) = path.into_inner();
    serve(req, archive, viewer, id, Some(n), file_path).await
}

#[derive(serde::Deserialize)]
pub struct PackageQuery {
    format: Option<String>,
}

/// Every file of a version in one zip (`?format=zip`, the default) or as a BagIt bag
/// inside a zip (`?format=bagit`), streamed while it is built.
pub async fn download_version(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, i32)>,
    query: web::Query<PackageQuery>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, PageError> {
    let (id, n) = path.into_inner();
    let permit = match limits.download(&req) {
        Ok(permit) => permit,
        Err(busy) => return Ok(busy.response()),
    };
    let bag = match query.format.as_deref().map(str::trim) {
        None | Some("zip") => false,
        Some("bagit" | "bag") => true,
        Some(other) => {
            return Err(DomainError::BadRequest(format!(
                "there is no download format '{other}': use format=zip or format=bagit"
            ))
            .into())
        }
    };
    let v = viewer.0;
    let view = archive
        .db
        .run(move |conn| {
            let view = service::load_view(conn, v.as_ref(), id, Some(n))?;
            view.access(v.as_ref())
                .check_download(view.is_published_version())?;
            let files: Vec<&FileRow> = view.files.iter().collect();
            refuse_damaged(conn, &view, &files)?;
            Ok(view)
        })
        .await?;
    let published = view.is_published_version();
    let object_root = match (&view.dataset.ocfl_object_id, published) {
        (Some(object), _) => Some(archive.ocfl.object_root(object)),
        (None, true) => {
            return Err(DomainError::internal("published dataset without OCFL object").into())
        }
        (None, false) => None,
    };
    let name = format!("dataset-{id}-v{n}");
    let (package, file_name) = if bag {
        let info = BagInfo {
            name: name.clone(),
            source_organization: archive.settings.site_name.clone(),
            external_identifier: view.version.doi.clone().filter(|_| published),
            external_description: Some(view.version.title.clone()),
            bagging_date: chrono::Utc::now().date_naive(),
        };
        (Package::Bag(info), format!("{name}-bag.zip"))
    } else {
        (Package::Zip, format!("{name}.zip"))
    };
    let modified = view.version.published_at.unwrap_or(view.version.updated_at);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, "application/zip"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    if published {
        let urls = LandingUrls::new(&archive, &view, Some(n));
        if let Some(value) = link_value(&signposting::item_header(&urls.urls())) {
            response.insert_header((header::LINK, value));
        }
    } else {
        response.insert_header((header::CACHE_CONTROL, "private, no-store"));
    }
    let files = package_files(&archive, view.files, object_root.as_deref(), published)?;
    if published {
        count_usage(&req, &archive, id, n, usage::Kind::Download);
    }
    let body = packaging::stream(archive.store.clone(), files, package, modified);
    Ok(response.streaming(permit.hold_during(body)))
}

/// Where each file of the package comes from. The file list is moved, not copied: a
/// version may have 100,000 files.
fn package_files(
    archive: &Archive,
    rows: Vec<FileRow>,
    object_root: Option<&str>,
    published: bool,
) -> Result<Vec<PackageFile>, DomainError> {
    let mut files = Vec::with_capacity(rows.len());
    for f in rows {
        // Published bytes are in the OCFL object; a draft's new uploads are staged, and
        // files it carries over unchanged are already in the object.
        let source = match (f.content_path, &object_root, f.staged_name) {
            (_, _, Some(blob)) if !published => Source::Local(archive.staged_blob_path(&blob)?),
            (Some(content_path), Some(root), _) => Source::Stored(format!("{root}/{content_path}")),
            (_, _, Some(blob)) => Source::Local(archive.staged_blob_path(&blob)?),
            _ => return Err(DomainError::internal(format!("file {} has no bytes", f.id))),
        };
        files.push(PackageFile {
            size: u64::try_from(f.size).map_err(DomainError::internal)?,
            path: f.path,
            sha256: f.sha256,
            source,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range(None, 10), RangeRequest::Full);
        assert_eq!(
            parse_range(Some("bytes=0-3"), 10),
            RangeRequest::Partial(0..4)
        );
        assert_eq!(
            parse_range(Some("bytes=5-"), 10),
            RangeRequest::Partial(5..10)
        );
        assert_eq!(
            parse_range(Some("bytes=-3"), 10),
            RangeRequest::Partial(7..10)
        );
        assert_eq!(
            parse_range(Some("bytes=-30"), 10),
            RangeRequest::Partial(0..10)
        );
        assert_eq!(
            parse_range(Some("bytes=8-100"), 10),
            RangeRequest::Partial(8..10)
        );
        assert_eq!(
            parse_range(Some("bytes=10-"), 10),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-0"), 10),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=4-2"), 10), RangeRequest::Full);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), RangeRequest::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeRequest::Full);
        assert_eq!(
            parse_range(Some("bytes=0-0"), 0),
            RangeRequest::Unsatisfiable
        );
    }
}
