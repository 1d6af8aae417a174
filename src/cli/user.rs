//! `holdfast user ...`: accounts.

use clap::Subcommand;
use std::io::Read;

use super::describe;
use crate::accounts::{users, Role};
use crate::app::Archive;
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. Prints a generated password unless --password-stdin is given.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// depositor, curator or admin
        #[arg(long, default_value = "depositor")]
        role: Role,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change an account's role.
    Role {
        #[arg(long)]
        email: String,
        /// depositor, curator or admin
        #[arg(long)]
        role: Role,
    },
}

pub(super) async fn run(settings: Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let archive = Archive::open(settings).await?;
    match cmd {
        UserCommand::Add {
            email,
            name,
            role,
            password_stdin,
        } => {
            let (password, generated) = if password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                (text.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (crate::accounts::passwords::generate(), true)
            };
            let p = password.clone();
            let user = archive
                .db
                .run(move |conn| users::create(conn, &email, &name, role, &p))
                .await
                .map_err(describe)?;
            eprintln!("created {} ({}) as {}", user.email, user.name, user.role);
            if generated {
                println!("{password}");
            }
        }
        UserCommand::Role { email, role } => {
            let user = archive
                .db
                .run(move |conn| {
                    let user = users::find_by_email(conn, &email)?
                        .ok_or(crate::error::DomainError::NotFound)?;
                    users::set_role(conn, user.id, role)
                })
                .await
                .map_err(describe)?;
            eprintln!("{} is now {}", user.email, user.role);
        }
    }
    Ok(())
}
