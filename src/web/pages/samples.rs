//! Public sample pages: one per IGSN (or per sample name within a dataset) with its
//! metadata, its parent and children, and every published dataset that describes or
//! uses it; and a search by sample ID.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::PageCtx;
use crate::app::Archive;
use crate::error::DomainError;
use crate::samples::{self, SampleHit, SampleKey, SampleView};
use crate::web::auth::Viewer;
use crate::web::errors::{render, PageError};

/// Hits shown on one search page.
const HITS: i64 = 50;

#[derive(Template)]
#[template(path = "sample.html")]
struct SamplePage {
    page: PageCtx,
    s: SampleView,
    title: String,
}

#[derive(Template)]
#[template(path = "samples.html")]
struct SearchPage {
    page: PageCtx,
    q: String,
    hits: Vec<SampleHit>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn show(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    key: SampleKey,
) -> Result<HttpResponse, PageError> {
    let found = archive
        .db
        .run(move |conn| samples::find(conn, &key))
        .await?;
    let s = found.ok_or(DomainError::NotFound)?;
    let title = match &s.igsn {
        Some(i) => format!("Sample {} (IGSN {i})", s.name),
        None => format!("Sample {}", s.name),
    };
    let ctx = PageCtx::new(&req, &archive, viewer.0);
    render(
        StatusCode::OK,
        &SamplePage {
            page: ctx,
            s,
            title,
        },
    )
}

/// `GET /samples/{igsn}`
pub async fn by_igsn(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    show(req, archive, viewer, SampleKey::Igsn(path.into_inner())).await
}

/// `GET /datasets/{id}/samples/{name}`
pub async fn by_name(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, PageError> {
    let (dataset_id, name) = path.into_inner();
    show(req, archive, viewer, SampleKey::Named { dataset_id, name }).await
}

/// `GET /samples?q=…`: samples whose IGSN or name starts with the query.
pub async fn search(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let q = query
        .into_inner()
        .q
        .trim()
        .chars()
        .take(200)
        .collect::<String>();
    let run = q.clone();
    let hits = archive
        .db
        .run(move |conn| samples::search(conn, &run, HITS))
        .await?;
    let ctx = PageCtx::new(&req, &archive, viewer.0);
    render(StatusCode::OK, &SearchPage { page: ctx, q, hits })
}
