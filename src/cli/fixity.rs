//! `holdfast fixity ...`: audits and repairs now.

use clap::Subcommand;

use super::{describe, progress_bar};
use crate::app::Archive;
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub enum FixityCommand {
    /// Audit stored files now: re-read and re-hash them, check every inventory against
    /// its sidecar and look for unexpected files, recording everything as the scheduled
    /// audit does. Without --all or --dataset, the files not verified within the current
    /// cycle. Shows progress on a terminal; exit code 1 when any file failed.
    Run {
        /// Every stored file, whenever it was last verified.
        #[arg(long, conflicts_with = "dataset")]
        all: bool,
        /// Every stored file of one dataset.
        #[arg(long, value_name = "ID")]
        dataset: Option<i64>,
        /// Hashing threads [default: every core].
        #[arg(long)]
        threads: Option<usize>,
        /// Most bytes per second to read [default: no limit].
        #[arg(long, value_name = "BYTES")]
        rate: Option<u64>,
    },
    /// Repair damaged files from good copies (verified by sha256 before anything is
    /// replaced) and move unexpected files out of their objects; exit code 1 when a
    /// damaged file is left without a good copy.
    Repair {
        /// Only this dataset's files.
        #[arg(long, value_name = "ID")]
        dataset: Option<i64>,
    },
    /// Coverage of the current cycle, damaged files and recent audit passes.
    Status,
}

/// `holdfast fixity ...`; exit code 1 (an error) when something failed.
pub(super) async fn run(settings: Settings, cmd: FixityCommand) -> anyhow::Result<()> {
    let archive = Archive::open(settings).await?;
    match cmd {
        FixityCommand::Run {
            all,
            dataset,
            threads,
            rate,
        } => audit(&archive, all, dataset, threads, rate).await,
        FixityCommand::Repair { dataset } => repair(&archive, dataset).await,
        FixityCommand::Status => status(&archive).await,
    }
}

/// `holdfast fixity run`: the audit, with a progress bar on a terminal.
async fn audit(
    archive: &Archive,
    all: bool,
    dataset: Option<i64>,
    threads: Option<usize>,
    rate: Option<u64>,
) -> anyhow::Result<()> {
    use crate::fixity::files::Selection;
    use std::io::IsTerminal;
    let selection = match (all, dataset) {
        (_, Some(id)) => Selection::Dataset(id),
        (true, None) => Selection::All,
        (false, None) => {
            Selection::CheckedBefore(chrono::Utc::now().naive_utc() - archive.settings.fixity.cycle)
        }
    };
    let sel = selection.clone();
    let (files, bytes) = archive
        .db
        .run(move |conn| crate::fixity::files::totals(conn, &sel))
        .await
        .map_err(describe)?;
    if files == 0 {
        eprintln!("nothing to audit: every stored file was verified within the cycle (use --all to audit everything)");
        return Ok(());
    }
    let bar = progress_bar(bytes.max(0) as u64, std::io::stderr().is_terminal());
    bar.set_message(format!("{files} file(s)"));
    let on_bytes = {
        let bar = bar.clone();
        std::sync::Arc::new(move |n: u64| bar.inc(n))
    };
    let options = crate::fixity::run::RunOptions {
        threads: threads
            .filter(|t| *t > 0)
            .unwrap_or_else(crate::config::all_cores),
        max_bytes_per_sec: rate,
        run_kind: "cli",
    };
    let summary = crate::fixity::run::run_selection(archive, selection, &options, on_bytes)
        .await
        .map_err(describe)?;
    bar.finish_and_clear();
    let secs = summary.elapsed.as_secs_f64().max(1e-3);
    println!(
        "audited {} file(s), {} bytes in {:.1} s ({:.1} MB/s, {:.0} files/s); {} failure(s)",
        summary.files,
        summary.bytes,
        secs,
        summary.bytes as f64 / secs / 1e6,
        summary.files as f64 / secs,
        summary.failures.len()
    );
    for f in &summary.failures {
        println!(
            "FAILED dataset {} {}: {} — {}",
            f.dataset_id,
            f.content_path,
            f.outcome.as_str(),
            f.detail
        );
    }
    if !summary.failures.is_empty() {
        anyhow::bail!(
            "{} stored file(s) failed their audit; curators were told (see the fixity ticket of each dataset)",
            summary.failures.len()
        );
    }
    Ok(())
}

/// `holdfast fixity repair`.
async fn repair(archive: &Archive, dataset: Option<i64>) -> anyhow::Result<()> {
    let report = crate::fixity::repair::repair(archive, dataset)
        .await
        .map_err(describe)?;
    for (d, path, source) in &report.repaired {
        println!("repaired  dataset {d} {path} from {source}");
    }
    for (d, path, place) in &report.quarantined {
        println!("moved     dataset {d} {path} to {place}");
    }
    for (d, path, why) in &report.unrepaired {
        println!("NOT REPAIRED dataset {d} {path}: {why}");
    }
    eprintln!(
        "{} repaired, {} unexpected file(s) moved out, {} left damaged",
        report.repaired.len(),
        report.quarantined.len(),
        report.unrepaired.len()
    );
    if !report.unrepaired.is_empty() {
        anyhow::bail!(
            "{} damaged file(s) have no good copy",
            report.unrepaired.len()
        );
    }
    Ok(())
}

/// `holdfast fixity status`.
async fn status(archive: &Archive) -> anyhow::Result<()> {
    let cycle = archive.settings.fixity.cycle;
    let c = archive
        .db
        .run(move |conn| crate::fixity::report::coverage(conn, cycle))
        .await
        .map_err(describe)?;
    println!(
        "{} stored file(s), {} bytes; {:.1}% of the bytes verified in the current {:.0}-day cycle",
        c.files,
        c.bytes,
        c.verified_share * 100.0,
        c.cycle_days
    );
    match c.oldest_check {
        Some(t) => println!("oldest check: {}", crate::fixity::record::iso(t)),
        None => println!("oldest check: none yet"),
    }
    println!("damaged: {}", c.damaged_count);
    for d in &c.damaged {
        println!(
            "  dataset {} {} ({})",
            d.dataset_id, d.content_path, d.last_outcome
        );
    }
    for r in &c.recent_runs {
        println!(
            "run {} {}: {} file(s), {} bytes, {} failure(s), {:.1} MB/s",
            r.run_kind,
            crate::fixity::record::iso(r.finished_at),
            r.files,
            r.bytes,
            r.failures,
            r.bytes_per_sec / 1e6
        );
    }
    Ok(())
}
