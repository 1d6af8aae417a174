//! Every change to a draft (its files, its metadata, the standards it claims, a new
//! version) asks for a data standards check of it, inside the transaction that made the
//! change: the request is a [`ValidateDraft`] job, and later changes fold into it while
//! it waits.
//!
//! The check itself is QA's (`qa::validation`, above this module: it reads the draft,
//! runs the standards, keeps the ticket in step). Deposit only asks, through the
//! [`DraftCheck`] port the composition root connects to QA's checker.

use serde::{Deserialize, Serialize};

use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::jobs::{self, Job};

/// The data standards check of one version of a draft.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValidateDraft {
    pub dataset_id: i64,
    pub version_id: i64,
    /// What changed ("files changed", "submission", ...), kept with the run.
    #[serde(default = "some_change")]
    pub reason: String,
}

fn some_change() -> String {
    "change".into()
}

/// Who checks a draft: `qa::validation::Checker`, connected by the composition root.
#[async_trait::async_trait]
pub trait DraftCheck: Send + Sync {
    async fn check(&self, request: ValidateDraft) -> Result<(), DomainError>;
}

impl Job for ValidateDraft {
    const KIND: &'static str = "validate-dataset";
    const MAX_ATTEMPTS: i32 = 5;
    type Context = dyn DraftCheck;

    fn dedupe_key(&self) -> Option<String> {
        Some(dedupe_key(self.version_id))
    }

    async fn run(self, checker: &(dyn DraftCheck + 'static)) -> Result<(), DomainError> {
        checker.check(self).await
    }
}

fn dedupe_key(version_id: i64) -> String {
    format!("validate:{version_id}")
}

/// Asks for a check of a version (inside the caller's transaction).
pub fn request(
    conn: &mut AnyConnection,
    dataset_id: i64,
    version_id: i64,
    reason: &str,
) -> Result<(), DomainError> {
    jobs::enqueue(
        conn,
        &ValidateDraft {
            dataset_id,
            version_id,
            reason: reason.to_string(),
        },
    )?;
    Ok(())
}

/// Whether a check of this version is waiting or under way.
pub fn is_checking(conn: &mut AnyConnection, version_id: i64) -> Result<bool, DomainError> {
    jobs::is_pending(conn, &dedupe_key(version_id))
}
