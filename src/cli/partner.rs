//! `holdfast partner ...`: archives that hold replicas of this one.

use clap::Subcommand;

use super::describe;
use crate::app::Archive;
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub enum PartnerCommand {
    /// Register a partner node; prints its token (shown only now) for the partner's
    /// `holdfast replicate add --token`.
    Add {
        /// A short name for the partner, e.g. archive-b.example.org.
        #[arg(long)]
        name: String,
        /// Where the partner's holdfast answers (for challenges of its copies).
        #[arg(long)]
        url: String,
    },
    /// List registered partners.
    List,
    /// Revoke a partner's token: it no longer sees restricted content, and its copies no
    /// longer count towards the replication policy.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

/// `holdfast partner ...`.
pub(super) async fn run(settings: Settings, cmd: PartnerCommand) -> anyhow::Result<()> {
    use crate::federation::partners;
    let archive = Archive::open(settings).await?;
    match cmd {
        PartnerCommand::Add { name, url } => {
            let secret = archive
                .db
                .run(move |conn| partners::create(conn, &name, &url))
                .await
                .map_err(describe)?;
            println!("{secret}");
        }
        PartnerCommand::List => {
            let all = archive.db.run(partners::list).await.map_err(describe)?;
            for p in all {
                let state = match p.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%dT%H:%M:%SZ")),
                    None => "active".to_string(),
                };
                let seen = p.last_seen_at.map_or("never".to_string(), |t| {
                    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                });
                println!("{}\t{}\t{}\tlast seen {}", p.name, p.base_url, state, seen);
            }
        }
        PartnerCommand::Revoke { name } => {
            archive
                .db
                .run(move |conn| partners::revoke(conn, &name))
                .await
                .map_err(describe)?;
        }
    }
    Ok(())
}
