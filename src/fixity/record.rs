//! Recording what an audit found: the history row of every check, the register's
//! state, PREMIS events, the curators' alert ticket and their email.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap};

use super::audit::{CheckResult, Outcome};
use crate::config::Settings;
use crate::db::schema::{fixity_checks, fixity_runs, stored_files};
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::mail::{self, Notice, NotificationKind};
use crate::preservation::events::{self, Agent, EventType, Outcome as EventOutcome, Subject};
use crate::tickets::{self, Observation};

/// The ticket kind of fixity alerts.
pub const TICKET_KIND: &str = "fixity";
const TICKET_TITLE: &str = "Fixity alert: stored bytes failed their audit";

/// What recording a batch changed.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub checked: usize,
    pub failures: usize,
    /// Datasets with a failure that was not known before (worth a repair attempt).
    pub newly_damaged: Vec<i64>,
}

fn to_i64(n: Option<u64>) -> Option<i64> {
    n.and_then(|n| i64::try_from(n).ok())
}

/// Records a batch of results in one transaction. Successes update the register in one
/// statement per chunk; each dataset gets one PREMIS event for what matched, and every
/// failure its own event, ticket item and (when new) email to the curators.
pub fn record(
    conn: &mut AnyConnection,
    settings: &Settings,
    results: &[CheckResult],
) -> Result<Recorded, DomainError> {
    let recorded = crate::db::transaction(conn, |conn| record_in(conn, settings, results))?;
    let metrics = crate::metrics::process();
    for r in results {
        if r.outcome == Outcome::Ok {
            metrics.fixity_files_verified.inc();
            metrics
                .fixity_bytes_verified
                .inc_by(r.found_size.unwrap_or(0));
        } else {
            metrics.fixity_failures.inc();
        }
    }
    Ok(recorded)
}

fn record_in(
    conn: &mut AnyConnection,
    settings: &Settings,
    results: &[CheckResult],
) -> Result<Recorded, DomainError> {
    let mut out = Recorded {
        checked: results.len(),
        ..Recorded::default()
    };
    if results.is_empty() {
        return Ok(out);
    }
    let now = Utc::now().naive_utc();
    for chunk in results.chunks(400) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|r| {
                (
                    fixity_checks::stored_file_id.eq(r.stored_file_id),
                    fixity_checks::dataset_id.eq(r.dataset_id),
                    fixity_checks::content_path.eq(&r.content_path),
                    fixity_checks::checked_at.eq(r.checked_at),
                    fixity_checks::outcome.eq(r.outcome.as_str()),
                    fixity_checks::expected_sha256.eq(r.expected_sha256.as_deref()),
                    fixity_checks::found_sha256.eq(r.found_sha256.as_deref()),
                    fixity_checks::expected_size.eq(to_i64(r.expected_size)),
                    fixity_checks::found_size.eq(to_i64(r.found_size)),
                    fixity_checks::detail.eq(&r.detail),
                )
            })
            .collect();
        crate::insert_batch!(conn, crate::db::schema::fixity_checks, rows)?;
    }

    // Files that read well again after being damaged (repaired by hand, or a transient
    // read error) close their alert.
    let ok_ids: Vec<i64> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Ok)
        .filter_map(|r| r.stored_file_id)
        .collect();
    let mut recovered: Vec<(i64, String)> = Vec::new();
    for chunk in ok_ids.chunks(500) {
        recovered.extend(
            stored_files::table
                .filter(stored_files::id.eq_any(chunk))
                .filter(stored_files::state.eq("damaged"))
                .select((stored_files::dataset_id, stored_files::content_path))
                .load::<(i64, String)>(conn)?,
        );
        diesel::update(stored_files::table.filter(stored_files::id.eq_any(chunk)))
            .set((
                stored_files::state.eq("ok"),
                stored_files::last_outcome.eq("ok"),
                stored_files::last_checked_at.eq(now),
            ))
            .execute(conn)?;
    }
    for (dataset_id, path) in &recovered {
        tickets::resolve_alert(
            conn,
            *dataset_id,
            TICKET_KIND,
            path,
            "the file reads back with its recorded sha256 again",
        )?;
    }

    // One success event per dataset for what matched.
    let mut matched: BTreeMap<i64, (usize, u64)> = BTreeMap::new();
    for r in results.iter().filter(|r| r.outcome == Outcome::Ok) {
        let e = matched.entry(r.dataset_id).or_default();
        e.0 += 1;
        e.1 += r.found_size.unwrap_or(0);
    }
    for (dataset_id, (files, bytes)) in matched {
        events::record(
            conn,
            EventType::FixityCheck,
            &Subject {
                dataset_id: Some(dataset_id),
                ..Default::default()
            },
            &format!("Fixity check of {files} stored file(s), {bytes} bytes: re-read and re-hashed with sha256"),
            EventOutcome::Success,
            "every digest and size matches what was recorded at ingest",
            Agent::Holdfast,
        )?;
    }

    let mut alerts: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    for r in results.iter().filter(|r| r.outcome != Outcome::Ok) {
        out.failures += 1;
        if let Some(id) = r.stored_file_id {
            diesel::update(stored_files::table.find(id))
                .set((
                    stored_files::state.eq("damaged"),
                    stored_files::last_outcome.eq(r.outcome.as_str()),
                    stored_files::last_checked_at.eq(now),
                ))
                .execute(conn)?;
        }
        let evidence = serde_json::json!([{
            "file": r.content_path,
            "object": r.object_id,
            "outcome": r.outcome.as_str(),
            "expected_sha256": r.expected_sha256,
            "found_sha256": r.found_sha256,
            "expected_size": r.expected_size,
            "found_size": r.found_size,
            "checked_at": r.checked_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "message": r.detail,
        }]);
        let alert = tickets::raise_alert(
            conn,
            r.dataset_id,
            TICKET_KIND,
            TICKET_TITLE,
            &Observation {
                file: r.content_path.clone(),
                code: r.outcome.item_code().to_string(),
                standard: "fixity".into(),
                severity: "error".into(),
                occurrences: 1,
                message: format!("{} (checked {})", r.detail, iso(r.checked_at)),
                findings: evidence.to_string(),
            },
        )?;
        events::record(
            conn,
            EventType::FixityCheck,
            &Subject {
                dataset_id: Some(r.dataset_id),
                file_path: Some(&r.content_path),
                file_sha256: r.expected_sha256.as_deref(),
                ..Default::default()
            },
            &format!(
                "Fixity check of {} in OCFL object {}",
                r.content_path, r.object_id
            ),
            EventOutcome::Failure,
            &format!(
                "{}: {}; expected sha256 {} ({} bytes), found {} ({} bytes)",
                r.outcome.as_str(),
                r.detail,
                r.expected_sha256.as_deref().unwrap_or("-"),
                r.expected_size.map_or("-".into(), |n| n.to_string()),
                r.found_sha256.as_deref().unwrap_or("-"),
                r.found_size.map_or("-".into(), |n| n.to_string()),
            ),
            Agent::Holdfast,
        )?;
        if alert.newly_raised {
            alerts
                .entry(r.dataset_id)
                .or_default()
                .push((format!("{}: {}", r.content_path, r.detail), alert.ticket_id));
        }
    }
    if !alerts.is_empty() {
        let curators = crate::accounts::users::curator_ids(conn)?;
        for (dataset_id, lines) in &alerts {
            out.newly_damaged.push(*dataset_id);
            let ticket_id = lines.first().map_or(0, |(_, t)| *t);
            let notice = Notice {
                kind: NotificationKind::FixityAlert,
                subject: format!(
                    "Fixity alert: {} stored file(s) of dataset {dataset_id} failed their audit",
                    lines.len()
                ),
                headline: format!(
                    "The fixity audit found {} damaged or unexpected file(s) in dataset {dataset_id}; downloads of damaged files are refused until they are repaired.",
                    lines.len()
                ),
                lines: lines.iter().map(|(l, _)| l.clone()).collect(),
                link_path: format!("/tickets/{ticket_id}"),
            };
            mail::notify(conn, settings, &curators, &notice)?;
        }
        out.newly_damaged.sort_unstable();
    }
    Ok(out)
}

pub fn iso(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Keeps an audit pass's totals (throughput on the admin page).
pub fn record_run(
    conn: &mut AnyConnection,
    run_kind: &str,
    started_at: NaiveDateTime,
    files: usize,
    bytes: u64,
    failures: usize,
    busy: std::time::Duration,
) -> Result<(), DomainError> {
    diesel::insert_into(fixity_runs::table)
        .values((
            fixity_runs::run_kind.eq(run_kind),
            fixity_runs::started_at.eq(started_at),
            fixity_runs::finished_at.eq(Utc::now().naive_utc()),
            fixity_runs::files.eq(i64::try_from(files).unwrap_or(i64::MAX)),
            fixity_runs::bytes.eq(i64::try_from(bytes).unwrap_or(i64::MAX)),
            fixity_runs::failures.eq(i64::try_from(failures).unwrap_or(i64::MAX)),
            fixity_runs::busy_ms.eq(i64::try_from(busy.as_millis()).unwrap_or(i64::MAX)),
        ))
        .execute(conn)?;
    Ok(())
}
