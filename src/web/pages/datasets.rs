use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt;
use std::borrow::Borrow;

use super::{human_size, FormErrors, PageCtx};
use crate::accounts::User;
use crate::app::Archive;
pub use crate::deposit::ingest::encode_path;
use crate::deposit::listing::{self, Listing};
use crate::deposit::metadata::{self, form::FormState, vocab};
use crate::deposit::model::{DatasetState, DatasetSummary, DatasetView, TimelineEntry};
use crate::deposit::{service, uploads};
use crate::doi::export::signposting;
use crate::doi::export::CitationStyle;
use crate::doi::registration::{self, DoiStatus};
use crate::error::{DomainError, FieldError};
use crate::qa::validation;
use crate::standards::Status;
use crate::tickets::{self, TicketSummary};
use crate::usage;
use crate::web::auth::{
    field, read_form, read_text_field, verify_csrf, SignedIn, Viewer, CSRF_FIELD, SMALL_FIELD,
};
use crate::web::errors::{redirect, render, PageError};
use crate::web::pages::{count_usage, exports, signposting as signposts, usage_text};

/// Metadata forms are small; 512 KiB leaves room for long abstracts and many creators.
const METADATA_FORM_LIMIT: usize = 512 * 1024;

#[derive(Template)]
#[template(path = "my_datasets.html")]
struct MyDatasetsPage {
    page: PageCtx,
    datasets: Vec<DatasetSummary>,
}

pub async fn mine(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
) -> Result<HttpResponse, PageError> {
    let owner = user.0.id;
    let datasets = archive
        .db
        .run(move |conn| service::list_owned(conn, owner))
        .await?;
    render(
        StatusCode::OK,
        &MyDatasetsPage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            datasets,
        },
    )
}

/// The metadata form's values and errors, in the shape the template asks for them.
pub struct MetadataForm {
    state: FormState,
    errors: FormErrors,
}

impl MetadataForm {
    /// `errors` must already name form fields (see `form_errors`).
    fn new(state: FormState, errors: Vec<FieldError>) -> Self {
        MetadataForm {
            state,
            errors: FormErrors(errors),
        }
    }

    /// Row indexes to show for a list: the filled ones plus `spare` empty ones.
    pub fn rows(&self, list: &str, spare: usize) -> Vec<usize> {
        (0..self.state.row_count(list) + spare).collect()
    }

    pub fn v(&self, list: &str, i: impl Borrow<usize>, name: &str) -> &str {
        self.state.get(&format!("{list}[{}].{name}", i.borrow()))
    }

    pub fn s(&self, name: &str) -> &str {
        self.state.get(name)
    }

    pub fn e(&self, list: &str, i: impl Borrow<usize>, name: &str) -> Option<&str> {
        self.errors.get(&format!("{list}[{}].{name}", i.borrow()))
    }

    pub fn se(&self, name: &str) -> Option<&str> {
        self.errors.get(name)
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn all_errors(&self) -> &[FieldError] {
        &self.errors.0
    }

    pub fn resource_types(&self) -> &'static [&'static str] {
        vocab::RESOURCE_TYPE_GENERAL
    }

    pub fn date_types(&self) -> &'static [&'static str] {
        vocab::DATE_TYPE
    }

    pub fn related_identifier_types(&self) -> &'static [&'static str] {
        vocab::RELATED_IDENTIFIER_TYPE
    }

    pub fn relation_types(&self) -> &'static [&'static str] {
        vocab::RELATION_TYPE
    }

    pub fn funder_identifier_types(&self) -> &'static [&'static str] {
        vocab::FUNDER_IDENTIFIER_TYPE
    }

    pub fn licenses(&self) -> &'static [vocab::License] {
        vocab::LICENSES
    }
}

#[derive(Template)]
#[template(path = "dataset_form.html")]
struct DatasetFormPage {
    page: PageCtx,
    /// None while creating a new dataset.
    dataset_id: Option<i64>,
    form: MetadataForm,
}

fn form_page(
    req: &HttpRequest,
    archive: &Archive,
    user: User,
    dataset_id: Option<i64>,
    form: MetadataForm,
) -> Result<HttpResponse, PageError> {
    let status = if form.has_errors() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &DatasetFormPage {
            page: PageCtx::new(req, archive, Some(user)),
            dataset_id,
            form,
        },
    )
}

pub async fn new_form(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
) -> Result<HttpResponse, PageError> {
    let mut state = FormState::default();
    // Start the first creator with the depositor's name: the common case.
    state.set("creators[0].name", &user.0.name);
    state.set("creators[0].nameType", "Personal");
    state.set("types.resourceTypeGeneral", "Dataset");
    state.set("license", "CC-BY-4.0");
    form_page(
        &req,
        &archive,
        user.0,
        None,
        MetadataForm::new(state, Vec::new()),
    )
}

pub async fn create(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let pairs = read_form(&req, payload, METADATA_FORM_LIMIT).await?;
    let outcome = metadata::check_form(&pairs);
    let mut errors = outcome.errors;
    if errors.is_empty() {
        let owner = user.0.clone();
        let parsed = outcome.metadata;
        match archive
            .db
            .run(move |conn| service::create(conn, &owner, parsed))
            .await
        {
            Ok(id) => return Ok(redirect(&format!("/datasets/{id}"))),
            Err(DomainError::Invalid(fields)) => errors.extend(form_errors(fields)),
            Err(other) => return Err(other.into()),
        }
    }
    form_page(
        &req,
        &archive,
        user.0,
        None,
        MetadataForm::new(outcome.state, errors),
    )
}

/// Renames errors found on stored metadata (DataCite paths) to the form's field names.
fn form_errors(fields: Vec<FieldError>) -> impl Iterator<Item = FieldError> {
    fields
        .into_iter()
        .map(|e| FieldError::new(metadata::form::form_field_for(&e.field), e.message))
}

pub async fn edit_form(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let actor = user.0.clone();
    let metadata = archive
        .db
        .run(move |conn| {
            let (_, version) = service::editable_draft(conn, &actor, id)?;
            service::parse_stored_metadata(&version.metadata)
        })
        .await?;
    let state = metadata::form::to_form(&metadata);
    form_page(
        &req,
        &archive,
        user.0,
        Some(id),
        MetadataForm::new(state, Vec::new()),
    )
}

pub async fn update(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let pairs = read_form(&req, payload, METADATA_FORM_LIMIT).await?;
    let outcome = metadata::check_form(&pairs);
    let mut errors = outcome.errors;
    if errors.is_empty() {
        let actor = user.0.clone();
        let parsed = outcome.metadata;
        match archive
            .db
            .run(move |conn| service::update_metadata(conn, &actor, id, parsed))
            .await
        {
            Ok(()) => {
                archive.wake_workers();
                return Ok(redirect(&format!("/datasets/{id}")));
            }
            Err(DomainError::Invalid(fields)) => errors.extend(form_errors(fields)),
            Err(other) => return Err(other.into()),
        }
    }
    form_page(
        &req,
        &archive,
        user.0,
        Some(id),
        MetadataForm::new(outcome.state, errors),
    )
}

#[derive(Template)]
#[template(path = "dataset.html")]
struct DatasetPage {
    page: PageCtx,
    view: DatasetView,
    /// Citation text in the chosen style (published versions only).
    citation: String,
    styles: Vec<StyleLink>,
    /// (URL, label) of each export format.
    exports: Vec<(String, &'static str)>,
    /// schema.org JSON-LD, escaped for a script element.
    jsonld: Option<String>,
    can_edit: bool,
    can_review: bool,
    transitions: Vec<TimelineEntry>,
    /// Published versions, for the version list.
    versions: Vec<crate::deposit::model::VersionRow>,
    /// The curator's request, shown on top while changes are requested.
    change_request: Option<String>,
    /// One page of the file list.
    listing: Listing,
    /// Standards the version's files were checked against, and whether all passed.
    standards_passed: Vec<(String, bool)>,
    /// How the publication of an approved dataset is going.
    publishing: Option<crate::publish::PublishProgress>,
    can_open_version: bool,
    can_deaccession: bool,
    message: Option<String>,
    file_base: String,
    /// For the owner and curators of an unpublished version: the check's state and tickets.
    qa: Option<QaPanel>,
    /// FAIR Signposting links of a published version, repeated as HTML `<link>` elements.
    signposts: Vec<signposting::Target>,
    /// Whole-version downloads, when the version has files.
    packages: Option<PackageLinks>,
    /// "N views · M downloads" of a published dataset.
    usage: Option<String>,
    /// Where the dataset's DOIs stand at the registration agency.
    doi_statuses: Vec<DoiStatus>,
    /// The depositor may reserve a DOI for this draft.
    can_reserve_doi: bool,
    /// The owner or a curator (who see registration errors).
    insider: bool,
    /// Fixity of the dataset's stored files, by content path.
    fixity: std::collections::HashMap<String, crate::fixity::report::Verified>,
    /// The version as a whole: as of its least recently verified file.
    version_verified: Option<crate::fixity::report::Verified>,
    /// For curators and admins: partners' copies and the replication policy.
    replication: Option<crate::federation::policy::DatasetReplication>,
    /// Replicas partner archives reported holding (receipts), newest version first.
    copies: Vec<crate::federation::receipts::CopyView>,
}

/// Where the whole version can be downloaded.
pub struct PackageLinks {
    pub zip: String,
    pub bagit: String,
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

impl DatasetPage {
    /// "verified 2026-12-02 10:00 UTC", or the failure, of a stored file.
    fn verified(
        &self,
        f: &crate::deposit::model::FileRow,
    ) -> Option<&crate::fixity::report::Verified> {
        if f.staged_name.is_some() && !self.view.is_published_version() {
            return None;
        }
        f.content_path.as_ref().and_then(|p| self.fixity.get(p))
    }

    fn size(&self, bytes: impl Borrow<i64>) -> String {
        human_size(bytes.borrow())
    }

    fn iso(&self, t: &chrono::NaiveDateTime) -> String {
        crate::fixity::record::iso(*t)
    }

    fn geo_text(&self, g: &metadata::GeoLocation) -> String {
        let fmt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_else(|| "?".into());
        let mut parts = Vec::new();
        if let Some(place) = &g.geo_location_place {
            parts.push(place.clone());
        }
        if let Some(p) = &g.geo_location_point {
            parts.push(format!(
                "({}, {})",
                fmt(p.point_latitude),
                fmt(p.point_longitude)
            ));
        }
        if let Some(b) = &g.geo_location_box {
            parts.push(format!(
                "[W {}, E {}, S {}, N {}]",
                fmt(b.west_bound_longitude),
                fmt(b.east_bound_longitude),
                fmt(b.south_bound_latitude),
                fmt(b.north_bound_latitude)
            ));
        }
        parts.join(" ")
    }

    fn abstract_text(&self) -> &str {
        self.view
            .metadata
            .descriptions
            .iter()
            .find(|d| d.description_type == "Abstract")
            .map(|d| d.description.as_str())
            .unwrap_or("")
    }

    fn license(&self) -> Option<&'static vocab::License> {
        self.view
            .metadata
            .rights_list
            .first()
            .and_then(|r| r.rights_identifier.as_deref())
            .and_then(vocab::license)
    }

    fn keywords(&self) -> String {
        self.view
            .metadata
            .subjects
            .iter()
            .map(|s| s.subject.as_str())
            .collect::<Vec<_>>()
            // Not commas: a keyword may hold one.
            .join("; ")
    }

    fn encoded(&self, path: &str) -> String {
        encode_path(path)
    }

    /// A link to the file list with the given folder, filter and page.
    fn list_link(&self, folder: &str, filter: &str, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !folder.is_empty() {
            pairs.push(("folder", folder.to_string()));
        }
        if !filter.is_empty() {
            pairs.push(("q", filter.to_string()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if query.is_empty() {
            "?#files".to_string()
        } else {
            format!("?{query}#files")
        }
    }

    /// The registration state of this version's DOI: `draft`, `findable`, ... or `pending`.
    fn version_doi_state(&self) -> &str {
        self.version_doi_status()
            .map(DoiStatus::agency_state)
            .unwrap_or("pending")
    }

    fn version_doi_status(&self) -> Option<&DoiStatus> {
        let doi = self.view.version.doi.as_deref()?;
        self.doi_statuses.iter().find(|s| s.doi == doi)
    }

    /// One line per DOI whose registration is not finished: what is under way and,
    /// for the depositor and curators, why the last attempt failed.
    fn doi_notes(&self) -> Vec<String> {
        let published = self.view.is_published_version();
        self.doi_statuses
            .iter()
            .filter(|s| s.is_pending())
            // A published page speaks of its published DOIs; a draft's of its reserved one.
            .filter(|s| {
                if published {
                    s.state != "draft"
                } else {
                    Some(s.doi.as_str()) == self.view.version.doi.as_deref()
                }
            })
            .map(|s| doi_note(s, self.insider))
            .collect()
    }
}

fn doi_note(s: &DoiStatus, insider: bool) -> String {
    let what = match s.state.as_str() {
        "draft" => "reservation",
        "registered" => "hiding (deaccession)",
        _ => "registration",
    };
    let which = if s.concept {
        format!("{} (all versions)", s.doi)
    } else {
        s.doi.clone()
    };
    let job = s.registration.as_ref();
    let detail = match (job, insider) {
        (Some(j), true) if j.job_state == "failed" => format!(
            "gave up after {} attempts (last error: {}); it is tried again when the archive restarts",
            j.attempts,
            j.last_error.as_deref().unwrap_or("unknown")
        ),
        (Some(j), true) if j.last_error.is_some() => format!(
            "last attempt failed ({}), retrying{}",
            j.last_error.as_deref().unwrap_or(""),
            j.next_attempt_at
                .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default()
        ),
        (Some(j), _) if j.job_state == "running" => "under way".to_string(),
        _ => "queued; the DOI may not resolve at doi.org yet".to_string(),
    };
    format!("DOI {what} pending for {which}: {detail}.")
}

#[derive(serde::Deserialize)]
pub struct LandingQuery {
    msg: Option<String>,
    style: Option<String>,
    /// The folder of the file list being browsed.
    folder: Option<String>,
    /// A text the file paths must contain.
    q: Option<String>,
    page: Option<usize>,
}

/// One entry of the citation style switcher.
pub struct StyleLink {
    pub name: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn flash(code: Option<&str>) -> Option<String> {
    match code? {
        "uploaded" => Some("Files added to the draft.".into()),
        "removed" => Some("File removed from the draft.".into()),
        "submitted" => Some("Submitted. A curator will review the dataset.".into()),
        "published" => Some("Accepted and published.".into()),
        "approved" => Some("Approved: the dataset is being published.".into()),
        "claimed" => Some("You are reviewing this dataset.".into()),
        "changes_requested" => Some("Changes requested; the depositor was told.".into()),
        "new_version" => {
            Some("A new version is open as a draft; the published versions stay public.".into())
        }
        "deaccessioned" => Some("Deaccessioned: a tombstone page replaces the dataset.".into()),
        "standards" => Some("Standards saved; the files are being checked.".into()),
        "doi_reserved" => Some(
            "DOI reserved. It is a draft DOI: cite it now; it resolves once the dataset is published."
                .into(),
        ),
        _ => None,
    }
}

async fn show_version(
    req: &HttpRequest,
    archive: &Archive,
    viewer: Option<User>,
    id: i64,
    number: Option<i32>,
    query: &LandingQuery,
) -> Result<HttpResponse, PageError> {
    let v = viewer.clone();
    let standards: Vec<(String, String)> = archive
        .standards
        .standards
        .iter()
        .map(|s| (s.name.clone(), s.title.clone()))
        .collect();
    let settings = archive.settings.clone();
    let query_folder = query.folder.clone().unwrap_or_default();
    let query_filter = query.q.clone().unwrap_or_default();
    let query_page = query.page.unwrap_or(1);
    let (
        (view, fixity, listing, copies, replication),
        transitions,
        qa,
        versions,
        publishing,
        standards_passed,
        counts,
        doi_statuses,
    ) = archive
        .db
        .run(move |conn| {
            let view = service::load_landing_view(conn, v.as_ref(), id, number)?;
            let listing = listing::load(
                conn,
                view.version.id,
                &query_folder,
                &query_filter,
                query_page,
            )?;
            let access = view.access(v.as_ref());
            let transitions = if access.may_see_drafts() {
                service::transitions(conn, id)?
            } else {
                Vec::new()
            };
            let qa = match &v {
                Some(user) if access.may_see_tickets() && !view.is_published_version() => {
                    Some(qa_panel(conn, user, &view, standards)?)
                }
                _ => None,
            };
            let versions = service::published_versions(conn, id)?;
            let standards_passed = validation::standards_passed(conn, view.version.id)?;
            let publishing = if access.may_see_publication_progress() {
                crate::publish::publish_progress(conn, id)?
            } else {
                None
            };
            // Counts are shown when they can be read; a failure never fails the page.
            let counts = if view.is_published_version() {
                usage::usage_of(conn, id)
                    .map_err(|e| tracing::warn!(error = %e, "usage counts could not be read"))
                    .ok()
            } else {
                None
            };
            let doi_statuses = registration::statuses_of_dataset(conn, &settings, id)?;
            let fixity = match (view.version.published_at, view.version.ocfl_version) {
                (Some(_), Some(ocfl_version)) => crate::fixity::report::version_verified(
                    conn,
                    id,
                    view.version.id,
                    ocfl_version,
                )?,
                _ => None,
            };
            let copies = if view.is_published_version() {
                crate::federation::receipts::copies_of(conn, id)?
            } else {
                Vec::new()
            };
            let replication = if access.may_see_replication() && view.is_published_version() {
                crate::federation::policy::of_dataset(conn, &settings, id)?
            } else {
                None
            };
            Ok((
                (view, fixity, listing, copies, replication),
                transitions,
                qa,
                versions,
                publishing,
                standards_passed,
                counts,
                doi_statuses,
            ))
        })
        .await?;
    let access = view.access(viewer.as_ref());
    if access.sees_tombstone() {
        return super::tombstone::page(req, archive, viewer, &view, number);
    }
    let change_request = if view.state == DatasetState::ChangesRequested {
        transitions
            .iter()
            .rev()
            .find(|t| t.row.to_state == DatasetState::ChangesRequested.as_str())
            .map(|t| t.row.comment.clone())
    } else {
        None
    };
    let insider = access.may_see_drafts();
    let can_edit = access.may_edit(view.is_published_version());
    let can_reserve_doi = can_edit && view.version.doi.is_none();
    let can_review = access.may_review();
    let can_open_version = access.may_open_version();
    let can_deaccession = access.may_deaccession();
    let file_base = match number {
        Some(n) => format!("/datasets/{id}/versions/{n}/files"),
        None => format!("/datasets/{id}/files"),
    };
    let chosen: CitationStyle = query
        .style
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CitationStyle::Apa);
    let (citation, styles, exports, jsonld) = if view.is_published_version() {
        let texts = exports::citations(archive, &view)?;
        let citation = texts
            .iter()
            .find(|(style, _)| *style == chosen)
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
        let styles = texts
            .iter()
            .map(|(style, _)| StyleLink {
                name: style.as_str(),
                label: style.label(),
                selected: *style == chosen,
            })
            .collect();
        let base = format!("/datasets/{id}/versions/{}/export", view.version.number);
        let links = exports::Format::ALL
            .iter()
            .map(|f| (format!("{base}/{}", f.name()), f.label()))
            .collect();
        (
            citation,
            styles,
            links,
            Some(exports::jsonld_for_page(archive, &view)?),
        )
    } else {
        (String::new(), Vec::new(), Vec::new(), None)
    };
    let links = signposts::landing_targets(archive, &view, number)?;
    let header = signposting::header_value(&links);
    let packages = view.has_files().then(|| {
        let base = format!("/datasets/{id}/versions/{}/download", view.version.number);
        PackageLinks {
            zip: format!("{base}?format=zip"),
            bagit: format!("{base}?format=bagit"),
        }
    });
    let published = view.is_published_version().then_some(view.version.number);
    let version_verified = fixity;
    // Only the files on this page of the listing.
    let shown: Vec<String> = listing
        .files
        .iter()
        .filter(|f| f.staged_name.is_none() || view.is_published_version())
        .filter_map(|f| f.content_path.clone())
        .collect();
    let fixity = if shown.is_empty() {
        std::collections::HashMap::new()
    } else {
        archive
            .db
            .run(move |conn| {
                let paths: Vec<&str> = shown.iter().map(String::as_str).collect();
                crate::fixity::report::verified_of_paths(conn, id, &paths)
            })
            .await?
    };
    let page = DatasetPage {
        fixity,
        version_verified,
        replication,
        copies,
        signposts: links,
        packages,
        usage: counts.map(|c| usage_text(&c.total)),
        citation,
        styles,
        exports,
        jsonld,
        page: PageCtx::new(req, archive, viewer),
        view,
        can_edit,
        can_review,
        transitions,
        versions,
        change_request,
        publishing,
        can_open_version,
        can_deaccession,
        listing,
        standards_passed,
        message: flash(query.msg.as_deref()),
        file_base,
        qa,
        doi_statuses,
        can_reserve_doi,
        insider,
    };
    let mut response = render(StatusCode::OK, &page)?;
    if !page.signposts.is_empty() {
        if let Some(value) = signposts::link_value(&header) {
            response
                .headers_mut()
                .insert(actix_web::http::header::LINK, value);
        }
    }
    if let Some(version) = published {
        count_usage(req, archive, id, version, usage::Kind::View);
    }
    Ok(response)
}

fn qa_panel(
    conn: &mut crate::db::AnyConnection,
    user: &User,
    view: &DatasetView,
    standards: Vec<(String, String)>,
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

/// Saves the standards the depositor says the dataset follows (checkboxes `standards`).
pub async fn set_standards(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form = read_form(&req, payload, 16 * 1024).await?;
    let claimed: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "standards")
        .map(|(_, v)| v.clone())
        .collect();
    let known: Vec<String> = archive
        .standards
        .standards
        .iter()
        .map(|s| s.name.clone())
        .collect();
    archive
        .db
        .run(move |conn| service::set_claimed_standards(conn, &user.0, id, &claimed, &known))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/datasets/{id}?msg=standards")))
}

pub async fn show(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<i64>,
    query: web::Query<LandingQuery>,
) -> Result<HttpResponse, PageError> {
    show_version(&req, &archive, viewer.0, path.into_inner(), None, &query).await
}

pub async fn show_numbered(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, i32)>,
    query: web::Query<LandingQuery>,
) -> Result<HttpResponse, PageError> {
    let (id, n) = path.into_inner();
    show_version(&req, &archive, viewer.0, id, Some(n), &query).await
}

/// Form upload: several files at once, optionally into a folder, zips optionally
/// unpacked. Fields must come in the form's order: csrf_token first, then folder and
/// unpack, then the files; a request whose first field is not a valid token is refused
/// before any byte is stored.
pub async fn upload(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    mut multipart: Multipart,
    limits: web::Data<crate::web::limits::Limits>,
) -> Result<HttpResponse, PageError> {
    let _uploading = match limits.upload(user.0.id) {
        Ok(permit) => permit,
        Err(busy) => return Ok(busy.response()),
    };
    let id = path.into_inner();
    let actor = user.0.clone();
    archive
        .db
        .run(move |conn| service::editable_draft(conn, &actor, id).map(|_| ()))
        .await?;
    let mut csrf_checked = false;
    let mut folder = String::new();
    let mut unpack = false;
    let mut received = Vec::new();
    let result: Result<(), DomainError> = async {
        while let Some(item) = multipart.next().await {
            let mut part =
                item.map_err(|e| DomainError::BadRequest(format!("reading the upload: {e}")))?;
            let name = part.name().unwrap_or("").to_string();
            let filename = part
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_string);
            if !csrf_checked {
                let value = if name == CSRF_FIELD {
                    Some(read_text_field(&mut part, SMALL_FIELD).await?)
                } else {
                    None
                };
                verify_csrf(&req, value.as_deref())?;
                csrf_checked = true;
                continue;
            }
            match (name.as_str(), filename) {
                ("folder", None) => folder = read_text_field(&mut part, SMALL_FIELD).await?,
                ("unpack", None) => {
                    unpack = !read_text_field(&mut part, SMALL_FIELD).await?.is_empty()
                }
                ("files", Some(filename)) => {
                    if filename.is_empty() {
                        continue; // the browser sends an empty part when no file was chosen
                    }
                    let dataset_path =
                        uploads::parse_path(&uploads::join_folder(&folder, &filename))?;
                    let staged = archive
                        .staging
                        .stage_stream(&mut part, archive.settings.max_upload_bytes)
                        .await?;
                    let is_zip = dataset_path.as_str().to_lowercase().ends_with(".zip");
                    received.push(uploads::Upload {
                        path: dataset_path,
                        staged,
                        unpack: unpack && is_zip,
                    });
                }
                _ => {
                    return Err(DomainError::BadRequest(format!(
                        "unexpected form field '{name}'"
                    )))
                }
            }
        }
        if !csrf_checked {
            verify_csrf(&req, None)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        archive
            .staging
            .discard(received.iter().map(|u| &u.staged))
            .await;
        return Err(e.into());
    }
    uploads::add_uploads(&archive.uploads(), &user.0, id, received).await?;
    Ok(redirect(&format!("/datasets/{id}?msg=uploaded")))
}

pub async fn remove_file(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form = read_form(&req, payload, 16 * 1024).await?;
    let file_path = uploads::parse_path(field(&form, "path"))?;
    uploads::remove_file(&archive.uploads(), &user.0, id, file_path).await?;
    Ok(redirect(&format!("/datasets/{id}?msg=removed")))
}

/// The depositor reserves a DOI for the draft (the draft page's button).
pub async fn reserve_doi(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    read_form(&req, payload, 4096).await?;
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| registration::reserve_for_draft(conn, &settings, &user.0, id))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/datasets/{id}?msg=doi_reserved")))
}

pub async fn submit(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    read_form(&req, payload, 4096).await?;
    let actor = user.0;
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| crate::curation::submit(conn, &settings, &actor, id))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/datasets/{id}?msg=submitted")))
}
