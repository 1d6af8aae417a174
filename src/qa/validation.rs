//! Validation runs of a draft, as background jobs, and the report they leave.
//!
//! Any change to a draft (files, metadata) enqueues one `validate-dataset` job (later
//! changes fold into it while it waits). The job checks only files whose path or
//! digest changed since their last check (or whose standards changed), re-runs the
//! dataset-level rules, stores each file's report, and brings the dataset's QA ticket
//! in line with the findings, all in one transaction.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::accounts::User;
use crate::config::Settings;
use crate::db::schema::{datasets, file_validations, validation_runs};
use crate::db::AnyConnection;
use crate::db::Db;
use crate::deposit::ingest::Staging;
use crate::deposit::model::{FileRow, VersionRow};
use crate::deposit::service;
use crate::deposit::validation::DraftCheck;
use crate::error::DomainError;
use crate::jobs::Waker;
use crate::mail::{self, Notice, NotificationKind};
use crate::preservation::events::{self, Agent, EventType, Outcome};
use crate::standards::dataset::{validate_dataset, DatasetFile, DatasetInput, DatasetReport};
use crate::standards::Registry;
use crate::standards::{FileReport, Finding, Severity, Status, Summary};
use crate::storage::{BlobStore, OcflRoot};
use crate::tickets::{self, Observation};
use std::sync::Arc;

/// Findings kept per (file, check) on a ticket item, as in the report.
const ITEM_FINDINGS: usize = 100;

pub use crate::deposit::validation::{is_checking, request as request_run, ValidateDraft};

/// What checks drafts: the database, the standards in effect, where files' bytes are
/// (staging, the OCFL store) and the settings. Answers the deposit's [`DraftCheck`]
/// requests.
#[derive(Clone)]
pub struct Checker {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub standards: Arc<Registry>,
    pub store: Arc<dyn BlobStore>,
    pub ocfl: Arc<OcflRoot>,
    pub staging: Arc<Staging>,
    pub waker: Waker,
}

#[async_trait::async_trait]
impl DraftCheck for Checker {
    async fn check(&self, request: ValidateDraft) -> Result<(), DomainError> {
        run(self, request).await
    }
}

/// Whether some run of this version has finished.
pub fn has_run(conn: &mut AnyConnection, version_id: i64) -> Result<bool, DomainError> {
    Ok(latest_run(conn, version_id)?.is_some())
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = validation_runs)]
pub struct RunRow {
    pub id: i64,
    pub dataset_id: i64,
    pub version_id: i64,
    pub state: String,
    pub reason: String,
    pub status: Option<String>,
    pub errors: i64,
    pub warnings: i64,
    pub files_checked: i32,
    pub files_reused: i32,
    pub bytes_checked: i64,
    #[serde(skip)]
    pub dataset_findings: String,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

/// The latest finished run of a version.
pub fn latest_run(
    conn: &mut AnyConnection,
    version_id: i64,
) -> Result<Option<RunRow>, DomainError> {
    Ok(validation_runs::table
        .filter(validation_runs::version_id.eq(version_id))
        .filter(validation_runs::state.eq("done"))
        .order(validation_runs::id.desc())
        .select(RunRow::as_select())
        .first(conn)
        .optional()?)
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = file_validations)]
struct FileValidationRow {
    path: String,
    sha256: String,
    fingerprint: String,
    report: String,
}

/// What the job reads before the (long) check, in one short database visit.
struct Snapshot {
    owner_id: i64,
    version: VersionRow,
    files: Vec<FileRow>,
    object_id: Option<String>,
    cached: HashMap<String, FileValidationRow>,
}

fn status_str(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Warning => "warning",
        Status::Error => "error",
    }
}

fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// One run: see the module comment. Idempotent; a run whose files changed under it
/// gives way to the run that change queued.
async fn run(checker: &Checker, request: ValidateDraft) -> Result<(), DomainError> {
    let ValidateDraft {
        dataset_id,
        version_id,
        reason,
    } = request;
    let snapshot = checker
        .db
        .run(move |conn| load_snapshot(conn, dataset_id, version_id))
        .await?;
    let Some(snapshot) = snapshot else {
        return Ok(()); // the dataset or version is gone: nothing to check
    };
    let started = Utc::now().naive_utc();
    let run_reason = reason.clone();
    let run_id = checker
        .db
        .run(move |conn| start_run(conn, dataset_id, version_id, &run_reason, started))
        .await?;
    let (inputs, _downloads) = dataset_files(checker, &snapshot).await?;
    let claimed: Vec<String> =
        serde_json::from_str(&snapshot.version.standards).unwrap_or_default();
    let metadata = service::parse_stored_metadata(&snapshot.version.metadata).ok();
    let registry = checker.standards.clone();
    let fingerprint = registry.fingerprint();
    let cached = snapshot.cached;
    let fp = fingerprint.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let mut reused: Vec<String> = Vec::new();
        let input = DatasetInput {
            files: &inputs,
            claimed: &claimed,
            metadata: metadata.as_ref(),
        };
        let mut reuse = |f: &DatasetFile| -> Option<FileReport> {
            let row = cached.get(&f.path)?;
            if row.sha256 != f.sha256 || row.fingerprint != fp {
                return None;
            }
            let report = serde_json::from_str(&row.report).ok()?;
            reused.push(f.path.clone());
            Some(report)
        };
        let report = validate_dataset(&registry, &input, &mut reuse);
        (report, reused, inputs)
    })
    .await
    .map_err(DomainError::internal)?;
    let (report, reused, inputs) = checked;
    let files_seen: Vec<(String, String)> = inputs
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // A file replaced while it was read: the change queued a newer run.
            let message = format!("the check could not run: {e}");
            let superseded = {
                let seen = files_seen.clone();
                checker
                    .db
                    .run(move |conn| files_changed(conn, version_id, &seen))
                    .await?
            };
            checker
                .db
                .run(move |conn| fail_run(conn, run_id, &message))
                .await?;
            return if superseded {
                Ok(())
            } else {
                Err(DomainError::internal(format!(
                    "validation of version {version_id}: {e}"
                )))
            };
        }
    };
    let settings = checker.settings.clone();
    let owner_id = snapshot.owner_id;
    let title = snapshot.version.title.clone();
    let version_number = snapshot.version.number;
    let recorded = checker
        .db
        .transaction(move |conn| {
            if files_changed(conn, version_id, &files_seen)? {
                fail_run(
                    conn,
                    run_id,
                    "superseded: the files changed while they were checked",
                )?;
                return Ok(false);
            }
            let digests: HashMap<String, String> = files_seen.iter().cloned().collect();
            store_file_reports(conn, version_id, &report, &reused, &digests, &fingerprint)?;
            finish_run(conn, run_id, &report, &reused)?;
            events::record(
                conn,
                EventType::Validation,
                &events::Subject {
                    dataset_id: Some(dataset_id),
                    version: Some(version_number),
                    ..Default::default()
                },
                &format!(
                    "Data standards check ({}): {} file(s) read, {} unchanged",
                    reason,
                    report.files.len() - reused.len(),
                    reused.len()
                ),
                match report.status {
                    Status::Ok => Outcome::Success,
                    Status::Warning => Outcome::Warning,
                    Status::Error => Outcome::Failure,
                },
                &format!(
                    "{} error(s), {} warning(s)",
                    report.summary.errors, report.summary.warnings
                ),
                Agent::Holdfast,
            )?;
            let observations = observations(&report);
            let outcome = tickets::sync_validation(conn, dataset_id, &observations)?;
            if outcome.changed() {
                if let Some(ticket_id) = outcome.ticket_id {
                    let notice = ticket_notice(ticket_id, &title, &outcome);
                    mail::notify(conn, &settings, &[owner_id], &notice)?;
                }
            }
            Ok(true)
        })
        .await?;
    if recorded {
        checker.waker.wake();
    }
    Ok(())
}

fn ticket_notice(ticket_id: i64, title: &str, outcome: &tickets::SyncOutcome) -> Notice {
    let mut lines = Vec::new();
    let list = |label: &str, items: &[String], lines: &mut Vec<String>| {
        if !items.is_empty() {
            let shown: Vec<&str> = items.iter().take(10).map(String::as_str).collect();
            let more = items.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            lines.push(format!("{label}: {}{tail}", shown.join("; ")));
        }
    };
    list("New problems", &outcome.added, &mut lines);
    list("Found again", &outcome.reopened, &mut lines);
    list("Fixed", &outcome.fixed, &mut lines);
    let (subject, headline) = if outcome.opened {
        (
            format!("Problems found in \"{title}\""),
            format!("The data standards check found problems in \"{title}\"; ticket #{ticket_id} lists them."),
        )
    } else {
        (
            format!("Ticket #{ticket_id} updated: \"{title}\""),
            format!("The data standards check of \"{title}\" changed ticket #{ticket_id}."),
        )
    };
    Notice {
        kind: NotificationKind::TicketUpdated,
        subject,
        headline,
        lines,
        link_path: format!("/tickets/{ticket_id}"),
    }
}

fn load_snapshot(
    conn: &mut AnyConnection,
    dataset_id: i64,
    version_id: i64,
) -> Result<Option<Snapshot>, DomainError> {
    use crate::db::schema::dataset_versions;
    let dataset: Option<(i64, Option<String>)> = datasets::table
        .find(dataset_id)
        .select((datasets::owner_id, datasets::ocfl_object_id))
        .first(conn)
        .optional()?;
    let Some((owner_id, object_id)) = dataset else {
        return Ok(None);
    };
    let version: Option<VersionRow> = dataset_versions::table
        .find(version_id)
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .select(VersionRow::as_select())
        .first(conn)
        .optional()?;
    let Some(version) = version else {
        return Ok(None);
    };
    let files = service::files_of(conn, version_id)?;
    let cached = file_validations::table
        .filter(file_validations::version_id.eq(version_id))
        .select(FileValidationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| (r.path.clone(), r))
        .collect();
    Ok(Some(Snapshot {
        owner_id,
        version,
        files,
        object_id,
        cached,
    }))
}

/// Where each file's bytes are on disk: the staged upload of a draft, or the content
/// file of the OCFL object for files carried over from a published version. A store
/// that is not on local disk (S3) has those files streamed into a temporary folder,
/// which lives as long as the returned guard.
async fn dataset_files(
    checker: &Checker,
    s: &Snapshot,
) -> Result<(Vec<DatasetFile>, Option<tempfile::TempDir>), DomainError> {
    let mut out = Vec::with_capacity(s.files.len());
    let mut downloads: Option<tempfile::TempDir> = None;
    for f in &s.files {
        let local: PathBuf = match (&f.staged_name, &f.content_path, &s.object_id) {
            (Some(blob), _, _) => checker.staging.blob_path(blob)?,
            (None, Some(content), Some(object)) => {
                let key = format!("{}/{content}", checker.ocfl.object_root(object));
                match checker.store.local_path(&key) {
                    Some(path) => path,
                    None => {
                        let dir = match &downloads {
                            Some(d) => d.path().to_path_buf(),
                            None => {
                                let tmp = checker.settings.temp_dir();
                                tokio::fs::create_dir_all(&tmp).await?;
                                let d = tempfile::Builder::new()
                                    .prefix("validate-")
                                    .tempdir_in(&tmp)?;
                                let path = d.path().to_path_buf();
                                downloads = Some(d);
                                path
                            }
                        };
                        // Numbered names: the dataset path may not be a valid file name here.
                        let dest = dir.join(format!("{}.bin", out.len()));
                        crate::storage::copy_to_file(checker.store.as_ref(), &key, &dest)
                            .await
                            .map_err(|e| {
                                DomainError::internal(format!(
                                    "reading stored file {} for validation: {e}",
                                    f.path
                                ))
                            })?;
                        dest
                    }
                }
            }
            _ => {
                return Err(DomainError::internal(format!(
                    "file {} has no bytes",
                    f.path
                )))
            }
        };
        out.push(DatasetFile {
            path: f.path.clone(),
            local,
            sha256: f.sha256.clone(),
        });
    }
    Ok((out, downloads))
}

fn start_run(
    conn: &mut AnyConnection,
    dataset_id: i64,
    version_id: i64,
    reason: &str,
    at: NaiveDateTime,
) -> Result<i64, DomainError> {
    Ok(crate::insert_returning_id!(
        conn,
        crate::db::schema::validation_runs,
        (
            validation_runs::dataset_id.eq(dataset_id),
            validation_runs::version_id.eq(version_id),
            validation_runs::state.eq("running"),
            validation_runs::reason.eq(reason),
            validation_runs::errors.eq(0i64),
            validation_runs::warnings.eq(0i64),
            validation_runs::files_checked.eq(0),
            validation_runs::files_reused.eq(0),
            validation_runs::bytes_checked.eq(0i64),
            validation_runs::dataset_findings.eq("[]"),
            validation_runs::created_at.eq(at),
            validation_runs::started_at.eq(Some(at)),
        )
    )?)
}

fn fail_run(conn: &mut AnyConnection, run_id: i64, message: &str) -> Result<(), DomainError> {
    diesel::update(validation_runs::table.find(run_id))
        .set((
            validation_runs::state.eq("failed"),
            validation_runs::error.eq(Some(message)),
            validation_runs::finished_at.eq(Some(Utc::now().naive_utc())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether the version's files differ from what the run read.
fn files_changed(
    conn: &mut AnyConnection,
    version_id: i64,
    seen: &[(String, String)],
) -> Result<bool, DomainError> {
    use crate::db::schema::version_files;
    let mut now: Vec<(String, String)> = version_files::table
        .filter(version_files::version_id.eq(version_id))
        .select((version_files::path, version_files::sha256))
        .load(conn)?;
    now.sort();
    let mut before = seen.to_vec();
    before.sort();
    Ok(now != before)
}

fn store_file_reports(
    conn: &mut AnyConnection,
    version_id: i64,
    report: &DatasetReport,
    reused: &[String],
    digests: &HashMap<String, String>,
    fingerprint: &str,
) -> Result<(), DomainError> {
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    diesel::delete(
        file_validations::table
            .filter(file_validations::version_id.eq(version_id))
            .filter(file_validations::path.ne_all(&paths)),
    )
    .execute(conn)?;
    let at = Utc::now().naive_utc();
    for file in &report.files {
        if reused.contains(&file.path) {
            continue;
        }
        let json = serde_json::to_string(file).map_err(DomainError::internal)?;
        diesel::delete(
            file_validations::table
                .filter(file_validations::version_id.eq(version_id))
                .filter(file_validations::path.eq(&file.path)),
        )
        .execute(conn)?;
        diesel::insert_into(file_validations::table)
            .values((
                file_validations::version_id.eq(version_id),
                file_validations::path.eq(&file.path),
                file_validations::sha256
                    .eq(digests.get(&file.path).map(String::as_str).unwrap_or("")),
                file_validations::fingerprint.eq(fingerprint),
                file_validations::status.eq(status_str(file.status)),
                file_validations::errors.eq(file.errors as i64),
                file_validations::warnings.eq(file.warnings as i64),
                file_validations::report.eq(json),
                file_validations::checked_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn finish_run(
    conn: &mut AnyConnection,
    run_id: i64,
    report: &DatasetReport,
    reused: &[String],
) -> Result<(), DomainError> {
    let checked_bytes: u64 = report
        .files
        .iter()
        .filter(|f| !reused.contains(&f.path))
        .map(|f| f.bytes)
        .sum();
    let dataset_findings = serde_json::to_string(&report.dataset).map_err(DomainError::internal)?;
    // Counted before the commit: a run whose transaction then fails is counted all the
    // same (it did read those bytes and find those findings).
    crate::metrics::process().validation_run(
        status_str(report.status),
        checked_bytes,
        report
            .files
            .iter()
            .filter(|f| !reused.contains(&f.path))
            .flat_map(|f| f.findings.iter())
            .chain(report.dataset.iter())
            .map(|f| {
                (
                    f.standard.as_str(),
                    f.issue.code.as_ref(),
                    severity_str(f.issue.severity),
                )
            }),
    );
    diesel::update(validation_runs::table.find(run_id))
        .set((
            validation_runs::state.eq("done"),
            validation_runs::status.eq(Some(status_str(report.status))),
            validation_runs::errors.eq(report.summary.errors as i64),
            validation_runs::warnings.eq(report.summary.warnings as i64),
            validation_runs::files_checked.eq((report.files.len() - reused.len()) as i32),
            validation_runs::files_reused.eq(reused.len() as i32),
            validation_runs::bytes_checked.eq(checked_bytes as i64),
            validation_runs::dataset_findings.eq(dataset_findings),
            validation_runs::finished_at.eq(Some(Utc::now().naive_utc())),
        ))
        .execute(conn)?;
    Ok(())
}

/// One observation per (file, check): occurrences include findings beyond the cap.
pub fn observations(report: &DatasetReport) -> Vec<Observation> {
    #[derive(Default)]
    struct Group<'a> {
        findings: Vec<&'a Finding>,
        suppressed: u64,
        severity: Option<Severity>,
        standards: Vec<String>,
    }
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for file in &report.files {
        for f in &file.findings {
            let g = groups
                .entry((file.path.clone(), f.issue.code.to_string()))
                .or_default();
            g.severity = g.severity.max(Some(f.issue.severity));
            if !g.standards.contains(&f.standard) {
                g.standards.push(f.standard.clone());
            }
            g.findings.push(f);
        }
        for s in &file.suppressed {
            let g = groups
                .entry((file.path.clone(), s.code.to_string()))
                .or_default();
            g.suppressed += s.count;
            g.severity = g.severity.max(Some(s.severity));
            if !g.standards.contains(&s.standard) {
                g.standards.push(s.standard.clone());
            }
        }
    }
    for f in &report.dataset {
        let g = groups
            .entry((f.file.clone(), f.issue.code.to_string()))
            .or_default();
        g.severity = g.severity.max(Some(f.issue.severity));
        if !g.standards.contains(&f.standard) {
            g.standards.push(f.standard.clone());
        }
        g.findings.push(f);
    }
    groups
        .into_iter()
        .map(|((file, code), g)| {
            let kept: Vec<&Finding> = g.findings.iter().copied().take(ITEM_FINDINGS).collect();
            Observation {
                file,
                code,
                standard: g.standards.join(", "),
                severity: severity_str(g.severity.unwrap_or(Severity::Warning)).to_string(),
                occurrences: (g.findings.len() as u64 + g.suppressed) as i64,
                message: g
                    .findings
                    .first()
                    .map(|f| f.issue.message.clone())
                    .unwrap_or_default(),
                findings: serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into()),
            }
        })
        .collect()
}

/// The report as the page and the API show it.
#[derive(Clone, Debug, Serialize)]
pub struct ReportView {
    pub dataset_id: i64,
    pub version: i32,
    /// "checking" while a run is queued or running, "done" when the report is current,
    /// "not-run" before the first run.
    pub state: &'static str,
    pub run: Option<RunRow>,
    pub status: Option<Status>,
    pub summary: Summary,
    pub files: Vec<FileReport>,
    pub dataset: Vec<Finding>,
    /// The ticket items behind these findings, with their state and any waiver.
    pub items: Vec<tickets::ItemRow>,
    pub blocking: usize,
}

impl ReportView {
    /// The ticket item of a (file, check), if any.
    pub fn item(&self, file: &str, code: &str) -> Option<&tickets::ItemRow> {
        self.items.iter().find(|i| i.file == file && i.code == code)
    }
}

/// The latest report of a dataset's current version, for its owner and curators.
pub fn report_for(
    conn: &mut AnyConnection,
    user: &User,
    dataset_id: i64,
) -> Result<ReportView, DomainError> {
    // The files themselves are not needed: reports are matched to them in SQL.
    let view = service::load_landing_view(conn, Some(user), dataset_id, None)?;
    view.access(Some(user)).check_see_tickets()?;
    let version_id = view.version.id;
    let checking = is_checking(conn, version_id)?;
    let run = latest_run(conn, version_id)?;
    // Reports of files still in the version (a removed file's report is kept for reuse).
    let current = crate::db::schema::version_files::table
        .filter(crate::db::schema::version_files::version_id.eq(version_id))
        .select(crate::db::schema::version_files::path);
    let rows: Vec<String> = file_validations::table
        .filter(file_validations::version_id.eq(version_id))
        .filter(file_validations::path.eq_any(current))
        .order(file_validations::path.asc())
        .select(file_validations::report)
        .load(conn)?;
    let files: Vec<FileReport> = rows
        .iter()
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect();
    let dataset: Vec<Finding> = run
        .as_ref()
        .and_then(|r| serde_json::from_str(&r.dataset_findings).ok())
        .unwrap_or_default();
    let mut summary = Summary::default();
    for f in &files {
        summary.files += 1;
        summary.errors += f.errors;
        summary.warnings += f.warnings;
        summary.bytes += f.bytes;
    }
    for f in &dataset {
        match f.issue.severity {
            Severity::Error => summary.errors += 1,
            Severity::Warning => summary.warnings += 1,
        }
    }
    let status = run.as_ref().map(|_| {
        files
            .iter()
            .map(|f| f.status)
            .chain(dataset.iter().map(|f| match f.issue.severity {
                Severity::Error => Status::Error,
                Severity::Warning => Status::Warning,
            }))
            .max()
            .unwrap_or(Status::Ok)
    });
    let items = tickets::items_of_dataset(conn, dataset_id)?;
    let blocking = items.iter().filter(|i| i.is_blocking()).count();
    Ok(ReportView {
        dataset_id,
        version: view.version.number,
        state: if checking {
            "checking"
        } else if run.is_some() {
            "done"
        } else {
            "not-run"
        },
        run,
        status,
        summary,
        files,
        dataset,
        items,
        blocking,
    })
}

/// The standards a version's files were checked against, each with whether every file
/// passed it without an error (what the landing page states).
pub fn standards_passed(
    conn: &mut AnyConnection,
    version_id: i64,
) -> Result<Vec<(String, bool)>, DomainError> {
    let reports: Vec<String> = file_validations::table
        .filter(file_validations::version_id.eq(version_id))
        .select(file_validations::report)
        .load(conn)?;
    let mut result: BTreeMap<String, bool> = BTreeMap::new();
    for json in reports {
        let Ok(report) = serde_json::from_str::<FileReport>(&json) else {
            continue;
        };
        for standard in &report.standards {
            let failed = report
                .findings
                .iter()
                .any(|f| &f.standard == standard && f.issue.severity == Severity::Error)
                || report
                    .suppressed
                    .iter()
                    .any(|s| &s.standard == standard && s.severity == Severity::Error);
            let ok = result.entry(standard.clone()).or_insert(true);
            *ok &= !failed;
        }
    }
    Ok(result.into_iter().collect())
}
