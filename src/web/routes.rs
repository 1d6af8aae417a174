//! Every route of holdfast, in one place. Every GET route answers HEAD too
//! (`super::head`): HEAD routes are not listed.

use actix_web::web;

use super::api;
use super::errors::{ApiError, PageError};
use super::pages::{
    accounts, admin, curation, datasets, deposit, downloads, exports, home, reports, samples,
    search, sitemap, tickets,
};
use super::protocols::signposting;
use crate::error::DomainError;

/// A path that does not parse (`/datasets/abc`) is simply not found.
fn page_path_error(e: actix_web::error::PathError, _: &actix_web::HttpRequest) -> actix_web::Error {
    tracing::debug!(error = %e, "unparsable path");
    PageError(DomainError::NotFound).into()
}

fn api_path_error(e: actix_web::error::PathError, _: &actix_web::HttpRequest) -> actix_web::Error {
    tracing::debug!(error = %e, "unparsable path");
    ApiError(DomainError::NotFound).into()
}

fn api_query_error(
    e: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError(DomainError::BadRequest(format!(
        "the query string is not valid: {e}"
    )))
    .into()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(page_path_error))
        // Operations
        .route("/healthz", web::get().to(home::healthz))
        .route("/metrics", web::get().to(super::metrics::scrape))
        .route("/static/style.css", web::get().to(home::stylesheet))
        .route(
            "/static/tus.min.js",
            web::get().to(super::protocols::tus::client_js),
        )
        .route(
            "/static/upload.js",
            web::get().to(super::protocols::tus::upload_js),
        )
        .route(
            "/static/tus-js-client.LICENSE",
            web::get().to(super::protocols::tus::client_license),
        )
        // For search engines
        .route("/robots.txt", web::get().to(sitemap::robots))
        .route("/sitemap.xml", web::get().to(sitemap::index))
        .route("/sitemap/{part}", web::get().to(sitemap::part))
        // Accounts
        .route("/", web::get().to(home::home))
        .route("/signup", web::get().to(accounts::signup_form))
        .route("/signup", web::post().to(accounts::signup))
        .route("/signin", web::get().to(accounts::signin_form))
        .route("/signin", web::post().to(accounts::signin))
        .route("/signout", web::post().to(accounts::signout))
        .route("/profile", web::get().to(accounts::profile))
        .route("/profile/tokens", web::post().to(accounts::create_token))
        .route(
            "/profile/notifications",
            web::post().to(accounts::save_notifications),
        )
        .route(
            "/profile/tokens/{token_id}/revoke",
            web::post().to(accounts::revoke_token),
        )
        .route("/admin/users", web::get().to(admin::users_page))
        .route(
            "/admin/preservation",
            web::get().to(admin::preservation_page),
        )
        .route(
            "/admin/users/{user_id}/role",
            web::post().to(admin::set_role),
        )
        // Search
        .route("/search", web::get().to(search::page))
        .route("/samples", web::get().to(samples::search))
        .route("/samples/{igsn}", web::get().to(samples::by_igsn))
        .route(
            "/datasets/{id}/samples/{name}",
            web::get().to(samples::by_name),
        )
        // Deposit
        .route("/datasets/mine", web::get().to(datasets::mine))
        .route("/datasets/new", web::get().to(deposit::new_form))
        .route("/datasets", web::post().to(deposit::create))
        .route("/datasets/{id}", web::get().to(datasets::show))
        .route("/datasets/{id}/edit", web::get().to(deposit::edit_form))
        .route("/datasets/{id}/edit", web::post().to(deposit::update))
        .route("/datasets/{id}/files", web::post().to(deposit::upload))
        .route(
            "/datasets/{id}/files/delete",
            web::post().to(deposit::remove_file),
        )
        .route("/datasets/{id}/submit", web::post().to(deposit::submit))
        .route("/datasets/{id}/doi", web::post().to(deposit::reserve_doi))
        .route(
            "/datasets/{id}/standards",
            web::post().to(deposit::set_standards),
        )
        .route(
            "/datasets/{id}/versions/{n}",
            web::get().to(datasets::show_numbered),
        )
        // FAIR Signposting link sets (RFC 9264)
        .route(
            "/datasets/{id}/linkset",
            web::get().to(signposting::linkset_latest),
        )
        .route(
            "/datasets/{id}/versions/{n}/linkset",
            web::get().to(signposting::linkset_numbered),
        )
        .route(
            "/datasets/{id}/export/{format}",
            web::get().to(exports::latest),
        )
        .route(
            "/datasets/{id}/versions/{n}/export/{format}",
            web::get().to(exports::numbered),
        )
        .route("/doi/{doi:.+}", web::get().to(exports::resolve_doi))
        // Downloads
        .route(
            "/datasets/{id}/files/{path:.+}",
            web::get().to(downloads::download),
        )
        .route(
            "/datasets/{id}/versions/{n}/files/{path:.+}",
            web::get().to(downloads::download_numbered),
        )
        // A whole version as a zip or a BagIt bag, streamed while it is built
        .route(
            "/datasets/{id}/versions/{n}/download",
            web::get().to(downloads::download_version),
        )
        // Validation reports and QA tickets
        .route(
            "/datasets/{id}/validation",
            web::get().to(reports::report_page),
        )
        .route(
            "/datasets/{id}/tickets/new",
            web::get().to(tickets::new_form),
        )
        .route("/datasets/{id}/tickets", web::post().to(tickets::open))
        .route("/tickets", web::get().to(tickets::mine))
        .route("/tickets/{id}", web::get().to(tickets::show))
        .route("/tickets/{id}/comments", web::post().to(tickets::comment))
        .route("/tickets/{id}/assign", web::post().to(tickets::assign))
        .route("/tickets/{id}/due", web::post().to(tickets::due))
        .route("/tickets/{id}/state", web::post().to(tickets::set_state))
        .route(
            "/tickets/{id}/items/{item}/waive",
            web::post().to(tickets::waive),
        )
        .route(
            "/tickets/{id}/items/{item}/unwaive",
            web::post().to(tickets::unwaive),
        )
        .route(
            "/tickets/{id}/attachments/{event}",
            web::get().to(tickets::attachment),
        )
        .route("/curation/tickets", web::get().to(tickets::queue))
        // Curation
        .route("/curation", web::get().to(curation::queue))
        .route("/datasets/{id}/review", web::post().to(curation::review))
        .route(
            "/datasets/{id}/versions/new",
            web::post().to(curation::new_version),
        )
        .route(
            "/datasets/{id}/deaccession",
            web::post().to(curation::deaccession),
        )
        // OAI-PMH 2.0 (src/federation)
        .route("/oai", web::get().to(super::protocols::oai::get))
        .route("/oai", web::post().to(super::protocols::oai::post))
        // ResourceSync 1.1 (src/federation/resourcesync.rs)
        .route(
            "/.well-known/resourcesync",
            web::get().to(super::protocols::resourcesync::source_description),
        )
        .route(
            "/resourcesync/capabilitylist.xml",
            web::get().to(super::protocols::resourcesync::capability_list),
        )
        .route(
            "/resourcesync/resourcelist.xml",
            web::get().to(super::protocols::resourcesync::resource_list),
        )
        .route(
            "/resourcesync/changelist.xml",
            web::get().to(super::protocols::resourcesync::change_list),
        )
        // OCFL object files for replicas (src/federation/objects.rs)
        .route(
            "/federation/objects/{id}/{path:.+}",
            web::get().to(super::protocols::federation::object_file),
        )
        // API
        .service(
            web::scope("/api")
                .app_data(web::PathConfig::default().error_handler(api_path_error))
                .app_data(web::QueryConfig::default().error_handler(api_query_error))
                .route(
                    "/profile/notifications",
                    web::get().to(api::profile::notifications),
                )
                .route(
                    "/profile/notifications",
                    web::put().to(api::profile::set_notifications),
                )
                .route("/search", web::get().to(api::datasets::search))
                // Resumable uploads (tus 1.0)
                .configure(super::protocols::tus::configure)
                .route("/datasets", web::post().to(api::datasets::create))
                .route("/datasets", web::get().to(api::datasets::list_mine))
                .route("/datasets/{id}", web::get().to(api::datasets::show))
                .route("/datasets/{id}", web::put().to(api::datasets::update))
                .route(
                    "/datasets/{id}/files/{path:.+}",
                    web::put().to(api::files::put_file),
                )
                .route(
                    "/datasets/{id}/files/{path:.+}",
                    web::delete().to(api::files::delete_file),
                )
                .route("/datasets/{id}/submit", web::post().to(api::review::submit))
                .route(
                    "/datasets/{id}/doi",
                    web::post().to(api::datasets::reserve_doi),
                )
                .route(
                    "/datasets/{id}/standards",
                    web::put().to(api::datasets::set_standards),
                )
                .route("/datasets/{id}/review", web::post().to(api::review::review))
                .route("/datasets/{id}/claim", web::post().to(api::review::claim))
                .route(
                    "/datasets/{id}/events",
                    web::get().to(api::preservation::events),
                )
                .route(
                    "/datasets/{id}/fixity",
                    web::get().to(api::preservation::fixity),
                )
                .route(
                    "/datasets/{id}/replicas",
                    web::get().to(super::protocols::federation_audit::dataset_replicas),
                )
                // Replica audits (src/federation/answer.rs), signed by the origin
                .route(
                    "/federation/challenges",
                    web::post().to(super::protocols::federation_audit::challenge),
                )
                .route(
                    "/federation/files",
                    web::post().to(super::protocols::federation_audit::fetch_file),
                )
                .route(
                    "/datasets/{id}/copies",
                    web::get().to(super::protocols::federation::copies),
                )
                .route(
                    "/federation/receipts",
                    web::post().to(super::protocols::federation::post_receipt),
                )
                .route(
                    "/datasets/{id}/versions",
                    web::post().to(api::datasets::new_version),
                )
                .route(
                    "/datasets/{id}/deaccession",
                    web::post().to(api::review::deaccession),
                )
                .route(
                    "/curation/queue",
                    web::get().to(api::review::curation_queue),
                )
                .route(
                    "/datasets/{id}/validation",
                    web::get().to(api::tickets::validation),
                )
                .route(
                    "/datasets/{id}/tickets",
                    web::get().to(api::tickets::dataset_tickets),
                )
                .route("/tickets/{id}", web::get().to(api::tickets::ticket))
                .route(
                    "/tickets/{id}",
                    web::post().to(api::tickets::ticket_comment),
                )
                .route(
                    "/tickets/{id}/items/{item}/waive",
                    web::post().to(api::tickets::waive_item),
                )
                .default_service(web::to(api::not_found)),
        );
}
