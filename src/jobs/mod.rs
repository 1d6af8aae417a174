//! The durable job queue: work that must not be lost and must not hold up a request
//! (validation, mail delivery, DOI registration, later fixity audits).
//!
//! A job is a row written in the same transaction as the change that needs it, so a
//! crash can never leave a change without its follow-up work. Workers claim a job with
//! a compare-and-set and a lease (`locked_until`); a worker that dies loses its lease
//! and the job runs again, so every handler is idempotent. Failures retry with
//! exponential backoff until `max_attempts`, then the job is kept as `failed`.

pub mod worker;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::jobs;
use crate::db::AnyConnection;
use crate::error::DomainError;

pub use worker::{run_pending_now, Worker};

/// What a job does; stored as its `kind` string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Validate a draft's files against the standards and update its QA ticket.
    ValidateDataset,
    /// Deliver one message of the mail outbox.
    DeliverMail,
    /// Publish an approved dataset (OCFL commit, DOIs, database switch).
    PublishDataset,
    /// Bring one DOI's registration at the DOI provider (DataCite) in step.
    RegisterDoi,
    /// One round of the scheduled fixity audit; it queues the next round itself.
    FixitySweep,
    /// Repair a dataset's damaged stored files from good copies.
    FixityRepair,
    /// One round of replica challenges and the replication policy; it queues the next.
    ReplicaChallenge,
    /// Pull replicas from the replication sources (one, or all on a schedule that
    /// queues its next round itself).
    ReplicatePull,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::ValidateDataset => "validate-dataset",
            JobKind::DeliverMail => "deliver-mail",
            JobKind::PublishDataset => "publish-dataset",
            JobKind::RegisterDoi => "register-doi",
            JobKind::FixitySweep => "fixity-sweep",
            JobKind::FixityRepair => "fixity-repair",
            JobKind::ReplicaChallenge => "replica-challenge",
            JobKind::ReplicatePull => "replicate-pull",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "validate-dataset" => Some(JobKind::ValidateDataset),
            "deliver-mail" => Some(JobKind::DeliverMail),
            "publish-dataset" => Some(JobKind::PublishDataset),
            "register-doi" => Some(JobKind::RegisterDoi),
            "fixity-sweep" => Some(JobKind::FixitySweep),
            "fixity-repair" => Some(JobKind::FixityRepair),
            "replica-challenge" => Some(JobKind::ReplicaChallenge),
            "replicate-pull" => Some(JobKind::ReplicatePull),
            _ => None,
        }
    }

    /// How often a job is tried before it is kept as failed. Mail keeps trying for about
    /// a day (backoff is capped), so an SMTP server that is down for hours delays mail
    /// but never loses it. DOI registration keeps trying for about three weeks (and is
    /// queued again at start after that): DataCite being down delays it, never loses it.
    pub fn max_attempts(self) -> i32 {
        match self {
            JobKind::ValidateDataset => 5,
            JobKind::DeliverMail => 40,
            JobKind::PublishDataset => 10,
            JobKind::RegisterDoi => 500,
            // A failed sweep (database away) is retried; the next round is queued anew.
            JobKind::FixitySweep => 20,
            JobKind::FixityRepair => 5,
            // Like the sweep: a failed round is retried, the next one queued anew.
            JobKind::ReplicaChallenge => 20,
            // A pull records its own failures on the source; a job failure is the
            // database away, retried.
            JobKind::ReplicatePull => 20,
        }
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

/// Adds a job. With a `dedupe_key`, a job of the same key that is still queued (not
/// yet started) covers this one and nothing is added: e.g. ten uploads in a row need
/// one validation run, not ten. A job already running does not count, since it may
/// have read the state before this change.
pub fn enqueue(
    conn: &mut AnyConnection,
    kind: JobKind,
    payload: &serde_json::Value,
    dedupe_key: Option<&str>,
) -> Result<Option<i64>, DomainError> {
    enqueue_at(conn, kind, payload, dedupe_key, Utc::now().naive_utc())
}

/// Queues the next round of a self-scheduling job (the fixity sweep, replica pulls and
/// challenges: empty payload, one waiting round per key) at `at`; called by the round
/// still running.
pub async fn schedule_next_round(
    archive: &crate::app::Archive,
    kind: JobKind,
    key: &'static str,
    at: NaiveDateTime,
) -> Result<(), DomainError> {
    archive
        .db
        .run(move |conn| enqueue_at(conn, kind, &serde_json::json!({}), Some(key), at).map(|_| ()))
        .await
}

/// [`enqueue`], to run no earlier than `run_after` (scheduled work).
pub fn enqueue_at(
    conn: &mut AnyConnection,
    kind: JobKind,
    payload: &serde_json::Value,
    dedupe_key: Option<&str>,
    run_after: NaiveDateTime,
) -> Result<Option<i64>, DomainError> {
    if let Some(key) = dedupe_key {
        let waiting: i64 = jobs::table
            .filter(jobs::dedupe_key.eq(key))
            .filter(jobs::state.eq("queued"))
            .filter(jobs::attempts.eq(0))
            .count()
            .get_result(conn)?;
        if waiting > 0 {
            return Ok(None);
        }
    }
    let now = Utc::now().naive_utc();
    let id = crate::insert_returning_id!(
        conn,
        crate::db::schema::jobs,
        (
            jobs::kind.eq(kind.as_str()),
            jobs::payload.eq(payload.to_string()),
            jobs::dedupe_key.eq(dedupe_key),
            jobs::state.eq("queued"),
            jobs::attempts.eq(0),
            jobs::max_attempts.eq(kind.max_attempts()),
            jobs::run_after.eq(run_after),
            jobs::created_at.eq(now),
            jobs::updated_at.eq(now),
        )
    )?;
    Ok(Some(id))
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
    fn kinds_round_trip() {
        for k in [
            JobKind::ValidateDataset,
            JobKind::DeliverMail,
            JobKind::PublishDataset,
            JobKind::RegisterDoi,
            JobKind::FixitySweep,
            JobKind::FixityRepair,
            JobKind::ReplicaChallenge,
            JobKind::ReplicatePull,
        ] {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("nope"), None);
    }
}
