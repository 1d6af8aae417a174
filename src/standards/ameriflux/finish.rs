use super::{
    fmt, AmerifluxChecker, Q_ALL_MISSING, Q_ALL_MISSING_VAR, Q_FUTURE, Q_GAPFILL, Q_INCOMPLETE,
    Q_MATCH, Q_READ, Q_RESOLUTION,
};
use crate::standards::findings::{AmfLevel, Collector};

impl AmerifluxChecker<'_> {
    pub(super) fn report(&mut self, out: &mut Collector) {
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
            self.report_timestamps(out);
        }
        if self.read_failed || self.rows == 0 {
            return;
        }
        self.report_columns(out);
    }

    /// The timestamp findings held back while reading, then the file's time span
    /// against its name and timestamps in the future.
    fn report_timestamps(&mut self, out: &mut Collector) {
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

    /// Columns without any missing value (suspected gap-fill) and columns, or a file,
    /// with nothing but missing values.
    fn report_columns(&self, out: &mut Collector) {
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
