//! Who is asking: session cookies for pages, bearer tokens for the API, and the CSRF
//! token every form carries.
//!
//! CSRF uses a double-submit token: a random value in an HttpOnly, SameSite=Lax cookie
//! that every form repeats in a hidden field. A cross-site page can neither read the
//! cookie nor make the browser send it on a POST, so a forged or missing token is
//! refused with 403 before anything changes.

use actix_web::body::MessageBody;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{http::Method, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::errors::{ApiError, PageError};
use crate::accounts::{sessions, tokens, User};
use crate::app::Archive;
use crate::error::DomainError;

pub const SESSION_COOKIE: &str = "hf_session";
pub const CSRF_COOKIE: &str = "hf_csrf";
pub const CSRF_FIELD: &str = "csrf_token";

/// The CSRF token of this browser, for rendering into forms.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

fn plausible_secret(value: &str) -> bool {
    (20..=100).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Makes sure every browser has a CSRF cookie before it sees a form.
pub async fn csrf_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let existing = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| plausible_secret(v));
    let secure = req
        .app_data::<web::Data<Archive>>()
        .is_some_and(|a| a.settings.secure_cookies());
    let (token, fresh) = match existing {
        Some(t) => (t, false),
        None => (sessions::random_secret(), true),
    };
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut res = next.call(req).await?;
    if fresh {
        res.response_mut()
            .add_cookie(&csrf_cookie_of(token, secure))?;
    }
    Ok(res)
}

fn csrf_cookie_of(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// A new CSRF token, set when someone signs in or out: a token planted in the browser
/// before (or seen by whoever shared the browser) is worth nothing after.
pub fn fresh_csrf_cookie(secure: bool) -> Cookie<'static> {
    csrf_cookie_of(sessions::random_secret(), secure)
}

/// Pages read with a session are the reader's own: no cache (a shared proxy, the
/// browser's back button after signing out) keeps them, unless the handler said
/// otherwise.
pub async fn no_store_when_signed_in(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderValue, CACHE_CONTROL};
    let signed_in = req.cookie(SESSION_COOKIE).is_some();
    let mut res = next.call(req).await?;
    if signed_in && !res.headers().contains_key(CACHE_CONTROL) {
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    Ok(res)
}

/// Pages that need an account answer a signed-out visitor with a redirect to
/// `/signin`; this adds where they were going (`/signin?next=/tickets/3`), so a link
/// from an email lands on its page after signing in. GET (and HEAD) only: a form
/// posted while signed out is not repeated.
pub async fn return_after_signin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::{header, StatusCode};
    let wanted = matches!(*req.method(), Method::GET | Method::HEAD)
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_string()))
        .flatten();
    let mut res = next.call(req).await?;
    let to_signin = res.status() == StatusCode::SEE_OTHER
        && res
            .headers()
            .get(header::LOCATION)
            .is_some_and(|l| l.as_bytes() == b"/signin");
    if let Some(wanted) = wanted.filter(|_| to_signin) {
        let query = serde_urlencoded::to_string([("next", wanted)])
            .map_err(actix_web::error::ErrorInternalServerError)?;
        let location = header::HeaderValue::from_str(&format!("/signin?{query}"))
            .map_err(actix_web::error::ErrorInternalServerError)?;
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

pub fn csrf_token(req: &HttpRequest) -> String {
    req.extensions()
        .get::<CsrfToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default()
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses a form whose token does not match this browser's CSRF cookie.
pub fn verify_csrf(req: &HttpRequest, submitted: Option<&str>) -> Result<(), DomainError> {
    let cookie = req.cookie(CSRF_COOKIE);
    let ok = match (cookie, submitted) {
        (Some(c), Some(s)) => !s.is_empty() && constant_time_eq(c.value().as_bytes(), s.as_bytes()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "this form has expired or did not come from this site; reload the page and send it again"
                .into(),
        ))
    }
}

fn archive(req: &HttpRequest) -> Result<web::Data<Archive>, DomainError> {
    req.app_data::<web::Data<Archive>>()
        .cloned()
        .ok_or_else(|| DomainError::internal("archive missing from app data"))
}

pub(crate) async fn user_from_session(req: &HttpRequest) -> Result<Option<User>, DomainError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let token = cookie.value().to_string();
    if !plausible_secret(&token) {
        return Ok(None);
    }
    archive(req)?
        .db
        .run(move |conn| sessions::user_for(conn, &token))
        .await
}

pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Who a federation request (OAI-PMH, ResourceSync, object files, downloads) comes from:
/// a partner node with a valid `hfp_` bearer token, or the public (no token, or a
/// user's API token, which these endpoints do not need). A partner token that is
/// unknown or revoked is refused: the inner Err is the 401 to send.
pub async fn federation_audience(
    req: &HttpRequest,
) -> Result<Result<crate::federation::Audience, actix_web::HttpResponse>, DomainError> {
    use crate::federation::{partners, Audience};
    let Some(token) = bearer_token(req).filter(|t| t.starts_with(partners::PARTNER_TOKEN_PREFIX))
    else {
        return Ok(Ok(Audience::Public));
    };
    let partner = archive(req)?
        .db
        .run(move |conn| partners::authenticate(conn, &token))
        .await?;
    Ok(match partner {
        Some(p) => Ok(Audience::Partner(p.id)),
        None => Err(partner_refused()),
    })
}

/// 401 for a partner token this archive does not know (or revoked).
pub fn partner_refused() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Unauthorized()
        .insert_header((
            actix_web::http::header::WWW_AUTHENTICATE,
            "Bearer realm=\"holdfast\", error=\"invalid_token\"",
        ))
        .content_type("text/plain; charset=utf-8")
        .body("the partner token is not valid or was revoked: ask this archive's admin for a new one (holdfast partner add)\n")
}

/// The signed-in user of a page, if any.
pub struct Viewer(pub Option<User>);

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Viewer(user_from_session(&req).await?)) })
    }
}

/// A page that needs an account; visitors are sent to sign in.
pub struct SignedIn(pub User);

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            user_from_session(&req)
                .await?
                .map(SignedIn)
                .ok_or_else(|| PageError(DomainError::Unauthorized("sign in first".into())))
        })
    }
}

/// The caller of an API endpoint: a bearer token, or (for reading only) a browser
/// session, so cookies never authorise a change through the API.
pub struct ApiCaller(pub Option<User>);

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(token) = bearer_token(&req) {
                let user = archive(&req)?
                    .db
                    .run(move |conn| tokens::authenticate(conn, &token))
                    .await?;
                return match user {
                    Some(u) => Ok(ApiCaller(Some(u))),
                    None => Err(ApiError(DomainError::Unauthorized(
                        "the bearer token is not valid or was revoked".into(),
                    ))),
                };
            }
            let safe = matches!(*req.method(), Method::GET | Method::HEAD);
            if safe {
                return Ok(ApiCaller(user_from_session(&req).await?));
            }
            Ok(ApiCaller(None))
        })
    }
}

impl ApiCaller {
    pub fn required(self) -> Result<User, ApiError> {
        self.0.ok_or_else(|| {
            ApiError(DomainError::Unauthorized(
                "send an API token: Authorization: Bearer <token> (create one on your profile page)"
                    .into(),
            ))
        })
    }
}

/// An API endpoint that needs a caller: without a token (or, for reading, a session)
/// it answers 401 before anything else is read.
pub struct ApiUser(pub User);

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = ApiCaller::from_request(req, payload);
        Box::pin(async move { caller.await?.required().map(ApiUser) })
    }
}

pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(sessions::SESSION_DAYS))
        .finish()
}

pub fn expired_session_cookie() -> Cookie<'static> {
    let mut c = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    c.make_removal();
    c
}

/// Client address for sign-in throttling (the socket peer; a proxy setup would pass
/// the real address in a trusted header, which this deliberately does not read).
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
