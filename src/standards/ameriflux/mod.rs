//! AmeriFlux FP-In checks, after the AmeriFlux format QA/QC (`upload_checks.py`):
//! file name, header, timestamps, missing values, suspected gap-fill, all-missing
//! columns; and the physical range check of the data QA/QC. Every finding carries the
//! AmeriFlux level next to holdfast's severity.

use csv::ByteRecord;
use std::collections::BTreeMap;

use super::engine::Checker;
use super::findings::{AmfLevel, AmfPhase, Collector, Issue};
use super::spec::Ameriflux;

mod finish;
mod header;
mod names;
mod rows;
mod timestamps;

pub use names::{check_file_name, parse_var, FileNameParts, VarName};

const Q_FILENAME: &str = "Is Filename Format valid?";
const Q_READ: &str = "Any problems reading file?";
const Q_TS_HEADERS: &str = "Are Timestamp variables as expected?";
const Q_TS_PRESENT: &str = "Are Timestamp variables present?";
const Q_QUOTES: &str = "Are quotes found in all variable names?";
const Q_NAMES: &str = "Are Data Variable names in correct format?";
const Q_VALID: &str = "Are any standard AmeriFlux Data Variable names present?";
const Q_PRIMARY: &str = "Are primary flux Data Variables present?";
const Q_DUPLICATE: &str = "Any duplicate Variable names?";
const Q_ROOT: &str = "Check for duplicate root/qualifier headers";
const Q_TS_FORMAT: &str = "Are Timestamps in correct format?";
const Q_MATCH: &str = "Do filename time components match file time period?";
const Q_RESOLUTION: &str = "Is Timestamp resolution OK?";
const Q_TS_DUPLICATES: &str = "Any Timestamp duplicates?";
const Q_FUTURE: &str = "Are Timestamps filled into the future?";
const Q_INCOMPLETE: &str = "Incomplete Timestamp Checks";
const Q_MISSING: &str = "Any invalid Missing-Value Formats?";
const Q_GAPFILL: &str = "Any Variables suspected gap-fill?";
const Q_NONFILL: &str = "Are non-filled data present for primary flux, gap-filled Data Variables?";
const Q_ALL_MISSING_VAR: &str = "Any Variables with ALL Data Missing?";
const Q_ALL_MISSING: &str = "Is all Data Missing?";
const Q_RANGE: &str = "Physical range";

fn fmt(code: &'static str, level: AmfLevel, check: &'static str, msg: impl Into<String>) -> Issue {
    Issue::amf(code, level, check, AmfPhase::Format, msg)
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    hard_lo: f64,
    lo: f64,
    hi: f64,
    hard_hi: f64,
    soft_warning: bool,
}

#[derive(Debug, Default)]
struct YearCount {
    hard: u64,
    soft: u64,
    first: Option<(u64, f64)>,
}

struct Column {
    label: String,
    var: Option<VarName>,
    limits: Option<Limits>,
    missing: u64,
    values: u64,
    invalid_missing: u64,
    year: YearCount,
}

pub struct AmerifluxChecker<'a> {
    rules: &'a Ameriflux,
    name: FileNameParts,
    header_len: usize,
    columns: Vec<Column>,
    ts_start: Option<usize>,
    ts_end: Option<usize>,
    /// Sequence findings wait here: they only count when every timestamp parsed.
    sequence: Collector,
    format_failed: bool,
    read_failed: bool,
    prev: Option<(i64, i64)>,
    first_start: Option<Vec<u8>>,
    last_end: Vec<u8>,
    last_start: Vec<u8>,
    rows: u64,
    year: Option<u32>,
    rows_in_year: u64,
}

impl<'a> AmerifluxChecker<'a> {
    pub fn new(rules: &'a Ameriflux, file_name: &str, out: &mut Collector) -> Self {
        let name = check_file_name(rules, file_name, out);
        AmerifluxChecker {
            rules,
            name,
            header_len: 0,
            columns: Vec::new(),
            ts_start: None,
            ts_end: None,
            sequence: Collector::default(),
            format_failed: false,
            read_failed: false,
            prev: None,
            first_start: None,
            last_end: Vec::new(),
            last_start: Vec::new(),
            rows: 0,
            year: None,
            rows_in_year: 0,
        }
    }

    fn limits(&self, var: &VarName) -> Option<Limits> {
        let v = self.rules.variables.get(&var.base)?;
        if v.min.is_none() && v.max.is_none() {
            return None;
        }
        let r = &self.rules.range;
        let band = match (v.min, v.max) {
            (Some(lo), Some(hi)) => (hi - lo) * r.margin,
            _ => r.margin * 100.0,
        };
        Some(Limits {
            hard_lo: v.min.map_or(f64::NEG_INFINITY, |m| m - band),
            lo: v.min.unwrap_or(f64::NEG_INFINITY),
            hi: v.max.unwrap_or(f64::INFINITY),
            hard_hi: v.max.map_or(f64::INFINITY, |m| m + band),
            soft_warning: v.soft_flag_warning,
        })
    }

    /// Closes a calendar year of the physical range check for every column.
    fn flush_year(&mut self, out: &mut Collector) {
        let (Some(year), rows) = (self.year, self.rows_in_year) else {
            return;
        };
        let r = self.rules.range;
        for c in &mut self.columns {
            let counts = std::mem::take(&mut c.year);
            let Some(l) = c.limits else { continue };
            if rows == 0 || (counts.hard == 0 && counts.soft == 0) {
                continue;
            }
            let hard = counts.hard as f64 / rows as f64;
            let soft = counts.soft as f64 / rows as f64;
            let level = if hard > r.hard_share {
                AmfLevel::Error
            } else if soft > r.soft_share && l.soft_warning {
                AmfLevel::Warning
            } else {
                continue;
            };
            let (row, value) = counts.first.unwrap_or((0, f64::NAN));
            out.push(
                Issue::amf(
                    "out-of-range",
                    level,
                    Q_RANGE,
                    AmfPhase::Data,
                    format!(
                        "{year}: {} of {rows} values far outside [{}, {}] and {} just outside (hard {:.2}%, soft {:.2}%); first at this row",
                        counts.hard,
                        l.lo,
                        l.hi,
                        counts.soft,
                        hard * 100.0,
                        soft * 100.0
                    ),
                )
                .row(row)
                .column(c.label.clone())
                .value(value.to_string().as_bytes()),
            );
        }
        self.rows_in_year = 0;
    }
}

impl Checker for AmerifluxChecker<'_> {
    fn header(&mut self, _line: u64, labels: &ByteRecord, out: &mut Collector) {
        self.check_header(labels, out);
    }

    fn row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        self.check_row(row, record, out);
    }

    fn finish(&mut self, out: &mut Collector) {
        self.report(out);
    }
}

/// The AmeriFlux levels of a report's format findings, by check question (for tests and
/// summaries).
pub fn levels_by_check(issues: &[super::findings::Finding]) -> BTreeMap<String, AmfLevel> {
    let mut out = BTreeMap::new();
    for f in issues {
        if let Some(a) = &f.issue.ameriflux {
            let e = out.entry(a.check.to_string()).or_insert(a.level);
            *e = (*e).max(a.level);
        }
    }
    out
}
