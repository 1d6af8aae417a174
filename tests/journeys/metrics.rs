//! Operators scrape `/metrics`: it is closed to the public, open to the metrics token and
//! on the metrics address; read by Prometheus's own parser, its counters move by what
//! the archive did: a PI uploads a file with an error, replaces it, the check runs
//! twice, the dataset is published and its file audited.
//!
//! The real binary serves here, so the counters are that process's alone.

use crate::support::checkers::parse_metrics;
use crate::support::process::{Home, Process, Tokens};
use crate::support::wait::{self, check};
use crate::support::*;
use reqwest::StatusCode;
use std::collections::BTreeMap;

const TOKEN: &str = "scrape-me-3f1c9a";
const BAD: &[u8] = b"site,flux\nUS-Ha1,0.5\nUS-Ha2\n";
const GOOD: &[u8] = b"site,flux\nUS-Ha1,0.5\nUS-Ha2,0.7\n";
const FILE_ROUTE: &str = "/api/datasets/{id}/files/{path:.+}";

type Samples = BTreeMap<String, f64>;

async fn scrape(server: &Process) -> Result<Samples, Error> {
    let r = fresh_client()
        .get(server.base() + "/metrics")
        .bearer_auth(TOKEN)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()?
        .starts_with("application/openmetrics-text"));
    parse_metrics(&r.text().await?)
}

/// A sample's value, 0 when the series does not exist (yet).
fn value(samples: &Samples, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

fn moved(before: &Samples, after: &Samples, key: &str) -> f64 {
    value(after, key) - value(before, key)
}

#[actix_web::test]
async fn operators_scrape_what_the_archive_did() -> TestResult {
    for_each_backend(run).await
}

/// The real binary with a metrics token and address, auditing every few seconds (so
/// the published file is verified while we watch); its tokens and metrics address.
async fn scraped_server(
    home_dir: &std::path::Path,
    backend: Backend,
) -> Result<(Process, Tokens, String), Error> {
    let metrics_addr = format!("127.0.0.1:{}", free_port()?);
    let home = Home::new(home_dir, "data", backend)?
        .with("HOLDFAST_METRICS_TOKEN", TOKEN)
        .with("HOLDFAST_METRICS_BIND", metrics_addr.clone())
        .with("HOLDFAST_FIXITY_CYCLE_DAYS", "0.00005")
        .with("HOLDFAST_FIXITY_INTERVAL_SECS", "1");
    let tokens = home.accounts()?;
    Ok((home.serve().await?, tokens, metrics_addr))
}

/// Closed to the public and to a wrong token; open on the metrics address.
async fn only_the_token_and_the_metrics_address_open_metrics(
    server: &Process,
    tokens: &Tokens,
    metrics_addr: &str,
) -> TestResult {
    let anonymous = fresh_client();
    let url = server.base() + "/metrics";
    assert_eq!(
        anonymous.get(&url).send().await?.status(),
        StatusCode::UNAUTHORIZED
    );
    let wrong = anonymous
        .get(&url)
        .bearer_auth(&tokens.admin)
        .send()
        .await?;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let open = anonymous
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await?;
    assert_eq!(open.status(), StatusCode::OK);
    parse_metrics(&open.text().await?)?;
    Ok(())
}

async fn run(backend: Backend) -> TestResult {
    let dir = tempfile::tempdir()?;
    let (server, tokens, metrics_addr) = scraped_server(dir.path(), backend).await?;
    let (pi, curator) = (
        Api::new(&server.base(), Some(&tokens.depositor)),
        Api::new(&server.base(), Some(&tokens.curator)),
    );
    only_the_token_and_the_metrics_address_open_metrics(&server, &tokens, &metrics_addr).await?;

    let before = scrape(&server).await?;
    let id = pi.create_draft("Harvard Forest fluxes 2026").await?;
    pi.put_file(id, "fluxes.csv", BAD).await?;
    let first = pi.checked(id).await?;
    let findings: Vec<&serde_json::Value> = first["files"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["findings"].as_array().into_iter().flatten())
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(!findings.is_empty(), "the short row is an error: {first}");
    let middle = scrape(&server).await?;
    for f in &findings {
        let key = format!(
            "holdfast_validation_findings_total{{check=\"{}\",severity=\"error\",standard=\"{}\"}}",
            f["code"].as_str().ok_or("code")?,
            f["standard"].as_str().ok_or("standard")?
        );
        assert!(moved(&before, &middle, &key) >= 1.0, "{key} did not move");
    }
    assert!(
        value(&middle, "holdfast_tickets_open{age=\"0-1d\"}") == 1.0,
        "the error opened a ticket"
    );

    pi.put_file(id, "fluxes.csv", GOOD).await?;
    pi.checked(id).await?;
    pi.submit(id).await?;
    curator.accept(id).await?;
    pi.published(id).await?;
    let audited = wait::eventually("the audit of the published file", || async {
        let now = scrape(&server).await?;
        let files = value(&now, "holdfast_fixity_files_verified_total");
        Ok(check(files >= 1.0, now))
    })
    .await?;
    the_counters_moved_by_what_the_archive_did(&before, &audited)
}

/// From `before` the PI's uploads to `after` the audit of the published file.
fn the_counters_moved_by_what_the_archive_did(before: &Samples, after: &Samples) -> TestResult {
    let put = format!(
        "holdfast_http_requests_total{{method=\"PUT\",route=\"{FILE_ROUTE}\",status=\"201\"}}"
    );
    assert_eq!(moved(before, after, &put), 2.0, "two uploads");
    assert_eq!(moved(before, after, "holdfast_publications_total"), 1.0);
    assert_eq!(
        moved(before, after, "holdfast_publication_duration_seconds_count"),
        1.0
    );
    assert!(
        moved(
            before,
            after,
            "holdfast_validation_runs_total{status=\"error\"}"
        ) >= 1.0
    );
    assert!(
        moved(before, after, "holdfast_validation_bytes_total") >= (BAD.len() + GOOD.len()) as f64,
        "both versions of the file were read"
    );
    // The audits re-read the stored files (the data file and the version's metadata).
    let files = value(after, "holdfast_fixity_files_verified_total");
    let bytes = value(after, "holdfast_fixity_bytes_verified_total");
    assert!(
        bytes >= files && bytes >= GOOD.len() as f64,
        "{files} files, {bytes} bytes"
    );
    assert_eq!(value(after, "holdfast_fixity_failures_total"), 0.0);
    // One QA ticket in all (its warnings stay open), opened today; nothing waits for
    // review.
    let open: f64 = ["0-1d", "1-7d", "7-30d", "30d+"]
        .iter()
        .map(|age| value(after, &format!("holdfast_tickets_open{{age=\"{age}\"}}")))
        .sum();
    assert_eq!(open, 1.0);
    assert_eq!(value(after, "holdfast_tickets_open{age=\"0-1d\"}"), 1.0);
    assert_eq!(value(after, "holdfast_review_queue"), 0.0);
    assert!(
        moved(
            before,
            after,
            "holdfast_job_runs_total{kind=\"publish-dataset\",outcome=\"done\"}"
        ) == 1.0
    );
    assert!(value(after, "holdfast_db_pool_connections{state=\"idle\"}") >= 1.0);
    Ok(())
}

#[actix_web::test]
async fn without_a_token_or_address_there_are_no_metrics() -> TestResult {
    let app = TestApp::builder().spawn(Backend::Sqlite).await?;
    let r = app.client().get(app.url("/metrics")).send().await?;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    Ok(())
}
