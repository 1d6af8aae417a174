//! Validation of [`Metadata`] for deposit. Collects every problem, each with a
//! DataCite-style path (`creators[1].nameIdentifiers[0].nameIdentifier`).
//!
//! Run [`super::normalize`] first: validation accepts the forms `normalize`
//! rewrites (bare ORCID/ROR ids, DOI URLs, lowercase SPDX ids, rights given by
//! id or URL only) but otherwise checks the record as it is.

use super::ids::excerpt;
use super::model::*;
use super::vocab;
use super::FieldError;

mod describe;
mod geo;
mod parties;
mod rights;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Longest description (abstract, methods, ...), in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// Longest value of any other text field, in characters.
pub const MAX_STRING_CHARS: usize = 10_000;
/// Most entries in a top-level list (`creators`, `subjects`, ...).
pub const MAX_LIST_LEN: usize = 1_000;
/// Most entries in a nested list (a creator's `nameIdentifiers` / `affiliation`).
pub const MAX_NESTED_LIST_LEN: usize = 100;
/// At most this many errors are reported, then one final error with field `""`.
pub const MAX_ERRORS: usize = 500;

/// Validate deposit metadata, returning all problems found.
pub fn validate(m: &Metadata) -> Result<(), Vec<FieldError>> {
    let mut c = Check::default();
    c.titles(&m.titles);
    c.creators(&m.creators);
    c.descriptions(m);
    c.subjects(&m.subjects);
    c.types(m.types.as_ref());
    c.rights(&m.rights_list);
    c.funding(&m.funding_references);
    c.geo(&m.geo_locations);
    c.dates(&m.dates);
    c.related(&m.related_identifiers);
    c.top_level(m);
    if c.errors.is_empty() {
        Ok(())
    } else {
        if c.errors.len() > MAX_ERRORS {
            c.errors.truncate(MAX_ERRORS);
            c.errors.push(FieldError::new(
                "",
                format!("More than {MAX_ERRORS} problems were found; fix these and check again"),
            ));
        }
        Err(c.errors)
    }
}

#[derive(Default)]
struct Check {
    errors: Vec<FieldError>,
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn fmt_count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Does `s` look like a web address (the check DataCite's own server applies)?
pub(super) fn is_url(s: &str) -> bool {
    let s = s.trim();
    ["https://", "http://", "ftp://"]
        .iter()
        .any(|p| s.len() > p.len() && s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
        && !s.chars().any(char::is_whitespace)
}

/// Strip `https://doi.org/`, `http://dx.doi.org/`, `doi:` from a DOI.
pub(super) fn strip_doi_prefix(s: &str) -> &str {
    let t = s.trim();
    for p in [
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "doi:",
    ] {
        if t.len() >= p.len() && t.is_char_boundary(p.len()) && t[..p.len()].eq_ignore_ascii_case(p)
        {
            return t[p.len()..].trim_start();
        }
    }
    t
}

/// `10.<4-9 digits>/<suffix without spaces>`.
pub(super) fn is_doi(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("10.") else {
        return false;
    };
    let Some((registrant, suffix)) = rest.split_once('/') else {
        return false;
    };
    let reg_ok =
        (4..=9).contains(&registrant.len()) && registrant.bytes().all(|b| b.is_ascii_digit());
    reg_ok && !suffix.is_empty() && !suffix.chars().any(char::is_whitespace)
}

/// A light BCP 47 check: `en`, `de-CH`, `zh-Hant-TW`.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Check {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        if self.errors.len() <= MAX_ERRORS {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// Length check; true when within `max`.
    fn length(&mut self, path: &str, label: &str, value: &str, max: usize) -> bool {
        // Cheap upper bound first: a UTF-8 char is at least one byte.
        if value.len() <= max {
            return true;
        }
        let n = chars(value);
        if n > max {
            self.add(
                path,
                format!(
                    "{label} is too long ({} characters); shorten it to at most {} characters",
                    fmt_count(n),
                    fmt_count(max)
                ),
            );
            return false;
        }
        true
    }

    /// Non-empty and within `max`; true when both hold.
    fn required(
        &mut self,
        path: &str,
        label: &str,
        value: &str,
        max: usize,
        missing: &str,
    ) -> bool {
        if value.trim().is_empty() {
            self.add(path, missing);
            return false;
        }
        self.length(path, label, value, max)
    }

    fn optional(&mut self, path: &str, label: &str, value: &Option<String>, max: usize) {
        if let Some(v) = value {
            self.length(path, label, v, max);
        }
    }

    fn optional_url(&mut self, path: &str, label: &str, value: &Option<String>) {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            if self.length(path, label, v, MAX_STRING_CHARS) && !is_url(v) {
                self.add(
                    path,
                    format!(
                        "{label} \"{}\" is not a web address; it must start with https:// (or http://)",
                        excerpt(v)
                    ),
                );
            }
        }
    }

    /// Value must be in `list`; `label` names the property for the message.
    fn in_vocab(&mut self, path: &str, label: &str, value: &str, list: &[&'static str]) -> bool {
        if vocab::contains(list, value.trim()) {
            return true;
        }
        let msg = match vocab::canonical(list, value.trim()) {
            Some(canon) => format!("{label} \"{}\" must be written \"{canon}\"", excerpt(value)),
            None => format!(
                "\"{}\" is not a valid {label}; choose one of: {}",
                excerpt(value),
                list.join(", ")
            ),
        };
        self.add(path, msg);
        false
    }

    fn required_vocab(&mut self, path: &str, label: &str, value: &str, list: &[&'static str]) {
        if value.trim().is_empty() {
            self.add(path, format!("Choose a {label}"));
        } else {
            self.in_vocab(path, label, value, list);
        }
    }

    fn list_len(&mut self, path: &str, label: &str, len: usize, max: usize) -> bool {
        if len > max {
            self.add(
                path,
                format!(
                    "Too many {label} ({}); at most {} are allowed",
                    fmt_count(len),
                    fmt_count(max)
                ),
            );
            return false;
        }
        true
    }

    fn language(&mut self, path: &str, lang: &Option<String>) {
        if let Some(l) = lang.as_deref().filter(|s| !s.trim().is_empty()) {
            if !is_language_tag(l.trim()) {
                self.add(
                    path,
                    format!(
                        "\"{}\" is not a language code; use a code such as en, de or fr-CA",
                        excerpt(l)
                    ),
                );
            }
        }
    }
}
