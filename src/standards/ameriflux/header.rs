use csv::ByteRecord;
use std::collections::HashSet;

use super::{
    fmt, parse_var, AmerifluxChecker, Column, YearCount, Q_DUPLICATE, Q_NAMES, Q_NONFILL,
    Q_PRIMARY, Q_QUOTES, Q_READ, Q_ROOT, Q_TS_HEADERS, Q_TS_PRESENT, Q_VALID,
};
use crate::standards::findings::{AmfLevel, Collector};

impl AmerifluxChecker<'_> {
    pub(super) fn check_header(&mut self, labels: &ByteRecord, out: &mut Collector) {
        let names = self.header_names(labels, out);
        self.find_timestamps(&names, out);
        let seen = self.add_columns(&names, out);
        self.check_related_columns(&seen, out);
    }

    /// The variable names of the header; a single column (not comma-delimited) and
    /// names all in quotes are reported.
    fn header_names(&mut self, labels: &ByteRecord, out: &mut Collector) -> Vec<String> {
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
        if all_quoted {
            raw.iter().map(|l| l[1..l.len() - 1].to_string()).collect()
        } else {
            raw
        }
    }

    /// Where the timestamp columns are; they must be the first two.
    fn find_timestamps(&mut self, names: &[String], out: &mut Collector) {
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
    }

    /// One column per name, its variable parsed and its range limits found; names not
    /// in the FP-Standard, duplicates and a header without (primary) variables are
    /// reported. Returns the names seen.
    fn add_columns<'n>(&mut self, names: &'n [String], out: &mut Collector) -> HashSet<&'n str> {
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
        seen
    }

    /// Columns that mean the same position twice, and gap-filled primary fluxes whose
    /// non-filled counterpart is missing.
    fn check_related_columns(&self, seen: &HashSet<&str>, out: &mut Collector) {
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
}
