//! Reference-manager formats (BibTeX, RIS, CSL-JSON) and formatted citation text.

use std::fmt::Write as _;
use std::str::FromStr;

use chrono::Datelike;
use serde_json::{json, Value};

use super::names::{initials, inverted_name, name_of, Name};
use super::{one_line, type_map, PublishedRecord};

/// Citation text styles offered on the landing page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CitationStyle {
    /// APA 7th edition.
    Apa,
    /// Chicago 17th edition, author-date.
    Chicago,
    /// Harvard (Cite Them Right).
    Harvard,
}

impl CitationStyle {
    pub const ALL: [CitationStyle; 3] = [
        CitationStyle::Apa,
        CitationStyle::Chicago,
        CitationStyle::Harvard,
    ];

    /// The value used in URLs (`?style=apa`).
    pub fn as_str(self) -> &'static str {
        match self {
            CitationStyle::Apa => "apa",
            CitationStyle::Chicago => "chicago",
            CitationStyle::Harvard => "harvard",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CitationStyle::Apa => "APA",
            CitationStyle::Chicago => "Chicago",
            CitationStyle::Harvard => "Harvard",
        }
    }
}

impl FromStr for CitationStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CitationStyle::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown citation style '{s}': use one of apa, chicago, harvard")
            })
    }
}

/// The citation of `r` in `style`, as plain text.
pub fn cite(style: CitationStyle, r: &PublishedRecord) -> String {
    match style {
        CitationStyle::Apa => apa(r),
        CitationStyle::Chicago => chicago(r),
        CitationStyle::Harvard => harvard(r),
    }
}

/// Joins with commas and a final `last_sep` ("A, B, & C"); two items get `pair_sep`.
fn join_names(names: &[String], pair_sep: &str, last_sep: &str) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a}{pair_sep}{b}"),
        [init @ .., last] => format!("{}{last_sep}{last}", init.join(", ")),
    }
}

/// Appends "." unless the text already ends in sentence punctuation.
fn with_period(s: &str) -> String {
    if s.ends_with(['.', '?', '!']) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

fn title_text(r: &PublishedRecord) -> String {
    let t = one_line(r.title());
    if t.is_empty() {
        "Untitled".to_string()
    } else {
        t
    }
}

/// Creators as "Family, G. N." (people) or their full name (organisations), the
/// form APA and Harvard share.
fn family_initials(r: &PublishedRecord) -> Vec<String> {
    r.metadata
        .creators
        .iter()
        .map(|c| match name_of(c) {
            Name::Person { family, given } => {
                let i = given.as_deref().map(initials).unwrap_or_default();
                if i.is_empty() {
                    one_line(&family)
                } else {
                    format!("{}, {i}", one_line(&family))
                }
            }
            Name::Literal(l) => one_line(&l),
        })
        .collect()
}

/// APA 7 reference for a data set:
/// `Doe, J., & Harvard Forest LTER. (2026). Title (Version 1) [Data set]. Publisher. https://doi.org/…`
pub fn apa(r: &PublishedRecord) -> String {
    let names = family_initials(r);
    // APA lists up to 20 authors; beyond that the first 19, an ellipsis, and the last.
    let authors = if names.len() > 20 {
        let mut s = names[..19].join(", ");
        s.push_str(", . . . ");
        s.push_str(&names[names.len() - 1]);
        s
    } else {
        join_names(&names, ", & ", ", & ")
    };
    let title = title_text(r);
    let kind = type_map(r.resource_type_general()).label;
    let work = format!(
        "{} (Version {}) [{kind}].",
        title.trim_end_matches('.'),
        one_line(&r.version_label())
    );
    let year = r.year();
    let publisher = with_period(&one_line(r.publisher_name()));
    if authors.is_empty() {
        // Without an author the title moves to the author position.
        format!("{work} ({year}). {publisher} {}", r.doi_url())
    } else {
        format!(
            "{} ({year}). {work} {publisher} {}",
            with_period(&authors),
            r.doi_url()
        )
    }
}

/// Names as Chicago and Harvard write them: the first inverted ("Doe, Jane"), the rest
/// in natural order ("Mary Smith") for Chicago; all inverted with initials for Harvard.
fn natural(family: &str, given: Option<&str>) -> String {
    match given {
        Some(g) => format!("{} {}", one_line(g), one_line(family)),
        None => one_line(family),
    }
}

/// Chicago author-date reference list entry:
/// `Doe, Jane, and Harvard Forest LTER. 2026. Title. Version 1. Dataset. Publisher. https://doi.org/…`
pub fn chicago(r: &PublishedRecord) -> String {
    let creators = &r.metadata.creators;
    let mut names: Vec<String> = creators
        .iter()
        .enumerate()
        .map(|(i, c)| match name_of(c) {
            Name::Person { family, given } if i == 0 => match given {
                Some(g) => format!("{}, {}", one_line(&family), one_line(&g)),
                None => one_line(&family),
            },
            Name::Person { family, given } => natural(&family, given.as_deref()),
            Name::Literal(l) => one_line(&l),
        })
        .collect();
    // Chicago 17: more than ten authors, list seven followed by "et al."
    let authors = if names.len() > 10 {
        names.truncate(7);
        format!("{}, et al", names.join(", "))
    } else {
        join_names(&names, ", and ", ", and ")
    };
    let title = with_period(&title_text(r));
    let tail = format!(
        "Version {}. {}. {} {}.",
        one_line(&r.version_label()),
        type_map(r.resource_type_general()).schema_org,
        with_period(&one_line(r.publisher_name())),
        r.doi_url()
    );
    if authors.is_empty() {
        format!("{title} {}. {tail}", r.year())
    } else {
        format!("{} {}. {title} {tail}", with_period(&authors), r.year())
    }
}

/// Harvard (Cite Them Right) reference:
/// `Doe, J. and Harvard Forest LTER (2026) Title (Version 1) [Data set]. Publisher. Available at: https://doi.org/… (Accessed: …)`
/// without the access date, which belongs to the reader.
pub fn harvard(r: &PublishedRecord) -> String {
    let names = family_initials(r);
    let authors = join_names(&names, " and ", " and ");
    let title = title_text(r);
    let work = format!(
        "{} (Version {}) [{}].",
        title.trim_end_matches('.'),
        one_line(&r.version_label()),
        type_map(r.resource_type_general()).label
    );
    let rest = format!(
        "{} Available at: {}",
        with_period(&one_line(r.publisher_name())),
        r.doi_url()
    );
    if authors.is_empty() {
        format!("{work} ({}). {rest}", r.year())
    } else {
        format!("{authors} ({}) {work} {rest}", r.year())
    }
}

/// Escapes text for a brace-delimited BibTeX field: LaTeX's special characters become
/// commands, so braces stay balanced and `%` cannot comment out the rest of the entry.
fn bib_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '&' => out.push_str("\\&"),
            '%' => out.push_str("\\%"),
            '$' => out.push_str("\\$"),
            '#' => out.push_str("\\#"),
            '_' => out.push_str("\\_"),
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            c => out.push(c),
        }
    }
    out
}

/// A name part for BibTeX's `author` field: braced when it contains a word BibTeX would
/// read as structure (" and ", a comma).
fn bib_name_part(s: &str) -> String {
    let e = bib_escape(s);
    let lower = e.to_lowercase();
    if lower.contains(" and ") || e.contains(',') {
        format!("{{{e}}}")
    } else {
        e
    }
}

/// Citation key from the DOI: BibTeX keys may not contain spaces, commas, braces, `%`,
/// `#`, `~`, `"`, `=` or backslashes.
fn bib_key(doi: &str) -> String {
    let key: String = doi
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() {
        "dataset".to_string()
    } else {
        key
    }
}

/// BibTeX `@misc` entry (what DataCite's content negotiation returns for datasets).
pub fn bibtex(r: &PublishedRecord) -> String {
    let authors: Vec<String> = r
        .metadata
        .creators
        .iter()
        .map(|c| match name_of(c) {
            Name::Person {
                family,
                given: Some(g),
            } => format!("{}, {}", bib_name_part(&family), bib_name_part(&g)),
            Name::Person { family, .. } => bib_name_part(&family),
            // Double braces: an organisation is one "last name", never split into parts.
            Name::Literal(l) => format!("{{{}}}", bib_escape(&l)),
        })
        .collect();
    let url = r.doi_url();
    let mut fields: Vec<(&str, String)> = Vec::new();
    if !authors.is_empty() {
        fields.push(("author", authors.join(" and ")));
    }
    // Braced again so BibTeX styles keep the title's capitalisation.
    fields.push(("title", format!("{{{}}}", bib_escape(r.title()))));
    fields.push(("year", r.year().to_string()));
    fields.push(("month", r.published.month().to_string()));
    fields.push(("publisher", bib_escape(r.publisher_name())));
    fields.push(("version", bib_escape(&r.version_label())));
    // DOI and URL are percent-encoded, so they hold no LaTeX specials but `%`.
    fields.push(("doi", bib_escape(r.doi)));
    fields.push(("url", url.replace('%', "\\%")));
    let keywords = r.keywords();
    if !keywords.is_empty() {
        let k: Vec<String> = keywords.iter().map(|k| bib_escape(k)).collect();
        fields.push(("keywords", k.join(", ")));
    }
    if let Some(a) = r.abstract_text() {
        fields.push(("abstract", bib_escape(a)));
    }
    if let Some(l) = r.license_url() {
        fields.push(("copyright", bib_escape(&l)));
    }
    if let Some(lang) = r
        .metadata
        .language
        .as_deref()
        .filter(|l| !l.trim().is_empty())
    {
        fields.push(("language", bib_escape(lang)));
    }
    let ty = type_map(r.resource_type_general()).bibtex;
    let mut out = format!("@{ty}{{{},\n", bib_key(r.doi));
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (i, (k, v)) in fields.iter().enumerate() {
        let comma = if i + 1 < fields.len() { "," } else { "" };
        let _ = writeln!(out, "  {k:<width$} = {{{v}}}{comma}");
    }
    out.push_str("}\n");
    out
}

/// One RIS line; values are single-line so a newline cannot start a forged tag.
fn ris_line(out: &mut String, tag: &str, value: &str) {
    let v = one_line(value);
    if !v.is_empty() {
        let _ = write!(out, "{tag}  - {v}\r\n");
    }
}

/// RIS record (`TY  - DATA` … `ER  - `), CRLF line ends as the format specifies.
pub fn ris(r: &PublishedRecord) -> String {
    let mut out = String::new();
    ris_line(&mut out, "TY", type_map(r.resource_type_general()).ris);
    for c in &r.metadata.creators {
        ris_line(&mut out, "AU", &inverted_name(c));
    }
    ris_line(&mut out, "TI", r.title());
    ris_line(&mut out, "PY", &r.year().to_string());
    ris_line(&mut out, "DA", &r.published.format("%Y/%m/%d").to_string());
    ris_line(&mut out, "PB", r.publisher_name());
    ris_line(&mut out, "ET", &r.version_label());
    ris_line(&mut out, "DO", r.doi);
    ris_line(&mut out, "UR", &r.doi_url());
    if let Some(a) = r.abstract_text() {
        ris_line(&mut out, "AB", a);
    }
    for k in r.keywords() {
        ris_line(&mut out, "KW", k);
    }
    if let Some(l) = r.metadata.language.as_deref() {
        ris_line(&mut out, "LA", l);
    }
    out.push_str("ER  - \r\n");
    out
}

/// CSL-JSON item (citeproc input; `application/vnd.citationstyles.csl+json`).
pub fn csl_json(r: &PublishedRecord) -> Value {
    let authors: Vec<Value> = r
        .metadata
        .creators
        .iter()
        .map(|c| match name_of(c) {
            Name::Person { family, given } => {
                let mut a = json!({ "family": family });
                if let Some(g) = given {
                    a["given"] = json!(g);
                }
                a
            }
            Name::Literal(l) => json!({ "literal": l }),
        })
        .collect();
    // The publication date, unless the metadata states another publication year.
    let p = r.published;
    let issued = if r.year() == p.year() {
        json!([[p.year(), p.month(), p.day()]])
    } else {
        json!([[r.year()]])
    };
    let mut item = json!({
        "type": type_map(r.resource_type_general()).citeproc,
        "id": r.doi_url(),
        "DOI": r.doi,
        "URL": r.doi_url(),
        "title": r.title(),
        "author": authors,
        "issued": { "date-parts": issued },
        "publisher": r.publisher_name(),
        "version": r.version_label(),
    });
    if let Some(a) = r.abstract_text() {
        item["abstract"] = json!(a);
    }
    let keywords = r.keywords();
    if !keywords.is_empty() {
        item["keyword"] = json!(keywords.join(", "));
    }
    if let Some(l) = r
        .metadata
        .language
        .as_deref()
        .filter(|l| !l.trim().is_empty())
    {
        item["language"] = json!(l.trim());
    }
    if let Some(l) = r.license_url() {
        item["license"] = json!(l);
    }
    item
}
