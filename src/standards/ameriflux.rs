//! AmeriFlux FP-In checks, after the AmeriFlux format QA/QC (`upload_checks.py`):
//! file name, header, timestamps, missing values, suspected gap-fill, all-missing
//! columns; and the physical range check of the data QA/QC. Every finding carries the
//! AmeriFlux level next to holdfast's severity.

use csv::ByteRecord;
use std::collections::{BTreeMap, HashSet};

use super::engine::Checker;
use super::findings::{AmfLevel, AmfPhase, Collector, Issue, Severity};
use super::spec::Ameriflux;
use super::values::{self, TimestampProblem};

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

/// What the file name says, after the format QA/QC's `file_name_verifier`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileNameParts {
    pub resolution: Option<i64>,
    pub start: Option<String>,
    pub end: Option<String>,
}

/// Checks `<SITE>_<HH|HR>_<YYYYMMDDHHMM>_<YYYYMMDDHHMM>[_<optional>].csv`.
pub fn check_file_name(rules: &Ameriflux, name: &str, out: &mut Collector) -> FileNameParts {
    let mut parts = FileNameParts::default();
    let mut problem = |level: AmfLevel, what: String| {
        out.push(
            fmt(
                "filename-format",
                level,
                Q_FILENAME,
                format!("file name: {what}"),
            )
            .value(name.as_bytes()),
        );
    };
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    if !ext.eq_ignore_ascii_case("csv") {
        problem(AmfLevel::Error, "extension must be .csv".into());
    }
    // The upload system appends `-<YYYYMMDDHHMM>`; it is not part of the name proper.
    let stem = match stem.rsplit_once('-') {
        Some((head, tail)) if tail.len() == 12 && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => stem,
    };
    if stem.ends_with('_') {
        problem(AmfLevel::Error, "ends with `_`".into());
    }
    let fields: Vec<&str> = stem.split('_').collect();
    if !(4..=5).contains(&fields.len()) {
        problem(
            AmfLevel::Warning,
            format!(
                "{} `_`-separated components instead of 4 (or 5 with an optional part); site, resolution and times cannot be read",
                fields.len()
            ),
        );
        return parts;
    }
    if fields.len() == 5 {
        problem(
            AmfLevel::Warning,
            format!(
                "optional component {:?} included (AmeriFlux removes it)",
                fields[4]
            ),
        );
    }
    let site = fields[0];
    if !rules.site_ids.iter().any(|s| s == site) {
        if rules.site_id_pattern.is_match(site) {
            // DECISIONS.md 9: a well-formed id not on the list passes with a warning.
            problem(
                AmfLevel::Warning,
                format!("site id {site:?} is not on the known-site list"),
            );
        } else {
            problem(
                AmfLevel::Error,
                format!("SITE_ID {site:?} is not a valid AmeriFlux site id"),
            );
        }
    }
    match rules.resolutions.get(fields[1]) {
        Some(minutes) => parts.resolution = Some(*minutes),
        None => problem(
            AmfLevel::Error,
            format!(
                "resolution {:?} is not one of {}",
                fields[1],
                rules
                    .resolutions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
    for (label, text) in [("ts-start", fields[2]), ("ts-end", fields[3])] {
        if text.len() != 12 {
            problem(
                AmfLevel::Warning,
                format!("{label} {text:?} is not 12 characters (YYYYMMDDHHMM)"),
            );
        } else if values::amf_timestamp(text.as_bytes()).is_err() {
            problem(
                AmfLevel::Error,
                format!("{label} {text:?} is not a valid date and time"),
            );
        }
    }
    parts.start = Some(fields[2].to_string());
    parts.end = Some(fields[3].to_string());
    parts
}

/// A variable name split after the FP-Standard: base name and whether `_F` is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarName {
    pub base: String,
    pub gap_filled: bool,
    /// The name without the `_F` qualifier (the non-filled counterpart).
    pub unfilled: String,
}

/// Parses a label against the accepted patterns (`VAR`, `VAR_F`, `VAR[_F]_H_V_R`,
/// `VAR[_F]_H_V_A[_SD|_N]`, `VAR[_F]_L[_SD|_N]`); `None` when it is not FP-Standard.
pub fn parse_var(label: &str, rules: &Ameriflux) -> Option<VarName> {
    let tokens: Vec<&str> = label.split('_').collect();
    // Longest known base first: `FETCH_70_1_1_1` is FETCH_70, not FETCH.
    for cut in (1..=tokens.len()).rev() {
        let base = tokens[..cut].join("_");
        if base == rules.timestamp_start || base == rules.timestamp_end {
            continue;
        }
        if !rules.variables.contains_key(&base) {
            continue;
        }
        let mut rest = &tokens[cut..];
        let gap_filled = rest.first() == Some(&"F");
        if gap_filled {
            rest = &rest[1..];
        }
        let num = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let ok = match rest {
            [] => true,
            [h, v, r] => num(h) && num(v) && (num(r) || *r == "A"),
            [h, v, "A", "SD" | "N"] => num(h) && num(v),
            [l] => num(l),
            [l, "SD" | "N"] => num(l),
            _ => false,
        };
        if ok {
            let unfilled = if gap_filled {
                std::iter::once(base.as_str())
                    .chain(rest.iter().copied())
                    .collect::<Vec<_>>()
                    .join("_")
            } else {
                label.to_string()
            };
            return Some(VarName {
                base,
                gap_filled,
                unfilled,
            });
        }
    }
    None
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

    fn timestamps(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        let (Some(si), Some(ei)) = (self.ts_start, self.ts_end) else {
            return;
        };
        let start_cell = record.get(si).unwrap_or_default();
        let end_cell = record.get(ei).unwrap_or_default();
        let mut parsed = [0i64; 2];
        for (k, (col, cell)) in [(si, start_cell), (ei, end_cell)].into_iter().enumerate() {
            match values::amf_timestamp(cell) {
                Ok(t) => parsed[k] = t,
                Err(p) => {
                    self.format_failed = true;
                    let (level, why) = match p {
                        TimestampProblem::Format => {
                            (AmfLevel::Error, "is not YYYYMMDDHHMM (12 digits)")
                        }
                        TimestampProblem::Invalid => {
                            (AmfLevel::Critical, "is not a valid date and time")
                        }
                    };
                    if out.has_room("timestamp-format") {
                        out.push(
                            fmt(
                                "timestamp-format",
                                level,
                                Q_TS_FORMAT,
                                format!("timestamp {why}"),
                            )
                            .row(row)
                            .column(self.columns[col].label.clone())
                            .value(cell),
                        );
                    } else {
                        out.count_suppressed("timestamp-format", Severity::Error);
                        // A suppressed CRITICAL still has to reach the file's status.
                        out.worst_format = out.worst_format.max(Some(level));
                    }
                }
            }
        }
        if self.format_failed {
            return;
        }
        if self.first_start.is_none() {
            self.first_start = Some(start_cell.to_vec());
        }
        self.last_end.clear();
        self.last_end.extend_from_slice(end_cell);
        self.last_start.clear();
        self.last_start.extend_from_slice(start_cell);
        let year = start_cell
            .get(..4)
            .map(|y| y.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')));
        if year != self.year {
            self.flush_year(out);
            self.year = year;
        }
        self.rows_in_year += 1;
        let Some(res) = self.name.resolution else {
            return;
        };
        let [start, end] = parsed;
        let seq = &mut self.sequence;
        let mut push = |code: &'static str, column: &str, msg: String, value: &[u8]| {
            if seq.has_room(code) {
                seq.push(
                    fmt(
                        code,
                        AmfLevel::Error,
                        if code == "timestamp-duplicate" {
                            Q_TS_DUPLICATES
                        } else {
                            Q_RESOLUTION
                        },
                        msg,
                    )
                    .row(row)
                    .column(column.to_string())
                    .value(value),
                );
            } else {
                seq.count_suppressed(code, Severity::Error);
                seq.worst_format = seq.worst_format.max(Some(AmfLevel::Error));
            }
        };
        if end - start != res {
            push(
                "timestamp-step",
                &self.rules.timestamp_end,
                format!(
                    "TIMESTAMP_END − TIMESTAMP_START is {} min, expected {res}",
                    end - start
                ),
                end_cell,
            );
        }
        if let Some((prev_start, prev_end)) = self.prev {
            for (name, now, before, cell) in [
                (&self.rules.timestamp_start, start, prev_start, start_cell),
                (&self.rules.timestamp_end, end, prev_end, end_cell),
            ] {
                let step = now - before;
                if step == res {
                    continue;
                }
                let (code, msg) = if step == 0 {
                    (
                        "timestamp-duplicate",
                        "same timestamp as the previous row".to_string(),
                    )
                } else if step < 0 {
                    (
                        "timestamp-order",
                        format!("timestamp goes back {} min", -step),
                    )
                } else if step % res == 0 {
                    (
                        "timestamp-gap",
                        format!("{} missing timestamp(s) before this row", step / res - 1),
                    )
                } else {
                    (
                        "timestamp-step",
                        format!("step of {step} min from the previous row, expected {res}"),
                    )
                };
                push(code, name, msg, cell);
            }
        }
        self.prev = Some((start, end));
    }
}

impl Checker for AmerifluxChecker<'_> {
    fn header(&mut self, _line: u64, labels: &ByteRecord, out: &mut Collector) {
        let raw: Vec<String> = labels
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        self.header_len = raw.len();
        if raw.len() == 1 {
            self.read_failed = true;
            out.push(
                fmt(
                    "read-error",
                    AmfLevel::Critical,
                    Q_READ,
                    "the header has a single column: the file is not comma-delimited",
                )
                .row(1)
                .value(raw[0].as_bytes()),
            );
        }
        let quoted = |l: &str| l.len() >= 2 && l.starts_with('"') && l.ends_with('"');
        let all_quoted = raw.iter().all(|l| quoted(l));
        if all_quoted {
            out.push(
                fmt(
                    "header-quotes",
                    AmfLevel::Error,
                    Q_QUOTES,
                    "every variable name is in quotes; quotes are not allowed",
                )
                .row(1),
            );
        }
        // With every name quoted the quotes are one problem, reported above; the names
        // themselves are then judged without them.
        let names: Vec<String> = if all_quoted {
            raw.iter().map(|l| l[1..l.len() - 1].to_string()).collect()
        } else {
            raw
        };
        let rules = self.rules;
        let (start, end) = (&rules.timestamp_start, &rules.timestamp_end);
        self.ts_start = names.iter().position(|n| n == start);
        self.ts_end = names.iter().position(|n| n == end);
        if names.first() != Some(start) || names.get(1) != Some(end) {
            out.push(
                fmt(
                    "timestamp-columns",
                    AmfLevel::Error,
                    Q_TS_HEADERS,
                    format!("columns 1 and 2 must be {start} and {end}"),
                )
                .row(1)
                .value(
                    names
                        .iter()
                        .take(2)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                        .as_bytes(),
                ),
            );
        }
        for (name, at) in [(start, self.ts_start), (end, self.ts_end)] {
            if at.is_none() {
                out.push(
                    fmt(
                        "missing-column",
                        AmfLevel::Critical,
                        Q_TS_PRESENT,
                        format!("{name} is missing"),
                    )
                    .column(name.clone()),
                );
            }
        }
        let mut seen = HashSet::new();
        let mut any_valid = false;
        let mut any_primary = false;
        for (i, n) in names.iter().enumerate() {
            let var = if i == self.ts_start.unwrap_or(usize::MAX)
                || i == self.ts_end.unwrap_or(usize::MAX)
            {
                None
            } else {
                let var = parse_var(n, self.rules);
                match &var {
                    Some(v) => {
                        any_valid = true;
                        any_primary |= self.rules.primary_fluxes.contains(&v.base);
                    }
                    None => out.push(
                        fmt(
                            "variable-name",
                            AmfLevel::Warning,
                            Q_NAMES,
                            "not an FP-Standard variable name (upper case base name, then _F, then position qualifiers)",
                        )
                        .row(1)
                        .column(n.clone()),
                    ),
                }
                var
            };
            if !seen.insert(n.as_str()) {
                out.push(
                    fmt(
                        "duplicate-label",
                        AmfLevel::Error,
                        Q_DUPLICATE,
                        format!("{n} appears more than once"),
                    )
                    .row(1)
                    .column(format!("{n} (column {})", i + 1)),
                );
            }
            let limits = var.as_ref().and_then(|v| self.limits(v));
            self.columns.push(Column {
                label: n.clone(),
                var,
                limits,
                missing: 0,
                values: 0,
                invalid_missing: 0,
                year: YearCount::default(),
            });
        }
        if !any_valid {
            out.push(fmt(
                "no-standard-variables",
                AmfLevel::Error,
                Q_VALID,
                "no data variable has an FP-Standard name",
            ));
        }
        if !any_primary {
            out.push(fmt(
                "primary-flux-missing",
                AmfLevel::Warning,
                Q_PRIMARY,
                format!(
                    "none of the primary fluxes ({}) is present",
                    self.rules.primary_fluxes.join(", ")
                ),
            ));
        }
        for c in &self.columns {
            if let Some(v) = &c.var {
                if c.label == v.base && seen.contains(format!("{}_1_1_1", v.base).as_str()) {
                    out.push(
                        fmt(
                            "duplicate-variable",
                            AmfLevel::Warning,
                            Q_ROOT,
                            format!(
                                "both {0} and {0}_1_1_1 are present; they mean the same position",
                                v.base
                            ),
                        )
                        .column(c.label.clone()),
                    );
                }
                if v.gap_filled
                    && self.rules.primary_fluxes.contains(&v.base)
                    && !seen.contains(v.unfilled.as_str())
                {
                    out.push(
                        fmt(
                            "gap-filled-only",
                            AmfLevel::Error,
                            Q_NONFILL,
                            format!(
                                "{} is gap-filled but the non-filled {} is not submitted",
                                c.label, v.unfilled
                            ),
                        )
                        .column(c.label.clone()),
                    );
                }
            }
        }
    }

    fn row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        self.rows += 1;
        if record.len() != self.header_len && !self.read_failed {
            let code = if record.len() > self.header_len {
                "extra-cell"
            } else {
                "missing-cell"
            };
            if out.has_room(code) {
                out.push(
                    fmt(
                        code,
                        AmfLevel::Critical,
                        Q_READ,
                        format!(
                            "row has {} values but the header names {}",
                            record.len(),
                            self.header_len
                        ),
                    )
                    .row(row),
                );
            } else {
                out.count_suppressed(code, Severity::Error);
            }
        }
        self.timestamps(row, record, out);
        let missing = self.rules.missing_value.as_bytes();
        for (i, cell) in record.iter().enumerate() {
            if Some(i) == self.ts_start || Some(i) == self.ts_end {
                continue;
            }
            let Some(c) = self.columns.get_mut(i) else {
                break;
            };
            if cell == missing {
                c.missing += 1;
                continue;
            }
            let number = values::parse_number(cell);
            // Only strings that are not numbers, or numbers shaped like -999/-6999, can
            // be invalid missing codes: a cheap test first keeps the common path short.
            let invalid = match number {
                Some(v) => v <= -666.0 && values::is_invalid_missing(cell),
                None => values::is_invalid_missing(cell),
            };
            if invalid {
                c.invalid_missing += 1;
                if out.has_room("missing-value-code") {
                    out.push(
                        fmt(
                            "missing-value-code",
                            AmfLevel::Error,
                            Q_MISSING,
                            format!(
                                "missing values must be written exactly as {}",
                                self.rules.missing_value
                            ),
                        )
                        .row(row)
                        .column(c.label.clone())
                        .value(cell),
                    );
                } else {
                    out.count_suppressed("missing-value-code", Severity::Error);
                }
                continue;
            }
            let Some(v) = number else {
                if out.has_room("type-error") {
                    out.push(
                        fmt("type-error", AmfLevel::Error, Q_READ, "not a number")
                            .row(row)
                            .column(c.label.clone())
                            .value(cell),
                    );
                } else {
                    out.count_suppressed("type-error", Severity::Error);
                }
                continue;
            };
            c.values += 1;
            if let Some(l) = c.limits {
                if v < l.lo || v > l.hi {
                    if v < l.hard_lo || v > l.hard_hi {
                        c.year.hard += 1;
                    } else {
                        c.year.soft += 1;
                    }
                    c.year.first.get_or_insert((row, v));
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Collector) {
        if self.header_len == 0 {
            out.push(fmt(
                "read-error",
                AmfLevel::Critical,
                Q_READ,
                "the file is empty",
            ));
            return;
        }
        self.flush_year(out);
        let timestamps_present = self.ts_start.is_some() && self.ts_end.is_some();
        if !timestamps_present || self.format_failed {
            out.push(fmt(
                "timestamp-checks-incomplete",
                AmfLevel::Critical,
                Q_INCOMPLETE,
                "timestamp checks could not run: filename/time match, resolution and duplicates are not verified",
            ));
        } else if self.rows > 0 {
            if self.name.resolution.is_none() {
                out.push(fmt(
                    "timestamp-checks-incomplete",
                    AmfLevel::Critical,
                    Q_RESOLUTION,
                    "the file name gives no valid resolution (HH or HR): timestamp resolution cannot be verified",
                ));
            }
            let sequence = std::mem::take(&mut self.sequence);
            out.worst_format = out.worst_format.max(sequence.worst_format);
            for issue in sequence.issues {
                out.push(issue);
            }
            for ((code, severity), n) in sequence.suppressed {
                out.add_suppressed(code, severity, n);
            }
            let first = self.first_start.take().unwrap_or_default();
            for (label, from_name, in_data) in [
                (
                    &self.rules.timestamp_start,
                    &self.name.start,
                    first.as_slice(),
                ),
                (
                    &self.rules.timestamp_end,
                    &self.name.end,
                    self.last_end.as_slice(),
                ),
            ] {
                if from_name.as_deref().map(str::as_bytes) != Some(in_data) {
                    out.push(
                        fmt(
                            "filename-time-mismatch",
                            AmfLevel::Error,
                            Q_MATCH,
                            format!(
                                "{label} {} does not match the file name's time {}",
                                String::from_utf8_lossy(in_data),
                                from_name.as_deref().unwrap_or("(none)")
                            ),
                        )
                        .column(label.clone())
                        .value(in_data),
                    );
                }
            }
            let now = chrono::Utc::now().format("%Y%m%d%H%M").to_string();
            if self.last_start.as_slice() > now.as_bytes() {
                out.push(
                    fmt(
                        "timestamp-future",
                        AmfLevel::Critical,
                        Q_FUTURE,
                        "the last timestamp is in the future; forward-filled timestamps are not accepted",
                    )
                    .column(self.rules.timestamp_start.clone())
                    .value(&self.last_start),
                );
            }
        }
        if self.read_failed || self.rows == 0 {
            return;
        }
        let mut data_columns = 0;
        let mut all_missing_columns = 0;
        for (i, c) in self.columns.iter().enumerate() {
            if Some(i) == self.ts_start || Some(i) == self.ts_end {
                continue;
            }
            data_columns += 1;
            if c.missing == 0 && !c.var.as_ref().is_some_and(|v| v.gap_filled) {
                out.push(
                    fmt(
                        "suspected-gap-fill",
                        AmfLevel::Warning,
                        Q_GAPFILL,
                        "no missing values at all: if gap-filled, name it with the _F qualifier and also submit the non-filled data",
                    )
                    .column(c.label.clone()),
                );
            }
            if c.values == 0 && c.invalid_missing == 0 && c.missing > 0 {
                all_missing_columns += 1;
                out.push(
                    fmt(
                        "all-missing",
                        AmfLevel::Warning,
                        Q_ALL_MISSING_VAR,
                        "every value is missing (-9999)",
                    )
                    .column(c.label.clone()),
                );
            }
        }
        if data_columns > 0 && all_missing_columns == data_columns {
            out.push(fmt(
                "all-missing",
                AmfLevel::Warning,
                Q_ALL_MISSING,
                "every data variable has only missing values; earlier uploads of this period would be overwritten",
            ));
        }
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
