//! How errors flow in holdfast.
//!
//! - Domain code returns `Result<_, DomainError>`. Each variant says what a user can do
//!   about it: fix a field (`Invalid`), sign in (`Unauthorized`), wait (`Unavailable`,
//!   `TooManyRequests`), and so on. Messages are written for the person who sees them.
//! - `web::errors` maps a `DomainError` to one HTTP answer: an HTML page for pages, JSON
//!   with `error` and `fields` for `/api`. Nothing else decides status codes.
//! - `Internal` is for what a user cannot fix. It keeps what was being done (the path,
//!   the object) and the error that stopped it with that error's own causes
//!   ([`ErrorContext::context`]); the whole chain is logged once, where the error is turned
//!   into a response, with the request id, and never shown to the user.
//! - A unique-key violation is a `Conflict` with a plain sentence; the database's own text
//!   goes to the log only.
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
    Internal(#[source] InternalError),
}

/// A failure a user cannot fix: what was being done, and the error that stopped it.
#[derive(Debug)]
pub struct InternalError {
    context: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl InternalError {
    pub fn new(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        InternalError {
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// A failure found by holdfast itself (no underlying error).
    pub fn message(context: impl Into<String>) -> Self {
        InternalError {
            context: context.into(),
            source: None,
        }
    }

    /// The whole chain on one line, for logs and operators: `context: cause: its cause`.
    pub fn report(&self) -> String {
        let mut out = self.context.clone();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
}

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl std::error::Error for InternalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Adds what was being done to an error from outside holdfast (I/O, storage, database,
/// serialisation), keeping that error as the source: `.context("reading the manifest")`,
/// `.with_context(|| format!("opening {}", path.display()))`.
pub trait ErrorContext<T> {
    fn context(self, doing: impl Into<String>) -> Result<T, DomainError>;
    fn with_context<S: Into<String>>(self, doing: impl FnOnce() -> S) -> Result<T, DomainError>;
}

impl<T, E> ErrorContext<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn context(self, doing: impl Into<String>) -> Result<T, DomainError> {
        self.map_err(|e| DomainError::Internal(InternalError::new(doing, e)))
    }

    fn with_context<S: Into<String>>(self, doing: impl FnOnce() -> S) -> Result<T, DomainError> {
        self.map_err(|e| DomainError::Internal(InternalError::new(doing(), e)))
    }
}

impl DomainError {
    /// The error for a log line or an operator: an internal error's whole chain, or
    /// what a user is told.
    pub fn report(&self) -> String {
        match self {
            DomainError::Internal(detail) => detail.report(),
            other => other.to_string(),
        }
    }

    /// An internal failure described by a sentence (prefer [`ErrorContext`] where an
    /// underlying error exists, so its causes are kept).
    pub fn internal(detail: impl fmt::Display) -> Self {
        DomainError::Internal(InternalError::message(detail.to_string()))
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
            ) => {
                // Check-then-insert code paths meet this only when another request
                // wrote the same record in between; the database's words stay in the log.
                tracing::info!(
                    table = info.table_name().unwrap_or("?"),
                    constraint = info.constraint_name().unwrap_or("?"),
                    detail = info.message(),
                    "unique-key violation answered as a conflict"
                );
                DomainError::Conflict(UNIQUE_CONFLICT.into())
            }
            other => DomainError::Internal(InternalError::new("database", other)),
        }
    }
}

/// What a person is told when a record they create already exists.
pub const UNIQUE_CONFLICT: &str = "this already exists: another request made the same record a moment ago. Reload the page to see it, and try again if it is still needed";

impl From<std::io::Error> for DomainError {
    fn from(e: std::io::Error) -> Self {
        DomainError::Internal(InternalError::new("i/o", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_keeps_what_was_done_and_its_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let failed: Result<(), _> = Err(io);
        let Err(e) = failed.context("reading /data/staging/x.blob") else {
            panic!("an error stays an error");
        };
        assert_eq!(e.to_string(), "internal error", "users see no detail");
        assert_eq!(e.report(), "reading /data/staging/x.blob: no such file");
        let source = std::error::Error::source(&e).expect("the context is the source");
        assert!(source.source().is_some(), "the i/o error is kept");
    }
}
