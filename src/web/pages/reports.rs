//! The validation report page of a dataset.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::PageCtx;
use crate::app::Archive;
use crate::qa::validation::{self, ReportView};
use crate::standards::{Finding, Severity, Status};
use crate::web::auth::SignedIn;
use crate::web::errors::{render, PageError};

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    page: PageCtx,
    r: ReportView,
    title: String,
}

impl ReportPage {
    fn sev(&self, s: &Severity) -> &'static str {
        match s {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    fn status_word(&self, s: &Status) -> &'static str {
        match s {
            Status::Error => "errors",
            Status::Warning => "warnings",
            Status::Ok => "ok",
        }
    }

    fn overall(&self) -> &'static str {
        self.r
            .status
            .as_ref()
            .map(|s| self.status_word(s))
            .unwrap_or("not checked")
    }

    /// "open · blocks", "waived: reason" or "fixed" for a finding's ticket item.
    fn item_note(&self, f: &Finding) -> String {
        match self.r.item(&f.file, &f.issue.code) {
            Some(i) if i.is_blocking() => "blocks submission".into(),
            Some(i) if i.is_waived() => {
                format!("waived: {}", i.waiver_reason.as_deref().unwrap_or_default())
            }
            _ => String::new(),
        }
    }
}

pub async fn report_page(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let viewer = user.0.clone();
    let (r, title) = archive
        .db
        .run(move |conn| {
            let r = validation::report_for(conn, &viewer, id)?;
            let view = crate::deposit::service::load_view(conn, Some(&viewer), id, None)?;
            Ok((r, view.version.title))
        })
        .await?;
    render(
        StatusCode::OK,
        &ReportPage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            r,
            title,
        },
    )
}
