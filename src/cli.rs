//! The `holdfast` command line.

use clap::{Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;

use crate::accounts::{tokens, users, Role};
use crate::app::Archive;
use crate::config::{Settings, SettingsArgs};
use crate::web::Application;

#[derive(Parser, Debug)]
#[command(
    name = "holdfast",
    version,
    about = "holdfast: a FAIR data archive (deposit, validate, curate, publish with DOIs, preserve in OCFL)",
    long_about = "holdfast: a FAIR data archive.\n\nEvery setting can be given as a flag, as a HOLDFAST_* environment variable, or in a TOML config file (--config); flags win over the environment, which wins over the file."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (migrations run first, by themselves).
    Serve,
    /// Apply database migrations and create the storage root, then exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

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

/// Logs to stderr; `HOLDFAST_LOG` (e.g. `debug`, `holdfast=debug,info`) overrides `default`.
pub fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("HOLDFAST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Logs go to stderr so stdout stays clean for what commands print (tokens, passwords).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging("info");
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("holdfast: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.settings)?;
    match cli.command {
        Command::Serve => {
            let archive = Archive::open(settings).await?;
            let app = Application::build(archive.clone())?;
            tracing::info!(
                url = %archive.settings.base_url,
                port = app.port(),
                data_dir = %archive.settings.data_dir.display(),
                database = ?archive.db.backend(),
                "holdfast is serving"
            );
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            Archive::open(settings).await?;
            eprintln!("database and storage are up to date");
        }
        Command::User(UserCommand::Add {
            email,
            name,
            role,
            password_stdin,
        }) => {
            let archive = Archive::open(settings).await?;
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
        Command::User(UserCommand::Role { email, role }) => {
            let archive = Archive::open(settings).await?;
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
        Command::Token(TokenCommand::Create { email, label }) => {
            let archive = Archive::open(settings).await?;
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

/// Domain errors in words fit for a terminal.
fn describe(e: crate::error::DomainError) -> anyhow::Error {
    use crate::error::DomainError;
    match e {
        DomainError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        DomainError::NotFound => anyhow::anyhow!("no such account"),
        other => anyhow::anyhow!("{other}"),
    }
}
