//! A dataset's landing page (any version; the depositor's draft included) and "my
//! datasets". What the page shows is read by `crate::landing`; this presents it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::borrow::Borrow;

use super::{human_size, PageCtx};
use crate::accounts::User;
use crate::app::Archive;
pub use crate::deposit::ingest::encode_path;
use crate::deposit::metadata::{self, vocab};
use crate::deposit::model::DatasetSummary;
use crate::deposit::service;
use crate::doi::export::signposting;
use crate::doi::export::CitationStyle;
use crate::doi::registration::DoiStatus;
use crate::error::DomainError;
use crate::landing::{self, FileQuery, Landing, LandingPage};
use crate::usage;
use crate::web::auth::{SignedIn, Viewer};
use crate::web::errors::{render, PageError};
use crate::web::pages::{count_usage, exports, usage_text};
use crate::web::protocols::signposting as signposts;

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

#[derive(Template)]
#[template(path = "dataset.html")]
struct DatasetPage {
    page: PageCtx,
    /// What the page shows; its fields are read as the page's own (`Deref`).
    landing: LandingPage,
    /// Citation text in the chosen style (published versions only).
    citation: String,
    styles: Vec<StyleLink>,
    /// (URL, label) of each export format.
    exports: Vec<(String, &'static str)>,
    /// schema.org JSON-LD, escaped for a script element.
    jsonld: Option<String>,
    /// Highwire, Dublin Core and Open Graph tags of a published version.
    meta: Vec<crate::doi::export::MetaTag>,
    /// The version's canonical URL, once published.
    canonical: Option<String>,
    message: Option<String>,
    file_base: String,
    /// FAIR Signposting links of a published version, repeated as HTML `<link>` elements.
    signposts: Vec<signposting::Target>,
    /// Whole-version downloads, when the version has files.
    packages: Option<PackageLinks>,
    /// "N views · M downloads" of a published dataset.
    usage: Option<String>,
}

impl std::ops::Deref for DatasetPage {
    type Target = LandingPage;

    fn deref(&self) -> &LandingPage {
        &self.landing
    }
}

/// Where the whole version can be downloaded.
pub struct PackageLinks {
    pub zip: String,
    pub bagit: String,
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
    let standards: Vec<landing::KnownStandard> = archive
        .standards
        .standards
        .iter()
        .map(|s| (s.name.clone(), s.title.clone()))
        .collect();
    let settings = archive.settings.clone();
    let files = FileQuery {
        folder: query.folder.clone().unwrap_or_default(),
        filter: query.q.clone().unwrap_or_default(),
        page: query.page.unwrap_or(1),
    };
    let reader = viewer.clone();
    let found = archive
        .db
        .run(move |conn| {
            landing::load(
                conn,
                &settings,
                standards,
                reader.as_ref(),
                id,
                number,
                &files,
            )
        })
        .await?;
    let landing = match found {
        Landing::Page(page) => *page,
        Landing::Tombstone(view) => {
            return super::tombstone::page(req, archive, viewer, &view, number)
        }
    };
    let published = landing
        .view
        .is_published_version()
        .then_some(landing.view.version.number);
    let page = present(req, archive, viewer, landing, number, query)?;
    let mut response = render(StatusCode::OK, &page)?;
    if !page.signposts.is_empty() {
        let header = signposting::header_value(&page.signposts);
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

/// A published version's citation in the chosen style, the style switcher, the export
/// links and the JSON-LD; nothing for a draft.
type Citations = (
    String,
    Vec<StyleLink>,
    Vec<(String, &'static str)>,
    Option<String>,
);

fn citations(
    archive: &Archive,
    view: &crate::deposit::model::DatasetView,
    style: Option<&str>,
) -> Result<Citations, DomainError> {
    if !view.is_published_version() {
        return Ok((String::new(), Vec::new(), Vec::new(), None));
    }
    let chosen: CitationStyle = style
        .and_then(|s| s.parse().ok())
        .unwrap_or(CitationStyle::Apa);
    let texts = exports::citations(archive, view)?;
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
    let base = format!(
        "/datasets/{}/versions/{}/export",
        view.dataset.id, view.version.number
    );
    let links = exports::Format::ALL
        .iter()
        .map(|f| (format!("{base}/{}", f.name()), f.label()))
        .collect();
    let jsonld = exports::jsonld_for_page(archive, view)?;
    Ok((citation, styles, links, Some(jsonld)))
}

/// The landing page with what the web adds: citations, links, the flash message.
fn present(
    req: &HttpRequest,
    archive: &Archive,
    viewer: Option<User>,
    landing: LandingPage,
    number: Option<i32>,
    query: &LandingQuery,
) -> Result<DatasetPage, PageError> {
    let view = &landing.view;
    let id = view.dataset.id;
    let (citation, styles, exports, jsonld) = citations(archive, view, query.style.as_deref())?;
    let packages = (landing.may_download && view.has_files()).then(|| {
        let base = format!("/datasets/{id}/versions/{}/download", view.version.number);
        PackageLinks {
            zip: format!("{base}?format=zip"),
            bagit: format!("{base}?format=bagit"),
        }
    });
    let (meta, canonical) = if view.is_published_version() {
        let (meta, canonical) = exports::meta_for_page(archive, view)?;
        (meta, Some(canonical))
    } else {
        (Vec::new(), None)
    };
    let file_base = match number {
        Some(n) => format!("/datasets/{id}/versions/{n}/files"),
        None => format!("/datasets/{id}/files"),
    };
    Ok(DatasetPage {
        signposts: signposts::landing_targets(archive, view, number)?,
        usage: landing.counts.as_ref().map(|c| usage_text(&c.total)),
        page: PageCtx::new(req, archive, viewer),
        message: flash(query.msg.as_deref()),
        citation,
        styles,
        exports,
        jsonld,
        meta,
        canonical,
        packages,
        file_base,
        landing,
    })
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
