use super::{editable_draft, touch, FileRow};
use crate::accounts::User;
use crate::db::schema::version_files;
use crate::db::AnyConnection;
use crate::deposit::ingest::{DatasetPath, StagedFile};
use crate::deposit::validation;
use crate::error::{DomainError, FieldError};
use crate::preservation::events::{self, Agent, EventType, Outcome};
use chrono::Utc;
use diesel::prelude::*;

/// Files and bytes added (or, negative, removed) per folder of one version.
pub type FolderChanges = std::collections::BTreeMap<String, (i64, i64)>;

/// Notes a file's arrival (`files` 1), departure (-1) or new size (0) in `changes`.
pub fn note_folder_change(changes: &mut FolderChanges, path: &str, files: i64, bytes: i64) {
    let entry = changes.entry(folder_of(path).to_string()).or_default();
    entry.0 += files;
    entry.1 += bytes;
}

/// Applies per-folder changes to a version's folder totals (`version_folders`, what a
/// listing sums instead of reading every file row). Called in the transaction that
/// changes the files.
pub fn apply_folder_changes(
    conn: &mut AnyConnection,
    version_id: i64,
    changes: &FolderChanges,
) -> Result<(), DomainError> {
    use crate::db::schema::version_folders as vf;
    for (folder, (files, bytes)) in changes {
        if *files == 0 && *bytes == 0 {
            continue;
        }
        let row = vf::table
            .filter(vf::version_id.eq(version_id))
            .filter(vf::folder.eq(folder));
        let updated = diesel::update(row)
            .set((
                vf::files.eq(vf::files + *files),
                vf::bytes.eq(vf::bytes + *bytes),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(vf::table)
                .values((
                    vf::version_id.eq(version_id),
                    vf::folder.eq(folder),
                    vf::files.eq(*files),
                    vf::bytes.eq(*bytes),
                ))
                .execute(conn)?;
        } else if *files < 0 {
            // A folder left empty goes, so listings never show it.
            diesel::delete(row.filter(vf::files.le(0))).execute(conn)?;
        }
    }
    Ok(())
}

/// The folder part of a stored file path ("" for a file at the top).
pub fn folder_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

pub fn files_of(conn: &mut AnyConnection, version_id: i64) -> Result<Vec<FileRow>, DomainError> {
    Ok(version_files::table
        .filter(version_files::version_id.eq(version_id))
        .order(version_files::path.asc())
        .select(FileRow::as_select())
        .load(conn)?)
}

/// How many files a version has and their bytes, counted in the database.
pub fn file_totals(conn: &mut AnyConnection, version_id: i64) -> Result<(i64, i64), DomainError> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    Ok(version_files::table
        .filter(version_files::version_id.eq(version_id))
        .select((
            sql::<BigInt>("COUNT(*)"),
            sql::<BigInt>("CAST(COALESCE(SUM(size), 0) AS BIGINT)"),
        ))
        .first(conn)?)
}

/// A file of the draft that a new upload must not collide with, if any.
fn path_conflict(
    conn: &mut AnyConnection,
    version_id: i64,
    path: &DatasetPath,
    case_insensitive: bool,
) -> Result<Option<String>, DomainError> {
    // A file may not sit where a folder is, nor a folder where a file is (OCFL forbids
    // `a` and `a/b` in one version, and so do file systems).
    let ancestors: Vec<String> = {
        let parts: Vec<&str> = path.as_str().split('/').collect();
        (1..parts.len()).map(|n| parts[..n].join("/")).collect()
    };
    if let Some(existing) = version_files::table
        .filter(version_files::version_id.eq(version_id))
        .filter(version_files::path.eq_any(&ancestors))
        .select(version_files::path)
        .first::<String>(conn)
        .optional()?
    {
        return Ok(Some(format!(
            "'{path}' would put a file inside '{existing}', which is a file"
        )));
    }
    let folder_prefix = format!("{}/", path.case_key());
    let below = case_keys_below(conn, version_id, &folder_prefix)?;
    let folder = format!("{path}/");
    if let Some(existing) = below.iter().find(|p| {
        p.starts_with(&folder) || (case_insensitive && p.to_lowercase().starts_with(&folder_prefix))
    }) {
        return Ok(Some(format!(
            "'{path}' is already a folder (it holds '{existing}')"
        )));
    }
    if case_insensitive {
        if let Some(existing) = version_files::table
            .filter(version_files::version_id.eq(version_id))
            .filter(version_files::case_key.eq(path.case_key()))
            .filter(version_files::path.ne(path.as_str()))
            .select(version_files::path)
            .first::<String>(conn)
            .optional()?
        {
            return Ok(Some(format!(
                "'{path}' differs from '{existing}' only by letter case; rename one of them \
                 (files that differ only by case clash on Windows and macOS)"
            )));
        }
    }
    Ok(None)
}

/// Paths of (at most 50) files whose case key starts with `prefix` (which ends in
/// `/`): a byte-order range over the case-key index, so the check costs the same in a
/// draft of ten files or of a hundred thousand (a LIKE would read every row).
fn case_keys_below(
    conn: &mut AnyConnection,
    version_id: i64,
    prefix: &str,
) -> Result<Vec<String>, DomainError> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    // '0' is the byte after '/': every key with the prefix sorts in [prefix, upper).
    let upper = format!("{}0", prefix.trim_end_matches('/'));
    // PostgreSQL compares text by the database's collation unless told to use bytes.
    let column = match conn {
        AnyConnection::Postgresql(_) => "case_key COLLATE \"C\"",
        AnyConnection::Sqlite(_) => "case_key",
    };
    let in_range = sql::<Bool>(&format!("{column} >= "))
        .bind::<Text, _>(prefix.to_string())
        .sql(&format!(" AND {column} < "))
        .bind::<Text, _>(upper);
    Ok(version_files::table
        .filter(version_files::version_id.eq(version_id))
        .filter(in_range)
        .select(version_files::path)
        .limit(50)
        .load(conn)?)
}

pub(crate) fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// What adding files did: the rows now in the draft, and staged blobs they replaced
/// (the caller deletes those once the transaction has committed).
pub struct AddedFiles {
    pub files: Vec<FileRow>,
    pub replaced_blobs: Vec<String>,
}

/// Adds staged files to a draft in one transaction: all of them or none. A path that
/// already exists is replaced.
pub fn add_files(
    conn: &mut AnyConnection,
    actor: &User,
    id: i64,
    staged: &[(DatasetPath, StagedFile)],
    case_insensitive: bool,
) -> Result<AddedFiles, DomainError> {
    crate::db::transaction(conn, |conn| {
        let (_, version) = editable_draft(conn, actor, id)?;
        let mut errors = Vec::new();
        let mut replaced_blobs = Vec::new();
        let mut folders = FolderChanges::new();
        let now = Utc::now().naive_utc();
        for (path, file) in staged {
            if let Some(problem) = path_conflict(conn, version.id, path, case_insensitive)? {
                errors.push(FieldError::new(path.as_str(), problem));
                continue;
            }
            let replaced = put_file_row(conn, version.id, path, file, now, &mut folders)?;
            replaced_blobs.extend(replaced);
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        apply_folder_changes(conn, version.id, &folders)?;
        touch(conn, id)?;
        validation::request(conn, id, version.id, "files changed")?;
        let paths: Vec<&str> = staged.iter().map(|(p, _)| p.as_str()).collect();
        let mut files = rows_at(conn, version.id, &paths)?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        crate::crashpoint::hit("add-files.before-commit");
        Ok(AddedFiles {
            files,
            replaced_blobs,
        })
    })
}

/// Adds a file row at `path`, or points the row already there at the new file;
/// returns the staged blob the new file replaces.
fn put_file_row(
    conn: &mut AnyConnection,
    version_id: i64,
    path: &DatasetPath,
    file: &StagedFile,
    now: chrono::NaiveDateTime,
    folders: &mut FolderChanges,
) -> Result<Option<String>, DomainError> {
    let existing: Option<FileRow> = version_files::table
        .filter(version_files::version_id.eq(version_id))
        .filter(version_files::path.eq(path.as_str()))
        .select(FileRow::as_select())
        .first(conn)
        .optional()?;
    let blob = blob_name(file)?;
    let media_type = crate::deposit::ingest::media_type(path);
    match existing {
        Some(old) => {
            diesel::update(version_files::table.find(old.id))
                .set((
                    version_files::size.eq(file.size as i64),
                    version_files::sha256.eq(&file.sha256_hex),
                    version_files::media_type.eq(&media_type),
                    version_files::staged_name.eq(&blob),
                    version_files::created_at.eq(now),
                ))
                .execute(conn)?;
            note_folder_change(folders, &old.path, 0, file.size as i64 - old.size);
            Ok(old.staged_name)
        }
        None => {
            diesel::insert_into(version_files::table)
                .values((
                    version_files::version_id.eq(version_id),
                    version_files::path.eq(path.as_str()),
                    version_files::case_key.eq(path.case_key()),
                    version_files::size.eq(file.size as i64),
                    version_files::sha256.eq(&file.sha256_hex),
                    version_files::media_type.eq(&media_type),
                    version_files::staged_name.eq(&blob),
                    version_files::created_at.eq(now),
                    version_files::folder.eq(path.folder()),
                ))
                .execute(conn)?;
            note_folder_change(folders, path.as_str(), 1, file.size as i64);
            Ok(None)
        }
    }
}

/// The file rows of a version at these paths.
fn rows_at(
    conn: &mut AnyConnection,
    version_id: i64,
    paths: &[&str],
) -> Result<Vec<FileRow>, DomainError> {
    // In slices: a zip of 100,000 files is more values than one query may bind.
    let mut files = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(1000) {
        files.extend(
            version_files::table
                .filter(version_files::version_id.eq(version_id))
                .filter(version_files::path.eq_any(chunk))
                .select(FileRow::as_select())
                .load::<FileRow>(conn)?,
        );
    }
    Ok(files)
}

fn blob_name(file: &StagedFile) -> Result<String, DomainError> {
    file.blob_name()
        .ok_or_else(|| DomainError::internal("staged file has no name"))
}

/// Removes a file from a draft; returns its staged blob for the caller to delete.
pub fn remove_file(
    conn: &mut AnyConnection,
    actor: &User,
    id: i64,
    path: &DatasetPath,
) -> Result<Option<String>, DomainError> {
    crate::db::transaction(conn, |conn| {
        let (_, version) = editable_draft(conn, actor, id)?;
        let existing: FileRow = version_files::table
            .filter(version_files::version_id.eq(version.id))
            .filter(version_files::path.eq(path.as_str()))
            .select(FileRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                DomainError::invalid("path", format!("the draft has no file '{path}'"))
            })?;
        diesel::delete(version_files::table.find(existing.id)).execute(conn)?;
        let mut folders = FolderChanges::new();
        note_folder_change(&mut folders, &existing.path, -1, -existing.size);
        apply_folder_changes(conn, version.id, &folders)?;
        touch(conn, id)?;
        events::record(
            conn,
            EventType::Deletion,
            &events::Subject {
                dataset_id: Some(id),
                version: Some(version.number),
                file_path: Some(&existing.path),
                file_sha256: Some(&existing.sha256),
            },
            "A draft file was removed by its depositor before publication",
            Outcome::Success,
            if existing.staged_name.is_some() {
                "staged upload deleted"
            } else {
                "removed from the draft; the published versions keep their copy"
            },
            Agent::Person(actor),
        )?;
        validation::request(conn, id, version.id, "file removed")?;
        Ok(existing.staged_name)
    })
}

/// How many files a version holds.
pub fn file_count(conn: &mut AnyConnection, version_id: i64) -> Result<i64, DomainError> {
    Ok(version_files::table
        .filter(version_files::version_id.eq(version_id))
        .count()
        .get_result(conn)?)
}
