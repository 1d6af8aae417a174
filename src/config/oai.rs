//! OAI-PMH Identify's `adminEmail`: the OAI-PMH 2.0 schema accepts only addresses that
//! match `\S+@(\S+\.)+\S+` (a dot in the domain), so `holdfast@localhost` makes every
//! Identify answer invalid. A configured address must match; otherwise the mail-from
//! address is used when it matches, else one at the base URL's host.

/// The address Identify names, or why the configured one cannot be used.
pub fn admin_email(
    configured: Option<&str>,
    mail_from: &str,
    base_url: &str,
) -> Result<String, String> {
    if let Some(configured) = configured.map(str::trim).filter(|c| !c.is_empty()) {
        let address = bare_address(configured);
        return if is_oai_email(address) {
            Ok(address.to_string())
        } else {
            Err(format!(
                "HOLDFAST_OAI_ADMIN_EMAIL '{configured}' is not an address OAI-PMH accepts: \
                 it needs a domain with a dot, like archive-admin@example.org"
            ))
        };
    }
    let from = bare_address(mail_from);
    if is_oai_email(from) {
        return Ok(from.to_string());
    }
    let host = url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let derived = format!("holdfast@{host}");
    Ok(if is_oai_email(&derived) {
        derived
    } else {
        // A host without a dot (localhost): the reserved local domain keeps it valid.
        format!("holdfast@{}.localdomain", host_or_localhost(&host))
    })
}

fn host_or_localhost(host: &str) -> &str {
    if host.is_empty() || host.contains(['[', ']', ':']) {
        "localhost"
    } else {
        host
    }
}

/// `Name <a@b.org>` → `a@b.org`.
fn bare_address(mail: &str) -> &str {
    match (mail.find('<'), mail.rfind('>')) {
        (Some(a), Some(b)) if a < b => mail[a + 1..b].trim(),
        _ => mail.trim(),
    }
}

/// The schema's `emailType`: `\S+@(\S+\.)+\S+`.
pub fn is_oai_email(s: &str) -> bool {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return false;
    }
    // Some `@` must have text before it and, after it, a dot with text on both sides.
    s.match_indices('@').any(|(at, _)| {
        let domain = &s[at + 1..];
        at > 0
            && domain
                .match_indices('.')
                .any(|(dot, _)| dot > 0 && dot + 1 < domain.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_pattern() {
        for ok in [
            "a@b.org",
            "holdfast@127.0.0.1",
            "x@localhost.localdomain",
            "a@b@c.d",
        ] {
            assert!(is_oai_email(ok), "{ok}");
        }
        for bad in [
            "holdfast@localhost",
            "a@.org",
            "a@b.",
            "@b.org",
            "a b@c.org",
            "",
        ] {
            assert!(!is_oai_email(bad), "{bad}");
        }
    }

    #[test]
    fn a_configured_address_must_be_valid() {
        assert_eq!(
            admin_email(Some("Archive <admin@lab.org>"), "x@localhost", "http://h"),
            Ok("admin@lab.org".into())
        );
        let refused = admin_email(Some("admin@localhost"), "x@lab.org", "http://h");
        assert!(refused.is_err_and(|e| e.contains("HOLDFAST_OAI_ADMIN_EMAIL")));
    }

    #[test]
    fn without_one_the_mail_from_address_or_the_base_urls_host() {
        let derive = |from: &str, base: &str| admin_email(None, from, base);
        assert_eq!(
            derive("news@lab.org", "http://x"),
            Ok("news@lab.org".into())
        );
        assert_eq!(
            derive("holdfast@localhost", "https://data.lab.org:8443/archive"),
            Ok("holdfast@data.lab.org".into())
        );
        assert_eq!(
            derive("holdfast@localhost", "http://127.0.0.1:8080"),
            Ok("holdfast@127.0.0.1".into())
        );
        assert_eq!(
            derive("holdfast@localhost", "http://localhost:8080"),
            Ok("holdfast@localhost.localdomain".into())
        );
        assert_eq!(
            derive("holdfast@localhost", "http://[::1]:8080"),
            Ok("holdfast@localhost.localdomain".into())
        );
    }
}
