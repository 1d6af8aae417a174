//! The durable job queue: work that must not be lost and must not hold up a request
//! (validation, mail delivery, publication, DOI registration, fixity audits, replicas).
//!
//! A job is a row written in the same transaction as the change that needs it, so a
//! crash can never leave a change without its follow-up work. Workers claim a job with
//! a compare-and-set and a lease (`locked_until`); a worker that dies loses its lease
//! and the job runs again, so every job is idempotent. Failures retry with exponential
//! backoff until the job's `MAX_ATTEMPTS`, then the job is kept as `failed`.
//!
//! **How a job is added**: a payload struct (serde) in the module that does the work,
//! `impl Job` for it (its `KIND`, `MAX_ATTEMPTS`, the `Context` it runs with and
//! `run`), and one line in the composition root (`app.rs`) registering it with its
//! context. This module knows no domain: it stores, claims, runs and schedules jobs
//! through the [`Job`] trait and the [`Registry`] the composition root builds.
//!
//! Self-scheduling jobs (the fixity sweep, replica pulls and challenges) queue their
//! next round with [`ensure_scheduled`], which takes the node lock so two nodes never
//! queue the same round.

pub mod history;
pub mod registry;
pub mod schedule;
pub mod worker;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;

use crate::db::schema::jobs;
use crate::db::AnyConnection;
use crate::error::DomainError;

pub use registry::Registry;
pub use schedule::ensure_scheduled;
pub use worker::{run_pending_now, Runner, Worker};

/// One kind of background work. The struct is the job's payload, stored as JSON.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stored in `jobs.kind`; never change it once jobs of the kind may be queued.
    const KIND: &'static str;
    /// How often the job is tried before it is kept as failed.
    const MAX_ATTEMPTS: i32;
    /// What the job runs with (handles the composition root hands in: database,
    /// stores, settings, ...).
    type Context: ?Sized + Send + Sync + 'static;

    /// A job of the same key still waiting covers this one (ten uploads in a row need
    /// one validation run); None: every job runs.
    fn dedupe_key(&self) -> Option<String> {
        None
    }

    /// Does the work. Idempotent: a job cut short runs again from the start.
    fn run(self, ctx: &Self::Context) -> impl Future<Output = Result<(), DomainError>> + Send;
}

/// Where a job is in its life: `queued` (waiting, or waiting to be tried again),
/// `running` (held under a lease), `done`, or `failed` (given up after its attempts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    /// States of a job that will still run.
    pub const PENDING: [&'static str; 2] = ["queued", "running"];

    /// The stored text, in `jobs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<JobState, DomainError> {
        Ok(match text {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            other => {
                return Err(DomainError::internal(format!(
                    "unknown job state {other:?}"
                )))
            }
        })
    }
}

/// Wakes this process's workers when a request commits a job, so it starts at once
/// rather than at the next poll.
#[derive(Clone, Default)]
pub struct Waker(Arc<tokio::sync::Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_waiters();
        self.0.notify_one();
    }

    async fn notified(&self) {
        self.0.notified().await
    }
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub dedupe_key: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: NaiveDateTime,
    pub locked_by: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

/// Adds a job, due now, inside the caller's transaction. With a dedupe key, a job of
/// the same key that is still queued (not yet started) covers this one and nothing is
/// added. A job already running does not count, since it may have read the state
/// before this change. Returns the new job's id.
pub fn enqueue<J: Job>(conn: &mut AnyConnection, job: &J) -> Result<Option<i64>, DomainError> {
    enqueue_at(conn, job, Utc::now().naive_utc())
}

/// [`enqueue`], to run no earlier than `run_after` (scheduled work).
pub fn enqueue_at<J: Job>(
    conn: &mut AnyConnection,
    job: &J,
    run_after: NaiveDateTime,
) -> Result<Option<i64>, DomainError> {
    let dedupe_key = job.dedupe_key();
    if let Some(key) = &dedupe_key {
        let waiting: i64 = jobs::table
            .filter(jobs::dedupe_key.eq(key))
            .filter(jobs::state.eq(JobState::Queued.as_str()))
            .filter(jobs::attempts.eq(0))
            .count()
            .get_result(conn)?;
        if waiting > 0 {
            return Ok(None);
        }
    }
    let payload = serde_json::to_string(job)
        .map_err(|e| DomainError::internal(format!("{} payload: {e}", J::KIND)))?;
    let now = Utc::now().naive_utc();
    let id = crate::insert_returning_id!(
        conn,
        crate::db::schema::jobs,
        (
            jobs::kind.eq(J::KIND),
            jobs::payload.eq(payload),
            jobs::dedupe_key.eq(dedupe_key),
            jobs::state.eq(JobState::Queued.as_str()),
            jobs::attempts.eq(0),
            jobs::max_attempts.eq(J::MAX_ATTEMPTS),
            jobs::run_after.eq(run_after),
            jobs::created_at.eq(now),
            jobs::updated_at.eq(now),
        )
    )?;
    Ok(Some(id))
}

/// Whether a job of this dedupe key is waiting or under way.
pub fn is_pending(conn: &mut AnyConnection, dedupe_key: &str) -> Result<bool, DomainError> {
    let pending: i64 = jobs::table
        .filter(jobs::dedupe_key.eq(dedupe_key))
        .filter(jobs::state.eq_any(JobState::PENDING))
        .count()
        .get_result(conn)?;
    Ok(pending > 0)
}

/// Counts of jobs by state, for the admin page and health checks.
pub fn counts(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, DomainError> {
    Ok(jobs::table
        .group_by(jobs::state)
        .select((jobs::state, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Waiting time before attempt `attempts + 1`: base × 2^attempts, capped at an hour.
pub fn backoff(base_ms: u64, attempts: i32) -> chrono::Duration {
    let exp = attempts.clamp(0, 20) as u32;
    let ms = base_ms.saturating_mul(1u64 << exp).min(3_600_000);
    chrono::Duration::milliseconds(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1000, 0).num_milliseconds(), 1000);
        assert_eq!(backoff(1000, 3).num_milliseconds(), 8000);
        assert_eq!(backoff(1000, 30).num_milliseconds(), 3_600_000);
        assert_eq!(backoff(u64::MAX, 5).num_milliseconds(), 3_600_000);
    }

    #[test]
    fn job_states_read_back_what_they_store() {
        for state in [
            JobState::Queued,
            JobState::Running,
            JobState::Done,
            JobState::Failed,
        ] {
            assert_eq!(JobState::parse(state.as_str()).ok(), Some(state));
        }
        assert!(JobState::parse("paused").is_err());
        for pending in JobState::PENDING {
            let state = JobState::parse(pending).ok();
            assert!(matches!(state, Some(JobState::Queued | JobState::Running)));
        }
    }
}
