//! Review of submitted datasets and their publication.
//!
//! Publishing is crash safe and idempotent: DOIs are reserved first, the version is
//! then committed to OCFL storage (the root inventory is the commit point), and only
//! then is the database switched to "published". If the process dies in between, the
//! next attempt finds the committed OCFL version, checks it holds exactly the draft's
//! files, and finishes the database part instead of writing a second version.

use chrono::{Datelike, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::accounts::{access, User};
use crate::config::Settings;
use crate::db::schema::{dataset_versions, datasets, version_files};
use crate::db::AnyConnection;
use crate::db::Db;
use crate::deposit::ingest::Staging;
use crate::deposit::model::{DatasetRow, DatasetState, FileRow, VersionRow};
use crate::deposit::service;
use crate::doi::registration::{self as doi_registration, DoiAction};
use crate::doi::{self, DoiState};
use crate::error::DomainError;
use crate::jobs::{Job, Waker};
use crate::mail::{self, Notice, NotificationKind};
use crate::preservation::events::{self, Agent, EventType, Outcome};
use crate::qa::validation;
use crate::search;
use crate::storage::{BlobStore, OcflRoot};
use crate::storage::{FileSource, NewFile, NewVersion};
use crate::tickets;

mod submit;

pub use submit::submit;

#[derive(Debug, Clone)]
pub struct Published {
    pub dataset_id: i64,
    pub version: i32,
    pub doi: String,
    pub concept_doi: String,
}

struct PublishPlan {
    dataset: DatasetRow,
    version: VersionRow,
    files: Vec<FileRow>,
    object_id: String,
    concept_doi: String,
    version_doi: String,
    ocfl_version: u32,
    metadata_json: String,
}

fn require_curator(user: &User) -> Result<(), DomainError> {
    access::require_curator(user, "review submissions")
}

/// A curator's note for the history: trimmed, bounded, optional or required.
fn review_comment(comment: &str, required: bool) -> Result<String, DomainError> {
    tickets::clean_text("comment", comment, required, 10_000)
}

fn state_of(conn: &mut AnyConnection, id: i64) -> Result<(DatasetRow, DatasetState), DomainError> {
    let row: DatasetRow = datasets::table
        .find(id)
        .select(DatasetRow::as_select())
        .first(conn)?;
    let state = row.state.parse().map_err(DomainError::internal)?;
    Ok((row, state))
}

fn require_in_review(state: DatasetState, action: &str) -> Result<(), DomainError> {
    if matches!(state, DatasetState::Submitted | DatasetState::InReview) {
        Ok(())
    } else {
        Err(DomainError::Conflict(format!(
            "only a submitted dataset can be {action}; this one is {}",
            state.label().to_lowercase()
        )))
    }
}

fn set_assignee(conn: &mut AnyConnection, id: i64, curator: i64) -> Result<(), DomainError> {
    diesel::update(datasets::table.find(id))
        .set(datasets::assignee_id.eq(Some(curator)))
        .execute(conn)?;
    Ok(())
}

/// A curator takes a submission: it is in review and assigned to them.
pub fn claim(conn: &mut AnyConnection, curator: &User, id: i64) -> Result<(), DomainError> {
    require_curator(curator)?;
    crate::db::transaction(conn, |conn| {
        let (_, state) = state_of(conn, id)?;
        if state != DatasetState::Submitted {
            return Err(DomainError::Conflict(format!(
                "only a submitted dataset can be claimed; this one is {}",
                state.label().to_lowercase()
            )));
        }
        service::set_state(
            conn,
            id,
            DatasetState::Submitted,
            DatasetState::InReview,
            curator.id,
            &format!("claimed for review by {}", curator.name),
        )?;
        set_assignee(conn, id, curator.id)
    })
}

/// Takes a submission into review on the way, when a curator decides without claiming.
fn claim_on_the_way(
    conn: &mut AnyConnection,
    curator: &User,
    id: i64,
    state: DatasetState,
) -> Result<(), DomainError> {
    if state == DatasetState::Submitted {
        service::set_state(
            conn,
            id,
            DatasetState::Submitted,
            DatasetState::InReview,
            curator.id,
            &format!("claimed for review by {}", curator.name),
        )?;
        set_assignee(conn, id, curator.id)?;
    }
    Ok(())
}

/// The curator sends the dataset back: the draft reopens with the request on top and
/// the depositor is told.
pub fn request_changes(
    conn: &mut AnyConnection,
    settings: &Settings,
    curator: &User,
    id: i64,
    comment: &str,
) -> Result<(), DomainError> {
    require_curator(curator)?;
    let comment = review_comment(comment, true)?;
    crate::db::transaction(conn, |conn| {
        let (row, state) = state_of(conn, id)?;
        require_in_review(state, "sent back")?;
        claim_on_the_way(conn, curator, id, state)?;
        service::set_state(
            conn,
            id,
            DatasetState::InReview,
            DatasetState::ChangesRequested,
            curator.id,
            &comment,
        )?;
        let view = service::load_landing_view(conn, Some(curator), id, None)?;
        let notice = Notice {
            kind: NotificationKind::ReviewDecision,
            subject: format!("Changes requested: {}", view.version.title),
            headline: format!(
                "{} asks for changes to \"{}\" before it can be published.",
                curator.name, view.version.title
            ),
            lines: vec![comment.clone()],
            link_path: format!("/datasets/{id}"),
        };
        mail::notify(conn, settings, &[row.owner_id], &notice)
    })
}

/// The curator approves: the dataset is publishing in the background (the publication
/// job) and the page shows progress until the DOI is findable.
pub fn approve(
    conn: &mut AnyConnection,
    curator: &User,
    id: i64,
    comment: &str,
) -> Result<(), DomainError> {
    require_curator(curator)?;
    let comment = review_comment(comment, false)?;
    crate::db::transaction(conn, |conn| {
        let (_, state) = state_of(conn, id)?;
        require_in_review(state, "approved")?;
        let view = service::load_landing_view(conn, Some(curator), id, None)?;
        if validation::is_checking(conn, view.version.id)? {
            return Err(DomainError::Conflict(
                "the data standards check of this dataset is still running; try again in a moment"
                    .into(),
            ));
        }
        tickets::ensure_no_blocking_items(conn, id)?;
        claim_on_the_way(conn, curator, id, state)?;
        let note = if comment.is_empty() {
            "approved".to_string()
        } else {
            format!("approved: {comment}")
        };
        service::set_state(
            conn,
            id,
            DatasetState::InReview,
            DatasetState::Approved,
            curator.id,
            &note,
        )?;
        crate::jobs::enqueue(
            conn,
            &PublishDataset {
                dataset_id: id,
                curator_id: curator.id,
            },
        )?;
        Ok(())
    })
}

/// Which part of the review queue to show.
#[derive(Clone, Debug)]
pub struct QueueFilter {
    pub states: Vec<DatasetState>,
    /// None: anyone; Some(None): unassigned; Some(Some(id)): that curator.
    pub assignee: Option<Option<i64>>,
}

impl QueueFilter {
    /// From the queue page's parameters: `state` (empty for every state in curation)
    /// and `assignee` (empty, `me`, `none` or a curator's id).
    pub fn parse(state: &str, assignee: &str, me: i64) -> Result<QueueFilter, DomainError> {
        let states = match state {
            "" => vec![
                DatasetState::Submitted,
                DatasetState::InReview,
                DatasetState::Approved,
            ],
            other => {
                let s: DatasetState = other
                    .parse()
                    .map_err(|_| DomainError::BadRequest(format!("unknown state '{other}'")))?;
                if !s.in_curation() {
                    return Err(DomainError::BadRequest(format!(
                        "'{other}' is not a state of the review queue"
                    )));
                }
                vec![s]
            }
        };
        let assignee = match assignee {
            "" => None,
            "me" => Some(Some(me)),
            "none" => Some(None),
            id => Some(Some(id.parse::<i64>().map_err(|_| {
                DomainError::BadRequest("assignee must be me, none or a curator's id".into())
            })?)),
        };
        Ok(QueueFilter { states, assignee })
    }
}

/// One line of the review queue.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueueEntry {
    pub dataset: crate::deposit::model::DatasetSummary,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    /// When it last entered the queue (its latest submission).
    pub queued_at: NaiveDateTime,
    pub blocking_items: i64,
}

impl QueueEntry {
    /// Time in the queue, as a person reads it: "3 d", "5 h", "12 min".
    pub fn age(&self) -> String {
        let minutes = (Utc::now().naive_utc() - self.queued_at)
            .num_minutes()
            .max(0);
        match minutes {
            m if m >= 60 * 24 => format!("{} d", m / (60 * 24)),
            m if m >= 60 => format!("{} h", m / 60),
            m => format!("{m} min"),
        }
    }
}

/// The review queue: a fixed number of queries whatever its length.
pub fn queue(
    conn: &mut AnyConnection,
    filter: &QueueFilter,
    limit: i64,
) -> Result<Vec<QueueEntry>, DomainError> {
    use crate::db::schema::{dataset_transitions, users};
    use std::collections::HashMap;
    let rows = service::list_for_curation(conn, &filter.states, filter.assignee, limit)?;
    let ids: Vec<i64> = rows.iter().map(|(d, _)| d.id).collect();
    let mut submitted: HashMap<i64, NaiveDateTime> = HashMap::new();
    for chunk in ids.chunks(500) {
        let times: Vec<(i64, Option<NaiveDateTime>)> = dataset_transitions::table
            .filter(dataset_transitions::dataset_id.eq_any(chunk))
            .filter(dataset_transitions::to_state.eq(DatasetState::Submitted.as_str()))
            .group_by(dataset_transitions::dataset_id)
            .select((
                dataset_transitions::dataset_id,
                diesel::dsl::max(dataset_transitions::created_at),
            ))
            .load(conn)?;
        submitted.extend(times.into_iter().filter_map(|(id, t)| t.map(|t| (id, t))));
    }
    let blocking = tickets::blocking_counts(conn, &ids)?;
    let assignee_ids: Vec<i64> = rows.iter().filter_map(|(_, a)| *a).collect();
    let names: HashMap<i64, String> = users::table
        .filter(users::id.eq_any(&assignee_ids))
        .select((users::id, users::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let mut entries: Vec<QueueEntry> = rows
        .into_iter()
        .map(|(dataset, assignee_id)| QueueEntry {
            queued_at: submitted
                .get(&dataset.id)
                .copied()
                .unwrap_or(dataset.updated_at),
            blocking_items: blocking.get(&dataset.id).copied().unwrap_or(0),
            assignee_name: assignee_id.and_then(|a| names.get(&a).cloned()),
            assignee_id,
            dataset,
        })
        .collect();
    entries.sort_by_key(|e| e.queued_at);
    Ok(entries)
}

/// How often the publication job notes how many files it has copied.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

pub(crate) fn publish_key(id: i64) -> String {
    format!("publish:{id}")
}

/// How the publication of an approved dataset is going, for its page and the API.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PublishProgress {
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// What the running job is doing: `preparing`, `copying` (files into storage),
    /// `recording` (files in the database) or `finishing`; None before it starts.
    pub phase: Option<String>,
    /// Files done in this phase, of `total`.
    pub done: Option<i64>,
    pub total: Option<i64>,
}

impl PublishProgress {
    /// "copying files into storage: 1,200 of 100,000", for the page.
    pub fn describe(&self) -> Option<String> {
        let label = match self.phase.as_deref()? {
            PHASE_PREPARING => "preparing",
            PHASE_COPYING => "copying files into storage",
            PHASE_RECORDING => "recording files",
            PHASE_FINISHING => "finishing",
            other => other,
        };
        Some(match (self.done, self.total) {
            (Some(done), Some(total)) => format!("{label}: {done} of {total} files"),
            _ => label.to_string(),
        })
    }
}

pub const PHASE_PREPARING: &str = "preparing";
pub const PHASE_COPYING: &str = "copying";
pub const PHASE_RECORDING: &str = "recording";
pub const PHASE_FINISHING: &str = "finishing";

pub fn publish_progress(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<PublishProgress>, DomainError> {
    use crate::db::schema::jobs;
    type Row = (
        String,
        i32,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    Ok(jobs::table
        .filter(jobs::dedupe_key.eq(publish_key(id)))
        .order(jobs::id.desc())
        .select((
            jobs::state,
            jobs::attempts,
            jobs::last_error,
            jobs::progress_phase,
            jobs::progress_done,
            jobs::progress_total,
        ))
        .first::<Row>(conn)
        .optional()?
        .map(
            |(state, attempts, last_error, phase, done, total)| PublishProgress {
                state,
                attempts,
                last_error,
                phase,
                done,
                total,
            },
        ))
}

/// Notes on the running publication job of dataset `id` what it is doing (nothing
/// when the publication runs outside a job).
fn set_publish_progress(
    conn: &mut AnyConnection,
    id: i64,
    phase: &str,
    done: Option<i64>,
    total: Option<i64>,
) -> Result<(), DomainError> {
    use crate::db::schema::jobs;
    diesel::update(
        jobs::table
            .filter(jobs::dedupe_key.eq(publish_key(id)))
            .filter(jobs::state.eq("running")),
    )
    .set((
        jobs::progress_phase.eq(phase),
        jobs::progress_done.eq(done),
        jobs::progress_total.eq(total),
    ))
    .execute(conn)?;
    Ok(())
}

async fn report_progress(
    publisher: &Publisher,
    id: i64,
    phase: &'static str,
    done: Option<i64>,
    total: Option<i64>,
) {
    let written = publisher
        .db
        .run(move |conn| set_publish_progress(conn, id, phase, done, total))
        .await;
    if let Err(e) = written {
        tracing::warn!(dataset = id, error = %e, "could not note the publication's progress");
    }
}

/// Files recorded per database transaction when a publication is switched over: each
/// chunk commits on its own, so no transaction (nor SQLite's write lock) spans a whole
/// large dataset.
const RECORD_CHUNK: usize = 1000;

/// Approves and wakes the workers: what the review form and API call for "accept".
pub async fn accept(
    db: &Db,
    waker: &Waker,
    curator: &User,
    id: i64,
    comment: &str,
) -> Result<(), DomainError> {
    let (curator, comment) = (curator.clone(), comment.to_string());
    db.run(move |conn| approve(conn, &curator, id, &comment))
        .await?;
    waker.wake();
    Ok(())
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
                let (_, state) = state_of(conn, id)?;
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
        .run(move |conn| events::of_dataset(conn, id))
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

/// Switches the version's files over to their stored bytes, [`RECORD_CHUNK`] files per
/// transaction: content path set, staged blob released (deleted once its chunk has
/// committed), the digest recorded (PREMIS) and the stored file registered for fixity
/// audits. Idempotent, so a publication interrupted between chunks resumes: a file
/// whose staged blob is already released was done before.
async fn record_files(
    publisher: &Publisher,
    plan: &Arc<PublishPlan>,
    content_paths: &Arc<BTreeMap<String, String>>,
) -> Result<(), DomainError> {
    let id = plan.dataset.id;
    let total = plan.files.len();
    let mut start = 0;
    while start < total {
        let end = (start + RECORD_CHUNK).min(total);
        report_progress(
            publisher,
            id,
            PHASE_RECORDING,
            Some(start as i64),
            Some(total as i64),
        )
        .await;
        let (plan_for_db, paths) = (plan.clone(), content_paths.clone());
        let released = publisher
            .db
            .transaction(move |conn| {
                record_chunk(conn, &plan_for_db, &plan_for_db.files[start..end], &paths)
            })
            .await?;
        crate::crashpoint::hit("publish.after-file-chunk");
        publisher.staging.remove_blobs(released).await;
        start = end;
    }
    Ok(())
}

/// One chunk of [`record_files`]; returns the staged blobs it released.
fn record_chunk(
    conn: &mut AnyConnection,
    plan: &PublishPlan,
    files: &[FileRow],
    content_paths: &BTreeMap<String, String>,
) -> Result<Vec<String>, DomainError> {
    let version_subject = events::Subject {
        dataset_id: Some(plan.dataset.id),
        version: Some(plan.version.number),
        ..Default::default()
    };
    let ids: Vec<i64> = files.iter().map(|f| f.id).collect();
    // What the database holds now: an earlier attempt may have done part of this chunk.
    let still_staged: std::collections::HashSet<i64> = version_files::table
        .filter(version_files::id.eq_any(&ids))
        .filter(version_files::staged_name.is_not_null())
        .select(version_files::id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let mut released = Vec::new();
    for f in files {
        // Identical bytes are stored once; files carried over point into earlier versions.
        let content_path = content_paths.get(&f.sha256).ok_or_else(|| {
            DomainError::internal(format!("'{}' is missing from the OCFL manifest", f.path))
        })?;
        if still_staged.contains(&f.id) {
            events::record(
                conn,
                EventType::MessageDigestCalculation,
                &events::Subject {
                    file_path: Some(&f.path),
                    file_sha256: Some(&f.sha256),
                    ..version_subject.clone()
                },
                "sha256 computed while the upload was received, verified again when copied into storage",
                Outcome::Success,
                &format!("sha256:{} ({} bytes)", f.sha256, f.size),
                Agent::Holdfast,
            )?;
            released.extend(f.staged_name.clone());
        }
        if still_staged.contains(&f.id) || f.content_path.as_deref() != Some(content_path) {
            diesel::update(version_files::table.find(f.id))
                .set((
                    version_files::staged_name.eq(None::<String>),
                    version_files::content_path.eq(content_path),
                ))
                .execute(conn)?;
        }
    }
    register_stored_content(conn, plan, files, content_paths)?;
    Ok(released)
}

/// Writes the dataset's event history into its OCFL object (`logs/`, which OCFL leaves
/// outside versions), so the history travels with the content. A failure is logged:
/// the database keeps the history either way.
async fn write_event_log(publisher: &Publisher, object_id: &str, history: &[events::EventRow]) {
    let key = format!(
        "{}/logs/premis-events.xml",
        publisher.ocfl.object_root(object_id)
    );
    crate::crashpoint::hit("publish.before-event-log");
    let written = match events::premis_xml(object_id, history) {
        Ok(xml) => publisher
            .store
            .put_bytes(&key, bytes::Bytes::from(xml))
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = written {
        tracing::warn!(object = %object_id, error = %e, "could not write the event log into the OCFL object");
    }
}

/// An admin withdraws a published dataset: a tombstone page stays, its DOIs keep
/// resolving to it (registered, no longer findable: DataCite's `hide`), and its files
/// are no longer served. Callers wake the workers afterwards (DataCite jobs).
pub fn deaccession(
    conn: &mut AnyConnection,
    settings: &Settings,
    admin: &User,
    id: i64,
    reason: &str,
) -> Result<(), DomainError> {
    access::require_admin(admin, "deaccession a dataset")?;
    let reason = tickets::clean_text("reason", reason, true, 10_000)?;
    crate::db::transaction(conn, |conn| {
        let (row, state) = state_of(conn, id)?;
        if state != DatasetState::Published {
            return Err(DomainError::Conflict(format!(
                "only a published dataset can be deaccessioned; this one is {}",
                state.label().to_lowercase()
            )));
        }
        diesel::update(datasets::table.find(id))
            .set(datasets::deaccession_reason.eq(Some(&reason)))
            .execute(conn)?;
        service::set_state(
            conn,
            id,
            DatasetState::Published,
            DatasetState::Deaccessioned,
            admin.id,
            &format!("deaccessioned: {reason}"),
        )?;
        // Drafts (reserved, never published) have nothing to hide.
        let dois: Vec<String> = crate::db::schema::dois::table
            .filter(crate::db::schema::dois::dataset_id.eq(row.id))
            .filter(crate::db::schema::dois::state.ne(DoiState::Draft.as_str()))
            .select(crate::db::schema::dois::doi)
            .load(conn)?;
        for d in dois {
            doi_registration::request(conn, settings, &d, DoiState::Registered, DoiAction::Hide)?;
        }
        // A withdrawn dataset is no longer found by search; OAI-PMH shows it deleted.
        search::remove_dataset(conn, id)?;
        crate::samples::remove_dataset(conn, id)?;
        crate::federation::sync_dataset(conn, id)?;
        events::record(
            conn,
            EventType::Deaccession,
            &events::Subject {
                dataset_id: Some(id),
                ..Default::default()
            },
            &format!("Withdrawn from public access: {reason}"),
            Outcome::Success,
            "files kept in storage, no longer served; DOIs registered, not findable",
            Agent::Person(admin),
        )?;
        crate::crashpoint::hit("deaccession.before-commit");
        Ok(())
    })
}

/// Checks the dataset can be published and reserves its DOIs (kept on retry; a DOI the
/// depositor reserved for the draft is the version's DOI).
fn prepare(
    conn: &mut crate::db::AnyConnection,
    settings: &Settings,
    curator: &User,
    id: i64,
) -> Result<PublishPlan, DomainError> {
    let base_url = settings.base_url.as_str();
    let publisher = settings.site_name.as_str();
    let view = service::load_view(conn, Some(curator), id, None)?;
    if view.state != DatasetState::Approved {
        return Err(DomainError::Conflict(format!(
            "only approved datasets are published; this one is {}",
            view.state.label().to_lowercase()
        )));
    }
    let landing = doi::record::landing_url(base_url, id, None);
    let concept_doi = match &view.dataset.concept_doi {
        Some(doi) => doi.clone(),
        None => {
            let doi = doi::reserve_draft(conn, settings, id, None, &landing)?;
            diesel::update(datasets::table.find(id))
                .set((
                    datasets::concept_doi.eq(&doi),
                    datasets::ocfl_object_id.eq(format!("doi:{doi}")),
                ))
                .execute(conn)?;
            doi
        }
    };
    let version_doi = match &view.version.doi {
        Some(doi) => doi.clone(),
        None => {
            let url = doi::record::landing_url(base_url, id, Some(view.version.number));
            let doi = doi::reserve_draft(conn, settings, id, Some(view.version.id), &url)?;
            diesel::update(dataset_versions::table.find(view.version.id))
                .set(dataset_versions::doi.eq(&doi))
                .execute(conn)?;
            doi
        }
    };
    // The published record names its publisher, year, version and DOI.
    let mut metadata = view.metadata.clone();
    metadata.publisher = Some(crate::deposit::metadata::Publisher {
        name: publisher.to_string(),
        ..Default::default()
    });
    metadata.publication_year = Some(Utc::now().year());
    metadata.version = Some(view.version.number.to_string());
    crate::samples::link_igsns(conn, view.version.id, &mut metadata)?;
    let metadata_json = serde_json::to_string(&metadata).map_err(DomainError::internal)?;
    let published_before: i64 = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(id))
        .filter(dataset_versions::published_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(PublishPlan {
        object_id: format!("doi:{concept_doi}"),
        ocfl_version: u32::try_from(published_before + 1).map_err(DomainError::internal)?,
        dataset: view.dataset,
        version: view.version,
        files: view.files,
        concept_doi,
        version_doi,
        metadata_json,
    })
}

/// Writes the version into OCFL storage, or recognises that an earlier attempt did.
/// Returns where each digest's bytes live in the object (its first content path).
async fn commit_to_storage(
    publisher: &Publisher,
    plan: &PublishPlan,
    curator: &User,
    copied: &AtomicU64,
) -> Result<BTreeMap<String, String>, DomainError> {
    let ocfl = &publisher.ocfl;
    // A crash inside an earlier commit can leave an uncommitted version directory or a
    // root inventory without its sidecar; bring the object back to its last committed
    // state before looking at it.
    let recovered = ocfl
        .recover_object(&plan.object_id)
        .await
        .map_err(DomainError::internal)?;
    if recovered.changed() {
        tracing::warn!(object = %plan.object_id, ?recovered, "recovered an OCFL object left by an interrupted commit");
    }
    let existing = ocfl
        .inventory(&plan.object_id)
        .await
        .map_err(DomainError::internal)?;
    let head = match &existing {
        Some(inv) => inv.head_number().map_err(DomainError::internal)?,
        None => 0,
    };
    if head >= plan.ocfl_version {
        // An earlier attempt committed this version before the process stopped.
        let wanted: BTreeMap<&str, &str> = plan
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.sha256.as_str()))
            .collect();
        let stored = existing
            .as_ref()
            .map(|inv| inv.logical_state(plan.ocfl_version))
            .unwrap_or_default();
        let stored: BTreeMap<&str, &str> = stored
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_str()))
            .collect();
        if head == plan.ocfl_version && stored == wanted {
            tracing::info!(object = %plan.object_id, version = head, "finishing an interrupted publication");
            return Ok(existing.map(|inv| inv.content_paths()).unwrap_or_default());
        }
        return Err(DomainError::internal(format!(
            "OCFL object {} is at version {head} but the database expects {}; run recovery",
            plan.object_id, plan.ocfl_version
        )));
    }
    let mut files = Vec::with_capacity(plan.files.len());
    for f in &plan.files {
        let source = match &f.staged_name {
            Some(blob) => FileSource::Local(publisher.staging.blob_path(blob)?),
            None => FileSource::Existing,
        };
        files.push(NewFile {
            logical_path: f.path.clone(),
            sha256: f.sha256.clone(),
            source,
        });
    }
    let version = NewVersion {
        created: Utc::now(),
        message: format!(
            "Version {} published ({})",
            plan.version.number, plan.version_doi
        ),
        user_name: curator.name.clone(),
        user_address: Some(format!("mailto:{}", curator.email)),
        files,
    };
    ocfl.commit_version_counted(&plan.object_id, version, copied)
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::DigestMismatch { path, .. } => DomainError::Conflict(
                format!("the stored bytes of '{path}' no longer match their sha256; the depositor must upload it again"),
            ),
            other => DomainError::internal(other),
        })?;
    let inventory = ocfl
        .inventory(&plan.object_id)
        .await
        .map_err(DomainError::internal)?
        .ok_or_else(|| DomainError::internal("committed object has no inventory"))?;
    Ok(inventory.content_paths())
}

/// Puts content files of the version in the fixity register (those carried over are
/// there already).
fn register_stored_content(
    conn: &mut AnyConnection,
    plan: &PublishPlan,
    files: &[FileRow],
    content_paths: &BTreeMap<String, String>,
) -> Result<(), DomainError> {
    use crate::fixity::{Kind, NewStoredFile};
    let rows: Vec<NewStoredFile> = files
        .iter()
        .filter_map(|f| {
            content_paths.get(&f.sha256).map(|path| NewStoredFile {
                kind: Kind::Content,
                content_path: path,
                sha256: &f.sha256,
                size: f.size,
            })
        })
        .collect();
    crate::fixity::files::register(conn, plan.dataset.id, &plan.object_id, &rows)?;
    Ok(())
}

/// Puts the new root and version inventories in the fixity register.
fn register_stored_inventories(
    conn: &mut AnyConnection,
    plan: &PublishPlan,
    (inventory_sha256, inventory_size): &(String, u64),
) -> Result<(), DomainError> {
    use crate::fixity::{Kind, NewStoredFile};
    let inventory_size = i64::try_from(*inventory_size).map_err(DomainError::internal)?;
    let version_inventory = format!("v{}/inventory.json", plan.ocfl_version);
    let rows: Vec<NewStoredFile> = ["inventory.json", version_inventory.as_str()]
        .into_iter()
        .map(|path| NewStoredFile {
            kind: Kind::Inventory,
            content_path: path,
            sha256: inventory_sha256,
            size: inventory_size,
        })
        .collect();
    crate::fixity::files::register(conn, plan.dataset.id, &plan.object_id, &rows)?;
    Ok(())
}

/// Switches the database to "published" once the bytes are committed, and asks for the
/// DOIs: the version's made findable; the concept DOI made findable on the first
/// publication, else updated (it now names this version as its latest and lists it
/// with HasVersion); the previous version's updated (IsPreviousVersionOf this one).
fn finish(
    conn: &mut crate::db::AnyConnection,
    settings: &Settings,
    plan: &PublishPlan,
    inventory: &(String, u64),
    curator: &User,
) -> Result<(), DomainError> {
    let curator_id = curator.id;
    let version_subject = events::Subject {
        dataset_id: Some(plan.dataset.id),
        version: Some(plan.version.number),
        ..Default::default()
    };
    events::record(
        conn,
        EventType::Ingestion,
        &version_subject,
        &format!(
            "Version {} ({} files) committed to OCFL object {} as v{} with DOI {}",
            plan.version.number,
            plan.files.len(),
            plan.object_id,
            plan.ocfl_version,
            plan.version_doi
        ),
        Outcome::Success,
        "",
        Agent::Person(curator),
    )?;
    let now: NaiveDateTime = Utc::now().naive_utc();
    let ocfl_version = i32::try_from(plan.ocfl_version).map_err(DomainError::internal)?;
    diesel::update(dataset_versions::table.find(plan.version.id))
        .set((
            dataset_versions::published_at.eq(now),
            dataset_versions::ocfl_version.eq(ocfl_version),
            dataset_versions::metadata.eq(&plan.metadata_json),
            dataset_versions::updated_at.eq(now),
        ))
        .execute(conn)?;
    register_stored_inventories(conn, plan, inventory)?;
    let concept_state = doi::state_of(conn, &plan.concept_doi)?;
    let concept_action = if concept_state.as_deref() == Some(DoiState::Findable.as_str()) {
        DoiAction::Update
    } else {
        DoiAction::Publish
    };
    doi_registration::request(
        conn,
        settings,
        &plan.concept_doi,
        DoiState::Findable,
        concept_action,
    )?;
    doi_registration::request(
        conn,
        settings,
        &plan.version_doi,
        DoiState::Findable,
        DoiAction::Publish,
    )?;
    let previous: Option<String> = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(plan.dataset.id))
        .filter(dataset_versions::number.lt(plan.version.number))
        .filter(dataset_versions::published_at.is_not_null())
        .order(dataset_versions::number.desc())
        .select(dataset_versions::doi)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    if let Some(previous) = previous {
        if doi::state_of(conn, &previous)?.as_deref() == Some(DoiState::Findable.as_str()) {
            doi_registration::request(
                conn,
                settings,
                &previous,
                DoiState::Findable,
                DoiAction::Update,
            )?;
        }
    }
    search::index_dataset(conn, plan.dataset.id)?;
    crate::samples::index_dataset(conn, plan.dataset.id)?;
    crate::federation::sync_dataset(conn, plan.dataset.id)?;
    service::set_state(
        conn,
        plan.dataset.id,
        DatasetState::Approved,
        DatasetState::Published,
        curator_id,
        &format!("published as {}", plan.version_doi),
    )
}
