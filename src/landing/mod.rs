//! What a dataset's landing page shows, read in one go from plain inputs: the version
//! and one page of its files, what the viewer may do with it, its history, the data
//! standards check and tickets, DOIs, usage, fixity and copies. The page handler only
//! presents it (citations, exports, links).
//!
//! A module of its own because it reads across the domains (deposit, qa, tickets,
//! publish, doi, fixity, federation, usage) and none of them depends on it.

use std::collections::HashMap;

use crate::accounts::User;
use crate::config::Settings;
use crate::db::AnyConnection;
use crate::deposit::listing::{self, Listing};
use crate::deposit::model::{DatasetState, DatasetView, TimelineEntry, VersionRow};
use crate::deposit::service;
use crate::doi::registration::{self, DoiStatus};
use crate::error::DomainError;
use crate::federation::policy::DatasetReplication;
use crate::federation::receipts::CopyView;
use crate::fixity::report::Verified;
use crate::publish::PublishProgress;
use crate::qa::validation;
use crate::standards::Status;
use crate::tickets::{self, TicketSummary};
use crate::usage::{self, Usage};

/// Which page of the file list to show.
#[derive(Clone, Debug, Default)]
pub struct FileQuery {
    /// The folder being browsed.
    pub folder: String,
    /// A text the file paths must contain.
    pub filter: String,
    pub page: usize,
}

/// A data standard the archive knows: (name, title).
pub type KnownStandard = (String, String);

/// What a request for a landing page finds.
pub enum Landing {
    Page(Box<LandingPage>),
    /// A deaccessioned dataset seen by someone who is shown its tombstone.
    Tombstone(Box<DatasetView>),
}

/// The landing page of one version of a dataset, as the viewer may see it.
pub struct LandingPage {
    pub view: DatasetView,
    /// One page of the file list.
    pub listing: Listing,
    /// The state changes, for the owner and curators.
    pub transitions: Vec<TimelineEntry>,
    /// The curator's request, shown on top while changes are requested.
    pub change_request: Option<String>,
    /// For the owner and curators of an unpublished version: the check's state and tickets.
    pub qa: Option<QaPanel>,
    /// Published versions, for the version list.
    pub versions: Vec<VersionRow>,
    /// Standards the version's files were checked against, and whether all passed.
    pub standards_passed: Vec<(String, bool)>,
    /// How the publication of an approved dataset is going.
    pub publishing: Option<PublishProgress>,
    /// Views and downloads of a published version (None when they cannot be read).
    pub counts: Option<Usage>,
    /// Where the dataset's DOIs stand at the registration agency.
    pub doi_statuses: Vec<DoiStatus>,
    /// Fixity of the listed files, by content path.
    pub fixity: HashMap<String, Verified>,
    /// The version as a whole: as of its least recently verified file.
    pub version_verified: Option<Verified>,
    /// Replicas partner archives reported holding (receipts), newest version first.
    pub copies: Vec<CopyView>,
    /// For curators and admins: partners' copies and the replication policy.
    pub replication: Option<DatasetReplication>,
    /// The owner or a curator (who see drafts and registration errors).
    pub insider: bool,
    pub can_edit: bool,
    /// Whether the viewer may download the version's files (never a withdrawn one's).
    pub may_download: bool,
    /// The depositor may reserve a DOI for this draft.
    pub can_reserve_doi: bool,
    pub can_review: bool,
    pub can_open_version: bool,
    pub can_deaccession: bool,
}

/// The data standards check and QA tickets, as the dataset page summarises them.
pub struct QaPanel {
    /// "checking", "done" or "not-run".
    pub state: &'static str,
    pub status: &'static str,
    pub errors: u64,
    pub warnings: u64,
    pub blocking: usize,
    pub tickets: Vec<TicketSummary>,
    /// (name, title, claimed) of every standard, for the "standards this dataset follows" form.
    pub standards: Vec<(String, String, bool)>,
}

/// Reads the landing page of dataset `id` (its current version, or version `number`)
/// for `viewer`.
pub fn load(
    conn: &mut AnyConnection,
    settings: &Settings,
    standards: Vec<KnownStandard>,
    viewer: Option<&User>,
    id: i64,
    number: Option<i32>,
    files: &FileQuery,
) -> Result<Landing, DomainError> {
    let view = service::load_landing_view(conn, viewer, id, number)?;
    let access = view.access(viewer);
    if access.sees_tombstone() {
        return Ok(Landing::Tombstone(Box::new(view)));
    }
    let published = view.is_published_version();
    let listing = listing::load(
        conn,
        view.version.id,
        &files.folder,
        &files.filter,
        files.page,
    )?;
    let transitions = if access.may_see_drafts() {
        service::transitions(conn, id)?
    } else {
        Vec::new()
    };
    let qa = match viewer {
        Some(user) if access.may_see_tickets() && !published => {
            Some(qa_panel(conn, user, &view, standards)?)
        }
        _ => None,
    };
    let publishing = if access.may_see_publication_progress() {
        crate::publish::publish_progress(conn, id)?
    } else {
        None
    };
    let (copies, replication) = if published {
        let replication = if access.may_see_replication() {
            crate::federation::policy::of_dataset(conn, settings, id)?
        } else {
            None
        };
        (
            crate::federation::receipts::copies_of(conn, id)?,
            replication,
        )
    } else {
        (Vec::new(), None)
    };
    let can_edit = access.may_edit(published);
    Ok(Landing::Page(Box::new(LandingPage {
        change_request: change_request(&view, &transitions),
        fixity: fixity_of_listed(conn, &view, &listing)?,
        version_verified: version_verified(conn, &view)?,
        counts: published.then(|| usage_counts(conn, id)).flatten(),
        versions: service::published_versions(conn, id)?,
        standards_passed: validation::standards_passed(conn, view.version.id)?,
        doi_statuses: registration::statuses_of_dataset(conn, settings, id)?,
        insider: access.may_see_drafts(),
        can_edit,
        may_download: access.may_download(published),
        can_reserve_doi: can_edit && view.version.doi.is_none(),
        can_review: access.may_review(),
        can_open_version: access.may_open_version(),
        can_deaccession: access.may_deaccession(),
        view,
        listing,
        transitions,
        qa,
        publishing,
        copies,
        replication,
    })))
}

/// The comment of the request for changes, while changes are requested.
fn change_request(view: &DatasetView, transitions: &[TimelineEntry]) -> Option<String> {
    if view.state != DatasetState::ChangesRequested {
        return None;
    }
    transitions
        .iter()
        .rev()
        .find(|t| t.row.to_state == DatasetState::ChangesRequested.as_str())
        .map(|t| t.row.comment.clone())
}

/// Views and downloads, when they can be read: a failure never fails the page.
fn usage_counts(conn: &mut AnyConnection, id: i64) -> Option<Usage> {
    usage::usage_of(conn, id)
        .map_err(|e| tracing::warn!(error = %e, "usage counts could not be read"))
        .ok()
}

/// A published version's fixity: as of its least recently verified file.
fn version_verified(
    conn: &mut AnyConnection,
    view: &DatasetView,
) -> Result<Option<Verified>, DomainError> {
    match (view.version.published_at, view.version.ocfl_version) {
        (Some(_), Some(ocfl_version)) => crate::fixity::report::version_verified(
            conn,
            view.dataset.id,
            view.version.id,
            ocfl_version,
        ),
        _ => Ok(None),
    }
}

/// Fixity of the files on this page of the listing (a draft's new, staged files have
/// none yet).
fn fixity_of_listed(
    conn: &mut AnyConnection,
    view: &DatasetView,
    listing: &Listing,
) -> Result<HashMap<String, Verified>, DomainError> {
    let shown: Vec<&str> = listing
        .files
        .iter()
        .filter(|f| f.staged_name.is_none() || view.is_published_version())
        .filter_map(|f| f.content_path.as_deref())
        .collect();
    if shown.is_empty() {
        return Ok(HashMap::new());
    }
    crate::fixity::report::verified_of_paths(conn, view.dataset.id, &shown)
}

fn qa_panel(
    conn: &mut AnyConnection,
    user: &User,
    view: &DatasetView,
    standards: Vec<KnownStandard>,
) -> Result<QaPanel, DomainError> {
    let report = validation::report_for(conn, user, view.dataset.id)?;
    let claimed: Vec<String> = serde_json::from_str(&view.version.standards).unwrap_or_default();
    Ok(QaPanel {
        state: report.state,
        status: match report.status {
            Some(Status::Error) => "errors",
            Some(Status::Warning) => "warnings",
            Some(Status::Ok) => "ok",
            None => "not checked",
        },
        errors: report.summary.errors,
        warnings: report.summary.warnings,
        blocking: report.blocking,
        tickets: tickets::of_dataset(conn, user, view.dataset.id)?,
        standards: standards
            .into_iter()
            .map(|(name, title)| {
                let on = claimed.contains(&name);
                (name, title, on)
            })
            .collect(),
    })
}
