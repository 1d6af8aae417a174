//! Datasets: create, list, search, read, change their metadata and standards, open a
//! new version, reserve a DOI.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::dataset_json::{view_json, view_json_with};
use crate::app::Archive;
use crate::deposit::metadata::Metadata;
use crate::deposit::model::DatasetSummary;
use crate::deposit::service;
use crate::doi::registration;
use crate::web::auth::{ApiCaller, ApiUser};
use crate::web::errors::ApiError;
use crate::web::extract::{ApiJson, JsonBody};

/// `{"datasets": [...]}`.
#[derive(Serialize)]
pub struct DatasetList<T> {
    pub datasets: Vec<T>,
}

pub async fn create(
    archive: web::Data<Archive>,
    ApiUser(user): ApiUser,
    ApiJson(metadata): ApiJson<Metadata>,
) -> Result<HttpResponse, ApiError> {
    let owner = user.clone();
    let id = archive
        .db
        .run(move |conn| service::create(conn, &owner, metadata))
        .await?;
    let body = view_json(&archive, Some(user), id).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/datasets/{id}")))
        .json(body))
}

pub async fn list_mine(
    archive: web::Data<Archive>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let datasets: Vec<DatasetSummary> = archive
        .db
        .run(move |conn| service::list_owned(conn, user.id))
        .await?;
    Ok(HttpResponse::Ok().json(DatasetList { datasets }))
}

/// `GET /api/search`: published datasets only, for anyone (no token needed). The
/// parameters and the answer are described in docs/user-guide.md, "Search".
pub async fn search(
    req: HttpRequest,
    archive: web::Data<Archive>,
) -> Result<HttpResponse, ApiError> {
    let pairs = crate::web::pages::search::query_pairs(&req)?;
    let request = crate::search::SearchRequest::from_pairs(&pairs)?;
    let results = archive
        .db
        .run(move |conn| crate::search::search(conn, &request))
        .await?;
    Ok(HttpResponse::Ok().json(results))
}

#[derive(Deserialize)]
pub struct ShowQuery {
    /// `false` leaves the file list out.
    files: Option<bool>,
}

pub async fn show(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, ApiError> {
    let with_files = query.files.unwrap_or(true);
    let body = view_json_with(&archive, caller.0, path.into_inner(), with_files).await?;
    Ok(HttpResponse::Ok().json(body))
}

pub async fn update(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
    ApiJson(metadata): ApiJson<Metadata>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let actor = user.clone();
    archive
        .db
        .run(move |conn| service::update_metadata(conn, &actor, id, metadata))
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(view_json(&archive, Some(user), id).await?))
}

/// Opens the next version of a published dataset as a draft → 201.
pub async fn new_version(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let owner = user.clone();
    archive
        .db
        .run(move |conn| service::new_version(conn, &owner, id))
        .await?;
    crate::crashpoint::hit("new-version.after-commit");
    archive.wake_workers();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/datasets/{id}")))
        .json(view_json(&archive, Some(user), id).await?))
}

/// The depositor reserves a DOI for their draft → 201 with the dataset (200 when it
/// already had one). The DOI is a draft until the dataset is published.
pub async fn reserve_doi(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (actor, settings) = (user.clone(), archive.settings.clone());
    let (_, created) = archive
        .db
        .run(move |conn| registration::reserve_for_draft(conn, &settings, &actor, id))
        .await?;
    archive.wake_workers();
    let body = view_json(&archive, Some(user), id).await?;
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// `{"standards": ["essdive-flmd", ...]}`, in the request and the answer.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Standards {
    standards: Vec<String>,
}

impl JsonBody for Standards {
    const EXPECTED: &'static str = "expected {\"standards\": [\"name\", ...]}";
}

/// Sets the standards the dataset claims.
pub async fn set_standards(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
    ApiJson(wanted): ApiJson<Standards>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let known: Vec<String> = archive
        .standards
        .standards
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let standards = archive
        .db
        .run(move |conn| service::set_claimed_standards(conn, &user, id, &wanted.standards, &known))
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(Standards { standards }))
}
