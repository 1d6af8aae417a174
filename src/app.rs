//! `Archive`: the domain services one running holdfast needs (settings, database,
//! storage, staging), built once at start and shared by the web layer and the CLI.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::deposit::ingest::{StagedFile, Staging};
use crate::error::DomainError;
use crate::standards::Registry;
use crate::storage::{BlobStore, LocalDiskStore, OcflRoot, S3Store};

/// How old an incomplete multipart upload must be before it is aborted: older than
/// any upload still in progress can be.
const STALE_MULTIPART: chrono::Duration = chrono::Duration::days(1);
/// How often incomplete multipart uploads are looked for (also once at start).
const MULTIPART_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Aborts multipart uploads a crash or a lost connection left incomplete under the
/// storage prefix, at start and then every few hours. Every node may run it: aborting
/// is idempotent, and only uploads older than a day are touched.
fn start_multipart_sweeper(store: S3Store) {
    tokio::spawn(async move {
        loop {
            match store
                .abort_stale_uploads(chrono::Utc::now() - STALE_MULTIPART)
                .await
            {
                Ok(0) => {}
                Ok(aborted) => tracing::info!(aborted, "aborted stale multipart uploads"),
                Err(e) => tracing::warn!(error = %e, "looking for stale multipart uploads"),
            }
            tokio::time::sleep(MULTIPART_SWEEP_EVERY).await;
        }
    });
}

#[derive(Clone)]
pub struct Archive {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub store: Arc<dyn BlobStore>,
    pub ocfl: Arc<OcflRoot>,
    pub staging: Arc<Staging>,
    /// The data standards in effect (built-in, overridden by the schemas folder).
    pub standards: Arc<Registry>,
    /// Wakes this process's job workers when a request enqueues work.
    pub jobs_wake: Arc<tokio::sync::Notify>,
    /// Who registers DOIs (the local registrar or DataCite).
    pub doi_provider: Arc<dyn crate::doi::provider::DoiProvider>,
    /// Delivers outbox messages (SMTP, or .eml files under DATA_DIR/mail).
    pub mailer: Arc<crate::mail::Mailer>,
    /// Counts landing-page views and downloads in the background.
    pub usage: crate::usage::Recorder,
    /// One writer at a time per resumable upload.
    pub tus_locks: Arc<crate::deposit::tus::UploadLocks>,
}

/// How many chunks may wait between the network and the disk writer.
const UPLOAD_QUEUE_CHUNKS: usize = 16;

impl Archive {
    /// Opens (and if needed creates) everything under the data directory, runs
    /// migrations and cleans what an earlier crash left in staging.
    pub async fn open(settings: Settings) -> anyhow::Result<Archive> {
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data directory {}: {e}",
                settings.data_dir.display()
            )
        })?;
        let staging_dir = settings.staging_dir();
        std::fs::create_dir_all(&staging_dir)?;
        let url = settings.database_url.clone();
        let pool_size = settings.db_pool_size;
        let db = tokio::task::spawn_blocking(move || Db::connect(&url, pool_size)).await??;
        let store: Arc<dyn BlobStore> = match &settings.s3 {
            None => Arc::new(LocalDiskStore::new(settings.ocfl_dir())?),
            Some(s3) => {
                let store = S3Store::new(s3.clone())?;
                store.check_bucket().await?;
                start_multipart_sweeper(store.clone());
                Arc::new(store.blobs())
            }
        };
        let ocfl = Arc::new(OcflRoot::new(store.clone()));
        ocfl.init().await?;
        let staging = Arc::new(Staging::new(staging_dir.clone()));
        let dir = staging_dir.clone();
        let removed =
            tokio::task::spawn_blocking(move || Staging::cleanup_leftovers(&dir)).await??;
        if removed > 0 {
            tracing::info!(removed, "removed unfinished uploads left in staging");
        }
        // A malformed standard file stops the start with its name and the problem, rather
        // than running with a standard silently missing.
        let standards = Arc::new(
            Registry::load(settings.schemas_dir.as_deref())
                .map_err(|e| anyhow::anyhow!("the data standards cannot be loaded: {e}"))?,
        );
        let doi_provider = crate::doi::provider::from_settings(&settings)?;
        let mailer = Arc::new(crate::mail::Mailer::from_settings(&settings)?);
        let archive = Archive {
            mailer,
            settings: Arc::new(settings),
            db: db.clone(),
            store,
            ocfl,
            staging,
            standards,
            jobs_wake: Arc::new(tokio::sync::Notify::new()),
            doi_provider,
            usage: crate::usage::Recorder::start(db.clone()),
            tus_locks: Arc::default(),
        };
        archive.sweep_unreferenced_blobs().await?;
        crate::recovery::run(&archive).await?;
        crate::deposit::tus::start_sweeper(&archive);
        // Published datasets the search index lacks (e.g. from before search existed).
        let indexed = archive.db.run(crate::search::backfill).await?;
        if indexed > 0 {
            tracing::info!(indexed, "added published datasets to the search index");
        }
        // Published content the fixity register lacks (archives from before audits), and
        // the audit sweep's first round.
        let registered = crate::fixity::files::backfill(&archive)
            .await
            .map_err(|e| anyhow::anyhow!("registering stored files for fixity audits: {e}"))?;
        if registered > 0 {
            tracing::info!(registered, "stored files added to the fixity register");
        }
        archive
            .db
            .run(|conn| crate::fixity::run::ensure_scheduled(conn, chrono::Utc::now().naive_utc()))
            .await
            .map_err(|e| anyhow::anyhow!("scheduling fixity audits: {e}"))?;
        // Replica challenges and the replication policy: one round across all nodes.
        archive
            .db
            .run(|conn| {
                crate::federation::challenge::ensure_scheduled(conn, chrono::Utc::now().naive_utc())
            })
            .await
            .map_err(|e| anyhow::anyhow!("scheduling replica challenges: {e}"))?;
        // The scheduled pull of replication sources (a no-op without sources).
        archive
            .db
            .run(|conn| {
                crate::federation::replica::ensure_scheduled(conn, chrono::Utc::now().naive_utc())
            })
            .await
            .map_err(|e| anyhow::anyhow!("scheduling replication pulls: {e}"))?;
        // Published datasets without an OAI-PMH record (from before OAI-PMH existed).
        let harvestable = archive.db.run(crate::federation::backfill).await?;
        if harvestable > 0 {
            tracing::info!(harvestable, "added published datasets to OAI-PMH");
        }
        // DOI registrations that gave up (or were left behind by a provider switch) are
        // queued again, so none is lost.
        let settings = archive.settings.clone();
        let resumed = archive
            .db
            .run(move |conn| crate::doi::registration::resume_unfinished(conn, &settings))
            .await
            .map_err(|e| anyhow::anyhow!("resuming DOI registrations: {e}"))?;
        if resumed > 0 {
            tracing::info!(
                resumed,
                provider = archive.doi_provider.name(),
                "DOI registrations resumed"
            );
        }
        Ok(archive)
    }

    /// Tells this process's workers that a job was just committed.
    pub fn wake_workers(&self) {
        self.jobs_wake.notify_waiters();
        self.jobs_wake.notify_one();
    }

    /// The staged bytes of a draft file. Names come from our own database, but are
    /// checked anyway so nothing can point outside the staging folder.
    pub fn staged_blob_path(&self, name: &str) -> Result<PathBuf, DomainError> {
        let safe = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
            && !name.starts_with('.');
        if !safe {
            return Err(DomainError::internal(format!(
                "bad staged blob name {name:?}"
            )));
        }
        Ok(self.staging.dir().join(name))
    }

    /// Deletes staged blobs no draft refers to any more (after replace, remove, publish).
    pub async fn remove_staged_blobs(&self, names: Vec<String>) {
        for name in names {
            if let Ok(path) = self.staged_blob_path(&name) {
                if let Err(e) = tokio::fs::remove_file(&path).await {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(blob = %name, error = %e, "could not remove a staged blob");
                    }
                }
            }
        }
    }

    /// Deletes the staged bytes of uploads a request did not keep.
    pub async fn discard_staged<'a>(&self, files: impl IntoIterator<Item = &'a StagedFile>) {
        let names = files
            .into_iter()
            .filter_map(StagedFile::blob_name)
            .collect();
        self.remove_staged_blobs(names).await;
    }

    /// Removes staged blobs that no database row references (left by a crash between
    /// staging a file and recording it). Only blobs older than an hour are touched, so
    /// an upload another process is finishing right now is safe.
    async fn sweep_unreferenced_blobs(&self) -> anyhow::Result<()> {
        use crate::db::schema::version_files;
        use diesel::prelude::*;
        let referenced: std::collections::HashSet<String> = self
            .db
            .run(|conn| {
                let mut names = version_files::table
                    .filter(version_files::staged_name.is_not_null())
                    .select(version_files::staged_name.assume_not_null())
                    .load::<String>(conn)?;
                // Blobs of resumable uploads whose completion a crash cut short.
                names.extend(crate::deposit::tus::pending_blob_names(conn)?);
                Ok(names)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_iter()
            .collect();
        let dir = self.staging.dir().to_path_buf();
        let removed = tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
            let mut removed = 0;
            let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().to_string();
                if !name.ends_with(".blob") || referenced.contains(&name) {
                    continue;
                }
                if entry.metadata()?.modified()? < cutoff {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await??;
        if removed > 0 {
            tracing::info!(removed, "removed staged blobs no draft refers to");
        }
        Ok(())
    }

    /// Streams a request body into staging while hashing it. Memory stays bounded by
    /// the channel: the network side waits when the disk side falls behind.
    pub async fn stage_stream<S, E>(
        &self,
        mut body: S,
        limit: u64,
    ) -> Result<StagedFile, DomainError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut writer = self.staging.create_pipelined()?.with_limit(limit);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(UPLOAD_QUEUE_CHUNKS);
        // Set only when the body arrived whole; otherwise the writer discards its file.
        let body_complete = Arc::new(AtomicBool::new(false));
        let complete = body_complete.clone();
        let disk = tokio::task::spawn_blocking(move || -> Result<StagedFile, DomainError> {
            while let Some(chunk) = rx.blocking_recv() {
                writer.write_bytes(chunk).map_err(upload_error)?;
                crate::crashpoint::hit("upload.mid-file");
            }
            if !complete.load(Ordering::Acquire) {
                // Dropping the writer without finish() removes the partial file.
                return Err(DomainError::BadRequest("the upload was interrupted".into()));
            }
            writer.finish().map_err(upload_error)
        });
        let mut network_error = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    if tx.send(bytes).await.is_err() {
                        break; // the writer stopped (size limit or disk error); its error wins
                    }
                }
                Err(e) => {
                    network_error = Some(e.to_string());
                    break;
                }
            }
        }
        if network_error.is_none() {
            body_complete.store(true, Ordering::Release);
        }
        drop(tx);
        let written = disk
            .await
            .map_err(|e| DomainError::internal(format!("upload writer: {e}")))?;
        match network_error {
            Some(e) => Err(DomainError::BadRequest(format!(
                "the upload was interrupted ({e}); nothing was stored, please try again"
            ))),
            None => written,
        }
    }

    /// Ready to serve: the database answers and storage can be written.
    pub async fn health(&self) -> Result<(), DomainError> {
        self.db
            .run(|conn| {
                use diesel::prelude::*;
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
                    .get_result::<i32>(conn)?;
                Ok(())
            })
            .await?;
        self.store
            .check_writable()
            .await
            .map_err(|e| DomainError::Unavailable(format!("storage is not writable: {e}")))?;
        let staging = self.staging.dir().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let probe = staging.join(".health-probe");
            std::fs::write(&probe, b"ok")?;
            std::fs::remove_file(&probe)
        })
        .await
        .map_err(DomainError::internal)?
        .map_err(|e| DomainError::Unavailable(format!("staging is not writable: {e}")))?;
        Ok(())
    }
}

fn upload_error(e: std::io::Error) -> DomainError {
    if e.kind() == std::io::ErrorKind::FileTooLarge {
        DomainError::PayloadTooLarge(e.to_string())
    } else {
        DomainError::internal(format!("writing upload: {e}"))
    }
}
