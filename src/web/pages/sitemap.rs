//! What search engines ask for first: `/robots.txt` and the sitemaps it points to
//! (`crate::search::sitemap`).

use actix_web::{web, HttpResponse};

use crate::app::Archive;
use crate::search::sitemap;
use crate::web::errors::PageError;

const XML: &str = "application/xml; charset=utf-8";

pub async fn robots(archive: web::Data<Archive>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(sitemap::robots_txt(&archive.settings.base_url))
}

pub async fn index(archive: web::Data<Archive>) -> Result<HttpResponse, PageError> {
    let base = archive.settings.base_url.clone();
    let xml = archive
        .db
        .run(move |conn| sitemap::index(conn, &base))
        .await?;
    Ok(HttpResponse::Ok().content_type(XML).body(xml))
}

pub async fn part(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let (base, part) = (archive.settings.base_url.clone(), path.into_inner());
    let xml = archive
        .db
        .run(move |conn| sitemap::part(conn, &base, part))
        .await?;
    Ok(HttpResponse::Ok().content_type(XML).body(xml))
}
