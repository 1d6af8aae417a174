//! `HOLDFAST_SMTP_URL` and `HOLDFAST_MAIL_FROM`, parsed when the settings load: a bad
//! mail server URL or sender address stops the start with a clear message. The mail
//! module sends with what is parsed here.

use lettre::message::Mailbox;

/// How the connection to the mail server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://host:port`: no TLS, for a local relay (and tests).
    Plain,
    /// `smtp://…?tls=starttls`: the server must offer STARTTLS, or nothing is sent.
    StartTls,
    /// `smtps://…`: TLS from the first byte (port 465).
    Implicit,
}

/// A parsed `HOLDFAST_SMTP_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// User name and password, percent-decoded.
    pub credentials: Option<(String, String)>,
}

// Never print the password, not even in debug output.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

const URL_FORMS: &str = "use smtp://host:port (no TLS), \
     smtp://user:password@host:587?tls=starttls or smtps://user:password@host:465";

impl SmtpConfig {
    /// Parses a mail server URL. Errors say what is wrong and never repeat the password.
    pub fn parse(raw: &str) -> Result<SmtpConfig, String> {
        let url = url::Url::parse(raw.trim())
            .map_err(|e| format!("'{}' is not a URL ({e}); {URL_FORMS}", redact(raw)))?;
        let shown = redact(raw);
        let mut tls: Option<String> = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.to_ascii_lowercase()),
                "tls" => return Err(format!("'{shown}' names tls twice")),
                other => {
                    return Err(format!(
                        "'{shown}' has an unknown parameter '{other}'; the only one is tls=starttls"
                    ))
                }
            }
        }
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtp", None | Some("none")) => SmtpSecurity::Plain,
            ("smtp", Some("starttls" | "required")) => SmtpSecurity::StartTls,
            ("smtps", None | Some("implicit" | "wrapper")) => SmtpSecurity::Implicit,
            ("smtp" | "smtps", Some(other)) => {
                return Err(format!(
                    "'{shown}': tls={other} is not understood; {URL_FORMS}"
                ))
            }
            (scheme, _) => {
                return Err(format!(
                    "'{shown}': the scheme '{scheme}' is not a mail server's; {URL_FORMS}"
                ))
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(format!("'{shown}' names no host; {URL_FORMS}")),
        };
        if !matches!(url.path(), "" | "/") {
            return Err(format!(
                "'{shown}' has a path '{}'; a mail server URL has none",
                url.path()
            ));
        }
        if url.fragment().is_some() {
            return Err(format!("'{shown}' has a #fragment; remove it"));
        }
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::Plain => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Implicit => 465,
        });
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => {
                Some((decode(user, &shown)?, decode(password, &shown)?))
            }
            _ => {
                return Err(format!(
                    "'{shown}' has a user name without a password (or the reverse); \
                     write smtp://user:password@host, percent-encoding ':' '@' '/' in them"
                ))
            }
        };
        Ok(SmtpConfig {
            host,
            port,
            security,
            credentials,
        })
    }

    /// The URL again, with the password replaced by `***` (for logs).
    pub fn describe(&self) -> String {
        let scheme = match self.security {
            SmtpSecurity::Implicit => "smtps",
            _ => "smtp",
        };
        let user = match &self.credentials {
            Some((user, _)) => format!(
                "{}:***@",
                percent_encoding::utf8_percent_encode(user, percent_encoding::NON_ALPHANUMERIC)
            ),
            None => String::new(),
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let query = match self.security {
            SmtpSecurity::StartTls => "?tls=starttls",
            _ => "",
        };
        format!("{scheme}://{user}{host}:{}{query}", self.port)
    }

    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

fn decode(part: &str, shown: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("'{shown}': the user name or password is not valid UTF-8"))
}

/// A URL for messages: everything between the first ':' after the scheme and the
/// last '@' becomes `***`, so even a password with unencoded '/', '?' or '#' in it
/// never shows (a stray '@' elsewhere only hides more than needed).
fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let user: String = user.chars().take_while(|c| !"/?#".contains(*c)).collect();
            format!("{scheme}://{user}:***@{host}")
        }
        None => raw.to_string(),
    }
}

/// Checks the mail settings at start: a bad SMTP URL or sender address stops the start
/// with a clear message.
pub fn validate_settings(smtp_url: Option<&str>, mail_from: &str) -> Result<(), String> {
    if let Some(url) = smtp_url {
        SmtpConfig::parse(url).map_err(|e| format!("HOLDFAST_SMTP_URL: {e}"))?;
    }
    parse_from(mail_from)?;
    Ok(())
}

pub fn parse_from(mail_from: &str) -> Result<Mailbox, String> {
    mail_from.parse::<Mailbox>().map_err(|e| {
        format!(
            "HOLDFAST_MAIL_FROM '{mail_from}' is not a mail address ({e}); \
             write archive@example.org or \"Example Archive <archive@example.org>\""
        )
    })
}
