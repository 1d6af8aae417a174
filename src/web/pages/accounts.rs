use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{FormErrors, PageCtx};
use crate::accounts::{sessions, tokens, users, Role};
use crate::app::Archive;
use crate::error::DomainError;
use crate::mail;
use crate::web::auth::{self, SignedIn, Viewer};
use crate::web::errors::{redirect, render, PageError};
use crate::web::extract::{CsrfForm, CsrfOnly, SMALL_FORM};

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    page: PageCtx,
    name: String,
    email: String,
    errors: FormErrors,
    open: bool,
}

pub async fn signup_form(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
) -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        &SignUpPage {
            page: PageCtx::new(&req, &archive, viewer.0),
            name: String::new(),
            email: String::new(),
            errors: FormErrors::default(),
            open: archive.settings.open_signup,
        },
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct SignUpForm {
    name: String,
    email: String,
    password: String,
}

pub async fn signup(
    req: HttpRequest,
    archive: web::Data<Archive>,
    CsrfForm(form): CsrfForm<SignUpForm>,
) -> Result<HttpResponse, PageError> {
    if !archive.settings.open_signup {
        return Err(DomainError::Forbidden(
            "this archive does not take new sign-ups; ask an administrator for an account".into(),
        )
        .into());
    }
    let SignUpForm {
        name,
        email,
        password,
    } = form;
    let (n, e, p) = (name.clone(), email.clone(), password);
    let created = archive
        .db
        .run(move |conn| {
            let user = users::create(conn, &e, &n, Role::Depositor, &p)?;
            let token = sessions::start(conn, user.id)?;
            Ok(token)
        })
        .await;
    match created {
        Ok(token) => Ok(signed_in_redirect(&archive, token, "/datasets/mine")),
        Err(DomainError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SignUpPage {
                page: PageCtx::new(&req, &archive, None),
                name,
                email,
                errors: FormErrors(errors),
                open: true,
            },
        ),
        Err(other) => Err(other.into()),
    }
}

fn signed_in_redirect(archive: &Archive, token: String, to: &str) -> HttpResponse {
    let mut response = redirect(to);
    let secure = archive.settings.secure_cookies();
    // Adding freshly built cookies cannot fail; ignore the impossible error.
    let _ = response.add_cookie(&auth::session_cookie(token, secure));
    let _ = response.add_cookie(&auth::fresh_csrf_cookie(secure));
    response
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    page: PageCtx,
    email: String,
    message: Option<String>,
    next: String,
}

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
    {
        next.to_string()
    } else {
        "/datasets/mine".to_string()
    }
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn signin_form(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        &SignInPage {
            page: PageCtx::new(&req, &archive, viewer.0),
            email: String::new(),
            message: None,
            next: safe_next(query.next.as_deref().unwrap_or("")),
        },
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct SignInForm {
    email: String,
    password: String,
    /// Where to go after signing in (checked by `safe_next`).
    next: String,
}

pub async fn signin(
    req: HttpRequest,
    archive: web::Data<Archive>,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Result<HttpResponse, PageError> {
    let SignInForm {
        email,
        password,
        next,
    } = form;
    let next = safe_next(&next);
    let ip = auth::client_ip(&req);
    let max = archive.settings.signin_max_failures;
    let e = email.clone();
    let result = archive
        .db
        .run(move |conn| {
            let user = users::sign_in(conn, &e, &password, &ip, max)?;
            sessions::start(conn, user.id)
        })
        .await;
    match result {
        Ok(token) => Ok(signed_in_redirect(&archive, token, &next)),
        Err(e @ (DomainError::Unauthorized(_) | DomainError::TooManyRequests(_))) => {
            let status = crate::web::errors::status_of(&e);
            render(
                status,
                &SignInPage {
                    page: PageCtx::new(&req, &archive, None),
                    email,
                    message: Some(e.to_string()),
                    next,
                },
            )
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn signout(
    req: HttpRequest,
    archive: web::Data<Archive>,
    _: CsrfOnly<SMALL_FORM>,
) -> Result<HttpResponse, PageError> {
    if let Some(cookie) = req.cookie(auth::SESSION_COOKIE) {
        let token = cookie.value().to_string();
        archive
            .db
            .run(move |conn| sessions::end(conn, &token))
            .await?;
    }
    let mut response = redirect("/");
    let _ = response.add_cookie(&auth::expired_session_cookie());
    let _ = response.add_cookie(&auth::fresh_csrf_cookie(archive.settings.secure_cookies()));
    Ok(response)
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    page: PageCtx,
    tokens: Vec<tokens::ApiToken>,
    new_token: Option<String>,
    errors: FormErrors,
    notifications: Vec<NotificationChoice>,
    notifications_saved: bool,
}

/// One checkbox of the Notifications form.
struct NotificationChoice {
    key: &'static str,
    label: &'static str,
    on: bool,
}

#[derive(serde::Deserialize)]
pub struct ProfileQuery {
    saved: Option<String>,
}

async fn profile_page(
    req: &HttpRequest,
    archive: &Archive,
    user: crate::accounts::User,
    new_token: Option<String>,
    errors: FormErrors,
    notifications_saved: bool,
) -> Result<HttpResponse, PageError> {
    let user_id = user.id;
    let (list, choices) = archive
        .db
        .run(move |conn| {
            Ok((
                tokens::list_for(conn, user_id)?,
                mail::prefs::load(conn, user_id)?,
            ))
        })
        .await?;
    let notifications = choices
        .into_iter()
        .map(|(kind, on)| NotificationChoice {
            key: kind.as_str(),
            label: kind.label(),
            on,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        status,
        &ProfilePage {
            page: PageCtx::new(req, archive, Some(user)),
            tokens: list,
            new_token,
            errors,
            notifications,
            notifications_saved,
        },
    )
}

pub async fn profile(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    query: web::Query<ProfileQuery>,
) -> Result<HttpResponse, PageError> {
    let saved = query.saved.as_deref() == Some("notifications");
    profile_page(&req, &archive, user.0, None, FormErrors::default(), saved).await
}

/// Saves the Notifications form: a ticked box (`on=KIND`) keeps that kind on, every
/// other kind is turned off.
pub async fn save_notifications(
    archive: web::Data<Archive>,
    user: SignedIn,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let mut wanted = Vec::new();
    for (name, value) in &form {
        if name != "on" {
            continue;
        }
        match mail::NotificationKind::parse(value) {
            Some(kind) => wanted.push(kind),
            None => {
                return Err(DomainError::BadRequest(format!(
                    "'{value}' is not a notification kind; reload the profile page and try again"
                ))
                .into())
            }
        }
    }
    let changes: Vec<(mail::NotificationKind, bool)> = mail::NotificationKind::ALL
        .into_iter()
        .map(|k| (k, wanted.contains(&k)))
        .collect();
    let user_id = user.0.id;
    archive
        .db
        .transaction(move |conn| mail::prefs::set(conn, user_id, &changes))
        .await?;
    Ok(redirect("/profile?saved=notifications#notifications"))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    label: String,
}

pub async fn create_token(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    CsrfForm(TokenForm { label }): CsrfForm<TokenForm>,
) -> Result<HttpResponse, PageError> {
    let user_id = user.0.id;
    match archive
        .db
        .run(move |conn| tokens::create(conn, user_id, &label))
        .await
    {
        Ok(secret) => {
            profile_page(
                &req,
                &archive,
                user.0,
                Some(secret),
                FormErrors::default(),
                false,
            )
            .await
        }
        Err(DomainError::Invalid(errors)) => {
            profile_page(&req, &archive, user.0, None, FormErrors(errors), false).await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn revoke_token(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    _: CsrfOnly<SMALL_FORM>,
) -> Result<HttpResponse, PageError> {
    let token_id = path.into_inner();
    let user_id = user.0.id;
    archive
        .db
        .run(move |conn| tokens::revoke(conn, user_id, token_id))
        .await?;
    Ok(redirect("/profile"))
}
