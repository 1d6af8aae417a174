//! Dataset drafts: create, edit metadata, add and remove files, new versions.
//!
//! Who may see or change what is decided by `accounts::access` (the one access rule);
//! this module loads the facts it needs and words the refusals of the state machine.

use chrono::Utc;
use diesel::prelude::*;

use super::metadata::{self, Metadata};
use super::model::*;
use super::validation;
use crate::accounts::{Access, User};
use crate::db::schema::{dataset_transitions, dataset_versions, datasets, version_files};
use crate::db::AnyConnection;
use crate::error::DomainError;

mod files;
mod views;

pub(crate) use files::escape_like;
pub use files::{
    add_files, apply_folder_changes, file_count, file_totals, files_of, folder_of,
    note_folder_change, remove_file, AddedFiles, FolderChanges,
};
pub use views::{
    list_for_curation, list_in_state, list_owned, list_recently_published, load_landing_view,
    load_view, transitions,
};

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

pub(super) fn latest_version(
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

pub(super) fn touch(conn: &mut AnyConnection, id: i64) -> Result<(), DomainError> {
    diesel::update(datasets::table.find(id))
        .set(datasets::updated_at.eq(Utc::now().naive_utc()))
        .execute(conn)?;
    Ok(())
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
