//! The ESS-DIVE water-soil-sediment chemistry (WSSC) data file: column A is a control
//! column (`#Columns`, `#Header_Rows`, `Column_Name`, the names of the header rows,
//! `#Start_Data`, `N/A`…, `#End_Data`), the data matrix starts in column B. Header rows
//! give each variable's unit, methods, detection limit, precision and status; any of
//! them may instead be a column per variable (`MethodID_Analysis_<var>`: the format's
//! "row shift"). Methods, data flags and statuses are keys other files must define;
//! samples and materials are checked by the standard's `rules` on the data rows.

use csv::ByteRecord;
use serde::Deserialize;

use super::engine::Checker;
use super::findings::{Collector, Issue, Severity};
use super::references::{KeyCollector, References};
use super::rules::RulesChecker;
use super::spec::Standard;
use super::tableschema::Field;
use super::values;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WsscLayout {
    /// Header rows every variable needs (or a column per variable in their stead).
    pub required_header_rows: Vec<String>,
    /// Header rows whose values are method ids (`MethodID_*`).
    pub method_rows: Vec<String>,
    /// Header rows holding a number in the data's unit, or a method id.
    pub number_or_method_rows: Vec<String>,
    /// Header rows whose values are terms (`Data_Status`).
    pub term_rows: Vec<String>,
    /// The detection-limit row (its values bound the data: smaller values need a flag).
    pub detection_limit_row: String,
    /// Names of per-sample metadata columns, also written `<var>_<name>` or `<name>_<var>`.
    pub metadata_columns: Vec<String>,
    /// Cells written in place of a value below detection (`BDL`, `<0.1` is recognised too).
    pub below_detection_codes: Vec<String>,
    #[serde(skip)]
    normal_meta: Vec<String>,
}

impl WsscLayout {
    pub fn prepare(&mut self) -> Result<(), String> {
        if self.detection_limit_row.is_empty() {
            return Err("detectionLimitRow is empty".into());
        }
        let mut meta: Vec<String> = self.metadata_columns.iter().map(|m| squash(m)).collect();
        meta.extend(
            self.method_rows
                .iter()
                .chain(&self.number_or_method_rows)
                .chain(&self.term_rows)
                .map(|m| squash(m)),
        );
        self.normal_meta = meta;
        Ok(())
    }
}

/// A name without case and underscores: `Analysis_Detection_Limit` = `AnalysisDetectionLimit`.
fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != ' ')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `yyyy`, `yyyy-mm`, `yyyy-mm-dd`, then ` hh`, `:mm`, `:ss` (the hour may have one digit,
/// as the location format's own example writes it).
fn essdive_timestamp(value: &str) -> bool {
    let (date, time) = match value.split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (value, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    let date_ok = !parts.is_empty()
        && parts.len() <= 3
        && digits(parts[0], 4..=4)
        && parts[1..].iter().all(|p| digits(p, 2..=2))
        && (time.is_none() || parts.len() == 3);
    let time_ok = time.is_none_or(|t| {
        let t: Vec<&str> = t.split(':').collect();
        t.len() <= 3 && digits(t[0], 1..=2) && t[1..].iter().all(|p| digits(p, 2..=2))
    });
    date_ok && time_ok
}

#[derive(PartialEq)]
enum Phase {
    Columns,
    HeaderRows,
    Names,
    Header,
    Data,
    Ended,
}

/// What a column of the data matrix holds.
#[derive(Clone, PartialEq)]
enum Role {
    /// A schema field (Sample_Name, Material, IGSN).
    Field,
    Variable,
    /// Per-sample metadata; `Some(v)` when it belongs to variable column `v`.
    Meta {
        of: Option<usize>,
        kind: String,
    },
}

pub struct WsscChecker<'a> {
    standard: &'a Standard,
    layout: &'a WsscLayout,
    rules: Option<RulesChecker<'a>>,
    phase: Phase,
    declared_columns: Option<(u64, usize)>,
    declared_header_rows: Option<(u64, usize)>,
    labels: Vec<String>,
    roles: Vec<Role>,
    fields: Vec<Option<&'a Field>>,
    /// Header rows: (name, cells of the data matrix).
    header_rows: Vec<(u64, String, Vec<String>)>,
    start_line: u64,
    methods: KeyCollector,
    terms: KeyCollector,
    found_labels: Vec<String>,
    blank_after_end: Vec<u64>,
}

impl<'a> WsscChecker<'a> {
    pub fn new(standard: &'a Standard, layout: &'a WsscLayout) -> Self {
        let rules = standard
            .rules
            .as_ref()
            .map(|r| RulesChecker::new(&standard.name, r, &standard.schema));
        WsscChecker {
            standard,
            layout,
            rules,
            phase: Phase::Columns,
            declared_columns: None,
            declared_header_rows: None,
            labels: Vec::new(),
            roles: Vec::new(),
            fields: Vec::new(),
            header_rows: Vec::new(),
            start_line: 0,
            methods: KeyCollector::new("method", "MethodID", &standard.name, Severity::Error),
            terms: KeyCollector::new("term", "DataFlags", &standard.name, Severity::Error),
            found_labels: Vec::new(),
            blank_after_end: Vec::new(),
        }
    }

    fn is_missing(&self, cell: &str) -> bool {
        self.standard
            .schema
            .missing_values
            .iter()
            .any(|m| m == cell)
    }

    fn control(&self, line: u64, message: String, value: &str, out: &mut Collector) {
        out.push(
            Issue::new("wssc-layout", Severity::Error, message)
                .row(line)
                .column("A (control column)")
                .value(value.as_bytes()),
        );
    }

    fn count(line: u64, what: &str, cells: &[String]) -> Option<(u64, usize)> {
        let first = cells.first().map(|c| c.trim())?;
        (first.eq_ignore_ascii_case(what))
            .then(|| cells.get(1).and_then(|n| n.trim().parse::<usize>().ok()))
            .flatten()
            .map(|n| (line, n))
    }

    fn take(&mut self, line: u64, record: &ByteRecord, out: &mut Collector) {
        let cells: Vec<String> = record
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_string())
            .collect();
        let a = cells.first().cloned().unwrap_or_default();
        match self.phase {
            Phase::Columns => {
                self.declared_columns = Self::count(line, "#Columns", &cells);
                if self.declared_columns.is_none() {
                    self.control(line, "the first row must be `#Columns` and the number of data columns (column A, then B)".into(), &a, out);
                }
                self.phase = Phase::HeaderRows;
            }
            Phase::HeaderRows => {
                self.declared_header_rows = Self::count(line, "#Header_Rows", &cells);
                if self.declared_header_rows.is_none() {
                    self.control(
                        line,
                        "the second row must be `#Header_Rows` and the number of header rows"
                            .into(),
                        &a,
                        out,
                    );
                }
                self.phase = Phase::Names;
            }
            Phase::Names => {
                if !a.eq_ignore_ascii_case("Column_Name") {
                    self.control(
                        line,
                        "the third row must start with `Column_Name` and hold the column names"
                            .into(),
                        &a,
                        out,
                    );
                }
                self.set_labels(line, &cells[1.min(cells.len())..], out);
                self.phase = Phase::Header;
            }
            Phase::Header if a.eq_ignore_ascii_case("#Start_Data") => {
                self.end_header(line, out);
                self.phase = Phase::Data;
                self.data_row(line, &cells, out);
            }
            Phase::Header => {
                let row = self.matrix(&cells);
                self.header_rows.push((line, a, row));
            }
            Phase::Data if a.eq_ignore_ascii_case("#End_Data") => {
                self.phase = Phase::Ended;
                if cells[1..].iter().any(|c| !c.is_empty()) {
                    self.control(
                        line,
                        "keep the rest of the `#End_Data` row empty".into(),
                        &a,
                        out,
                    );
                }
            }
            Phase::Data => {
                if !a.eq_ignore_ascii_case("N/A") {
                    self.control(
                        line,
                        "column A of a data row must be `N/A` (`#End_Data` after the last)".into(),
                        &a,
                        out,
                    );
                }
                self.data_row(line, &cells, out);
            }
            Phase::Ended => {
                if cells.iter().all(|c| c.is_empty()) {
                    self.blank_after_end.push(line);
                } else {
                    out.push(
                        Issue::new("wssc-layout", Severity::Error, "content after `#End_Data`: data rows go before it, notes in the data dictionary")
                            .row(line)
                            .value(a.as_bytes()),
                    );
                }
            }
        }
    }

    /// The cells of the data matrix (columns B… as far as the names go).
    fn matrix(&self, cells: &[String]) -> Vec<String> {
        (0..self.labels.len())
            .map(|i| cells.get(i + 1).cloned().unwrap_or_default())
            .collect()
    }

    fn set_labels(&mut self, line: u64, names: &[String], out: &mut Collector) {
        let mut names: Vec<String> = names.to_vec();
        // Trailing unnamed columns (a spreadsheet's export) are dropped; a warning says so.
        while names.last().is_some_and(|n| n.is_empty()) {
            names.pop();
            out.push(
                Issue::new(
                    "blank-column",
                    Severity::Warning,
                    "a column with no name after the last named one; delete it",
                )
                .row(line)
                .column(format!("column {}", names.len() + 3)),
            );
        }
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                out.push(
                    Issue::new("blank-label", Severity::Error, "column has no name")
                        .row(line)
                        .column(format!("column {}", i + 2)),
                );
            }
        }
        if let Some((l, n)) = self.declared_columns {
            if n != names.len() {
                out.push(
                    Issue::new(
                        "wssc-count",
                        Severity::Error,
                        format!("#Columns says {n} but the data matrix has {} named columns; update the number", names.len()),
                    )
                    .row(l)
                    .column("B")
                    .value(n.to_string().as_bytes()),
                );
            }
        }
        self.fields = names
            .iter()
            .map(|n| {
                self.standard.schema.fields.iter().find(|f| {
                    f.name.eq_ignore_ascii_case(n)
                        || f.aliases.iter().any(|a| a.eq_ignore_ascii_case(n))
                })
            })
            .collect();
        for f in &self.standard.schema.fields {
            if f.constraints.required
                && !self
                    .fields
                    .iter()
                    .any(|x| x.is_some_and(|x| std::ptr::eq(x, f)))
            {
                out.push(
                    Issue::new(
                        "missing-column",
                        Severity::Error,
                        format!("required column {:?} is missing", f.name),
                    )
                    .column(f.name.clone()),
                );
            }
        }
        self.labels = names;
        self.roles = self.roles_of();
        if let Some(r) = self.rules.as_mut() {
            r.header(&self.labels, &self.fields, out);
        }
    }

    fn roles_of(&self) -> Vec<Role> {
        let squashed: Vec<String> = self.labels.iter().map(|l| squash(l)).collect();
        let meta_of = |s: &str| {
            self.layout.normal_meta.iter().find_map(|m| {
                if s == m {
                    Some((m.clone(), String::new()))
                } else if let Some(rest) = s.strip_prefix(m.as_str()) {
                    Some((m.clone(), rest.to_string()))
                } else {
                    s.strip_suffix(m.as_str())
                        .map(|rest| (m.clone(), rest.to_string()))
                }
            })
        };
        let mut roles: Vec<Role> = Vec::new();
        for (i, s) in squashed.iter().enumerate() {
            let role = if self.fields[i].is_some() {
                Role::Field
            } else if let Some((kind, _)) = meta_of(s) {
                Role::Meta { of: None, kind }
            } else {
                Role::Variable
            };
            roles.push(role);
        }
        for i in 0..roles.len() {
            if let Some((kind, rest)) = meta_of(&squashed[i]).filter(|(_, r)| !r.is_empty()) {
                let of =
                    (0..roles.len()).find(|&j| roles[j] == Role::Variable && squashed[j] == rest);
                roles[i] = Role::Meta { of, kind };
            }
        }
        roles
    }

    fn end_header(&mut self, line: u64, out: &mut Collector) {
        self.start_line = line;
        self.found_labels = self.labels.clone();
        self.found_labels
            .extend(self.header_rows.iter().map(|(_, n, _)| n.clone()));
        if let Some((l, n)) = self.declared_header_rows {
            let have = self.header_rows.len() + 1;
            if n != have {
                out.push(
                    Issue::new(
                        "wssc-count",
                        Severity::Error,
                        format!("#Header_Rows says {n} but there are {have} (Column_Name and the rows under it before #Start_Data); update the number"),
                    )
                    .row(l)
                    .column("B")
                    .value(n.to_string().as_bytes()),
                );
            }
        }
        let variables: Vec<usize> = (0..self.roles.len())
            .filter(|&i| self.roles[i] == Role::Variable)
            .collect();
        for required in &self.layout.required_header_rows {
            if self
                .header_rows
                .iter()
                .any(|(_, n, _)| squash(n) == squash(required))
            {
                continue;
            }
            for &v in &variables {
                let shifted = self.roles.iter().any(|r| matches!(r, Role::Meta { of: Some(o), kind } if *o == v && *kind == squash(required)));
                if !shifted {
                    out.push(
                        Issue::new(
                            "missing-header-row",
                            Severity::Error,
                            format!("{required} is required for {:?}: add a header row {required} (or a column {required}_{})", self.labels[v], self.labels[v]),
                        )
                        .column(self.labels[v].clone()),
                    );
                }
            }
        }
        let rows = std::mem::take(&mut self.header_rows);
        for (row, name, cells) in &rows {
            for &v in &variables {
                self.header_value(*row, name, &self.labels[v].clone(), &cells[v], out);
            }
        }
        self.header_rows = rows;
    }

    /// A variable's value in a header row (or in the column that replaces the row).
    fn header_value(
        &mut self,
        line: u64,
        row: &str,
        column: &str,
        value: &str,
        out: &mut Collector,
    ) {
        let s = squash(row);
        let is = |list: &[String]| list.iter().any(|r| squash(r) == s);
        if value.is_empty() {
            out.push(
                Issue::new(
                    "missing-value-code",
                    Severity::Error,
                    format!("{row} of {column} is empty: every cell needs a value, N/A or -9999"),
                )
                .row(line)
                .column(column.to_string()),
            );
            return;
        }
        if self.is_missing(value) {
            return;
        }
        if is(&self.layout.method_rows) {
            self.method(line, row, column, value, out);
        } else if is(&self.layout.number_or_method_rows) {
            if values::parse_number(value.as_bytes()).is_none() {
                self.method(line, row, column, value, out);
            }
        } else if is(&self.layout.term_rows) {
            self.terms.add(value, line, Default::default());
        }
    }

    fn method(&mut self, line: u64, row: &str, column: &str, value: &str, out: &mut Collector) {
        if value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.methods.add(value, line, Default::default());
        } else {
            out.push(
                Issue::new(
                    "method-id-format",
                    Severity::Error,
                    format!(
                        "{row} of {column}: a method id holds only letters, digits, `-` and `_`"
                    ),
                )
                .row(line)
                .column(column.to_string())
                .value(value.as_bytes()),
            );
        }
    }

    fn data_row(&mut self, line: u64, cells: &[String], out: &mut Collector) {
        let row = self.matrix(cells);
        if cells.len() > self.labels.len() + 1
            && cells[self.labels.len() + 1..].iter().any(|c| !c.is_empty())
        {
            out.push(
                Issue::new(
                    "extra-cell",
                    Severity::Error,
                    "a value right of the last named column",
                )
                .row(line),
            );
        }
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(f) = f.filter(|f| f.constraints.required) {
                if row[i].is_empty() || self.is_missing(&row[i]) {
                    out.push(
                        Issue::new(
                            "constraint-error",
                            Severity::Error,
                            format!("{} is required; this row has no value", f.name),
                        )
                        .row(line)
                        .column(self.labels[i].clone()),
                    );
                }
            }
        }
        if let Some(r) = self.rules.as_mut() {
            let mut record = ByteRecord::new();
            for c in &row {
                record.push_field(c.as_bytes());
            }
            r.row(line, &record, &self.labels, out);
        }
        for i in 0..row.len() {
            let value = row[i].as_str();
            let label = self.labels[i].clone();
            if value.is_empty() {
                out.push(
                    Issue::new(
                        "missing-value-code",
                        Severity::Error,
                        "empty cell: write -9999 for a missing number or N/A for missing text",
                    )
                    .row(line)
                    .column(label),
                );
                continue;
            }
            match self.roles[i].clone() {
                Role::Variable => self.variable_value(line, i, &row, out),
                Role::Meta { of, kind } => self.meta_value(line, of, &kind, &label, value, out),
                Role::Field => {}
            }
        }
    }

    fn variable_value(&mut self, line: u64, i: usize, row: &[String], out: &mut Collector) {
        let value = row[i].as_str();
        let label = &self.labels[i];
        if self.is_missing(value) {
            return;
        }
        let Some(number) = values::parse_number(value.as_bytes()) else {
            let below = value.starts_with('<')
                || self
                    .layout
                    .below_detection_codes
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(value));
            let (code, message) = if below {
                ("below-detection-code", format!("{label}: a value below detection is written as a number (or -9999) with a data flag defined in the terminology file, not {value:?}"))
            } else {
                (
                    "type-error",
                    format!("{label} must be a number (or -9999 when missing)"),
                )
            };
            out.push(
                Issue::new(code, Severity::Error, message)
                    .row(line)
                    .column(label.clone())
                    .value(value.as_bytes()),
            );
            return;
        };
        let limit_row = squash(&self.layout.detection_limit_row);
        let limit = self
            .header_rows
            .iter()
            .find(|(_, n, _)| squash(n) == limit_row)
            .map(|(_, _, cells)| cells[i].clone())
            .or_else(|| {
                (0..row.len())
                    .find(|&j| matches!(&self.roles[j], Role::Meta { of: Some(o), kind } if *o == i && *kind == limit_row))
                    .map(|j| row[j].clone())
            })
            .and_then(|l| values::parse_number(l.as_bytes()));
        let flagged = (0..row.len()).any(|j| {
            matches!(&self.roles[j], Role::Meta { of, kind } if (*of == Some(i) || of.is_none()) && kind == "dataflags")
                && !row[j].is_empty()
                && !self.is_missing(&row[j])
        });
        if let Some(limit) = limit.filter(|l| number < *l && *l > 0.0) {
            if !flagged {
                out.push(
                    Issue::new(
                        "below-detection-unflagged",
                        Severity::Warning,
                        format!("{label}: {value} is below the detection limit {limit}; flag it in a DataFlags column (e.g. BD, defined in the terminology file)"),
                    )
                    .row(line)
                    .column(label.clone())
                    .value(value.as_bytes()),
                );
            }
        }
    }

    fn meta_value(
        &mut self,
        line: u64,
        of: Option<usize>,
        kind: &str,
        label: &str,
        value: &str,
        out: &mut Collector,
    ) {
        if self.is_missing(value) {
            return;
        }
        match kind {
            "dataflags" => {
                for flag in value
                    .split(['|', ';', ','])
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                {
                    self.terms.add(flag, line, Default::default());
                }
            }
            "datetime" => {
                if !essdive_timestamp(value) {
                    out.push(
                        Issue::new(
                            "datetime-format",
                            Severity::Error,
                            format!("{label}: write yyyy-mm-dd hh:mm:ss (truncated as needed)"),
                        )
                        .row(line)
                        .column(label.to_string())
                        .value(value.as_bytes()),
                    );
                }
            }
            "notes" | "utcoffset" => {}
            _ => {
                let row = self
                    .layout
                    .method_rows
                    .iter()
                    .chain(&self.layout.number_or_method_rows)
                    .chain(&self.layout.term_rows)
                    .find(|r| squash(r) == kind)
                    .cloned()
                    .unwrap_or_default();
                let column = of.map_or(label.to_string(), |v| self.labels[v].clone());
                self.header_value(line, &row, &column, value, out);
            }
        }
    }

    /// A timestamp needs its UTC offset in the same row (WSSC data-file instructions).
    fn offsets(&self, line: u64, row: &[String], out: &mut Collector) {
        for (i, role) in self.roles.iter().enumerate() {
            let Role::Meta { of, kind } = role else {
                continue;
            };
            if kind != "datetime" || row[i].is_empty() || self.is_missing(&row[i]) {
                continue;
            }
            let has = self.roles.iter().enumerate().any(|(j, r)| {
                matches!(r, Role::Meta { of: o, kind } if o == of && kind == "utcoffset")
                    && !row[j].is_empty()
                    && !self.is_missing(&row[j])
            });
            if !has {
                out.push(
                    Issue::new(
                        "required-if",
                        Severity::Error,
                        format!(
                            "a UTC offset is required for {:?} (0 when the time is UTC)",
                            self.labels[i]
                        ),
                    )
                    .row(line)
                    .column(self.labels[i].clone()),
                );
            }
        }
    }
}

impl Checker for WsscChecker<'_> {
    fn header(&mut self, line: u64, labels: &ByteRecord, out: &mut Collector) {
        self.take(line, labels, out);
    }

    fn row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        let data = self.phase == Phase::Data;
        self.take(row, record, out);
        if data && self.phase == Phase::Data {
            let cells: Vec<String> = record
                .iter()
                .map(|c| String::from_utf8_lossy(c).trim().to_string())
                .collect();
            let row_cells = self.matrix(&cells);
            self.offsets(row, &row_cells, out);
        }
    }

    fn finish(&mut self, out: &mut Collector) {
        match self.phase {
            Phase::Data | Phase::Ended => {}
            _ => {
                self.control(0, "no `#Start_Data` row: the data start with a row whose column A is `#Start_Data`".into(), "", out);
                self.found_labels = self.labels.clone();
            }
        }
        if self.phase == Phase::Data {
            self.control(
                0,
                "no `#End_Data` row after the last data row".into(),
                "",
                out,
            );
        }
        for line in std::mem::take(&mut self.blank_after_end) {
            out.push(
                Issue::new(
                    "blank-row",
                    Severity::Warning,
                    "blank row at the end of the file; remove it",
                )
                .row(line),
            );
        }
        if let Some(r) = self.rules.as_mut() {
            r.finish(out);
        }
    }

    fn found_header(&self) -> Option<&[String]> {
        Some(&self.found_labels)
    }

    fn references(&mut self) -> References {
        let mut refs = self
            .rules
            .as_mut()
            .map(|r| r.references())
            .unwrap_or_default();
        for c in [&mut self.methods, &mut self.terms] {
            let list = std::mem::replace(c, KeyCollector::new("", "", "", Severity::Error)).list;
            if !list.keys.is_empty() {
                refs.uses.push(list);
            }
        }
        refs
    }
}
