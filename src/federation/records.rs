//! The OAI-PMH record table: one row per dataset that has been published, with its
//! datestamp, whether it was withdrawn, and its sets. Written inside the publishing and
//! deaccessioning transactions; read a page at a time by (datestamp, dataset id).

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use super::oai::ListQuery;
use crate::db::schema::{dataset_transitions, dataset_versions, datasets, file_validations};
use crate::db::schema::{oai_records, oai_set_members};
use crate::db::AnyConnection;
use crate::deposit::model::{DatasetState, VersionRow};
use crate::deposit::service;
use crate::error::DomainError;

/// One record's header.
#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oai_records)]
pub struct RecordRow {
    pub dataset_id: i64,
    pub datestamp: NaiveDateTime,
    pub deleted: bool,
}

/// A record with its set memberships.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub row: RecordRow,
    pub sets: Vec<String>,
}

/// One set: its spec and a name for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub spec: String,
    pub name: String,
}

/// OpenAIRE's set for data archives: every record (every record here is research data
/// or software with open metadata). Not stored as memberships: it holds all records.
pub const OPENAIRE_DATA: &str = "openaire_data";
const OPENAIRE_DATA_NAME: &str = "OpenAIRE data";

/// The datestamp granularity is the second: anything finer is cut, so a harvest with
/// `from` equal to a datestamp it was given finds that record again.
fn to_second(t: NaiveDateTime) -> NaiveDateTime {
    t.with_nanosecond(0).unwrap_or(t)
}

/// A set spec part from free text: characters setSpec does not allow become `-`.
fn spec_part(value: &str) -> String {
    value
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '!' | '~' | '*' | '(' | ')')
            {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The sets of a published version: its DataCite resourceTypeGeneral (`type:Dataset`)
/// and each standard it claims or passed (`standard:ameriflux-base`), with their
/// groups (`type`, `standard`).
pub fn sets_of_version(
    conn: &mut AnyConnection,
    version: &VersionRow,
) -> Result<Vec<Set>, DomainError> {
    let metadata = service::parse_stored_metadata(&version.metadata)?;
    // The groups are sets too (a harvest of `standard` gets every standard's records),
    // stored as memberships so that a set filter is one equality.
    let mut out: Vec<Set> = vec![Set {
        spec: "type".into(),
        name: "Resource types".into(),
    }];
    let resource_type = metadata
        .types
        .as_ref()
        .map(|t| t.resource_type_general.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "Dataset".to_string());
    out.push(Set {
        spec: format!("type:{}", spec_part(&resource_type)),
        name: format!("Resource type: {resource_type}"),
    });
    let reports: Vec<String> = file_validations::table
        .filter(file_validations::version_id.eq(version.id))
        .select(file_validations::report)
        .load(conn)?;
    let standards = crate::search::standards_of(&version.standards, &reports);
    if !standards.is_empty() {
        out.push(Set {
            spec: "standard".into(),
            name: "Data standards".into(),
        });
    }
    for standard in standards {
        let spec = format!("standard:{}", spec_part(&standard));
        if !spec_part(&standard).is_empty() && !out.iter().any(|s| s.spec == spec) {
            out.push(Set {
                spec,
                name: format!("Data standard: {standard}"),
            });
        }
    }
    Ok(out)
}

/// Brings a dataset's record up to date: its latest published version (datestamp:
/// when it was published) or its withdrawal (datestamp: when it was deaccessioned;
/// the sets stay those of its last published version). A dataset never published has
/// no record. Called inside the transactions that publish and deaccession.
pub fn sync_dataset(conn: &mut AnyConnection, dataset_id: i64) -> Result<(), DomainError> {
    crate::db::transaction(conn, |conn| {
        let state: Option<String> = datasets::table
            .find(dataset_id)
            .select(datasets::state)
            .first(conn)
            .optional()?;
        let latest: Option<VersionRow> = dataset_versions::table
            .filter(dataset_versions::dataset_id.eq(dataset_id))
            .filter(dataset_versions::published_at.is_not_null())
            .order(dataset_versions::number.desc())
            .select(VersionRow::as_select())
            .first(conn)
            .optional()?;
        diesel::delete(oai_set_members::table.filter(oai_set_members::dataset_id.eq(dataset_id)))
            .execute(conn)?;
        diesel::delete(oai_records::table.find(dataset_id)).execute(conn)?;
        let (Some(state), Some(version)) = (state, latest) else {
            return Ok(());
        };
        let Some(published_at) = version.published_at else {
            return Ok(());
        };
        let deleted = state == DatasetState::Deaccessioned.as_str();
        let datestamp = if deleted {
            let withdrawn: Option<NaiveDateTime> = dataset_transitions::table
                .filter(dataset_transitions::dataset_id.eq(dataset_id))
                .filter(dataset_transitions::to_state.eq(DatasetState::Deaccessioned.as_str()))
                .select(diesel::dsl::max(dataset_transitions::created_at))
                .first(conn)?;
            withdrawn.unwrap_or(published_at).max(published_at)
        } else {
            published_at
        };
        diesel::insert_into(oai_records::table)
            .values((
                oai_records::dataset_id.eq(dataset_id),
                oai_records::datestamp.eq(to_second(datestamp)),
                oai_records::deleted.eq(deleted),
            ))
            .execute(conn)?;
        for set in sets_of_version(conn, &version)? {
            diesel::insert_into(oai_set_members::table)
                .values((
                    oai_set_members::dataset_id.eq(dataset_id),
                    oai_set_members::set_spec.eq(&set.spec),
                    oai_set_members::set_name.eq(&set.name),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Gives a record to every published dataset that lacks one (published before OAI-PMH
/// existed); says how many were added.
pub fn backfill(conn: &mut AnyConnection) -> Result<usize, DomainError> {
    let missing: Vec<i64> = dataset_versions::table
        .filter(dataset_versions::published_at.is_not_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            oai_records::table.filter(oai_records::dataset_id.eq(dataset_versions::dataset_id)),
        )))
        .select(dataset_versions::dataset_id)
        .distinct()
        .order(dataset_versions::dataset_id.asc())
        .load(conn)?;
    for chunk in missing.chunks(200) {
        crate::db::transaction(conn, |conn| {
            for &id in chunk {
                sync_dataset(conn, id)?;
            }
            Ok(())
        })?;
    }
    Ok(missing.len())
}

/// The record of a dataset, if it was ever published.
pub fn find(conn: &mut AnyConnection, dataset_id: i64) -> Result<Option<Header>, DomainError> {
    let row: Option<RecordRow> = oai_records::table
        .find(dataset_id)
        .select(RecordRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let mut headers = with_sets(conn, vec![row])?;
    Ok(headers.pop())
}

fn with_sets(conn: &mut AnyConnection, rows: Vec<RecordRow>) -> Result<Vec<Header>, DomainError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.dataset_id).collect();
    let members: Vec<(i64, String)> = oai_set_members::table
        .filter(oai_set_members::dataset_id.eq_any(&ids))
        .order((oai_set_members::dataset_id, oai_set_members::set_spec))
        .select((oai_set_members::dataset_id, oai_set_members::set_spec))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut sets: Vec<String> = members
                .iter()
                .filter(|(id, _)| *id == row.dataset_id)
                .map(|(_, s)| s.clone())
                .collect();
            sets.push(OPENAIRE_DATA.to_string());
            sets.sort();
            Header { sets, row }
        })
        .collect())
}

/// The rows a query selects, in harvest order, ignoring where a page ended.
fn selected(q: &ListQuery) -> oai_records::BoxedQuery<'static, crate::db::MultiBackend> {
    let mut query = oai_records::table.into_boxed();
    if let Some(from) = q.from {
        query = query.filter(oai_records::datestamp.ge(from));
    }
    if let Some(until) = q.until {
        query = query.filter(oai_records::datestamp.le(until));
    }
    if let Some(set) = q.set.as_ref().filter(|s| *s != OPENAIRE_DATA) {
        query = query.filter(
            oai_records::dataset_id.eq_any(
                oai_set_members::table
                    .filter(oai_set_members::set_spec.eq(set.clone()))
                    .select(oai_set_members::dataset_id),
            ),
        );
    }
    query
}

/// One page of headers after `q.after`, at most `limit`, and whether more follow.
pub fn page(
    conn: &mut AnyConnection,
    q: &ListQuery,
    limit: usize,
) -> Result<(Vec<Header>, bool), DomainError> {
    let mut query = selected(q);
    if let Some((t, id)) = q.after {
        query = query.filter(
            oai_records::datestamp.gt(t).or(oai_records::datestamp
                .eq(t)
                .and(oai_records::dataset_id.gt(id))),
        );
    }
    let limit_plus_one = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
    let mut rows: Vec<RecordRow> = query
        .order((oai_records::datestamp.asc(), oai_records::dataset_id.asc()))
        .limit(limit_plus_one)
        .select(RecordRow::as_select())
        .load(conn)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((with_sets(conn, rows)?, more))
}

/// How many records the query selects in all (`completeListSize`).
pub fn count(conn: &mut AnyConnection, q: &ListQuery) -> Result<i64, DomainError> {
    Ok(selected(q).count().get_result(conn)?)
}

/// Every set some record belongs to, by spec (a group such as `type` just before
/// its members), and `openaire_data` once there is a record.
pub fn sets(conn: &mut AnyConnection) -> Result<Vec<Set>, DomainError> {
    let rows: Vec<(String, String)> = oai_set_members::table
        .select((oai_set_members::set_spec, oai_set_members::set_name))
        .distinct()
        .order(oai_set_members::set_spec)
        .load(conn)?;
    let mut out: Vec<Set> = Vec::new();
    for (spec, name) in rows {
        // One name per spec, should two versions have spelled a standard differently.
        if !out.iter().any(|s| s.spec == spec) {
            out.push(Set { spec, name });
        }
    }
    if earliest(conn)?.is_some() {
        out.push(Set {
            spec: OPENAIRE_DATA.into(),
            name: OPENAIRE_DATA_NAME.into(),
        });
        out.sort_by(|a, b| a.spec.cmp(&b.spec));
    }
    Ok(out)
}

/// The oldest datestamp (Identify's `earliestDatestamp`).
pub fn earliest(conn: &mut AnyConnection) -> Result<Option<NaiveDateTime>, DomainError> {
    Ok(oai_records::table
        .select(diesel::dsl::min(oai_records::datestamp))
        .first(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_becomes_a_set_spec_part() {
        assert_eq!(spec_part("ameriflux-base"), "ameriflux-base");
        assert_eq!(spec_part(" a b/c "), "a-b-c");
        assert!(super::super::oai::is_set_spec(&format!(
            "standard:{}",
            spec_part("x:y z")
        )));
    }
}
