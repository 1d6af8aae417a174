//! Who registers DOIs: one interface, two providers.
//!
//! - [`LocalRegistrar`]: the archive's own `dois` table is the registry. Changes take
//!   effect in the same transaction that asks for them, so a fresh install publishes end
//!   to end with no outside service.
//! - [`super::datacite::DataciteClient`]: DataCite's REST API (JSON:API `/dois`), called
//!   only from `register-doi` jobs.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::{DoiEvent, DoiState};
use crate::config::{DoiProviderKind, Settings};

/// What the archive wants the registration agency to hold for one DOI.
#[derive(Clone, Debug)]
pub struct DoiChange {
    pub doi: String,
    /// The state the DOI must end in.
    pub target: DoiState,
    /// Its state at the agency as far as the archive knows (None: not there yet). The
    /// provider checks and recovers when this is out of date (an answer lost on the way).
    pub known: Option<DoiState>,
    /// The landing page the DOI resolves to. Required by DataCite to leave draft.
    pub url: Option<String>,
    /// DataCite XML (kernel 4.6) of the record; None for a bare draft reservation.
    pub xml: Option<String>,
}

impl DoiChange {
    /// `10.1234` of `10.1234/abcd-efgh`.
    pub fn prefix(&self) -> &str {
        self.doi.split_once('/').map(|(p, _)| p).unwrap_or("")
    }

    pub fn suffix(&self) -> &str {
        self.doi.split_once('/').map(|(_, s)| s).unwrap_or("")
    }

    /// The state-changing event from `from` to the target, or a refusal.
    pub fn event_from(&self, from: Option<DoiState>) -> Result<Option<DoiEvent>, ProviderError> {
        self.target
            .event_from(from)
            .map_err(|e| ProviderError::Rejected {
                status: 422,
                message: e.to_string(),
            })
    }
}

/// What went wrong talking to the agency. Every kind is retried by the job queue; the
/// message is what the dataset page shows as the last failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderError {
    /// No answer, a timeout, or a 5xx/429: the agency is down or busy.
    Unavailable(String),
    /// The DOI does not exist at the agency (update or delete of an unknown DOI).
    NotFound,
    /// Creating a DOI the agency already holds.
    AlreadyExists,
    /// Any other refusal: bad credentials (401/403), metadata refused (422), ...
    Rejected { status: u16, message: String },
    /// The agency answered something this archive cannot read.
    BadAnswer(String),
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderError::Unavailable(m) => {
                write!(f, "the DOI registration agency is unavailable: {m}")
            }
            ProviderError::NotFound => {
                f.write_str("the DOI registration agency does not know this DOI")
            }
            ProviderError::AlreadyExists => {
                f.write_str("the DOI registration agency already holds this DOI")
            }
            ProviderError::Rejected { status, message } => {
                write!(
                    f,
                    "the DOI registration agency refused the request ({status}): {message}"
                )
            }
            ProviderError::BadAnswer(m) => {
                write!(
                    f,
                    "the DOI registration agency's answer could not be read: {m}"
                )
            }
        }
    }
}

impl std::error::Error for ProviderError {}

/// A DOI registration agency.
#[async_trait]
pub trait DoiProvider: Send + Sync {
    /// `local` or `datacite`, for logs and pages.
    fn name(&self) -> &'static str;

    /// Brings the DOI to `change.target` at the agency with the given URL and metadata:
    /// creates it when needed, sends the event that moves it, or updates its metadata
    /// when it is already there. Returns the state the agency now reports.
    async fn register(&self, change: &DoiChange) -> Result<DoiState, ProviderError>;

    /// Deletes a draft DOI (`known` is its state as far as the archive knows). Findable
    /// and registered DOIs are never deleted. A DOI the agency does not hold is gone
    /// already, which is no error.
    async fn delete(&self, doi: &str, known: Option<DoiState>) -> Result<(), ProviderError>;
}

/// The local registrar: the `dois` table is the registry, so a request only has to
/// follow DataCite's state machine; the registration code writes the table.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalRegistrar;

#[async_trait]
impl DoiProvider for LocalRegistrar {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn register(&self, change: &DoiChange) -> Result<DoiState, ProviderError> {
        change.event_from(change.known)?;
        Ok(change.target)
    }

    async fn delete(&self, _doi: &str, known: Option<DoiState>) -> Result<(), ProviderError> {
        match known {
            None | Some(DoiState::Draft) => Ok(()),
            Some(other) => Err(ProviderError::Rejected {
                status: 405,
                message: format!("a {} DOI cannot be deleted", other.as_str()),
            }),
        }
    }
}

/// The provider the settings name.
pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn DoiProvider>> {
    match (settings.doi_provider, &settings.datacite) {
        (DoiProviderKind::Local, _) => Ok(Arc::new(LocalRegistrar)),
        (DoiProviderKind::Datacite, Some(dc)) => Ok(Arc::new(
            super::datacite::DataciteClient::new(dc, &settings.base_url)?,
        )),
        (DoiProviderKind::Datacite, None) => {
            anyhow::bail!("HOLDFAST_DOI_PROVIDER=datacite needs the DataCite settings")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(target: DoiState, known: Option<DoiState>) -> DoiChange {
        DoiChange {
            doi: "10.5072/abcd-efgh".into(),
            target,
            known,
            url: Some("https://archive.example/datasets/1".into()),
            xml: None,
        }
    }

    #[actix_web::test]
    async fn the_local_registrar_follows_datacite_states() {
        use DoiState::*;
        let local = LocalRegistrar;
        assert_eq!(local.register(&change(Draft, None)).await, Ok(Draft));
        assert_eq!(local.register(&change(Findable, None)).await, Ok(Findable));
        assert_eq!(
            local.register(&change(Registered, Some(Findable))).await,
            Ok(Registered)
        );
        assert_eq!(
            local.register(&change(Findable, Some(Findable))).await,
            Ok(Findable)
        );
        assert!(local
            .register(&change(Draft, Some(Findable)))
            .await
            .is_err());
        assert!(local.delete("10.5072/x", Some(Draft)).await.is_ok());
        assert!(local.delete("10.5072/x", Some(Findable)).await.is_err());
        let c = change(Draft, None);
        assert_eq!((c.prefix(), c.suffix()), ("10.5072", "abcd-efgh"));
    }
}
