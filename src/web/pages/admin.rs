use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::PageCtx;
use crate::accounts::{users, Role, User};
use crate::app::Archive;
use crate::error::DomainError;
use crate::web::auth::{field, read_form, SignedIn};
use crate::web::errors::{redirect, render, PageError};

fn require_admin(user: &User) -> Result<(), PageError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(DomainError::Forbidden("only administrators can manage accounts".into()).into())
    }
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

pub async fn set_role(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    require_admin(&user.0)?;
    let form = read_form(&req, payload, 4096).await?;
    let role: Role = field(&form, "role")
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
