//! Crash safety: holdfast runs as a real process and is killed with SIGKILL at each of
//! its named crash points (`HOLDFAST_CRASH_AT`) while a user uploads, unpacks, removes,
//! submits, publishes, opens a new version, publishes it and withdraws the dataset.
//! After each kill it is started again and the test checks that the OCFL root
//! validates (rocfl), every file the database says is stored is there with its sha256,
//! no half-written file is visible (storage, temp folder, staging, draft files), an
//! interrupted publication becomes `published` by itself, and every other interrupted
//! step either took effect or succeeds when the user simply does it again.

use diesel::prelude::*;
use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use holdfast::db::AnyConnection;

use crate::support::checkers::rocfl;
use crate::support::process::{Home, Process, Serve, Tokens};
use crate::support::wait::{self, check, Check};
use crate::support::{
    backends, fresh_postgres_schema, minimal_json, sha256_hex, zip_of, Backend, Error, TestResult,
};

/// A crash point and, where the log of the restart must say so, what recovery did.
struct Scenario {
    at: &'static str,
    recovery_log: Option<&'static str>,
}

const fn at(at: &'static str) -> Scenario {
    Scenario {
        at,
        recovery_log: None,
    }
}

const fn logged(at: &'static str, recovery_log: &'static str) -> Scenario {
    Scenario {
        at,
        recovery_log: Some(recovery_log),
    }
}

const OBJECT_RECOVERED: &str = "brought back to its last committed version";
const JOB_REQUEUED: &str = "jobs of a dead worker queued again";
const TEMP_REMOVED: &str = "removed temp files of unfinished storage writes";

/// Where the journey is killed: every crash point at least once, and the OCFL commit
/// points again on the second publication (an object that already has a version).
const SCENARIOS: &[Scenario] = &[
    at("upload.mid-file#3"),
    at("staging.after-fsync"),
    at("staging.after-rename"),
    at("unpack.after-entry#2"),
    at("add-files.before-commit"),
    at("add-files.after-commit"),
    at("add-files.after-commit#2"),
    at("remove-file.after-commit"),
    logged("job.after-claim", JOB_REQUEUED),
    logged("job.before-finish", JOB_REQUEUED),
    logged("publish.after-dois-reserved", JOB_REQUEUED),
    logged("ocfl.after-object-declaration", OBJECT_RECOVERED),
    logged("ocfl.mid-content#2", OBJECT_RECOVERED),
    logged("ocfl.after-version-inventory", OBJECT_RECOVERED),
    logged("ocfl.after-version-sidecar", OBJECT_RECOVERED),
    logged("ocfl.after-root-inventory", OBJECT_RECOVERED),
    logged("ocfl.after-root-inventory#2", OBJECT_RECOVERED),
    logged("publish.after-ocfl-commit", JOB_REQUEUED),
    logged("publish.after-file-chunk", JOB_REQUEUED),
    logged("publish.before-db-commit", JOB_REQUEUED),
    logged("publish.after-db-commit", JOB_REQUEUED),
    logged("publish.before-event-log", JOB_REQUEUED),
    logged("publish.after-event-log", JOB_REQUEUED),
    logged("blob.put-file.mid-copy", TEMP_REMOVED),
    logged("blob.put-file.temp-written", TEMP_REMOVED),
    logged("blob.put-file.temp-written#4", TEMP_REMOVED),
    logged("blob.put-bytes.temp-written", TEMP_REMOVED),
    logged("blob.put-bytes.temp-written#4", TEMP_REMOVED),
    logged("blob.put-bytes.temp-written#6", TEMP_REMOVED),
    at("new-version.before-commit"),
    at("new-version.after-commit"),
    at("deaccession.before-commit"),
    at("deaccession.after-commit"),
];

/// The points also run on PostgreSQL (when HOLDFAST_TEST_DATABASE_URL is set): where a
/// killed connection's transaction is rolled back by the server, not by the file.
const POSTGRES_SCENARIOS: &[&str] = &[
    "add-files.before-commit",
    "add-files.after-commit",
    "job.after-claim",
    "ocfl.after-root-inventory",
    "publish.after-file-chunk",
    "publish.before-db-commit",
    "publish.after-db-commit",
    "new-version.before-commit",
    "deaccession.before-commit",
];

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("holdfast.db").display())
}

/// How many scenarios run at once (each is its own process and data folder).
const PARALLEL: usize = 3;

#[actix_web::test]
async fn holdfast_killed_at_any_crash_point_recovers_on_restart() -> TestResult {
    let rocfl = rocfl()?;
    let work = tempfile::tempdir()?;
    // SQLite: one data folder with the accounts, copied for each scenario.
    let template = work.path().join("template");
    let template_db = sqlite_url(&template);
    let template_tokens = prepare_accounts(&template, &template_db)?;
    // Every crash point of the code is exercised.
    for point in holdfast::crashpoint::POINTS {
        assert!(
            SCENARIOS
                .iter()
                .any(|s| s.at.split('#').next() == Some(*point)),
            "crash point {point} has no scenario"
        );
    }
    let runs: Vec<(Backend, usize, &Scenario)> = backends()
        .into_iter()
        .flat_map(|backend| {
            SCENARIOS
                .iter()
                .enumerate()
                .filter(move |(_, s)| {
                    backend == Backend::Sqlite || POSTGRES_SCENARIOS.contains(&s.at)
                })
                .map(move |(i, s)| (backend, i, s))
        })
        .collect();
    let total = runs.len();
    let results: Vec<(String, Result<(), String>)> = futures_util::stream::iter(runs)
        .map(|(backend, i, scenario)| {
            let dir = work.path().join(format!("{backend:?}-{i}"));
            let (template, template_tokens, rocfl) = (&template, &template_tokens, &rocfl);
            async move {
                let outcome = async {
                    match backend {
                        Backend::Sqlite => {
                            copy_dir(template, &dir)?;
                            run_scenario(scenario, &dir, &sqlite_url(&dir), template_tokens, rocfl)
                                .await
                        }
                        Backend::Postgres => {
                            let db_url = fresh_postgres_schema()?;
                            let tokens = prepare_accounts(&dir, &db_url)?;
                            run_scenario(scenario, &dir, &db_url, &tokens, rocfl).await
                        }
                    }
                }
                .await
                .map_err(|e| e.to_string());
                (format!("{backend:?} {}", scenario.at), outcome)
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(at, r)| r.as_ref().err().map(|e| format!("{at}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} crash scenarios failed:\n{}",
        failures.len(),
        total,
        failures.join("\n\n")
    );
    Ok(())
}

/// A data folder (and database) with a depositor, a curator and an admin and their
/// tokens, made with the holdfast command line.
fn prepare_accounts(dir: &Path, db_url: &str) -> Result<Tokens, Error> {
    Home::on(dir.to_path_buf(), db_url).accounts()
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Starts `holdfast serve` on a free port; with `workers` false it runs no job, so what
/// is seen is what startup recovery alone did. A server killed at a crash point reached
/// at start (e.g. by a scheduled job) is handed back: the journey's first request finds
/// it gone.
async fn start_server(
    data_dir: &Path,
    db_url: &str,
    crash_at: Option<&str>,
    workers: bool,
    run: usize,
) -> Result<Process, Error> {
    let mut how = Serve::default().env("HOLDFAST_WORKERS", if workers { "2" } else { "0" });
    if let Some(at) = crash_at {
        how = how.env(holdfast::crashpoint::ENV, at);
    }
    how.log = Some(data_dir.with_extension(format!("log{run}")));
    how.may_die_at_start = crash_at.is_some();
    Home::on(data_dir.to_path_buf(), db_url).start(how).await
}

/// What the user does, in order. Each step first looks whether it already took effect
/// (after a crash) and does it (again) only if not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    CreateDraft,
    UploadBig,
    UploadZip,
    RemoveFile,
    Submit,
    Accept,
    NewVersion,
    UploadVersion2,
    Submit2,
    Accept2,
    Deaccession,
}

const STEPS: &[Step] = &[
    Step::CreateDraft,
    Step::UploadBig,
    Step::UploadZip,
    Step::RemoveFile,
    Step::Submit,
    Step::Accept,
    Step::NewVersion,
    Step::UploadVersion2,
    Step::Submit2,
    Step::Accept2,
    Step::Deaccession,
];

const TITLE: &str = "Crash test dataset";

/// The journey's state as the test knows it: the dataset and the bytes it gave each path.
struct Journey<'a> {
    base: String,
    tokens: &'a Tokens,
    client: Client,
    id: Option<i64>,
    /// path -> sha256 of what the draft must hold once the steps so far took effect.
    draft: BTreeMap<String, String>,
}

/// Bytes of the big upload: several MB, so the body arrives in many chunks and is
/// copied into storage in more than one buffer.
fn big_bytes(generation: u8) -> Vec<u8> {
    (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ generation)
        .collect()
}

fn zip_entries() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("a.txt", b"first entry\n"),
        ("b/c.txt", b"second entry\n"),
        ("d.txt", b"third entry, removed later\n"),
    ]
}

/// An error that means the server is not (or no longer) answering.
fn is_transport(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_request() || e.is_body() || e.is_timeout() || e.is_decode()
}

enum StepError {
    /// The server stopped answering: it may have been killed.
    Gone(String),
    Failed(String),
}

impl From<reqwest::Error> for StepError {
    fn from(e: reqwest::Error) -> StepError {
        if is_transport(&e) {
            StepError::Gone(e.to_string())
        } else {
            StepError::Failed(e.to_string())
        }
    }
}

impl From<Error> for StepError {
    fn from(e: Error) -> StepError {
        StepError::Failed(e.to_string())
    }
}

impl From<&str> for StepError {
    fn from(e: &str) -> StepError {
        StepError::Failed(e.to_string())
    }
}

impl From<String> for StepError {
    fn from(e: String) -> StepError {
        StepError::Failed(e)
    }
}

impl<'a> Journey<'a> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn id(&self) -> Result<i64, StepError> {
        self.id.ok_or_else(|| "no dataset yet".to_string().into())
    }

    async fn dataset(&self) -> Result<Value, StepError> {
        let id = self.id()?;
        let r = self
            .client
            .get(self.url(&format!("/api/datasets/{id}")))
            .bearer_auth(&self.tokens.depositor)
            .send()
            .await?;
        if r.status() != StatusCode::OK {
            return Err(format!("GET dataset: {}", r.status()).into());
        }
        Ok(r.json().await?)
    }

    /// The draft's files (path -> sha256). A file whose bytes differ from what the
    /// user sent for that path would be a half-written or mixed-up file: an error.
    async fn files(
        &self,
        allowed: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, StepError> {
        let view = self.dataset().await?;
        let mut out = BTreeMap::new();
        for f in view["files"].as_array().ok_or("no files in the dataset")? {
            let path = f["path"].as_str().ok_or("file without path")?.to_string();
            let sha = f["sha256"]
                .as_str()
                .ok_or("file without sha256")?
                .to_string();
            // Each path holds what the user last sent for it, or what they are sending.
            if allowed.get(&path) != Some(&sha) && self.draft.get(&path) != Some(&sha) {
                return Err(format!(
                    "draft file {path} has sha256 {sha}, which the user never uploaded there"
                )
                .into());
            }
            out.insert(path, sha);
        }
        Ok(out)
    }

    async fn state(&self) -> Result<String, StepError> {
        Ok(self.dataset().await?["state"]
            .as_str()
            .ok_or("no state")?
            .to_string())
    }

    async fn put(&self, path: &str, body: Vec<u8>) -> Result<(), StepError> {
        let id = self.id()?;
        let r = self
            .client
            .put(self.url(&format!("/api/datasets/{id}/files/{path}")))
            .bearer_auth(&self.tokens.depositor)
            .body(body)
            .send()
            .await?;
        if r.status() != StatusCode::CREATED {
            let status = r.status();
            return Err(format!("upload {path}: {status}: {}", r.text().await?).into());
        }
        Ok(())
    }

    /// Uploads `wanted` files unless the draft already holds them.
    async fn ensure_files(
        &mut self,
        wanted: BTreeMap<String, String>,
        upload: impl AsyncFnOnce(&Self) -> Result<(), StepError>,
    ) -> Result<(), StepError> {
        let have = self.files(&wanted).await?;
        let missing = wanted.iter().any(|(p, sha)| have.get(p) != Some(sha));
        if missing {
            upload(self).await?;
            let have = self.files(&wanted).await?;
            if let Some((p, _)) = wanted.iter().find(|(p, sha)| have.get(*p) != Some(sha)) {
                return Err(format!("{p} is not in the draft after its upload").into());
            }
        }
        self.draft.extend(wanted);
        Ok(())
    }

    async fn wait_checks(&self) -> Result<(), StepError> {
        let id = self.id()?;
        let url = self.url(&format!("/api/datasets/{id}/validation"));
        wait::poll("the data standards check", wait::PATIENCE, || async {
            let r = self
                .client
                .get(&url)
                .bearer_auth(&self.tokens.depositor)
                .send()
                .await?;
            let report: Value = r.json().await?;
            Ok::<_, StepError>(check(report["state"] != "checking", report))
        })
        .await
        .map(|_| ())
    }

    async fn post(
        &self,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<StatusCode, StepError> {
        let mut req = self.client.post(self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await?;
        let status = r.status();
        if !status.is_success() {
            return Err(format!("POST {path}: {status}: {}", r.text().await?).into());
        }
        Ok(status)
    }

    async fn submit(&self) -> Result<(), StepError> {
        let id = self.id()?;
        self.wait_checks().await?;
        if self.state().await? == "draft" {
            self.post(
                &format!("/api/datasets/{id}/submit"),
                &self.tokens.depositor,
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// Accepts unless the curator already did; then the publication must finish by
    /// itself, with no further action of anyone.
    async fn accept(&self, version: i64) -> Result<(), StepError> {
        let id = self.id()?;
        let state = self.state().await?;
        if state == "submitted" || state == "in_review" {
            self.wait_checks().await?;
            let status = self
                .post(
                    &format!("/api/datasets/{id}/review"),
                    &self.tokens.curator,
                    Some(serde_json::json!({"decision": "accept"})),
                )
                .await?;
            if status != StatusCode::ACCEPTED {
                return Err(format!("accept answered {status}").into());
            }
        }
        wait::poll(
            &format!("version {version} to be published"),
            wait::PATIENCE,
            || async {
                let view = self.dataset().await?;
                let done =
                    view["state"] == "published" && view["version"].as_i64() == Some(version);
                Ok::<_, StepError>(if done {
                    Check::Done(())
                } else {
                    Check::NotYet(format!("{} v{}", view["state"], view["version"]))
                })
            },
        )
        .await
    }

    async fn run(&mut self, step: Step) -> Result<(), StepError> {
        match step {
            Step::CreateDraft => {
                // After a crash the draft may exist already: the user finds it in their list.
                let r = self
                    .client
                    .get(self.url("/api/datasets"))
                    .bearer_auth(&self.tokens.depositor)
                    .send()
                    .await?;
                let list: Value = r.json().await?;
                let existing = list
                    .as_array()
                    .or_else(|| list["datasets"].as_array())
                    .and_then(|l| l.iter().find_map(|d| d["id"].as_i64()));
                if let Some(id) = existing {
                    self.id = Some(id);
                    return Ok(());
                }
                let r = self
                    .client
                    .post(self.url("/api/datasets"))
                    .bearer_auth(&self.tokens.depositor)
                    .json(&minimal_json(TITLE))
                    .send()
                    .await?;
                if r.status() != StatusCode::CREATED {
                    return Err(format!("create: {}", r.status()).into());
                }
                self.id = r.json::<Value>().await?["id"].as_i64();
                Ok(())
            }
            Step::UploadBig => {
                let body = big_bytes(0);
                let wanted = BTreeMap::from([("data/big.bin".to_string(), sha256_hex(&body))]);
                self.ensure_files(wanted, async move |j: &Self| {
                    j.put("data/big.bin", body).await
                })
                .await
            }
            Step::UploadZip => {
                let wanted: BTreeMap<String, String> = zip_entries()
                    .into_iter()
                    .map(|(p, b)| (p.to_string(), sha256_hex(b)))
                    .collect();
                let zip = zip_of(&zip_entries());
                self.ensure_files(wanted, async move |j: &Self| {
                    j.put("bundle.zip?unpack=true", zip).await
                })
                .await
            }
            Step::RemoveFile => {
                let id = self.id()?;
                let have = self.files(&BTreeMap::new()).await?;
                if have.contains_key("d.txt") {
                    let r = self
                        .client
                        .delete(self.url(&format!("/api/datasets/{id}/files/d.txt")))
                        .bearer_auth(&self.tokens.depositor)
                        .send()
                        .await?;
                    if r.status() != StatusCode::NO_CONTENT {
                        return Err(format!("delete: {}", r.status()).into());
                    }
                }
                self.draft.remove("d.txt");
                Ok(())
            }
            Step::Submit | Step::Submit2 => self.submit().await,
            Step::Accept => self.accept(1).await,
            Step::NewVersion => {
                let id = self.id()?;
                let view = self.dataset().await?;
                if view["state"] == "published" {
                    self.post(
                        &format!("/api/datasets/{id}/versions"),
                        &self.tokens.depositor,
                        None,
                    )
                    .await?;
                }
                let view = self.dataset().await?;
                if view["state"] != "draft" || view["version"].as_i64() != Some(2) {
                    return Err(format!(
                        "no version 2 draft: {} v{}",
                        view["state"], view["version"]
                    )
                    .into());
                }
                Ok(())
            }
            Step::UploadVersion2 => {
                let big = big_bytes(7);
                let wanted = BTreeMap::from([
                    ("data/big.bin".to_string(), sha256_hex(&big)),
                    ("e.txt".to_string(), sha256_hex(b"new in version 2\n")),
                ]);
                self.ensure_files(wanted, async move |j: &Self| {
                    j.put("data/big.bin", big).await?;
                    j.put("e.txt", b"new in version 2\n".to_vec()).await
                })
                .await
            }
            Step::Accept2 => self.accept(2).await,
            Step::Deaccession => {
                let id = self.id()?;
                if self.state().await? == "published" {
                    self.post(
                        &format!("/api/datasets/{id}/deaccession"),
                        &self.tokens.admin,
                        Some(serde_json::json!({"reason": "crash test"})),
                    )
                    .await?;
                }
                let state = self.state().await?;
                if state != "deaccessioned" {
                    return Err(format!("state {state} after deaccession").into());
                }
                Ok(())
            }
        }
    }
}

async fn run_scenario(
    scenario: &Scenario,
    dir: &Path,
    db_url: &str,
    tokens: &Tokens,
    rocfl: &Path,
) -> Result<(), Error> {
    let point = scenario.at.split('#').next().unwrap_or(scenario.at);
    let mut server = start_server(dir, db_url, Some(scenario.at), true, 0).await?;
    let mut journey = Journey {
        base: server.base(),
        tokens,
        client: crate::support::http_client()
            .timeout(Duration::from_secs(60))
            .build()?,
        id: None,
        draft: BTreeMap::new(),
    };
    let mut crashed = false;
    let mut i = 0;
    while i < STEPS.len() {
        let step = STEPS[i];
        match journey.run(step).await {
            Ok(()) => i += 1,
            Err(StepError::Gone(e)) if !crashed => {
                let status = server
                    .wait_exit(Duration::from_secs(20))
                    .await?
                    .ok_or_else(|| {
                        format!("{step:?}: the server stopped answering ({e}) but did not exit")
                    })?;
                if status.signal() != Some(9) {
                    return Err(format!(
                        "{step:?}: holdfast ended with {status}, not SIGKILL: {}",
                        server.log_text()
                    )
                    .into());
                }
                let log = server.log_text();
                if !log.contains(&format!("crash point {point} reached")) {
                    return Err(format!("{step:?}: killed, but not at {point}: {log}").into());
                }
                crashed = true;
                drop(server);
                // Restarted without job workers: startup recovery alone must leave
                // storage valid, and say what it did.
                server = start_server(dir, db_url, None, false, 1).await?;
                check_storage(dir, db_url, rocfl).await.map_err(|e| {
                    format!(
                        "after restart at {step:?}, before any job ran: {e}\n{}",
                        server.log_text()
                    )
                })?;
                if let Some(expected) = scenario.recovery_log {
                    let log = server.log_text();
                    if !log.contains(expected) {
                        return Err(
                            format!("the restart log does not say \"{expected}\":\n{log}").into(),
                        );
                    }
                }
                drop(server);
                // Then as usual: interrupted jobs finish by themselves.
                server = start_server(dir, db_url, None, true, 2).await?;
                journey.base = server.base();
                settle(db_url).await.map_err(|e| {
                    format!("after restart at {step:?}: {e}\n{}", server.log_text())
                })?;
                check_storage(dir, db_url, rocfl).await.map_err(|e| {
                    format!("after restart at {step:?}: {e}\n{}", server.log_text())
                })?;
                // The step is done again as a user would (it looks whether it took effect).
            }
            Err(StepError::Gone(e)) | Err(StepError::Failed(e)) => {
                return Err(format!(
                    "{step:?} (crashed before: {crashed}): {e}\n{}",
                    server.log_text()
                )
                .into());
            }
        }
    }
    if !crashed {
        return Err(format!("the journey never reached crash point {}", scenario.at).into());
    }
    settle(db_url).await?;
    check_storage(dir, db_url, rocfl).await?;
    check_published(db_url).await
}

fn connect(db_url: &str) -> Result<AnyConnection, Error> {
    Ok(match db_url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = diesel::SqliteConnection::establish(path)?;
            diesel::sql_query("PRAGMA busy_timeout = 15000").execute(&mut conn)?;
            AnyConnection::Sqlite(conn)
        }
        None => AnyConnection::Postgresql(diesel::PgConnection::establish(db_url)?),
    })
}

/// Waits until no job is running or due (the restarted server finished what the crash
/// interrupted), so storage is looked at while nothing writes to it.
async fn settle(db_url: &str) -> Result<(), Error> {
    use holdfast::db::schema::jobs;
    wait::eventually("the restarted server to finish its jobs", || async {
        // Scheduled work (a later round of some periodic job) is not waited for.
        let now = chrono::Utc::now().naive_utc();
        let pending: Vec<(i64, String, String)> = jobs::table
            .filter(
                jobs::state
                    .eq("running")
                    .or(jobs::state.eq("queued").and(jobs::run_after.le(now))),
            )
            .select((jobs::id, jobs::kind, jobs::state))
            .load(&mut connect(db_url)?)?;
        Ok(check(pending.is_empty(), pending))
    })
    .await
    .map(|_| ())
}

/// path, sha256, size, staged blob, content path, OCFL object id.
type FileRecord = (
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn file_sha256(path: &Path) -> std::io::Result<String> {
    Ok(sha256_hex(&std::fs::read(path)?))
}

/// rocfl validates the root; every stored or staged file the database lists is there
/// with its sha256; no temp or partial file is left where it could be seen.
async fn check_storage(dir: &Path, db_url: &str, rocfl: &Path) -> Result<(), Error> {
    use holdfast::db::schema::{dataset_versions, datasets, version_files};
    let root = dir.join("ocfl");
    let out = std::process::Command::new(rocfl)
        .arg("-r")
        .arg(&root)
        .arg("validate")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "rocfl validate failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let mut conn = connect(db_url)?;
    let rows: Vec<FileRecord> = version_files::table
        .inner_join(dataset_versions::table.inner_join(datasets::table))
        .select((
            version_files::path,
            version_files::sha256,
            version_files::size,
            version_files::staged_name,
            version_files::content_path,
            datasets::ocfl_object_id,
        ))
        .load(&mut conn)?;
    let layout = holdfast::storage::HashedNTupleLayout::default();
    for (path, sha, size, staged, content, object) in rows {
        let file = match (&staged, &content, &object) {
            (Some(blob), _, _) => dir.join("staging").join(blob),
            (None, Some(content), Some(object)) => {
                root.join(layout.object_root(object)).join(content)
            }
            _ => return Err(format!("{path}: neither staged nor stored").into()),
        };
        let meta = std::fs::metadata(&file)
            .map_err(|e| format!("{path}: {} missing: {e}", file.display()))?;
        if meta.len() != size as u64 || file_sha256(&file)? != sha {
            return Err(format!(
                "{path}: {} does not hold its {size} bytes with sha256 {sha}",
                file.display()
            )
            .into());
        }
    }
    let mut leftovers = Vec::new();
    walk(&root, &mut |p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.ends_with(".tmp") || name.starts_with(".part-") {
            leftovers.push(p.to_path_buf());
        }
    })?;
    walk(&dir.join("ocfl.tmp"), &mut |p| {
        leftovers.push(p.to_path_buf())
    })?;
    walk(&dir.join("staging"), &mut |p| {
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".part-"))
        {
            leftovers.push(p.to_path_buf());
        }
    })?;
    if !leftovers.is_empty() {
        return Err(format!("partial or temp files left after restart: {leftovers:?}").into());
    }
    Ok(())
}

fn walk(dir: &Path, found: &mut dyn FnMut(&Path)) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), found)?;
        } else {
            found(&entry.path());
        }
    }
    Ok(())
}

/// At the end both versions are published in storage with the bytes the user sent.
async fn check_published(db_url: &str) -> Result<(), Error> {
    use holdfast::db::schema::{dataset_versions, version_files};
    let mut conn = connect(db_url)?;
    let rows: Vec<(i32, String, String, Option<String>)> = version_files::table
        .inner_join(dataset_versions::table)
        .filter(dataset_versions::published_at.is_not_null())
        .select((
            dataset_versions::number,
            version_files::path,
            version_files::sha256,
            version_files::content_path,
        ))
        .order((dataset_versions::number.asc(), version_files::path.asc()))
        .load(&mut conn)?;
    let zip: BTreeMap<&str, &[u8]> = zip_entries().into_iter().collect();
    let mut expected = vec![
        (1, "a.txt".to_string(), sha256_hex(zip["a.txt"])),
        (1, "b/c.txt".to_string(), sha256_hex(zip["b/c.txt"])),
        (1, "data/big.bin".to_string(), sha256_hex(&big_bytes(0))),
        (2, "a.txt".to_string(), sha256_hex(zip["a.txt"])),
        (2, "b/c.txt".to_string(), sha256_hex(zip["b/c.txt"])),
        (2, "data/big.bin".to_string(), sha256_hex(&big_bytes(7))),
        (2, "e.txt".to_string(), sha256_hex(b"new in version 2\n")),
    ];
    expected.sort();
    let got: Vec<(i32, String, String)> = rows
        .iter()
        .map(|(n, p, s, _)| (*n, p.clone(), s.clone()))
        .collect();
    if got != expected {
        return Err(format!("published files {got:?}, expected {expected:?}").into());
    }
    if rows.iter().any(|(_, _, _, c)| c.is_none()) {
        return Err("a published file has no content path".into());
    }
    Ok(())
}
