//! The journeys' harness: one home for what every journey needs.
//!
//! - [`app`]: [`TestApp`], the real server in this process on a fresh database (SQLite,
//!   and PostgreSQL when `HOLDFAST_TEST_DATABASE_URL` is set), built with
//!   [`TestApp::builder`]; jobs run when the test says so ([`TestApp::run_jobs`]).
//! - [`users`]: one account of each role in one call, with passwords and API tokens.
//! - [`api`]: a typed client for the JSON API calls journeys make.
//! - [`browser`]: a cookie-keeping client for the HTML pages and their forms.
//! - [`mail`]: mail the archive sent, read back as parsed messages; a real SMTP server.
//! - [`oai`]: OAI-PMH requests and an archive with four records to harvest.
//! - [`process`]: the `holdfast` binary as a child process (one home, logs kept).
//! - [`s3`]: a real SeaweedFS S3 server, and S3 store settings for it.
//! - [`ports`]: free ports for child processes, without the probe-then-bind race.
//! - [`wait`]: the one bounded polling loop, for work done by other processes.
//! - [`fixtures`]: valid metadata, small CSVs, zips, digests.
//! - [`checkers`]: the external validators (ocfl-py, rocfl, xmlschema, bagit).
//! - [`datacite`]: a DataCite REST API double that checks what it receives.
//! - [`snapshot`]: answers made comparable across runs, and the route table, for insta.
//! - [`tus`]: resumable uploads: the tuspy client, a connection-cutting proxy, requests.
//!
//! Not every journey uses every helper.
#![allow(dead_code, unused_imports)]

pub mod api;
pub mod app;
pub mod browser;
pub mod checkers;
pub mod datacite;
pub mod fixtures;
pub mod mail;
pub mod oai;
pub mod ports;
pub mod process;
pub mod s3;
pub mod snapshot;
pub mod tus;
pub mod users;
pub mod wait;

pub use api::{Api, ApiAnswer};
pub use app::{
    backends, for_each_backend, fresh_postgres_schema, on_each_backend, Backend, Builder, TestApp,
};
pub use browser::{csrf_in, expect_redirect, expect_redirect_prefix, location, Browser};
pub use checkers::{validate_datacite_xml, validate_ocfl_root};
pub use fixtures::{minimal_form, minimal_json, sha256_hex, zip_of};
pub use mail::{Mail, SmtpServer};
pub use ports::{free_port, free_ports};
pub use process::{Home, Process};
pub use users::{User, Users};
pub use wait::{eventually, Check};

/// How long a client keeps an idle connection: well under the server's keep-alive (5 s),
/// so a request never goes out on a connection the server is closing at that moment
/// ("error sending request" on a busy machine).
pub const IDLE_CONNECTION: std::time::Duration = std::time::Duration::from_secs(2);

/// An HTTP client builder for journeys: idle connections are dropped before the
/// server's keep-alive ends (see [`IDLE_CONNECTION`]).
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_idle_timeout(IDLE_CONNECTION)
}

/// A plain HTTP client for journeys (see [`http_client`]).
pub fn fresh_client() -> reqwest::Client {
    http_client().build().expect("client builds")
}

/// GETs a document that must answer 200 with the media type `media`; its text.
pub async fn get_document(url: &str, media: &str) -> Result<String, Error> {
    let r = fresh_client().get(url).send().await?;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "{url}");
    let got = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(got, media, "{url}");
    Ok(r.text().await?)
}

/// Any failure of a journey: its message says what went wrong.
pub type Error = Box<dyn std::error::Error>;
pub type TestResult = Result<(), Error>;
