//! The text and HTML bodies of a notification, from templates/mail/.

use askama::Template;

use super::Notice;
use crate::config::Settings;
use crate::error::DomainError;

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    site_name: &'a str,
    headline: &'a str,
    lines: &'a [String],
    link: &'a str,
    kind_label: &'a str,
    profile_link: &'a str,
}

/// Askama escapes every `{{ }}` of this one (an .html template): user text in the
/// headline and lines cannot add markup.
#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    subject: &'a str,
    site_name: &'a str,
    headline: &'a str,
    lines: &'a [String],
    link: &'a str,
    kind_label: &'a str,
    profile_link: &'a str,
}

/// A rendered notification, the same for every recipient.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// With the `[site name]` prefix.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The full address of a site-relative path.
pub fn full_link(base_url: &str, path: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

/// One line of text without line breaks or other control characters (for headers and
/// the headline).
fn one_line(s: &str) -> String {
    let joined: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn render(settings: &Settings, notice: &Notice) -> Result<Rendered, DomainError> {
    let link = full_link(&settings.base_url, &notice.link_path);
    let profile_link = full_link(&settings.base_url, "/profile#notifications");
    let subject = format!(
        "[{}] {}",
        one_line(&settings.site_name),
        one_line(&notice.subject)
    );
    let headline = one_line(&notice.headline);
    let lines: Vec<String> = notice
        .lines
        .iter()
        .map(|l| {
            l.replace("\r\n", "\n")
                .replace('\r', "\n")
                .trim()
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    let kind_label = notice.kind.label();
    let text = NoticeText {
        site_name: &settings.site_name,
        headline: &headline,
        lines: &lines,
        link: &link,
        kind_label,
        profile_link: &profile_link,
    }
    .render()
    .map_err(|e| DomainError::internal(format!("mail template: {e}")))?;
    let html = NoticeHtml {
        subject: &subject,
        site_name: &settings.site_name,
        headline: &headline,
        lines: &lines,
        link: &link,
        kind_label,
        profile_link: &profile_link,
    }
    .render()
    .map_err(|e| DomainError::internal(format!("mail template: {e}")))?;
    Ok(Rendered {
        subject,
        text: ensure_trailing_newline(text),
        html: ensure_trailing_newline(html),
    })
}

fn ensure_trailing_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
