//! Data standards validation: standards are data files (`schemas/*.json`, see `spec`),
//! checked by a streaming engine (`engine`) that reads each file once, row by row.
//! Findings have stable codes and severities; AmeriFlux findings carry AmeriFlux's
//! level too (`findings`).

pub mod ameriflux;
pub mod engine;
pub mod findings;
pub mod spec;
pub mod table;
pub mod values;

use serde::Serialize;
use std::path::{Path, PathBuf};

pub use engine::{validate_file, FileReport, ValidateError};
pub use findings::{AmfLevel, Finding, Severity, Status};
pub use spec::{Registry, Standard, StandardsError};

/// Why a validation run could not run at all (as opposed to finding problems).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Standards(#[from] StandardsError),
    #[error(transparent)]
    Validate(#[from] ValidateError),
    #[error("cannot read {path}: {source}")]
    Path {
        path: String,
        source: std::io::Error,
    },
}

/// The report of one run over many files: a stable JSON document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Bumped when the document's shape changes incompatibly.
    pub report_version: u32,
    pub status: Status,
    pub summary: Summary,
    pub files: Vec<FileReport>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files: usize,
    pub errors: u64,
    pub warnings: u64,
    pub bytes: u64,
}

/// Lists the files under `paths` (folders recursively, sorted) with the standards that
/// apply: the `chosen` ones when given, else every standard whose pattern matches.
/// A file named explicitly gets the chosen standards whatever its name; a file found
/// in a folder is checked only when some standard's pattern matches it.
pub fn plan<'r>(
    registry: &'r Registry,
    chosen: &[String],
    paths: &[PathBuf],
) -> Result<Vec<(PathBuf, Vec<&'r Standard>)>, RunError> {
    let candidates: Vec<&Standard> = if chosen.is_empty() {
        registry.standards.iter().collect()
    } else {
        chosen
            .iter()
            .map(|n| registry.get(n))
            .collect::<Result<_, _>>()?
    };
    let matching = |p: &Path| -> Vec<&'r Standard> {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        candidates
            .iter()
            .copied()
            .filter(|s| s.applies_to(&name))
            .collect()
    };
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| RunError::Path {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            files.sort();
            for f in files {
                let standards = matching(&f);
                if !standards.is_empty() {
                    out.push((f, standards));
                }
            }
        } else if chosen.is_empty() {
            out.push((path.clone(), matching(path)));
        } else {
            out.push((path.clone(), candidates.clone()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RunError> {
    let err = |source| RunError::Path {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let kind = entry.file_type().map_err(err)?;
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Validates every planned file; `progress` is told each file's size once it is done.
pub fn run(
    planned: &[(PathBuf, Vec<&Standard>)],
    mut progress: impl FnMut(&Path, u64),
) -> Result<Report, RunError> {
    let mut files = Vec::new();
    let mut summary = Summary::default();
    for (path, standards) in planned {
        let report = validate_file(path, &path.display().to_string(), standards)?;
        summary.files += 1;
        summary.errors += report.errors;
        summary.warnings += report.warnings;
        summary.bytes += report.bytes;
        progress(path, report.bytes);
        files.push(report);
    }
    let status = files.iter().map(|f| f.status).max().unwrap_or(Status::Ok);
    Ok(Report {
        report_version: 1,
        status,
        summary,
        files,
    })
}

/// The human-readable report: findings grouped by file.
pub fn render_text(report: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for f in &report.files {
        let _ = write!(s, "{}  [{}]", f.path, status_word(f.status));
        if let Some(a) = f.ameriflux_status {
            let _ = write!(s, "  AmeriFlux format QA/QC: {}", a.as_str());
        }
        if let Some(a) = f.ameriflux_data_status {
            let _ = write!(s, ", physical range: {}", a.as_str());
        }
        let _ = writeln!(
            s,
            "  ({} rows; {}; {} errors, {} warnings)",
            f.rows,
            f.standards.join(", "),
            f.errors,
            f.warnings
        );
        if f.standards.is_empty() {
            let _ = writeln!(s, "  no standard applies to this file");
        }
        for x in &f.findings {
            let sev = match x.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = write!(s, "  {sev:7} {:24}", x.code);
            if let Some(r) = x.row {
                let _ = write!(s, " row {r}");
            }
            if let Some(c) = &x.column {
                let _ = write!(s, " [{c}]");
            }
            let _ = write!(s, " {}", x.message);
            if let Some(v) = &x.value {
                let _ = write!(s, ": {v:?}");
            }
            if let Some(a) = &x.ameriflux {
                let _ = write!(s, "  (AmeriFlux {}: {})", a.level.as_str(), a.check);
            }
            let _ = writeln!(s, "  <{}>", x.standard);
        }
        for x in &f.suppressed {
            let _ = writeln!(
                s,
                "  … and {} more {} findings ({})",
                x.count, x.code, x.standard
            );
        }
    }
    let _ = writeln!(
        s,
        "{} file(s): {} errors, {} warnings — {}",
        report.summary.files,
        report.summary.errors,
        report.summary.warnings,
        status_word(report.status)
    );
    s
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Warning => "warnings",
        Status::Error => "errors",
    }
}

#[cfg(test)]
mod tests;
