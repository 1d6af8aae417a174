//! Startup recovery: what a crash (SIGKILL, power loss) can leave behind, found and
//! cleaned when holdfast starts, so storage is valid and interrupted work resumes by
//! itself.
//!
//! - Temp files of atomic storage writes (`<data>/ocfl.tmp`, and the health probe in
//!   the OCFL root) whose writing process is dead.
//! - Jobs still `running` under the lease of a dead process of this host: queued
//!   again at once, so an interrupted publication finishes right after the restart
//!   instead of after the lease runs out.
//! - OCFL objects of publications in flight (dataset `approved`): brought back to their
//!   last committed version (`OcflRoot::recover_object`), which removes an incomplete
//!   version directory and repairs a root inventory whose sidecar lags, and never
//!   deletes a byte a committed version refers to. The publication job is claimed
//!   while this runs, so no live worker (of this or another node) commits meanwhile.
//!
//! Staging leftovers (`.part-*` files, staged blobs no draft refers to) are cleaned by
//! the composition root (`Archive::open`) (`Staging::cleanup_leftovers`, `sweep_unreferenced_blobs`).

use diesel::prelude::*;
use std::path::Path;

use crate::config::Settings;
use crate::db::schema::datasets;
use crate::db::{AnyConnection, Db};
use crate::error::DomainError;
use crate::jobs::{self, history::Claim};
use crate::storage::{LocalDiskStore, OcflRoot};

/// Temp files without a writer pid in their name (older releases) are removed only
/// when older than this, as staging does.
const UNKNOWN_WRITER_AGE: std::time::Duration = std::time::Duration::from_secs(3600);
/// Temporary copies of stored objects (DATA_DIR/tmp) live as long as one check or
/// repair; older ones were left by a crash. Younger ones may belong to a command
/// running beside the server, so they are left alone.
const STALE_TEMP_COPY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// Removes the files and folders directly in `dir` last changed longer than `age` ago.
fn remove_old_entries(dir: &Path, age: std::time::Duration) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if !meta.modified()?.elapsed().is_ok_and(|a| a > age) {
            continue;
        }
        let gone = if meta.is_dir() {
            std::fs::remove_dir_all(entry.path())
        } else {
            std::fs::remove_file(entry.path())
        };
        match gone {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// How long recovery holds a publication job while it repairs the object.
const RECOVERY_LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(300);

/// Runs every recovery step and logs what it did.
pub async fn run(db: &Db, settings: &Settings, ocfl: &OcflRoot) -> anyhow::Result<()> {
    let store = LocalDiskStore::new(settings.ocfl_dir())?;
    let (root, tmp) = (store.root().to_path_buf(), store.temp_dir().to_path_buf());
    let temp_files = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
        let mut removed = remove_dead_temp_files(&tmp, "put-")?;
        removed.extend(remove_dead_temp_files(&root, ".healthz-")?);
        Ok(removed)
    })
    .await??;
    if !temp_files.is_empty() {
        tracing::warn!(count = temp_files.len(), files = ?temp_files, "recovery: removed temp files of unfinished storage writes");
    }
    let copies = settings.temp_dir();
    let old_copies =
        tokio::task::spawn_blocking(move || remove_old_entries(&copies, STALE_TEMP_COPY)).await??;
    if old_copies > 0 {
        tracing::warn!(
            count = old_copies,
            "recovery: removed temporary copies a crash left behind"
        );
    }

    let host = crate::node::host_name();
    let requeued = db
        .run(move |conn| {
            jobs::history::requeue_abandoned(conn, |holder| {
                worker_pid(holder, &host).is_some_and(crate::node::process_is_dead)
            })
        })
        .await
        .map_err(|e| anyhow::anyhow!("recovery: requeuing jobs of dead workers: {e}"))?;
    if !requeued.is_empty() {
        tracing::warn!(count = requeued.len(), jobs = ?requeued, "recovery: jobs of a dead worker queued again");
    }

    let in_flight = db
        .run(publications_in_flight)
        .await
        .map_err(|e| anyhow::anyhow!("recovery: listing publications in flight: {e}"))?;
    let me = format!(
        "{}:{}:recovery",
        crate::node::host_name(),
        std::process::id()
    );
    for (dataset_id, object_id) in in_flight {
        let who = me.clone();
        let claimed = db
            .run(move |conn| {
                let key = crate::publish::publish_key(dataset_id);
                jobs::history::claim_waiting(conn, &key, &who, RECOVERY_LEASE)
            })
            .await
            .map_err(|e| anyhow::anyhow!("recovery: claiming publication {dataset_id}: {e}"))?;
        // Only with no job that will run the publication, or with its job held, may
        // recovery touch the object.
        let job_id = match claimed {
            Claim::Busy => {
                tracing::info!(dataset = dataset_id, object = %object_id, "recovery: publication is being run by a live worker; left to it");
                continue;
            }
            Claim::NoJob => None,
            Claim::Claimed(id) => Some(id),
        };
        match ocfl.recover_object(&object_id).await {
            Ok(report) if report.changed() => tracing::warn!(
                dataset = dataset_id,
                object = %object_id,
                head = ?report.head,
                restored_root_inventory_from = ?report.restored_from,
                removed = ?report.removed,
                "recovery: OCFL object of an interrupted publication brought back to its last committed version"
            ),
            Ok(_) => {}
            // One damaged object must not keep the whole archive from starting; the
            // publication job reports it again when it runs.
            Err(e) => {
                tracing::error!(dataset = dataset_id, object = %object_id, error = %e, "recovery: OCFL object cannot be recovered")
            }
        }
        if let Some(job_id) = job_id {
            let who = me.clone();
            db.run(move |conn| jobs::history::release(conn, job_id, &who))
                .await
                .map_err(|e| anyhow::anyhow!("recovery: releasing job {job_id}: {e}"))?;
        }
    }
    Ok(())
}

/// The pid in a worker name `host:pid:slot` if the host is `host`.
fn worker_pid(locked_by: &str, host: &str) -> Option<i32> {
    let mut parts = locked_by.rsplitn(3, ':');
    let _slot = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    (parts.next()? == host).then_some(pid)
}

/// Removes `<prefix><pid>-<random>.tmp` files in `dir` whose writer is dead (and
/// such files without a pid once they are old). Returns the names removed.
fn remove_dead_temp_files(dir: &Path, prefix: &str) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        if !entry.file_type()?.is_file() {
            continue;
        }
        let dead = match crate::node::own_writer_pid(rest) {
            Some(pid) => crate::node::process_is_dead(pid),
            None => entry
                .metadata()?
                .modified()?
                .elapsed()
                .is_ok_and(|age| age > UNKNOWN_WRITER_AGE),
        };
        if dead {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed.push(name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// Approved datasets (their publication started or is about to) with an OCFL object id.
fn publications_in_flight(conn: &mut AnyConnection) -> Result<Vec<(i64, String)>, DomainError> {
    let rows: Vec<(i64, Option<String>)> = datasets::table
        .filter(datasets::state.eq("approved"))
        .select((datasets::id, datasets::ocfl_object_id))
        .order(datasets::id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, object)| object.map(|o| (id, o)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_temporary_copies_are_removed() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let two_days_ago =
            std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
        let old_dir = dir.path().join("validate-old");
        std::fs::create_dir(&old_dir)?;
        std::fs::write(old_dir.join("0.bin"), b"x")?;
        std::fs::File::open(&old_dir)?.set_modified(two_days_ago)?;
        let old_file = dir.path().join("repair-old");
        std::fs::write(&old_file, b"x")?;
        std::fs::File::options()
            .write(true)
            .open(&old_file)?
            .set_modified(two_days_ago)?;
        let fresh = dir.path().join("validate-fresh");
        std::fs::create_dir(&fresh)?;
        assert_eq!(remove_old_entries(dir.path(), STALE_TEMP_COPY)?, 2);
        assert!(!old_dir.exists() && !old_file.exists());
        assert!(fresh.exists());
        assert_eq!(
            remove_old_entries(&dir.path().join("absent"), STALE_TEMP_COPY)?,
            0
        );
        Ok(())
    }

    #[test]
    fn worker_names_are_parsed() {
        assert_eq!(worker_pid("local:123:0", "local"), Some(123));
        assert_eq!(worker_pid("other:123:0", "local"), None);
        assert_eq!(worker_pid("local:x:0", "local"), None);
        assert_eq!(worker_pid("nonsense", "local"), None);
    }

    #[test]
    fn only_dead_writers_temp_files_are_removed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        // A pid that cannot belong to a live process (above the kernel's maximum).
        let dead = dir.path().join("put-2147483000-abc.tmp");
        let mine = dir
            .path()
            .join(format!("put-{}-abc.tmp", std::process::id()));
        let fresh_unknown = dir.path().join("put-abc.tmp");
        let host = crate::node::host_name();
        let dead_here = dir.path().join(format!("put-2147483000@{host}-abd.tmp"));
        let elsewhere = dir.path().join("put-2147483000@other-node-abe.tmp");
        std::fs::write(&dead_here, b"x")?;
        std::fs::write(&elsewhere, b"x")?;
        let other = dir.path().join("keep.me");
        for p in [&dead, &mine, &fresh_unknown, &other] {
            std::fs::write(p, b"x")?;
        }
        let removed = remove_dead_temp_files(dir.path(), "put-")?;
        assert_eq!(
            removed,
            vec![
                "put-2147483000-abc.tmp".to_string(),
                format!("put-2147483000@{host}-abd.tmp")
            ]
        );
        assert!(elsewhere.exists(), "another node's temp file is left alone");
        assert!(!dead.exists());
        assert!(mine.exists() && fresh_unknown.exists() && other.exists());
        Ok(())
    }
}
