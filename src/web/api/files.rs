//! A draft's files: put one (streamed, optionally checked against `Content-Digest`,
//! optionally a zip to unpack) or delete one.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::dataset_json::{file_json, FileJson};
use crate::app::Archive;
use crate::deposit::ingest::{verify_content_digest, StagedFile};
use crate::deposit::{service, uploads};
use crate::error::DomainError;
use crate::web::auth::ApiUser;
use crate::web::errors::ApiError;

#[derive(Deserialize)]
pub struct UploadQuery {
    unpack: Option<bool>,
}

/// The files an unpacked zip gave.
#[derive(Serialize)]
struct FileList<'a> {
    files: Vec<FileJson<'a>>,
}

/// Refuses a body its `Content-Length` says is larger than the archive accepts.
fn check_declared_length(req: &HttpRequest, max: u64) -> Result<(), DomainError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max => Err(DomainError::PayloadTooLarge(format!(
            "the file is {len} bytes; this archive accepts at most {max} bytes per file"
        ))),
        _ => Ok(()),
    }
}

/// The `Content-Digest` the client sent, if any.
fn expected_digest(req: &HttpRequest) -> Result<Option<String>, DomainError> {
    req.headers()
        .get("Content-Digest")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| DomainError::BadRequest("Content-Digest is not readable text".into()))
}

fn check_digest(staged: &StagedFile, header_value: &str) -> Result<(), DomainError> {
    let mut raw = [0u8; 32];
    hex::decode_to_slice(&staged.sha256_hex, &mut raw).map_err(DomainError::internal)?;
    verify_content_digest(header_value, &raw)
        .map_err(|e| DomainError::invalid("Content-Digest", e.to_string()))
}

/// Streams the raw body into the draft at `path`. With `Content-Digest: sha-256=:…:`
/// the bytes must match or nothing is stored.
pub async fn put_file(
    req: HttpRequest,
    archive: web::Data<Archive>,
    path: web::Path<(i64, String)>,
    query: web::Query<UploadQuery>,
    ApiUser(user): ApiUser,
    payload: web::Payload,
    limits: web::Data<crate::web::limits::Limits>,
) -> Result<HttpResponse, ApiError> {
    let _uploading = match limits.upload(user.id) {
        Ok(permit) => permit,
        Err(busy) => return Ok(busy.response()),
    };
    let (id, raw_path) = path.into_inner();
    let dataset_path = uploads::parse_path(&raw_path)?;
    let actor = user.clone();
    archive
        .db
        .run(move |conn| service::editable_draft(conn, &actor, id).map(|_| ()))
        .await?;
    check_declared_length(&req, archive.settings.max_upload_bytes)?;
    let expected_digest = expected_digest(&req)?;
    let staged = archive
        .staging
        .stage_stream(payload, archive.settings.max_upload_bytes)
        .await?;
    let unpack = query.unpack.unwrap_or(false);
    let checked = match &expected_digest {
        Some(header_value) => check_digest(&staged, header_value),
        None => Ok(()),
    }
    .and_then(|()| {
        if unpack && !dataset_path.as_str().to_lowercase().ends_with(".zip") {
            Err(DomainError::invalid(
                "unpack",
                "only a .zip file can be unpacked",
            ))
        } else {
            Ok(())
        }
    });
    if let Err(e) = checked {
        archive.staging.discard([&staged]).await;
        return Err(e.into());
    }
    let upload = uploads::Upload {
        path: dataset_path,
        staged,
        unpack,
    };
    let files = uploads::add_uploads(&archive.uploads(), &user, id, vec![upload]).await?;
    let list: Vec<FileJson> = files
        .iter()
        // Just added to a draft its uploader may edit, and so download.
        .map(|f| file_json(&archive, id, f, true))
        .collect();
    if unpack {
        return Ok(HttpResponse::Created().json(FileList { files: list }));
    }
    match list.into_iter().next() {
        Some(one) => Ok(HttpResponse::Created().json(one)),
        None => Err(DomainError::internal("stored file missing").into()),
    }
}

pub async fn delete_file(
    archive: web::Data<Archive>,
    path: web::Path<(i64, String)>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let (id, raw_path) = path.into_inner();
    let dataset_path = uploads::parse_path(&raw_path)?;
    uploads::remove_file(&archive.uploads(), &user, id, dataset_path).await?;
    Ok(HttpResponse::NoContent().finish())
}
