//! A whole dataset at once: every file against the standards its name matches, each
//! `datapackage.json` and its tables, the rules between files (FLMD, data dictionary,
//! claimed standards) and the dataset's DataCite metadata. This is what the archive's
//! validation job and `holdfast validate` on a folder run.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use super::engine::{validate_file, FileReport};
use super::findings::{Collector, Finding, Status};
use super::frictionless::{self, ResourcePlan};
use super::spec::{Registry, Standard};
use super::{assign, crossfile, datacite, references, RunError};

/// One file of a dataset.
#[derive(Debug, Clone)]
pub struct DatasetFile {
    /// Dataset-relative, `/`-separated, e.g. "data/US-UMB_HH_....csv".
    pub path: String,
    /// Where its bytes are on disk.
    pub local: PathBuf,
    /// Hex SHA-256 of the bytes; may be "" when the caller never reuses reports (it is
    /// then computed only if a check needs it).
    pub sha256: String,
}

pub struct DatasetInput<'a> {
    pub files: &'a [DatasetFile],
    /// The standards the depositor says the dataset follows.
    pub claimed: &'a [String],
    pub metadata: Option<&'a crate::deposit::metadata::Metadata>,
}

/// The report of one run over a dataset: a stable JSON document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DatasetReport {
    /// Bumped when the document's shape changes incompatibly.
    pub report_version: u32,
    pub status: Status,
    pub summary: Summary,
    /// Files some table standard applies to, in the dataset's order.
    pub files: Vec<FileReport>,
    /// Cross-file, data package descriptor and DataCite findings.
    pub dataset: Vec<Finding>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub files: usize,
    pub errors: u64,
    pub warnings: u64,
    pub bytes: u64,
}

pub const REPORT_VERSION: u32 = 1;

/// Validates a dataset. `reuse` returns a previous [`FileReport`] for a file whose path
/// and sha256 were already checked with a registry of the same
/// [`Registry::fingerprint`]; that file is then not read (a report whose
/// `depends_on` no longer matches, e.g. after `datapackage.json` changed, is not used).
pub fn validate_dataset(
    registry: &Registry,
    input: &DatasetInput,
    reuse: &mut dyn FnMut(&DatasetFile) -> Option<FileReport>,
) -> Result<DatasetReport, RunError> {
    validate_dataset_with(registry, input, reuse, &mut |_, _| None, &mut |_, _| {})
}

/// Standards for one file when the caller overrides the name patterns (the command line's
/// `--standard` on a file named directly).
pub type Override<'r, 'o> = dyn FnMut(usize, &DatasetFile) -> Option<Vec<&'r Standard>> + 'o;

/// [`validate_dataset`] with a per-file override of the standards and a progress hook
/// told each file's size once it is done.
pub fn validate_dataset_with<'r>(
    registry: &'r Registry,
    input: &DatasetInput,
    reuse: &mut dyn FnMut(&DatasetFile) -> Option<FileReport>,
    choose: &mut Override<'r, '_>,
    progress: &mut dyn FnMut(&DatasetFile, u64),
) -> Result<DatasetReport, RunError> {
    let files = input.files;
    let terms = assign::FlmdTerms::read(registry, files);
    let seen = assign::as_followed(registry, input.claimed, &terms);
    let registry: &Registry = &seen;
    let mut hashes = FileHashes::default();
    let mut dataset: Vec<Finding> = Vec::new();
    // Data packages first: their resources add checks to files.
    let mut resources: HashMap<usize, Vec<ResourcePlan>> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        let name = file_name(&f.path);
        for s in &registry.standards {
            if let Some(rules) = s.datapackage.as_ref().filter(|_| s.applies_to(name)) {
                let plan = frictionless::check_package(s, rules, i, files, &mut hashes);
                dataset.extend(plan.findings);
                for r in plan.resources {
                    resources.entry(r.file).or_default().push(r);
                }
            }
        }
    }
    let mut reports = Vec::new();
    for (i, f) in files.iter().enumerate() {
        // A file the caller names gets a report even when no standard applies to it.
        let (standards, named): (Vec<&Standard>, bool) = match choose(i, f) {
            Some(chosen) => (chosen, true),
            None => (assign::standards_for(registry, &terms, f), false),
        };
        let plans = resources.get_mut(&i);
        if standards.is_empty() && plans.is_none() && !named {
            continue;
        }
        let depends_on = plans.as_ref().map(|p| {
            p.iter()
                .map(|r| r.depends_on.as_str())
                .collect::<Vec<_>>()
                .join("+")
        });
        let names: Vec<&str> = standards.iter().map(|s| s.name.as_str()).collect();
        let same = |r: &FileReport| {
            r.depends_on == depends_on
                && r.standards.len() >= names.len()
                && r.standards[..names.len()]
                    .iter()
                    .zip(&names)
                    .all(|(a, b)| a == b)
        };
        if let Some(previous) = reuse(f).filter(same) {
            progress(f, previous.bytes);
            reports.push(previous);
            continue;
        }
        let mut all: Vec<&Standard> = standards;
        let plans: &mut [ResourcePlan] = match plans {
            Some(p) => p,
            None => &mut [],
        };
        for p in plans.iter_mut() {
            p.load_references(files);
        }
        all.extend(plans.iter().map(|p| &p.standard));
        let mut report = validate_file(&f.local, &f.path, &all)?;
        for p in plans.iter() {
            let mut out = Collector::default();
            p.check_stats(f, report.bytes, &mut hashes, &mut out);
            report.absorb(&p.standard.name, out);
        }
        report.depends_on = depends_on;
        progress(f, report.bytes);
        reports.push(report);
    }
    dataset.extend(crossfile::check(registry, files, &reports));
    dataset.extend(crossfile::check_claims(registry, input, files));
    dataset.extend(assign::check_companions(registry, input, &reports));
    dataset.extend(references::check(&reports, &assign::linked_igsns(input)));
    if let Some(m) = input.metadata {
        for s in &registry.standards {
            if let Some(rules) = &s.datacite {
                dataset.extend(datacite::check(s, rules, m));
            }
        }
    }
    Ok(DatasetReport::new(reports, dataset))
}

impl DatasetReport {
    /// Shows files under other names (the command line shows paths the user can open).
    pub fn rename_files(&mut self, shown: impl Fn(&str) -> Option<String>) {
        let rename = |p: &mut String| {
            if let Some(s) = shown(p) {
                *p = s;
            }
        };
        for f in &mut self.files {
            rename(&mut f.path);
            for x in &mut f.findings {
                rename(&mut x.file);
            }
        }
        for x in &mut self.dataset {
            rename(&mut x.file);
        }
    }

    /// Totals and the overall status (the worst of all findings).
    pub fn new(files: Vec<FileReport>, dataset: Vec<Finding>) -> DatasetReport {
        let mut summary = Summary {
            files: files.len(),
            ..Summary::default()
        };
        for f in &files {
            summary.errors += f.errors;
            summary.warnings += f.warnings;
            summary.bytes += f.bytes;
        }
        for d in &dataset {
            match d.issue.severity {
                super::Severity::Error => summary.errors += 1,
                super::Severity::Warning => summary.warnings += 1,
            }
        }
        DatasetReport {
            report_version: REPORT_VERSION,
            status: Status::of(summary.errors, summary.warnings),
            summary,
            files,
            dataset,
        }
    }
}

pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Digests of dataset files computed on demand (a caller may leave `sha256` empty).
#[derive(Default)]
pub struct FileHashes {
    sha256: HashMap<PathBuf, String>,
    md5: HashMap<PathBuf, String>,
}

impl FileHashes {
    pub fn sha256(&mut self, f: &DatasetFile) -> std::io::Result<String> {
        if !f.sha256.is_empty() {
            return Ok(f.sha256.to_ascii_lowercase());
        }
        if let Some(h) = self.sha256.get(&f.local) {
            return Ok(h.clone());
        }
        let h = digest_file::<sha2::Sha256>(&f.local)?;
        self.sha256.insert(f.local.clone(), h.clone());
        Ok(h)
    }

    pub fn md5(&mut self, f: &DatasetFile) -> std::io::Result<String> {
        if let Some(h) = self.md5.get(&f.local) {
            return Ok(h.clone());
        }
        let h = digest_file::<md5::Md5>(&f.local)?;
        self.md5.insert(f.local.clone(), h.clone());
        Ok(h)
    }
}

fn digest_file<D: sha2::Digest>(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = D::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}
