//! Table Schema checks (labels, fields, types, constraints, primary, unique and foreign
//! keys), the ESS-DIVE CSV structure rules (file and column names, ragged and blank
//! rows, empty cells, mixed types) and a standard's layout (where the header is, rows
//! that describe the columns).

use csv::ByteRecord;
use std::collections::HashSet;
use std::sync::Arc;

use super::engine::Checker;
use super::findings::{Collector, Issue, Severity, CAP_PER_CHECK};
use super::spec::{RuleLevel, Standard};
use super::tableschema::{key_hash, Field, FieldsMatch, ForeignKey, KeySet, MAX_KEYS};
use super::values;

pub fn level(l: RuleLevel) -> Severity {
    match l {
        RuleLevel::Warning => Severity::Warning,
        RuleLevel::Error => Severity::Error,
    }
}

#[derive(Default)]
struct ColumnStats {
    numbers: u64,
    texts: u64,
}

/// A set of columns whose values must not repeat: the primary key, a `unique` field, a
/// `uniqueKeys` entry.
struct UniqueSet {
    columns: Vec<usize>,
    /// The primary key reports `primary-key`; the others `unique-error`.
    primary: bool,
    seen: HashSet<u64>,
    full: bool,
    label: String,
}

/// A foreign key being checked: the referring columns, and where the keys it must find
/// come from (this table, collected as it is read, or another resource's key set).
struct ForeignCheck<'a> {
    key: &'a ForeignKey,
    columns: Vec<usize>,
    target: Target,
    severity: Severity,
}

enum Target {
    /// Referenced columns of this table; values are resolved at the end, because a row
    /// may name a key defined further down.
    SameTable {
        columns: Vec<usize>,
        keys: HashSet<u64>,
        pending: Vec<(u64, u64, String)>,
        overflow: bool,
    },
    Other(Arc<KeySet>),
    /// The referenced resource could not be read; the data package checks say why.
    Unavailable,
}

enum Phase {
    /// Rows before the header: header search, `headerRows`, comment rows.
    BeforeHeader,
    /// Right under the header: rows describing columns may come here.
    Descriptors,
    Data,
}

pub struct TableChecker<'a> {
    standard: &'a Standard,
    phase: Phase,
    header_parts: Vec<String>,
    labels: Vec<String>,
    /// For each column, the schema field it holds.
    fields: Vec<Option<&'a Field>>,
    stats: Vec<ColumnStats>,
    unique: Vec<UniqueSet>,
    foreign: Vec<ForeignCheck<'a>>,
    descriptors_seen: Vec<bool>,
    blank_rows: Vec<u64>,
    blank_count: u64,
    saw_header: bool,
    rules: Option<super::rules::RulesChecker<'a>>,
    /// Columns up to the last named one (see `named_width`), set with the header.
    named: usize,
}

impl<'a> TableChecker<'a> {
    pub fn new(standard: &'a Standard, file_name: &str, out: &mut Collector) -> Self {
        if let Some(re) = standard
            .structure
            .as_ref()
            .and_then(|s| s.file_name.as_ref())
        {
            if !re.is_match(file_name) {
                out.push(
                    Issue::new(
                        "filename-format",
                        Severity::Warning,
                        "file name should use only letters, digits, `_` and `-`, not start with `_` or `-`, and end in .csv",
                    )
                    .value(file_name.as_bytes()),
                );
            }
        }
        TableChecker {
            standard,
            phase: Phase::BeforeHeader,
            header_parts: Vec::new(),
            labels: Vec::new(),
            fields: Vec::new(),
            stats: Vec::new(),
            unique: Vec::new(),
            foreign: Vec::new(),
            descriptors_seen: standard
                .layout
                .as_ref()
                .map_or(Vec::new(), |l| vec![false; l.descriptor_rows.len()]),
            blank_rows: Vec::new(),
            blank_count: 0,
            saw_header: false,
            named: 0,
            rules: standard
                .rules
                .as_ref()
                .map(|r| super::rules::RulesChecker::new(&standard.name, r, &standard.schema)),
        }
    }

    fn flush_blank(&mut self, severity: Severity, out: &mut Collector) {
        let message = match severity {
            Severity::Error => "blank row in the middle of the data; remove it",
            Severity::Warning => "blank row at the end of the file; remove it",
        };
        for &row in &self.blank_rows {
            out.push(Issue::new("blank-row", severity, message).row(row));
        }
        for _ in self.blank_rows.len() as u64..self.blank_count {
            out.count_suppressed("blank-row", severity);
        }
        self.blank_rows.clear();
        self.blank_count = 0;
    }

    fn note_blank(&mut self, row: u64, count: u64) {
        for r in row..row + count.min(CAP_PER_CHECK as u64) {
            if self.blank_rows.len() < CAP_PER_CHECK {
                self.blank_rows.push(r);
            }
        }
        self.blank_count += count;
    }

    fn is_missing(&self, column: usize, cell: &[u8]) -> bool {
        let schema = &self.standard.schema;
        schema
            .missing_for(self.fields.get(column).copied().flatten())
            .iter()
            .any(|m| m.as_bytes() == cell)
            || self
                .standard
                .dialect
                .null_sequence
                .as_ref()
                .is_some_and(|n| n.as_bytes() == cell)
    }

    fn cell<'r>(&self, record: &'r ByteRecord, column: usize) -> &'r [u8] {
        let cell = record.get(column).unwrap_or_default();
        if self.standard.dialect.skip_initial_space {
            cell.trim_ascii_start()
        } else {
            cell
        }
    }

    /// Whether a record names any field of the schema: the header search of a layout
    /// skips rows that name none (a template's instructions), not a header that lacks
    /// some column.
    fn names_a_field(&self, record: &ByteRecord) -> bool {
        record.iter().any(|l| {
            let l = String::from_utf8_lossy(l);
            self.standard
                .schema
                .fields
                .iter()
                .any(|f| label_names(&l, f))
        })
    }

    /// Whether a record right under the header is one of the layout's descriptor rows.
    fn descriptor_row(&mut self, record: &ByteRecord) -> bool {
        let Some(layout) = &self.standard.layout else {
            return false;
        };
        for (i, d) in layout.descriptor_rows.iter().enumerate() {
            if self.descriptors_seen[i] {
                continue;
            }
            // A row of free text (a template's `Contains` row) is known by its label cell.
            if d.values.is_empty() {
                let label = record
                    .get(0)
                    .map(|c| String::from_utf8_lossy(c).trim().to_string());
                if label.is_some_and(|l| l.eq_ignore_ascii_case(&d.name)) {
                    self.descriptors_seen[i] = true;
                    return true;
                }
                continue;
            }
            let mut any = false;
            let all = record.iter().all(|c| {
                let c = String::from_utf8_lossy(c);
                let c = c.trim();
                any |= !c.is_empty();
                c.is_empty()
                    || c.eq_ignore_ascii_case(&d.name)
                    || d.values.iter().any(|v| {
                        v.eq_ignore_ascii_case(c)
                            || (v.contains('*')
                                && super::spec::glob_match(v.as_bytes(), c.as_bytes()))
                    })
            });
            if any && all {
                self.descriptors_seen[i] = true;
                return true;
            }
        }
        false
    }

    /// Takes one record: before the header it may be skipped or be (part of) the header;
    /// after it, descriptor rows are skipped and the rest is data.
    fn take(&mut self, line: u64, record: &ByteRecord, out: &mut Collector) {
        let dialect = &self.standard.dialect;
        if dialect.comment_rows.contains(&line) {
            return;
        }
        match self.phase {
            Phase::BeforeHeader => {
                if dialect.header && self.rules.as_mut().is_some_and(|r| r.preamble_row(record)) {
                    return;
                }
                if !dialect.header {
                    let names = self
                        .standard
                        .schema
                        .fields
                        .iter()
                        .map(|f| f.name.clone())
                        .collect();
                    self.set_header(names, out);
                    self.data_row(line, record, out);
                    return;
                }
                if let Some(layout) = &self.standard.layout {
                    if line < layout.header_search_rows && !self.names_a_field(record) {
                        out.push(
                            Issue::new(
                                "leading-row",
                                level(layout.leading_rows),
                                "this row comes before the column names; delete it (a template's instructions do not belong in the file)",
                            )
                            .row(line)
                            .value(record.get(0).unwrap_or_default()),
                        );
                        return;
                    }
                    self.set_header(labels_of(record), out);
                    return;
                }
                let wanted = dialect.header_rows.as_deref().unwrap_or(&[1]);
                let last = wanted.iter().copied().max().unwrap_or(1);
                // The first record is the header wherever it is (leading blank lines are
                // skipped by the reader); explicit `headerRows` pick rows by number.
                let is_header_row = dialect.header_rows.is_none() || wanted.contains(&line);
                if is_header_row {
                    let join = dialect.header_join.as_deref().unwrap_or(" ");
                    for (i, label) in labels_of(record).into_iter().enumerate() {
                        match self.header_parts.get_mut(i) {
                            Some(part) if !label.is_empty() => {
                                if !part.is_empty() {
                                    part.push_str(join);
                                }
                                part.push_str(&label);
                            }
                            Some(_) => {}
                            None => self.header_parts.push(label),
                        }
                    }
                }
                if dialect.header_rows.is_none() || line >= last {
                    let labels = std::mem::take(&mut self.header_parts);
                    self.set_header(labels, out);
                }
            }
            Phase::Descriptors => {
                if self.descriptor_row(record) {
                    return;
                }
                self.phase = Phase::Data;
                self.data_row(line, record, out);
            }
            Phase::Data => self.data_row(line, record, out),
        }
    }

    fn set_header(&mut self, labels: Vec<String>, out: &mut Collector) {
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
    fn named_width(&self) -> usize {
        if self.standard.schema.fields_match.is_some() {
            return self.labels.len();
        }
        self.labels
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(0, |i| i + 1)
    }

    fn check_labels(&self, out: &mut Collector) {
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
    fn match_by_name(&mut self, out: &mut Collector) {
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
    fn match_frictionless(&mut self, mode: FieldsMatch, out: &mut Collector) {
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

    fn column_of(&self, field: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.is_some_and(|f| f.name == field))
    }

    fn columns_of(&self, names: &[String]) -> Option<Vec<usize>> {
        names.iter().map(|n| self.column_of(n)).collect()
    }

    fn prepare_keys(&mut self) {
        let schema = &self.standard.schema;
        let mut sets = Vec::new();
        if let Some(columns) = self
            .columns_of(&schema.primary_key)
            .filter(|c| !c.is_empty())
        {
            sets.push(UniqueSet::new(columns, true, schema.primary_key.join(", ")));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(f) = f.filter(|f| f.constraints.unique) {
                sets.push(UniqueSet::new(vec![i], false, f.name.clone()));
            }
        }
        for keys in &schema.unique_keys {
            if let Some(columns) = self.columns_of(keys) {
                sets.push(UniqueSet::new(columns, false, keys.join(", ")));
            }
        }
        self.unique = sets;
        let mut foreign = Vec::new();
        for (i, key) in schema.foreign_keys.iter().enumerate() {
            // Referring columns absent from the header: missing-label already says so.
            let Some(columns) = self.columns_of(&key.fields) else {
                continue;
            };
            let target = if key.is_self_reference() {
                match self.columns_of(&key.reference.fields) {
                    Some(columns) => Target::SameTable {
                        columns,
                        keys: HashSet::new(),
                        pending: Vec::new(),
                        overflow: false,
                    },
                    None => continue,
                }
            } else {
                match schema.referenced_keys.get(i).cloned().flatten() {
                    Some(set) => Target::Other(set),
                    None => Target::Unavailable,
                }
            };
            foreign.push(ForeignCheck {
                key,
                columns,
                target,
                severity: key.level.map_or(Severity::Error, level),
            });
        }
        self.foreign = foreign;
    }

    fn key_of(&self, record: &ByteRecord, columns: &[usize]) -> Option<u64> {
        key_hash(columns.iter().map(|&c| self.cell(record, c)), |i, cell| {
            self.is_missing(columns[i], cell)
        })
    }

    fn key_text(&self, record: &ByteRecord, columns: &[usize]) -> String {
        columns
            .iter()
            .map(|&c| String::from_utf8_lossy(self.cell(record, c)).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn check_keys(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        for u in 0..self.unique.len() {
            if self.unique[u].full {
                continue;
            }
            // Nulls are not compared (Table Schema uniqueKeys; a null primary key is a
            // constraint-error already).
            let Some(hash) = self.key_of(record, &self.unique[u].columns) else {
                continue;
            };
            let set = &mut self.unique[u];
            if !set.seen.insert(hash) {
                let (code, message) = if set.primary {
                    (
                        "primary-key",
                        format!("{} must be unique; this value appears earlier", set.label),
                    )
                } else {
                    (
                        "unique-error",
                        format!("{} must be unique; this value appears earlier", set.label),
                    )
                };
                let value = self.key_text(record, &self.unique[u].columns);
                if out.has_room(code) {
                    out.push(
                        Issue::new(code, Severity::Error, message)
                            .row(row)
                            .value(value.as_bytes()),
                    );
                } else {
                    out.count_suppressed(code, Severity::Error);
                }
            }
            let set = &mut self.unique[u];
            set.full = set.seen.len() >= MAX_KEYS;
        }
        for f in 0..self.foreign.len() {
            let referring = self.key_of(record, &self.foreign[f].columns);
            if let Target::SameTable { columns, .. } = &self.foreign[f].target {
                let defined = self.key_of(record, columns);
                if let (Some(h), Target::SameTable { keys, overflow, .. }) =
                    (defined, &mut self.foreign[f].target)
                {
                    if keys.len() < MAX_KEYS {
                        keys.insert(h);
                    } else {
                        *overflow = true;
                    }
                }
            }
            let Some(hash) = referring else { continue };
            match &self.foreign[f].target {
                Target::SameTable { keys, .. } if keys.contains(&hash) => {}
                Target::SameTable { .. } => {
                    // Resolved at the end: the key may be defined further down.
                    let value: String = self
                        .key_text(record, &self.foreign[f].columns)
                        .chars()
                        .take(200)
                        .collect();
                    if let Target::SameTable {
                        pending, overflow, ..
                    } = &mut self.foreign[f].target
                    {
                        if pending.len() < MAX_KEYS {
                            pending.push((hash, row, value));
                        } else {
                            *overflow = true;
                        }
                    }
                }
                Target::Other(set) => {
                    if set.complete && !set.hashes.contains(&hash) {
                        let value = self.key_text(record, &self.foreign[f].columns);
                        push_foreign(out, &self.foreign[f], row, &value);
                    }
                }
                Target::Unavailable => {}
            }
        }
    }

    fn data_row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        if record.iter().all(|c| c.trim_ascii().is_empty()) {
            self.note_blank(row, 1);
            return;
        }
        if self.blank_count > 0 {
            self.flush_blank(Severity::Error, out);
        }
        let width = self.labels.len();
        let named = self.named;
        if let Some(i) = (named..record.len().min(width))
            .find(|&i| !self.cell(record, i).trim_ascii().is_empty())
        {
            out.push(
                Issue::new(
                    "extra-cell",
                    Severity::Error,
                    "a value in a column with no name; name the column or delete the value",
                )
                .row(row)
                .column(format!("column {}", i + 1))
                .value(self.cell(record, i)),
            );
        }
        if record.len() > width {
            out.push(
                Issue::new(
                    "extra-cell",
                    Severity::Error,
                    format!("row has {} cells but the header has {width}", record.len()),
                )
                .row(row)
                .column(format!("column {}", width + 1))
                .value(record.get(width).unwrap_or_default()),
            );
        } else if record.len() < named {
            out.push(
                Issue::new(
                    "missing-cell",
                    Severity::Error,
                    format!("row has {} cells but the header has {width}", record.len()),
                )
                .row(row)
                .column(self.labels[record.len()].clone()),
            );
        }
        let structure = self.standard.structure.as_ref();
        let empty_rule = structure.and_then(|s| s.empty_cell);
        let track_types = structure.and_then(|s| s.mixed_types).is_some();
        for i in 0..record.len().min(width) {
            let cell = self.cell(record, i);
            if cell.is_empty() {
                if let Some(l) = empty_rule {
                    if out.has_room("missing-value-code") {
                        out.push(
                            Issue::new(
                                "missing-value-code",
                                level(l),
                                "empty cell: write -9999 for a missing number or N/A for missing text",
                            )
                            .row(row)
                            .column(self.labels[i].clone()),
                        );
                    } else {
                        out.count_suppressed("missing-value-code", level(l));
                    }
                }
                if self.fields[i].is_none() {
                    continue;
                }
            }
            if !track_types && self.fields[i].is_none() {
                continue;
            }
            let missing = self.is_missing(i, cell);
            if track_types && !missing && !cell.is_empty() {
                if values::parse_number(cell).is_some() {
                    self.stats[i].numbers += 1;
                } else {
                    self.stats[i].texts += 1;
                }
            }
            let Some(field) = self.fields[i] else {
                continue;
            };
            let problem = if missing {
                field.constraints.required.then(|| {
                    (
                        "constraint-error",
                        format!("{} is required; this row has no value", field.name),
                    )
                })
            } else {
                field.check_cell(cell)
            };
            if let Some((code, message)) = problem {
                if out.has_room(code) {
                    out.push(
                        Issue::new(code, Severity::Error, message)
                            .row(row)
                            .column(self.labels[i].clone())
                            .value(cell),
                    );
                } else {
                    out.count_suppressed(code, Severity::Error);
                }
            }
        }
        if !self.unique.is_empty() || !self.foreign.is_empty() {
            self.check_keys(row, record, out);
        }
        if let Some(r) = self.rules.as_mut() {
            r.row(row, record, &self.labels, out);
        }
    }
}

impl UniqueSet {
    fn new(columns: Vec<usize>, primary: bool, label: String) -> UniqueSet {
        UniqueSet {
            columns,
            primary,
            seen: HashSet::new(),
            full: false,
            label,
        }
    }
}

fn labels_of(record: &ByteRecord) -> Vec<String> {
    record
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// Whether a header label names a field, by its name or an alias, without case.
fn label_names(label: &str, field: &Field) -> bool {
    let label = label.trim();
    label.eq_ignore_ascii_case(&field.name)
        || field.aliases.iter().any(|a| label.eq_ignore_ascii_case(a))
}

fn push_foreign(out: &mut Collector, fk: &ForeignCheck, row: u64, value: &str) {
    if !out.has_room("foreign-key") {
        out.count_suppressed("foreign-key", fk.severity);
        return;
    }
    let target = match fk.key.reference.resource.as_deref() {
        Some(r) if !r.is_empty() => format!("resource {r:?}"),
        _ => "this table".to_string(),
    };
    out.push(
        Issue::new(
            "foreign-key",
            fk.severity,
            format!(
                "{} must name a row of {target} ({}); no such row",
                fk.key.fields.join(", "),
                fk.key.reference.fields.join(", ")
            ),
        )
        .row(row)
        .column(fk.key.fields.join(", "))
        .value(value.as_bytes()),
    );
}

impl Checker for TableChecker<'_> {
    fn found_header(&self) -> Option<&[String]> {
        let d = &self.standard.dialect;
        let elsewhere = self.standard.layout.is_some() || d.header_rows.is_some() || !d.header;
        (elsewhere && self.saw_header).then_some(self.labels.as_slice())
    }

    fn header(&mut self, line: u64, labels: &ByteRecord, out: &mut Collector) {
        self.take(line, labels, out);
    }

    fn blank_lines(&mut self, row: u64, count: u64, _out: &mut Collector) {
        if matches!(self.phase, Phase::BeforeHeader) {
            return;
        }
        self.note_blank(row, count);
    }

    fn row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        self.take(row, record, out);
    }

    fn references(&mut self) -> super::references::References {
        self.rules
            .as_mut()
            .map(|r| r.references())
            .unwrap_or_default()
    }

    fn finish(&mut self, out: &mut Collector) {
        if let Some(r) = self.rules.as_mut() {
            r.finish(out);
        }
        if !self.saw_header {
            out.push(Issue::new(
                "empty-file",
                Severity::Error,
                "the file is empty: it needs a header row and data",
            ));
            return;
        }
        if self.blank_count > 0 {
            self.flush_blank(Severity::Warning, out);
        }
        for fk in &self.foreign {
            match &fk.target {
                Target::SameTable {
                    keys,
                    pending,
                    overflow,
                    ..
                } => {
                    if *overflow {
                        out.push(Issue::new(
                            "foreign-key-unchecked",
                            Severity::Warning,
                            format!("foreign key {} not fully checked: more than {MAX_KEYS} keys", fk.key.fields.join(", ")),
                        ));
                    }
                    for (hash, row, value) in pending {
                        if !keys.contains(hash) {
                            push_foreign(out, fk, *row, value);
                        }
                    }
                }
                Target::Other(set) if !set.complete => out.push(Issue::new(
                    "foreign-key-unchecked",
                    Severity::Warning,
                    format!(
                        "foreign key {} not checked: the referenced table has more than {MAX_KEYS} keys",
                        fk.key.fields.join(", ")
                    ),
                )),
                _ => {}
            }
        }
        if let Some(l) = self.standard.structure.as_ref().and_then(|s| s.mixed_types) {
            for (i, s) in self.stats.iter().enumerate() {
                if s.numbers > 0 && s.texts > 0 {
                    out.push(
                        Issue::new(
                            "mixed-types",
                            level(l),
                            format!(
                                "column mixes numbers ({}) and text ({}); keep one kind per column",
                                s.numbers, s.texts
                            ),
                        )
                        .column(self.labels[i].clone()),
                    );
                }
            }
        }
    }
}
