use super::{
    encode_path, page, w3c, Change, Cursor, Entry, List, Request, Start, CAPABILITY_LIST,
    CHANGE_LIST, RESOURCE_LIST, RS_NS, SITEMAP_NS, SOURCE_DESCRIPTION,
};
use crate::config::Settings;
use crate::db::AnyConnection;
use crate::error::{DomainError, ErrorContext};
use crate::federation::Audience;
use crate::xml::Xml;
use chrono::{NaiveDateTime, Utc};
use std::io;

pub(super) fn url(settings: &Settings, path: &str) -> String {
    format!("{}{path}", settings.base_url.trim_end_matches('/'))
}

pub(super) fn resource_url(settings: &Settings, e: &Entry) -> String {
    url(
        settings,
        &format!(
            "/datasets/{}/versions/{}/files/{}",
            e.dataset_id,
            e.number,
            encode_path(&e.path)
        ),
    )
}

pub(super) fn list_path(list: List) -> &'static str {
    match list {
        List::Resources => RESOURCE_LIST,
        List::Changes => CHANGE_LIST,
    }
}

/// The URL of a part or of the list itself, with its arguments.
pub(super) fn list_url(
    settings: &Settings,
    list: List,
    start: Start,
    through: Option<Cursor>,
) -> String {
    let mut args = url::form_urlencoded::Serializer::new(String::new());
    match start {
        Start::Beginning => {}
        Start::From(t) => {
            args.append_pair("from", &w3c(t));
        }
        Start::After(c) => {
            args.append_pair("after", &c.encode());
        }
    }
    if let Some(c) = through {
        args.append_pair("through", &c.encode());
    }
    let query = args.finish();
    let base = url(settings, list_path(list));
    if query.is_empty() {
        base
    } else {
        format!("{base}?{query}")
    }
}

/// One part of an index: where it starts and ends (`None`: the open last part), and
/// the times of its first and last entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub start: Start,
    pub through: Option<Cursor>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

/// What a list request is answered with.
pub(super) enum Body {
    Entries(Vec<Entry>),
    Index(Vec<Part>),
}

/// Answers one request with its document (application/xml).
pub fn respond(
    conn: &mut AnyConnection,
    settings: &Settings,
    audience: Audience,
    request: &Request,
) -> Result<Vec<u8>, DomainError> {
    let at = Utc::now().naive_utc();
    let page_size = settings.resourcesync_page_size.max(1);
    let written = match request {
        Request::SourceDescription => source_description(settings),
        Request::CapabilityList => capability_list(settings),
        Request::List {
            list,
            start,
            through,
            part,
        } => {
            let body = if *part {
                // A part keeps what its range held when the index was written; it
                // grows past the page size only by files published into that range
                // since, which the order (time first) keeps to the open last part.
                let limit = if through.is_some() {
                    usize::MAX
                } else {
                    page_size
                };
                Body::Entries(page(conn, audience, *list, *start, *through, limit)?)
            } else {
                let first = page(conn, audience, *list, *start, None, page_size + 1)?;
                if first.len() <= page_size {
                    Body::Entries(first)
                } else {
                    Body::Index(parts(conn, audience, *list, *start, page_size, first)?)
                }
            };
            let completed = Utc::now().naive_utc();
            let doc = ListDoc {
                list: *list,
                start: *start,
                through: *through,
                part: *part,
                at,
                completed,
            };
            match body {
                Body::Entries(entries) => list_document(settings, &doc, &entries),
                Body::Index(parts) => index_document(settings, &doc, &parts),
            }
        }
    };
    written.context("writing a ResourceSync document")
}

/// Walks a long list a page at a time (never more than one page in memory) and
/// cuts it into parts of `page_size`.
pub(super) fn parts(
    conn: &mut AnyConnection,
    audience: Audience,
    list: List,
    start: Start,
    page_size: usize,
    mut first: Vec<Entry>,
) -> Result<Vec<Part>, DomainError> {
    first.truncate(page_size);
    let mut out = Vec::new();
    let mut part_start = start;
    let mut entries = first;
    while let (Some(head), Some(last)) = (entries.first(), entries.last()) {
        let from = Some(head.cursor.time);
        let last = last.cursor;
        let next = page(conn, audience, list, Start::After(last), None, page_size)?;
        if next.is_empty() {
            out.push(Part {
                start: part_start,
                through: None,
                from,
                until: None,
            });
            break;
        }
        out.push(Part {
            start: part_start,
            through: Some(last),
            from,
            until: Some(last.time),
        });
        part_start = Start::After(last);
        entries = next;
    }
    Ok(out)
}

pub(super) fn ln(x: &mut Xml, rel: &str, href: &str) -> io::Result<()> {
    x.leaf("rs:ln", &[("rel", Some(rel)), ("href", Some(href))], "")
}

pub(super) fn open_root(x: &mut Xml, name: &str) -> io::Result<()> {
    x.open(
        name,
        &[("xmlns", Some(SITEMAP_NS)), ("xmlns:rs", Some(RS_NS))],
    )
}

pub(super) fn source_description(settings: &Settings) -> io::Result<Vec<u8>> {
    let mut x = Xml::document()?;
    open_root(&mut x, "urlset")?;
    ln(&mut x, "describedby", &url(settings, "/"))?;
    x.leaf("rs:md", &[("capability", Some("description"))], "")?;
    x.open("url", &[])?;
    x.leaf("loc", &[], &url(settings, CAPABILITY_LIST))?;
    x.leaf("rs:md", &[("capability", Some("capabilitylist"))], "")?;
    x.close("url")?;
    x.close("urlset")?;
    Ok(x.into_bytes())
}

pub(super) fn capability_list(settings: &Settings) -> io::Result<Vec<u8>> {
    let mut x = Xml::document()?;
    open_root(&mut x, "urlset")?;
    ln(&mut x, "up", &url(settings, SOURCE_DESCRIPTION))?;
    x.leaf("rs:md", &[("capability", Some("capabilitylist"))], "")?;
    for (path, capability) in [(RESOURCE_LIST, "resourcelist"), (CHANGE_LIST, "changelist")] {
        x.open("url", &[])?;
        x.leaf("loc", &[], &url(settings, path))?;
        x.leaf("rs:md", &[("capability", Some(capability))], "")?;
        x.close("url")?;
    }
    x.close("urlset")?;
    Ok(x.into_bytes())
}

/// The request a list document answers.
pub(super) struct ListDoc {
    pub(super) list: List,
    pub(super) start: Start,
    pub(super) through: Option<Cursor>,
    pub(super) part: bool,
    pub(super) at: NaiveDateTime,
    pub(super) completed: NaiveDateTime,
}

impl ListDoc {
    pub(super) fn capability(&self) -> &'static str {
        match self.list {
            List::Resources => "resourcelist",
            List::Changes => "changelist",
        }
    }

    /// The list-level `rs:md`: `at`/`completed` for a resource list, `from`/`until`
    /// for a change list (from its first entry, or what was asked).
    pub(super) fn md(
        &self,
        x: &mut Xml,
        first: Option<NaiveDateTime>,
        until: Option<NaiveDateTime>,
    ) -> io::Result<()> {
        let at = w3c(self.at);
        let completed = w3c(self.completed);
        match self.list {
            List::Resources => x.leaf(
                "rs:md",
                &[
                    ("capability", Some(self.capability())),
                    ("at", Some(&at)),
                    ("completed", Some(&completed)),
                ],
                "",
            ),
            List::Changes => {
                let from = match self.start {
                    Start::From(t) => Some(t),
                    _ => first,
                }
                .unwrap_or(self.at);
                let from = w3c(from);
                let until = w3c(until.unwrap_or(self.at));
                x.leaf(
                    "rs:md",
                    &[
                        ("capability", Some(self.capability())),
                        ("from", Some(&from)),
                        ("until", Some(&until)),
                    ],
                    "",
                )
            }
        }
    }
}

pub(super) fn list_document(
    settings: &Settings,
    doc: &ListDoc,
    entries: &[Entry],
) -> io::Result<Vec<u8>> {
    let mut x = Xml::document()?;
    open_root(&mut x, "urlset")?;
    ln(&mut x, "up", &url(settings, CAPABILITY_LIST))?;
    if doc.part {
        ln(&mut x, "index", &url(settings, list_path(doc.list)))?;
    }
    // A closed part ends where its range does; anything else covers all up to now.
    let until = doc.through.map(|c| c.time);
    let first = match doc.start {
        Start::After(c) => Some(c.time),
        _ => entries.first().map(|e| e.cursor.time),
    };
    doc.md(&mut x, first, until)?;
    for e in entries {
        x.open("url", &[])?;
        x.leaf("loc", &[], &resource_url(settings, e))?;
        let datetime = w3c(e.cursor.time);
        match e.cursor.change {
            Change::Created => {
                x.leaf("lastmod", &[], &w3c(e.published_at))?;
                let hash = format!("sha-256:{}", e.sha256);
                let length = e.size.to_string();
                let mut attrs: Vec<(&str, Option<&str>)> = vec![
                    ("hash", Some(&hash)),
                    ("length", Some(&length)),
                    ("type", Some(&e.media_type)),
                ];
                if doc.list == List::Changes {
                    attrs.push(("change", Some(Change::Created.as_str())));
                    attrs.push(("datetime", Some(&datetime)));
                }
                x.leaf("rs:md", &attrs, "")?;
            }
            Change::Deleted => {
                x.leaf(
                    "rs:md",
                    &[
                        ("change", Some(Change::Deleted.as_str())),
                        ("datetime", Some(&datetime)),
                    ],
                    "",
                )?;
            }
        }
        // The OCFL inventory of the object version the file is in (the object as a
        // whole once it is withdrawn), which replicas copy byte for byte.
        let inventory = match (e.cursor.change, e.ocfl_version) {
            (Change::Created, Some(n)) => format!("v{n}/inventory.json"),
            _ => "inventory.json".to_string(),
        };
        x.leaf(
            "rs:ln",
            &[
                ("rel", Some("describedby")),
                (
                    "href",
                    Some(&crate::federation::objects::file_url(
                        &settings.base_url,
                        e.dataset_id,
                        &inventory,
                    )),
                ),
                ("type", Some("application/json")),
            ],
            "",
        )?;
        x.close("url")?;
    }
    x.close("urlset")?;
    Ok(x.into_bytes())
}

pub(super) fn index_document(
    settings: &Settings,
    doc: &ListDoc,
    parts: &[Part],
) -> io::Result<Vec<u8>> {
    let mut x = Xml::document()?;
    open_root(&mut x, "sitemapindex")?;
    ln(&mut x, "up", &url(settings, CAPABILITY_LIST))?;
    doc.md(&mut x, parts.first().and_then(|p| p.from), None)?;
    for p in parts {
        x.open("sitemap", &[])?;
        x.leaf(
            "loc",
            &[],
            &list_url(settings, doc.list, p.start, p.through),
        )?;
        if doc.list == List::Changes {
            let from = p.from.map(w3c);
            let until = p.until.map(w3c);
            x.leaf(
                "rs:md",
                &[("from", from.as_deref()), ("until", until.as_deref())],
                "",
            )?;
        } else {
            let at = w3c(doc.at);
            x.leaf("rs:md", &[("at", Some(&at))], "")?;
        }
        x.close("sitemap")?;
    }
    x.close("sitemapindex")?;
    Ok(x.into_bytes())
}
