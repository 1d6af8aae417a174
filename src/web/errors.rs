//! The one place where a `DomainError` becomes an HTTP answer: `PageError` renders an
//! HTML page, `ApiError` a JSON body `{"error": ..., "fields": [...], "request_id": ...}`.
//! Internal details (the whole error chain) are logged here, once, in the request's span,
//! and never shown: the person sees a generic line and the request id to quote.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde::Serialize;
use std::fmt;

use crate::error::{DomainError, FieldError};

pub fn status_of(e: &DomainError) -> StatusCode {
    match e {
        DomainError::BadRequest(_) => StatusCode::BAD_REQUEST,
        DomainError::Invalid(_) | DomainError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        DomainError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
        DomainError::NotFound => StatusCode::NOT_FOUND,
        DomainError::Conflict(_) => StatusCode::CONFLICT,
        DomainError::Gone(_) => StatusCode::GONE,
        DomainError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        DomainError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        DomainError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a person is told. Internal errors are logged and replaced by a generic line.
pub fn public_message(e: &DomainError) -> String {
    match e {
        DomainError::Internal(detail) => {
            tracing::error!(error = %detail.report(), "internal error");
            "something went wrong on our side; it has been logged. Please try again later, or tell us the request id below".into()
        }
        DomainError::NotFound => "there is nothing here, or you may not see it".into(),
        DomainError::Invalid(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect();
            format!("some fields need attention: {}", parts.join("; "))
        }
        other => other.to_string(),
    }
}

#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: Into<DomainError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

#[derive(Serialize)]
struct ApiErrorBody<'a> {
    error: String,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    fields: &'a [FieldError],
    /// What to quote when asking about this answer (also in the X-Request-Id header).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        let fields: &[FieldError] = match &self.0 {
            DomainError::Invalid(fields) => fields,
            _ => &[],
        };
        let error = match &self.0 {
            DomainError::Invalid(_) => "some fields need attention".to_string(),
            other => public_message(other),
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self.0, DomainError::Unauthorized(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"holdfast\""));
        }
        response.json(ApiErrorBody {
            error,
            fields,
            request_id: super::request_id::current(),
        })
    }
}

#[derive(Debug)]
pub struct PageError(pub DomainError);

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: Into<DomainError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    heading: &'static str,
    message: String,
    request_id: Option<String>,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        status_of(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let DomainError::Unauthorized(_) = self.0 {
            // Pages that need an account send the visitor to sign in.
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/signin"))
                .finish();
        }
        let page = ErrorPage {
            status: status.as_u16(),
            heading: status.canonical_reason().unwrap_or("Error"),
            message: public_message(&self.0),
            request_id: super::request_id::current(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {}", status.as_u16(), page.heading));
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

/// Renders a template into a 200 page (or `status`).
pub fn render<T: Template>(status: StatusCode, template: &T) -> Result<HttpResponse, PageError> {
    let body = template
        .render()
        .map_err(|e| DomainError::internal(format!("template: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
