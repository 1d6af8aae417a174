//! How errors flow in holdfast.
//!
//! - Domain code returns `Result<_, DomainError>`. Each variant says what a user can do
//!   about it: fix a field (`Invalid`), sign in (`Unauthorized`), wait (`Unavailable`,
//!   `TooManyRequests`), and so on. Messages are written for the person who sees them.
//! - `web::errors` maps a `DomainError` to one HTTP answer: an HTML page for pages, JSON
//!   with `error` and `fields` for `/api`. Nothing else decides status codes.
//! - `Internal` is for what a user cannot fix. Its detail is logged once, where the error
//!   is turned into a response, and never shown to the user.
//! - `anyhow` is used only off the request path (start-up, the CLI).

use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem with one input field; `field` names the form field or a DataCite-style
/// JSON path such as `creators[1].nameIdentifiers[0].nameIdentifier` (`""` means the
/// record as a whole).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    BadRequest(String),
    #[error("some fields need attention")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// It existed and was withdrawn on purpose (a deaccessioned dataset's files).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl DomainError {
    pub fn internal(detail: impl fmt::Display) -> Self {
        DomainError::Internal(detail.to_string())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<diesel::result::Error> for DomainError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => DomainError::NotFound,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            ) => DomainError::Conflict(format!(
                "this conflicts with an existing record ({})",
                info.message()
            )),
            other => DomainError::Internal(format!("database: {other}")),
        }
    }
}

impl From<std::io::Error> for DomainError {
    fn from(e: std::io::Error) -> Self {
        DomainError::Internal(format!("i/o: {e}"))
    }
}
