//! Table Schema checks (fields, types, constraints, primary key) and the ESS-DIVE CSV
//! structure rules (file and column names, ragged and blank rows, empty cells, mixed
//! types).

use csv::ByteRecord;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use super::engine::Checker;
use super::findings::{Collector, Issue, Severity};
use super::spec::{Field, FieldType, RuleLevel, Standard};
use super::values;

/// Primary-key values remembered (as 64-bit hashes) before the check gives up, so memory
/// stays bounded on huge files: 1M keys ≈ 16 MB.
const MAX_KEYS: usize = 1_000_000;

fn level(l: RuleLevel) -> Severity {
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

pub struct TableChecker<'a> {
    standard: &'a Standard,
    labels: Vec<String>,
    /// For each column, the schema field it holds.
    fields: Vec<Option<&'a Field>>,
    stats: Vec<ColumnStats>,
    key_columns: Vec<usize>,
    keys: HashSet<u64>,
    keys_full: bool,
    blank_rows: Vec<u64>,
    blank_count: u64,
    saw_header: bool,
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
            labels: Vec::new(),
            fields: Vec::new(),
            stats: Vec::new(),
            key_columns: Vec::new(),
            keys: HashSet::new(),
            keys_full: false,
            blank_rows: Vec::new(),
            blank_count: 0,
            saw_header: false,
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
        for r in row..row + count.min(crate::standards::findings::CAP_PER_CHECK as u64) {
            if self.blank_rows.len() < crate::standards::findings::CAP_PER_CHECK {
                self.blank_rows.push(r);
            }
        }
        self.blank_count += count;
    }

    fn check_cell(&self, field: &Field, cell: &[u8]) -> Option<(&'static str, String)> {
        let c = &field.constraints;
        let missing = self
            .standard
            .schema
            .missing_values
            .iter()
            .any(|m| m.as_bytes() == cell);
        if missing {
            return c.required.then(|| {
                (
                    "constraint-error",
                    format!("{} is required; this row has no value", field.name),
                )
            });
        }
        let number = match field.kind {
            FieldType::String | FieldType::Any => None,
            FieldType::Number => match values::parse_number(cell) {
                Some(v) => Some(v),
                None => return Some(("type-error", format!("{} must be a number", field.name))),
            },
            FieldType::Integer => match values::parse_integer(cell) {
                Some(v) => Some(v as f64),
                None => {
                    return Some((
                        "type-error",
                        format!("{} must be a whole number", field.name),
                    ))
                }
            },
            FieldType::Year => match values::parse_integer(cell).filter(|_| cell.len() == 4) {
                Some(v) => Some(v as f64),
                None => {
                    return Some((
                        "type-error",
                        format!("{} must be a year (YYYY)", field.name),
                    ))
                }
            },
            FieldType::Boolean => {
                return values::parse_boolean(cell).is_none().then(|| {
                    (
                        "type-error",
                        format!("{} must be true or false", field.name),
                    )
                })
            }
            FieldType::Date => {
                return (!values::is_iso_date(cell)).then(|| {
                    (
                        "type-error",
                        format!("{} must be an ISO 8601 date (YYYY-MM-DD)", field.name),
                    )
                })
            }
            FieldType::Datetime => {
                return (!values::is_iso_datetime(cell)).then(|| {
                    (
                        "type-error",
                        format!(
                            "{} must be an ISO 8601 date-time (YYYY-MM-DD hh:mm:ss)",
                            field.name
                        ),
                    )
                })
            }
        };
        if let Some(v) = number {
            if c.minimum.is_some_and(|m| v < m) || c.maximum.is_some_and(|m| v > m) {
                return Some((
                    "constraint-error",
                    format!(
                        "{} must lie within [{}, {}]",
                        field.name,
                        c.minimum.map_or("-∞".into(), |m| m.to_string()),
                        c.maximum.map_or("∞".into(), |m| m.to_string())
                    ),
                ));
            }
        }
        let chars = || String::from_utf8_lossy(cell).chars().count();
        if c.min_length.is_some_and(|m| chars() < m) || c.max_length.is_some_and(|m| chars() > m) {
            return Some((
                "constraint-error",
                format!(
                    "{} must have between {} and {} characters",
                    field.name,
                    c.min_length.unwrap_or(0),
                    c.max_length
                        .map_or("any number of".into(), |m| m.to_string())
                ),
            ));
        }
        if let Some(allowed) = &c.one_of {
            if !allowed.iter().any(|a| a.as_bytes() == cell) {
                return Some((
                    "constraint-error",
                    format!("{} must be one of: {}", field.name, allowed.join(", ")),
                ));
            }
        }
        None
    }
}

impl Checker for TableChecker<'_> {
    fn header(&mut self, labels: &ByteRecord, out: &mut Collector) {
        self.saw_header = true;
        let standard = self.standard;
        self.labels = labels
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        let column_re = self
            .standard
            .structure
            .as_ref()
            .and_then(|s| s.column_name.as_ref());
        let mut seen = HashSet::new();
        for (i, label) in self.labels.iter().enumerate() {
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
        self.fields = vec![None; self.labels.len()];
        self.stats = (0..self.labels.len())
            .map(|_| ColumnStats::default())
            .collect();
        let mut legacy = Vec::new();
        for field in &standard.schema.fields {
            let by_name = self
                .labels
                .iter()
                .position(|l| l.eq_ignore_ascii_case(&field.name));
            let by_alias = || {
                self.labels
                    .iter()
                    .position(|l| field.aliases.iter().any(|a| l.eq_ignore_ascii_case(a)))
            };
            let at = match by_name {
                Some(i) => Some(i),
                None => {
                    let i = by_alias();
                    if let Some(i) = i {
                        legacy.push(format!("{} → {}", self.labels[i], field.name));
                    }
                    i
                }
            };
            match at {
                Some(i) => self.fields[i] = Some(field),
                None if field.constraints.required => out.push(
                    Issue::new(
                        "missing-column",
                        Severity::Error,
                        format!("required column {:?} is missing", field.name),
                    )
                    .column(field.name.clone()),
                ),
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
        for key in &self.standard.schema.primary_key {
            if let Some(i) = self
                .fields
                .iter()
                .position(|f| f.is_some_and(|f| &f.name == key))
            {
                self.key_columns.push(i);
            }
        }
    }

    fn blank_lines(&mut self, row: u64, count: u64, _out: &mut Collector) {
        self.note_blank(row, count);
    }

    fn row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        if record.iter().all(|c| c.trim_ascii().is_empty()) {
            self.note_blank(row, 1);
            return;
        }
        if self.blank_count > 0 {
            self.flush_blank(Severity::Error, out);
        }
        let width = self.labels.len();
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
        } else if record.len() < width {
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
        for (i, cell) in record.iter().enumerate().take(width) {
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
            if track_types
                && !self
                    .standard
                    .schema
                    .missing_values
                    .iter()
                    .any(|m| m.as_bytes() == cell)
                && !cell.is_empty()
            {
                if values::parse_number(cell).is_some() {
                    self.stats[i].numbers += 1;
                } else {
                    self.stats[i].texts += 1;
                }
            }
            if let Some(field) = self.fields[i] {
                if let Some((code, message)) = self.check_cell(field, cell) {
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
        if !self.key_columns.is_empty() && !self.keys_full {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            for &i in &self.key_columns {
                record.get(i).unwrap_or_default().hash(&mut h);
            }
            if !self.keys.insert(h.finish()) {
                let key = self
                    .key_columns
                    .iter()
                    .map(|&i| {
                        String::from_utf8_lossy(record.get(i).unwrap_or_default()).into_owned()
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push(
                    Issue::new(
                        "primary-key",
                        Severity::Error,
                        format!(
                            "{} must be unique; this value appears earlier",
                            self.standard.schema.primary_key.join(", ")
                        ),
                    )
                    .row(row)
                    .value(key.as_bytes()),
                );
            }
            self.keys_full = self.keys.len() >= MAX_KEYS;
        }
    }

    fn finish(&mut self, out: &mut Collector) {
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
