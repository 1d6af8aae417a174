use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{PageCtx, ReasonForm};
use crate::accounts::{access, users, User};
use crate::app::Archive;
use crate::curation::{self, QueueEntry, QueueFilter};
use crate::error::DomainError;
use crate::web::auth::SignedIn;
use crate::web::errors::{redirect, render, PageError};
use crate::web::extract::{CsrfForm, CsrfOnly};

#[derive(Template)]
#[template(path = "curation_queue.html")]
struct QueuePage {
    page: PageCtx,
    entries: Vec<QueueEntry>,
    state: String,
    assignee: String,
    curators: Vec<User>,
}

impl QueuePage {
    /// The queue's URL with one filter changed, keeping the other.
    fn link(&self, key: &str, value: &str) -> String {
        let (state, assignee) = match key {
            "state" => (value, self.assignee.as_str()),
            _ => (self.state.as_str(), value),
        };
        let query = serde_urlencoded::to_string([("state", state), ("assignee", assignee)])
            .unwrap_or_default();
        format!("/curation?{query}")
    }

    fn is_state(&self, value: &str) -> bool {
        self.state == value
    }

    fn is_assignee(&self, value: &str) -> bool {
        self.assignee == value
    }
}

#[derive(serde::Deserialize)]
pub struct QueueParams {
    state: Option<String>,
    assignee: Option<String>,
}

pub async fn queue(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    params: web::Query<QueueParams>,
) -> Result<HttpResponse, PageError> {
    access::require_curator(&user.0, "work the review queue")?;
    let state = params.state.clone().unwrap_or_default();
    let assignee = params.assignee.clone().unwrap_or_default();
    let filter = QueueFilter::parse(&state, &assignee, user.0.id)?;
    let (entries, curators) = archive
        .db
        .run(move |conn| Ok((curation::queue(conn, &filter, 500)?, users::curators(conn)?)))
        .await?;
    render(
        StatusCode::OK,
        &QueuePage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            entries,
            state,
            assignee,
            curators,
        },
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ReviewForm {
    decision: String,
    comment: String,
}

/// The review form: claim, request changes (with a comment), or accept.
pub async fn review(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<ReviewForm, { 64 * 1024 }>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let ReviewForm { decision, comment } = form;
    let curator = user.0;
    match decision.as_str() {
        "claim" => {
            let settings = archive.settings.clone();
            archive
                .db
                .run(move |conn| curation::claim(conn, &settings, &curator, id))
                .await?;
            Ok(redirect(&format!("/datasets/{id}?msg=claimed")))
        }
        "request_changes" => {
            let settings = archive.settings.clone();
            archive
                .db
                .run(move |conn| {
                    curation::request_changes(conn, &settings, &curator, id, &comment)
                })
                .await?;
            archive.wake_workers();
            Ok(redirect(&format!("/datasets/{id}?msg=changes_requested")))
        }
        "accept" => {
            curation::accept(&archive.db, &archive.settings, archive.jobs.waker(), &curator, id, &comment).await?;
            Ok(redirect(&format!("/datasets/{id}?msg=approved")))
        }
        other => Err(DomainError::invalid(
            "decision",
            format!("'{other}' is not a decision this archive knows; use claim, request_changes or accept"),
        )
        .into()),
    }
}

/// The depositor opens the next version of a published dataset.
pub async fn new_version(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    _: CsrfOnly,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    archive
        .db
        .run(move |conn| crate::deposit::service::new_version(conn, &user.0, id))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/datasets/{id}?msg=new_version")))
}

/// An admin withdraws a published dataset with a reason.
pub async fn deaccession(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(ReasonForm { reason }): CsrfForm<ReasonForm, { 64 * 1024 }>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| crate::publish::deaccession(conn, &settings, &user.0, id, &reason))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/datasets/{id}?msg=deaccessioned")))
}
