//! Which standards check which file of a dataset: those whose name pattern matches, and
//! those of the reporting format the dataset's FLMD names for it in its `standard`
//! column (`ESS-DIVE Soil Respiration v1`), less those another applicable standard
//! `replaces`. And the files a format needs beside each other (`requiresStandards`).

use std::borrow::Cow;

use csv::ByteRecord;

use super::crossfile::lists;
use super::dataset::{file_name, DatasetFile, DatasetInput};
use super::engine::{open_table, FileReport};
use super::findings::{Finding, Issue, Severity};
use super::spec::{Registry, Standard};

/// Rows read from one FLMD for this purpose (the FLMD's own report covers the rest).
const MAX_ROWS: usize = 100_000;

/// `(file_name entry, standard term)` from every FLMD of the dataset.
pub struct FlmdTerms {
    entries: Vec<(String, String)>,
}

/// A term as FLMDs write it: without case, runs of space as one.
fn normal_term(t: &str) -> String {
    t.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl FlmdTerms {
    pub fn read(registry: &Registry, files: &[DatasetFile]) -> FlmdTerms {
        let mut entries = Vec::new();
        for f in files {
            for s in &registry.standards {
                let Some(rule) = s.cross_file.as_ref().and_then(|c| c.lists_files.as_ref()) else {
                    continue;
                };
                if s.applies_to(file_name(&f.path)) {
                    // An unreadable FLMD is reported by its own checks.
                    let _ = read_terms(f, s, &rule.column, &mut entries);
                }
            }
        }
        FlmdTerms { entries }
    }

    /// Whether some FLMD of the dataset lists a file under a format's term.
    fn names_format(&self, term: &str) -> bool {
        let term = normal_term(term);
        self.entries.iter().any(|(_, t)| normal_term(t) == term)
    }

    /// The standard term the FLMD gives a dataset path, if any.
    pub fn term_of(&self, path: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(entry, _)| lists(entry, path))
            .map(|(_, t)| t.as_str())
    }
}

fn read_terms(
    file: &DatasetFile,
    standard: &Standard,
    name_column: &str,
    out: &mut Vec<(String, String)>,
) -> std::io::Result<()> {
    let names = |field: &str, label: &str| {
        let label = label.trim();
        standard
            .schema
            .fields
            .iter()
            .find(|f| f.name == field)
            .is_some_and(|f| {
                label.eq_ignore_ascii_case(&f.name)
                    || f.aliases.iter().any(|a| label.eq_ignore_ascii_case(a))
            })
    };
    let mut table = open_table(&file.local, &standard.dialect)?;
    let mut record = ByteRecord::new();
    let mut columns: Option<(usize, usize)> = None;
    let mut rows = 0;
    while table.read(&mut record)?.is_some() && rows < MAX_ROWS {
        rows += 1;
        let cell = |i: usize| {
            String::from_utf8_lossy(record.get(i).unwrap_or_default())
                .trim()
                .to_string()
        };
        match columns {
            None => {
                let labels: Vec<String> = (0..record.len()).map(cell).collect();
                let name = labels.iter().position(|l| names(name_column, l));
                let term = labels.iter().position(|l| names("standard", l));
                match (name, term) {
                    (Some(n), Some(t)) => columns = Some((n, t)),
                    _ if rows >= 3 => return Ok(()),
                    _ => {}
                }
            }
            Some((n, t)) => {
                let (name, term) = (cell(n), cell(t));
                if !name.is_empty() && !term.is_empty() {
                    out.push((name, term));
                }
            }
        }
    }
    Ok(())
}

/// The registry as one dataset sees it: a format's `appliesToWhenFollowed` patterns
/// join its name patterns when the dataset follows the format, that is when it claims
/// one of the format's standards or its FLMD names the format. A flux dataset's
/// `site_data.csv` or `chambers.csv` is not a chemistry or respiration file.
pub fn as_followed<'r>(
    registry: &'r Registry,
    claimed: &[String],
    terms: &FlmdTerms,
) -> Cow<'r, Registry> {
    let format_of = |name: &str| {
        registry
            .get(name)
            .ok()
            .and_then(|s| s.flmd_standard.as_deref())
    };
    let follows = |s: &Standard| {
        claimed.iter().any(|c| {
            c == &s.name
                || (s.flmd_standard.is_some() && format_of(c) == s.flmd_standard.as_deref())
        }) || s
            .flmd_standard
            .as_deref()
            .is_some_and(|t| terms.names_format(t))
    };
    if !registry
        .standards
        .iter()
        .any(|s| !s.applies_when_followed.is_empty() && follows(s))
    {
        return Cow::Borrowed(registry);
    }
    let mut seen = registry.clone();
    for s in &mut seen.standards {
        if follows(s) {
            let extra = s.applies_when_followed.clone();
            s.applies_to.extend(extra);
        }
    }
    Cow::Owned(seen)
}

/// Every name pattern of a standard, for messages that tell how to name a file.
pub fn name_patterns(s: &Standard) -> String {
    let all: Vec<&str> = s
        .applies_to
        .iter()
        .chain(&s.applies_when_followed)
        .map(String::as_str)
        .collect();
    all.join(" or ")
}

/// The table standards for one file.
pub fn standards_for<'r>(
    registry: &'r Registry,
    terms: &FlmdTerms,
    file: &DatasetFile,
) -> Vec<&'r Standard> {
    let name = file_name(&file.path);
    let tables = || registry.standards.iter().filter(|s| s.checks_tables());
    let mut chosen: Vec<&Standard> = tables().filter(|s| s.applies_to(name)).collect();
    if let Some(term) = terms.term_of(&file.path).map(normal_term) {
        let format: Vec<&Standard> = tables()
            .filter(|s| s.flmd_standard.as_deref().map(normal_term).as_deref() == Some(&term))
            .collect();
        let named = format
            .iter()
            .any(|s| chosen.iter().any(|c| std::ptr::eq(*c, *s)));
        if !named {
            if let Some(default) = format.iter().find(|s| s.flmd_default).or(format.first()) {
                chosen.push(default);
            }
        }
    }
    let replaced: Vec<&str> = chosen
        .iter()
        .flat_map(|s| s.replaces.iter().map(String::as_str))
        .collect();
    chosen.retain(|s| !replaced.contains(&s.name.as_str()));
    chosen
}

/// A format's files that need others beside them (WSSC data needs a methods file and
/// sample metadata), for the standards the dataset's files follow or it claims.
pub fn check_companions(
    registry: &Registry,
    input: &DatasetInput,
    reports: &[FileReport],
) -> Vec<Finding> {
    let used = |name: &str| {
        reports
            .iter()
            .any(|r| r.standards.iter().any(|s| s == name))
    };
    let mut out = Vec::new();
    for s in &registry.standards {
        if !(used(&s.name) || input.claimed.contains(&s.name)) {
            continue;
        }
        for needed in &s.requires_standards {
            if used(needed) {
                continue;
            }
            let described = registry.get(needed).map_or(needed.clone(), |n| {
                format!("{} file (named like {})", n.title, name_patterns(n))
            });
            out.push(
                Issue::new(
                    "missing-required-file",
                    Severity::Error,
                    format!(
                        "files following {} ({}) need a {described} in the dataset",
                        s.name, s.title
                    ),
                )
                .value(needed.as_bytes())
                .found_in("", s.name.clone()),
            );
        }
    }
    out
}

/// The IGSNs the dataset's metadata links to (related identifiers of type IGSN).
pub fn linked_igsns(input: &DatasetInput) -> Vec<String> {
    input.metadata.map_or(Vec::new(), |m| {
        m.related_identifiers
            .iter()
            .filter(|r| r.related_identifier_type.eq_ignore_ascii_case("IGSN"))
            .map(|r| r.related_identifier.clone())
            .collect()
    })
}
