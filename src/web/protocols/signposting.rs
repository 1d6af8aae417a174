//! FAIR Signposting: the URLs of a version's landing page, metadata documents and link
//! set, the `Link` headers built from them, and the link set handlers (Level 2).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::app::Archive;
use crate::deposit::model::DatasetView;
use crate::deposit::service;
use crate::doi::export::signposting::{self, MetadataDoc, Target, Urls, LINKSET, LINKSET_JSON};
use crate::error::DomainError;
use crate::web::errors::PageError;
use crate::web::pages::exports::{self, Format};

/// The signposting URLs of a version's landing page. `number` is None for the dataset's
/// own page (`/datasets/{id}`, the latest version), which has its own link set.
pub struct LandingUrls {
    pub landing: String,
    pub linkset: String,
    pub metadata: Vec<MetadataDoc>,
}

impl LandingUrls {
    pub fn new(archive: &Archive, view: &DatasetView, number: Option<i32>) -> LandingUrls {
        let base = &archive.settings.base_url;
        let id = view.dataset.id;
        let landing = match number {
            Some(n) => format!("{base}/datasets/{id}/versions/{n}"),
            None => format!("{base}/datasets/{id}"),
        };
        let export = |f: Format| {
            format!(
                "{base}/datasets/{id}/versions/{}/export/{}",
                view.version.number,
                f.name()
            )
        };
        let metadata = vec![
            MetadataDoc {
                url: export(Format::DataciteXml),
                media_type: "application/vnd.datacite.datacite+xml",
                profile: None,
            },
            MetadataDoc {
                url: export(Format::JsonLd),
                media_type: "application/ld+json",
                profile: Some("https://schema.org"),
            },
        ];
        LandingUrls {
            linkset: format!("{landing}/linkset"),
            landing,
            metadata,
        }
    }

    pub fn urls(&self) -> Urls<'_> {
        Urls {
            landing: &self.landing,
            metadata: &self.metadata,
            linkset: &self.linkset,
        }
    }
}

/// The landing page's links (Level 1), for a published version only.
pub fn landing_targets(
    archive: &Archive,
    view: &DatasetView,
    number: Option<i32>,
) -> Result<Vec<Target>, DomainError> {
    if !view.is_published_version() {
        return Ok(Vec::new());
    }
    let urls = LandingUrls::new(archive, view, number);
    exports::with_record(archive, view, |record| {
        signposting::landing_targets(record, &urls.urls())
    })
}

/// A `Link` header value, or None (logged) when it cannot be encoded: a link never
/// fails a response.
pub fn link_value(value: &str) -> Option<header::HeaderValue> {
    match header::HeaderValue::from_str(value) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(error = %e, "a Link header could not be encoded; left out");
            None
        }
    }
}

#[derive(serde::Deserialize)]
pub struct LinksetQuery {
    format: Option<String>,
}

async fn serve(
    req: HttpRequest,
    archive: web::Data<Archive>,
    id: i64,
    number: Option<i32>,
    query: &LinksetQuery,
) -> Result<HttpResponse, PageError> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = signposting::negotiate(query.format.as_deref(), accept)
        .ok_or_else(|| DomainError::BadRequest("format must be 'json' or 'linkset'".into()))?;
    // The link set describes what everybody sees: the published version, whoever asks.
    let view = archive
        .db
        .run(move |conn| service::load_view(conn, None, id, number))
        .await?;
    let urls = LandingUrls::new(&archive, &view, number);
    let contexts = exports::with_record(&archive, &view, |record| {
        signposting::linkset(record, &urls.urls())
    })?;
    let body = if media_type == LINKSET_JSON {
        serde_json::to_string_pretty(&signposting::linkset_json(&contexts))
            .map_err(DomainError::internal)?
    } else {
        signposting::linkset_text(&contexts)
    };
    let content_type = if media_type == LINKSET_JSON {
        LINKSET_JSON.to_string()
    } else {
        format!("{LINKSET}; charset=utf-8")
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body))
}

pub async fn linkset_latest(
    req: HttpRequest,
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    query: web::Query<LinksetQuery>,
) -> Result<HttpResponse, PageError> {
    serve(req, archive, path.into_inner(), None, &query).await
}

pub async fn linkset_numbered(
    req: HttpRequest,
    archive: web::Data<Archive>,
    path: web::Path<(i64, i32)>,
    query: web::Query<LinksetQuery>,
) -> Result<HttpResponse, PageError> {
    let (id, n) = path.into_inner();
    serve(req, archive, id, Some(n), &query).await
}
