//! Curation: submit a draft, claim and review it, the review queue, and deaccession.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::dataset_json::view_json;
use super::datasets::DatasetList;
use crate::accounts::access;
use crate::app::Archive;
use crate::curation;
use crate::error::DomainError;
use crate::web::auth::ApiUser;
use crate::web::errors::ApiError;
use crate::web::extract::{ApiJson, JsonBody};

pub async fn submit(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let actor = user.clone();
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| curation::submit(conn, &settings, &actor, id))
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(view_json(&archive, Some(user), id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    decision: String,
    #[serde(default)]
    comment: Option<String>,
}

impl JsonBody for ReviewBody {
    const EXPECTED: &'static str =
        "expected {\"decision\": \"accept\" | \"request_changes\", \"comment\": \"...\"}";
}

/// `{"decision": "request_changes" | "accept", "comment": "..."}` (curators). Accept
/// answers 202: the dataset is approved and publishes in the background; its `state`
/// turns `published` once the DOI is findable.
pub async fn review(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
    ApiJson(review): ApiJson<ReviewBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let comment = review.comment.unwrap_or_default();
    let status = match review.decision.as_str() {
        "accept" => {
            curation::accept(
                &archive.db,
                &archive.settings,
                archive.jobs.waker(),
                &user,
                id,
                &comment,
            )
            .await?;
            StatusCode::ACCEPTED
        }
        "request_changes" => {
            let (curator, settings) = (user.clone(), archive.settings.clone());
            archive
                .db
                .run(move |conn| curation::request_changes(conn, &settings, &curator, id, &comment))
                .await?;
            archive.wake_workers();
            StatusCode::OK
        }
        other => {
            return Err(DomainError::invalid(
                "decision",
                format!(
                    "'{other}' is not a decision this archive knows; use accept or request_changes"
                ),
            )
            .into())
        }
    };
    Ok(HttpResponse::build(status).json(view_json(&archive, Some(user), id).await?))
}

/// A curator claims a submission (optional: a decision claims it on the way).
pub async fn claim(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (curator, settings) = (user.clone(), archive.settings.clone());
    archive
        .db
        .run(move |conn| curation::claim(conn, &settings, &curator, id))
        .await?;
    Ok(HttpResponse::Ok().json(view_json(&archive, Some(user), id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeaccessionBody {
    reason: String,
}

impl JsonBody for DeaccessionBody {
    const EXPECTED: &'static str = "expected {\"reason\": \"...\"}";
}

/// `{"reason": "..."}` (admins): withdraws a published dataset.
pub async fn deaccession(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
    ApiJson(wanted): ApiJson<DeaccessionBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let admin = user.clone();
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| crate::publish::deaccession(conn, &settings, &admin, id, &wanted.reason))
        .await?;
    crate::crashpoint::hit("deaccession.after-commit");
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(view_json(&archive, Some(user), id).await?))
}

#[derive(Deserialize)]
pub struct QueueQuery {
    state: Option<String>,
    assignee: Option<String>,
}

/// The review queue as JSON (curators): `?state=submitted&assignee=me|none|ID`.
pub async fn curation_queue(
    archive: web::Data<Archive>,
    query: web::Query<QueueQuery>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    access::require_curator(&user, "work the review queue")?;
    let filter = curation::QueueFilter::parse(
        query.state.as_deref().unwrap_or(""),
        query.assignee.as_deref().unwrap_or(""),
        user.id,
    )?;
    let datasets = archive
        .db
        .run(move |conn| curation::queue(conn, &filter, 1000))
        .await?;
    Ok(HttpResponse::Ok().json(DatasetList { datasets }))
}
