//! The web layer: thin handlers over the domain, one route table, one error policy.

pub mod api;
pub mod auth;
pub mod errors;
pub mod extract;
pub mod head;
pub mod limits;
pub mod metrics;
pub mod pages;
pub mod protocols;
pub mod request_id;
mod routes;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;

use crate::app::Archive;

/// Marks an answer that carries bytes someone uploaded (dataset files, ticket
/// attachments, federation objects): a browser must neither guess another type nor
/// run it as a page of the archive's origin, whatever it holds (HTML, SVG, scripts).
pub fn user_content(response: &mut actix_web::HttpResponseBuilder) {
    response
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "sandbox"));
}

/// A bound, not yet running web server. Tests bind port 0 and read `port()`.
pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on an address of its own (HOLDFAST_METRICS_BIND).
    metrics: Option<Server>,
}

impl Application {
    pub fn build(archive: Archive) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&archive.settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", archive.settings.bind))?;
        Self::from_listener(archive, listener)
    }

    pub fn from_listener(archive: Archive, listener: TcpListener) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        let metrics = metrics::server(&archive)?;
        let gates = web::Data::new(limits::Limits::new(&archive.settings.limits));
        let data = web::Data::new(archive);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(gates.clone())
                // Innermost: HEAD is routed as GET; the logger still sees HEAD.
                .wrap(from_fn(head::head_as_get))
                .wrap(from_fn(limits::idle_body_timeout))
                .wrap(from_fn(auth::csrf_cookie))
                .wrap(from_fn(auth::no_store_when_signed_in))
                .wrap(from_fn(auth::return_after_signin))
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("Referrer-Policy", "same-origin"))
                        .add((
                            "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
                        )),
                )
                .wrap(from_fn(metrics::count_requests))
                // Outermost: everything inside, the access line included, logs with the id.
                .wrap(from_fn(request_id::assign))
                .configure(routes::configure)
        })
        .listen(listener)?
        // Large uploads and downloads can take a long time; keep the connection open.
        .client_request_timeout(std::time::Duration::from_secs(60))
        .shutdown_timeout(30)
        .run();
        Ok(Application {
            port,
            server,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics {
            // Both servers stop on the same signals.
            Some(metrics) => {
                let (web, metrics) = tokio::join!(self.server, metrics);
                web.and(metrics)
            }
            None => self.server.await,
        }
    }
}
