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
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check files and folders against data standards, offline (no database needed).
    ///
    /// Without --standard, each file is checked against every standard whose file
    /// pattern it matches. With --standard, files named on the command line get exactly
    /// those standards, and files found in folders those of them whose pattern matches.
    /// A folder is checked as a dataset: its datapackage.json, the rules between its
    /// files (every file listed in the FLMD, every column in the data dictionary) and,
    /// with --claim and --metadata, the standards it claims and its DataCite metadata.
    /// Exit code: 0 no errors, 1 errors found, 2 could not run.
    Validate(ValidateArgs),
    /// Work with the standards files.
    #[command(subcommand)]
    Standards(StandardsCommand),
    /// See and retry outgoing mail.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Manage the search index.
    #[command(subcommand)]
    Search(SearchCommand),
    /// Fixity audits: re-read and re-hash stored files now, repair damaged ones.
    #[command(subcommand)]
    Fixity(FixityCommand),
    /// Partner archives that hold replicas of this one (their tokens, issued here).
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Replicas: the archives this one replicates (register them, see them, pull from
    /// them now), and challenges of the copies partners hold of this one.
    #[command(subcommand)]
    Replicate(ReplicateCommand),
}

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

#[derive(Subcommand, Debug)]
pub enum SearchCommand {
    /// Rebuild the search index from the database: every published dataset is indexed
    /// again and entries of datasets no longer shown are removed. Search keeps working
    /// meanwhile.
    Reindex,
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
    /// A standard the dataset claims to follow (repeatable); a claimed standard with no
    /// file it applies to is an error.
    #[arg(long = "claim", value_name = "NAME")]
    pub claims: Vec<String>,
    /// The dataset's metadata as DataCite JSON (as the API accepts it), checked against
    /// the datacite standard.
    #[arg(long, value_name = "FILE.json")]
    pub metadata: Option<std::path::PathBuf>,
    /// Files and folders (folders are searched recursively and checked as a dataset).
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
fn progress_bar(total: u64, visible: bool) -> indicatif::ProgressBar {
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
const EXIT_FOUND_ERRORS: u8 = 1;
const EXIT_COULD_NOT_RUN: u8 = 2;

fn validate(args: &ValidateArgs) -> ExitCode {
    use crate::standards;
    use std::io::IsTerminal;
    let could_not_run = |e: &dyn std::fmt::Display| {
        eprintln!("holdfast: {e}");
        ExitCode::from(EXIT_COULD_NOT_RUN)
    };
    let mut registry = match standards::Registry::load(args.schemas.as_deref()) {
        Ok(r) => r,
        Err(e) => return could_not_run(&e),
    };
    if !args.standards.is_empty() {
        // --standard restricts the run to those standards (and the claimed ones).
        let mut chosen = Vec::new();
        for name in args.standards.iter().chain(&args.claims) {
            match registry.get(name) {
                Ok(s) => chosen.push(s.clone()),
                Err(e) => return could_not_run(&e),
            }
        }
        chosen.dedup_by(|a, b| a.name == b.name);
        registry.standards = chosen;
    }
    let metadata = match &args.metadata {
        None => None,
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => return could_not_run(&format!("cannot read {}: {e}", path.display())),
            };
            match crate::deposit::metadata::Metadata::from_json(&text) {
                Ok(m) => Some(m),
                Err(e) => return could_not_run(&format!("{}: {e}", path.display())),
            }
        }
    };
    let given = match standards::collect_paths(&args.paths) {
        Ok(g) => g,
        Err(e) => return could_not_run(&e),
    };
    let total: u64 = given
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.local).ok().map(|m| m.len()))
        .sum();
    let progress = progress_bar(total, std::io::stderr().is_terminal());
    let table_standards: Vec<&standards::Standard> = registry
        .standards
        .iter()
        .filter(|s| s.checks_tables())
        .collect();
    let input = standards::DatasetInput {
        files: &given.files,
        claimed: &args.claims,
        metadata: metadata.as_ref(),
    };
    let report = standards::dataset::validate_dataset_with(
        &registry,
        &input,
        &mut |_| None,
        &mut |i, f| {
            // A file named directly gets a report even when no standard applies to it,
            // and with --standard gets those whatever its name.
            if !given.named[i] {
                return None;
            }
            let name = standards::dataset::file_name(&f.path);
            Some(
                table_standards
                    .iter()
                    .copied()
                    .filter(|s| !args.standards.is_empty() || s.applies_to(name))
                    .collect(),
            )
        },
        &mut |f, bytes| {
            progress.inc(bytes);
            progress.set_message(f.path.clone());
        },
    );
    progress.finish_and_clear();
    let mut report = match report {
        Ok(r) => r,
        Err(e) => return could_not_run(&e),
    };
    let shown: std::collections::HashMap<&str, &str> = given
        .files
        .iter()
        .zip(&given.shown)
        .map(|(f, s)| (f.path.as_str(), s.as_str()))
        .rev()
        .collect();
    report.rename_files(|p| shown.get(p).map(|s| s.to_string()));
    match args.format {
        OutputFormat::Text => print!("{}", standards::render_text(&report)),
        OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => return could_not_run(&format!("cannot write the report: {e}")),
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
                    let applies = if s.datacite.is_some() {
                        "the dataset's metadata".to_string()
                    } else {
                        s.applies_to.join(" ")
                    };
                    println!("{:16} {}  (applies to {applies})", s.name, s.title);
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
        Command::Serve { no_worker } => {
            let archive = Archive::open(settings).await?;
            let app = Application::build(archive.clone())?;
            let workers = if no_worker {
                0
            } else {
                archive.settings.workers
            };
            crate::jobs::Worker::spawn_all(&archive, workers);
            tracing::info!(
                url = %archive.settings.base_url,
                port = app.port(),
                workers,
                data_dir = %archive.settings.data_dir.display(),
                database = ?archive.db.backend(),
                mail = %archive.mailer.describe(),
                "holdfast is serving"
            );
            app.run_until_stopped().await?;
        }
        Command::Worker => {
            let archive = Archive::open(settings).await?;
            let workers = archive.settings.workers.max(1);
            crate::jobs::Worker::spawn_all(&archive, workers);
            tracing::info!(
                workers,
                database = ?archive.db.backend(),
                "holdfast job workers are running (no web server)"
            );
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r?,
                _ = term.recv() => {}
            }
            // A job cut short here keeps its lease; another worker takes it over when
            // the lease ends (every job is idempotent).
            tracing::info!("stopping the job workers");
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
        Command::Mail(MailCommand::Status { limit }) => {
            let archive = Archive::open(settings).await?;
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
        Command::Mail(MailCommand::Retry) => {
            let archive = Archive::open(settings).await?;
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
        Command::Search(SearchCommand::Reindex) => {
            let archive = Archive::open(settings).await?;
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
        Command::Fixity(cmd) => return fixity(settings, cmd).await,
        Command::Partner(cmd) => return partner(settings, cmd).await,
        Command::Replicate(cmd) => return replicate(settings, cmd).await,
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
    let results = challenge::run(&archive.federation(), &filter)
        .await
        .map_err(describe)?;
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

/// `holdfast partner ...`.
async fn partner(settings: Settings, cmd: PartnerCommand) -> anyhow::Result<()> {
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
async fn replicate(settings: Settings, cmd: ReplicateCommand) -> anyhow::Result<()> {
    use crate::federation::replica;
    use std::io::IsTerminal;
    let archive = Archive::open(settings).await?;
    match cmd {
        ReplicateCommand::Challenge { partner, dataset } => {
            return replicate_challenge(&archive, partner, dataset).await
        }
        ReplicateCommand::Add { source, token } => {
            let s = replica::add(&archive.federation(), &source, token)
                .await
                .map_err(describe)?;
            println!(
                "added source {} (id {}); the worker pulls it now, `holdfast replicate run` pulls it here",
                s.base_url, s.id
            );
        }
        ReplicateCommand::List => {
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
        }
        ReplicateCommand::Run { source } => {
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
                anyhow::bail!(
                    "no replication source: add one with `holdfast replicate add --source URL`"
                );
            }
            let mut failures = 0;
            for s in sources {
                let bar = progress_bar(0, std::io::stderr().is_terminal());
                bar.set_message(s.base_url.clone());
                let progress = std::sync::Arc::new(BarProgress(bar.clone()));
                let summary = replica::pull(&archive.federation(), &s, progress)
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
                anyhow::bail!("{failures} replication failure(s); nothing that failed verification was stored");
            }
        }
    }
    Ok(())
}

/// `holdfast fixity ...`; exit code 1 (an error) when something failed.
async fn fixity(settings: Settings, cmd: FixityCommand) -> anyhow::Result<()> {
    use crate::fixity::files::Selection;
    use std::io::IsTerminal;
    let archive = Archive::open(settings).await?;
    match cmd {
        FixityCommand::Run {
            all,
            dataset,
            threads,
            rate,
        } => {
            let selection = match (all, dataset) {
                (_, Some(id)) => Selection::Dataset(id),
                (true, None) => Selection::All,
                (false, None) => Selection::CheckedBefore(
                    chrono::Utc::now().naive_utc() - archive.settings.fixity.cycle,
                ),
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
            let summary =
                crate::fixity::run::run_selection(&archive.fixity(), selection, &options, on_bytes)
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
        }
        FixityCommand::Repair { dataset } => {
            let report = crate::fixity::repair::repair(&archive.fixity(), dataset)
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
        }
        FixityCommand::Status => {
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
        // The command line is the operator's: the detail helps, and goes nowhere else.
        DomainError::Internal(detail) => anyhow::anyhow!("internal error: {detail}"),
        other => anyhow::anyhow!("{other}"),
    }
}
