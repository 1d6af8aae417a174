//! FAIR Signposting (signposting.org/FAIR): the typed links (RFC 8288) that let a
//! machine find, from a landing page, the persistent identifier to cite, the metadata
//! documents, the content files, the authors, the license and the object's type.
//!
//! Level 1 is the landing page's `Link` header; Level 2 is a link set (RFC 9264) with
//! every link, each with an explicit `anchor`, in `application/linkset` (the header's
//! syntax, one link per line) and `application/linkset+json`.

use serde_json::{json, Map, Value};

use super::names::orcid_url;
use super::{type_map, PublishedRecord};

/// Item links in a `Link` header; past this the header carries none and clients read
/// the link set, which lists every file (a partial list would look complete).
pub const MAX_HEADER_ITEMS: usize = 20;
/// Author links in a `Link` header (the link set has them all).
pub const MAX_HEADER_AUTHORS: usize = 20;

pub const LINKSET: &str = "application/linkset";
pub const LINKSET_JSON: &str = "application/linkset+json";

/// One typed link from a context to a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub rel: &'static str,
    pub href: String,
    /// Media type of the target, without parameters.
    pub media_type: Option<String>,
    /// Profile (format URI) of a generic media type such as JSON-LD.
    pub profile: Option<&'static str>,
}

/// The links of one context (`anchor`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub anchor: String,
    pub links: Vec<Target>,
}

/// A metadata document about the version (the target of `describedby`).
#[derive(Clone, Debug)]
pub struct MetadataDoc {
    pub url: String,
    pub media_type: &'static str,
    pub profile: Option<&'static str>,
}

/// Where the landing page, its metadata documents and its link set are.
#[derive(Clone, Copy, Debug)]
pub struct Urls<'a> {
    /// The landing page the links are about (absolute).
    pub landing: &'a str,
    pub metadata: &'a [MetadataDoc],
    /// The link set; its JSON form is `{linkset}?format=json`.
    pub linkset: &'a str,
}

impl Urls<'_> {
    pub fn linkset_json(&self) -> String {
        format!("{}?format=json", self.linkset)
    }

    fn linkset_targets(&self) -> [Target; 2] {
        [
            target("linkset", self.linkset, Some(LINKSET)),
            target("linkset", &self.linkset_json(), Some(LINKSET_JSON)),
        ]
    }
}

/// Characters a URI may not carry as they are (RFC 3986); `%` is kept, so an already
/// percent-encoded URL is unchanged. Non-ASCII is always encoded.
const NOT_URI: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A URL made safe for `<…>` in a header and for strict URI parsers (a depositor's
/// `rightsUri` may hold spaces or non-ASCII letters).
pub fn uri(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s.trim(), NOT_URI).to_string()
}

/// A media type without parameters, lowercase (`text/csv; charset=utf-8` → `text/csv`).
fn essence(media_type: &str) -> Option<String> {
    let essence = media_type.split(';').next()?.trim().to_ascii_lowercase();
    (essence.contains('/') && !essence.contains(['"', ',', '\\', ' '])).then_some(essence)
}

fn target(rel: &'static str, href: &str, media_type: Option<&str>) -> Target {
    Target {
        rel,
        href: uri(href),
        media_type: media_type.and_then(essence),
        profile: None,
    }
}

/// The links of the landing page. `all` lists every item and author (link set);
/// otherwise the header's limits apply.
fn landing_links(r: &PublishedRecord, urls: &Urls, all: bool) -> Vec<Target> {
    let mut links = vec![target("cite-as", &r.doi_url(), None)];
    let schema_type = type_map(r.resource_type_general()).schema_org;
    links.push(target(
        "type",
        &format!("https://schema.org/{schema_type}"),
        None,
    ));
    links.push(target("type", "https://schema.org/AboutPage", None));
    let authors = r.metadata.creators.iter().filter_map(orcid_url);
    let limit = if all { usize::MAX } else { MAX_HEADER_AUTHORS };
    links.extend(authors.take(limit).map(|url| target("author", &url, None)));
    if let Some(license) = r.license_url() {
        links.push(target("license", &license, None));
    }
    for doc in urls.metadata {
        let mut t = target("describedby", &doc.url, Some(doc.media_type));
        t.profile = doc.profile;
        links.push(t);
    }
    let files = r.served_files();
    if all || files.len() <= MAX_HEADER_ITEMS {
        links.extend(
            files
                .iter()
                .map(|f| target("item", &f.download_url, Some(&f.media_type))),
        );
    }
    links
}

/// Level 1: the landing page's links (also given as HTML `<link>` elements).
pub fn landing_targets(r: &PublishedRecord, urls: &Urls) -> Vec<Target> {
    let mut links = landing_links(r, urls, false);
    links.extend(urls.linkset_targets());
    links
}

/// Level 1: the landing page's `Link` header value.
pub fn landing_header(r: &PublishedRecord, urls: &Urls) -> String {
    header_value(&landing_targets(r, urls))
}

/// Level 1 on a content file: it belongs to the landing page's collection.
pub fn item_header(urls: &Urls) -> String {
    let mut links = vec![target("collection", urls.landing, Some("text/html"))];
    links.extend(urls.linkset_targets());
    header_value(&links)
}

/// Level 1 on a metadata document: it describes the landing page.
pub fn metadata_header(urls: &Urls) -> String {
    let mut links = vec![target("describes", urls.landing, Some("text/html"))];
    links.extend(urls.linkset_targets());
    header_value(&links)
}

/// Level 2: every link, by context — the landing page, each file, each metadata document.
pub fn linkset(r: &PublishedRecord, urls: &Urls) -> Vec<Context> {
    let landing = uri(urls.landing);
    let mut contexts = vec![Context {
        anchor: landing.clone(),
        links: landing_links(r, urls, true),
    }];
    let back = |rel: &'static str, anchor: &str| Context {
        anchor: uri(anchor),
        links: vec![target(rel, &landing, Some("text/html"))],
    };
    contexts.extend(
        r.served_files()
            .iter()
            .map(|f| back("collection", &f.download_url)),
    );
    contexts.extend(urls.metadata.iter().map(|d| back("describes", &d.url)));
    contexts
}

/// A quoted-string (RFC 9110): backslash-escape `"` and `\`.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn link_text(t: &Target, anchor: Option<&str>) -> String {
    let mut s = format!("<{}>; rel={}", t.href, quoted(t.rel));
    if let Some(anchor) = anchor {
        s.push_str("; anchor=");
        s.push_str(&quoted(anchor));
    }
    if let Some(media_type) = &t.media_type {
        s.push_str("; type=");
        s.push_str(&quoted(media_type));
    }
    if let Some(profile) = t.profile {
        s.push_str("; profile=");
        s.push_str(&quoted(profile));
    }
    s
}

pub fn header_value(links: &[Target]) -> String {
    links
        .iter()
        .map(|t| link_text(t, None))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `application/linkset`: the `Link` header syntax, one link per line, each with its anchor.
pub fn linkset_text(contexts: &[Context]) -> String {
    let mut out = String::new();
    for context in contexts {
        for link in &context.links {
            if !out.is_empty() {
                out.push_str(",\n");
            }
            out.push_str(&link_text(link, Some(&context.anchor)));
        }
    }
    out.push('\n');
    out
}

/// `application/linkset+json` (RFC 9264 §4.2): one object per anchor, each relation an
/// array of target objects.
///
/// `profile` is left out here: RFC 9264 writes extension target attributes as arrays of
/// strings, which the python `signposting` client (0.9.9, the common FAIR checker)
/// cannot read, while a plain string would break the RFC. The header and the
/// `application/linkset` form carry it.
pub fn linkset_json(contexts: &[Context]) -> Value {
    let sets: Vec<Value> = contexts
        .iter()
        .map(|context| {
            let mut object = Map::new();
            object.insert("anchor".into(), json!(context.anchor));
            for link in &context.links {
                let mut t = Map::new();
                t.insert("href".into(), json!(link.href));
                if let Some(media_type) = &link.media_type {
                    t.insert("type".into(), json!(media_type));
                }
                if let Value::Array(list) = object
                    .entry(link.rel.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    list.push(Value::Object(t));
                }
            }
            Value::Object(object)
        })
        .collect();
    json!({ "linkset": sets })
}

/// Which link set serialisation a request asks for: `?format=json|linkset` first,
/// then `Accept` (JSON only when it is preferred over, or alone without, the text form).
pub fn negotiate(format: Option<&str>, accept: &str) -> Option<&'static str> {
    match format.map(str::trim) {
        Some("json") => return Some(LINKSET_JSON),
        Some("linkset" | "lset" | "text") => return Some(LINKSET),
        Some(_) => return None,
        None => {}
    }
    let mut json_q = None;
    let mut text_q = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            LINKSET_JSON | "application/json" => {
                json_q = Some(json_q.map_or(q, |old: f32| old.max(q)))
            }
            LINKSET | "text/plain" => text_q = Some(text_q.map_or(q, |old: f32| old.max(q))),
            _ => {}
        }
    }
    match (json_q, text_q) {
        (Some(j), Some(t)) if j > 0.0 && j > t => Some(LINKSET_JSON),
        (Some(j), None) if j > 0.0 => Some(LINKSET_JSON),
        _ => Some(LINKSET),
    }
}
