//! ResourceSync documents: `/.well-known/resourcesync` and `/resourcesync/*.xml`. The
//! domain work is in `crate::federation::resourcesync`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::app::Archive;
use crate::federation::resourcesync::{self, List, Request};
use crate::web::auth::federation_audience;
use crate::web::errors::PageError;

async fn answer(
    archive: web::Data<Archive>,
    req: &HttpRequest,
    request: Request,
) -> Result<HttpResponse, PageError> {
    let settings = archive.settings.clone();
    let audience = match federation_audience(req).await? {
        Ok(a) => a,
        Err(refused) => return Ok(refused),
    };
    let body = archive
        .db
        .run(move |conn| resourcesync::respond(conn, &settings, audience, &request))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/xml"))
        .body(body))
}

fn pairs_of(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub async fn source_description(
    archive: web::Data<Archive>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    answer(archive, &req, Request::SourceDescription).await
}

pub async fn capability_list(
    archive: web::Data<Archive>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    answer(archive, &req, Request::CapabilityList).await
}

pub async fn resource_list(
    archive: web::Data<Archive>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let request = resourcesync::parse_list(List::Resources, &pairs_of(&req))?;
    answer(archive, &req, request).await
}

pub async fn change_list(
    archive: web::Data<Archive>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let request = resourcesync::parse_list(List::Changes, &pairs_of(&req))?;
    answer(archive, &req, request).await
}
