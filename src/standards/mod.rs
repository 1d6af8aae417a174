//! Data standards validation: standards are data files (`schemas/*.json`, see `spec`),
//! checked by a streaming engine (`engine`) that reads each file once, row by row.
//! A dataset is checked as a whole by `dataset::validate_dataset`: its files, its
//! `datapackage.json` (`frictionless`), the rules between files (`crossfile`) and its
//! DataCite metadata (`datacite`). Findings have stable codes and severities;
//! AmeriFlux findings carry AmeriFlux's level too (`findings`).

pub mod ameriflux;
pub mod assign;
pub mod crossfile;
pub mod datacite;
pub mod dataset;
pub mod engine;
pub mod findings;
pub mod frictionless;
pub mod references;
pub mod rules;
pub mod spec;
pub mod table;
pub mod tableschema;
pub mod values;
pub mod wssc;

use std::path::{Path, PathBuf};

pub use dataset::{
    validate_dataset, DatasetFile, DatasetInput, DatasetReport, Summary, REPORT_VERSION,
};
pub use engine::{validate_file, FileReport, Suppressed, ValidateError};
pub use findings::{AmfLevel, Finding, Issue, Severity, Status};
pub use spec::{Registry, Standard, StandardsError};

/// Bumped when a change to the checks' code changes what they find, so stored reports
/// (keyed by [`Registry::fingerprint`]) are not reused across it.
pub const ENGINE_VERSION: u32 = 2;

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

/// The files named on a command line, as one dataset: a folder gives every file under
/// it (dataset path relative to the folder), a file gives itself (by its name).
pub struct CommandLineFiles {
    pub files: Vec<DatasetFile>,
    /// How each file is shown: the path as the user can open it.
    pub shown: Vec<String>,
    /// Whether each file was named directly (not found in a folder).
    pub named: Vec<bool>,
}

pub fn collect_paths(paths: &[PathBuf]) -> Result<CommandLineFiles, RunError> {
    let mut out = CommandLineFiles {
        files: Vec::new(),
        shown: Vec::new(),
        named: Vec::new(),
    };
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| RunError::Path {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            for f in found {
                let relative = f
                    .strip_prefix(path)
                    .unwrap_or(&f)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.shown.push(f.display().to_string());
                out.files.push(DatasetFile {
                    path: relative,
                    local: f,
                    sha256: String::new(),
                });
                out.named.push(false);
            }
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            out.shown.push(path.display().to_string());
            out.files.push(DatasetFile {
                path: name,
                local: path.clone(),
                sha256: String::new(),
            });
            out.named.push(true);
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

/// The human-readable report: findings grouped by file, then the dataset's own.
pub fn render_text(report: &DatasetReport) -> String {
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
            render_finding(&mut s, x, false);
        }
        for x in &f.suppressed {
            let _ = writeln!(
                s,
                "  … and {} more {} findings ({})",
                x.count, x.code, x.standard
            );
        }
    }
    if !report.dataset.is_empty() {
        let _ = writeln!(s, "dataset  ({} findings)", report.dataset.len());
        for x in &report.dataset {
            render_finding(&mut s, x, true);
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

fn render_finding(s: &mut String, x: &Finding, with_file: bool) {
    use std::fmt::Write;
    let i = &x.issue;
    let sev = match i.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = write!(s, "  {sev:7} {:24}", i.code);
    if with_file && !x.file.is_empty() {
        let _ = write!(s, " {}", x.file);
    }
    if let Some(r) = i.row {
        let _ = write!(s, " row {r}");
    }
    if let Some(c) = &i.column {
        let _ = write!(s, " [{c}]");
    }
    let _ = write!(s, " {}", i.message);
    if let Some(v) = &i.value {
        let _ = write!(s, ": {v:?}");
    }
    if let Some(a) = &i.ameriflux {
        let _ = write!(s, "  (AmeriFlux {}: {})", a.level.as_str(), a.check);
    }
    let _ = writeln!(s, "  <{}>", x.standard);
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

#[cfg(test)]
mod dataset_tests;

#[cfg(test)]
mod essdive_tests;
