//! `/metrics` for Prometheus, and the middleware that counts every request.
//!
//! Not public: on the main address `/metrics` answers only a bearer token equal to
//! `HOLDFAST_METRICS_TOKEN`; `HOLDFAST_METRICS_BIND` serves it without a token on an
//! address of its own; with neither it is not found.

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::net::TcpListener;
use std::time::Instant;

use super::auth::{bearer_token, constant_time_eq};
use super::errors::PageError;
use crate::app::Archive;
use crate::error::DomainError;
use crate::metrics;

/// Counts the request by route template, method and status, and times it.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    metrics::process().http_request(&route, &method, res.status().as_u16(), started.elapsed());
    Ok(res)
}

/// `GET /metrics` on the main address.
pub async fn scrape(
    archive: web::Data<Archive>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let Some(expected) = archive.settings.metrics_token.as_ref() else {
        return Err(PageError(DomainError::NotFound));
    };
    let given = bearer_token(&req).unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"holdfast metrics\", error=\"invalid_token\"",
            ))
            .content_type("text/plain; charset=utf-8")
            .body("send the metrics token: Authorization: Bearer <HOLDFAST_METRICS_TOKEN>\n"));
    }
    exposition(&archive).await
}

/// `GET /metrics` on the metrics address: no token.
async fn scrape_open(archive: web::Data<Archive>) -> Result<HttpResponse, PageError> {
    exposition(&archive).await
}

async fn exposition(archive: &Archive) -> Result<HttpResponse, PageError> {
    let mut state = archive
        .db
        .run(metrics::archive::read)
        .await
        .map_err(PageError)?;
    state.pool = archive.db.pool_state();
    let body = metrics::render(&state).map_err(|e| PageError(DomainError::internal(e)))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(metrics::CONTENT_TYPE)
        .body(body))
}

/// The server of `HOLDFAST_METRICS_BIND`, when set: `/metrics` and nothing else.
pub fn server(archive: &Archive) -> anyhow::Result<Option<Server>> {
    let Some(bind) = archive.settings.metrics_bind.clone() else {
        return Ok(None);
    };
    let listener = TcpListener::bind(&bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind} for metrics: {e}"))?;
    let data = web::Data::new(archive.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(scrape_open))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(Some(server))
}
