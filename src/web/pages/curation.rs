use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::PageCtx;
use crate::app::Archive;
use crate::curation;
use crate::deposit::model::{DatasetState, DatasetSummary};
use crate::deposit::service;
use crate::error::DomainError;
use crate::web::auth::{field, read_form, SignedIn};
use crate::web::errors::{redirect, render, PageError};

#[derive(Template)]
#[template(path = "curation_queue.html")]
struct QueuePage {
    page: PageCtx,
    submitted: Vec<DatasetSummary>,
}

pub async fn queue(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
) -> Result<HttpResponse, PageError> {
    if !user.0.role.can_curate() {
        return Err(DomainError::Forbidden("the review queue is for curators".into()).into());
    }
    let submitted = archive
        .db
        .run(|conn| service::list_in_state(conn, DatasetState::Submitted, 500))
        .await?;
    render(
        StatusCode::OK,
        &QueuePage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            submitted,
        },
    )
}

pub async fn review(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form = read_form(&req, payload, 64 * 1024).await?;
    match field(&form, "decision") {
        "accept" => {
            curation::accept(&archive, &user.0, id, field(&form, "comment")).await?;
            Ok(redirect(&format!("/datasets/{id}?msg=published")))
        }
        other => Err(DomainError::invalid(
            "decision",
            format!("'{other}' is not a decision this archive knows; use accept"),
        )
        .into()),
    }
}
