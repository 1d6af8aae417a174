//! `holdfast replicate ...`: the archives this one replicates, and challenges of the
//! copies partners hold of this one.

use clap::Subcommand;

use super::{describe, progress_bar};
use crate::app::Archive;
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub enum ReplicateCommand {
    /// Challenge partners' copies now: for each copy, a random sample of its files is
    /// re-read by the partner and hashed with fresh nonces, and compared with this
    /// archive's own bytes; then the replication policy is applied. Exit code 1 when a
    /// copy failed or could not be audited.
    Challenge {
        /// Only this partner's copies.
        #[arg(long, value_name = "NAME")]
        partner: Option<String>,
        /// Only the copies of one dataset.
        #[arg(long, value_name = "ID")]
        dataset: Option<i64>,
    },
    /// Register a source archive (it must answer /.well-known/resourcesync); the worker
    /// pulls it at once and then every HOLDFAST_REPLICATION_INTERVAL_SECS.
    Add {
        /// The source's address, e.g. https://archive-a.example.org.
        #[arg(long)]
        source: String,
        /// The partner token the source's admin issued (`holdfast partner add` there):
        /// needed for content that is not public and for receipts.
        #[arg(long)]
        token: Option<String>,
    },
    /// List sources with their last pull and what is held from each.
    List,
    /// Pull now (every source, or one), with a progress bar on a terminal; exit code 1
    /// when a file failed verification or a source could not be read.
    Run {
        #[arg(long)]
        source: Option<String>,
    },
}

/// `holdfast replicate challenge`; exit code 1 when a copy did not pass.
async fn replicate_challenge(
    archive: &Archive,
    partner: Option<String>,
    dataset: Option<i64>,
) -> anyhow::Result<()> {
    use crate::federation::challenge;
    let filter = challenge::Filter {
        partner,
        dataset,
        verified_before: None,
    };
    let results = challenge::run(archive, &filter).await.map_err(describe)?;
    for r in &results {
        println!(
            "{}\tdataset {}\t{} v{}\t{}\t{}",
            r.partner, r.dataset_id, r.object_id, r.version, r.outcome, r.detail
        );
    }
    let bad = results.iter().filter(|r| r.outcome != "passed").count();
    eprintln!(
        "{} cop(ies) challenged: {} passed, {bad} failed or could not be audited",
        results.len(),
        results.len() - bad
    );
    if bad > 0 {
        anyhow::bail!("{bad} cop(ies) did not pass their challenge");
    }
    Ok(())
}

/// The pull's progress on an indicatif bar (its length grows as work is planned).
struct BarProgress(indicatif::ProgressBar);

impl crate::federation::replica::Progress for BarProgress {
    fn planned(&self, bytes: u64) {
        self.0.inc_length(bytes);
    }
    fn fetched(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

/// `holdfast replicate ...`.
pub(super) async fn run(settings: Settings, cmd: ReplicateCommand) -> anyhow::Result<()> {
    let archive = Archive::open(settings).await?;
    match cmd {
        ReplicateCommand::Challenge { partner, dataset } => {
            replicate_challenge(&archive, partner, dataset).await
        }
        ReplicateCommand::Add { source, token } => add(&archive, &source, token).await,
        ReplicateCommand::List => list(&archive).await,
        ReplicateCommand::Run { source } => pull(&archive, source).await,
    }
}

/// `holdfast replicate add`.
async fn add(archive: &Archive, source: &str, token: Option<String>) -> anyhow::Result<()> {
    use crate::federation::replica;
    let s = replica::add(archive, source, token)
        .await
        .map_err(describe)?;
    println!(
        "added source {} (id {}); the worker pulls it now, `holdfast replicate run` pulls it here",
        s.base_url, s.id
    );
    Ok(())
}

/// `holdfast replicate list`.
async fn list(archive: &Archive) -> anyhow::Result<()> {
    use crate::federation::replica;
    let rows = archive
        .db
        .run(|conn| {
            let sources = replica::list(conn)?;
            let mut out = Vec::new();
            for s in sources {
                let held = replica::held_counts(conn, s.id)?;
                out.push((s, held));
            }
            Ok(out)
        })
        .await
        .map_err(describe)?;
    for (s, (live, withdrawn)) in rows {
        let when = |t: Option<chrono::NaiveDateTime>| {
            t.map_or("never".to_string(), |t| {
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            })
        };
        println!(
            "{}\t{}\tlast pull {} ({})\tthrough {}\t{} version(s) held, {} withdrawn",
            s.id,
            s.base_url,
            when(s.last_pull_at),
            s.last_outcome.as_deref().unwrap_or("-"),
            s.pulled_through.as_deref().unwrap_or("-"),
            live,
            withdrawn
        );
        if let Some(e) = &s.last_error {
            for line in e.lines() {
                println!("  error: {line}");
            }
        }
    }
    Ok(())
}

/// `holdfast replicate run`: pull now, with a progress bar on a terminal.
async fn pull(archive: &Archive, source: Option<String>) -> anyhow::Result<()> {
    use crate::federation::replica;
    use std::io::IsTerminal;
    let sources = match source {
        Some(url) => vec![archive
            .db
            .run(move |conn| replica::find_by_url(conn, &url))
            .await
            .map_err(|e| match e {
                crate::error::DomainError::NotFound => anyhow::anyhow!(
                    "no such source: add it first with `holdfast replicate add --source URL`"
                ),
                other => describe(other),
            })?],
        None => archive.db.run(replica::list).await.map_err(describe)?,
    };
    if sources.is_empty() {
        anyhow::bail!("no replication source: add one with `holdfast replicate add --source URL`");
    }
    let mut failures = 0;
    for s in sources {
        let bar = progress_bar(0, std::io::stderr().is_terminal());
        bar.set_message(s.base_url.clone());
        let progress = std::sync::Arc::new(BarProgress(bar.clone()));
        let summary = replica::pull(archive, &s, progress)
            .await
            .map_err(describe)?;
        bar.finish_and_clear();
        let secs = summary.elapsed.as_secs_f64().max(1e-3);
        println!(
            "{}: {} version(s) added, {} file(s), {} bytes in {:.1} s ({:.1} MB/s); {} withdrawn; {} receipt(s) sent; {} failure(s)",
            s.base_url,
            summary.versions,
            summary.files,
            summary.bytes,
            secs,
            summary.bytes as f64 / secs / 1e6,
            summary.withdrawn,
            summary.receipts,
            summary.failures.len()
        );
        for f in &summary.failures {
            println!("FAILED {f}");
        }
        failures += summary.failures.len();
    }
    if failures > 0 {
        anyhow::bail!(
            "{failures} replication failure(s); nothing that failed verification was stored"
        );
    }
    Ok(())
}
