//! What the dataset page, the API and the admin preservation page show of fixity.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

use super::files::StoredFileRow;
use crate::db::schema::{
    dataset_versions, fixity_checks, fixity_runs, stored_files, version_files,
};
use crate::db::AnyConnection;
use crate::error::DomainError;

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = fixity_checks)]
pub struct CheckRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub stored_file_id: Option<i64>,
    #[serde(skip)]
    pub dataset_id: i64,
    pub content_path: String,
    pub checked_at: NaiveDateTime,
    pub outcome: String,
    pub expected_sha256: Option<String>,
    pub found_sha256: Option<String>,
    pub expected_size: Option<i64>,
    pub found_size: Option<i64>,
    pub detail: String,
}

/// Where a stored file appears: (version number, logical path).
#[derive(Clone, Debug, Serialize)]
pub struct Appearance {
    pub version: i32,
    pub path: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileFixity {
    pub kind: String,
    pub content_path: String,
    pub sha256: String,
    pub size: i64,
    pub state: String,
    pub last_outcome: String,
    pub last_checked_at: NaiveDateTime,
    pub appears_in: Vec<Appearance>,
    pub history: Vec<CheckRow>,
}

/// Every stored file of a dataset with its full fixity history, and the unexpected files
/// the audit found in its object.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetFixity {
    pub files: Vec<FileFixity>,
    pub unexpected: Vec<CheckRow>,
}

pub fn of_dataset(conn: &mut AnyConnection, dataset_id: i64) -> Result<DatasetFixity, DomainError> {
    let rows = super::files::of_dataset(conn, dataset_id)?;
    let checks: Vec<CheckRow> = fixity_checks::table
        .filter(fixity_checks::dataset_id.eq(dataset_id))
        .order(fixity_checks::id.asc())
        .select(CheckRow::as_select())
        .load(conn)?;
    let mut by_file: HashMap<i64, Vec<CheckRow>> = HashMap::new();
    let mut unexpected = Vec::new();
    for c in checks {
        match c.stored_file_id {
            Some(id) => by_file.entry(id).or_default().push(c),
            None => unexpected.push(c),
        }
    }
    let appearances: Vec<(String, i32, String)> = version_files::table
        .inner_join(dataset_versions::table)
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .filter(dataset_versions::published_at.is_not_null())
        .filter(version_files::content_path.is_not_null())
        .order((dataset_versions::number.asc(), version_files::path.asc()))
        .select((
            version_files::content_path.assume_not_null(),
            dataset_versions::number,
            version_files::path,
        ))
        .load(conn)?;
    let mut appears: HashMap<String, Vec<Appearance>> = HashMap::new();
    for (content_path, version, path) in appearances {
        appears
            .entry(content_path)
            .or_default()
            .push(Appearance { version, path });
    }
    let files = rows
        .into_iter()
        .map(|r| FileFixity {
            history: by_file.remove(&r.id).unwrap_or_default(),
            appears_in: appears.remove(&r.content_path).unwrap_or_default(),
            kind: r.kind,
            content_path: r.content_path,
            sha256: r.sha256,
            size: r.size,
            state: r.state,
            last_outcome: r.last_outcome,
            last_checked_at: r.last_checked_at,
        })
        .collect();
    Ok(DatasetFixity { files, unexpected })
}

/// A file's fixity as a landing page shows it.
#[derive(Clone, Debug)]
pub struct Verified {
    pub state: String,
    pub last_outcome: String,
    pub last_checked_at: NaiveDateTime,
}

impl Verified {
    pub fn damaged(&self) -> bool {
        self.state == "damaged"
    }

    pub fn when(&self) -> String {
        self.last_checked_at
            .format("%Y-%m-%d %H:%M UTC")
            .to_string()
    }
}

fn verified_of(row: StoredFileRow) -> Verified {
    Verified {
        state: row.state,
        last_outcome: row.last_outcome,
        last_checked_at: row.last_checked_at,
    }
}

/// Content path -> fixity of some stored files of a dataset (one page of a listing).
pub fn verified_of_paths(
    conn: &mut AnyConnection,
    dataset_id: i64,
    content_paths: &[&str],
) -> Result<HashMap<String, Verified>, DomainError> {
    let mut out = HashMap::new();
    for chunk in content_paths.chunks(500) {
        let rows: Vec<StoredFileRow> = stored_files::table
            .filter(stored_files::dataset_id.eq(dataset_id))
            .filter(stored_files::content_path.eq_any(chunk))
            .select(StoredFileRow::as_select())
            .load(conn)?;
        out.extend(
            rows.into_iter()
                .map(|r| (r.content_path.clone(), verified_of(r))),
        );
    }
    Ok(out)
}

/// A published version is verified as of its least recently verified file or inventory;
/// a damaged one among them is what shows. Two queries whatever the number of files,
/// each walking the dataset's register in order of verification (an index) and stopping
/// at the first row that belongs to the version, so a page of a version of 100,000
/// files does not read them all.
pub fn version_verified(
    conn: &mut AnyConnection,
    dataset_id: i64,
    version_id: i64,
    ocfl_version: i32,
) -> Result<Option<Verified>, DomainError> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Bool, Text};
    let inventory = format!("v{ocfl_version}/inventory.json");
    let of_version = |state: &'static str| {
        let in_version = sql::<Bool>(
            "(EXISTS (SELECT 1 FROM version_files WHERE version_files.version_id = ",
        )
        .bind::<BigInt, _>(version_id)
        .sql(" AND version_files.content_path = stored_files.content_path) OR stored_files.content_path = ")
        .bind::<Text, _>(inventory.clone())
        .sql(")");
        stored_files::table
            .filter(stored_files::dataset_id.eq(dataset_id))
            .filter(stored_files::state.eq(state))
            .filter(in_version)
            .order(stored_files::last_checked_at.asc())
            .select(StoredFileRow::as_select())
    };
    let damaged: Option<StoredFileRow> = of_version("damaged").first(conn).optional()?;
    if let Some(row) = damaged {
        return Ok(Some(verified_of(row)));
    }
    // None of the version's files is damaged: the oldest is among those "ok".
    Ok(of_version("ok").first(conn).optional()?.map(verified_of))
}

#[derive(Clone, Debug, Serialize)]
pub struct DamagedFile {
    pub dataset_id: i64,
    pub content_path: String,
    pub last_outcome: String,
    pub last_checked_at: NaiveDateTime,
    pub size: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    pub run_kind: String,
    pub finished_at: NaiveDateTime,
    pub files: i64,
    pub bytes: i64,
    pub failures: i64,
    /// Bytes per second while the pass ran.
    pub bytes_per_sec: f64,
}

/// The archive's fixity coverage, for the admin preservation page.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub files: i64,
    pub bytes: i64,
    /// Verified within the current cycle (the last `cycle_days`).
    pub verified_files: i64,
    pub verified_bytes: i64,
    pub verified_share: f64,
    pub cycle_days: f64,
    pub damaged: Vec<DamagedFile>,
    pub damaged_count: i64,
    pub oldest_check: Option<NaiveDateTime>,
    pub bytes_last_24h: i64,
    pub files_last_24h: i64,
    pub recent_runs: Vec<RunRow>,
}

fn sum_size(
) -> diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::BigInt>> {
    diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
        "CAST(SUM(size) AS BIGINT)",
    )
}

pub fn coverage(
    conn: &mut AnyConnection,
    cycle: chrono::Duration,
) -> Result<Coverage, DomainError> {
    let now = Utc::now().naive_utc();
    let since = now - cycle;
    let (files, bytes): (i64, Option<i64>) = stored_files::table
        .select((diesel::dsl::count_star(), sum_size()))
        .first(conn)?;
    let (verified_files, verified_bytes): (i64, Option<i64>) = stored_files::table
        .filter(stored_files::last_checked_at.ge(since))
        .filter(stored_files::state.eq("ok"))
        .select((diesel::dsl::count_star(), sum_size()))
        .first(conn)?;
    let damaged_count: i64 = stored_files::table
        .filter(stored_files::state.eq("damaged"))
        .count()
        .get_result(conn)?;
    let damaged = stored_files::table
        .filter(stored_files::state.eq("damaged"))
        .order(stored_files::last_checked_at.asc())
        .limit(100)
        .select(StoredFileRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| DamagedFile {
            dataset_id: r.dataset_id,
            content_path: r.content_path,
            last_outcome: r.last_outcome,
            last_checked_at: r.last_checked_at,
            size: r.size,
        })
        .collect();
    let oldest_check: Option<NaiveDateTime> = stored_files::table
        .select(diesel::dsl::min(stored_files::last_checked_at))
        .first(conn)?;
    let day_ago = now - chrono::Duration::days(1);
    let (files_last_24h, bytes_last_24h): (Option<i64>, Option<i64>) = fixity_runs::table
        .filter(fixity_runs::finished_at.ge(day_ago))
        .select((
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                "CAST(SUM(files) AS BIGINT)",
            ),
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                "CAST(SUM(bytes) AS BIGINT)",
            ),
        ))
        .first(conn)?;
    let recent_runs = fixity_runs::table
        .order(fixity_runs::id.desc())
        .limit(10)
        .select((
            fixity_runs::run_kind,
            fixity_runs::finished_at,
            fixity_runs::files,
            fixity_runs::bytes,
            fixity_runs::failures,
            fixity_runs::busy_ms,
        ))
        .load::<(String, NaiveDateTime, i64, i64, i64, i64)>(conn)?
        .into_iter()
        .map(
            |(run_kind, finished_at, files, bytes, failures, busy_ms)| RunRow {
                run_kind,
                finished_at,
                files,
                bytes,
                failures,
                bytes_per_sec: bytes as f64 / (busy_ms.max(1) as f64 / 1000.0),
            },
        )
        .collect();
    let bytes = bytes.unwrap_or(0);
    let verified_bytes = verified_bytes.unwrap_or(0);
    Ok(Coverage {
        files,
        bytes,
        verified_files,
        verified_bytes,
        verified_share: if bytes > 0 {
            verified_bytes as f64 / bytes as f64
        } else {
            1.0
        },
        cycle_days: cycle.num_seconds() as f64 / 86_400.0,
        damaged,
        damaged_count,
        oldest_check,
        bytes_last_24h: bytes_last_24h.unwrap_or(0),
        files_last_24h: files_last_24h.unwrap_or(0),
        recent_runs,
    })
}
