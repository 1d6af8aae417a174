use super::{ColumnStats, Phase, TableChecker};
use crate::standards::findings::{Collector, Issue, Severity};
use crate::standards::tableschema::{Field, FieldsMatch};
use csv::ByteRecord;
use std::collections::HashSet;

impl TableChecker<'_> {
    pub(super) fn set_header(&mut self, labels: Vec<String>, out: &mut Collector) {
        self.saw_header = true;
        self.phase = if self.descriptors_seen.is_empty() {
            Phase::Data
        } else {
            Phase::Descriptors
        };
        self.labels = labels;
        self.named = self.named_width();
        self.check_labels(out);
        self.fields = vec![None; self.labels.len()];
        self.stats = (0..self.labels.len())
            .map(|_| ColumnStats::default())
            .collect();
        match self.standard.schema.fields_match {
            None => self.match_by_name(out),
            Some(mode) => self.match_frictionless(mode, out),
        }
        self.prepare_keys();
        if let Some(r) = self.rules.as_mut() {
            r.header(&self.labels, &self.fields, out);
        }
    }

    /// Columns up to the last named one; all of them under Frictionless's rules.
    pub(super) fn named_width(&self) -> usize {
        if self.standard.schema.fields_match.is_some() {
            return self.labels.len();
        }
        self.labels
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(0, |i| i + 1)
    }

    pub(super) fn check_labels(&self, out: &mut Collector) {
        let column_re = self
            .standard
            .structure
            .as_ref()
            .and_then(|s| s.column_name.as_ref());
        if !self.labels.is_empty() && self.labels.iter().all(|l| l.trim().is_empty()) {
            out.push(Issue::new(
                "blank-header",
                Severity::Error,
                "the header row is empty: the first row must name the columns",
            ));
            return;
        }
        let mut seen = HashSet::new();
        let named = self.named;
        if named < self.labels.len() {
            // holdfast's own standards: unnamed columns after the last named one are a
            // spreadsheet's export, a warning (a value in one is an error, row by row).
            out.push(
                Issue::new(
                    "blank-column",
                    Severity::Warning,
                    format!(
                        "{} unnamed column(s) after the last named one; delete them",
                        self.labels.len() - named
                    ),
                )
                .column(format!("column {}", named + 1)),
            );
        }
        for (i, label) in self.labels.iter().enumerate().take(named) {
            let column = format!("{} (column {})", label, i + 1);
            if label.trim().is_empty() {
                out.push(
                    Issue::new("blank-label", Severity::Error, "column has no name").column(column),
                );
                continue;
            }
            if !seen.insert(label.as_str()) {
                out.push(
                    Issue::new(
                        "duplicate-label",
                        Severity::Error,
                        format!("column name {label:?} appears more than once"),
                    )
                    .column(column.clone()),
                );
            }
            if column_re.is_some_and(|re| !re.is_match(label)) {
                out.push(
                    Issue::new(
                        "label-format",
                        Severity::Warning,
                        "column names should use only letters, digits, `_` and `-`, and not start with `_` or `-`",
                    )
                    .column(column),
                );
            }
        }
    }

    /// holdfast's rule for its own standards: columns found by name without case, older
    /// names (aliases) accepted with one warning, other columns allowed.
    pub(super) fn match_by_name(&mut self, out: &mut Collector) {
        let mut legacy = Vec::new();
        for field in &self.standard.schema.fields {
            let by_name = self
                .labels
                .iter()
                .position(|l| l.trim().eq_ignore_ascii_case(&field.name));
            let at = by_name.or_else(|| {
                let i = self.labels.iter().position(|l| label_names(l, field));
                if let Some(i) = i {
                    legacy.push(format!("{} → {}", self.labels[i], field.name));
                }
                i
            });
            match at {
                Some(i) => self.fields[i] = Some(field),
                None if field.constraints.required || field.recommended => {
                    let (severity, what) = if field.constraints.required {
                        (Severity::Error, "required")
                    } else {
                        (Severity::Warning, "recommended")
                    };
                    out.push(
                        Issue::new(
                            "missing-column",
                            severity,
                            format!("{what} column {:?} is missing", field.name),
                        )
                        .column(field.name.clone()),
                    )
                }
                None => {}
            }
        }
        if !legacy.is_empty() {
            // DECISIONS.md 4: older names are accepted, with one warning per file.
            out.push(Issue::new(
                "legacy-names",
                Severity::Warning,
                format!(
                    "older column names used; current names: {}",
                    legacy.join(", ")
                ),
            ));
        }
    }

    /// Table Schema's `fieldsMatch` (v2; `exact` is the default and v1's only rule).
    pub(super) fn match_frictionless(&mut self, mode: FieldsMatch, out: &mut Collector) {
        let fields = &self.standard.schema.fields;
        let extra = |out: &mut Collector, i: usize, label: &str| {
            out.push(
                Issue::new(
                    "extra-label",
                    Severity::Error,
                    format!("column {} ({label:?}) is not a field of the schema", i + 1),
                )
                .column(format!("{label} (column {})", i + 1)),
            );
        };
        let missing = |out: &mut Collector, f: &Field| {
            out.push(
                Issue::new(
                    "missing-label",
                    Severity::Error,
                    format!(
                        "the schema's field {:?} has no column in the header",
                        f.name
                    ),
                )
                .column(f.name.clone()),
            );
        };
        if mode == FieldsMatch::Exact {
            for (i, label) in self.labels.iter().enumerate() {
                match fields.get(i) {
                    Some(f) => {
                        if *label != f.name {
                            out.push(
                                Issue::new(
                                    "incorrect-label",
                                    Severity::Error,
                                    format!("column {} is labelled {label:?} but the schema's field there is {:?}", i + 1, f.name),
                                )
                                .column(format!("{label} (column {})", i + 1)),
                            );
                        }
                        self.fields[i] = Some(f);
                    }
                    None => extra(out, i, label),
                }
            }
            for f in fields.iter().skip(self.labels.len()) {
                missing(out, f);
            }
            return;
        }
        let mut matched = 0;
        for f in fields {
            match self.labels.iter().position(|l| *l == f.name) {
                Some(i) => {
                    self.fields[i] = Some(f);
                    matched += 1;
                }
                None if matches!(mode, FieldsMatch::Equal | FieldsMatch::Subset) => missing(out, f),
                None => {}
            }
        }
        if matches!(mode, FieldsMatch::Equal | FieldsMatch::Superset) {
            for (i, label) in self.labels.iter().enumerate() {
                if self.fields[i].is_none() {
                    extra(out, i, label);
                }
            }
        }
        if mode == FieldsMatch::Partial && matched == 0 {
            out.push(Issue::new(
                "missing-label",
                Severity::Error,
                "no column of the header is a field of the schema (fieldsMatch: partial needs one)",
            ));
        }
    }

    pub(super) fn column_of(&self, field: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.is_some_and(|f| f.name == field))
    }

    pub(super) fn columns_of(&self, names: &[String]) -> Option<Vec<usize>> {
        names.iter().map(|n| self.column_of(n)).collect()
    }
}

pub(super) fn labels_of(record: &ByteRecord) -> Vec<String> {
    record
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// Whether a header label names a field, by its name or an alias, without case.
pub(super) fn label_names(label: &str, field: &Field) -> bool {
    let label = label.trim();
    label.eq_ignore_ascii_case(&field.name)
        || field.aliases.iter().any(|a| label.eq_ignore_ascii_case(a))
}
