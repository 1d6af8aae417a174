//! The real `holdfast` binary as child processes: an archive's folder, database and
//! settings ([`Home`]), its commands ([`Home::cli`]), and servers and workers
//! ([`Process`]) that are killed when dropped, however the test ends, with their logs
//! kept for the failure message.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::app::{fresh_postgres_schema, Backend};
use super::ports::{free_port, lost_the_port};
use super::Error;

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_holdfast")
}

/// One archive as the command line sees it: its data folder, its database and the
/// settings every process of it gets.
#[derive(Clone, Debug)]
pub struct Home {
    pub data_dir: PathBuf,
    pub database_url: String,
    env: Vec<(String, String)>,
}

/// API tokens of one account of each role, made with the command line.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub depositor: String,
    pub curator: String,
    pub admin: String,
}

impl Home {
    /// The archive `root/name` on `backend`: a SQLite file inside its folder, or a
    /// fresh PostgreSQL schema. Nothing is created until a command runs.
    pub fn new(root: &Path, name: &str, backend: Backend) -> Result<Home, Error> {
        let data_dir = root.join(name);
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", data_dir.join("holdfast.db").display()),
            Backend::Postgres => fresh_postgres_schema()?,
        };
        Ok(Home::on(data_dir, &database_url))
    }

    /// An archive as a fresh install runs it: no database URL, so SQLite inside the
    /// data folder.
    pub fn default_database(data_dir: PathBuf) -> Home {
        Home::on(data_dir, "")
    }

    /// A process's own data folder on a database others use too (several nodes).
    pub fn on(data_dir: PathBuf, database_url: &str) -> Home {
        Home {
            data_dir,
            database_url: database_url.to_string(),
            env: Vec::new(),
        }
    }

    /// A setting (`HOLDFAST_…`) every process of this archive gets.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Home {
        self.set(key, value);
        self
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.into()));
    }

    /// The same settings with another data folder (another machine of one cluster).
    pub fn with_data_dir(&self, data_dir: PathBuf) -> Home {
        Home {
            data_dir,
            ..self.clone()
        }
    }

    /// `holdfast` with nothing of the test's environment but this archive's settings.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(binary());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOLDFAST_DATA_DIR", &self.data_dir)
            .env("HOLDFAST_JOB_BACKOFF_MS", "200")
            .env("HOLDFAST_LOG", "warn")
            .stdin(Stdio::null());
        if !self.database_url.is_empty() {
            cmd.env("HOLDFAST_DATABASE_URL", &self.database_url);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Result<Output, Error> {
        Ok(self.command().args(args).output()?)
    }

    /// A command that must succeed; its standard output, trimmed.
    pub fn cli(&self, args: &[&str]) -> Result<String, Error> {
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(format!(
                "holdfast {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    /// A command that must fail; its standard output and error.
    pub fn cli_failing(&self, args: &[&str]) -> Result<String, Error> {
        let out = self.run(args)?;
        if out.status.success() {
            return Err(format!(
                "holdfast {args:?} succeeded: {}",
                String::from_utf8_lossy(&out.stdout)
            )
            .into());
        }
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    /// An account made with `holdfast user add`; its generated password.
    pub fn add_user(&self, email: &str, role: &str) -> Result<String, Error> {
        self.cli(&[
            "user", "add", "--email", email, "--name", "Someone", "--role", role,
        ])
    }

    /// Migrates the database and makes a depositor, a curator and an admin with tokens.
    pub fn accounts(&self) -> Result<Tokens, Error> {
        self.cli(&["migrate"])?;
        let mut tokens = Vec::new();
        for (email, role) in [
            ("pi@example.org", "depositor"),
            ("cura@example.org", "curator"),
            ("adm@example.org", "admin"),
        ] {
            self.add_user(email, role)?;
            tokens.push(self.cli(&["token", "create", "--email", email])?);
        }
        Ok(Tokens {
            depositor: tokens[0].clone(),
            curator: tokens[1].clone(),
            admin: tokens[2].clone(),
        })
    }

    /// `holdfast serve` on a free port, with workers; ready once it answers.
    pub async fn serve(&self) -> Result<Process, Error> {
        self.start(Serve::default()).await
    }

    /// A server as `how` says; ready once it logged that it serves and answers
    /// /healthz. A port another program took meanwhile is replaced by another.
    pub async fn start(&self, how: Serve) -> Result<Process, Error> {
        let tries = if how.port.is_some() { 1 } else { 5 };
        let mut last = String::new();
        for _ in 0..tries {
            let port = match how.port {
                Some(port) => port,
                None => free_port()?,
            };
            let base = format!("http://127.0.0.1:{port}");
            let mut cmd = self.command();
            cmd.args(if how.args.is_empty() {
                vec!["serve".to_string()]
            } else {
                how.args.clone()
            })
            .env("HOLDFAST_BIND", format!("127.0.0.1:{port}"))
            .env(
                "HOLDFAST_BASE_URL",
                how.base_url.as_deref().unwrap_or(&base),
            )
            .env("HOLDFAST_LOG", "warn,holdfast=info");
            for (k, v) in &how.env {
                cmd.env(k, v);
            }
            let log = how.log.clone().unwrap_or_else(|| self.log_path("serve"));
            let mut server = Process::spawn(cmd, &log, Some(port))?;
            match server.ready(how.may_die_at_start).await {
                Ok(()) => return Ok(server),
                Err(e) if lost_the_port(&server.log_text()) => last = e.to_string(),
                Err(e) => return Err(e),
            }
        }
        Err(format!("holdfast found no free port: {last}").into())
    }

    /// A process that serves nothing (`holdfast worker`), its log kept.
    pub fn spawn(&self, args: &[&str]) -> Result<Process, Error> {
        let mut cmd = self.command();
        cmd.args(args).env("HOLDFAST_LOG", "warn,holdfast=info");
        Process::spawn(
            cmd,
            &self.log_path(args.first().unwrap_or(&"holdfast")),
            None,
        )
    }

    /// A new log file beside the data folder.
    fn log_path(&self, what: &str) -> PathBuf {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        self.data_dir.with_extension(format!("{what}-{n}.log"))
    }
}

/// How [`Home::start`] starts a server.
#[derive(Clone, Debug, Default)]
pub struct Serve {
    /// The arguments (default: `serve`).
    pub args: Vec<String>,
    /// Settings for this process only.
    pub env: Vec<(String, String)>,
    /// A port chosen beforehand (its URL was given out already); default: a free one.
    pub port: Option<u16>,
    /// `HOLDFAST_BASE_URL` (default: the server's own address).
    pub base_url: Option<String>,
    /// Where the log goes (default: a new file beside the data folder).
    pub log: Option<PathBuf>,
    /// A server killed (SIGKILL) while starting, as at a crash point reached at start,
    /// is handed back instead of failing.
    pub may_die_at_start: bool,
}

impl Serve {
    pub fn args(args: &[&str]) -> Serve {
        Serve {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Serve::default()
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Serve {
        self.env.push((key.to_string(), value.into()));
        self
    }
}

/// A child process, killed when dropped; its standard output and error go to a log.
pub struct Process {
    child: Child,
    pub port: Option<u16>,
    log: PathBuf,
}

impl Process {
    pub fn spawn(mut cmd: Command, log: &Path, port: Option<u16>) -> Result<Process, Error> {
        if let Some(folder) = log.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let file = std::fs::File::create(log)?;
        cmd.stdout(file.try_clone()?).stderr(file);
        Ok(Process {
            child: cmd.spawn()?,
            port,
            log: log.to_path_buf(),
        })
    }

    /// The server's address (`http://127.0.0.1:PORT`).
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port.unwrap_or_default())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `within` for the process to end; its exit status, or None.
    pub async fn wait_exit(&mut self, within: Duration) -> Result<Option<ExitStatus>, Error> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the server logged that it serves and answers /healthz with 200.
    async fn ready(&mut self, may_die: bool) -> Result<(), Error> {
        use std::os::unix::process::ExitStatusExt;
        let client = reqwest::Client::new();
        let health = format!("{}/healthz", self.base());
        let deadline = Instant::now() + super::wait::PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                if may_die && status.signal() == Some(9) {
                    return Ok(());
                }
                return Err(
                    format!("holdfast exited at start ({status}):\n{}", self.log_tail()).into(),
                );
            }
            // Only once it says it serves is an answer on the port its own.
            if self.log_text().contains("holdfast is serving")
                && client
                    .get(&health)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "holdfast did not answer {health} within a minute:\n{}",
                    self.log_tail()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
