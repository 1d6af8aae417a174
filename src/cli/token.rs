//! `holdfast token ...`: API tokens.

use clap::Subcommand;

use super::describe;
use crate::accounts::{tokens, users};
use crate::app::Archive;
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for an account; prints the token and nothing else.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "created from the command line")]
        label: String,
    },
}

pub(super) async fn run(settings: Settings, cmd: TokenCommand) -> anyhow::Result<()> {
    let archive = Archive::open(settings).await?;
    match cmd {
        TokenCommand::Create { email, label } => {
            let secret = archive
                .db
                .run(move |conn| {
                    let user = users::find_by_email(conn, &email)?
                        .ok_or(crate::error::DomainError::NotFound)?;
                    tokens::create(conn, user.id, &label)
                })
                .await
                .map_err(describe)?;
            println!("{secret}");
        }
    }
    Ok(())
}
