//! Rules beyond Table Schema that the ESS-DIVE reporting formats state: controlled
//! vocabularies (matched without case, several values per cell), fields required when
//! another holds a value, IGSN syntax and the parent/child hierarchy, decimal places,
//! values given in a row above the header (a SESAR batch template's `Object Type:` and
//! `User Code:`), and the keys a file defines or uses for the rules between files
//! (`references`). A standard states them in its `rules` block; the table checker calls
//! [`RulesChecker`] in the same pass.

use csv::ByteRecord;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::findings::{Collector, Issue, Severity};
use super::references::{KeyCollector, References, MAX_KEYS_PER_LIST};
use super::spec::RuleLevel;
use super::table::level;
use super::tableschema::{Field, TableSchema};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rules {
    /// Named value lists, used by `fields.*.vocabulary`.
    #[serde(default)]
    pub vocabularies: BTreeMap<String, Vocabulary>,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldRule>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub preamble: Option<Preamble>,
    #[serde(default)]
    pub defines: Vec<KeyRule>,
    #[serde(default)]
    pub uses: Vec<KeyRule>,
    #[serde(default)]
    pub hierarchy: Option<Hierarchy>,
    /// The column names themselves are keys (an amplicon taxon table's sample columns).
    #[serde(default)]
    pub header_uses: Option<HeaderUses>,
    /// Columns that are no field of the schema hold counts: whole numbers from 0.
    #[serde(default)]
    pub other_columns_counts: bool,
    #[serde(skip)]
    prepared: HashMap<String, HashSet<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Vocabulary {
    /// Where the list comes from (a term list of the format, SESAR, the Units Ontology).
    #[serde(default)]
    pub source: Option<String>,
    pub values: Vec<String>,
    #[serde(default = "error_level")]
    pub level: RuleLevel,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FieldRule {
    #[serde(default)]
    pub vocabulary: Option<String>,
    /// Several values in one cell, split on this (`;` in the sample format).
    #[serde(default)]
    pub separator: Option<String>,
    /// The value is an IGSN (see [`canonical_igsn`]).
    #[serde(default)]
    pub igsn: bool,
    /// An IGSN must begin with this field's value (the SESAR user code).
    #[serde(default)]
    pub prefix_field: Option<String>,
    #[serde(default)]
    pub max_decimals: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Condition {
    pub when: When,
    pub require: Vec<String>,
    #[serde(default = "error_level")]
    pub level: RuleLevel,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct When {
    pub field: String,
    /// The field holds any value.
    #[serde(default)]
    pub present: bool,
    /// The field holds one of these (without case).
    #[serde(default, rename = "in")]
    pub one_of: Vec<String>,
}

/// A row before the header holding `label, value` pairs for fields of the schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Preamble {
    /// Label (without case, a trailing `:` ignored) → field name.
    pub labels: BTreeMap<String, String>,
    /// Fields that must be given, in the preamble or as a column.
    #[serde(default)]
    pub required: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyRule {
    pub kind: String,
    pub field: String,
    #[serde(default)]
    pub separator: Option<String>,
    /// A used key no file defines (default error).
    #[serde(default)]
    pub level: Option<RuleLevel>,
    /// No file of the dataset defines this kind at all (default: `level`).
    #[serde(default)]
    pub absent: Option<RuleLevel>,
    /// Values of the same row kept with the key: attribute name → field.
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Hierarchy {
    pub id: String,
    pub parent: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderUses {
    pub kind: String,
    #[serde(default)]
    pub level: Option<RuleLevel>,
    #[serde(default)]
    pub absent: Option<RuleLevel>,
}

fn error_level() -> RuleLevel {
    RuleLevel::Error
}

impl Rules {
    /// Checks that every name the rules use is a field of the schema (or a preamble
    /// field) and every vocabulary exists; prepares the vocabularies for lookup.
    pub fn prepare(&mut self, schema: &TableSchema) -> Result<(), String> {
        let known = |name: &str| schema.fields.iter().any(|f| f.name == name);
        let mut names: Vec<(&str, &str)> = Vec::new();
        for (name, rule) in &self.fields {
            names.push(("fields", name));
            if let Some(v) = &rule.vocabulary {
                if !self.vocabularies.contains_key(v) {
                    return Err(format!(
                        "fields.{name} names the vocabulary {v:?}, which is not defined"
                    ));
                }
            }
            if let Some(p) = &rule.prefix_field {
                names.push(("prefixField", p));
            }
        }
        for c in &self.conditions {
            names.push(("conditions.when", &c.when.field));
            names.extend(c.require.iter().map(|r| ("conditions.require", r.as_str())));
        }
        for k in self.defines.iter().chain(&self.uses) {
            names.push(("defines/uses", &k.field));
            names.extend(k.attrs.values().map(|a| ("attrs", a.as_str())));
        }
        if let Some(h) = &self.hierarchy {
            names.push(("hierarchy", &h.id));
            names.push(("hierarchy", &h.parent));
        }
        if let Some(p) = &self.preamble {
            names.extend(p.labels.values().map(|f| ("preamble", f.as_str())));
            names.extend(p.required.iter().map(|f| ("preamble.required", f.as_str())));
        }
        if let Some((what, name)) = names.into_iter().find(|(_, n)| !known(n)) {
            return Err(format!(
                "{what} names {name:?}, which is not a field of the schema"
            ));
        }
        self.prepared = self
            .vocabularies
            .iter()
            .map(|(name, v)| {
                let set = v.values.iter().map(|x| x.trim().to_lowercase()).collect();
                (name.clone(), set)
            })
            .collect();
        Ok(())
    }
}

/// The bare IGSN of a value written as `IEWER7214`, `IGSN:IEWER7214`,
/// `https://igsn.org/IEWER7214` or as SESAR's DOI `10.58052/IEWER7214`; `None` when it
/// is not an IGSN (ESS-DIVE: upper-case letters and digits, a user code first).
pub fn canonical_igsn(value: &str) -> Option<String> {
    let mut v = value.trim();
    for prefix in [
        "https://doi.org/10.58052/",
        "http://doi.org/10.58052/",
        "doi:10.58052/",
        "10.58052/",
        "https://igsn.org/",
        "http://igsn.org/",
        "igsn.org/",
        "igsn:",
    ] {
        if v.len() >= prefix.len() && v[..prefix.len()].eq_ignore_ascii_case(prefix) {
            v = v[prefix.len()..].trim_start();
            break;
        }
    }
    let b = v.as_bytes();
    let ok = (3..=20).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    ok.then(|| v.to_string())
}

/// Runs a standard's [`Rules`] over the rows the table checker hands it.
pub struct RulesChecker<'a> {
    standard: &'a str,
    rules: &'a Rules,
    preamble: HashMap<String, String>,
    /// Field name → column index.
    columns: HashMap<&'a str, usize>,
    missing: Vec<String>,
    defines: Vec<KeyCollector>,
    uses: Vec<KeyCollector>,
    parents: Vec<(String, String, u64)>,
    /// Columns whose cells must be counts (`otherColumnsCounts`).
    counts: Vec<bool>,
}

impl<'a> RulesChecker<'a> {
    pub fn new(standard: &'a str, rules: &'a Rules, schema: &TableSchema) -> Self {
        RulesChecker {
            standard,
            rules,
            preamble: HashMap::new(),
            columns: HashMap::new(),
            missing: schema.missing_values.clone(),
            defines: Vec::new(),
            uses: Vec::new(),
            parents: Vec::new(),
            counts: Vec::new(),
        }
    }

    /// Takes a row before the header when it holds the preamble's labels.
    pub fn preamble_row(&mut self, record: &ByteRecord) -> bool {
        let Some(p) = &self.rules.preamble else {
            return false;
        };
        let cells: Vec<String> = record
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_string())
            .collect();
        let mut taken = false;
        for (i, cell) in cells.iter().enumerate() {
            let label = cell.trim_end_matches(':').trim();
            let Some((_, field)) = p.labels.iter().find(|(l, _)| l.eq_ignore_ascii_case(label))
            else {
                continue;
            };
            taken = true;
            let value = cells.get(i + 1).cloned().unwrap_or_default();
            if !value.is_empty() && !self.missing.contains(&value) {
                self.preamble.insert(field.clone(), value);
            }
        }
        taken
    }

    /// The header is known: where each field is, and the preamble's values checked.
    pub fn header(&mut self, labels: &[String], fields: &[Option<&'a Field>], out: &mut Collector) {
        for (i, f) in fields.iter().enumerate() {
            if let Some(f) = f {
                self.columns.entry(f.name.as_str()).or_insert(i);
            }
        }
        let label_of = |field: &str| {
            self.columns
                .get(field)
                .and_then(|&i| labels.get(i).cloned())
                .unwrap_or_else(|| field.to_string())
        };
        let collector = |k: &KeyRule| {
            let mut c = KeyCollector::new(
                &k.kind,
                &label_of(&k.field),
                self.standard,
                level(k.level.unwrap_or(RuleLevel::Error)),
            );
            c.list.absent = k.absent.map(level);
            c
        };
        self.defines = self.rules.defines.iter().map(collector).collect();
        self.uses = self.rules.uses.iter().map(collector).collect();
        if let Some(h) = &self.rules.header_uses {
            let mut c = KeyCollector::new(
                &h.kind,
                "(column names)",
                self.standard,
                level(h.level.unwrap_or(RuleLevel::Error)),
            );
            c.list.absent = h.absent.map(level);
            for (i, f) in fields.iter().enumerate() {
                let label = labels[i].trim();
                if f.is_none() && !label.is_empty() {
                    c.add(label, 1, BTreeMap::new());
                }
            }
            self.uses.push(c);
        }
        self.counts = if self.rules.other_columns_counts {
            fields.iter().map(|f| f.is_none()).collect()
        } else {
            Vec::new()
        };
        if let Some(p) = &self.rules.preamble {
            for field in &p.required {
                if !self.columns.contains_key(field.as_str()) && !self.preamble.contains_key(field)
                {
                    let label = p
                        .labels
                        .iter()
                        .find(|(_, f)| *f == field)
                        .map_or(field.as_str(), |(l, _)| l.as_str());
                    out.push(
                        Issue::new(
                            "missing-column",
                            Severity::Error,
                            format!("{field} is required: give it after `{label}:` above the column names, or as a column"),
                        )
                        .column(field.clone()),
                    );
                }
            }
        }
        let given: Vec<(String, String)> = self
            .preamble
            .iter()
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect();
        for (field, value) in given {
            self.check_value(0, &field, &field, &value, out);
        }
    }

    fn cell(&self, record: &ByteRecord, field: &str) -> Option<String> {
        let value = match self.columns.get(field) {
            Some(&i) => String::from_utf8_lossy(record.get(i).unwrap_or_default())
                .trim()
                .to_string(),
            None => return self.preamble.get(field).cloned(),
        };
        if value.is_empty() || self.missing.contains(&value) {
            None
        } else {
            Some(value)
        }
    }

    /// One data row (`line` is its physical line).
    pub fn row(&mut self, line: u64, record: &ByteRecord, labels: &[String], out: &mut Collector) {
        let rules = self.rules;
        for field in rules.fields.keys() {
            if let (Some(&i), Some(value)) =
                (self.columns.get(field.as_str()), self.cell(record, field))
            {
                let label = labels.get(i).cloned().unwrap_or_else(|| field.clone());
                self.check_value(line, field, &label, &value, out);
            }
        }
        for c in &rules.conditions {
            let Some(value) = self.cell(record, &c.when.field) else {
                continue;
            };
            let holds =
                c.when.present || c.when.one_of.iter().any(|v| v.eq_ignore_ascii_case(&value));
            if !holds {
                continue;
            }
            for req in &c.require {
                if self.cell(record, req).is_none() {
                    out.push(
                        Issue::new(
                            "required-if",
                            level(c.level),
                            format!("{req} is required when {} is {value:?}", c.when.field),
                        )
                        .row(line)
                        .column(req.clone()),
                    );
                }
            }
        }
        for (i, k) in rules.defines.iter().enumerate() {
            self.collect(true, i, k, line, record);
        }
        for (i, k) in rules.uses.iter().enumerate() {
            self.collect(false, i, k, line, record);
        }
        for (i, _) in self.counts.iter().enumerate().filter(|(_, c)| **c) {
            let cell = String::from_utf8_lossy(record.get(i).unwrap_or_default())
                .trim()
                .to_string();
            if !self.missing.contains(&cell) && !cell.bytes().all(|b| b.is_ascii_digit())
                || cell.is_empty()
            {
                out.push(
                    Issue::new(
                        "type-error",
                        Severity::Error,
                        format!(
                            "{}: counts are whole numbers from 0 (raw, not normalised)",
                            labels.get(i).map_or("", String::as_str)
                        ),
                    )
                    .row(line)
                    .column(labels.get(i).cloned().unwrap_or_default())
                    .value(cell.as_bytes()),
                );
            }
        }
        if let Some(h) = &rules.hierarchy {
            if let (Some(id), Some(parent)) =
                (self.cell(record, &h.id), self.cell(record, &h.parent))
            {
                if self.parents.len() < MAX_KEYS_PER_LIST {
                    self.parents.push((id, parent, line));
                }
            }
        }
    }

    fn collect(&mut self, define: bool, i: usize, k: &KeyRule, line: u64, record: &ByteRecord) {
        let Some(value) = self.cell(record, &k.field) else {
            return;
        };
        let attrs: BTreeMap<String, String> = k
            .attrs
            .iter()
            .filter_map(|(name, field)| self.cell(record, field).map(|v| (name.clone(), v)))
            .collect();
        let list = if define {
            &mut self.defines[i]
        } else {
            &mut self.uses[i]
        };
        let parts: Vec<&str> = match &k.separator {
            Some(s) => value
                .split(s.as_str())
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect(),
            None => vec![value.as_str()],
        };
        for part in parts {
            if k.kind == "igsn" {
                // A malformed IGSN is reported by its field rule, not again here.
                if let Some(igsn) = canonical_igsn(part) {
                    list.add(&igsn, line, attrs.clone());
                }
            } else {
                list.add(part, line, attrs.clone());
            }
        }
    }

    fn check_value(&self, line: u64, field: &str, label: &str, value: &str, out: &mut Collector) {
        let Some(rule) = self.rules.fields.get(field) else {
            return;
        };
        let parts: Vec<&str> = match &rule.separator {
            Some(s) => value
                .split(s.as_str())
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect(),
            None => vec![value.trim()],
        };
        let at = |i: Issue| {
            let i = i.column(label.to_string());
            if line > 0 {
                i.row(line)
            } else {
                i
            }
        };
        for part in parts {
            if let Some(name) = &rule.vocabulary {
                let known = self
                    .rules
                    .prepared
                    .get(name)
                    .is_some_and(|s| s.contains(&part.to_lowercase()));
                if !known {
                    let v = &self.rules.vocabularies[name];
                    let sample: Vec<&str> = v.values.iter().take(8).map(String::as_str).collect();
                    out.push(at(Issue::new(
                        "not-in-vocabulary",
                        level(v.level),
                        format!(
                            "{field}: {part:?} is not a term of the {name} list{} (e.g. {}{})",
                            v.source
                                .as_deref()
                                .map(|s| format!(" ({s})"))
                                .unwrap_or_default(),
                            sample.join("; "),
                            if v.values.len() > 8 { "; …" } else { "" }
                        ),
                    )
                    .value(part.as_bytes())));
                }
            }
            if rule.igsn {
                match canonical_igsn(part) {
                    None => out.push(at(Issue::new(
                        "igsn-format",
                        Severity::Error,
                        format!("{field}: {part:?} is not an IGSN: use upper-case letters and digits beginning with your SESAR user code (e.g. IEWER7214)"),
                    )
                    .value(part.as_bytes()))),
                    Some(igsn) => {
                        let code = rule.prefix_field.as_ref().and_then(|p| self.preamble.get(p));
                        if let Some(code) = code.filter(|c| !igsn.starts_with(c.to_uppercase().as_str())) {
                            out.push(at(Issue::new(
                                "igsn-user-code",
                                Severity::Error,
                                format!("{field}: IGSN {igsn} does not begin with the user code {code}"),
                            )
                            .value(part.as_bytes())));
                        }
                    }
                }
            }
            if let Some(max) = rule.max_decimals {
                let decimals = part.split_once('.').map_or(0, |(_, d)| d.len());
                if decimals > max && part.parse::<f64>().is_ok() {
                    out.push(at(Issue::new(
                        "too-many-decimals",
                        Severity::Warning,
                        format!("{field}: give at most {max} decimal places"),
                    )
                    .value(part.as_bytes())));
                }
            }
        }
    }

    /// The hierarchy's checks (a sample that is its own parent, a loop of parents).
    pub fn finish(&mut self, out: &mut Collector) {
        let Some(h) = &self.rules.hierarchy else {
            return;
        };
        let parent_of: HashMap<String, (String, u64)> = self
            .parents
            .iter()
            .map(|(id, p, line)| (normal_id(id), (normal_id(p), *line)))
            .collect();
        let mut reported: HashSet<String> = HashSet::new();
        for (id, parent, line) in &self.parents {
            let start = normal_id(id);
            if normal_id(parent) == start {
                out.push(
                    Issue::new(
                        "parent-cycle",
                        Severity::Error,
                        format!("{} {id} names itself as its parent", h.parent),
                    )
                    .row(*line)
                    .column(h.parent.clone())
                    .value(parent.as_bytes()),
                );
                continue;
            }
            if reported.contains(&start) {
                continue;
            }
            let mut seen = HashSet::from([start.clone()]);
            let mut at = normal_id(parent);
            while let Some((next, _)) = parent_of.get(&at) {
                if !seen.insert(at.clone()) {
                    break;
                }
                if *next == start {
                    reported.extend(seen.iter().cloned());
                    out.push(
                        Issue::new(
                            "parent-cycle",
                            Severity::Error,
                            format!("{} of {id} leads back to {id}: samples cannot be their own ancestors", h.parent),
                        )
                        .row(*line)
                        .column(h.parent.clone())
                        .value(parent.as_bytes()),
                    );
                    break;
                }
                at = next.clone();
            }
        }
    }

    pub fn references(&mut self) -> References {
        References {
            defines: self
                .defines
                .drain(..)
                .map(|c| c.list)
                .filter(|l| !l.keys.is_empty())
                .collect(),
            uses: self
                .uses
                .drain(..)
                .map(|c| c.list)
                .filter(|l| !l.keys.is_empty())
                .collect(),
        }
    }
}

fn normal_id(id: &str) -> String {
    canonical_igsn(id).unwrap_or_else(|| id.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn igsns_are_recognised_in_their_written_forms() {
        assert_eq!(canonical_igsn("IEWER7214").as_deref(), Some("IEWER7214"));
        assert_eq!(
            canonical_igsn("IGSN: IEWER7214").as_deref(),
            Some("IEWER7214")
        );
        assert_eq!(
            canonical_igsn("https://igsn.org/IEMEG0215").as_deref(),
            Some("IEMEG0215")
        );
        assert_eq!(
            canonical_igsn("10.58052/IEWER7214").as_deref(),
            Some("IEWER7214")
        );
        assert_eq!(canonical_igsn("iewer7214"), None);
        assert_eq!(canonical_igsn("IEW-ER7214"), None);
        assert_eq!(canonical_igsn("7214IEWER"), None);
        assert_eq!(canonical_igsn("IE"), None);
    }
}
