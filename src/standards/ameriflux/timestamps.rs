use csv::ByteRecord;

use super::{fmt, AmerifluxChecker, Q_RESOLUTION, Q_TS_DUPLICATES, Q_TS_FORMAT};
use crate::standards::findings::{AmfLevel, Collector, Severity};
use crate::standards::values::{self, TimestampProblem};

impl AmerifluxChecker<'_> {
    pub(super) fn timestamps(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        let (Some(si), Some(ei)) = (self.ts_start, self.ts_end) else {
            return;
        };
        let start_cell = record.get(si).unwrap_or_default();
        let end_cell = record.get(ei).unwrap_or_default();
        let parsed = self.parse_timestamps(row, [(si, start_cell), (ei, end_cell)], out);
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
        self.check_steps(row, [start_cell, end_cell], parsed, res);
        self.prev = Some((start, end));
    }

    /// The start and end timestamps of a row, in minutes; a malformed one is reported
    /// and stops the timestamp checks of the file.
    fn parse_timestamps(
        &mut self,
        row: u64,
        cells: [(usize, &[u8]); 2],
        out: &mut Collector,
    ) -> [i64; 2] {
        let mut parsed = [0i64; 2];
        for (k, (col, cell)) in cells.into_iter().enumerate() {
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
        parsed
    }

    /// A row's step from its start to its end and from the previous row: duplicates,
    /// rows out of order, gaps and steps other than the file's resolution.
    fn check_steps(&mut self, row: u64, cells: [&[u8]; 2], times: [i64; 2], res: i64) {
        let [start, end] = times;
        let [start_cell, end_cell] = cells;
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
    }
}
