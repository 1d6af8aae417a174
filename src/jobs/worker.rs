//! Job workers: claim a ready job, run it, record the outcome.

use chrono::Utc;
use diesel::prelude::*;
use std::time::Duration;

use std::sync::Arc;

use tracing::Instrument;

use super::{backoff, JobRow, JobState, Registry, Waker};
use crate::db::schema::jobs;
use crate::db::Db;
use crate::error::DomainError;

/// How long a claimed job stays ours without a heartbeat; a worker that crashes loses
/// its jobs to others after this.
const LEASE: Duration = Duration::from_secs(300);
/// How often a running job renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(60);
/// How often an idle worker looks for due jobs (retries, other nodes' jobs); jobs
/// enqueued by this process wake it at once.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// What a worker needs: the database, the registry of job kinds, the wake-up signal
/// and the retry backoff. Built once by the composition root.
#[derive(Clone)]
pub struct Runner {
    db: Db,
    registry: Arc<Registry>,
    waker: Waker,
    backoff_base_ms: u64,
}

impl Runner {
    pub fn new(db: Db, registry: Arc<Registry>, waker: Waker, backoff_base_ms: u64) -> Runner {
        Runner {
            db,
            registry,
            waker,
            backoff_base_ms,
        }
    }

    /// Tells this process's workers that a job was just committed.
    pub fn wake(&self) {
        self.waker.wake();
    }

    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl AsRef<Runner> for Runner {
    fn as_ref(&self) -> &Runner {
        self
    }
}

#[derive(Clone)]
pub struct Worker {
    runner: Runner,
    name: String,
}

impl Worker {
    pub fn new(runner: Runner, slot: usize) -> Worker {
        let name = format!("{}:{}:{slot}", crate::node::host_name(), std::process::id());
        Worker { runner, name }
    }

    /// Starts `count` worker loops as tokio tasks (on the caller's runtime: the
    /// process's multi-threaded one, not the web server's).
    pub fn spawn_all(jobs: &impl AsRef<Runner>, count: usize) {
        for slot in 0..count {
            let worker = Worker::new(jobs.as_ref().clone(), slot);
            tokio::spawn(async move { worker.run_forever().await });
        }
    }

    pub async fn run_forever(self) {
        loop {
            match self.run_one().await {
                Ok(true) => continue,
                Ok(false) => {
                    tokio::select! {
                        _ = self.runner.waker.notified() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(worker = %self.name, error = %e, "job worker could not reach the database");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// Claims and runs one due job; false when none was due.
    pub async fn run_one(&self) -> Result<bool, DomainError> {
        let db = &self.runner.db;
        let name = self.name.clone();
        let Some(job) = db.run(move |conn| claim(conn, &name)).await? else {
            return Ok(false);
        };
        let heartbeat = {
            let db = db.clone();
            let (id, name) = (job.id, self.name.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    let name = name.clone();
                    let renewed = db.run(move |conn| renew(conn, id, &name)).await;
                    if let Err(e) = renewed {
                        tracing::warn!(job = id, error = %e, "could not renew a job's lease");
                    }
                }
            })
        };
        crate::crashpoint::hit("job.after-claim");
        let span = job_span(&job);
        let outcome =
            super::schedule::as_job(job.id, self.runner.registry.run(&job.kind, &job.payload))
                .instrument(span.clone())
                .await;
        heartbeat.abort();
        crate::crashpoint::hit("job.before-finish");
        let base_ms = self.runner.backoff_base_ms;
        let name = self.name.clone();
        let kind = job.kind.clone();
        span.in_scope(|| match &outcome {
            Ok(()) => tracing::debug!("job done"),
            Err(e) => {
                tracing::warn!(attempt = job.attempts, error = %e.report(), "job failed")
            }
        });
        crate::metrics::process().job_run(&kind, outcome.is_err());
        let error = outcome.err().map(|e| e.report());
        db.run(move |conn| finish(conn, &job, &name, error, base_ms))
            .await?;
        Ok(true)
    }
}

/// The span a job runs in: every log line of the run carries its kind, id and subject
/// (the dataset, object, ... its payload names).
fn job_span(job: &JobRow) -> tracing::Span {
    let span = tracing::info_span!(
        "job",
        kind = %job.kind,
        job = job.id,
        dataset = tracing::field::Empty,
        subject = tracing::field::Empty,
    );
    if let Ok(serde_json::Value::Object(payload)) = serde_json::from_str(&job.payload) {
        if let Some(dataset) = payload.get("dataset_id").and_then(|v| v.as_i64()) {
            span.record("dataset", dataset);
        }
        let subject = [
            "object_id",
            "version_id",
            "source_id",
            "partner_id",
            "message_id",
        ]
        .iter()
        .find_map(|key| payload.get(*key).map(|v| format!("{key}={v}")));
        if let Some(subject) = subject {
            span.record("subject", subject.as_str());
        }
    }
    span
}

/// Runs due jobs in this task until none is left (used by the CLI and tests).
pub async fn run_pending_now(jobs: &impl AsRef<Runner>) -> Result<usize, DomainError> {
    let worker = Worker::new(jobs.as_ref().clone(), usize::MAX);
    let mut ran = 0;
    while worker.run_one().await? {
        ran += 1;
    }
    Ok(ran)
}

/// Takes the oldest due job (queued and due, or running with an expired lease) with a
/// compare-and-set on its state and attempt count, so two workers (or two nodes) never
/// both take it. Works the same on SQLite and PostgreSQL.
fn claim(conn: &mut crate::db::AnyConnection, worker: &str) -> Result<Option<JobRow>, DomainError> {
    if let crate::db::AnyConnection::Postgresql(pg) = conn {
        return claim_skip_locked(pg, worker);
    }
    let now = Utc::now().naive_utc();
    let due: Vec<JobRow> = jobs::table
        .filter(
            jobs::state
                .eq(JobState::Queued.as_str())
                .and(jobs::run_after.le(now))
                .or(jobs::state
                    .eq(JobState::Running.as_str())
                    .and(jobs::locked_until.lt(now))),
        )
        .order((jobs::run_after.asc(), jobs::id.asc()))
        .limit(8)
        .select(JobRow::as_select())
        .load(conn)?;
    let lease_end = now + chrono::Duration::from_std(LEASE).map_err(DomainError::internal)?;
    for mut job in due {
        let taken = diesel::update(
            jobs::table
                .find(job.id)
                .filter(jobs::state.eq(&job.state))
                .filter(jobs::attempts.eq(job.attempts)),
        )
        .set((
            jobs::state.eq(JobState::Running.as_str()),
            jobs::attempts.eq(job.attempts + 1),
            jobs::locked_by.eq(worker),
            jobs::locked_until.eq(lease_end),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
        if taken == 1 {
            job.attempts += 1;
            job.state = JobState::Running.as_str().into();
            return Ok(Some(job));
        }
    }
    Ok(None)
}

/// PostgreSQL: the oldest due job, locked with `FOR UPDATE SKIP LOCKED` so workers on
/// any number of nodes each take a different job without waiting on one another.
fn claim_skip_locked(
    conn: &mut diesel::PgConnection,
    worker: &str,
) -> Result<Option<JobRow>, DomainError> {
    use diesel::Connection;
    let now = Utc::now().naive_utc();
    let lease_end = now + chrono::Duration::from_std(LEASE).map_err(DomainError::internal)?;
    let claimed = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let job: Option<JobRow> = jobs::table
            .filter(
                jobs::state
                    .eq(JobState::Queued.as_str())
                    .and(jobs::run_after.le(now))
                    .or(jobs::state
                        .eq(JobState::Running.as_str())
                        .and(jobs::locked_until.lt(now))),
            )
            .order((jobs::run_after.asc(), jobs::id.asc()))
            .limit(1)
            .for_update()
            .skip_locked()
            .select(JobRow::as_select())
            .first(conn)
            .optional()?;
        let Some(mut job) = job else { return Ok(None) };
        diesel::update(jobs::table.find(job.id))
            .set((
                jobs::state.eq(JobState::Running.as_str()),
                jobs::attempts.eq(job.attempts + 1),
                jobs::locked_by.eq(worker),
                jobs::locked_until.eq(lease_end),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)?;
        job.attempts += 1;
        job.state = JobState::Running.as_str().into();
        job.locked_by = Some(worker.to_string());
        job.locked_until = Some(lease_end);
        Ok(Some(job))
    })?;
    Ok(claimed)
}

fn renew(conn: &mut crate::db::AnyConnection, id: i64, worker: &str) -> Result<(), DomainError> {
    let until = Utc::now().naive_utc()
        + chrono::Duration::from_std(LEASE).map_err(DomainError::internal)?;
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::state.eq(JobState::Running.as_str()))
            .filter(jobs::locked_by.eq(worker)),
    )
    .set(jobs::locked_until.eq(until))
    .execute(conn)?;
    Ok(())
}

/// Records the outcome, unless the lease was lost meanwhile (another worker owns the
/// job now and will record its own outcome).
fn finish(
    conn: &mut crate::db::AnyConnection,
    job: &JobRow,
    worker: &str,
    error: Option<String>,
    backoff_base_ms: u64,
) -> Result<(), DomainError> {
    let now = Utc::now().naive_utc();
    let mine = jobs::table
        .find(job.id)
        .filter(jobs::state.eq(JobState::Running.as_str()))
        .filter(jobs::locked_by.eq(worker));
    let none: Option<chrono::NaiveDateTime> = None;
    match error {
        None => diesel::update(mine)
            .set((
                jobs::state.eq(JobState::Done.as_str()),
                jobs::locked_by.eq(None::<String>),
                jobs::locked_until.eq(none),
                jobs::last_error.eq(None::<String>),
                jobs::finished_at.eq(Some(now)),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)?,
        Some(message) if job.attempts >= job.max_attempts => {
            tracing::error!(job = job.id, kind = %job.kind, error = %message, "job failed for good");
            diesel::update(mine)
                .set((
                    jobs::state.eq(JobState::Failed.as_str()),
                    jobs::locked_by.eq(None::<String>),
                    jobs::locked_until.eq(none),
                    jobs::last_error.eq(Some(message)),
                    jobs::finished_at.eq(Some(now)),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)?
        }
        Some(message) => diesel::update(mine)
            .set((
                jobs::state.eq(JobState::Queued.as_str()),
                jobs::run_after.eq(now + backoff(backoff_base_ms, job.attempts - 1)),
                jobs::locked_by.eq(None::<String>),
                jobs::locked_until.eq(none),
                jobs::last_error.eq(Some(message)),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(())
}
