//! `holdfast validate`: files and folders against data standards, offline.

use std::process::ExitCode;

use super::{progress_bar, EXIT_COULD_NOT_RUN, EXIT_FOUND_ERRORS};

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// A standard to apply (repeatable), e.g. csv, ameriflux-base.
    #[arg(long = "standard", value_name = "NAME")]
    pub standards: Vec<String>,
    /// text (grouped by file) or json (a stable document).
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Folder of standard files overriding the built-in ones [default: ./schemas if present].
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<std::path::PathBuf>,
    /// A standard the dataset claims to follow (repeatable); a claimed standard with no
    /// file it applies to is an error.
    #[arg(long = "claim", value_name = "NAME")]
    pub claims: Vec<String>,
    /// The dataset's metadata as DataCite JSON (as the API accepts it), checked against
    /// the datacite standard.
    #[arg(long, value_name = "FILE.json")]
    pub metadata: Option<std::path::PathBuf>,
    /// Files and folders (folders are searched recursively and checked as a dataset).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

pub(super) fn run(args: &ValidateArgs) -> ExitCode {
    use crate::standards;
    use std::io::IsTerminal;
    let could_not_run = |e: &dyn std::fmt::Display| {
        eprintln!("holdfast: {e}");
        ExitCode::from(EXIT_COULD_NOT_RUN)
    };
    let mut registry = match standards::Registry::load(args.schemas.as_deref()) {
        Ok(r) => r,
        Err(e) => return could_not_run(&e),
    };
    if !args.standards.is_empty() {
        // --standard restricts the run to those standards (and the claimed ones).
        let mut chosen = Vec::new();
        for name in args.standards.iter().chain(&args.claims) {
            match registry.get(name) {
                Ok(s) => chosen.push(s.clone()),
                Err(e) => return could_not_run(&e),
            }
        }
        chosen.dedup_by(|a, b| a.name == b.name);
        registry.standards = chosen;
    }
    let metadata = match &args.metadata {
        None => None,
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => return could_not_run(&format!("cannot read {}: {e}", path.display())),
            };
            match crate::deposit::metadata::Metadata::from_json(&text) {
                Ok(m) => Some(m),
                Err(e) => return could_not_run(&format!("{}: {e}", path.display())),
            }
        }
    };
    let given = match standards::collect_paths(&args.paths) {
        Ok(g) => g,
        Err(e) => return could_not_run(&e),
    };
    let total: u64 = given
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.local).ok().map(|m| m.len()))
        .sum();
    let progress = progress_bar(total, std::io::stderr().is_terminal());
    let table_standards: Vec<&standards::Standard> = registry
        .standards
        .iter()
        .filter(|s| s.checks_tables())
        .collect();
    let input = standards::DatasetInput {
        files: &given.files,
        claimed: &args.claims,
        metadata: metadata.as_ref(),
    };
    let report = standards::dataset::validate_dataset_with(
        &registry,
        &input,
        &mut |_| None,
        &mut |i, f| {
            // A file named directly gets a report even when no standard applies to it,
            // and with --standard gets those whatever its name.
            if !given.named[i] {
                return None;
            }
            let name = standards::dataset::file_name(&f.path);
            Some(
                table_standards
                    .iter()
                    .copied()
                    .filter(|s| !args.standards.is_empty() || s.applies_to(name))
                    .collect(),
            )
        },
        &mut |f, bytes| {
            progress.inc(bytes);
            progress.set_message(f.path.clone());
        },
    );
    progress.finish_and_clear();
    let mut report = match report {
        Ok(r) => r,
        Err(e) => return could_not_run(&e),
    };
    let shown: std::collections::HashMap<&str, &str> = given
        .files
        .iter()
        .zip(&given.shown)
        .map(|(f, s)| (f.path.as_str(), s.as_str()))
        .rev()
        .collect();
    report.rename_files(|p| shown.get(p).map(|s| s.to_string()));
    match args.format {
        OutputFormat::Text => print!("{}", standards::render_text(&report)),
        OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => return could_not_run(&format!("cannot write the report: {e}")),
        },
    }
    if report.status == standards::Status::Error {
        ExitCode::from(EXIT_FOUND_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}
