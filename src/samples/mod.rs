//! Samples as records of their own. A published dataset's sample metadata files
//! (ESS-DIVE sample ID format) describe samples; its data files use them, by name or
//! IGSN. Both are known from the validation reports of the published version (each
//! file's `references`), so nothing is read again: at publication the dataset's rows of
//! the `samples` table are rebuilt, its IGSNs become related identifiers of its DataCite
//! record, and every sample gets a public page that links back to each published
//! dataset that describes or uses it.

use diesel::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

use crate::db::schema::{dataset_versions, datasets, file_validations, samples, version_files};
use crate::db::AnyConnection;
use crate::deposit::metadata::model::RelatedIdentifier;
use crate::deposit::metadata::Metadata;
use crate::error::DomainError;
use crate::standards::references::normal;
use crate::standards::rules::canonical_igsn;
use crate::standards::FileReport;

/// IGSNs written into one DataCite record at most (a record is not a sample catalogue).
pub const MAX_LINKED_IGSNS: usize = 1_000;

/// How a sample is named in a URL: by IGSN, or by its name within one dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleKey {
    Igsn(String),
    Named { dataset_id: i64, name: String },
}

/// One sample a file of the dataset describes or uses.
struct Found {
    igsn: Option<String>,
    name: String,
    parent: Option<String>,
    file: String,
    described: bool,
    attrs: BTreeMap<String, String>,
}

/// The samples of one version, from its files' stored reports.
fn found_in(conn: &mut AnyConnection, version_id: i64) -> Result<Vec<Found>, DomainError> {
    let current = version_files::table
        .filter(version_files::version_id.eq(version_id))
        .select(version_files::path);
    let rows: Vec<String> = file_validations::table
        .filter(file_validations::version_id.eq(version_id))
        .filter(file_validations::path.eq_any(current))
        .order(file_validations::path.asc())
        .select(file_validations::report)
        .load(conn)?;
    let mut out: Vec<Found> = Vec::new();
    let mut described: HashSet<String> = HashSet::new();
    let reports: Vec<FileReport> = rows
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect();
    for r in &reports {
        for list in r.references.defines.iter().filter(|l| l.kind == "sample") {
            for k in &list.keys {
                let igsn = k.attrs.get("igsn").and_then(|i| canonical_igsn(i));
                described.insert(normal(&k.value));
                if let Some(i) = &igsn {
                    described.insert(normal(i));
                }
                let mut attrs = k.attrs.clone();
                attrs.remove("igsn");
                out.push(Found {
                    igsn,
                    parent: attrs.remove("parentIGSN").and_then(|p| canonical_igsn(&p)),
                    name: k.value.clone(),
                    file: r.path.clone(),
                    described: true,
                    attrs,
                });
            }
        }
    }
    let mut used: HashSet<String> = HashSet::new();
    for r in &reports {
        for list in r
            .references
            .uses
            .iter()
            .filter(|l| l.kind == "sample" || l.kind == "igsn")
        {
            for k in &list.keys {
                let (name, igsn) = if list.kind == "igsn" {
                    (k.value.clone(), canonical_igsn(&k.value))
                } else {
                    (
                        k.value.clone(),
                        k.attrs.get("igsn").and_then(|i| canonical_igsn(i)),
                    )
                };
                let known = described.contains(&normal(&name))
                    || igsn
                        .as_ref()
                        .is_some_and(|i| described.contains(&normal(i)));
                let key = igsn.clone().unwrap_or_else(|| normal(&name));
                if known || !used.insert(key) {
                    continue;
                }
                out.push(Found {
                    igsn,
                    name,
                    parent: None,
                    file: r.path.clone(),
                    described: false,
                    attrs: BTreeMap::new(),
                });
            }
        }
    }
    Ok(out)
}

/// The dataset's latest published version.
fn published_version(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Option<i64>, DomainError> {
    Ok(dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .filter(dataset_versions::published_at.is_not_null())
        .order(dataset_versions::number.desc())
        .select(dataset_versions::id)
        .first(conn)
        .optional()?)
}

/// Rebuilds the dataset's rows from its latest published version (none when it has
/// none). Runs inside the publishing transaction.
pub fn index_dataset(conn: &mut AnyConnection, dataset_id: i64) -> Result<usize, DomainError> {
    remove_dataset(conn, dataset_id)?;
    let Some(version_id) = published_version(conn, dataset_id)? else {
        return Ok(0);
    };
    let found = found_in(conn, version_id)?;
    for f in &found {
        let attrs = serde_json::to_string(&f.attrs).map_err(DomainError::internal)?;
        diesel::insert_into(samples::table)
            .values((
                samples::dataset_id.eq(dataset_id),
                samples::version_id.eq(version_id),
                samples::igsn.eq(&f.igsn),
                samples::name.eq(&f.name),
                samples::name_key.eq(normal(&f.name)),
                samples::parent_igsn.eq(&f.parent),
                samples::file_path.eq(&f.file),
                samples::described.eq(f.described),
                samples::attrs.eq(&attrs),
            ))
            .execute(conn)?;
    }
    Ok(found.len())
}

/// Takes a dataset's samples out (it was withdrawn).
pub fn remove_dataset(conn: &mut AnyConnection, dataset_id: i64) -> Result<(), DomainError> {
    diesel::delete(samples::table.filter(samples::dataset_id.eq(dataset_id))).execute(conn)?;
    Ok(())
}

/// Adds the IGSNs of the version's samples to its metadata as related identifiers
/// (type IGSN; `Describes` for samples its sample metadata describes, `IsDerivedFrom`
/// for samples its data files only use), as DataCite and ESS-DIVE ask. Identifiers the
/// depositor already gave are kept as they are.
pub fn link_igsns(
    conn: &mut AnyConnection,
    version_id: i64,
    metadata: &mut Metadata,
) -> Result<(), DomainError> {
    let mut have: HashSet<String> = metadata
        .related_identifiers
        .iter()
        .filter(|r| r.related_identifier_type.eq_ignore_ascii_case("IGSN"))
        .filter_map(|r| canonical_igsn(&r.related_identifier))
        .collect();
    let mut added = 0;
    for f in found_in(conn, version_id)? {
        let Some(igsn) = f.igsn else { continue };
        if added >= MAX_LINKED_IGSNS || !have.insert(igsn.clone()) {
            continue;
        }
        added += 1;
        metadata.related_identifiers.push(RelatedIdentifier {
            related_identifier: igsn,
            related_identifier_type: "IGSN".into(),
            relation_type: if f.described {
                "Describes"
            } else {
                "IsDerivedFrom"
            }
            .into(),
            resource_type_general: Some("PhysicalObject".into()),
            ..Default::default()
        });
    }
    Ok(())
}

/// A published dataset that describes or uses a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetLink {
    pub dataset_id: i64,
    pub title: String,
    pub doi: Option<String>,
    pub file_path: String,
    pub described: bool,
}

#[derive(Debug, Clone)]
pub struct SampleView {
    pub igsn: Option<String>,
    pub name: String,
    /// The metadata of its first description, field by field.
    pub attrs: Vec<(String, String)>,
    pub described: bool,
    pub parent: Option<String>,
    /// (IGSN, name) of the samples that name it as their parent.
    pub children: Vec<(String, String)>,
    pub datasets: Vec<DatasetLink>,
}

type Row = (
    i64,
    Option<String>,
    String,
    Option<String>,
    String,
    bool,
    String,
    String,
    Option<String>,
);

fn rows_for(conn: &mut AnyConnection, key: &SampleKey) -> Result<Vec<Row>, DomainError> {
    let mut q = samples::table
        .inner_join(datasets::table)
        .inner_join(dataset_versions::table.on(dataset_versions::id.eq(samples::version_id)))
        .filter(datasets::state.eq("published"))
        .select((
            samples::dataset_id,
            samples::igsn,
            samples::name,
            samples::parent_igsn,
            samples::file_path,
            samples::described,
            samples::attrs,
            dataset_versions::title,
            dataset_versions::doi,
        ))
        .order((samples::described.desc(), samples::dataset_id.asc()))
        .into_boxed();
    q = match key {
        SampleKey::Igsn(i) => q.filter(samples::igsn.eq(i.clone())),
        SampleKey::Named { dataset_id, name } => q
            .filter(samples::dataset_id.eq(*dataset_id))
            .filter(samples::name_key.eq(normal(name))),
    };
    Ok(q.load(conn)?)
}

/// A sample's page: `None` when no published dataset knows it.
pub fn find(conn: &mut AnyConnection, key: &SampleKey) -> Result<Option<SampleView>, DomainError> {
    let key = match key {
        SampleKey::Igsn(i) => match canonical_igsn(i) {
            Some(c) => SampleKey::Igsn(c),
            None => return Ok(None),
        },
        other => other.clone(),
    };
    let rows = rows_for(conn, &key)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let attrs: Vec<(String, String)> = serde_json::from_str::<BTreeMap<String, Value>>(&first.6)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    let igsn = first.1.clone();
    let children: Vec<(String, String)> = match &igsn {
        Some(i) => samples::table
            .inner_join(datasets::table)
            .filter(datasets::state.eq("published"))
            .filter(samples::parent_igsn.eq(i))
            .filter(samples::igsn.is_not_null())
            .select((samples::igsn.assume_not_null(), samples::name))
            .distinct()
            .order(samples::name.asc())
            .limit(500)
            .load(conn)?,
        None => Vec::new(),
    };
    let mut seen = HashSet::new();
    let datasets: Vec<DatasetLink> = rows
        .iter()
        .filter(|r| seen.insert(r.0))
        .map(|r| DatasetLink {
            dataset_id: r.0,
            title: r.7.clone(),
            doi: r.8.clone(),
            file_path: r.4.clone(),
            described: r.5,
        })
        .collect();
    Ok(Some(SampleView {
        name: first.2.clone(),
        parent: rows.iter().find_map(|r| r.3.clone()),
        described: first.5,
        igsn,
        attrs,
        children,
        datasets,
    }))
}

/// A search hit: one sample (by IGSN, else by name in its dataset).
#[derive(Debug, Clone, PartialEq)]
pub struct SampleHit {
    pub igsn: Option<String>,
    pub name: String,
    pub dataset_id: i64,
    pub dataset_title: String,
    pub href: String,
}

/// Samples whose IGSN or name starts with the query (without case), IGSN first.
pub fn search(
    conn: &mut AnyConnection,
    query: &str,
    limit: i64,
) -> Result<Vec<SampleHit>, DomainError> {
    let q = query.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let pattern = format!("{}%", escape_like(&normal(q)));
    let igsn_pattern = format!(
        "{}%",
        escape_like(&canonical_igsn(q).unwrap_or_else(|| q.to_uppercase()))
    );
    let rows: Vec<(Option<String>, String, i64, String)> = samples::table
        .inner_join(datasets::table)
        .inner_join(dataset_versions::table.on(dataset_versions::id.eq(samples::version_id)))
        .filter(datasets::state.eq("published"))
        .filter(
            samples::name_key
                .like(pattern)
                .escape('\\')
                .or(samples::igsn.like(igsn_pattern).escape('\\')),
        )
        .select((
            samples::igsn,
            samples::name,
            samples::dataset_id,
            dataset_versions::title,
        ))
        .order((
            samples::igsn.asc(),
            samples::name_key.asc(),
            samples::dataset_id.asc(),
        ))
        .limit(limit * 4)
        .load(conn)?;
    let mut seen = HashSet::new();
    let mut hits = Vec::new();
    for (igsn, name, dataset_id, dataset_title) in rows {
        let href = match &igsn {
            Some(i) => format!("/samples/{i}"),
            None => format!("/datasets/{dataset_id}/samples/{}", urlencoding(&name)),
        };
        if seen.insert(href.clone()) {
            hits.push(SampleHit {
                igsn,
                name,
                dataset_id,
                dataset_title,
                href,
            });
        }
        if hits.len() as i64 >= limit {
            break;
        }
    }
    Ok(hits)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A path segment with everything but unreserved characters percent-encoded.
pub fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
