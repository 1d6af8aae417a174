//! Crash safety: holdfast runs as a real process and is killed with SIGKILL at each of
//! its named crash points (`HOLDFAST_CRASH_AT`) while a user uploads, unpacks, removes,
//! submits, publishes, opens a new version, publishes it and withdraws the dataset.
//! After each kill it is started again and the test checks that the OCFL root
//! validates (rocfl), every file the database says is stored is there with its sha256,
//! no half-written file is visible (storage, temp folder, staging, draft files), an
//! interrupted publication becomes `published` by itself, and every other interrupted
//! step either took effect or succeeds when the user simply does it again.
//!
//! `steps` is what the user does (each step redone when a crash may have stopped it);
//! `storage` is what must hold after each restart.

mod steps;
mod storage;

use futures_util::StreamExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use crate::support::checkers::rocfl;
use crate::support::process::{Home, Process, Serve, Tokens};
use crate::support::{backends, fresh_postgres_schema, Backend, Error, TestResult};
use steps::{Journey, StepError, STEPS};
use storage::{check_published, check_storage, settle};

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

/// Runs the journey, killed at the scenario's crash point, then restarted and finished.
async fn run_scenario(
    scenario: &Scenario,
    dir: &Path,
    db_url: &str,
    tokens: &Tokens,
    rocfl: &Path,
) -> Result<(), Error> {
    let mut server = start_server(dir, db_url, Some(scenario.at), true, 0).await?;
    let mut journey = Journey::new(server.base(), tokens)?;
    let mut crashed = false;
    let mut i = 0;
    while i < STEPS.len() {
        let step = STEPS[i];
        match journey.run(step).await {
            Ok(()) => i += 1,
            Err(StepError::Gone(e)) if !crashed => {
                let gone = format!("{step:?}: the server stopped answering ({e})");
                expect_killed_at(&mut server, scenario, &gone).await?;
                crashed = true;
                drop(server);
                let context = format!("after restart at {step:?}");
                server = restart(scenario, dir, db_url, rocfl, &context).await?;
                journey.base = server.base();
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

/// The server that stopped answering (`gone` says when) exited by SIGKILL at the
/// scenario's crash point.
async fn expect_killed_at(server: &mut Process, scenario: &Scenario, gone: &str) -> TestResult {
    let point = scenario.at.split('#').next().unwrap_or(scenario.at);
    let status = server
        .wait_exit(Duration::from_secs(20))
        .await?
        .ok_or_else(|| format!("{gone} but did not exit"))?;
    if status.signal() != Some(9) {
        return Err(format!(
            "{gone}: holdfast ended with {status}, not SIGKILL: {}",
            server.log_text()
        )
        .into());
    }
    let log = server.log_text();
    if !log.contains(&format!("crash point {point} reached")) {
        return Err(format!("{gone}: killed, but not at {point}: {log}").into());
    }
    Ok(())
}

/// Starts the killed archive again: first without job workers (startup recovery alone
/// must leave storage valid, and say what it did), then as usual, until the jobs the
/// crash interrupted have finished by themselves. The running server.
async fn restart(
    scenario: &Scenario,
    dir: &Path,
    db_url: &str,
    rocfl: &Path,
    context: &str,
) -> Result<Process, Error> {
    let server = start_server(dir, db_url, None, false, 1).await?;
    check_storage(dir, db_url, rocfl)
        .await
        .map_err(|e| format!("{context}, before any job ran: {e}\n{}", server.log_text()))?;
    if let Some(expected) = scenario.recovery_log {
        let log = server.log_text();
        if !log.contains(expected) {
            return Err(format!("the restart log does not say \"{expected}\":\n{log}").into());
        }
    }
    drop(server);
    let server = start_server(dir, db_url, None, true, 2).await?;
    settle(db_url)
        .await
        .map_err(|e| format!("{context}: {e}\n{}", server.log_text()))?;
    check_storage(dir, db_url, rocfl)
        .await
        .map_err(|e| format!("{context}: {e}\n{}", server.log_text()))?;
    Ok(server)
}
