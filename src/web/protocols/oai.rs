//! `/oai`: the OAI-PMH provider (GET with a query string, or POST with a form body, as
//! the protocol allows both). The domain work is in `crate::federation`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::app::Archive;
use crate::federation::{self, Audience};
use crate::web::auth::federation_audience;
use crate::web::errors::PageError;

/// Arguments in order and as sent (repeats included: the protocol forbids them, so
/// they must reach the parser).
fn pairs_of(encoded: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn answer(
    archive: web::Data<Archive>,
    audience: Audience,
    pairs: Vec<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let settings = archive.settings.clone();
    let body = archive
        .db
        .run(move |conn| federation::respond(conn, &settings, audience, &pairs))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/xml; charset=utf-8"))
        .body(body))
}

pub async fn get(archive: web::Data<Archive>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let audience = match federation_audience(&req).await? {
        Ok(a) => a,
        Err(refused) => return Ok(refused),
    };
    let pairs = pairs_of(req.query_string().as_bytes());
    answer(archive, audience, pairs).await
}

pub async fn post(
    archive: web::Data<Archive>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Ok(HttpResponse::UnsupportedMediaType()
            .content_type("text/plain; charset=utf-8")
            .body("OAI-PMH requests by POST are application/x-www-form-urlencoded\n"));
    }
    let audience = match federation_audience(&req).await? {
        Ok(a) => a,
        Err(refused) => return Ok(refused),
    };
    // A request sent by POST carries its arguments in the body only.
    let pairs = pairs_of(&body);
    answer(archive, audience, pairs).await
}
