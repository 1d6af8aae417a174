//! `Archive`: the domain services one running holdfast needs (settings, database,
//! storage, staging), built once at start and shared by the web layer and the CLI.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::deposit::ingest::Staging;
use crate::error::{DomainError, ErrorContext};
use crate::jobs::{ensure_scheduled, Runner, Waker};
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

/// The running archive: every handle the web layer and the CLI use, and the job
/// registry that connects each job type to the context it runs with. Domain code never
/// sees this struct: it takes the handles it uses (`Archive::fixity()` and the like
/// bundle them per domain).
#[derive(Clone)]
pub struct Archive {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub store: Arc<dyn BlobStore>,
    pub ocfl: Arc<OcflRoot>,
    pub staging: Arc<Staging>,
    /// The data standards in effect (built-in, overridden by the schemas folder).
    pub standards: Arc<Registry>,
    /// Runs this process's jobs; `wake_workers` after committing one.
    pub jobs: Runner,
    /// Who registers DOIs (the local registrar or DataCite).
    pub doi_provider: Arc<dyn crate::doi::provider::DoiProvider>,
    /// Delivers outbox messages (SMTP, or .eml files under DATA_DIR/mail).
    pub mailer: Arc<crate::mail::Mailer>,
    /// Counts landing-page views and downloads in the background.
    pub usage: crate::usage::Recorder,
    /// One writer at a time per resumable upload.
    pub tus_locks: Arc<crate::deposit::tus::UploadLocks>,
    /// The last health check and when it ran (see [`Archive::health`]).
    health: Arc<tokio::sync::Mutex<Option<HealthAnswer>>>,
}

/// When a health check ran and what it found (the reason it is not ready).
type HealthAnswer = (std::time::Instant, Result<(), String>);

/// How long a health answer is shared: a load balancer's probes, however many at once,
/// cost one check a second and never fail because of one another.
const HEALTH_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

impl AsRef<Runner> for Archive {
    fn as_ref(&self) -> &Runner {
        &self.jobs
    }
}

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
        let backoff_base_ms = settings.job_backoff_ms;
        let waker = Waker::default();
        let mut archive = Archive {
            mailer,
            settings: Arc::new(settings),
            db: db.clone(),
            store,
            ocfl,
            staging,
            standards,
            jobs: Runner::new(db.clone(), Arc::default(), waker.clone(), backoff_base_ms),
            doi_provider,
            usage: crate::usage::Recorder::start(db.clone()),
            tus_locks: Arc::default(),
            health: Arc::default(),
        };
        // The job contexts hold the waker, not the archive: the registry is built from
        // the finished handles, then put in place before anything runs a job.
        let registry = Arc::new(archive.job_registry());
        archive.jobs = Runner::new(db.clone(), registry, waker, backoff_base_ms);
        let removed =
            crate::deposit::uploads::sweep_unreferenced_blobs(&archive.db, &archive.staging)
                .await?;
        if removed > 0 {
            tracing::info!(removed, "removed staged blobs no draft refers to");
        }
        crate::recovery::run(&archive.db, &archive.settings, &archive.ocfl).await?;
        crate::deposit::tus::start_sweeper(&archive.uploads());
        // Published datasets the search index lacks (e.g. from before search existed).
        let indexed = archive.db.run(crate::search::backfill).await?;
        if indexed > 0 {
            tracing::info!(indexed, "added published datasets to the search index");
        }
        // Published content the fixity register lacks (archives from before audits), and
        // the audit sweep's first round.
        let registered = crate::fixity::files::backfill(&archive.db, &archive.ocfl)
            .await
            .map_err(|e| anyhow::anyhow!("registering stored files for fixity audits: {e}"))?;
        if registered > 0 {
            tracing::info!(registered, "stored files added to the fixity register");
        }
        let now = chrono::Utc::now().naive_utc();
        ensure_scheduled(&archive.db, crate::fixity::FixitySweep {}, now)
            .await
            .map_err(|e| anyhow::anyhow!("scheduling fixity audits: {e}"))?;
        // Replica challenges and the replication policy: one round across all nodes.
        ensure_scheduled(&archive.db, crate::federation::ChallengeRound {}, now)
            .await
            .map_err(|e| anyhow::anyhow!("scheduling replica challenges: {e}"))?;
        // The scheduled pull of replication sources (a no-op without sources).
        ensure_scheduled(&archive.db, crate::federation::PullReplicas::default(), now)
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
        self.jobs.wake();
    }

    /// The staged bytes of a draft file (see `Staging::blob_path`).
    pub fn staged_blob_path(&self, name: &str) -> Result<PathBuf, DomainError> {
        self.staging.blob_path(name)
    }

    /// Every job kind with the context it runs with: the one list of them.
    fn job_registry(&self) -> crate::jobs::Registry {
        use crate::{deposit, doi, federation, fixity, mail, publish};
        let mut jobs = crate::jobs::Registry::new();
        let checker: Arc<dyn deposit::validation::DraftCheck> = Arc::new(self.checker());
        jobs.add::<deposit::validation::ValidateDraft>(checker)
            .add::<mail::DeliverMail>(Arc::new(self.postman()))
            .add::<publish::PublishDataset>(Arc::new(self.publisher()))
            .add::<doi::registration::RegisterDoi>(Arc::new(self.registrar()))
            .add::<fixity::FixitySweep>(Arc::new(self.fixity()))
            .add::<fixity::RepairDataset>(Arc::new(self.fixity()))
            .add::<federation::ChallengeRound>(Arc::new(self.federation()))
            .add::<federation::PullReplicas>(Arc::new(self.federation()));
        jobs
    }

    /// What uploads (forms, API, tus) run with.
    pub fn uploads(&self) -> crate::deposit::uploads::Uploads {
        crate::deposit::uploads::Uploads {
            db: self.db.clone(),
            settings: self.settings.clone(),
            staging: self.staging.clone(),
            tus_locks: self.tus_locks.clone(),
            waker: self.jobs.waker().clone(),
        }
    }

    /// What checks drafts against the data standards.
    pub fn checker(&self) -> crate::qa::validation::Checker {
        crate::qa::validation::Checker {
            db: self.db.clone(),
            settings: self.settings.clone(),
            standards: self.standards.clone(),
            store: self.store.clone(),
            ocfl: self.ocfl.clone(),
            staging: self.staging.clone(),
            waker: self.jobs.waker().clone(),
        }
    }

    /// What delivers mail.
    pub fn postman(&self) -> crate::mail::Postman {
        crate::mail::Postman {
            db: self.db.clone(),
            mailer: self.mailer.clone(),
        }
    }

    /// What publishes approved datasets.
    pub fn publisher(&self) -> crate::publish::Publisher {
        crate::publish::Publisher {
            db: self.db.clone(),
            settings: self.settings.clone(),
            store: self.store.clone(),
            ocfl: self.ocfl.clone(),
            staging: self.staging.clone(),
            waker: self.jobs.waker().clone(),
        }
    }

    /// What registers DOIs.
    pub fn registrar(&self) -> crate::doi::registration::Registrar {
        crate::doi::registration::Registrar {
            db: self.db.clone(),
            settings: self.settings.clone(),
            provider: self.doi_provider.clone(),
        }
    }

    /// What audits and repairs stored files.
    pub fn fixity(&self) -> crate::fixity::Fixity {
        crate::fixity::Fixity {
            db: self.db.clone(),
            settings: self.settings.clone(),
            store: self.store.clone(),
            ocfl: self.ocfl.clone(),
            staging: self.staging.clone(),
            waker: self.jobs.waker().clone(),
            partners: Arc::new(self.federation()),
        }
    }

    /// What pulls, challenges and answers replicas.
    pub fn federation(&self) -> crate::federation::Federation {
        crate::federation::Federation {
            db: self.db.clone(),
            settings: self.settings.clone(),
            store: self.store.clone(),
            ocfl: self.ocfl.clone(),
            waker: self.jobs.waker().clone(),
        }
    }

    /// Ready to serve: the database answers and storage can be written.
    /// Whether the database, the storage root and staging answer and take writes.
    /// Probes arriving while a check runs wait for its answer.
    pub async fn health(&self) -> Result<(), DomainError> {
        let mut last = self.health.lock().await;
        if let Some((_, outcome)) = last.as_ref().filter(|(at, _)| at.elapsed() < HEALTH_FRESH) {
            return outcome.clone().map_err(DomainError::Unavailable);
        }
        let outcome = self.check_health().await.map_err(|e| match e {
            DomainError::Unavailable(why) => why,
            other => other.to_string(),
        });
        *last = Some((std::time::Instant::now(), outcome.clone()));
        outcome.map_err(DomainError::Unavailable)
    }

    async fn check_health(&self) -> Result<(), DomainError> {
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
            // A name of its own (removed when dropped), so no other check can race it.
            use std::io::Write;
            let mut probe = tempfile::Builder::new()
                .prefix(".health-probe")
                .tempfile_in(&staging)?;
            probe.write_all(b"ok")?;
            probe.close()
        })
        .await
        .context("the staging health probe task")?
        .map_err(|e| DomainError::Unavailable(format!("staging is not writable: {e}")))?;
        Ok(())
    }
}
