use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::PageCtx;
use crate::app::Archive;
use crate::deposit::model::DatasetSummary;
use crate::deposit::service;
use crate::web::auth::Viewer;
use crate::web::errors::{render, PageError};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: PageCtx,
    recent: Vec<DatasetSummary>,
}

pub async fn home(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
) -> Result<HttpResponse, PageError> {
    let recent = archive
        .db
        .run(|conn| service::list_recently_published(conn, 20))
        .await?;
    render(
        StatusCode::OK,
        &HomePage {
            page: PageCtx::new(&req, &archive, viewer.0),
            recent,
        },
    )
}

pub async fn healthz(archive: web::Data<Archive>) -> HttpResponse {
    match archive.health().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(e) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(format!("not ready: {e}\n")),
    }
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../static/style.css"))
}
