use super::{Reference, ResourcePlan};
use crate::standards::dataset::{DatasetFile, FileHashes};
use crate::standards::engine::open_table;
use crate::standards::findings::{Collector, Issue, Severity};
use crate::standards::tableschema::{key_hash, KeySet, MAX_KEYS};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

impl ResourcePlan {
    /// Reads the key sets this resource's foreign keys need (one pass per referenced
    /// table, keeping only the hashed keys) and gives them to its schema.
    pub fn load_references(&mut self, all: &[DatasetFile]) {
        self.standard.schema.referenced_keys = self
            .references
            .iter()
            .map(|r| {
                r.as_ref()
                    .and_then(|r| read_keys(&all[r.file].local, r).ok().map(Arc::new))
            })
            .collect();
    }

    /// Checks the declared size and hash against the file.
    pub fn check_stats(
        &self,
        file: &DatasetFile,
        size: u64,
        hashes: &mut FileHashes,
        out: &mut Collector,
    ) {
        if let Some(expected) = self.bytes {
            if expected != size {
                out.push(Issue::new(
                    "byte-count",
                    Severity::Error,
                    format!(
                        "resource {:?} declares {expected} bytes but the file has {size}",
                        self.name
                    ),
                ));
            }
        }
        let Some(declared) = &self.hash else { return };
        let (algorithm, expected) = match declared.split_once(':') {
            Some((a, h)) => (a.to_ascii_lowercase(), h.to_ascii_lowercase()),
            None => ("md5".to_string(), declared.to_ascii_lowercase()),
        };
        let actual = match algorithm.as_str() {
            "sha256" => hashes.sha256(file),
            "md5" => hashes.md5(file),
            other => {
                out.push(Issue::new(
                    "hash-count",
                    Severity::Warning,
                    format!(
                        "resource {:?} gives a {other} hash; holdfast verifies md5 and sha256 only",
                        self.name
                    ),
                ));
                return;
            }
        };
        match actual {
            Ok(actual) if actual != expected => out.push(
                Issue::new(
                    "hash-count",
                    Severity::Error,
                    format!(
                        "resource {:?} declares {algorithm} {expected} but the file's is {actual}",
                        self.name
                    ),
                )
                .value(declared.as_bytes()),
            ),
            Ok(_) => {}
            Err(e) => out.push(Issue::new(
                "hash-count",
                Severity::Error,
                format!(
                    "the hash of resource {:?} could not be computed: {e}",
                    self.name
                ),
            )),
        }
    }
}

/// The hashed keys of the referenced columns of a table.
pub(super) fn read_keys(path: &Path, r: &Reference) -> std::io::Result<KeySet> {
    let mut table = open_table(path, &r.dialect)?;
    let mut record = csv::ByteRecord::new();
    let mut set = KeySet {
        hashes: HashSet::new(),
        complete: true,
    };
    let mut columns: Option<Vec<usize>> = None;
    if !r.dialect.header {
        columns = r
            .fields
            .iter()
            .map(|f| r.schema.fields.iter().position(|x| x.name == *f))
            .collect();
    }
    let header_line = r
        .dialect
        .header_rows
        .as_ref()
        .and_then(|h| h.iter().max().copied())
        .unwrap_or(1);
    while let Some(line) = table.read(&mut record)? {
        if r.dialect.comment_rows.contains(&line) {
            continue;
        }
        let Some(cols) = &columns else {
            if line < header_line && r.dialect.header_rows.is_some() {
                continue;
            }
            let labels: Vec<String> = record
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            // By label; a table matched by position (`exact`) falls back to field order.
            columns = r
                .fields
                .iter()
                .map(|f| {
                    labels
                        .iter()
                        .position(|l| l == f)
                        .or_else(|| r.schema.fields.iter().position(|x| x.name == *f))
                })
                .collect();
            if columns.is_none() {
                return Ok(set);
            }
            continue;
        };
        let missing = |i: usize, cell: &[u8]| {
            let field = r.schema.fields.iter().find(|x| x.name == r.fields[i]);
            r.schema
                .missing_for(field)
                .iter()
                .any(|m| m.as_bytes() == cell)
        };
        if let Some(h) = key_hash(
            cols.iter().map(|&c| record.get(c).unwrap_or_default()),
            missing,
        ) {
            if set.hashes.len() >= MAX_KEYS {
                set.complete = false;
                break;
            }
            set.hashes.insert(h);
        }
    }
    Ok(set)
}
