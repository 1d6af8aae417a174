//! The tombstone of a deaccessioned dataset: 410 Gone for people and machines alike,
//! with what stays citable — the DOI (`cite-as`), the metadata records, which say the
//! dataset was withdrawn (`describedby`), and the same in JSON-LD — and no file links.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::{exports, PageCtx};
use crate::accounts::User;
use crate::app::Archive;
use crate::deposit::model::DatasetView;
use crate::doi::export::signposting::{header_value, Target};
use crate::error::DomainError;
use crate::web::errors::{render, PageError};
use crate::web::protocols::signposting::{landing_targets, link_value};

#[derive(Template)]
#[template(path = "tombstone.html")]
struct TombstonePage {
    page: PageCtx,
    view: DatasetView,
    jsonld: Option<String>,
    signposts: Vec<Target>,
}

/// What stays of a deaccessioned dataset: its citation facts and the reason, with 410.
pub fn page(
    req: &HttpRequest,
    archive: &Archive,
    viewer: Option<User>,
    view: &DatasetView,
    number: Option<i32>,
) -> Result<HttpResponse, PageError> {
    // A version never published has nothing to cite: the bare page.
    let (jsonld, signposts) = match exports::jsonld_for_page(archive, view) {
        Ok(jsonld) => (Some(jsonld), landing_targets(archive, view, number)?),
        Err(DomainError::NotFound) => (None, Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut response = render(
        StatusCode::GONE,
        &TombstonePage {
            page: PageCtx::new(req, archive, viewer),
            view: view.clone(),
            jsonld,
            signposts: signposts.clone(),
        },
    )?;
    if !signposts.is_empty() {
        if let Some(value) = link_value(&header_value(&signposts)) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}
