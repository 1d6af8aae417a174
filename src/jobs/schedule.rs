//! Self-scheduling jobs (the fixity sweep, replica pulls, replica challenges): each
//! round queues the next, and every node queues the first at start. One rule for all of
//! them: queue the round unless one is pending, under the node lock.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Job;
use crate::db::schema::jobs;
use crate::db::{AnyConnection, Db};
use crate::error::DomainError;

/// The PostgreSQL advisory lock that makes "is a round pending? if not, queue one" one
/// step across nodes (any fixed number; this one spells "fixity", the first job that
/// took it).
const SCHEDULE_LOCK: i64 = 0x0000_6669_7869_7479;

tokio::task_local! {
    /// The id of the job this task is running (set by the worker around `Job::run`).
    static CURRENT_JOB: i64;
}

/// Runs `work` as job `id`: a round that schedules its successor does not count itself
/// as the pending round.
pub(super) async fn as_job<F: std::future::Future>(id: i64, work: F) -> F::Output {
    CURRENT_JOB.scope(id, work).await
}

/// Queues `job` (a round of a self-scheduling job; its dedupe key names the schedule)
/// to run at `run_after`, unless a round of it is pending: queued, or running other
/// than the round calling this. Nodes starting together, or a round finishing while
/// another node starts, queue one round between them: the check and the insert run in
/// one transaction holding the write lock (SQLite) or an advisory lock (PostgreSQL).
/// Returns whether a round was queued.
pub async fn ensure_scheduled<J: Job>(
    db: &Db,
    job: J,
    run_after: NaiveDateTime,
) -> Result<bool, DomainError> {
    let me = CURRENT_JOB.try_with(|id| *id).ok();
    db.run(move |conn| ensure_scheduled_in(conn, &job, run_after, me))
        .await
}

fn ensure_scheduled_in<J: Job>(
    conn: &mut AnyConnection,
    job: &J,
    run_after: NaiveDateTime,
    me: Option<i64>,
) -> Result<bool, DomainError> {
    let key = job.dedupe_key().ok_or_else(|| {
        DomainError::internal(format!("scheduled job {} has no dedupe key", J::KIND))
    })?;
    crate::db::transaction(conn, |conn| {
        crate::db::lock_for_transaction(conn, SCHEDULE_LOCK)?;
        let pending: i64 = jobs::table
            .filter(jobs::kind.eq(J::KIND))
            .filter(jobs::dedupe_key.eq(&key))
            .filter(jobs::state.eq_any(super::JobState::PENDING))
            .filter(jobs::id.ne(me.unwrap_or(-1)))
            .count()
            .get_result(conn)?;
        if pending > 0 {
            return Ok(false);
        }
        Ok(super::enqueue_at(conn, job, run_after)?.is_some())
    })
}
