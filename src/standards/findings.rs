//! Findings, their levels, and the per-(check, file) cap.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A check code (`type-error`, `missing-column`, ...): usually a literal, but a code read
/// back from a stored report is owned.
pub type Code = Cow<'static, str>;

/// How many findings of one check are kept per file; the rest are only counted.
pub const CAP_PER_CHECK: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A file's overall holdfast status: the worst of its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Error,
}

impl Status {
    /// The status a count of errors and warnings gives.
    pub fn of(errors: u64, warnings: u64) -> Status {
        if errors > 0 {
            Status::Error
        } else if warnings > 0 {
            Status::Warning
        } else {
            Status::Ok
        }
    }
}

/// AmeriFlux's own levels, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AmfLevel {
    Ok,
    Warning,
    Error,
    Critical,
}

impl AmfLevel {
    /// DECISIONS.md "Levels": WARNING → warning; ERROR and CRITICAL → error.
    pub fn severity(self) -> Option<Severity> {
        match self {
            AmfLevel::Ok => None,
            AmfLevel::Warning => Some(Severity::Warning),
            AmfLevel::Error | AmfLevel::Critical => Some(Severity::Error),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AmfLevel::Ok => "OK",
            AmfLevel::Warning => "WARNING",
            AmfLevel::Error => "ERROR",
            AmfLevel::Critical => "CRITICAL",
        }
    }
}

/// Which AmeriFlux stage a check belongs to: the conformance suite covers the format
/// QA/QC; the physical range check is part of the later data QA/QC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmfPhase {
    Format,
    Data,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ameriflux {
    pub level: AmfLevel,
    /// The question the AmeriFlux report asks, e.g. "Is Filename Format valid?".
    pub check: Cow<'static, str>,
    pub phase: AmfPhase,
}

/// A finding as reports show it: where (file, standard) and what (the issue).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The file's path; "" for findings about the dataset as a whole.
    pub file: String,
    pub standard: String,
    #[serde(flatten)]
    pub issue: Issue,
}

/// A finding reads as the issue it holds (`finding.code`, `finding.row`).
impl std::ops::Deref for Finding {
    type Target = Issue;
    fn deref(&self) -> &Issue {
        &self.issue
    }
}

/// Something a checker found, before the file and standard are attached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Physical record number, the header being row 1 (as frictionless counts).
    pub row: Option<u64>,
    pub column: Option<String>,
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ameriflux: Option<Ameriflux>,
}

impl Issue {
    pub fn new(code: impl Into<Code>, severity: Severity, message: impl Into<String>) -> Issue {
        Issue {
            row: None,
            column: None,
            code: code.into(),
            severity,
            message: message.into(),
            value: None,
            ameriflux: None,
        }
    }

    /// An issue whose severity follows its AmeriFlux level.
    pub fn amf(
        code: &'static str,
        level: AmfLevel,
        check: &'static str,
        phase: AmfPhase,
        message: impl Into<String>,
    ) -> Issue {
        let mut i = Issue::new(code, level.severity().unwrap_or(Severity::Warning), message);
        i.ameriflux = Some(Ameriflux {
            level,
            check: Cow::Borrowed(check),
            phase,
        });
        i
    }

    pub fn row(mut self, row: u64) -> Issue {
        self.row = Some(row);
        self
    }

    pub fn column(mut self, column: impl Into<String>) -> Issue {
        self.column = Some(column.into());
        self
    }

    /// Attaches the file and standard, making the finding reports show.
    pub fn found_in(self, file: impl Into<String>, standard: impl Into<String>) -> Finding {
        Finding {
            file: file.into(),
            standard: standard.into(),
            issue: self,
        }
    }

    /// The offending value, shortened so one huge cell cannot bloat a report.
    pub fn value(mut self, value: &[u8]) -> Issue {
        let text = String::from_utf8_lossy(value);
        self.value = Some(if text.chars().count() > 200 {
            text.chars().take(200).collect::<String>() + "…"
        } else {
            text.into_owned()
        });
        self
    }
}

/// Collects a file's findings for one standard, keeping the first `CAP_PER_CHECK` of
/// each check and counting the rest, so a broken file of millions of rows stays readable.
#[derive(Debug, Default)]
pub struct Collector {
    pub issues: Vec<Issue>,
    kept: BTreeMap<Code, usize>,
    /// Findings beyond the cap, counted by code and severity.
    pub suppressed: BTreeMap<(Code, Severity), u64>,
    pub errors: u64,
    pub warnings: u64,
    /// The worst AmeriFlux level per phase, counting suppressed findings too.
    pub worst_format: Option<AmfLevel>,
    pub worst_data: Option<AmfLevel>,
}

impl Collector {
    pub fn push(&mut self, issue: Issue) {
        match issue.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        if let Some(a) = &issue.ameriflux {
            let worst = match a.phase {
                AmfPhase::Format => &mut self.worst_format,
                AmfPhase::Data => &mut self.worst_data,
            };
            *worst = (*worst).max(Some(a.level));
        }
        let kept = self.kept.entry(issue.code.clone()).or_insert(0);
        if *kept < CAP_PER_CHECK {
            *kept += 1;
            self.issues.push(issue);
        } else {
            *self
                .suppressed
                .entry((issue.code, issue.severity))
                .or_insert(0) += 1;
        }
    }

    /// Whether another finding of `code` would still be kept (lets hot loops skip
    /// building messages that would only be counted).
    pub fn has_room(&self, code: &str) -> bool {
        self.kept.get(code).is_none_or(|k| *k < CAP_PER_CHECK)
    }

    /// Counts a finding beyond the cap without building it.
    pub fn count_suppressed(&mut self, code: impl Into<Code>, severity: Severity) {
        self.add_suppressed(code.into(), severity, 1);
    }

    /// Counts `n` findings beyond the cap.
    pub fn add_suppressed(&mut self, code: Code, severity: Severity, n: u64) {
        match severity {
            Severity::Error => self.errors += n,
            Severity::Warning => self.warnings += n,
        }
        *self.suppressed.entry((code, severity)).or_insert(0) += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_first_hundred_and_counts_the_rest() {
        let mut c = Collector::default();
        for i in 0..250u64 {
            c.push(Issue::new("type-error", Severity::Error, "x").row(i));
        }
        c.push(Issue::new("blank-row", Severity::Warning, "y"));
        assert_eq!(c.issues.len(), CAP_PER_CHECK + 1);
        assert_eq!(
            c.suppressed
                .get(&(Cow::Borrowed("type-error"), Severity::Error)),
            Some(&150)
        );
        assert_eq!(c.errors, 250);
        assert_eq!(c.warnings, 1);
        assert_eq!(c.issues[99].row, Some(99));
        assert!(!c.has_room("type-error"));
        assert!(c.has_room("blank-row"));
    }

    #[test]
    fn levels_map_to_severities() {
        assert_eq!(AmfLevel::Ok.severity(), None);
        assert_eq!(AmfLevel::Warning.severity(), Some(Severity::Warning));
        assert_eq!(AmfLevel::Critical.severity(), Some(Severity::Error));
        let mut c = Collector::default();
        c.push(Issue::amf(
            "x",
            AmfLevel::Critical,
            "q",
            AmfPhase::Format,
            "m",
        ));
        c.push(Issue::amf("y", AmfLevel::Error, "q", AmfPhase::Data, "m"));
        assert_eq!(c.worst_format, Some(AmfLevel::Critical));
        assert_eq!(c.worst_data, Some(AmfLevel::Error));
    }
}
