//! `holdfast mail ...`: the outbox.

use clap::Subcommand;

use super::describe;
use crate::app::Archive;
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub enum MailCommand {
    /// Where mail goes, how many messages are pending, sent and failed, and the latest
    /// problems with their errors.
    Status {
        /// How many problem messages to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Queue every failed message again (after an outage longer than the retries); a
    /// running server delivers them.
    Retry,
}

pub(super) async fn run(settings: Settings, cmd: MailCommand) -> anyhow::Result<()> {
    let archive = Archive::open(settings).await?;
    match cmd {
        MailCommand::Status { limit } => {
            let limit = limit.clamp(0, 1000);
            let (counts, troubled) = archive
                .db
                .run(move |conn| {
                    Ok((
                        crate::mail::outbox::counts(conn)?,
                        crate::mail::outbox::troubled(conn, limit)?,
                    ))
                })
                .await
                .map_err(describe)?;
            println!("mail goes to {}", archive.mailer.describe());
            for state in ["pending", "sent", "failed"] {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == state)
                    .map_or(0, |(_, n)| *n);
                println!("{state:>8}: {n}");
            }
            if !troubled.is_empty() {
                println!("\nlatest problems:");
            }
            for m in troubled {
                println!(
                    "#{} {} to {} ({}, {} attempt(s), made {} UTC): {}",
                    m.id,
                    m.state,
                    m.to_address,
                    m.kind,
                    m.attempts,
                    m.created_at.format("%Y-%m-%d %H:%M:%S"),
                    m.last_error.as_deref().unwrap_or("")
                );
            }
        }
        MailCommand::Retry => {
            let ids = archive
                .db
                .transaction(crate::mail::outbox::requeue_failed)
                .await
                .map_err(describe)?;
            eprintln!(
                "{} failed message(s) queued again; a running server delivers them",
                ids.len()
            );
        }
    }
    Ok(())
}
