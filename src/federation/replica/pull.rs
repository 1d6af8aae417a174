use super::{
    parse_datetime, partial_dir, read_changes, replica_root, Progress, PullSummary, Remote, Source,
    OBJECT_DECLARATION, OBJECT_DECLARATION_BODY,
};
use crate::db::schema::replication_sources;
use crate::error::{DomainError, ErrorContext};
use crate::federation::Federation;
use crate::storage::ocfl::sidecar_body;
use crate::storage::{BlobStore, Inventory, OcflRoot};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

// ---------------------------------------------------------------------------------
// The pull

pub(super) struct Pull<'a> {
    pub(super) fed: &'a Federation,
    pub(super) source: Source,
    pub(super) remote: Remote,
    pub(super) root: OcflRoot,
    pub(super) partial: PathBuf,
    pub(super) lengths: HashMap<String, u64>,
    pub(super) progress: Arc<dyn Progress>,
    pub(super) files: AtomicU64,
    pub(super) bytes: AtomicU64,
}

/// One pull of a source at a time in this process (the scheduled round and a pull
/// queued by `replicate add` may meet).
pub(super) fn source_lock(source_id: i64) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: std::sync::OnceLock<std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>> =
        std::sync::OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(source_id).or_default().clone()
}

/// Pulls one source now: everything its change list shows since the last pull.
pub async fn pull(
    fed: &Federation,
    source: &Source,
    progress: Arc<dyn Progress>,
) -> Result<PullSummary, DomainError> {
    let lock = source_lock(source.id);
    let _one_at_a_time = lock.lock().await;
    let _one_process = lock_source_file(fed, source).await?;
    // Read again: a pull that held the lock may have moved the position.
    let id = source.id;
    let source = &fed
        .db
        .run(move |conn| {
            Ok(replication_sources::table
                .find(id)
                .select(Source::as_select())
                .first(conn)?)
        })
        .await?;
    let started = Instant::now();
    let remote = Remote::new(&source.base_url, source.token.clone())?;
    let mut summary = PullSummary::default();
    let outcome = pull_inner(fed, source, remote, progress, &mut summary).await;
    summary.elapsed = started.elapsed();
    let through = match outcome {
        Ok(through) => through,
        Err(e) => {
            summary.failures.push(e);
            None
        }
    };
    let error = failures_text(&summary.failures);
    record_outcome(fed, source.id, through, error).await?;
    Ok(summary)
}

/// One process at a time (the CLI beside a worker): an advisory lock on a file of the
/// data folder, held while the returned file is open (released if the process dies).
async fn lock_source_file(fed: &Federation, source: &Source) -> Result<std::fs::File, DomainError> {
    let lock_path = fed
        .settings
        .replicas_dir()
        .join(format!("{}.lock", source.id));
    let locking = format!("locking {}", lock_path.display());
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = lock_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    })
    .await
    .context("the replica pull lock task")?
    .context(locking)?
    .ok_or_else(|| {
        DomainError::Conflict(format!(
            "another process is pulling {} right now; try again when it is done",
            source.base_url
        ))
    })
}

/// The first failures of a pull, one a line (None: it had none).
fn failures_text(failures: &[String]) -> Option<String> {
    (!failures.is_empty()).then(|| {
        let mut text = failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        if failures.len() > 20 {
            text.push_str(&format!("\n… and {} more", failures.len() - 20));
        }
        text
    })
}

/// Writes a pull's outcome on its source's row, and the new position if it moved.
async fn record_outcome(
    fed: &Federation,
    id: i64,
    through: Option<String>,
    error: Option<String>,
) -> Result<(), DomainError> {
    let outcome_word = if error.is_some() { "failed" } else { "ok" };
    fed.db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            let q = diesel::update(replication_sources::table.find(id));
            match through {
                Some(t) => q
                    .set((
                        replication_sources::pulled_through.eq(Some(t)),
                        replication_sources::last_pull_at.eq(Some(now)),
                        replication_sources::last_outcome.eq(Some(outcome_word)),
                        replication_sources::last_error.eq(&error),
                    ))
                    .execute(conn)?,
                None => q
                    .set((
                        replication_sources::last_pull_at.eq(Some(now)),
                        replication_sources::last_outcome.eq(Some(outcome_word)),
                        replication_sources::last_error.eq(&error),
                    ))
                    .execute(conn)?,
            };
            Ok(())
        })
        .await
}

/// The pull's work; returns the new `pulled_through` (None: unchanged). Failures of
/// single objects are in `summary.failures`; an Err is a source that could not be read.
pub(super) async fn pull_inner(
    fed: &Federation,
    source: &Source,
    remote: Remote,
    progress: Arc<dyn Progress>,
    summary: &mut PullSummary,
) -> Result<Option<String>, String> {
    remote.discover().await?;
    let since = source.pulled_through.as_deref().and_then(parse_datetime);
    let changes = read_changes(&remote, since).await?;
    if changes.unlinked > 0 {
        tracing::warn!(
            source = %source.base_url,
            entries = changes.unlinked,
            "change-list entries without a link to an OCFL object were skipped"
        );
    }
    let root = replica_root(&fed.settings, source.id)
        .await
        .map_err(|e| e.to_string())?;
    let partial = partial_dir(&fed.settings, source.id);
    tokio::fs::create_dir_all(&partial)
        .await
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    let pull = Pull {
        fed,
        source: source.clone(),
        remote,
        root,
        partial,
        lengths: changes.lengths.clone(),
        progress,
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    };
    let mut resume_from: Option<DateTime<Utc>> = None;
    for change in &changes.objects {
        let result = if change.deleted {
            pull.withdraw(change.dataset).await.map(|n| {
                summary.withdrawn += n;
            })
        } else {
            pull.object(change.dataset).await.map(|n| {
                summary.versions += n;
            })
        };
        if let Err(e) = result {
            let message = format!("dataset {} of {}: {e}", change.dataset, source.base_url);
            pull.record_failure(&message).await;
            summary.failures.push(message);
            resume_from = Some(resume_from.map_or(change.first, |r| r.min(change.first)));
        }
    }
    let (sent, receipt_failures) = pull.send_receipts().await;
    summary.receipts = sent;
    summary.failures.extend(receipt_failures);
    summary.files = pull.files.load(Ordering::Relaxed) as usize;
    summary.bytes = pull.bytes.load(Ordering::Relaxed);
    let through = resume_from.or(changes.last);
    Ok(through.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
}

impl Pull<'_> {
    pub(super) fn store(&self) -> &Arc<dyn BlobStore> {
        self.root.store()
    }

    /// Brings one object up to the source's head; returns how many versions were added.
    pub(super) async fn object(&self, dataset: i64) -> Result<usize, String> {
        let (root_bytes, root_digest) = self.remote.inventory(dataset, "inventory.json").await?;
        let inventory = parse_inventory(&root_bytes)?;
        let head = inventory.head_number().map_err(|e| e.to_string())?;
        let object_id = inventory.id.clone();
        // What an interrupted pull left (content of a version never committed, a root
        // inventory without its sidecar) is cleaned up first, so the copy is valid.
        let recovered = self
            .root
            .recover_object(&object_id)
            .await
            .map_err(|e| format!("the replica's copy of {object_id}: {e}"))?;
        if recovered.changed() {
            tracing::warn!(object = %object_id, removed = recovered.removed.len(), "cleaned up an interrupted replica pull");
        }
        let held = self
            .root
            .inventory(&object_id)
            .await
            .map_err(|e| format!("the replica's copy of {object_id}: {e}"))?;
        let held_head = match &held {
            Some(h) => h.head_number().map_err(|e| e.to_string())?,
            None => 0,
        };
        if held_head > head {
            return Err(format!(
                "the source's {object_id} is at v{head}, behind the replica's v{held_head}"
            ));
        }
        let mut added = 0;
        for n in held_head + 1..=head {
            let last = (n == head).then(|| (root_bytes.clone(), root_digest.clone()));
            self.version(dataset, &object_id, n, last).await?;
            added += 1;
        }
        if added == 0 {
            let (_, held_digest) = self.held_root_digest(&object_id).await?;
            if held_digest != root_digest {
                return Err(format!(
                    "the replica's {object_id} v{head} has inventory sha256 {held_digest}, the source's {root_digest}"
                ));
            }
        }
        // Rows for every version held (an earlier pull may have stopped between
        // storage and database).
        for n in 1..=head {
            let digest = self.held_version_digest(&object_id, n).await?;
            self.record_version(dataset, &object_id, n, &digest, 0, 0)
                .await?;
        }
        Ok(added)
    }

    pub(super) async fn held_root_digest(&self, object_id: &str) -> Result<(u64, String), String> {
        self.root
            .inventory_digest(object_id)
            .await
            .map_err(|e| e.to_string())?
            .map(|(d, size)| (size, d))
            .ok_or_else(|| format!("the replica holds no {object_id}"))
    }

    pub(super) async fn held_version_digest(
        &self,
        object_id: &str,
        n: u32,
    ) -> Result<String, String> {
        let key = format!("{}/v{n}/inventory.json", self.root.object_root(object_id));
        let bytes = self
            .store()
            .get_bytes(&key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the replica's {object_id} lacks v{n}/inventory.json"))?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    }

    /// Fetches and stores version `n`; `last` is the root inventory to finish with
    /// when this is the source's head.
    pub(super) async fn version(
        &self,
        dataset: i64,
        object_id: &str,
        n: u32,
        last: Option<(Bytes, String)>,
    ) -> Result<(), String> {
        let dir = format!("v{n}");
        let (bytes, digest) = self
            .remote
            .inventory(dataset, &format!("{dir}/inventory.json"))
            .await?;
        let inventory = parse_inventory(&bytes)?;
        if inventory.id != object_id || inventory.head != dir {
            return Err(format!(
                "{dir}/inventory.json of dataset {dataset} is {} {}, not {object_id} {dir}",
                inventory.id, inventory.head
            ));
        }
        let prefix = format!("{dir}/");
        let wanted: Vec<(String, String)> = inventory
            .manifest
            .iter()
            .flat_map(|(digest, paths)| {
                paths
                    .iter()
                    .filter(|p| p.starts_with(&prefix))
                    .map(move |p| (digest.to_ascii_lowercase(), p.clone()))
            })
            .collect();
        let object_root = self.root.object_root(object_id);
        let (files, size) = self
            .fetch_content(dataset, object_id, &dir, &object_root, &wanted)
            .await?;
        self.write_inventories(&object_root, &dir, object_id, (bytes, digest.clone()), last)
            .await?;
        self.record_version(dataset, object_id, n, &digest, files, size)
            .await
    }

    /// Stores the content files of a version a bounded number at once; returns how
    /// many files (and bytes) were fetched now. If any fails, the version's files are
    /// taken out again.
    async fn fetch_content(
        &self,
        dataset: i64,
        object_id: &str,
        dir: &str,
        object_root: &str,
        wanted: &[(String, String)],
    ) -> Result<(u64, u64), String> {
        let planned: u64 = wanted.iter().filter_map(|(d, _)| self.lengths.get(d)).sum();
        self.progress.planned(planned);
        let parallel = self.fed.settings.replication_parallel;
        let results: Vec<Result<(u64, bool), String>> =
            // Owned names per file: a future that borrows from the iterator is not `Send`
            // for every lifetime the job's future needs.
            futures_util::stream::iter(wanted.iter().cloned().map(|(digest, path)| {
                let key = format!("{object_root}/{path}");
                let url = self.remote.object_url(dataset, &path);
                async move { self.content(&url, &key, &path, &digest).await }
            }))
            .buffer_unordered(parallel)
            .collect()
            .await;
        let mut failures = Vec::new();
        let (mut files, mut size) = (0, 0);
        for r in results {
            match r {
                Ok((n, fetched)) => {
                    if fetched {
                        files += 1;
                        size += n;
                    }
                }
                Err(e) => failures.push(e),
            }
        }
        if !failures.is_empty() {
            // The version's other files are taken out again, so the storage root holds
            // no content without an inventory (a crash could leave some; the next pull
            // completes them).
            for (_, path) in wanted {
                let key = format!("{object_root}/{path}");
                if let Err(e) = self.store().delete(&key).await {
                    tracing::warn!(key = %key, error = %e, "could not remove a file of a version that failed");
                }
            }
            return Err(format!(
                "{object_id} {dir}: {} file(s) not stored: {}",
                failures.len(),
                failures.join("; ")
            ));
        }
        Ok((files, size))
    }

    /// Writes a version's inventory and sidecar, then the root inventory (the newest
    /// version's, `last`, when more versions follow in this pull: the head moves once)
    /// after making the content durable.
    async fn write_inventories(
        &self,
        object_root: &str,
        dir: &str,
        object_id: &str,
        (bytes, digest): (Bytes, String),
        last: Option<(Bytes, String)>,
    ) -> Result<(), String> {
        let put = |key: String, body: Bytes| async move {
            self.store()
                .put_bytes(&key, body)
                .await
                .map_err(|e| format!("{key}: {e}"))
        };
        // The version's content was stored without a flush per file: one flush makes
        // it all durable before any inventory names it (a crash before this leaves a
        // version directory above the head, which recovery removes).
        self.store()
            .sync_batch()
            .await
            .map_err(|e| format!("{object_id} {dir}: making its content durable: {e}"))?;
        let declaration = format!("{object_root}/{OBJECT_DECLARATION}");
        if self
            .store()
            .size(&declaration)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            put(declaration, Bytes::from_static(OBJECT_DECLARATION_BODY)).await?;
        }
        put(format!("{object_root}/{dir}/inventory.json"), bytes.clone()).await?;
        put(
            format!("{object_root}/{dir}/inventory.json.sha256"),
            Bytes::from(sidecar_body(&digest)),
        )
        .await?;
        let (root_bytes, root_digest) = last.unwrap_or((bytes, digest));
        put(format!("{object_root}/inventory.json"), root_bytes).await?;
        put(
            format!("{object_root}/inventory.json.sha256"),
            Bytes::from(sidecar_body(&root_digest)),
        )
        .await?;
        Ok(())
    }
}

pub(super) fn parse_inventory(bytes: &[u8]) -> Result<Inventory, String> {
    let inventory: Inventory =
        serde_json::from_slice(bytes).map_err(|e| format!("an inventory does not parse: {e}"))?;
    if inventory.digest_algorithm != crate::storage::ocfl::DIGEST_ALGORITHM {
        return Err(format!(
            "{} uses {}, this replica stores sha256 objects",
            inventory.id, inventory.digest_algorithm
        ));
    }
    Ok(inventory)
}
