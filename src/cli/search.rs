//! `holdfast search ...`: the search index.

use clap::Subcommand;

use super::describe;
use crate::app::Archive;
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub enum SearchCommand {
    /// Rebuild the search index from the database: every published dataset is indexed
    /// again and entries of datasets no longer shown are removed. Search keeps working
    /// meanwhile.
    Reindex,
}

pub(super) async fn run(settings: Settings, cmd: SearchCommand) -> anyhow::Result<()> {
    let archive = Archive::open(settings).await?;
    match cmd {
        SearchCommand::Reindex => {
            let started = std::time::Instant::now();
            let outcome = archive
                .db
                .run(|conn| {
                    crate::search::reindex_all(conn, &mut |done, total| {
                        tracing::debug!(done, total, "reindexing");
                    })
                })
                .await
                .map_err(describe)?;
            eprintln!(
                "indexed {} published dataset(s), removed {} stale entr{} in {:.1} s",
                outcome.indexed,
                outcome.removed,
                if outcome.removed == 1 { "y" } else { "ies" },
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
