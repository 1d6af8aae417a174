//! Replica audits over HTTP. Replica side: `POST /api/federation/challenges` answers an
//! origin's challenge, `POST /api/federation/files` serves a held file back to its
//! origin for a repair (both signed by the origin, see `federation::signing`). Origin
//! side: `GET /api/datasets/{id}/replicas`, a dataset's copies and its standing against
//! the replication policy (curators and admins).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::accounts::access;
use crate::app::Archive;
use crate::error::DomainError;
use crate::federation::{answer, signing};
use crate::web::auth::ApiCaller;
use crate::web::errors::ApiError;
use crate::web::extract::read_body;

fn signature(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(signing::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub async fn challenge(
    req: HttpRequest,
    archive: web::Data<Archive>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, answer::MAX_REQUEST_BYTES, "challenge").await?;
    let answered = answer::answer_challenge(&archive.federation(), body, signature(&req)).await?;
    Ok(HttpResponse::Ok().json(answered))
}

pub async fn fetch_file(
    req: HttpRequest,
    archive: web::Data<Archive>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, answer::MAX_REQUEST_BYTES, "request").await?;
    let (stream, size) = answer::serve_file(&archive.federation(), body, signature(&req)).await?;
    let mut response = HttpResponse::Ok();
    response.content_type("application/octet-stream");
    if let Some(size) = size {
        return Ok(response.no_chunking(size).streaming(stream));
    }
    Ok(response.streaming(stream))
}

pub async fn dataset_replicas(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    access::require_curator(&user, "see a dataset's replicas")?;
    let id = path.into_inner();
    let settings = archive.settings.clone();
    let report = archive
        .db
        .run(move |conn| crate::federation::policy::of_dataset(conn, &settings, id))
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(HttpResponse::Ok().json(report))
}
