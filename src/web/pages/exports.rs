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
use crate::web::protocols::signposting::{link_value, LandingUrls};

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

/// The `<meta>` tags of a published version's landing page (Highwire, Dublin Core,
/// Open Graph), and its canonical URL.
pub fn meta_for_page(
    archive: &Archive,
    view: &DatasetView,
) -> Result<(Vec<export::MetaTag>, String), DomainError> {
    with_record(archive, view, |record| {
        (export::meta_tags(record), record.landing_url.to_string())
    })
}

/// What a request for a published version's metadata asks for: an export format, or a
/// formatted citation (DOI content negotiation's `text/x-bibliography`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Negotiated {
    Export(Format),
    Bibliography(CitationStyle),
}

/// The media type DOI resolvers use for formatted citations.
const BIBLIOGRAPHY: &str = "text/x-bibliography";

impl Negotiated {
    fn media_type(self) -> &'static str {
        match self {
            Negotiated::Export(f) => f.media_type(),
            Negotiated::Bibliography(_) => "text/x-bibliography; charset=utf-8",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Negotiated::Export(f) => f.extension(),
            Negotiated::Bibliography(_) => "txt",
        }
    }

    fn render(self, record: &PublishedRecord) -> Result<String, DomainError> {
        match self {
            Negotiated::Export(f) => f.render(record),
            Negotiated::Bibliography(style) => Ok(export::cite(style, record)),
        }
    }
}

async fn serve(
    archive: web::Data<Archive>,
    viewer: Viewer,
    id: i64,
    number: Option<i32>,
    what: Negotiated,
) -> Result<HttpResponse, PageError> {
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
        |record| what.render(record),
    )??;
    let file_name = format!(
        "dataset-{}-v{}.{}",
        view.dataset.id,
        view.version.number,
        what.extension()
    );
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, what.media_type()))
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

fn export_named(name: &str) -> Result<Negotiated, DomainError> {
    Format::parse(name)
        .map(Negotiated::Export)
        .ok_or(DomainError::NotFound)
}

pub async fn latest(
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, format) = path.into_inner();
    serve(archive, viewer, id, None, export_named(&format)?).await
}

pub async fn numbered(
    archive: web::Data<Archive>,
    viewer: Viewer,
    path: web::Path<(i64, i32, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, n, format) = path.into_inner();
    serve(archive, viewer, id, Some(n), export_named(&format)?).await
}

/// A citation style by its name here or its CSL name (what DOI resolvers take).
fn style_named(name: &str) -> Option<CitationStyle> {
    match name.to_ascii_lowercase().as_str() {
        "chicago-author-date" => Some(CitationStyle::Chicago),
        "harvard-cite-them-right" => Some(CitationStyle::Harvard),
        other => other.parse().ok(),
    }
}

/// Picks what an `Accept` header asks for, if anything this archive serves (an HTML
/// request, or one that accepts anything, gets the landing page instead).
/// `text/x-bibliography` takes `style=` (apa, chicago, harvard; APA when absent) as DOI
/// resolvers do; `locale=` is accepted and ignored (the styles are English). An
/// unknown style is not acceptable.
pub fn negotiate(accept: &str) -> Option<Negotiated> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let media = pieces.next()?.trim().to_ascii_lowercase();
            let params: Vec<(String, &str)> = pieces
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"')))
                .collect();
            let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
            let quality = param("q")
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let what = if media == BIBLIOGRAPHY {
                let style = match param("style") {
                    Some(s) => style_named(s)?,
                    None => CitationStyle::Apa,
                };
                Negotiated::Bibliography(style)
            } else {
                Negotiated::Export(
                    Format::ALL
                        .into_iter()
                        .find(|f| f.media_type().split(';').next().is_some_and(|m| m == media))?,
                )
            };
            (quality > 0.0).then_some((what, quality))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(what, _)| what)
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
    let mut response = match negotiate(accept) {
        Some(what) => serve(archive, viewer, target.dataset_id, number, what).await?,
        None => {
            let landing = match number {
                Some(n) => format!("/datasets/{}/versions/{n}", target.dataset_id),
                None => format!("/datasets/{}", target.dataset_id),
            };
            HttpResponse::Found()
                .insert_header((header::LOCATION, landing))
                .finish()
        }
    };
    // The answer depends on Accept: a shared cache must not serve one format for another.
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_pick_the_format_doi_negotiation_uses() {
        let export = |f| Some(Negotiated::Export(f));
        assert_eq!(negotiate("application/x-bibtex"), export(Format::Bibtex));
        assert_eq!(
            negotiate("application/vnd.citationstyles.csl+json"),
            export(Format::CslJson)
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
            export(Format::DataciteXml)
        );
        assert_eq!(negotiate("application/ld+json;q=0"), None);
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn formatted_citations_by_style() {
        let cite = |s| Some(Negotiated::Bibliography(s));
        assert_eq!(negotiate("text/x-bibliography"), cite(CitationStyle::Apa));
        assert_eq!(
            negotiate("text/x-bibliography; style=harvard; locale=en-GB"),
            cite(CitationStyle::Harvard)
        );
        assert_eq!(
            negotiate("text/x-bibliography; style=\"chicago\""),
            cite(CitationStyle::Chicago)
        );
        assert_eq!(
            negotiate("text/x-bibliography; style=harvard-cite-them-right"),
            cite(CitationStyle::Harvard)
        );
        assert_eq!(negotiate("text/x-bibliography; style=nature"), None);
    }
}
