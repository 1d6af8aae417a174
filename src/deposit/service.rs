//! Dataset drafts: create, edit metadata, add and remove files, new versions.
//!
//! Who may see or change what is decided by `accounts::access` (the one access rule);
//! this module loads the facts it needs and words the refusals of the state machine.

use chrono::Utc;
use diesel::prelude::*;

use super::ingest::{DatasetPath, StagedFile};
use super::metadata::{self, Metadata};
use super::model::*;
use super::validation;
use crate::accounts::{Access, User};
use crate::db::schema::{dataset_transitions, dataset_versions, datasets, users, version_files};
use crate::db::AnyConnection;
use crate::error::{DomainError, FieldError};
use crate::preservation::events::{self, Agent, EventType, Outcome};

/// Checks and normalises metadata, reporting every bad field at once.
pub fn checked_metadata(mut m: Metadata) -> Result<Metadata, DomainError> {
    metadata::normalize(&mut m);
    metadata::validate(&m).map_err(DomainError::Invalid)?;
    Ok(m)
}

fn title_of(m: &Metadata) -> String {
    m.titles
        .first()
        .map(|t| t.title.clone())
        .unwrap_or_default()
}

fn to_json(m: &Metadata) -> Result<String, DomainError> {
    serde_json::to_string(m).map_err(DomainError::internal)
}

pub fn parse_stored_metadata(json: &str) -> Result<Metadata, DomainError> {
    serde_json::from_str(json).map_err(|e| DomainError::internal(format!("stored metadata: {e}")))
}

pub fn create(conn: &mut AnyConnection, owner: &User, m: Metadata) -> Result<i64, DomainError> {
    let m = checked_metadata(m)?;
    let now = Utc::now().naive_utc();
    let json = to_json(&m)?;
    crate::db::transaction(conn, |conn| {
        let id = crate::insert_returning_id!(
            conn,
            crate::db::schema::datasets,
            (
                datasets::owner_id.eq(owner.id),
                datasets::state.eq(DatasetState::Draft.as_str()),
                datasets::created_at.eq(now),
                datasets::updated_at.eq(now),
            )
        )?;
        diesel::insert_into(dataset_versions::table)
            .values((
                dataset_versions::dataset_id.eq(id),
                dataset_versions::number.eq(1),
                dataset_versions::title.eq(title_of(&m)),
                dataset_versions::metadata.eq(&json),
                dataset_versions::created_at.eq(now),
                dataset_versions::updated_at.eq(now),
            ))
            .execute(conn)?;
        record_transition(
            conn,
            id,
            None,
            DatasetState::Draft,
            Some(owner.id),
            "created",
        )?;
        Ok(id)
    })
}

pub fn record_transition(
    conn: &mut AnyConnection,
    dataset_id: i64,
    from: Option<DatasetState>,
    to: DatasetState,
    actor_id: Option<i64>,
    comment: &str,
) -> Result<(), DomainError> {
    diesel::insert_into(dataset_transitions::table)
        .values((
            dataset_transitions::dataset_id.eq(dataset_id),
            dataset_transitions::from_state.eq(from.map(|s| s.as_str()).unwrap_or("")),
            dataset_transitions::to_state.eq(to.as_str()),
            dataset_transitions::actor_id.eq(actor_id),
            dataset_transitions::comment.eq(comment),
            dataset_transitions::created_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn dataset_row(conn: &mut AnyConnection, id: i64) -> Result<DatasetRow, DomainError> {
    Ok(datasets::table
        .find(id)
        .select(DatasetRow::as_select())
        .first(conn)?)
}

pub fn state_of(row: &DatasetRow) -> Result<DatasetState, DomainError> {
    row.state.parse().map_err(DomainError::internal)
}

/// What `viewer` may do with dataset `id` (see `accounts::access`).
pub fn access_of(
    conn: &mut AnyConnection,
    viewer: Option<&User>,
    id: i64,
) -> Result<Access, DomainError> {
    Ok(Access::of(viewer, &dataset_row(conn, id)?.access_facts()?))
}

fn latest_version(
    conn: &mut AnyConnection,
    dataset_id: i64,
    published_only: bool,
) -> Result<Option<VersionRow>, DomainError> {
    let mut query = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .select(VersionRow::as_select())
        .order(dataset_versions::number.desc())
        .into_boxed();
    if published_only {
        query = query.filter(dataset_versions::published_at.is_not_null());
    }
    Ok(query.first(conn).optional()?)
}

/// The published versions of a dataset, oldest first.
pub fn published_versions(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Vec<VersionRow>, DomainError> {
    Ok(dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .filter(dataset_versions::published_at.is_not_null())
        .order(dataset_versions::number.asc())
        .select(VersionRow::as_select())
        .load(conn)?)
}

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

/// The version a viewer may see: the latest one for its depositor and curators, the
/// latest published one for everybody else. `number` asks for one version.
pub fn load_view(
    conn: &mut AnyConnection,
    viewer: Option<&User>,
    id: i64,
    number: Option<i32>,
) -> Result<DatasetView, DomainError> {
    load_view_with(conn, viewer, id, number, None)
}

/// [`load_view`] for the landing page: the files are loaded only when there are at most
/// [`LANDING_FILES_LIMIT`](super::model::LANDING_FILES_LIMIT) of them (the page lists
/// them a page at a time through [`super::listing::load`]).
pub fn load_landing_view(
    conn: &mut AnyConnection,
    viewer: Option<&User>,
    id: i64,
    number: Option<i32>,
) -> Result<DatasetView, DomainError> {
    load_view_with(
        conn,
        viewer,
        id,
        number,
        Some(super::model::LANDING_FILES_LIMIT),
    )
}

fn load_view_with(
    conn: &mut AnyConnection,
    viewer: Option<&User>,
    id: i64,
    number: Option<i32>,
    max_files: Option<i64>,
) -> Result<DatasetView, DomainError> {
    let dataset = dataset_row(conn, id)?;
    let access = Access::of(viewer, &dataset.access_facts()?);
    let version = match number {
        Some(n) => dataset_versions::table
            .filter(dataset_versions::dataset_id.eq(id))
            .filter(dataset_versions::number.eq(n))
            .select(VersionRow::as_select())
            .first(conn)
            .optional()?
            .filter(|v| access.may_see_version(v.published_at.is_some())),
        None => latest_version(conn, id, !access.may_see_drafts())?,
    }
    .ok_or(DomainError::NotFound)?;
    let owner_name: String = users::table
        .find(dataset.owner_id)
        .select(users::name)
        .first(conn)?;
    let (files, file_count, file_bytes) = match max_files {
        Some(limit) => {
            let (count, bytes) = file_totals(conn, version.id)?;
            let files = if count <= limit {
                files_of(conn, version.id)?
            } else {
                Vec::new()
            };
            (files, count, bytes)
        }
        None => {
            let files = files_of(conn, version.id)?;
            let count = i64::try_from(files.len()).map_err(DomainError::internal)?;
            let bytes = files.iter().map(|f| f.size).sum();
            (files, count, bytes)
        }
    };
    let state = state_of(&dataset)?;
    let access = super::access::of_state(
        conn,
        dataset.id,
        state,
        dataset.deaccession_reason.as_deref(),
    )?;
    Ok(DatasetView {
        state,
        access,
        metadata: parse_stored_metadata(&version.metadata)?,
        dataset,
        owner_name,
        version,
        files,
        file_count,
        file_bytes,
    })
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

/// The draft version of a dataset the actor may change, or why not.
pub fn editable_draft(
    conn: &mut AnyConnection,
    actor: &User,
    id: i64,
) -> Result<(DatasetRow, VersionRow), DomainError> {
    let dataset = dataset_row(conn, id)?;
    let access = Access::of(Some(actor), &dataset.access_facts()?);
    access.check_depositor("change it")?;
    let version = latest_version(conn, id, false)?.ok_or(DomainError::NotFound)?;
    if !access.may_edit(version.published_at.is_some()) {
        let state = state_of(&dataset)?;
        return Err(DomainError::Conflict(if state.is_editable() {
            "this version is published and cannot be changed".into()
        } else {
            format!(
                "this dataset is {}; only a draft (or one with changes requested) can be changed",
                state.label().to_lowercase()
            )
        }));
    }
    Ok((dataset, version))
}

pub fn update_metadata(
    conn: &mut AnyConnection,
    actor: &User,
    id: i64,
    m: Metadata,
) -> Result<(), DomainError> {
    let m = checked_metadata(m)?;
    let json = to_json(&m)?;
    crate::db::transaction(conn, |conn| {
        let (_, version) = editable_draft(conn, actor, id)?;
        let now = Utc::now().naive_utc();
        diesel::update(dataset_versions::table.find(version.id))
            .set((
                dataset_versions::title.eq(title_of(&m)),
                dataset_versions::metadata.eq(&json),
                dataset_versions::updated_at.eq(now),
            ))
            .execute(conn)?;
        touch(conn, id)?;
        // The `datacite` standard checks the metadata itself.
        validation::request(conn, id, version.id, "metadata changed")
    })
}

/// Sets the standards the depositor says the dataset follows; `known` are the names of
/// the standards in effect. A claimed standard's required files are then checked for.
pub fn set_claimed_standards(
    conn: &mut AnyConnection,
    actor: &User,
    id: i64,
    claimed: &[String],
    known: &[String],
) -> Result<Vec<String>, DomainError> {
    let mut names: Vec<String> = Vec::new();
    for name in claimed {
        let name = name.trim();
        if name.is_empty() || names.iter().any(|n| n == name) {
            continue;
        }
        if !known.iter().any(|k| k == name) {
            return Err(DomainError::invalid(
                "standards",
                format!(
                    "'{name}' is not a standard of this archive ({})",
                    known.join(", ")
                ),
            ));
        }
        names.push(name.to_string());
    }
    let json = serde_json::to_string(&names).map_err(DomainError::internal)?;
    crate::db::transaction(conn, |conn| {
        let (_, version) = editable_draft(conn, actor, id)?;
        diesel::update(dataset_versions::table.find(version.id))
            .set((
                dataset_versions::standards.eq(&json),
                dataset_versions::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        touch(conn, id)?;
        validation::request(conn, id, version.id, "standards changed")
    })?;
    Ok(names)
}

fn touch(conn: &mut AnyConnection, id: i64) -> Result<(), DomainError> {
    diesel::update(datasets::table.find(id))
        .set(datasets::updated_at.eq(Utc::now().naive_utc()))
        .execute(conn)?;
    Ok(())
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
            let existing: Option<FileRow> = version_files::table
                .filter(version_files::version_id.eq(version.id))
                .filter(version_files::path.eq(path.as_str()))
                .select(FileRow::as_select())
                .first(conn)
                .optional()?;
            let blob = blob_name(file)?;
            let media_type = super::ingest::media_type(path);
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
                    note_folder_change(&mut folders, &old.path, 0, file.size as i64 - old.size);
                    replaced_blobs.extend(old.staged_name);
                }
                None => {
                    diesel::insert_into(version_files::table)
                        .values((
                            version_files::version_id.eq(version.id),
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
                    note_folder_change(&mut folders, path.as_str(), 1, file.size as i64);
                }
            }
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        apply_folder_changes(conn, version.id, &folders)?;
        touch(conn, id)?;
        validation::request(conn, id, version.id, "files changed")?;
        let paths: Vec<&str> = staged.iter().map(|(p, _)| p.as_str()).collect();
        // In slices: a zip of 100,000 files is more values than one query may bind.
        let mut files = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(1000) {
            files.extend(
                version_files::table
                    .filter(version_files::version_id.eq(version.id))
                    .filter(version_files::path.eq_any(chunk))
                    .select(FileRow::as_select())
                    .load::<FileRow>(conn)?,
            );
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        crate::crashpoint::hit("add-files.before-commit");
        Ok(AddedFiles {
            files,
            replaced_blobs,
        })
    })
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

/// Moves a dataset between states if it is still in `from` (a compare-and-set, so two
/// curators acting at once cannot both succeed).
pub fn set_state(
    conn: &mut AnyConnection,
    id: i64,
    from: DatasetState,
    to: DatasetState,
    actor_id: i64,
    comment: &str,
) -> Result<(), DomainError> {
    let updated = diesel::update(
        datasets::table
            .find(id)
            .filter(datasets::state.eq(from.as_str())),
    )
    .set((
        datasets::state.eq(to.as_str()),
        datasets::updated_at.eq(Utc::now().naive_utc()),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(DomainError::Conflict(format!(
            "this dataset is no longer {}; reload the page",
            from.label().to_lowercase()
        )));
    }
    record_transition(conn, id, Some(from), to, Some(actor_id), comment)
}

/// Opens the next version of a published dataset as a draft: metadata and files are
/// carried over (files point at the bytes already in storage; nothing is copied), and
/// the published versions stay public while the new one is prepared.
pub fn new_version(conn: &mut AnyConnection, actor: &User, id: i64) -> Result<i32, DomainError> {
    crate::db::transaction(conn, |conn| {
        let dataset = dataset_row(conn, id)?;
        let access = Access::of(Some(actor), &dataset.access_facts()?);
        access.check_depositor("open a new version")?;
        if !access.may_open_version() {
            return Err(DomainError::Conflict(format!(
                "a new version can be opened only from a published dataset; this one is {}",
                state_of(&dataset)?.label().to_lowercase()
            )));
        }
        let last = latest_version(conn, id, true)?.ok_or(DomainError::NotFound)?;
        // The publisher, year and version number are set again at publication.
        let mut metadata = parse_stored_metadata(&last.metadata)?;
        metadata.publication_year = None;
        metadata.version = None;
        let json = to_json(&metadata)?;
        let now = Utc::now().naive_utc();
        let number = last.number + 1;
        let version_id = crate::insert_returning_id!(
            conn,
            crate::db::schema::dataset_versions,
            (
                dataset_versions::dataset_id.eq(id),
                dataset_versions::number.eq(number),
                dataset_versions::title.eq(&last.title),
                dataset_versions::metadata.eq(&json),
                dataset_versions::standards.eq(&last.standards),
                dataset_versions::created_at.eq(now),
                dataset_versions::updated_at.eq(now),
            )
        )?;
        let mut folders = FolderChanges::new();
        for f in files_of(conn, last.id)? {
            note_folder_change(&mut folders, &f.path, 1, f.size);
            diesel::insert_into(version_files::table)
                .values((
                    version_files::version_id.eq(version_id),
                    version_files::path.eq(&f.path),
                    version_files::case_key.eq(&f.case_key),
                    version_files::size.eq(f.size),
                    version_files::sha256.eq(&f.sha256),
                    version_files::media_type.eq(&f.media_type),
                    version_files::content_path.eq(&f.content_path),
                    version_files::created_at.eq(now),
                    version_files::folder.eq(folder_of(&f.path)),
                ))
                .execute(conn)?;
        }
        apply_folder_changes(conn, version_id, &folders)?;
        set_state(
            conn,
            id,
            DatasetState::Published,
            DatasetState::Draft,
            actor.id,
            &format!("version {number} opened as a draft"),
        )?;
        validation::request(conn, id, version_id, "new version")?;
        crate::crashpoint::hit("new-version.before-commit");
        Ok(number)
    })
}

fn summaries(
    conn: &mut AnyConnection,
    rows: Vec<(DatasetRow, String)>,
) -> Result<Vec<DatasetSummary>, DomainError> {
    // Three queries whatever the number of rows: latest versions, then file counts.
    let ids: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
    let mut latest: std::collections::HashMap<i64, VersionRow> = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let versions: Vec<VersionRow> = dataset_versions::table
            .filter(dataset_versions::dataset_id.eq_any(chunk))
            .order((
                dataset_versions::dataset_id.asc(),
                dataset_versions::number.asc(),
            ))
            .select(VersionRow::as_select())
            .load(conn)?;
        for v in versions {
            latest.insert(v.dataset_id, v);
        }
    }
    let version_ids: Vec<i64> = latest.values().map(|v| v.id).collect();
    let mut counts: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for chunk in version_ids.chunks(500) {
        let rows: Vec<(i64, i64)> = version_files::table
            .filter(version_files::version_id.eq_any(chunk))
            .group_by(version_files::version_id)
            .select((version_files::version_id, diesel::dsl::count_star()))
            .load(conn)?;
        counts.extend(rows);
    }
    let mut out = Vec::with_capacity(rows.len());
    for (row, owner_name) in rows {
        let Some(version) = latest.remove(&row.id) else {
            continue;
        };
        let file_count = counts.get(&version.id).copied().unwrap_or(0);
        out.push(DatasetSummary {
            id: row.id,
            title: version.title,
            state: state_of(&row)?,
            owner_name,
            version: version.number,
            doi: version.doi,
            updated_at: row.updated_at,
            file_count,
        });
    }
    Ok(out)
}

pub fn list_owned(
    conn: &mut AnyConnection,
    owner_id: i64,
) -> Result<Vec<DatasetSummary>, DomainError> {
    let rows = datasets::table
        .inner_join(users::table)
        .filter(datasets::owner_id.eq(owner_id))
        .order(datasets::updated_at.desc())
        .select((DatasetRow::as_select(), users::name))
        .load(conn)?;
    summaries(conn, rows)
}

/// Datasets in any of `states`, oldest change first, optionally only those assigned to
/// a curator (`Some(Some(id))`) or to nobody (`Some(None)`); with each one's assignee.
pub fn list_for_curation(
    conn: &mut AnyConnection,
    states: &[DatasetState],
    assignee: Option<Option<i64>>,
    limit: i64,
) -> Result<Vec<(DatasetSummary, Option<i64>)>, DomainError> {
    let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let mut query = datasets::table
        .inner_join(users::table)
        .filter(datasets::state.eq_any(names))
        .into_boxed();
    match assignee {
        Some(Some(id)) => query = query.filter(datasets::assignee_id.eq(id)),
        Some(None) => query = query.filter(datasets::assignee_id.is_null()),
        None => {}
    }
    let rows: Vec<(DatasetRow, String)> = query
        .order((datasets::updated_at.asc(), datasets::id.asc()))
        .limit(limit)
        .select((DatasetRow::as_select(), users::name))
        .load(conn)?;
    let assignees: std::collections::HashMap<i64, Option<i64>> =
        rows.iter().map(|(r, _)| (r.id, r.assignee_id)).collect();
    Ok(summaries(conn, rows)?
        .into_iter()
        .map(|s| {
            let a = assignees.get(&s.id).copied().flatten();
            (s, a)
        })
        .collect())
}

pub fn list_in_state(
    conn: &mut AnyConnection,
    state: DatasetState,
    limit: i64,
) -> Result<Vec<DatasetSummary>, DomainError> {
    let rows = datasets::table
        .inner_join(users::table)
        .filter(datasets::state.eq(state.as_str()))
        .order(datasets::updated_at.asc())
        .limit(limit)
        .select((DatasetRow::as_select(), users::name))
        .load(conn)?;
    summaries(conn, rows)
}

pub fn list_recently_published(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<DatasetSummary>, DomainError> {
    let rows = datasets::table
        .inner_join(users::table)
        .filter(datasets::state.eq(DatasetState::Published.as_str()))
        .order(datasets::updated_at.desc())
        .limit(limit)
        .select((DatasetRow::as_select(), users::name))
        .load(conn)?;
    summaries(conn, rows)
}

pub fn transitions(conn: &mut AnyConnection, id: i64) -> Result<Vec<TimelineEntry>, DomainError> {
    let rows: Vec<(TransitionRow, Option<String>)> = dataset_transitions::table
        .left_join(users::table.on(dataset_transitions::actor_id.eq(users::id.nullable())))
        .filter(dataset_transitions::dataset_id.eq(id))
        .order(dataset_transitions::id.asc())
        .select((TransitionRow::as_select(), users::name.nullable()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, actor_name)| TimelineEntry { row, actor_name })
        .collect())
}
