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
use super::tableschema::{Field, ForeignKey, KeySet, MAX_KEYS};
use super::values;

mod header;
mod keys;

use header::{label_names, labels_of};
use keys::push_foreign;

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

    fn data_row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        if record.iter().all(|c| c.trim_ascii().is_empty()) {
            self.note_blank(row, 1);
            return;
        }
        if self.blank_count > 0 {
            self.flush_blank(Severity::Error, out);
        }
        self.check_width(row, record, out);
        self.check_cells(row, record, out);
        if !self.unique.is_empty() || !self.foreign.is_empty() {
            self.check_keys(row, record, out);
        }
        if let Some(r) = self.rules.as_mut() {
            r.row(row, record, &self.labels, out);
        }
    }

    /// Values in columns without a name, and rows longer or shorter than the header.
    fn check_width(&self, row: u64, record: &ByteRecord, out: &mut Collector) {
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
    }

    /// Each cell: empty cells (when the structure rules ask for missing-value codes),
    /// the mix of numbers and text per column, and the field's type and constraints.
    fn check_cells(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        let width = self.labels.len();
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
    }
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
