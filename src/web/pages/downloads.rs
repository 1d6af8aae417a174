//! File downloads: streamed, with Content-Length, the sha256 as `Content-Digest`
//! (RFC 9530) and single byte ranges (RFC 9110).

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use std::ops::Range;

use crate::app::Archive;
use crate::deposit::ingest::DatasetPath;
use crate::deposit::model::DatasetState;
use crate::deposit::service;
use crate::error::DomainError;
use crate::storage::ByteStream;
use crate::web::auth::Viewer;
use crate::web::errors::PageError;

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
    let mut file = tokio::fs::File::open(&path).await?;
    let (start, len) = match &range {
        Some(r) => (r.start, r.end - r.start),
        None => (0, file.metadata().await?.len()),
    };
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let reader = file.take(len);
    Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
        reader,
        256 * 1024,
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
    let path = DatasetPath::parse(&raw_path).map_err(|_| DomainError::NotFound)?;
    let v = viewer.0.clone();
    let (view, file) = archive
        .db
        .run(move |conn| {
            let view = service::load_view(conn, v.as_ref(), id, number)?;
            let file = view
                .files
                .iter()
                .find(|f| f.path == path.as_str())
                .cloned()
                .ok_or(DomainError::NotFound)?;
            Ok((view, file))
        })
        .await?;
    if view.state == DatasetState::Deaccessioned {
        return Err(DomainError::Gone(format!(
            "this dataset was deaccessioned ({}); its files are no longer served",
            view.dataset
                .deaccession_reason
                .as_deref()
                .unwrap_or("no reason recorded")
        ))
        .into());
    }
    let size = u64::try_from(file.size).map_err(DomainError::internal)?;
    let range = parse_range(
        req.headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok()),
        size,
    );
    let digest_b64 = hex::decode(&file.sha256)
        .map(|raw| base64::engine::general_purpose::STANDARD.encode(raw))
        .map_err(DomainError::internal)?;
    let mut response = match &range {
        RangeRequest::Unsatisfiable => {
            return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish());
        }
        RangeRequest::Full => {
            let mut r = HttpResponse::Ok();
            r.insert_header(("Content-Digest", format!("sha-256=:{digest_b64}:")));
            r
        }
        RangeRequest::Partial(r) => {
            let mut resp = HttpResponse::PartialContent();
            resp.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            ));
            resp
        }
    };
    let wanted = match &range {
        RangeRequest::Partial(r) => Some(r.clone()),
        _ => None,
    };
    let length = wanted.as_ref().map(|r| r.end - r.start).unwrap_or(size);
    response
        .insert_header(("Repr-Digest", format!("sha-256=:{digest_b64}:")))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, format!("\"{}\"", file.sha256)))
        .insert_header((header::CONTENT_TYPE, file.media_type.clone()))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(&file.path)))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    if !view.is_published_version() {
        response.insert_header((header::CACHE_CONTROL, "private, no-store"));
    }
    if req.method() == actix_web::http::Method::HEAD {
        // actix sends no body for HEAD, but keeps the Content-Length of a sized body.
        let empty: ByteStream = Box::pin(futures_util::stream::empty());
        return Ok(response.body(SizedStream::new(length, empty)));
    }
    let stream = match (&file.content_path, &file.staged_name) {
        // Published files, and files a new draft carries over from a published version.
        (Some(content_path), _) => {
            let object_id = view.dataset.ocfl_object_id.clone().ok_or_else(|| {
                DomainError::internal("stored file of a dataset without OCFL object")
            })?;
            let key = format!("{}/{content_path}", archive.ocfl.object_root(&object_id));
            archive.store.get_range(&key, wanted).await.map_err(|e| {
                DomainError::Unavailable(format!("the stored file cannot be read right now: {e}"))
            })?
        }
        (_, Some(blob)) => open_local(archive.staged_blob_path(blob)?, wanted).await?,
        _ => return Err(DomainError::internal(format!("file {} has no bytes", file.id)).into()),
    };
    Ok(response.body(SizedStream::new(length, stream)))
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
