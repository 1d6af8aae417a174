//! How a publication is going: the running job notes its phase and counts, and the
//! dataset's page and the API read them.

use diesel::prelude::*;
use std::time::Duration;

use super::Publisher;
use crate::db::AnyConnection;
use crate::error::DomainError;

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
    use crate::db::schema::jobs;
    type Row = (
        String,
        i32,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    Ok(jobs::table
        .filter(jobs::dedupe_key.eq(publish_key(id)))
        .order(jobs::id.desc())
        .select((
            jobs::state,
            jobs::attempts,
            jobs::last_error,
            jobs::progress_phase,
            jobs::progress_done,
            jobs::progress_total,
        ))
        .first::<Row>(conn)
        .optional()?
        .map(
            |(state, attempts, last_error, phase, done, total)| PublishProgress {
                state,
                attempts,
                last_error,
                phase,
                done,
                total,
            },
        ))
}

/// Notes on the running publication job of dataset `id` what it is doing (nothing
/// when the publication runs outside a job).
fn set_publish_progress(
    conn: &mut AnyConnection,
    id: i64,
    phase: &str,
    done: Option<i64>,
    total: Option<i64>,
) -> Result<(), DomainError> {
    use crate::db::schema::jobs;
    diesel::update(
        jobs::table
            .filter(jobs::dedupe_key.eq(publish_key(id)))
            .filter(jobs::state.eq("running")),
    )
    .set((
        jobs::progress_phase.eq(phase),
        jobs::progress_done.eq(done),
        jobs::progress_total.eq(total),
    ))
    .execute(conn)?;
    Ok(())
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
        .run(move |conn| set_publish_progress(conn, id, phase, done, total))
        .await;
    if let Err(e) = written {
        tracing::warn!(dataset = id, error = %e, "could not note the publication's progress");
    }
}
