use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::PageCtx;
use crate::accounts::{access, users, Role, User};
use crate::app::Archive;
use crate::error::DomainError;
use crate::web::auth::SignedIn;
use crate::web::errors::{redirect, render, PageError};
use crate::web::extract::CsrfForm;

fn require_admin(user: &User) -> Result<(), PageError> {
    Ok(access::require_admin(user, "manage accounts")?)
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    page: PageCtx,
    users: Vec<User>,
    roles: [Role; 3],
}

pub async fn users_page(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
) -> Result<HttpResponse, PageError> {
    require_admin(&user.0)?;
    let list = archive.db.run(users::list).await?;
    render(
        StatusCode::OK,
        &UsersPage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            users: list,
            roles: Role::ALL,
        },
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

pub async fn set_role(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<RoleForm, 4096>,
) -> Result<HttpResponse, PageError> {
    require_admin(&user.0)?;
    let role: Role = form
        .role
        .parse()
        .map_err(|e: String| DomainError::invalid("role", e))?;
    let target = path.into_inner();
    if target == user.0.id && role != Role::Admin {
        return Err(DomainError::Conflict(
            "you cannot take away your own admin role; ask another admin".into(),
        )
        .into());
    }
    archive
        .db
        .run(move |conn| users::set_role(conn, target, role))
        .await?;
    Ok(redirect("/admin/users"))
}

#[derive(Template)]
#[template(path = "admin_preservation.html")]
struct PreservationPage {
    page: PageCtx,
    coverage: crate::fixity::report::Coverage,
    /// Datasets below the replication policy.
    shortfalls: Vec<crate::federation::policy::Shortfall>,
    min_copies: u32,
    alert_hours: f64,
    partners: usize,
}

impl PreservationPage {
    fn percent(&self, share: &f64) -> String {
        format!("{:.1}%", share * 100.0)
    }

    fn mb_per_sec(&self, rate: &f64) -> String {
        format!("{:.1} MB/s", rate / 1e6)
    }

    fn when(&self, t: &chrono::NaiveDateTime) -> String {
        crate::fixity::record::iso(*t)
    }
}

/// Fixity coverage for administrators and curators: the share of bytes verified in the
/// current cycle, damaged files, the oldest check and the audit's throughput.
pub async fn preservation_page(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
) -> Result<HttpResponse, PageError> {
    access::require_curator(&user.0, "see the preservation dashboard")?;
    let cycle = archive.settings.fixity.cycle;
    let (coverage, shortfalls, partners) = archive
        .db
        .run(move |conn| {
            Ok((
                crate::fixity::report::coverage(conn, cycle)?,
                crate::federation::policy::shortfalls(conn)?,
                crate::federation::partners::active(conn)?.len(),
            ))
        })
        .await?;
    let replication = &archive.settings.replication;
    render(
        StatusCode::OK,
        &PreservationPage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            coverage,
            shortfalls,
            min_copies: replication.min_copies,
            alert_hours: replication.alert_after.num_seconds() as f64 / 3600.0,
            partners,
        },
    )
}
