//! What must hold after each restart of the crash journey: the OCFL root validates,
//! every file the database lists is there with its sha256, nothing half-written is
//! left, and at the end both versions are published with the bytes the user sent.

use diesel::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

use holdfast::db::AnyConnection;

use super::steps::{big_bytes, zip_entries};
use crate::support::wait::{self, check};
use crate::support::{sha256_hex, Error};

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
pub(super) async fn settle(db_url: &str) -> Result<(), Error> {
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
pub(super) async fn check_storage(dir: &Path, db_url: &str, rocfl: &Path) -> Result<(), Error> {
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
pub(super) async fn check_published(db_url: &str) -> Result<(), Error> {
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
