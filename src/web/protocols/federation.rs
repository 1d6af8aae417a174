//! Federation endpoints for partner nodes: the OCFL object files replicas copy
//! (`/federation/objects/{dataset}/{path}`), the receipts they send
//! (`POST /api/federation/receipts`) and the copies a dataset has
//! (`GET /api/datasets/{id}/copies`). The domain work is in `crate::federation`.

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::Digest;

use crate::app::Archive;
use crate::deposit::service;
use crate::error::DomainError;
use crate::federation::{objects, partners, receipts};
use crate::storage::ByteStream;
use crate::web::auth::{bearer_token, federation_audience, ApiCaller};
use crate::web::errors::{ApiError, PageError};
use crate::web::pages::downloads::{parse_range, RangeRequest};

fn media_type(path: &str) -> &'static str {
    if path.ends_with(".json") {
        "application/json"
    } else if path.ends_with(".sha256") || path.ends_with("0=ocfl_object_1.1") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// GET and HEAD of one file of a published dataset's OCFL object, as stored (single
/// byte ranges supported, so a replica resumes a broken download).
pub async fn object_file(
    req: HttpRequest,
    archive: web::Data<Archive>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, PageError> {
    let audience = match federation_audience(&req).await? {
        Ok(a) => a,
        Err(refused) => return Ok(refused),
    };
    let (dataset_id, rel) = path.into_inner();
    let located = archive
        .db
        .run(move |conn| objects::locate(conn, audience, dataset_id, &rel))
        .await?;
    let key = format!(
        "{}/{}",
        archive.ocfl.object_root(&located.object_id),
        located.path
    );
    let size = archive
        .store
        .size(&key)
        .await
        .map_err(|e| DomainError::Unavailable(format!("the stored file cannot be read: {e}")))?
        .ok_or(DomainError::NotFound)?;
    let range = parse_range(
        req.headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok()),
        size,
    );
    let mut response = match &range {
        RangeRequest::Unsatisfiable => {
            return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish());
        }
        RangeRequest::Full => HttpResponse::Ok(),
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
    let length = wanted.as_ref().map_or(size, |r| r.end - r.start);
    response
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CONTENT_TYPE, media_type(&located.path)));
    crate::web::user_content(&mut response);
    if req.method() == actix_web::http::Method::HEAD {
        let empty: ByteStream = Box::pin(futures_util::stream::empty());
        return Ok(response.body(SizedStream::new(length, empty)));
    }
    let stream =
        archive.store.get_range(&key, wanted).await.map_err(|e| {
            DomainError::Unavailable(format!("the stored file cannot be read: {e}"))
        })?;
    Ok(response.body(SizedStream::new(length, stream)))
}

/// `POST /api/federation/receipts`: a partner reports an object version it holds.
pub async fn post_receipt(
    req: HttpRequest,
    archive: web::Data<Archive>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&req)
        .filter(|t| t.starts_with(partners::PARTNER_TOKEN_PREFIX))
        .ok_or_else(|| {
            DomainError::Unauthorized(
                "send the partner token this archive issued: Authorization: Bearer hfp_…".into(),
            )
        })?;
    let partner = archive
        .db
        .run(move |conn| partners::authenticate(conn, &token))
        .await?
        .ok_or_else(|| {
            DomainError::Unauthorized("the partner token is not valid or was revoked".into())
        })?;
    let receipt: receipts::Receipt = serde_json::from_slice(&body).map_err(|e| {
        DomainError::invalid(
            "body",
            format!("expected {{\"object_id\", \"version\", \"inventory_digest\", \"held_at\", \"signature\"}}: {e}"),
        )
    })?;
    receipts::check(&partner, &receipt)?;
    let (object_id, version) = (receipt.object_id.clone(), receipt.version);
    let (dataset_id, _) = archive
        .db
        .run(move |conn| receipts::published_version(conn, &object_id, version))
        .await?;
    // This archive's own inventory of that version, hashed as stored.
    let key = format!(
        "{}/v{}/inventory.json",
        archive.ocfl.object_root(&receipt.object_id),
        receipt.version
    );
    let own = archive
        .store
        .get_bytes(&key)
        .await
        .map_err(|e| DomainError::Unavailable(format!("the inventory cannot be read: {e}")))?
        .ok_or(DomainError::NotFound)?;
    let own_digest = hex::encode(sha2::Sha256::digest(&own));
    let copy = archive
        .db
        .run(move |conn| receipts::record(conn, &partner, &receipt, &own_digest))
        .await?;
    // The new copy may lift the dataset above the replication policy at once; the
    // receipt is recorded either way (the scheduled round applies the policy too).
    let settings = archive.settings.clone();
    if let Err(e) = archive
        .db
        .run(move |conn| crate::federation::policy::evaluate_dataset(conn, &settings, dataset_id))
        .await
    {
        tracing::warn!(dataset = dataset_id, error = %e, "replication policy not applied after a receipt");
    }
    Ok(HttpResponse::Created().json(copy))
}

/// `GET /api/datasets/{id}/copies`: the replicas partners reported, for whoever may
/// see the dataset.
pub async fn copies(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let viewer = caller.0;
    let id = path.into_inner();
    let copies = archive
        .db
        .run(move |conn| {
            service::load_view(conn, viewer.as_ref(), id, None)?;
            receipts::copies_of(conn, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Copies {
        dataset_id: id,
        copies,
    }))
}

#[derive(serde::Serialize)]
struct Copies {
    dataset_id: i64,
    copies: Vec<receipts::CopyView>,
}
