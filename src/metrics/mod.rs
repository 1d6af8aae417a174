//! What the people who run the archive measure: `/metrics` for Prometheus.
//!
//! Two kinds of series. Counters and histograms of what this process did (HTTP
//! requests, validation runs and findings, fixity checks, publications, job runs) live
//! in one process-wide registry that the domains add to as they work; each node reports
//! its own. Gauges of the archive's state (queues, open tickets, pending DOIs, the mail
//! outbox) are read from the database at each scrape ([`archive`]); every node reports
//! the same values for them, so dashboards take their `max` across nodes.
//!
//! Leaf module: it uses the database layer only, so every domain may report to it.

pub mod archive;

use prometheus_client::encoding::{text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::time::Duration;

/// The content type of what [`render`] writes (OpenMetrics text, which Prometheus
/// scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template (`/datasets/{id}`), never the raw path: bounded cardinality.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub standard: String,
    pub check: String,
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
    pub outcome: String,
}

fn seconds_histogram() -> Histogram {
    // 1 ms to about 9 minutes.
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

/// The process's own series.
pub struct Process {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub validation_runs: Family<StatusLabels, Counter>,
    pub validation_bytes: Counter,
    pub validation_findings: Family<FindingLabels, Counter>,
    pub fixity_files_verified: Counter,
    pub fixity_bytes_verified: Counter,
    pub fixity_failures: Counter,
    pub publications: Counter,
    pub publication_duration: Histogram,
    pub job_runs: Family<JobLabels, Counter>,
}

impl Process {
    fn new() -> Process {
        let mut registry = Registry::with_prefix("holdfast");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                seconds_histogram,
            );
        let validation_runs = Family::<StatusLabels, Counter>::default();
        let validation_bytes = Counter::default();
        let validation_findings = Family::<FindingLabels, Counter>::default();
        let fixity_files_verified = Counter::default();
        let fixity_bytes_verified = Counter::default();
        let fixity_failures = Counter::default();
        let publications = Counter::default();
        let publication_duration = seconds_histogram();
        let job_runs = Family::<JobLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to its first byte), by route template and method",
            http_duration.clone(),
        );
        registry.register(
            "validation_runs",
            "Data standards checks of a dataset finished, by overall status",
            validation_runs.clone(),
        );
        registry.register(
            "validation_bytes",
            "Bytes of files read by data standards checks (reused reports not counted)",
            validation_bytes.clone(),
        );
        registry.register(
            "validation_findings",
            "Findings of data standards checks, by standard, check and severity",
            validation_findings.clone(),
        );
        registry.register(
            "fixity_files_verified",
            "Stored files re-read whose sha256 and size matched",
            fixity_files_verified.clone(),
        );
        registry.register(
            "fixity_bytes_verified",
            "Bytes of stored files re-read whose sha256 and size matched",
            fixity_bytes_verified.clone(),
        );
        registry.register(
            "fixity_failures",
            "Stored files found damaged, missing or unreadable by fixity checks",
            fixity_failures.clone(),
        );
        registry.register(
            "publications",
            "Dataset versions published",
            publications.clone(),
        );
        registry.register(
            "publication_duration_seconds",
            "Time a publication job took, from its start to the published state",
            publication_duration.clone(),
        );
        registry.register(
            "job_runs",
            "Job runs by kind and outcome (done, failed: a failed run may be retried)",
            job_runs.clone(),
        );
        Process {
            registry,
            http_requests,
            http_duration,
            validation_runs,
            validation_bytes,
            validation_findings,
            fixity_files_verified,
            fixity_bytes_verified,
            fixity_failures,
            publications,
            publication_duration,
            job_runs,
        }
    }

    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let (route, method) = (route.to_string(), method.to_string());
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.clone(),
                method: method.clone(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }

    /// One finished validation run: its status, the bytes it read and each finding as
    /// (standard, check code, severity).
    pub fn validation_run<'a>(
        &self,
        status: &str,
        bytes: u64,
        findings: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) {
        self.validation_runs
            .get_or_create(&StatusLabels {
                status: status.to_string(),
            })
            .inc();
        self.validation_bytes.inc_by(bytes);
        for (standard, check, severity) in findings {
            self.validation_findings
                .get_or_create(&FindingLabels {
                    standard: standard.to_string(),
                    check: check.to_string(),
                    severity: severity.to_string(),
                })
                .inc();
        }
    }

    pub fn job_run(&self, kind: &str, failed: bool) {
        let outcome = if failed { "failed" } else { "done" };
        self.job_runs
            .get_or_create(&JobLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }
}

static PROCESS: LazyLock<Process> = LazyLock::new(Process::new);

/// The process-wide series the domains report to.
pub fn process() -> &'static Process {
    &PROCESS
}

/// The whole exposition: this process's series, then the archive's state.
pub fn render(archive: &archive::ArchiveState) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    text::encode_registry(&mut out, &process().registry)?;
    text::encode_registry(&mut out, &archive.registry())?;
    text::encode_eof(&mut out)?;
    Ok(out)
}
