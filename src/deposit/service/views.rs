use super::{
    dataset_row, file_totals, files_of, latest_version, parse_stored_metadata, state_of,
    DatasetRow, DatasetState, DatasetSummary, DatasetView, TimelineEntry, TransitionRow,
    VersionRow,
};
use crate::accounts::{Access, User};
use crate::db::schema::{dataset_transitions, dataset_versions, datasets, users, version_files};
use crate::db::AnyConnection;
use crate::error::DomainError;
use diesel::prelude::*;

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
/// [`LANDING_FILES_LIMIT`](crate::deposit::model::LANDING_FILES_LIMIT) of them (the page lists
/// them a page at a time through [`crate::deposit::listing::load`]).
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
        Some(crate::deposit::model::LANDING_FILES_LIMIT),
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
    let access = crate::deposit::access::of_state(
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
