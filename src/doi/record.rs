//! What the registration agency is told about one DOI, read from the database: the
//! published version it names (or, for a concept DOI, the latest one) with the DOIs of
//! the versions around it, so the record carries DataCite's versioning relations
//! (IsVersionOf / HasVersion / IsNewVersionOf / IsPreviousVersionOf).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::export::{self, ExportFile, PublishedRecord};
use crate::db::schema::{dataset_versions, dois};
use crate::db::AnyConnection;
use crate::deposit::access::{self, Access};
use crate::deposit::metadata::Metadata;
use crate::deposit::model::VersionRow;
use crate::deposit::service;
use crate::error::DomainError;

/// One row of the `dois` table.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = dois)]
pub struct DoiRow {
    pub doi: String,
    pub dataset_id: i64,
    /// None for a concept DOI.
    pub version_id: Option<i64>,
    /// What the archive asks for.
    pub state: String,
    pub url: String,
    /// What the registration agency confirmed; None: not registered there yet.
    pub provider_state: Option<String>,
    /// Which provider confirmed it (`local`, `datacite`).
    pub provider: Option<String>,
    pub provider_synced_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

pub fn find_row(conn: &mut AnyConnection, doi: &str) -> Result<Option<DoiRow>, DomainError> {
    Ok(dois::table
        .find(doi)
        .select(DoiRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every DOI of a dataset: concept first, then versions in order.
pub fn rows_of_dataset(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Vec<DoiRow>, DomainError> {
    let mut rows: Vec<DoiRow> = dois::table
        .filter(dois::dataset_id.eq(dataset_id))
        .select(DoiRow::as_select())
        .load(conn)?;
    let numbers: Vec<(i64, i32)> = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .select((dataset_versions::id, dataset_versions::number))
        .load(conn)?;
    let number_of = |v: Option<i64>| {
        v.and_then(|id| numbers.iter().find(|(vid, _)| *vid == id).map(|(_, n)| *n))
            .unwrap_or(0)
    };
    rows.sort_by_key(|r| (r.version_id.is_some(), number_of(r.version_id)));
    Ok(rows)
}

/// A DOI's landing page: the dataset's page for a concept DOI (it follows the latest
/// version), the numbered version's page for a version DOI.
pub fn landing_url(base_url: &str, dataset_id: i64, version_number: Option<i32>) -> String {
    match version_number {
        Some(n) => format!("{base_url}/datasets/{dataset_id}/versions/{n}"),
        None => format!("{base_url}/datasets/{dataset_id}"),
    }
}

/// The owned parts of a [`PublishedRecord`] for one DOI.
#[derive(Clone, Debug)]
pub struct DoiRecord {
    pub metadata: Metadata,
    pub doi: String,
    pub concept_doi: Option<String>,
    pub previous_doi: Option<String>,
    pub next_doi: Option<String>,
    pub has_versions: Vec<String>,
    pub version: i32,
    pub published: NaiveDateTime,
    pub landing_url: String,
    pub files: Vec<ExportFile>,
    pub access: Access,
}

impl DoiRecord {
    pub fn with_record<T>(&self, publisher: &str, f: impl FnOnce(&PublishedRecord) -> T) -> T {
        let record = PublishedRecord {
            metadata: &self.metadata,
            doi: &self.doi,
            concept_doi: self.concept_doi.as_deref(),
            previous_doi: self.previous_doi.as_deref(),
            next_doi: self.next_doi.as_deref(),
            has_versions: &self.has_versions,
            version: self.version,
            published: self.published,
            publisher,
            landing_url: &self.landing_url,
            files: &self.files,
            catalog: None,
            access: &self.access,
        };
        f(&record)
    }

    /// DataCite XML, kernel 4.6.
    pub fn datacite_xml(&self, publisher: &str) -> String {
        self.with_record(publisher, export::datacite_xml)
    }
}

/// The record of a DOI, or None while there is nothing published to describe (a draft
/// DOI reserved for an unpublished version).
pub fn load(
    conn: &mut AnyConnection,
    base_url: &str,
    row: &DoiRow,
) -> Result<Option<DoiRecord>, DomainError> {
    let published = service::published_versions(conn, row.dataset_id)?;
    let concept_doi: Option<String> = {
        use crate::db::schema::datasets;
        datasets::table
            .find(row.dataset_id)
            .select(datasets::concept_doi)
            .first(conn)?
    };
    let access = access::of(conn, row.dataset_id)?;
    let Some(version) = (match row.version_id {
        Some(id) => published.iter().find(|v| v.id == id),
        None => published.last(),
    }) else {
        return Ok(None);
    };
    let Some(published_at) = version.published_at else {
        return Ok(None);
    };
    let metadata = service::parse_stored_metadata(&version.metadata)?;
    let files = export_files(conn, base_url, row.dataset_id, version)?;
    let is_concept = row.version_id.is_none();
    let doi_of = |v: Option<&VersionRow>| v.and_then(|v| v.doi.clone());
    let record = if is_concept {
        DoiRecord {
            doi: row.doi.clone(),
            concept_doi: None,
            previous_doi: None,
            next_doi: None,
            has_versions: published.iter().filter_map(|v| v.doi.clone()).collect(),
            landing_url: landing_url(base_url, row.dataset_id, None),
            metadata,
            version: version.number,
            published: published_at,
            files,
            access: access.clone(),
        }
    } else {
        DoiRecord {
            doi: row.doi.clone(),
            concept_doi,
            previous_doi: doi_of(
                published
                    .iter()
                    .filter(|v| v.number < version.number)
                    .max_by_key(|v| v.number),
            ),
            next_doi: doi_of(
                published
                    .iter()
                    .filter(|v| v.number > version.number)
                    .min_by_key(|v| v.number),
            ),
            has_versions: Vec::new(),
            landing_url: landing_url(base_url, row.dataset_id, Some(version.number)),
            metadata,
            version: version.number,
            published: published_at,
            files,
            access: access.clone(),
        }
    };
    Ok(Some(record))
}

fn export_files(
    conn: &mut AnyConnection,
    base_url: &str,
    dataset_id: i64,
    version: &VersionRow,
) -> Result<Vec<ExportFile>, DomainError> {
    Ok(service::files_of(conn, version.id)?
        .into_iter()
        .map(|f| {
            let encoded = crate::deposit::ingest::encode_path(&f.path);
            ExportFile {
                download_url: format!(
                    "{base_url}/datasets/{dataset_id}/versions/{}/files/{encoded}",
                    version.number
                ),
                size: u64::try_from(f.size).unwrap_or(0),
                path: f.path,
                sha256: f.sha256,
                media_type: f.media_type,
            }
        })
        .collect())
}
