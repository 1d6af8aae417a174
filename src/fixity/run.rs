//! Audit passes: the scheduled sweep (a job that re-enqueues itself) and runs asked for
//! from the command line. Both read the register in pages, hash on worker threads and
//! record each page in one transaction, so a pass stopped anywhere resumes from the
//! register's `last_checked_at`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;

use super::audit::{self, CheckResult, Kind, Outcome, Throttle};
use super::files::{self, Selection, StoredFileRow};
use super::record;
use super::Fixity;
use crate::db::schema::stored_files;
use crate::error::{DomainError, ErrorContext};
use crate::jobs::Job;

/// Files read per page: enough to keep the threads busy, small enough that a page's
/// transaction is short.
const PAGE: i64 = 1000;
/// Longest a sweep works before handing its worker back (it continues in a new job).
const SWEEP_SLICE: Duration = Duration::from_secs(60);
const SWEEP_KEY: &str = "fixity-sweep";

/// How a pass runs.
pub struct RunOptions {
    pub threads: usize,
    pub max_bytes_per_sec: Option<u64>,
    /// `fixity_runs.run_kind`: "schedule", "cli", "download".
    pub run_kind: &'static str,
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
    pub failures: Vec<CheckResult>,
    pub newly_damaged: Vec<i64>,
    pub elapsed: Duration,
}

/// Audits a page of register rows and records the results: hashing on blocking threads,
/// then, for each object whose root inventory is in the page, a listing of the object
/// for files nothing accounts for.
pub async fn audit_rows(
    fixity: &Fixity,
    rows: &[StoredFileRow],
    threads: usize,
    throttle: &Arc<Throttle>,
    on_bytes: &Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<(Vec<CheckResult>, record::Recorded), DomainError> {
    let targets: Vec<audit::Target> = rows.iter().map(|r| r.target(&fixity.ocfl)).collect();
    let roots: Vec<audit::Target> = targets
        .iter()
        .filter(|t| t.kind == Kind::Inventory && t.content_path == "inventory.json")
        .cloned()
        .collect();
    let store = fixity.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let throttle_for_pool = throttle.clone();
    let report = on_bytes.clone();
    let mut results = tokio::task::spawn_blocking(move || {
        audit::check_all(
            &store,
            &runtime,
            &targets,
            threads,
            &throttle_for_pool,
            &|n| report(n),
        )
    })
    .await
    .context("the fixity audit task")?;
    for root in roots {
        let object_id = root.object_id.clone();
        let expected: HashSet<String> = fixity
            .db
            .run(move |conn| {
                Ok(stored_files::table
                    .filter(stored_files::object_id.eq(&object_id))
                    .select(stored_files::content_path)
                    .load::<String>(conn)?
                    .into_iter()
                    .collect())
            })
            .await?;
        let extra = audit::unexpected_files(fixity.store.as_ref(), &root.object_root, &expected)
            .await
            .with_context(|| format!("listing the files under {}", root.object_root))?;
        for rel in extra {
            let size = fixity
                .store
                .size(&format!("{}/{rel}", root.object_root))
                .await
                .ok()
                .flatten();
            results.push(audit::extra_file(
                root.dataset_id,
                &root.object_id,
                &rel,
                size,
            ));
        }
    }
    let settings = fixity.settings.clone();
    let to_record = results.clone();
    let recorded = fixity
        .db
        .run(move |conn| record::record(conn, &settings, &to_record))
        .await?;
    if !recorded.newly_damaged.is_empty() {
        if fixity.settings.fixity.auto_repair {
            let ids = recorded.newly_damaged.clone();
            fixity
                .db
                .transaction(move |conn| {
                    for id in &ids {
                        super::repair::enqueue(conn, *id)?;
                    }
                    Ok(())
                })
                .await?;
        }
        fixity.waker.wake();
    }
    Ok((results, recorded))
}

fn absorb(summary: &mut Summary, results: Vec<CheckResult>, recorded: record::Recorded) {
    summary.files += results
        .iter()
        .filter(|r| r.stored_file_id.is_some())
        .count();
    summary.bytes += results.iter().filter_map(|r| r.found_size).sum::<u64>();
    summary
        .failures
        .extend(results.into_iter().filter(|r| r.outcome != Outcome::Ok));
    summary.newly_damaged.extend(recorded.newly_damaged);
}

/// Audits a selection now, page by page (the command line's `fixity run`).
pub async fn run_selection(
    fixity: &Fixity,
    selection: Selection,
    options: &RunOptions,
    on_bytes: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<Summary, DomainError> {
    let started = Instant::now();
    let started_at = Utc::now().naive_utc();
    let throttle = Arc::new(Throttle::new(options.max_bytes_per_sec));
    let mut summary = Summary::default();
    let mut after = 0;
    loop {
        let sel = selection.clone();
        let rows = fixity
            .db
            .run(move |conn| files::page(conn, &sel, after, PAGE))
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let (results, recorded) =
            audit_rows(fixity, &rows, options.threads, &throttle, &on_bytes).await?;
        absorb(&mut summary, results, recorded);
    }
    summary.elapsed = started.elapsed();
    finish_run(fixity, options.run_kind, started_at, &summary).await?;
    Ok(summary)
}

async fn finish_run(
    fixity: &Fixity,
    run_kind: &'static str,
    started_at: chrono::NaiveDateTime,
    summary: &Summary,
) -> Result<(), DomainError> {
    if summary.files == 0 {
        return Ok(());
    }
    let (files, bytes, failures, busy) = (
        summary.files,
        summary.bytes,
        summary.failures.len(),
        summary.elapsed,
    );
    fixity
        .db
        .run(move |conn| {
            record::record_run(conn, run_kind, started_at, files, bytes, failures, busy)
        })
        .await
}

/// Audits some files of a dataset at once (a download found bytes that do not match).
pub async fn audit_paths(fixity: &Fixity, dataset_id: i64, content_paths: Vec<String>) {
    let rows = fixity
        .db
        .run(move |conn| {
            Ok(stored_files::table
                .filter(stored_files::dataset_id.eq(dataset_id))
                .filter(stored_files::content_path.eq_any(&content_paths))
                .select(StoredFileRow::as_select())
                .load::<StoredFileRow>(conn)?)
        })
        .await;
    let throttle = Arc::new(Throttle::new(None));
    let nothing: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(|_| {});
    let outcome = match rows {
        Ok(rows) => audit_rows(fixity, &rows, 1, &throttle, &nothing)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        tracing::error!(dataset = dataset_id, error = %e, "could not audit a file that failed verification during a download");
    }
}

/// How many bytes a sweep should verify now: everything overdue (not verified within the
/// cycle), and at least the share of the whole register one interval of the cycle
/// stands for, so the work is spread evenly over the cycle.
pub fn sweep_budget(
    total_bytes: u64,
    overdue_bytes: u64,
    interval: Duration,
    cycle: Duration,
) -> u64 {
    let share = (total_bytes as f64 * interval.as_secs_f64() / cycle.as_secs_f64().max(1.0)).ceil();
    overdue_bytes.max(share as u64).max(1)
}

/// One round of the scheduled audit sweep. Every node queues the first at start (with
/// [`crate::jobs::ensure_scheduled`]); each round queues the next.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FixitySweep {}

impl Job for FixitySweep {
    const KIND: &'static str = "fixity-sweep";
    /// A failed sweep (database away) is retried; the next round is queued anew.
    const MAX_ATTEMPTS: i32 = 20;
    type Context = Fixity;

    fn dedupe_key(&self) -> Option<String> {
        Some(SWEEP_KEY.to_string())
    }

    async fn run(self, fixity: &Fixity) -> Result<(), DomainError> {
        sweep(fixity).await
    }
}

/// The scheduled sweep: verifies the least recently checked files up to its budget
/// (within a time slice), records them, and queues the next round: at once when overdue
/// work is left, else after the interval.
async fn sweep(fixity: &Fixity) -> Result<(), DomainError> {
    let settings = fixity.settings.fixity.clone();
    let cycle = settings
        .cycle
        .to_std()
        .unwrap_or(Duration::from_secs(30 * 86_400));
    let started = Instant::now();
    let started_at = Utc::now().naive_utc();
    let overdue_before = started_at - settings.cycle;
    let (total, overdue) = fixity
        .db
        .run(move |conn| {
            Ok((
                files::totals(conn, &Selection::All)?,
                files::totals(conn, &Selection::CheckedBefore(overdue_before))?,
            ))
        })
        .await?;
    let mut budget = sweep_budget(
        total.1.max(0) as u64,
        overdue.1.max(0) as u64,
        settings.interval,
        cycle,
    );
    let throttle = Arc::new(Throttle::new(settings.max_bytes_per_sec));
    let nothing: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(|_| {});
    let mut summary = Summary::default();
    let mut out_of_time = false;
    while budget > 0 && total.0 > 0 {
        if started.elapsed() >= SWEEP_SLICE {
            out_of_time = true;
            break;
        }
        // Take files until the page covers the budget (at least one file).
        let rows = fixity
            .db
            .run(move |conn| files::least_recently_checked(conn, PAGE))
            .await?;
        let mut page = Vec::new();
        let mut bytes = 0u64;
        for r in rows {
            if r.last_checked_at >= started_at || (!page.is_empty() && bytes >= budget) {
                break; // already verified in this sweep, or the budget is covered
            }
            bytes += r.size.max(0) as u64;
            page.push(r);
        }
        if page.is_empty() {
            break;
        }
        budget = budget.saturating_sub(bytes);
        let (results, recorded) =
            audit_rows(fixity, &page, settings.threads, &throttle, &nothing).await?;
        absorb(&mut summary, results, recorded);
    }
    summary.elapsed = started.elapsed();
    finish_run(fixity, "schedule", started_at, &summary).await?;
    let next = if out_of_time {
        Utc::now().naive_utc()
    } else {
        Utc::now().naive_utc()
            + chrono::Duration::from_std(settings.interval).map_err(DomainError::internal)?
    };
    crate::jobs::ensure_scheduled(&fixity.db, FixitySweep {}, next).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_spreads_the_register_over_the_cycle_and_catches_up_on_overdue_files() {
        let day = Duration::from_secs(86_400);
        let minute = Duration::from_secs(60);
        // 30 days of one-minute sweeps cover 43,200 shares of the register.
        assert_eq!(sweep_budget(43_200_000, 0, minute, 30 * day), 1_000);
        assert_eq!(
            sweep_budget(43_200_000, 5_000_000, minute, 30 * day),
            5_000_000
        );
        assert_eq!(sweep_budget(0, 0, minute, 30 * day), 1);
        assert_eq!(sweep_budget(10, 0, day, day), 10);
    }
}
