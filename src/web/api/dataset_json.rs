//! A dataset as the API shows it: its DataCite metadata with the archive's fields
//! beside it, its files, links, DOI registration, versions, usage and copies.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::accounts::User;
use crate::app::Archive;
use crate::deposit::model::{DatasetView, FileRow};
use crate::deposit::service;
use crate::doi::registration;
use crate::error::DomainError;
use crate::usage;
use crate::web::errors::ApiError;
use crate::web::pages::datasets::encode_path;

/// Where to go from a dataset.
#[derive(Serialize)]
struct Links {
    #[serde(rename = "self")]
    this: String,
    landing_page: String,
    files: String,
    validation: String,
    tickets: String,
    /// The FAIR Signposting link set, of a published version.
    #[serde(skip_serializing_if = "Option::is_none")]
    linkset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    download_zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    download_bagit: Option<String>,
}

impl Links {
    fn of(archive: &Archive, view: &DatasetView, downloadable: bool) -> Links {
        let base = &archive.settings.base_url;
        let id = view.dataset.id;
        let version = format!("{base}/datasets/{id}/versions/{}", view.version.number);
        let download = |format: &str| {
            (downloadable && view.has_files())
                .then(|| format!("{version}/download?format={format}"))
        };
        Links {
            this: format!("{base}/api/datasets/{id}"),
            landing_page: format!("{base}/datasets/{id}"),
            files: format!("{base}/api/datasets/{id}/files/"),
            validation: format!("{base}/api/datasets/{id}/validation"),
            tickets: format!("{base}/api/datasets/{id}/tickets"),
            linkset: view
                .is_published_version()
                .then(|| format!("{version}/linkset")),
            download_zip: download("zip"),
            download_bagit: download("bagit"),
        }
    }
}

#[derive(Serialize)]
pub struct FileJson<'a> {
    path: &'a str,
    size: i64,
    sha256: &'a str,
    media_type: &'a str,
    /// None when the reader may not download it (a withdrawn dataset's files).
    #[serde(skip_serializing_if = "Option::is_none")]
    download: Option<String>,
}

pub fn file_json<'a>(
    archive: &Archive,
    id: i64,
    f: &'a FileRow,
    downloadable: bool,
) -> FileJson<'a> {
    FileJson {
        path: &f.path,
        size: f.size,
        sha256: &f.sha256,
        media_type: &f.media_type,
        download: downloadable.then(|| {
            format!(
                "{}/datasets/{id}/files/{}",
                archive.settings.base_url,
                encode_path(&f.path)
            )
        }),
    }
}

fn to_value(value: impl Serialize) -> Result<Value, DomainError> {
    serde_json::to_value(value).map_err(DomainError::internal)
}

fn iso(t: chrono::NaiveDateTime) -> String {
    t.and_utc().to_rfc3339()
}

/// The metadata with the archive's own fields set over it (a map, not a struct: the
/// metadata's own keys, such as DataCite's `version`, give way to the archive's). Links
/// to the files and packages only where `viewer` may download them.
fn dataset_json(
    archive: &Archive,
    view: &DatasetView,
    viewer: Option<&User>,
) -> Result<Map<String, Value>, DomainError> {
    let id = view.dataset.id;
    let downloadable = view
        .access(viewer)
        .may_download(view.is_published_version());
    let mut out = match to_value(&view.metadata)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let published = view.is_published_version();
    let files: Vec<FileJson> = view
        .files
        .iter()
        .map(|f| file_json(archive, id, f, downloadable))
        .collect();
    let claimed: Vec<String> = serde_json::from_str(&view.version.standards).unwrap_or_default();
    let fields = [
        ("id", json!(id)),
        ("state", json!(view.state)),
        ("version", json!(view.version.number)),
        // A draft's DOI is one the depositor reserved (only they and curators see drafts).
        ("doi", json!(view.version.doi)),
        (
            "concept_doi",
            json!(view.dataset.concept_doi.as_ref().filter(|_| published)),
        ),
        ("published_at", json!(view.version.published_at.map(iso))),
        ("created_at", json!(iso(view.dataset.created_at))),
        ("updated_at", json!(iso(view.dataset.updated_at))),
        ("files", to_value(files)?),
        ("standards", json!(claimed)),
        ("links", to_value(Links::of(archive, view, downloadable))?),
    ];
    out.extend(fields.map(|(k, v)| (k.to_string(), v)));
    if let Some(reason) = &view.dataset.deaccession_reason {
        out.insert("deaccession_reason".into(), json!(reason));
    }
    Ok(out)
}

/// A DOI registration still under way; `null` when the agency holds what the archive
/// asks for.
#[derive(Serialize)]
struct RegistrationJson<'a> {
    target_state: &'a str,
    state: &'a str,
    attempts: i32,
    /// For the depositor and curators only.
    last_error: Option<&'a String>,
    next_attempt_at: Option<String>,
}

fn registration_json(
    status: Option<&registration::DoiStatus>,
    insider: bool,
) -> Option<RegistrationJson<'_>> {
    let status = status.filter(|s| s.is_pending())?;
    let job = status.registration.as_ref();
    Some(RegistrationJson {
        target_state: &status.state,
        state: job.map(|j| j.job_state.as_str()).unwrap_or("queued"),
        attempts: job.map(|j| j.attempts).unwrap_or(0),
        last_error: job.and_then(|j| j.last_error.as_ref()).filter(|_| insider),
        next_attempt_at: job.and_then(|j| j.next_attempt_at).map(iso),
    })
}

/// One published version in the dataset's `versions`.
#[derive(Serialize)]
struct VersionJson<'a> {
    version: i32,
    doi: &'a Option<String>,
    published_at: Option<String>,
}

/// Views of the landing pages and downloads, once per visitor per dataset per hour,
/// robots left out.
#[derive(Serialize)]
struct UsageJson {
    views: i64,
    downloads: i64,
    versions: Vec<VersionUsageJson>,
}

#[derive(Serialize)]
struct VersionUsageJson {
    version: i32,
    views: i64,
    downloads: i64,
}

impl UsageJson {
    fn of(u: &usage::Usage) -> UsageJson {
        UsageJson {
            views: u.total.views,
            downloads: u.total.downloads,
            versions: u
                .versions
                .iter()
                .map(|(n, c)| VersionUsageJson {
                    version: *n,
                    views: c.views,
                    downloads: c.downloads,
                })
                .collect(),
        }
    }
}

pub async fn view_json(
    archive: &Archive,
    viewer: Option<User>,
    id: i64,
) -> Result<Value, ApiError> {
    view_json_with(archive, viewer, id, true).await
}

/// What the dataset's JSON is made of, read in one database call.
struct Parts {
    view: DatasetView,
    versions: Vec<crate::deposit::model::VersionRow>,
    doi_status: Option<registration::DoiStatus>,
    concept_status: Option<registration::DoiStatus>,
    counts: Option<usage::Usage>,
    publishing: Option<crate::publish::PublishProgress>,
    copies: Vec<crate::federation::receipts::CopyView>,
}

fn load_parts(
    conn: &mut crate::db::AnyConnection,
    settings: &crate::config::Settings,
    viewer: Option<&User>,
    id: i64,
    with_files: bool,
) -> Result<Parts, DomainError> {
    let view = if with_files {
        service::load_view(conn, viewer, id, None)?
    } else {
        service::load_landing_view(conn, viewer, id, None)?
    };
    let copies = crate::federation::receipts::copies_of(conn, id)?;
    // The publication job's progress (phase, files done of total), while it runs.
    let publishing = if view.access(viewer).may_see_publication_progress() {
        crate::publish::publish_progress(conn, id)?
    } else {
        None
    };
    let versions = service::published_versions(conn, id)?;
    let doi_status = match &view.version.doi {
        Some(d) => registration::status(conn, settings, d)?,
        None => None,
    };
    let concept_status = match &view.dataset.concept_doi {
        Some(d) if view.is_published_version() => registration::status(conn, settings, d)?,
        _ => None,
    };
    // Counts that cannot be read are reported as null, never as an error.
    let counts = usage::usage_of(conn, id)
        .map_err(|e| tracing::warn!(error = %e, "usage counts could not be read"))
        .ok();
    Ok(Parts {
        view,
        versions,
        doi_status,
        concept_status,
        counts,
        publishing,
        copies,
    })
}

/// The dataset's JSON; `with_files: false` leaves out its file list (`file_count` and
/// `file_bytes` stay), for clients polling a large dataset.
pub async fn view_json_with(
    archive: &Archive,
    viewer: Option<User>,
    id: i64,
    with_files: bool,
) -> Result<Value, ApiError> {
    let settings = archive.settings.clone();
    let reader = viewer.clone();
    let parts = archive
        .db
        .run(move |conn| load_parts(conn, &settings, reader.as_ref(), id, with_files))
        .await?;
    let view = &parts.view;
    let insider = view.access(viewer.as_ref()).may_see_drafts();
    let mut body = dataset_json(archive, view, viewer.as_ref())?;
    if !with_files {
        body.remove("files");
    }
    let versions: Vec<VersionJson> = parts
        .versions
        .iter()
        .map(|v| VersionJson {
            version: v.number,
            doi: &v.doi,
            published_at: v.published_at.map(iso),
        })
        .collect();
    let (doi, concept) = (parts.doi_status.as_ref(), parts.concept_status.as_ref());
    let fields = [
        ("file_count", json!(view.file_count)),
        ("file_bytes", json!(view.file_bytes)),
        // The DOI's state at the registration agency ("pending" until it holds it), and
        // the registration still under way, if any (its errors for insiders only).
        ("doi_state", json!(doi.map(|s| s.agency_state()))),
        (
            "doi_registration",
            to_value(registration_json(doi, insider))?,
        ),
        (
            "concept_doi_state",
            json!(concept.map(|s| s.agency_state())),
        ),
        (
            "concept_doi_registration",
            to_value(registration_json(concept, insider))?,
        ),
        ("versions", to_value(versions)?),
        ("usage", to_value(parts.counts.as_ref().map(UsageJson::of))?),
        ("publishing", to_value(&parts.publishing)?),
        // Replicas partner archives reported holding (also /api/datasets/{id}/copies).
        ("copies", to_value(&parts.copies)?),
    ];
    body.extend(fields.map(|(k, v)| (k.to_string(), v)));
    Ok(Value::Object(body))
}
