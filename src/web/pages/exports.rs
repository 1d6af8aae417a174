//! Machine-readable and citable forms of a published version: DataCite XML and JSON,
//! schema.org JSON-LD, BibTeX, RIS, CSL-JSON, and citation text in several styles.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::datasets::encode_path;
use crate::app::Archive;
use crate::deposit::model::{DatasetView, VersionRow};
use crate::deposit::service;
use crate::doi::export::{self, signposting, CitationStyle, ExportFile, PublishedRecord};
use crate::error::DomainError;
use crate::web::auth::Viewer;
use crate::web::errors::PageError;
use crate::web::pages::signposting::{link_value, LandingUrls};

/// The export formats, by the name used in URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Bibtex,
    Ris,
    CslJson,
    DataciteXml,
    DataciteJson,
    JsonLd,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Bibtex,
        Format::Ris,
        Format::CslJson,
        Format::DataciteXml,
        Format::DataciteJson,
        Format::JsonLd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Bibtex => "bibtex",
            Format::Ris => "ris",
            Format::CslJson => "csl-json",
            Format::DataciteXml => "datacite-xml",
            Format::DataciteJson => "datacite-json",
            Format::JsonLd => "json-ld",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Bibtex => "BibTeX",
            Format::Ris => "RIS",
            Format::CslJson => "CSL-JSON",
            Format::DataciteXml => "DataCite XML",
            Format::DataciteJson => "DataCite JSON",
            Format::JsonLd => "schema.org JSON-LD",
        }
    }

    /// The media types DOI content negotiation uses for these formats.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Bibtex => "application/x-bibtex; charset=utf-8",
            Format::Ris => "application/x-research-info-systems; charset=utf-8",
            Format::CslJson => "application/vnd.citationstyles.csl+json",
            Format::DataciteXml => "application/vnd.datacite.datacite+xml",
            Format::DataciteJson => "application/vnd.datacite.datacite+json",
            Format::JsonLd => "application/ld+json",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Bibtex => "bib",
            Format::Ris => "ris",
            Format::CslJson => "csl.json",
            Format::DataciteXml => "datacite.xml",
            Format::DataciteJson => "datacite.json",
            Format::JsonLd => "jsonld",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    fn render(self, record: &PublishedRecord) -> Result<String, DomainError> {
        let json =
            |v: serde_json::Value| serde_json::to_string_pretty(&v).map_err(DomainError::internal);
        match self {
            Format::Bibtex => Ok(export::bibtex(record)),
            Format::Ris => Ok(export::ris(record)),
            Format::CslJson => json(export::csl_json(record)),
            Format::DataciteXml => Ok(export::datacite_xml(record)),
            Format::DataciteJson => json(export::datacite_json(record)),
            Format::JsonLd => json(export::schema_org_jsonld(record)),
        }
    }
}

/// URL of a version's landing page: numbered versions have their own.
fn landing_url(base: &str, view: &DatasetView) -> String {
    format!(
        "{base}/datasets/{}/versions/{}",
        view.dataset.id, view.version.number
    )
}

/// Builds the export record of a published version and hands it to `f`.
pub fn with_record<T>(
    archive: &Archive,
    view: &DatasetView,
    f: impl FnOnce(&PublishedRecord) -> T,
) -> Result<T, DomainError> {
    with_neighbours(archive, view, None, None, f)
}

/// The DOIs of the published versions just before and after the viewed one.
fn neighbours(view: &DatasetView, versions: &[VersionRow]) -> (Option<String>, Option<String>) {
    let n = view.version.number;
    let previous = versions
        .iter()
        .filter(|v| v.number < n)
        .max_by_key(|v| v.number)
        .and_then(|v| v.doi.clone());
    let next = versions
        .iter()
        .filter(|v| v.number > n)
        .min_by_key(|v| v.number)
        .and_then(|v| v.doi.clone());
    (previous, next)
}

/// [`with_record`] with the version's neighbours (IsNewVersionOf / IsPreviousVersionOf),
/// as the metadata sent to DataCite has them.
fn with_neighbours<T>(
    archive: &Archive,
    view: &DatasetView,
    previous_doi: Option<&str>,
    next_doi: Option<&str>,
    f: impl FnOnce(&PublishedRecord) -> T,
) -> Result<T, DomainError> {
    let (Some(published), Some(doi)) = (view.version.published_at, view.version.doi.as_deref())
    else {
        return Err(DomainError::NotFound);
    };
    let base = &archive.settings.base_url;
    let files: Vec<ExportFile> = view
        .files
        .iter()
        .map(|f| ExportFile {
            path: f.path.clone(),
            size: u64::try_from(f.size).unwrap_or(0),
            sha256: f.sha256.clone(),
            media_type: f.media_type.clone(),
            download_url: format!(
                "{base}/datasets/{}/versions/{}/files/{}",
                view.dataset.id,
                view.version.number,
                encode_path(&f.path)
            ),
        })
        .collect();
    let landing = landing_url(base, view);
    let record = PublishedRecord {
        metadata: &view.metadata,
        doi,
        concept_doi: view.dataset.concept_doi.as_deref(),
        previous_doi,
        next_doi,
        has_versions: &[],
        version: view.version.number,
        published,
        publisher: &archive.settings.site_name,
        landing_url: &landing,
        files: &files,
        catalog: Some(export::Catalog {
            name: &archive.settings.site_name,
            url: base,
        }),
        access: &view.access,
    };
    Ok(f(&record))
}

/// Citation text in every style, for the landing page's style switcher.
pub fn citations(
    archive: &Archive,
    view: &DatasetView,
) -> Result<Vec<(CitationStyle, String)>, DomainError> {
    with_record(archive, view, |record| {
        CitationStyle::ALL
            .iter()
            .map(|&style| (style, export::cite(style, record)))
            .collect()
    })
}

/// The JSON-LD to embed in a landing page, escaped for a `<script>` element.
pub fn jsonld_for_page(archive: &Archive, view: &DatasetView) -> Result<String, DomainError> {
    with_record(archive, view, |record| {
        export::jsonld_script_text(&export::schema_org_jsonld(record))
    })
}

async fn serve(
    archive: web::Data<Archive>,
    viewer: Viewer,
    id: i64,
    number: Option<i32>,
    format_name: &str,
) -> Result<HttpResponse, PageError> {
    let format = Format::parse(format_name).ok_or(DomainError::NotFound)?;
    let v = viewer.0;
    let (view, versions) = archive
        .db
        .run(move |conn| {
            let view = service::load_view(conn, v.as_ref(), id, number)?;
            let versions = service::published_versions(conn, id)?;
            Ok((view, versions))
        })
        .await?;
    let (previous, next) = neighbours(&view, &versions);
    let body = with_neighbours(
        &archive,
        &view,
        previous.as_deref(),
        next.as_deref(),
        |record| format.render(record),
    )??;
    let file_name = format!(
        "dataset-{}-v{}.{}",
        view.dataset.id,
        view.version.number,
        format.extension()
    );
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, format.media_type()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{file_name}\""),
        ))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    // Level 1 Signposting on a metadata document: the landing page it describes.
    let urls = LandingUrls::new(&archive, &view, number);
    if let Some(value) = link_value(&signposting::metadata_header(&urls.urls())) {
        response.insert_header((header::LINK, value));
    }
    Ok(response.body(body))
}

pub async fn latest(
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, format) = path.into_inner();
    serve(archive, viewer, id, None, &format).await
}

pub async fn numbered(
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, i32, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, n, format) = path.into_inner();
    serve(archive, viewer, id, Some(n), &format).await
}

/// Picks the export format an `Accept` header asks for, if any (an HTML request, or
/// one that accepts anything, gets the landing page instead).
pub fn negotiate(accept: &str) -> Option<Format> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let media = pieces.next()?.trim().to_ascii_lowercase();
            let quality = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let format = Format::ALL
                .into_iter()
                .find(|f| f.media_type().split(';').next().is_some_and(|m| m == media))?;
            (quality > 0.0).then_some((format, quality))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(format, _)| format)
}

/// Resolves a DOI minted by this archive: content negotiation for the citation and
/// metadata formats, otherwise a redirect to the landing page.
pub async fn resolve_doi(
    req: actix_web::HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let doi = path.into_inner().trim().to_lowercase();
    let target = archive
        .db
        .run(move |conn| crate::doi::find(conn, &doi))
        .await?
        .ok_or(DomainError::NotFound)?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let number = target.version_number;
    match negotiate(accept) {
        Some(format) => serve(archive, viewer, target.dataset_id, number, format.name()).await,
        None => {
            let landing = match number {
                Some(n) => format!("/datasets/{}/versions/{n}", target.dataset_id),
                None => format!("/datasets/{}", target.dataset_id),
            };
            Ok(HttpResponse::Found()
                .insert_header((header::LOCATION, landing))
                .finish())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_pick_the_format_doi_negotiation_uses() {
        assert_eq!(negotiate("application/x-bibtex"), Some(Format::Bibtex));
        assert_eq!(
            negotiate("application/vnd.citationstyles.csl+json"),
            Some(Format::CslJson)
        );
        assert_eq!(
            negotiate("text/html,application/xhtml+xml,*/*;q=0.8"),
            None,
            "browsers get the landing page"
        );
        assert_eq!(
            negotiate(
                "application/x-research-info-systems;q=0.5, application/vnd.datacite.datacite+xml"
            ),
            Some(Format::DataciteXml)
        );
        assert_eq!(negotiate("application/ld+json;q=0"), None);
        assert_eq!(negotiate(""), None);
    }
}
