//! The `holdfast` command line: the commands and their flags here, each group of
//! commands in its own file (`serve` and `worker`, `user`, `token`, `validate`,
//! `standards`, `mail`, `search`, `fixity`, `partner`, `replicate`).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use crate::config::{Settings, SettingsArgs};

mod fixity;
mod mail;
mod partner;
mod replicate;
mod search;
mod serve;
mod standards;
mod token;
mod user;
mod validate;

pub use self::fixity::FixityCommand;
pub use self::mail::MailCommand;
pub use self::partner::PartnerCommand;
pub use self::replicate::ReplicateCommand;
pub use self::search::SearchCommand;
pub use self::standards::StandardsCommand;
pub use self::token::TokenCommand;
pub use self::user::UserCommand;
pub use self::validate::{OutputFormat, ValidateArgs};

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
    /// Run the web server and, unless --no-worker, the background job workers
    /// (migrations run first, by themselves).
    Serve {
        /// Serve the web only; the jobs (checks, mail, publication, DOIs, audits) are
        /// left to `holdfast worker` processes sharing the database.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run only the background job workers (no web server), for a deployment whose web
    /// nodes run `serve --no-worker`. Runs HOLDFAST_WORKERS workers (at least one).
    Worker,
    /// Apply database migrations and create the storage root, then exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Check files and folders against data standards, offline (no database needed).
    ///
    /// Without --standard, each file is checked against every standard whose file
    /// pattern it matches. With --standard, files named on the command line get exactly
    /// those standards, and files found in folders those of them whose pattern matches.
    /// A folder is checked as a dataset: its datapackage.json, the rules between its
    /// files (every file listed in the FLMD, every column in the data dictionary) and,
    /// with --claim and --metadata, the standards it claims and its DataCite metadata.
    /// Exit code: 0 no errors, 1 errors found, 2 could not run.
    Validate(validate::ValidateArgs),
    /// Work with the standards files.
    #[command(subcommand)]
    Standards(standards::StandardsCommand),
    /// See and retry outgoing mail.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Manage the search index.
    #[command(subcommand)]
    Search(search::SearchCommand),
    /// Fixity audits: re-read and re-hash stored files now, repair damaged ones.
    #[command(subcommand)]
    Fixity(fixity::FixityCommand),
    /// Partner archives that hold replicas of this one (their tokens, issued here).
    #[command(subcommand)]
    Partner(partner::PartnerCommand),
    /// Replicas: the archives this one replicates (register them, see them, pull from
    /// them now), and challenges of the copies partners hold of this one.
    #[command(subcommand)]
    Replicate(replicate::ReplicateCommand),
}

/// Logs to stderr; `HOLDFAST_LOG` (e.g. `debug`, `holdfast=debug,info`) overrides `default`.
/// `HOLDFAST_LOG_FORMAT=json` writes one JSON object a line (with the request or job
/// span's fields) for log shippers; anything else keeps the readable text lines.
pub fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("HOLDFAST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("HOLDFAST_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Logs go to stderr so stdout stays clean for what commands print (tokens, passwords).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging("info");
    // Validation works offline: it must not load settings, open the database or data dir.
    match &cli.command {
        Command::Validate(args) => return validate::run(args),
        Command::Standards(cmd) => return standards::run(cmd),
        _ => {}
    }
    // The job workers and background tasks run on this multi-threaded runtime; the web
    // server runs its own worker threads beside it.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("holdfast: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("holdfast: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A byte progress bar on stderr (bytes, rate, ETA); hidden when stderr is not a terminal
/// so logs and pipes stay clean.
pub(super) fn progress_bar(total: u64, visible: bool) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Exit codes of `validate` and `standards`: 0 clean, 1 errors found, 2 could not run.
pub(super) const EXIT_FOUND_ERRORS: u8 = 1;
pub(super) const EXIT_COULD_NOT_RUN: u8 = 2;

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.settings)?;
    match cli.command {
        Command::Validate(_) | Command::Standards(_) => {
            // main() answers these before loading settings; nothing to do here.
            anyhow::bail!("validate and standards do not use the archive")
        }
        Command::Serve { no_worker } => serve::serve(settings, no_worker).await,
        Command::Worker => serve::worker(settings).await,
        Command::Migrate => serve::migrate(settings).await,
        Command::User(cmd) => user::run(settings, cmd).await,
        Command::Token(cmd) => token::run(settings, cmd).await,
        Command::Mail(cmd) => mail::run(settings, cmd).await,
        Command::Search(cmd) => search::run(settings, cmd).await,
        Command::Fixity(cmd) => fixity::run(settings, cmd).await,
        Command::Partner(cmd) => partner::run(settings, cmd).await,
        Command::Replicate(cmd) => replicate::run(settings, cmd).await,
    }
}

/// Domain errors in words fit for a terminal.
pub(super) fn describe(e: crate::error::DomainError) -> anyhow::Error {
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
        // The command line is the operator's: the detail helps, and goes nowhere else.
        DomainError::Internal(detail) => anyhow::anyhow!("internal error: {}", detail.report()),
        other => anyhow::anyhow!("{other}"),
    }
}
