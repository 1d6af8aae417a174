//! Registering DOIs with the provider: what the archive asks for ([`request`]), the
//! `register-doi` job that carries it out ([`RegisterDoi`]), and how far it got ([`status`]).
//!
//! A request writes the state the archive wants into `dois.state` in the caller's
//! transaction. With the local registrar that is the whole registration
//! (`provider_state` follows at once). With DataCite it also queues a `register-doi`
//! job (payload: the DOI and the action), so the request never waits on DataCite and a
//! DataCite outage only delays it: the job is retried with backoff, and at start every
//! DOI still out of step is queued again. The job reads the DOI's current row when it
//! runs and brings DataCite to it, so jobs of one DOI may run in any order, twice, or
//! after a crash, and the result is the same.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::provider::{DoiChange, DoiProvider, ProviderError};
use super::record::{self, DoiRow};
use super::DoiState;
use std::sync::Arc;

use crate::accounts::User;
use crate::config::{DoiProviderKind, Settings};
use crate::db::schema::{dataset_versions, dois};
use crate::db::{AnyConnection, Db};
use crate::deposit::service;
use crate::error::DomainError;
use crate::jobs::{Job, JobState};

/// Why a `register-doi` job was queued (its payload's `action`). The job does what the
/// DOI's row asks for when it runs; the action says what changed, and `delete` is the
/// one action that removes a DOI (a draft only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DoiAction {
    /// A draft DOI reserved for an unpublished version.
    Reserve,
    /// Made findable (publication).
    Publish,
    /// Its URL or metadata changed (a new version of the dataset).
    Update,
    /// Hidden: registered, no longer findable (deaccession).
    Hide,
    /// A draft DOI given up.
    Delete,
}

impl DoiAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DoiAction::Reserve => "reserve",
            DoiAction::Publish => "publish",
            DoiAction::Update => "update",
            DoiAction::Hide => "hide",
            DoiAction::Delete => "delete",
        }
    }
}

/// The dedupe key of a DOI's registration jobs (deletions have their own).
pub fn job_key(doi: &str) -> String {
    format!("doi:{doi}")
}

fn delete_key(doi: &str) -> String {
    format!("doi-delete:{doi}")
}

fn is_local(settings: &Settings) -> bool {
    settings.doi_provider == DoiProviderKind::Local
}

fn parse_state(s: &str) -> Result<DoiState, DomainError> {
    DoiState::parse(s).ok_or_else(|| DomainError::internal(format!("unknown DOI state '{s}'")))
}

fn enqueue(conn: &mut AnyConnection, doi: &str, action: DoiAction) -> Result<(), DomainError> {
    crate::jobs::enqueue(
        conn,
        &RegisterDoi {
            doi: doi.to_string(),
            action,
        },
    )?;
    Ok(())
}

/// What registers DOIs: the database, the settings and the provider (the local
/// registrar or DataCite).
#[derive(Clone)]
pub struct Registrar {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub provider: Arc<dyn DoiProvider>,
}

/// The `register-doi` job: bring one DOI's registration at the provider in step with
/// its row.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct RegisterDoi {
    pub doi: String,
    pub action: DoiAction,
}

impl Job for RegisterDoi {
    const KIND: &'static str = "register-doi";
    /// About three weeks of tries (and queued again at start after that): DataCite
    /// being down delays a registration, never loses it.
    const MAX_ATTEMPTS: i32 = 500;
    type Context = Registrar;

    fn dedupe_key(&self) -> Option<String> {
        Some(match self.action {
            DoiAction::Delete => delete_key(&self.doi),
            _ => job_key(&self.doi),
        })
    }

    async fn run(self, registrar: &Registrar) -> Result<(), DomainError> {
        register(registrar, self.doi, self.action).await
    }
}

/// Asks for `doi` to be in `target` at the registration agency, with its current URL
/// and metadata. Runs in the caller's transaction; callers wake the workers after it
/// commits. `Update` with the DOI's present state re-sends its metadata.
pub fn request(
    conn: &mut AnyConnection,
    settings: &Settings,
    doi: &str,
    target: DoiState,
    action: DoiAction,
) -> Result<(), DomainError> {
    let row = record::find_row(conn, doi)?.ok_or(DomainError::NotFound)?;
    let current = parse_state(&row.state)?;
    target.event_from(Some(current))?;
    let now = Utc::now().naive_utc();
    if is_local(settings) {
        diesel::update(dois::table.find(doi))
            .set((
                dois::state.eq(target.as_str()),
                dois::provider_state.eq(Some(target.as_str())),
                dois::provider.eq(Some(DoiProviderKind::Local.as_str())),
                dois::provider_synced_at.eq(Some(now)),
                dois::updated_at.eq(now),
            ))
            .execute(conn)?;
        return Ok(());
    }
    diesel::update(dois::table.find(doi))
        .set((dois::state.eq(target.as_str()), dois::updated_at.eq(now)))
        .execute(conn)?;
    enqueue(conn, doi, action)
}

/// The depositor reserves the DOI of their draft version, to cite it before
/// publication: a draft DOI (DataCite: created in draft state) that publication makes
/// findable. Reserving again returns the same DOI; `true` when it is new.
pub fn reserve_for_draft(
    conn: &mut AnyConnection,
    settings: &Settings,
    actor: &User,
    id: i64,
) -> Result<(String, bool), DomainError> {
    crate::db::transaction(conn, |conn| {
        let (_, version) = service::editable_draft(conn, actor, id)?;
        if let Some(doi) = version.doi {
            return Ok((doi, false));
        }
        let url = record::landing_url(&settings.base_url, id, Some(version.number));
        let doi = super::reserve_draft(conn, settings, id, Some(version.id), &url)?;
        diesel::update(dataset_versions::table.find(version.id))
            .set(dataset_versions::doi.eq(&doi))
            .execute(conn)?;
        if !is_local(settings) {
            enqueue(conn, &doi, DoiAction::Reserve)?;
        }
        Ok((doi, true))
    })
}

/// Gives up a draft DOI: the version no longer carries it, and it is deleted at the
/// agency (DataCite deletes drafts only). A findable or registered DOI is never deleted.
/// What deleting a draft dataset must call for its reserved DOI.
pub fn discard_draft(
    conn: &mut AnyConnection,
    settings: &Settings,
    doi: &str,
) -> Result<(), DomainError> {
    crate::db::transaction(conn, |conn| {
        let row = record::find_row(conn, doi)?.ok_or(DomainError::NotFound)?;
        let state = parse_state(&row.state)?;
        let known = row.provider_state.as_deref().map(parse_state).transpose()?;
        if state != DoiState::Draft || known.is_some_and(|k| k != DoiState::Draft) {
            return Err(DomainError::Conflict(format!(
                "only a draft DOI can be deleted; {doi} is {} and stays registered for good",
                state.as_str()
            )));
        }
        diesel::update(
            dataset_versions::table
                .filter(dataset_versions::doi.eq(doi))
                .filter(dataset_versions::published_at.is_null()),
        )
        .set(dataset_versions::doi.eq(None::<String>))
        .execute(conn)?;
        if is_local(settings) {
            diesel::delete(dois::table.find(doi)).execute(conn)?;
            return Ok(());
        }
        enqueue(conn, doi, DoiAction::Delete)
    })
}

/// What a `register-doi` job has to do, decided from the DOI's row when it runs.
enum Plan {
    Nothing(&'static str),
    Register(DoiChange),
    Delete(Option<DoiState>),
}

fn plan(
    conn: &mut AnyConnection,
    settings: &Settings,
    provider: &str,
    doi: &str,
    action: DoiAction,
) -> Result<Plan, DomainError> {
    let Some(row) = record::find_row(conn, doi)? else {
        return Ok(Plan::Nothing("the DOI is gone"));
    };
    let target = parse_state(&row.state)?;
    // What another provider confirmed (before a switch) says nothing about this one.
    let known = match row.provider.as_deref() {
        Some(p) if p == provider => row.provider_state.as_deref().map(parse_state).transpose()?,
        _ => None,
    };
    if action == DoiAction::Delete {
        if target != DoiState::Draft || known.is_some_and(|k| k != DoiState::Draft) {
            return Ok(Plan::Nothing("a registered DOI is never deleted"));
        }
        return Ok(Plan::Delete(known));
    }
    if action == DoiAction::Reserve && known == Some(target) {
        return Ok(Plan::Nothing("already reserved"));
    }
    let record = record::load(conn, &settings.base_url, &row)?;
    if target != DoiState::Draft && record.is_none() {
        return Err(DomainError::internal(format!(
            "DOI {doi} should be {} but names no published version",
            target.as_str()
        )));
    }
    let url = record.as_ref().map(|r| r.landing_url.clone());
    if let Some(url) = &url {
        if *url != row.url {
            // The archive moved (HOLDFAST_BASE_URL): the DOI follows it.
            diesel::update(dois::table.find(doi))
                .set(dois::url.eq(url))
                .execute(conn)?;
        }
    }
    Ok(Plan::Register(DoiChange {
        doi: row.doi,
        target,
        known,
        url,
        xml: record.map(|r| r.datacite_xml(&settings.site_name)),
    }))
}

/// Records what the agency confirmed.
fn confirm(
    conn: &mut AnyConnection,
    doi: &str,
    state: DoiState,
    provider: &str,
) -> Result<(), DomainError> {
    diesel::update(dois::table.find(doi))
        .set((
            dois::provider_state.eq(Some(state.as_str())),
            dois::provider.eq(Some(provider)),
            dois::provider_synced_at.eq(Some(Utc::now().naive_utc())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes a draft DOI the agency no longer holds.
fn forget(conn: &mut AnyConnection, doi: &str) -> Result<(), DomainError> {
    diesel::update(
        dataset_versions::table
            .filter(dataset_versions::doi.eq(doi))
            .filter(dataset_versions::published_at.is_null()),
    )
    .set(dataset_versions::doi.eq(None::<String>))
    .execute(conn)?;
    diesel::delete(
        dois::table
            .find(doi)
            .filter(dois::state.eq(DoiState::Draft.as_str())),
    )
    .execute(conn)?;
    Ok(())
}

fn provider_failure(e: ProviderError) -> DomainError {
    DomainError::internal(e.to_string())
}

/// Carries out a [`RegisterDoi`] job.
async fn register(
    registrar: &Registrar,
    doi: String,
    action: DoiAction,
) -> Result<(), DomainError> {
    let settings = registrar.settings.clone();
    let provider = registrar.provider.clone();
    let (d, name) = (doi.clone(), provider.name());
    let plan = registrar
        .db
        .run(move |conn| plan(conn, &settings, name, &d, action))
        .await?;
    match plan {
        Plan::Nothing(why) => {
            tracing::debug!(doi = %doi, action = action.as_str(), why, "DOI registration: nothing to do");
            Ok(())
        }
        Plan::Delete(known) => {
            provider
                .delete(&doi, known)
                .await
                .map_err(provider_failure)?;
            tracing::info!(doi = %doi, provider = provider.name(), "draft DOI deleted");
            registrar
                .db
                .transaction(move |conn| forget(conn, &doi))
                .await
        }
        Plan::Register(change) => {
            let target = change.target;
            let state = provider.register(&change).await.map_err(provider_failure)?;
            let (d, name) = (doi.clone(), provider.name());
            registrar
                .db
                .run(move |conn| confirm(conn, &d, state, name))
                .await?;
            if state != target {
                return Err(DomainError::internal(format!(
                    "{} reports {doi} as {} instead of {}",
                    provider.name(),
                    state.as_str(),
                    target.as_str()
                )));
            }
            tracing::info!(doi = %doi, action = action.as_str(), state = state.as_str(), provider = provider.name(), "DOI registered");
            Ok(())
        }
    }
}

/// Work on a DOI's registration not finished yet, from its jobs.
#[derive(Clone, Debug, Serialize)]
pub struct PendingRegistration {
    /// `queued` (waiting, perhaps for a retry), `running`, or `failed` (gave up; queued
    /// again when holdfast restarts).
    pub job_state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// When a queued retry runs.
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// Where one DOI stands.
#[derive(Clone, Debug, Serialize)]
pub struct DoiStatus {
    pub doi: String,
    /// True for a concept DOI.
    pub concept: bool,
    /// What the archive asks for.
    pub state: String,
    /// What the registration agency confirmed; None: nothing yet.
    pub provider_state: Option<String>,
    pub registration: Option<PendingRegistration>,
}

impl DoiStatus {
    /// The state to show as `doi_state`: the agency's, or `pending` while it holds
    /// nothing yet.
    pub fn agency_state(&self) -> &str {
        self.provider_state.as_deref().unwrap_or("pending")
    }

    /// The agency does not hold what the archive asks for yet (or an update is queued).
    pub fn is_pending(&self) -> bool {
        self.registration
            .as_ref()
            .is_some_and(|r| r.job_state != "failed")
            || self.provider_state.as_deref() != Some(self.state.as_str())
    }

    pub fn last_error(&self) -> Option<&str> {
        self.registration.as_ref()?.last_error.as_deref()
    }
}

fn pending_of(
    conn: &mut AnyConnection,
    row: &DoiRow,
) -> Result<Option<PendingRegistration>, DomainError> {
    let recent = crate::jobs::history::recent_of_key(conn, &job_key(&row.doi), 10)?;
    // Jobs newer than the last one that succeeded.
    let open: Vec<_> = recent
        .into_iter()
        .take_while(|job| job.state != JobState::Done)
        .collect();
    if open.is_empty() {
        return Ok(None);
    }
    let has = |state: JobState| open.iter().any(|job| job.state == state);
    let job_state = if has(JobState::Running) {
        JobState::Running
    } else if has(JobState::Queued) {
        JobState::Queued
    } else {
        JobState::Failed
    };
    let in_sync = row.provider_state.as_deref() == Some(row.state.as_str());
    if job_state == JobState::Failed && in_sync {
        return Ok(None);
    }
    Ok(Some(PendingRegistration {
        job_state: job_state.as_str().to_string(),
        attempts: open.iter().map(|job| job.attempts).max().unwrap_or(0),
        last_error: open.iter().find_map(|job| job.last_error.clone()),
        next_attempt_at: open
            .iter()
            .filter(|job| job.state == JobState::Queued)
            .map(|job| job.run_after)
            .min(),
    }))
}

fn status_of_row(
    conn: &mut AnyConnection,
    settings: &Settings,
    mut row: DoiRow,
) -> Result<DoiStatus, DomainError> {
    // A state another provider confirmed (before a switch) is not this provider's.
    if row.provider.as_deref() != Some(settings.doi_provider.as_str()) {
        row.provider_state = None;
    }
    let registration = pending_of(conn, &row)?;
    Ok(DoiStatus {
        concept: row.version_id.is_none(),
        doi: row.doi,
        state: row.state,
        provider_state: row.provider_state,
        registration,
    })
}

/// Where one DOI stands with the configured provider; None for a DOI the archive does
/// not have.
pub fn status(
    conn: &mut AnyConnection,
    settings: &Settings,
    doi: &str,
) -> Result<Option<DoiStatus>, DomainError> {
    match record::find_row(conn, doi)? {
        Some(row) => Ok(Some(status_of_row(conn, settings, row)?)),
        None => Ok(None),
    }
}

/// Every DOI of a dataset, concept DOI first.
pub fn statuses_of_dataset(
    conn: &mut AnyConnection,
    settings: &Settings,
    dataset_id: i64,
) -> Result<Vec<DoiStatus>, DomainError> {
    record::rows_of_dataset(conn, dataset_id)?
        .into_iter()
        .map(|row| status_of_row(conn, settings, row))
        .collect()
}

/// DOIs (not drafts) the configured provider is behind on: not confirmed, confirmed in
/// another state, or confirmed by another provider (before a switch).
fn behind(conn: &mut AnyConnection, provider: &str) -> Result<Vec<(String, String)>, DomainError> {
    Ok(dois::table
        .filter(dois::state.ne(DoiState::Draft.as_str()))
        .filter(
            dois::provider_state
                .is_null()
                .or(dois::provider_state.ne(dois::state.nullable()))
                .or(dois::provider.is_null())
                .or(dois::provider.ne(provider)),
        )
        .select((dois::doi, dois::state))
        .load(conn)?)
}

/// Queues again every DOI the provider is behind on that no job is working on (a job
/// that gave up after its last attempt, or DOIs of an archive switched to DataCite).
/// With the local registrar, whose registry is the table, they are brought in step at
/// once. Run at start.
pub fn resume_unfinished(
    conn: &mut AnyConnection,
    settings: &Settings,
) -> Result<usize, DomainError> {
    let provider = settings.doi_provider.as_str();
    let rows = behind(conn, provider)?;
    if is_local(settings) {
        let now = Utc::now().naive_utc();
        for (doi, state) in &rows {
            diesel::update(dois::table.find(doi))
                .set((
                    dois::provider_state.eq(Some(state)),
                    dois::provider.eq(Some(provider)),
                    dois::provider_synced_at.eq(Some(now)),
                ))
                .execute(conn)?;
        }
        return Ok(rows.len());
    }
    let mut queued = 0;
    for (doi, state) in rows {
        if crate::jobs::is_pending(conn, &job_key(&doi))? {
            continue;
        }
        let action = if state == DoiState::Registered.as_str() {
            DoiAction::Hide
        } else {
            DoiAction::Publish
        };
        enqueue(conn, &doi, action)?;
        queued += 1;
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        for a in [
            DoiAction::Reserve,
            DoiAction::Publish,
            DoiAction::Update,
            DoiAction::Hide,
            DoiAction::Delete,
        ] {
            let json = serde_json::to_string(&a).expect("serialises");
            assert_eq!(
                json,
                format!("\"{}\"", a.as_str()),
                "the payload names it as_str"
            );
            assert_eq!(serde_json::from_str::<DoiAction>(&json).ok(), Some(a));
        }
        assert!(serde_json::from_str::<DoiAction>("\"mint\"").is_err());
    }

    #[test]
    fn a_status_is_pending_until_the_agency_confirms() {
        let mut s = DoiStatus {
            doi: "10.5072/x".into(),
            concept: false,
            state: "findable".into(),
            provider_state: None,
            registration: None,
        };
        assert_eq!(s.agency_state(), "pending");
        assert!(s.is_pending());
        s.provider_state = Some("draft".into());
        assert_eq!(s.agency_state(), "draft");
        assert!(s.is_pending());
        s.provider_state = Some("findable".into());
        assert!(!s.is_pending());
        s.registration = Some(PendingRegistration {
            job_state: "queued".into(),
            attempts: 0,
            last_error: None,
            next_attempt_at: None,
        });
        assert!(s.is_pending(), "a metadata update is on its way");
    }
}
