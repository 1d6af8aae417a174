//! Mail the archive sent, read back as parsed messages: the `.eml` files it writes
//! under its data folder when no SMTP server is configured ([`TestApp::mail`]), or what
//! a real SMTP server received ([`SmtpServer`], aiosmtpd with its Maildir handler).

use mail_parser::{MessageParser, MimeHeaders};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::app::TestApp;
use super::checkers::python;
use super::ports::{free_port, lost_the_port};
use super::wait::{self, Check};
use super::Error;

/// One message, parsed.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The file it was read from.
    pub file: PathBuf,
    pub raw: Vec<u8>,
    pub to: Vec<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    pub fn parse(file: PathBuf, raw: Vec<u8>) -> Result<Mail, Error> {
        let message = MessageParser::default()
            .parse(&raw)
            .ok_or_else(|| format!("{} does not parse as a message", file.display()))?;
        let addresses = |list: Option<&mail_parser::Address>| -> Vec<String> {
            list.map(|a| {
                a.iter()
                    .filter_map(|a| a.address().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
        };
        let sender = message.from().and_then(|a| a.first());
        Ok(Mail {
            to: addresses(message.to()),
            from: sender.and_then(|a| a.address()).map(str::to_string),
            from_name: sender.and_then(|a| a.name()).map(str::to_string),
            subject: message.subject().unwrap_or_default().to_string(),
            text: message.body_text(0).unwrap_or_default().to_string(),
            html: message.body_html(0).unwrap_or_default().to_string(),
            file,
            raw,
        })
    }

    /// The whole parsed message, for headers and parts the fields above leave out.
    pub fn message(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(&self.raw)
            .expect("parsed once already")
    }

    /// A header's text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.message()
            .header(name)
            .and_then(|v| v.as_text())
            .map(str::to_string)
    }

    /// The MIME type of the message (`multipart/alternative`).
    pub fn content_type(&self) -> Option<String> {
        let message = self.message();
        let ct = message.content_type()?;
        Some(match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_string(),
        })
    }

    pub fn is_to(&self, address: &str) -> bool {
        self.to.iter().any(|a| a == address)
    }
}

/// Every message file in `dirs`, oldest first (by name, then modification time).
fn read_messages(dirs: &[PathBuf]) -> Result<Vec<Mail>, Error> {
    let mut files = Vec::new();
    for dir in dirs {
        if !dir.exists() {
            continue;
        }
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.push((entry.metadata()?.modified()?, entry.path()));
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| {
            let raw = std::fs::read(&path)?;
            Mail::parse(path, raw)
        })
        .collect()
}

impl TestApp {
    /// The folder the archive writes `.eml` files to when no SMTP server is set.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// Runs the due jobs (mail delivery among them) and reads every message written so
    /// far, oldest first.
    pub async fn mail(&self) -> Result<Vec<Mail>, Error> {
        self.run_jobs().await?;
        let mut mail = read_messages(&[self.mail_dir()])?;
        // The names start with the time written, then the outbox id.
        mail.sort_by(|a, b| a.file.file_name().cmp(&b.file.file_name()));
        Ok(mail)
    }

    /// The messages sent to `address`.
    pub async fn mail_to(&self, address: &str) -> Result<Vec<Mail>, Error> {
        Ok(self
            .mail()
            .await?
            .into_iter()
            .filter(|m| m.is_to(address))
            .collect())
    }

    /// The outbox as the operator's tools see it (state, attempts, errors), for
    /// journeys about delivery itself.
    pub async fn outbox(&self) -> Result<Vec<holdfast::mail::outbox::OutboxRow>, Error> {
        Ok(self
            .archive
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::outbox;
                use holdfast::mail::outbox::OutboxRow;
                Ok(outbox::table
                    .order(outbox::id.asc())
                    .select(OutboxRow::as_select())
                    .load(conn)?)
            })
            .await?)
    }
}

impl TestApp {
    /// Marks a sent message as failed for good, as if its last attempt had failed
    /// (journeys about `holdfast mail retry` start from there).
    pub async fn fail_mail(&self, outbox_id: i64) -> Result<(), Error> {
        self.archive
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::outbox;
                diesel::update(outbox::table.find(outbox_id))
                    .set((
                        outbox::state.eq("failed"),
                        outbox::sent_at.eq(None::<chrono::NaiveDateTime>),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Sets how many attempts a message has had (journeys about the last attempt).
    pub async fn set_mail_attempts(&self, outbox_id: i64, attempts: i32) -> Result<(), Error> {
        self.archive
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::outbox;
                diesel::update(outbox::table.find(outbox_id))
                    .set(outbox::attempts.eq(attempts))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// (state, last error) of the jobs of one kind, for journeys about retries.
    pub async fn jobs_of_kind(
        &self,
        kind: &'static str,
    ) -> Result<Vec<(String, Option<String>)>, Error> {
        Ok(self
            .archive
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::jobs;
                Ok(jobs::table
                    .filter(jobs::kind.eq(kind))
                    .select((jobs::state, jobs::last_error))
                    .load(conn)?)
            })
            .await?)
    }
}

/// A real SMTP server: `python -m aiosmtpd` with its Maildir handler, one file per
/// message received. Killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts aiosmtpd on a free port.
    pub async fn start() -> Result<SmtpServer, Error> {
        for _ in 0..5 {
            match SmtpServer::start_on(free_port()?).await {
                Err(e) if lost_the_port(&e.to_string()) => continue,
                other => return other,
            }
        }
        Err("aiosmtpd found no free port in 5 tries".into())
    }

    /// Starts aiosmtpd on `port` (one a journey told the archive before the server was
    /// up) and waits until it greets. Fails, never skips, when aiosmtpd is missing.
    pub async fn start_on(port: u16) -> Result<SmtpServer, Error> {
        let python = python()?;
        let dir = tempfile::tempdir()?;
        let maildir = dir.path().join("maildir");
        let log_path = dir.path().join("aiosmtpd.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        let mut server = SmtpServer {
            child,
            port,
            maildir,
            _dir: dir,
        };
        wait::eventually("aiosmtpd to greet", || {
            let exited = server.child.try_wait();
            let log_path = log_path.clone();
            async move {
                if let Some(status) = exited? {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    return Err(format!(
                        "aiosmtpd exited at start ({status}); scripts/test installs it from \
                         scripts/test-tools.txt.\n{log}"
                    )
                    .into());
                }
                Ok(if greets(port).await {
                    Check::Done(())
                } else {
                    Check::NotYet(format!("no greeting on port {port}"))
                })
            }
        })
        .await?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, oldest first.
    pub fn received(&self) -> Result<Vec<Mail>, Error> {
        read_messages(&[self.maildir.join("new"), self.maildir.join("cur")])
    }

    /// Waits until at least `count` messages arrived (the server is another process).
    pub async fn wait_for(&self, count: usize) -> Result<Vec<Mail>, Error> {
        wait::eventually(
            &format!("aiosmtpd to receive {count} message(s)"),
            || async {
                let got = self.received()?;
                Ok(if got.len() >= count {
                    Check::Done(got)
                } else {
                    Check::NotYet(format!("{} message(s)", got.len()))
                })
            },
        )
        .await
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when an SMTP server on `port` sends its 220 greeting.
async fn greets(port: u16) -> bool {
    let Ok(Ok(stream)) = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(2), reader.read_line(&mut line)).await;
    let ok = matches!(read, Ok(Ok(n)) if n > 0) && line.starts_with("220");
    let _ = reader.get_mut().write_all(b"QUIT\r\n").await;
    ok
}

/// The name of a file, for messages.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}
