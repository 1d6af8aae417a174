//! What the rest of the archive asks of the queue about particular jobs, so only this
//! module reads and writes the `jobs` table (the metrics gauges aside: `metrics` is a
//! leaf every domain reports to): the recent jobs of a dedupe key (DOI registration's
//! state), a running job's progress notes (publication), and the claims startup
//! recovery takes on jobs of dead processes.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::JobState;
use crate::db::schema::jobs;
use crate::db::AnyConnection;
use crate::error::DomainError;

/// One job of a dedupe key, as callers outside the queue need it.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyedJob {
    pub id: i64,
    pub state: JobState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub run_after: NaiveDateTime,
    /// What a running job last noted it was doing ([`note_progress`]).
    pub progress: Progress,
}

/// A running job's note of where it is: a phase and a count of `total`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub phase: Option<String>,
    pub done: Option<i64>,
    pub total: Option<i64>,
}

type KeyedRow = (
    i64,
    String,
    i32,
    Option<String>,
    NaiveDateTime,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The newest `limit` jobs of `dedupe_key`, newest first.
pub fn recent_of_key(
    conn: &mut AnyConnection,
    dedupe_key: &str,
    limit: i64,
) -> Result<Vec<KeyedJob>, DomainError> {
    let rows: Vec<KeyedRow> = jobs::table
        .filter(jobs::dedupe_key.eq(dedupe_key))
        .order(jobs::id.desc())
        .limit(limit)
        .select((
            jobs::id,
            jobs::state,
            jobs::attempts,
            jobs::last_error,
            jobs::run_after,
            jobs::progress_phase,
            jobs::progress_done,
            jobs::progress_total,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, state, attempts, last_error, run_after, phase, done, total)| {
                Ok(KeyedJob {
                    id,
                    state: JobState::parse(&state)?,
                    attempts,
                    last_error,
                    run_after,
                    progress: Progress { phase, done, total },
                })
            },
        )
        .collect()
}

/// Notes on the running job of `dedupe_key` what it is doing (nothing when no job of
/// the key runs: the work runs outside the queue, as in the CLI).
pub fn note_progress(
    conn: &mut AnyConnection,
    dedupe_key: &str,
    progress: &Progress,
) -> Result<(), DomainError> {
    diesel::update(
        jobs::table
            .filter(jobs::dedupe_key.eq(dedupe_key))
            .filter(jobs::state.eq(JobState::Running.as_str())),
    )
    .set((
        jobs::progress_phase.eq(&progress.phase),
        jobs::progress_done.eq(progress.done),
        jobs::progress_total.eq(progress.total),
    ))
    .execute(conn)?;
    Ok(())
}

/// Puts back in the queue, due now, every running job whose lease holder `is_dead`
/// says is gone. Returns their ids.
pub fn requeue_abandoned(
    conn: &mut AnyConnection,
    is_dead: impl Fn(&str) -> bool,
) -> Result<Vec<i64>, DomainError> {
    let running: Vec<(i64, Option<String>)> = jobs::table
        .filter(jobs::state.eq(JobState::Running.as_str()))
        .select((jobs::id, jobs::locked_by))
        .load(conn)?;
    let mut requeued = Vec::new();
    for (id, locked_by) in running {
        let Some(holder) = locked_by else { continue };
        if is_dead(&holder) && release(conn, id, &holder)? {
            requeued.push(id);
        }
    }
    Ok(requeued)
}

/// What [`claim_waiting`] found for a dedupe key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// No job of the key is waiting or running: nothing will run this work.
    NoJob,
    /// The waiting job, now held by the claimer until it calls [`release`].
    Claimed(i64),
    /// A job of the key is running under a live lease, or another claimer won.
    Busy,
}

/// Takes the newest waiting job of `dedupe_key` for `holder` for `lease`, without
/// counting an attempt (the job is not run, only held off while `holder` works on what
/// it would touch).
pub fn claim_waiting(
    conn: &mut AnyConnection,
    dedupe_key: &str,
    holder: &str,
    lease: chrono::Duration,
) -> Result<Claim, DomainError> {
    let job: Option<(i64, String, i32)> = jobs::table
        .filter(jobs::dedupe_key.eq(dedupe_key))
        .filter(jobs::state.eq_any(JobState::PENDING))
        .order(jobs::id.desc())
        .select((jobs::id, jobs::state, jobs::attempts))
        .first(conn)
        .optional()?;
    let Some((id, state, attempts)) = job else {
        return Ok(Claim::NoJob);
    };
    if JobState::parse(&state)? == JobState::Running {
        return Ok(Claim::Busy);
    }
    let now = Utc::now().naive_utc();
    let taken = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::state.eq(JobState::Queued.as_str()))
            .filter(jobs::attempts.eq(attempts)),
    )
    .set((
        jobs::state.eq(JobState::Running.as_str()),
        jobs::locked_by.eq(holder),
        jobs::locked_until.eq(now + lease),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(if taken == 1 {
        Claim::Claimed(id)
    } else {
        Claim::Busy
    })
}

/// Gives a running job held by `holder` back to the queue, due now. Returns whether it
/// was still held by `holder`.
pub fn release(conn: &mut AnyConnection, id: i64, holder: &str) -> Result<bool, DomainError> {
    let now = Utc::now().naive_utc();
    let changed = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::state.eq(JobState::Running.as_str()))
            .filter(jobs::locked_by.eq(holder)),
    )
    .set((
        jobs::state.eq(JobState::Queued.as_str()),
        jobs::run_after.eq(now),
        jobs::locked_by.eq(None::<String>),
        jobs::locked_until.eq(None::<NaiveDateTime>),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
