//! Rules between the files of a dataset: every file is listed in the file-level metadata
//! (FLMD), every CSV column is defined in the data dictionary, and every claimed standard
//! has the files it needs. Which file plays which part is data: a standard's `crossFile`
//! block names the column that lists files or defines columns.
//!
//! Data files are known from their reports (their column labels are stored there); only
//! the small FLMD and dictionary files are read again.

use csv::ByteRecord;

use super::dataset::{file_name, DatasetFile, DatasetInput};
use super::engine::{open_table, FileReport};
use super::findings::{Finding, Issue, Severity};
use super::spec::{glob_match, NameColumn, Registry, Standard};
use super::table::level;

/// Entries read from one listing file before the rest are ignored (memory stays bounded).
const MAX_ENTRIES: usize = 100_000;

/// One entry of an FLMD or dictionary: the name (maybe a `*` pattern) and its row.
struct Entry {
    name: String,
    row: u64,
    used: bool,
}

/// A listing file (FLMD or dictionary) with its entries.
struct Listing<'a> {
    file: &'a DatasetFile,
    standard: &'a Standard,
    rule: &'a NameColumn,
    entries: Vec<Entry>,
}

/// Reads the entries of `rule.column` (by the field's name or aliases, without case).
fn read_listing<'a>(
    file: &'a DatasetFile,
    standard: &'a Standard,
    rule: &'a NameColumn,
) -> Result<Listing<'a>, String> {
    let field = standard
        .schema
        .fields
        .iter()
        .find(|f| f.name == rule.column);
    let names = |l: &str| {
        let l = l.trim();
        l.eq_ignore_ascii_case(&rule.column)
            || field.is_some_and(|f| f.aliases.iter().any(|a| l.eq_ignore_ascii_case(a)))
    };
    let mut table = open_table(&file.local, &standard.dialect).map_err(|e| e.to_string())?;
    let mut record = ByteRecord::new();
    let mut column = None;
    let mut entries = Vec::new();
    while let Some(row) = table.read(&mut record).map_err(|e| e.to_string())? {
        let Some(c) = column else {
            column = record
                .iter()
                .position(|l| names(&String::from_utf8_lossy(l)));
            if column.is_none() {
                // The file's own report says the column is missing.
                break;
            }
            continue;
        };
        let name = String::from_utf8_lossy(record.get(c).unwrap_or_default())
            .trim()
            .to_string();
        if name.is_empty() || standard.schema.missing_values.contains(&name) {
            continue;
        }
        entries.push(Entry {
            name,
            row,
            used: false,
        });
        if entries.len() >= MAX_ENTRIES {
            break;
        }
    }
    Ok(Listing {
        file,
        standard,
        rule,
        entries,
    })
}

/// Listing files of the dataset for one kind of rule.
fn listings<'a>(
    registry: &'a Registry,
    files: &'a [DatasetFile],
    rule_of: impl Fn(&Standard) -> Option<&NameColumn>,
    out: &mut Vec<Finding>,
) -> Vec<Listing<'a>> {
    let mut found = Vec::new();
    for f in files {
        for s in &registry.standards {
            let Some(rule) = rule_of(s) else { continue };
            if !s.applies_to(file_name(&f.path)) {
                continue;
            }
            match read_listing(f, s, rule) {
                Ok(l) => found.push(l),
                Err(e) => out.push(
                    Issue::new(
                        "source-error",
                        Severity::Error,
                        format!("cannot read it for the dataset checks: {e}"),
                    )
                    .found_in(&f.path, &s.name),
                ),
            }
        }
    }
    found
}

/// Whether an FLMD entry names a dataset path: by file name, or by path relative to the
/// dataset (`./` and `\` tolerated), `*` wildcards allowed.
pub fn lists(entry: &str, path: &str) -> bool {
    let entry = entry.replace('\\', "/");
    let entry = entry.trim_start_matches("./").trim_start_matches('/');
    if entry.contains('/') {
        glob_match(entry.as_bytes(), path.as_bytes())
    } else {
        glob_match(entry.as_bytes(), file_name(path).as_bytes())
    }
}

pub fn check(registry: &Registry, files: &[DatasetFile], reports: &[FileReport]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut flmds = listings(
        registry,
        files,
        |s| s.cross_file.as_ref()?.lists_files.as_ref(),
        &mut out,
    );
    let mut dds = listings(
        registry,
        files,
        |s| s.cross_file.as_ref()?.defines_columns.as_ref(),
        &mut out,
    );
    // Every file but the FLMDs themselves must be listed in an FLMD.
    if !flmds.is_empty() {
        for f in files {
            if flmds.iter().any(|l| std::ptr::eq(l.file, f)) {
                continue;
            }
            let mut listed = false;
            for l in &mut flmds {
                for e in &mut l.entries {
                    if lists(&e.name, &f.path) {
                        e.used = true;
                        listed = true;
                    }
                }
            }
            if !listed {
                let l = &flmds[0];
                out.push(
                    Issue::new(
                        "file-not-in-flmd",
                        level(l.rule.unlisted),
                        format!(
                            "{} is not listed in {}; add a row for it",
                            f.path, l.file.path
                        ),
                    )
                    .value(f.path.as_bytes())
                    .found_in(&f.path, &l.standard.name),
                );
            }
        }
        // An FLMD may list itself (ESS-DIVE: "one row per file in the package").
        let own: Vec<String> = flmds.iter().map(|l| l.file.path.clone()).collect();
        for l in &mut flmds {
            for e in &mut l.entries {
                e.used |= own.iter().any(|p| lists(&e.name, p));
            }
        }
        for l in &flmds {
            unused(
                l,
                "flmd-entry-not-found",
                "names no file of the dataset",
                &mut out,
            );
        }
    }
    // Every column of every data CSV must be defined in a data dictionary: the ones made
    // for that file (`<name>_dd.csv`, wildcards allowed) when there are, else any.
    if !dds.is_empty() {
        let listing_paths: Vec<String> = flmds
            .iter()
            .chain(dds.iter())
            .map(|l| l.file.path.clone())
            .collect();
        let is_listing = |path: &str| listing_paths.iter().any(|p| p == path);
        for r in reports {
            if r.columns.is_empty()
                || is_listing(&r.path)
                || !file_name(&r.path).to_ascii_lowercase().ends_with(".csv")
            {
                continue;
            }
            let stem = stem_of(file_name(&r.path));
            let own: Vec<usize> = dds
                .iter()
                .enumerate()
                .filter(|(_, l)| {
                    let dd = stem_of(file_name(&l.file.path));
                    dd.to_ascii_lowercase()
                        .strip_suffix("_dd")
                        .is_some_and(|target| glob_match(target.as_bytes(), stem.as_bytes()))
                })
                .map(|(i, _)| i)
                .collect();
            let scope: Vec<usize> = if own.is_empty() {
                (0..dds.len()).collect()
            } else {
                own
            };
            for column in &r.columns {
                let column = column.trim();
                if column.is_empty() {
                    continue;
                }
                let mut defined = false;
                for &i in &scope {
                    for e in &mut dds[i].entries {
                        if glob_match(e.name.as_bytes(), column.as_bytes()) {
                            e.used = true;
                            defined = true;
                        }
                    }
                }
                if !defined {
                    let l = &dds[scope[0]];
                    out.push(
                        Issue::new(
                            "column-not-in-dd",
                            level(l.rule.unlisted),
                            format!(
                                "column {column:?} is not defined in {}; add a row for it",
                                l.file.path
                            ),
                        )
                        .column(column)
                        .found_in(&r.path, &l.standard.name),
                    );
                }
            }
        }
        for l in &dds {
            unused(
                l,
                "dd-entry-unused",
                "matches no column of the dataset's CSV files",
                &mut out,
            );
        }
    }
    out
}

fn stem_of(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

fn unused(l: &Listing, code: &'static str, what: &str, out: &mut Vec<Finding>) {
    for e in l.entries.iter().filter(|e| !e.used) {
        out.push(
            Issue::new(
                code,
                level(l.rule.unmatched),
                format!("{:?} {what}", e.name),
            )
            .row(e.row)
            .column(l.rule.column.clone())
            .value(e.name.as_bytes())
            .found_in(&l.file.path, &l.standard.name),
        );
    }
}

/// A claimed standard needs at least one file it applies to (`datacite`: the metadata).
pub fn check_claims(
    registry: &Registry,
    input: &DatasetInput,
    files: &[DatasetFile],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for claim in input.claimed {
        let Ok(s) = registry.get(claim) else {
            out.push(
                Issue::new(
                    "unknown-standard",
                    Severity::Warning,
                    format!(
                        "the dataset claims {claim:?}, which this archive does not know (known: {})",
                        registry.standards.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
                .value(claim.as_bytes())
                .found_in("", claim.clone()),
            );
            continue;
        };
        let has = if s.datacite.is_some() {
            input.metadata.is_some()
        } else {
            files.iter().any(|f| s.applies_to(file_name(&f.path)))
        };
        if !has {
            let needs = if s.datacite.is_some() {
                "metadata".to_string()
            } else {
                format!("file named like {}", super::assign::name_patterns(s))
            };
            out.push(
                Issue::new(
                    "missing-required-file",
                    Severity::Error,
                    format!(
                        "the dataset claims {} ({}) but has no {needs}",
                        s.name, s.title
                    ),
                )
                .found_in("", s.name.clone()),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flmd_entries_match_names_paths_and_wildcards() {
        assert!(lists("a.csv", "data/a.csv"));
        assert!(lists("data/a.csv", "data/a.csv"));
        assert!(lists("./data/a.csv", "data/a.csv"));
        assert!(lists("data\\a.csv", "data/a.csv"));
        assert!(lists("soil_cores_*.csv", "x/soil_cores_2019.csv"));
        assert!(!lists("other/a.csv", "data/a.csv"));
        assert!(!lists("b.csv", "a.csv"));
    }
}
