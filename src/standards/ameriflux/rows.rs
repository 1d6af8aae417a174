use csv::ByteRecord;

use super::{fmt, AmerifluxChecker, Q_MISSING, Q_READ};
use crate::standards::findings::{AmfLevel, Collector, Severity};
use crate::standards::values::{self};

impl AmerifluxChecker<'_> {
    pub(super) fn check_row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        self.rows += 1;
        self.check_row_width(row, record, out);
        self.timestamps(row, record, out);
        self.check_values(row, record, out);
    }

    /// A row with more or fewer values than the header names.
    fn check_row_width(&self, row: u64, record: &ByteRecord, out: &mut Collector) {
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
    }

    /// Each data value: missing, an invalid missing-value code, not a number, or a
    /// number counted against the variable's physical range.
    fn check_values(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
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
}
