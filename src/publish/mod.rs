//! The publication pipeline: an approved dataset becomes a published version (DOIs,
//! OCFL storage, database), run as the `publish-dataset` job; also its reverse,
//! deaccession. Review (who approves what, the queue) is in `curation`.
//!
//! Publishing is crash safe and idempotent: DOIs are reserved first ([`plan`]), the
//! version is then committed to OCFL storage ([`commit`]; the root inventory is the
//! commit point), its files are switched over to their stored bytes ([`record`]), and
//! only then is the database switched to "published" ([`finish`]). If the process
//! dies in between, the next attempt finds the committed OCFL version, checks it holds
//! exactly the draft's files, and finishes the database part instead of writing a
//! second version. [`progress`] is what the dataset's page shows meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::accounts::User;
use crate::config::Settings;
use crate::db::Db;
use crate::deposit::ingest::Staging;
use crate::deposit::model::DatasetState;
use crate::deposit::service;
use crate::error::DomainError;
use crate::jobs::{Job, Waker};
use crate::mail::{self, Notice, NotificationKind};
use crate::preservation::events;
use crate::storage::{BlobStore, OcflRoot};

mod commit;
mod deaccession;
mod finish;
mod plan;
mod progress;
mod record;

pub use deaccession::deaccession;
pub(crate) use progress::publish_key;
pub use progress::{
    publish_progress, PublishProgress, PHASE_COPYING, PHASE_FINISHING, PHASE_PREPARING,
    PHASE_RECORDING,
};

use commit::{commit_to_storage, write_event_log};
use finish::finish;
use plan::prepare;
use progress::{report_progress, PROGRESS_EVERY};
use record::record_files;

#[derive(Debug, Clone)]
pub struct Published {
    pub dataset_id: i64,
    pub version: i32,
    pub doi: String,
    pub concept_doi: String,
}

/// What publication runs with, handed in by the composition root.
#[derive(Clone)]
pub struct Publisher {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub store: Arc<dyn BlobStore>,
    pub ocfl: Arc<OcflRoot>,
    /// Where the draft's files wait until they are copied into storage.
    pub staging: Arc<Staging>,
    pub waker: Waker,
}

/// The publication job of an approved dataset. Idempotent: a dataset already published
/// is left alone, and an interrupted publication is finished rather than repeated.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PublishDataset {
    pub dataset_id: i64,
    pub curator_id: i64,
}

impl Job for PublishDataset {
    const KIND: &'static str = "publish-dataset";
    const MAX_ATTEMPTS: i32 = 10;
    type Context = Publisher;

    fn dedupe_key(&self) -> Option<String> {
        Some(publish_key(self.dataset_id))
    }

    async fn run(self, publisher: &Publisher) -> Result<(), DomainError> {
        let (id, curator_id) = (self.dataset_id, self.curator_id);
        let (curator, state) = publisher
            .db
            .run(move |conn| {
                let curator = crate::accounts::users::find_by_id(conn, curator_id)?;
                let state = service::state_of(&service::dataset_row(conn, id)?)?;
                Ok((curator, state))
            })
            .await?;
        if state != DatasetState::Approved {
            tracing::info!(dataset = id, state = %state, "publication job found nothing to publish");
            return Ok(());
        }
        let started = std::time::Instant::now();
        publish(publisher, &curator, id).await?;
        let metrics = crate::metrics::process();
        metrics.publications.inc();
        metrics
            .publication_duration
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }
}

/// Publishes an approved dataset: DOIs reserved, OCFL commit, database switch. The
/// DOIs' registration is asked for in that last transaction: at once with the local
/// registrar, through `register-doi` jobs with DataCite (publication never waits on it).
async fn publish(publisher: &Publisher, curator: &User, id: i64) -> Result<Published, DomainError> {
    let settings = publisher.settings.clone();
    let curator_for_plan = curator.clone();
    report_progress(publisher, id, PHASE_PREPARING, None, None).await;
    let plan = publisher
        .db
        .transaction(move |conn| prepare(conn, &settings, &curator_for_plan, id))
        .await?;

    crate::crashpoint::hit("publish.after-dois-reserved");
    let to_copy = plan
        .files
        .iter()
        .filter(|f| f.staged_name.is_some())
        .count() as i64;
    report_progress(publisher, id, PHASE_COPYING, Some(0), Some(to_copy)).await;
    let copied = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (publisher, copied) = (publisher.clone(), copied.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let done = copied.load(Ordering::Relaxed) as i64;
                report_progress(&publisher, id, PHASE_COPYING, Some(done), Some(to_copy)).await;
            }
        })
    };
    let committed = commit_to_storage(publisher, &plan, curator, &copied).await;
    ticker.abort();
    let content_paths = committed?;
    let inventory = publisher
        .ocfl
        .inventory_digest(&plan.object_id)
        .await
        .map_err(DomainError::internal)?
        .ok_or_else(|| DomainError::internal("committed object has no inventory"))?;
    crate::crashpoint::hit("publish.after-ocfl-commit");

    let published = Published {
        dataset_id: id,
        version: plan.version.number,
        doi: plan.version_doi.clone(),
        concept_doi: plan.concept_doi.clone(),
    };
    let plan = Arc::new(plan);
    let content_paths = Arc::new(content_paths);
    record_files(publisher, &plan, &content_paths).await?;
    report_progress(publisher, id, PHASE_FINISHING, None, None).await;
    let settings = publisher.settings.clone();
    let notice = Notice {
        kind: NotificationKind::ReviewDecision,
        subject: format!("Published: {}", plan.version.title),
        headline: format!(
            "{} accepted \"{}\"; it is published with DOI {}.",
            curator.name, plan.version.title, plan.version_doi
        ),
        lines: Vec::new(),
        link_path: format!("/datasets/{id}"),
    };
    let owner = plan.dataset.owner_id;
    let object_id = plan.object_id.clone();
    let curator_for_finish = curator.clone();
    publisher
        .db
        .transaction(move |conn| {
            finish(conn, &settings, &plan, &inventory, &curator_for_finish)?;
            mail::notify(conn, &settings, &[owner], &notice)?;
            crate::crashpoint::hit("publish.before-db-commit");
            Ok(())
        })
        .await?;
    crate::crashpoint::hit("publish.after-db-commit");
    // Read after the commit: a large dataset's history (an event per file) is not read
    // while the write transaction holds the database.
    match publisher
        .db
        .run(move |conn| {
            let published: Vec<i32> = crate::deposit::service::published_versions(conn, id)?
                .iter()
                .map(|v| v.number)
                .collect();
            let reader = events::Reader::Public {
                owner_id: owner,
                published_versions: &published,
            };
            Ok(events::history_for(events::of_dataset(conn, id)?, reader))
        })
        .await
    {
        Ok(history) => write_event_log(publisher, &object_id, &history).await,
        Err(e) => {
            tracing::warn!(object = %object_id, error = %e, "could not read the event history for the OCFL object's log")
        }
    }
    crate::crashpoint::hit("publish.after-event-log");
    publisher.waker.wake();
    Ok(published)
}
