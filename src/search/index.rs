//! Keeping the search index in step: one document per published dataset, built from
//! its latest published version, with its facet values in `search_facets` and, on
//! SQLite, its text in the FTS5 table `search_fts` (rowid = dataset id). PostgreSQL
//! derives its tsvector from the document row (a generated column).

use chrono::{Datelike, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Deserialize;

use super::query::{Facet, MAX_FACET_VALUE_CHARS};
use crate::db::schema::{
    dataset_versions, datasets, file_validations, search_documents, search_facets,
};
use crate::db::AnyConnection;
use crate::deposit::metadata::Metadata;
use crate::deposit::model::VersionRow;
use crate::deposit::service::parse_stored_metadata;
use crate::error::DomainError;

/// Dataset states whose published versions are no longer shown (a withdrawn dataset
/// keeps its tombstone page but leaves search).
pub(crate) const HIDDEN_STATES: &[&str] = &["deaccessioned"];

/// What search stores about one published dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub dataset_id: i64,
    pub version_id: i64,
    pub title: String,
    pub doi: Option<String>,
    pub creators: Vec<String>,
    pub abstract_text: String,
    pub keywords: Vec<String>,
    pub resource_type: String,
    pub licenses: Vec<String>,
    pub publication_year: Option<i32>,
    pub published_at: NaiveDateTime,
    pub standards: Vec<String>,
}

/// Text fit for the index: no control characters but line ends and tabs (search uses
/// two of them to mark matches in snippets).
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect::<String>()
        .trim()
        .to_string()
}

/// One value of a multi-valued field, on one line.
fn one_line(text: &str) -> String {
    clean(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && !list.contains(&value) {
        list.push(value);
    }
}

impl Document {
    /// The document of a published version: its metadata as stored at publication and
    /// the data standards it claims or passed.
    pub fn of_version(
        version: &VersionRow,
        metadata: &Metadata,
        published_at: NaiveDateTime,
        standards: Vec<String>,
    ) -> Document {
        let mut creators = Vec::new();
        for c in &metadata.creators {
            push_unique(&mut creators, one_line(&c.name));
        }
        let abstracts: Vec<&str> = metadata
            .descriptions
            .iter()
            .filter(|d| d.description_type == "Abstract")
            .map(|d| d.description.as_str())
            .collect();
        let abstract_text = if abstracts.is_empty() {
            // No abstract: whatever description there is stands in for it.
            metadata
                .descriptions
                .iter()
                .map(|d| clean(&d.description))
                .collect::<Vec<_>>()
                .join("\n\n")
        } else {
            abstracts
                .iter()
                .map(|d| clean(d))
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        let mut keywords = Vec::new();
        for s in &metadata.subjects {
            push_unique(&mut keywords, one_line(&s.subject));
        }
        let resource_type = metadata
            .types
            .as_ref()
            .map(|t| one_line(&t.resource_type_general))
            .unwrap_or_default();
        let mut licenses = Vec::new();
        for r in &metadata.rights_list {
            let name = r
                .rights_identifier
                .as_deref()
                .or(r.rights.as_deref())
                .unwrap_or_default();
            push_unique(&mut licenses, one_line(name));
        }
        let title = metadata
            .titles
            .first()
            .map(|t| one_line(&t.title))
            .unwrap_or_else(|| one_line(&version.title));
        Document {
            dataset_id: version.dataset_id,
            version_id: version.id,
            title,
            doi: version.doi.clone(),
            creators,
            abstract_text,
            keywords,
            resource_type,
            licenses,
            publication_year: metadata
                .publication_year
                .or_else(|| Some(published_at.year())),
            published_at,
            standards,
        }
    }

    /// (facet, value) pairs for `search_facets`: trimmed, cut to the longest value a
    /// filter accepts, without duplicates.
    pub fn facet_values(&self) -> Vec<(Facet, String)> {
        let mut out: Vec<(Facet, String)> = Vec::new();
        let mut add = |facet: Facet, value: &str| {
            let value: String = value.trim().chars().take(MAX_FACET_VALUE_CHARS).collect();
            let value = value.trim().to_string();
            if !value.is_empty() && !out.iter().any(|(f, v)| *f == facet && *v == value) {
                out.push((facet, value));
            }
        };
        add(Facet::ResourceType, &self.resource_type);
        for l in &self.licenses {
            add(Facet::License, l);
        }
        for k in &self.keywords {
            add(Facet::Subject, k);
        }
        for c in &self.creators {
            add(Facet::Creator, c);
        }
        if let Some(y) = self.publication_year {
            add(Facet::PublicationYear, &y.to_string());
        }
        for s in &self.standards {
            add(Facet::Standard, s);
        }
        out
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StoredFileReport {
    standards: Vec<String>,
    findings: Vec<StoredFinding>,
    suppressed: Vec<StoredFinding>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StoredFinding {
    standard: String,
    severity: String,
}

/// The standards a version claims (its `standards` JSON list) and those its files
/// passed: a file's standard passed when the file's stored report has no error of it.
/// A stored report that cannot be read counts for nothing.
pub fn standards_of(claimed_json: &str, file_reports: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let claimed: Vec<String> = serde_json::from_str(claimed_json).unwrap_or_default();
    for s in claimed {
        push_unique(&mut out, one_line(&s));
    }
    for json in file_reports {
        let Ok(report) = serde_json::from_str::<StoredFileReport>(json) else {
            continue;
        };
        for standard in &report.standards {
            let failed = report
                .findings
                .iter()
                .chain(&report.suppressed)
                .any(|f| f.standard == *standard && f.severity == "error");
            if !failed {
                push_unique(&mut out, one_line(standard));
            }
        }
    }
    out
}

fn latest_published(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Option<VersionRow>, DomainError> {
    Ok(dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .filter(dataset_versions::published_at.is_not_null())
        .order(dataset_versions::number.desc())
        .select(VersionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Builds the document of a dataset's latest published version, or None when the
/// dataset has none or is hidden from search.
pub fn document_for(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Option<Document>, DomainError> {
    let state: Option<String> = datasets::table
        .find(dataset_id)
        .select(datasets::state)
        .first(conn)
        .optional()?;
    match state {
        None => return Ok(None),
        Some(s) if HIDDEN_STATES.contains(&s.as_str()) => return Ok(None),
        Some(_) => {}
    }
    let Some(version) = latest_published(conn, dataset_id)? else {
        return Ok(None);
    };
    let Some(published_at) = version.published_at else {
        return Ok(None);
    };
    let metadata = parse_stored_metadata(&version.metadata)?;
    let reports: Vec<String> = file_validations::table
        .filter(file_validations::version_id.eq(version.id))
        .select(file_validations::report)
        .load(conn)?;
    let standards = standards_of(&version.standards, &reports);
    Ok(Some(Document::of_version(
        &version,
        &metadata,
        published_at,
        standards,
    )))
}

/// Indexes (or re-indexes) a dataset's latest published version; removes the dataset
/// from the index when it has no published version or is withdrawn. Called by
/// publication inside its transaction; atomic on its own too.
pub fn index_dataset(conn: &mut AnyConnection, dataset_id: i64) -> Result<(), DomainError> {
    crate::db::transaction(conn, |conn| match document_for(conn, dataset_id)? {
        Some(doc) => write_document(conn, &doc),
        None => remove_dataset(conn, dataset_id).map(|_| ()),
    })
}

/// Takes a dataset out of the index (it is withdrawn, or was deleted); says whether
/// it was in it.
pub fn remove_dataset(conn: &mut AnyConnection, dataset_id: i64) -> Result<bool, DomainError> {
    crate::db::transaction(conn, |conn| {
        diesel::delete(search_facets::table.filter(search_facets::dataset_id.eq(dataset_id)))
            .execute(conn)?;
        let removed = diesel::delete(search_documents::table.find(dataset_id)).execute(conn)? > 0;
        if let AnyConnection::Sqlite(c) = conn {
            diesel::sql_query("DELETE FROM search_fts WHERE rowid = ?")
                .bind::<BigInt, _>(dataset_id)
                .execute(c)?;
        }
        Ok(removed)
    })
}

fn write_document(conn: &mut AnyConnection, doc: &Document) -> Result<(), DomainError> {
    remove_dataset(conn, doc.dataset_id)?;
    let creators = doc.creators.join("\n");
    let keywords = doc.keywords.join("\n");
    diesel::insert_into(search_documents::table)
        .values((
            search_documents::dataset_id.eq(doc.dataset_id),
            search_documents::version_id.eq(doc.version_id),
            search_documents::title.eq(&doc.title),
            search_documents::doi.eq(&doc.doi),
            search_documents::creators.eq(&creators),
            search_documents::abstract_text.eq(&doc.abstract_text),
            search_documents::keywords.eq(&keywords),
            search_documents::resource_type.eq(&doc.resource_type),
            search_documents::license.eq(doc.licenses.first().cloned().unwrap_or_default()),
            search_documents::publication_year.eq(doc.publication_year),
            search_documents::published_at.eq(doc.published_at),
            search_documents::indexed_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    for (facet, value) in doc.facet_values() {
        diesel::insert_into(search_facets::table)
            .values((
                search_facets::dataset_id.eq(doc.dataset_id),
                search_facets::facet.eq(facet.key()),
                search_facets::value.eq(value),
            ))
            .execute(conn)?;
    }
    if let AnyConnection::Sqlite(c) = conn {
        diesel::sql_query(
            "INSERT INTO search_fts (rowid, title, abstract_text, keywords, creators) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind::<BigInt, _>(doc.dataset_id)
        .bind::<Text, _>(&doc.title)
        .bind::<Text, _>(&doc.abstract_text)
        .bind::<Text, _>(&keywords)
        .bind::<Text, _>(&creators)
        .execute(c)?;
    }
    Ok(())
}

/// What a rebuild did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReindexOutcome {
    pub indexed: usize,
    pub removed: usize,
}

/// Datasets indexed per transaction by a rebuild, so a live archive's writers wait
/// only briefly.
const BATCH: usize = 200;

fn index_in_batches(
    conn: &mut AnyConnection,
    ids: &[i64],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReindexOutcome, DomainError> {
    let mut outcome = ReindexOutcome::default();
    for (n, chunk) in ids.chunks(BATCH).enumerate() {
        crate::db::transaction(conn, |conn| {
            for &id in chunk {
                if let Some(doc) = document_for(conn, id)? {
                    write_document(conn, &doc)?;
                    outcome.indexed += 1;
                } else if remove_dataset(conn, id)? {
                    outcome.removed += 1;
                }
            }
            Ok(())
        })?;
        progress((n * BATCH + chunk.len()).min(ids.len()), ids.len());
    }
    Ok(outcome)
}

/// Rebuilds the whole index from the database: every dataset with a published version
/// is indexed again and entries of datasets no longer shown are removed. Search keeps
/// answering meanwhile. `progress` hears (done, total) after each batch.
pub fn reindex_all(
    conn: &mut AnyConnection,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReindexOutcome, DomainError> {
    let ids: Vec<i64> = dataset_versions::table
        .filter(dataset_versions::published_at.is_not_null())
        .select(dataset_versions::dataset_id)
        .distinct()
        .order(dataset_versions::dataset_id.asc())
        .load(conn)?;
    let mut outcome = index_in_batches(conn, &ids, progress)?;
    // Entries whose dataset is gone or no longer published.
    let stale: Vec<i64> = search_documents::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            dataset_versions::table
                .filter(dataset_versions::dataset_id.eq(search_documents::dataset_id))
                .filter(dataset_versions::published_at.is_not_null()),
        )))
        .select(search_documents::dataset_id)
        .load(conn)?;
    let hidden: Vec<i64> = search_documents::table
        .inner_join(datasets::table)
        .filter(datasets::state.eq_any(HIDDEN_STATES))
        .select(search_documents::dataset_id)
        .load(conn)?;
    for id in stale.iter().chain(&hidden) {
        if remove_dataset(conn, *id)? {
            outcome.removed += 1;
        }
    }
    crate::db::transaction(conn, |conn| {
        diesel::delete(
            search_facets::table.filter(
                search_facets::dataset_id
                    .ne_all(search_documents::table.select(search_documents::dataset_id)),
            ),
        )
        .execute(conn)?;
        if let AnyConnection::Sqlite(c) = conn {
            // FTS rows whose document is gone, then merge the index's segments.
            diesel::sql_query(
                "DELETE FROM search_fts WHERE rowid NOT IN (SELECT dataset_id FROM search_documents)",
            )
            .execute(c)?;
            diesel::sql_query("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
                .execute(c)?;
        }
        Ok(())
    })?;
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("ANALYZE search_documents, search_facets").execute(c)?;
    }
    Ok(outcome)
}

/// Indexes published datasets the index lacks (after an upgrade that added search, or
/// a restore from a backup taken without it). Cheap when nothing is missing.
pub fn backfill(conn: &mut AnyConnection) -> Result<usize, DomainError> {
    let missing: Vec<i64> = dataset_versions::table
        .filter(dataset_versions::published_at.is_not_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            search_documents::table
                .filter(search_documents::dataset_id.eq(dataset_versions::dataset_id)),
        )))
        .filter(
            dataset_versions::dataset_id.eq_any(
                datasets::table
                    .filter(datasets::state.ne_all(HIDDEN_STATES))
                    .select(datasets::id),
            ),
        )
        .select(dataset_versions::dataset_id)
        .distinct()
        .order(dataset_versions::dataset_id.asc())
        .load(conn)?;
    if missing.is_empty() {
        return Ok(0);
    }
    Ok(index_in_batches(conn, &missing, &mut |_, _| {})?.indexed)
}
