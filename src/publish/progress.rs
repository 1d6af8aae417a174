//! How a publication is going: the running job notes its phase and counts, and the
//! dataset's page and the API read them.

use std::time::Duration;

use super::Publisher;
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::jobs::history;

/// How often the publication job notes how many files it has copied.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_millis(500);

pub(crate) fn publish_key(id: i64) -> String {
    format!("publish:{id}")
}

/// How the publication of an approved dataset is going, for its page and the API.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PublishProgress {
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// What the running job is doing: `preparing`, `copying` (files into storage),
    /// `recording` (files in the database) or `finishing`; None before it starts.
    pub phase: Option<String>,
    /// Files done in this phase, of `total`.
    pub done: Option<i64>,
    pub total: Option<i64>,
}

impl PublishProgress {
    /// "copying files into storage: 1,200 of 100,000", for the page.
    pub fn describe(&self) -> Option<String> {
        let label = match self.phase.as_deref()? {
            PHASE_PREPARING => "preparing",
            PHASE_COPYING => "copying files into storage",
            PHASE_RECORDING => "recording files",
            PHASE_FINISHING => "finishing",
            other => other,
        };
        Some(match (self.done, self.total) {
            (Some(done), Some(total)) => format!("{label}: {done} of {total} files"),
            _ => label.to_string(),
        })
    }
}

pub const PHASE_PREPARING: &str = "preparing";
pub const PHASE_COPYING: &str = "copying";
pub const PHASE_RECORDING: &str = "recording";
pub const PHASE_FINISHING: &str = "finishing";

pub fn publish_progress(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<PublishProgress>, DomainError> {
    let latest = history::recent_of_key(conn, &publish_key(id), 1)?;
    Ok(latest.into_iter().next().map(|job| PublishProgress {
        state: job.state.as_str().to_string(),
        attempts: job.attempts,
        last_error: job.last_error,
        phase: job.progress.phase,
        done: job.progress.done,
        total: job.progress.total,
    }))
}

pub(super) async fn report_progress(
    publisher: &Publisher,
    id: i64,
    phase: &'static str,
    done: Option<i64>,
    total: Option<i64>,
) {
    let written = publisher
        .db
        .run(move |conn| {
            let progress = history::Progress {
                phase: Some(phase.to_string()),
                done,
                total,
            };
            history::note_progress(conn, &publish_key(id), &progress)
        })
        .await;
    if let Err(e) = written {
        tracing::warn!(dataset = id, error = %e, "could not note the publication's progress");
    }
}
