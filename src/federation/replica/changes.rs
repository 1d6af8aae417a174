use super::{Remote, OVERLAP};
use crate::federation::objects::OBJECTS_PATH;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;

// ---------------------------------------------------------------------------------
// Talking to the source

/// One ResourceSync document, as far as a pull reads it.
#[derive(Debug, Default)]
pub struct Document {
    /// A `sitemapindex` (its items are parts) rather than a `urlset`.
    pub index: bool,
    /// The document-level `rs:md capability`.
    pub capability: Option<String>,
    pub items: Vec<Item>,
}

/// A `<url>` or `<sitemap>`: its loc, `rs:md` attributes and `rs:ln` links.
#[derive(Debug, Default, Clone)]
pub struct Item {
    pub loc: String,
    pub md: HashMap<String, String>,
    pub links: Vec<(String, String)>,
}

/// Reads a sitemap (urlset or sitemapindex) with ResourceSync's `rs:md` and `rs:ln`.
pub fn parse_document(xml: &[u8]) -> Result<Document, String> {
    use quick_xml::events::{BytesStart, Event};
    let text = std::str::from_utf8(xml).map_err(|_| "the document is not UTF-8".to_string())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut doc = Document::default();
    let mut item: Option<Item> = None;
    let mut in_loc = false;
    let mut loc = String::new();
    let attrs = |e: &BytesStart| -> Result<HashMap<String, String>, String> {
        let mut out = HashMap::new();
        for a in e.attributes() {
            let a = a.map_err(|e| format!("bad XML attribute: {e}"))?;
            let key = a.key.local_name().as_ref().to_string();
            let value = a
                .normalized_value(quick_xml::XmlVersion::default())
                .map_err(|e| format!("bad XML attribute value: {e}"))?;
            out.insert(key, value.into_owned());
        }
        Ok(out)
    };
    loop {
        let event = reader.read_event().map_err(|e| format!("bad XML: {e}"))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "sitemapindex" => doc.index = true,
                "url" | "sitemap" => item = Some(Item::default()),
                "loc" => {
                    in_loc = true;
                    loc.clear();
                }
                "md" => {
                    let md = attrs(&e)?;
                    match &mut item {
                        Some(i) => i.md = md,
                        None => doc.capability = md.get("capability").cloned(),
                    }
                }
                "ln" => {
                    let ln = attrs(&e)?;
                    if let (Some(i), Some(rel), Some(href)) =
                        (&mut item, ln.get("rel"), ln.get("href"))
                    {
                        i.links.push((rel.clone(), href.clone()));
                    }
                }
                _ => {}
            },
            Event::Text(t) if in_loc => loc.push_str(&t.into_inner()),
            Event::GeneralRef(r) if in_loc => {
                let raw = format!("&{};", r.into_inner());
                let s = quick_xml::escape::unescape(&raw).map_err(|e| format!("bad XML: {e}"))?;
                loc.push_str(&s);
            }
            Event::End(e) => match e.local_name().as_ref() {
                "loc" => {
                    in_loc = false;
                    if let Some(i) = &mut item {
                        i.loc = loc.trim().to_string();
                    }
                }
                "url" | "sitemap" => {
                    if let Some(i) = item.take() {
                        doc.items.push(i);
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(doc)
}
// ---------------------------------------------------------------------------------
// The change list

/// What the change list says about one object since the last pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ObjectChange {
    pub(super) dataset: i64,
    /// Withdrawn (a `deleted` entry after the last `created` one).
    pub(super) deleted: bool,
    /// When its first change in this read happened (where to resume if it fails).
    pub(super) first: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub(super) struct Changes {
    /// In order of first change.
    pub(super) objects: Vec<ObjectChange>,
    /// Lengths by sha-256, from the entries.
    pub(super) lengths: HashMap<String, u64>,
    pub(super) last: Option<DateTime<Utc>>,
    /// Entries without a link to an object of ours (another kind of source).
    pub(super) unlinked: usize,
}

/// The dataset (and version inventory) an entry's describedby link names.
pub(super) fn object_ref(href: &str) -> Option<i64> {
    let at = href.find(&format!("{OBJECTS_PATH}/"))?;
    let rest = &href[at + OBJECTS_PATH.len() + 1..];
    let (dataset, _) = rest.split_once('/')?;
    dataset.parse().ok()
}

pub(super) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub(super) fn collect_changes(items: &[Item], into: &mut Changes) {
    for item in items {
        let (Some(kind), Some(time)) = (
            item.md.get("change"),
            item.md.get("datetime").and_then(|t| parse_datetime(t)),
        ) else {
            into.unlinked += 1;
            continue;
        };
        let Some(dataset) = item
            .links
            .iter()
            .find(|(rel, _)| rel == "describedby")
            .and_then(|(_, href)| object_ref(href))
        else {
            into.unlinked += 1;
            continue;
        };
        if let (Some(hash), Some(length)) = (item.md.get("hash"), item.md.get("length")) {
            let sha = hash
                .split_whitespace()
                .find_map(|h| h.strip_prefix("sha-256:"));
            if let (Some(sha), Ok(length)) = (sha, length.parse::<u64>()) {
                into.lengths.insert(sha.to_ascii_lowercase(), length);
            }
        }
        let deleted = kind == "deleted";
        match into.objects.iter_mut().find(|o| o.dataset == dataset) {
            Some(o) => o.deleted = deleted,
            None => into.objects.push(ObjectChange {
                dataset,
                deleted,
                first: time,
            }),
        }
        into.last = Some(into.last.map_or(time, |l| l.max(time)));
    }
}

pub(super) async fn read_changes(
    remote: &Remote,
    since: Option<DateTime<Utc>>,
) -> Result<Changes, String> {
    let mut url = format!(
        "{}{}",
        remote.base,
        crate::federation::resourcesync::CHANGE_LIST
    );
    if let Some(since) = since {
        let from = (since - OVERLAP).to_rfc3339_opts(SecondsFormat::AutoSi, true);
        url.push_str("?from=");
        url.push_str(&url::form_urlencoded::byte_serialize(from.as_bytes()).collect::<String>());
    }
    let doc = remote.document(&url).await?;
    let mut changes = Changes::default();
    if doc.index {
        for part in &doc.items {
            let part = remote.document(&part.loc).await?;
            collect_changes(&part.items, &mut changes);
        }
    } else {
        collect_changes(&doc.items, &mut changes);
    }
    Ok(changes)
}
