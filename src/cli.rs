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
    /// Check CSV files and folders against data standards, offline (no database needed).
    ///
    /// Without --standard, each file is checked against every standard whose file
    /// pattern it matches. With --standard, files named on the command line get exactly
    /// those standards, and files found in folders those of them whose pattern matches.
    /// Exit code: 0 no errors, 1 errors found, 2 could not run.
    Validate(ValidateArgs),
    /// Work with the standards files.
    #[command(subcommand)]
    Standards(StandardsCommand),
}

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
    /// Files and folders (folders are searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum StandardsCommand {
    /// Load every standard file of DIR (default ./schemas) and report problems; exit 2 on any.
    Check {
        #[arg(value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// List the standards in effect (built-in, overridden by ./schemas or --schemas).
    List {
        #[arg(long, value_name = "DIR")]
        schemas: Option<std::path::PathBuf>,
    },
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
    // Validation works offline: it must not load settings, open the database or data dir.
    match &cli.command {
        Command::Validate(args) => return validate(args),
        Command::Standards(cmd) => return standards(cmd),
        _ => {}
    }
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("holdfast: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Exit codes of `validate` and `standards`: 0 clean, 1 errors found, 2 could not run.
const EXIT_FOUND_ERRORS: u8 = 1;
const EXIT_COULD_NOT_RUN: u8 = 2;

fn validate(args: &ValidateArgs) -> ExitCode {
    use crate::standards;
    use std::io::IsTerminal;
    let registry = match standards::Registry::load(args.schemas.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("holdfast: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    let planned = match standards::plan(&registry, &args.standards, &args.paths) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("holdfast: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    let total: u64 = planned
        .iter()
        .filter_map(|(p, _)| std::fs::metadata(p).ok().map(|m| m.len()))
        .sum();
    let tty = std::io::stderr().is_terminal();
    let mut done = 0u64;
    let report = standards::run(&planned, |path, bytes| {
        done += bytes;
        if tty {
            eprint!(
                "\r\x1b[2Kchecked {:>3}% {}",
                (done * 100).checked_div(total).unwrap_or(100),
                path.display()
            );
        }
    });
    if tty {
        eprint!("\r\x1b[2K");
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("holdfast: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    match args.format {
        OutputFormat::Text => print!("{}", standards::render_text(&report)),
        OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("holdfast: cannot write the report: {e}");
                return ExitCode::from(EXIT_COULD_NOT_RUN);
            }
        },
    }
    if report.status == standards::Status::Error {
        ExitCode::from(EXIT_FOUND_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

fn standards(cmd: &StandardsCommand) -> ExitCode {
    use crate::standards::Registry;
    match cmd {
        StandardsCommand::Check { dir } => {
            let dir = dir
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from("schemas"));
            match Registry::from_dir(&dir) {
                Ok(list) => {
                    for s in &list {
                        println!("ok  {:16} {}", s.name, s.title);
                    }
                    eprintln!(
                        "{} standard(s) in {} are well-formed",
                        list.len(),
                        dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("holdfast: {e}");
                    ExitCode::from(EXIT_COULD_NOT_RUN)
                }
            }
        }
        StandardsCommand::List { schemas } => match Registry::load(schemas.as_deref()) {
            Ok(r) => {
                for s in &r.standards {
                    println!(
                        "{:16} {}  (applies to {})",
                        s.name,
                        s.title,
                        s.applies_to.join(" ")
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("holdfast: {e}");
                ExitCode::from(EXIT_COULD_NOT_RUN)
            }
        },
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.settings)?;
    match cli.command {
        Command::Validate(_) | Command::Standards(_) => {
            // main() answers these before loading settings; nothing to do here.
            anyhow::bail!("validate and standards do not use the archive")
        }
        Command::Serve => {
            let archive = Archive::open(settings).await?;
            let app = Application::build(archive.clone())?;
            crate::jobs::Worker::spawn_all(&archive, archive.settings.workers);
            tracing::info!(
                url = %archive.settings.base_url,
                port = app.port(),
                workers = archive.settings.workers,
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
