//! Where messages go: an SMTP server (HOLDFAST_SMTP_URL), or .eml files under
//! DATA_DIR/mail when none is configured. Both get the same bytes: the full RFC 5322
//! message built here.

use chrono::NaiveDateTime;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::smtp::{parse_from, SmtpConfig, SmtpSecurity};
use crate::config::Settings;

/// How long one SMTP conversation may take before it counts as failed (and is retried).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// One message as it leaves the outbox.
pub struct Envelope<'a> {
    pub id: i64,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub created_at: NaiveDateTime,
}

/// Builds the full message. The Date is when the notification was made and the
/// Message-ID comes from the outbox id, so a retry sends the same message again (a
/// receiving system can tell it is a duplicate).
pub fn build_message(from: &Mailbox, mail: &Envelope<'_>) -> Result<Message, String> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| format!("the recipient '{}' is not a mail address ({e})", mail.to))?;
    let created = mail.created_at.and_utc();
    let domain = from.email.domain();
    let message_id = format!(
        "<holdfast.{}.{}@{domain}>",
        mail.id,
        created.timestamp_micros()
    );
    let subject: String = mail
        .subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .date(std::time::SystemTime::from(created))
        .message_id(Some(message_id))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text.to_string()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html.to_string()),
                ),
        )
        .map_err(|e| format!("the message could not be built: {e}"))
}

enum Route {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        described: String,
    },
    Files(PathBuf),
}

/// Sends built messages; one per archive, made at start.
pub struct Mailer {
    from: Mailbox,
    route: Route,
}

/// Why a message was not delivered.
#[derive(Debug)]
pub enum SendError {
    /// It can never be sent as it is (a malformed address); retrying will not help.
    Permanent(String),
    /// The server or disk failed; try again later.
    Temporary(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Permanent(m) | SendError::Temporary(m) => f.write_str(m),
        }
    }
}

impl Mailer {
    /// Builds the transport the settings name, creating the mail folder when messages
    /// are written as files.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Mailer> {
        let from = parse_from(&settings.mail_from).map_err(|e| anyhow::anyhow!(e))?;
        let route = match settings.smtp_url.as_deref() {
            Some(url) => {
                let config = SmtpConfig::parse(url)
                    .map_err(|e| anyhow::anyhow!("HOLDFAST_SMTP_URL: {e}"))?;
                let described = config.describe();
                if config.credentials.is_some()
                    && config.security == SmtpSecurity::Plain
                    && !config.is_loopback()
                {
                    tracing::warn!(
                        smtp = %described,
                        "the SMTP password will cross the network unencrypted; add ?tls=starttls or use smtps://"
                    );
                }
                let transport = smtp_transport(&config)
                    .map_err(|e| anyhow::anyhow!("HOLDFAST_SMTP_URL {described}: {e}"))?;
                tracing::debug!(smtp = %described, "mail goes through SMTP");
                Route::Smtp {
                    transport,
                    described,
                }
            }
            None => {
                let dir = settings.mail_dir();
                std::fs::create_dir_all(&dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the mail folder {}: {e}", dir.display())
                })?;
                Route::Files(dir)
            }
        };
        Ok(Mailer { from, route })
    }

    /// Where messages go, for logs and the status command (no password).
    pub fn describe(&self) -> String {
        match &self.route {
            Route::Smtp { described, .. } => described.clone(),
            Route::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Builds and delivers one message.
    pub async fn send(&self, mail: &Envelope<'_>) -> Result<(), SendError> {
        let message = build_message(&self.from, mail).map_err(SendError::Permanent)?;
        let bytes = message.formatted();
        match &self.route {
            Route::Smtp {
                transport,
                described,
            } => transport
                .send_raw(message.envelope(), &bytes)
                .await
                .map(|_| ())
                .map_err(|e| SendError::Temporary(format!("SMTP {described}: {}", smtp_error(&e)))),
            Route::Files(dir) => {
                let dir = dir.clone();
                let name = eml_name(mail.id, mail.created_at);
                tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
                    .await
                    .map_err(|e| SendError::Temporary(format!("writing the .eml file: {e}")))?
                    .map_err(|e| SendError::Temporary(format!("writing the .eml file: {e}")))
            }
        }
    }
}

fn smtp_transport(
    config: &SmtpConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.port)
        .timeout(Some(SMTP_TIMEOUT));
    builder = match config.security {
        SmtpSecurity::Plain => builder.tls(Tls::None),
        SmtpSecurity::StartTls => {
            builder.tls(Tls::Required(TlsParameters::new(config.host.clone())?))
        }
        SmtpSecurity::Implicit => {
            builder.tls(Tls::Wrapper(TlsParameters::new(config.host.clone())?))
        }
    };
    if let Some((user, password)) = &config.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// lettre's error with its causes, e.g. "Connection error: Connection refused (os error 111)".
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// `20261122T101530.123456Z-0000000042.eml`: names sort by the time the notification
/// was made, and a second delivery of the same message replaces the first file.
pub fn eml_name(id: i64, created_at: NaiveDateTime) -> String {
    format!("{}-{id:010}.eml", created_at.format("%Y%m%dT%H%M%S%.6fZ"))
}

/// Writes `bytes` as `dir/name` so that a reader sees either nothing or the whole file:
/// a temporary file in the same folder, flushed to disk, then renamed over the name.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".writing-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    // Make the rename itself durable.
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}
