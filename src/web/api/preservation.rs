//! A dataset's preservation record: fixity checks of its files and its PREMIS events.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::app::Archive;
use crate::deposit::service;
use crate::error::DomainError;
use crate::fixity::report::{CheckRow, FileFixity};
use crate::preservation::events;
use crate::web::auth::ApiCaller;
use crate::web::errors::ApiError;

#[derive(Serialize)]
struct FixityJson {
    dataset_id: i64,
    object_id: Option<String>,
    /// How many files the last check found damaged.
    damaged: usize,
    files: Vec<FileFixity>,
    /// Files in storage the dataset does not list.
    unexpected: Vec<CheckRow>,
}

/// Every stored file of the dataset with its full fixity history (each check: when,
/// outcome, expected and found digest and size), and unexpected files the audits found.
/// Visible to whoever may see the dataset.
pub async fn fixity(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let viewer = caller.0;
    let dataset_id = path.into_inner();
    let (object_id, report) = archive
        .db
        .run(move |conn| {
            let view = service::load_landing_view(conn, viewer.as_ref(), dataset_id, None)?;
            Ok((
                view.dataset.ocfl_object_id.clone(),
                crate::fixity::report::of_dataset(conn, dataset_id)?,
            ))
        })
        .await?;
    let damaged = report.files.iter().filter(|f| f.state == "damaged").count();
    Ok(HttpResponse::Ok().json(FixityJson {
        dataset_id,
        object_id,
        damaged,
        files: report.files,
        unexpected: report.unexpected,
    }))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    format: Option<String>,
}

#[derive(Serialize)]
struct EventList {
    events: Vec<events::EventRow>,
}

/// The dataset's PREMIS event history: JSON, or PREMIS 3 XML with `?format=premis`.
/// Its depositor and curators see every event; others the public history
/// (`events::history_for`).
pub async fn events(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let viewer = caller.0;
    let id = path.into_inner();
    let (object_id, list) = archive
        .db
        .run(move |conn| {
            let view = service::load_landing_view(conn, viewer.as_ref(), id, None)?;
            let published: Vec<i32> = service::published_versions(conn, id)?
                .iter()
                .map(|v| v.number)
                .collect();
            let reader = if view.access(viewer.as_ref()).may_see_drafts() {
                events::Reader::Insider
            } else {
                events::Reader::Public {
                    owner_id: view.dataset.owner_id,
                    published_versions: &published,
                }
            };
            let list = events::history_for(events::of_dataset(conn, id)?, reader);
            let object_id = view
                .dataset
                .ocfl_object_id
                .clone()
                .unwrap_or_else(|| format!("dataset:{id}"));
            Ok((object_id, list))
        })
        .await?;
    match query.format.as_deref() {
        Some("premis") | Some("xml") => Ok(HttpResponse::Ok()
            .content_type("application/xml; charset=utf-8")
            .body(events::premis_xml(&object_id, &list)?)),
        None | Some("json") => Ok(HttpResponse::Ok().json(EventList { events: list })),
        Some(other) => Err(DomainError::BadRequest(format!(
            "unknown format '{other}'; use json or premis"
        ))
        .into()),
    }
}
