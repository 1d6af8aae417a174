//! ResourceSync (ANSI/NISO Z39.99-2017, spec 1.1): how partner archives pull replicas of
//! every published file (see docs/interoperability.md, "ResourceSync").
//!
//! - `/.well-known/resourcesync`: the source description, naming one capability list;
//! - `/resourcesync/capabilitylist.xml`: the resource list and the change list;
//! - `/resourcesync/resourcelist.xml`: every file of every published version of every
//!   dataset not deaccessioned, at its download URL, with lastmod (the version's
//!   publication), length, `sha-256` hash and media type;
//! - `/resourcesync/changelist.xml`: `created` for each file of a version when it is
//!   published, `deleted` for each when its dataset is deaccessioned; `?from=` keeps
//!   the changes at or after a time.
//!
//! A list longer than the page size (the sitemap limit, 50,000, by default) is a
//! `sitemapindex` of parts. Entries are ordered by (time, kind, file id), which only grows
//! at the end (new publications and deaccessions happen now), and a part is a keyset
//! range of that order (`after`, `through`), read with a LIMIT: no request reads all
//! rows at once, and a part keeps its entries when more are published.
//!
//! Files are never `updated`: a new version's files have new URLs, even those carried
//! over unchanged. Damaged files (fixity) stay listed with their true digest.

use std::io;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;

use super::Audience;
use crate::config::Settings;
use crate::db::schema::{dataset_transitions, dataset_versions, datasets, version_files};
use crate::db::AnyConnection;
use crate::deposit::model::DatasetState;
use crate::error::{DomainError, ErrorContext};
use crate::xml::Xml;

pub use crate::config::SITEMAP_LIMIT;

pub const SOURCE_DESCRIPTION: &str = "/.well-known/resourcesync";
pub const CAPABILITY_LIST: &str = "/resourcesync/capabilitylist.xml";
pub const RESOURCE_LIST: &str = "/resourcesync/resourcelist.xml";
pub const CHANGE_LIST: &str = "/resourcesync/changelist.xml";

const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
const RS_NS: &str = "http://www.openarchives.org/rs/terms/";

pub(crate) use crate::deposit::ingest::encode_path;

/// A W3C datetime in UTC, with the fraction of a second when there is one: the
/// client orders changes by it, and publications a few milliseconds apart must not tie.
pub fn w3c(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `?from=`: an RFC 3339 date-time or a date (midnight UTC).
fn parse_time(value: &str) -> Option<NaiveDateTime> {
    let v = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// What a change is; `Created` sorts first at the same instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Created,
    Deleted,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Deleted => "deleted",
        }
    }
}

/// A position in the order of entries: (time, kind, file id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub time: NaiveDateTime,
    pub change: Change,
    pub file_id: i64,
}

impl Cursor {
    /// `NANOS-c|d-ID`, for part URLs.
    pub fn encode(&self) -> String {
        let nanos = self.time.and_utc().timestamp_nanos_opt().unwrap_or(0);
        let kind = match self.change {
            Change::Created => 'c',
            Change::Deleted => 'd',
        };
        format!("{nanos}-{kind}-{}", self.file_id)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (rest, id) = s.rsplit_once('-')?;
        let (nanos, kind) = rest.rsplit_once('-')?;
        let change = match kind {
            "c" => Change::Created,
            "d" => Change::Deleted,
            _ => return None,
        };
        let time = DateTime::from_timestamp_nanos(nanos.parse().ok()?).naive_utc();
        Some(Cursor {
            time,
            change,
            file_id: id.parse().ok()?,
        })
    }
}

/// Where a list or part begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Beginning,
    /// At or after this time (`?from=`).
    From(NaiveDateTime),
    /// Strictly after this entry (a later part).
    After(Cursor),
}

/// One entry: a file of a published version, and what happened to it when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub cursor: Cursor,
    pub dataset_id: i64,
    pub number: i32,
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub media_type: String,
    pub published_at: NaiveDateTime,
    /// The OCFL version the file's dataset version is (its inventory is linked).
    pub ocfl_version: Option<i32>,
}

type FileColumns = (
    i64,
    i64,
    i32,
    String,
    i64,
    String,
    String,
    Option<NaiveDateTime>,
    Option<i32>,
);

/// Files of published versions after `start` and up to `through` in (time, id) order,
/// at most `limit`: with the time of publication (`Created`) or of deaccession
/// (`Deleted`). `live_only` leaves out deaccessioned datasets (the resource list).
fn load_stream(
    conn: &mut AnyConnection,
    change: Change,
    live_only: bool,
    start: Start,
    through: Option<Cursor>,
    limit: usize,
) -> Result<Vec<Entry>, DomainError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let columns = (
        version_files::id,
        dataset_versions::dataset_id,
        dataset_versions::number,
        version_files::path,
        version_files::size,
        version_files::sha256,
        version_files::media_type,
        dataset_versions::published_at,
        dataset_versions::ocfl_version,
    );
    let rows: Vec<(FileColumns, NaiveDateTime)> = match change {
        Change::Created => {
            let time = dataset_versions::published_at.assume_not_null();
            let mut q = version_files::table
                .inner_join(dataset_versions::table.inner_join(datasets::table))
                .filter(dataset_versions::published_at.is_not_null())
                .into_boxed();
            if live_only {
                q = q.filter(datasets::state.ne(DatasetState::Deaccessioned.as_str()));
            }
            match start {
                Start::Beginning => {}
                Start::From(t) => q = q.filter(time.ge(t)),
                Start::After(c) => {
                    q = match c.change {
                        // Created entries at c.time with a higher id follow c.
                        Change::Created => q.filter(
                            time.gt(c.time)
                                .or(time.eq(c.time).and(version_files::id.gt(c.file_id))),
                        ),
                        // Every created entry at c.time comes before a deleted one.
                        Change::Deleted => q.filter(time.gt(c.time)),
                    }
                }
            }
            if let Some(c) = through {
                q = match c.change {
                    Change::Created => q.filter(
                        time.lt(c.time)
                            .or(time.eq(c.time).and(version_files::id.le(c.file_id))),
                    ),
                    Change::Deleted => q.filter(time.le(c.time)),
                }
            }
            q.order((time.asc(), version_files::id.asc()))
                .limit(limit)
                .select((columns, time))
                .load(conn)?
        }
        Change::Deleted => {
            let time = dataset_transitions::created_at;
            let mut q = version_files::table
                .inner_join(dataset_versions::table)
                .inner_join(
                    dataset_transitions::table
                        .on(dataset_transitions::dataset_id.eq(dataset_versions::dataset_id)),
                )
                .filter(dataset_versions::published_at.is_not_null())
                .filter(dataset_transitions::to_state.eq(DatasetState::Deaccessioned.as_str()))
                .into_boxed();
            match start {
                Start::Beginning => {}
                Start::From(t) => q = q.filter(time.ge(t)),
                Start::After(c) => {
                    q = match c.change {
                        Change::Created => q.filter(time.ge(c.time)),
                        Change::Deleted => q.filter(
                            time.gt(c.time)
                                .or(time.eq(c.time).and(version_files::id.gt(c.file_id))),
                        ),
                    }
                }
            }
            if let Some(c) = through {
                q = match c.change {
                    Change::Created => q.filter(time.lt(c.time)),
                    Change::Deleted => q.filter(
                        time.lt(c.time)
                            .or(time.eq(c.time).and(version_files::id.le(c.file_id))),
                    ),
                }
            }
            q.order((time.asc(), version_files::id.asc()))
                .limit(limit)
                .select((columns, time))
                .load(conn)?
        }
    };
    Ok(rows
        .into_iter()
        .map(
            |(
                (file_id, dataset_id, number, path, size, sha256, media_type, published, ocfl),
                time,
            )| {
                Entry {
                    cursor: Cursor {
                        time,
                        change,
                        file_id,
                    },
                    dataset_id,
                    number,
                    path,
                    size,
                    sha256,
                    media_type,
                    published_at: published.unwrap_or(time),
                    ocfl_version: ocfl,
                }
            },
        )
        .collect())
}

/// Which list is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    Resources,
    Changes,
}

/// Up to `limit` entries of a list after `start` and up to `through`, in order.
pub fn page(
    conn: &mut AnyConnection,
    _audience: Audience,
    list: List,
    start: Start,
    through: Option<Cursor>,
    limit: usize,
) -> Result<Vec<Entry>, DomainError> {
    // Only published files are listed today, and those are open to every client; a
    // partner audience will add the files not public here.
    let mut entries = match list {
        List::Resources => load_stream(conn, Change::Created, true, start, through, limit)?,
        List::Changes => {
            let mut all = load_stream(conn, Change::Created, false, start, through, limit)?;
            all.extend(load_stream(
                conn,
                Change::Deleted,
                false,
                start,
                through,
                limit,
            )?);
            all
        }
    };
    entries.sort_by_key(|e| e.cursor);
    entries.truncate(limit);
    Ok(entries)
}

/// A request for one of the documents, from its path and query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    SourceDescription,
    CapabilityList,
    /// The whole list (a urlset, or an index when it is long) or one part of it.
    List {
        list: List,
        start: Start,
        through: Option<Cursor>,
        part: bool,
    },
}

/// Reads `from`, `after` and `through` of a list's query string; anything else is
/// refused, so that a typo does not quietly return the whole list.
pub fn parse_list(list: List, pairs: &[(String, String)]) -> Result<Request, DomainError> {
    let mut start = Start::Beginning;
    let mut through = None;
    let mut part = false;
    let bad = |what: &str| DomainError::BadRequest(what.to_string());
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in pairs {
        if seen.contains(&key.as_str()) {
            return Err(bad(&format!("'{key}' is given more than once")));
        }
        seen.push(key);
        match key.as_str() {
            "from" if list == List::Changes => {
                if matches!(start, Start::After(_)) {
                    return Err(bad("'from' and 'after' cannot be combined"));
                }
                start = Start::From(parse_time(value).ok_or_else(|| {
                    bad("'from' must be a date (2026-12-02) or an RFC 3339 date-time (2026-12-02T10:00:00Z)")
                })?);
            }
            "after" => {
                if matches!(start, Start::From(_)) {
                    return Err(bad("'from' and 'after' cannot be combined"));
                }
                start = Start::After(
                    Cursor::decode(value)
                        .ok_or_else(|| bad("'after' is not a position this archive wrote"))?,
                );
                part = true;
            }
            "through" => {
                through = Some(
                    Cursor::decode(value)
                        .ok_or_else(|| bad("'through' is not a position this archive wrote"))?,
                );
                part = true;
            }
            other => {
                return Err(bad(&format!(
                    "unknown argument '{}': {} takes {}",
                    other.chars().take(40).collect::<String>(),
                    match list {
                        List::Resources => "the resource list",
                        List::Changes => "the change list",
                    },
                    match list {
                        List::Resources => "no arguments (its parts: after, through)",
                        List::Changes => "from (its parts: after, through)",
                    }
                )))
            }
        }
    }
    Ok(Request::List {
        list,
        start,
        through,
        part,
    })
}

fn url(settings: &Settings, path: &str) -> String {
    format!("{}{path}", settings.base_url.trim_end_matches('/'))
}

fn resource_url(settings: &Settings, e: &Entry) -> String {
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

fn list_path(list: List) -> &'static str {
    match list {
        List::Resources => RESOURCE_LIST,
        List::Changes => CHANGE_LIST,
    }
}

/// The URL of a part or of the list itself, with its arguments.
fn list_url(settings: &Settings, list: List, start: Start, through: Option<Cursor>) -> String {
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
enum Body {
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
fn parts(
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

fn ln(x: &mut Xml, rel: &str, href: &str) -> io::Result<()> {
    x.leaf("rs:ln", &[("rel", Some(rel)), ("href", Some(href))], "")
}

fn open_root(x: &mut Xml, name: &str) -> io::Result<()> {
    x.open(
        name,
        &[("xmlns", Some(SITEMAP_NS)), ("xmlns:rs", Some(RS_NS))],
    )
}

fn source_description(settings: &Settings) -> io::Result<Vec<u8>> {
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

fn capability_list(settings: &Settings) -> io::Result<Vec<u8>> {
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
struct ListDoc {
    list: List,
    start: Start,
    through: Option<Cursor>,
    part: bool,
    at: NaiveDateTime,
    completed: NaiveDateTime,
}

impl ListDoc {
    fn capability(&self) -> &'static str {
        match self.list {
            List::Resources => "resourcelist",
            List::Changes => "changelist",
        }
    }

    /// The list-level `rs:md`: `at`/`completed` for a resource list, `from`/`until`
    /// for a change list (from its first entry, or what was asked).
    fn md(
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

fn list_document(settings: &Settings, doc: &ListDoc, entries: &[Entry]) -> io::Result<Vec<u8>> {
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
                    Some(&super::objects::file_url(
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

fn index_document(settings: &Settings, doc: &ListDoc, parts: &[Part]) -> io::Result<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SettingsArgs;

    fn settings() -> Settings {
        Settings::load(&SettingsArgs {
            base_url: Some("https://data.example.org".into()),
            ..Default::default()
        })
        .expect("settings")
    }

    fn t(s: &str) -> NaiveDateTime {
        parse_time(s).expect("time")
    }

    fn entry(change: Change, id: i64, path: &str) -> Entry {
        Entry {
            cursor: Cursor {
                time: t("2026-12-02T10:00:00.25Z"),
                change,
                file_id: id,
            },
            dataset_id: 7,
            number: 2,
            path: path.into(),
            size: 14,
            sha256: "ab".repeat(32),
            media_type: "text/csv".into(),
            published_at: t("2026-12-02T10:00:00.25Z"),
            ocfl_version: Some(2),
        }
    }

    fn doc(list: List, part: bool, through: Option<Cursor>) -> ListDoc {
        ListDoc {
            list,
            start: Start::Beginning,
            through,
            part,
            at: t("2026-12-02T11:00:00Z"),
            completed: t("2026-12-02T11:00:01Z"),
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn cursors_round_trip_and_refuse_others() {
        let c = Cursor {
            time: t("2026-12-02T10:00:00.123456789Z"),
            change: Change::Deleted,
            file_id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "1-x-2", "a-c-2", "1-c-", "1-c-2.5", "c-2"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
        let earlier = Cursor {
            change: Change::Created,
            file_id: 99,
            ..c
        };
        assert!(earlier < c, "created sorts before deleted at one instant");
    }

    #[test]
    fn times_are_w3c_datetimes_in_utc() {
        assert_eq!(w3c(t("2026-12-02T10:00:00Z")), "2026-12-02T10:00:00Z");
        assert_eq!(
            w3c(t("2026-12-02T12:00:00.5+02:00")),
            "2026-12-02T10:00:00.500Z"
        );
        assert_eq!(w3c(t("2026-12-02")), "2026-12-02T00:00:00Z");
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn list_arguments_are_checked() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            parse_list(List::Changes, &pairs(&[("from", "2026-12-02")])).expect("from"),
            Request::List {
                list: List::Changes,
                start: Start::From(t("2026-12-02")),
                through: None,
                part: false
            }
        );
        for bad in [
            vec![("from", "soon")],
            vec![("after", "x")],
            vec![("through", "1-q-1")],
            vec![("page", "2")],
            vec![("from", "2026-12-02"), ("from", "2026-12-03")],
            vec![("from", "2026-12-02"), ("after", "1-c-1")],
        ] {
            assert!(
                matches!(
                    parse_list(List::Changes, &pairs(&bad)),
                    Err(DomainError::BadRequest(_))
                ),
                "{bad:?}"
            );
        }
        // The resource list is a snapshot: it has no `from`.
        assert!(parse_list(List::Resources, &pairs(&[("from", "2026-12-02")])).is_err());
    }

    #[test]
    fn source_description_and_capability_list_link_each_other() {
        let s = settings();
        let sd = text(source_description(&s).expect("xml"));
        assert!(sd.contains(r#"<rs:md capability="description"/>"#), "{sd}");
        assert!(sd.contains("<loc>https://data.example.org/resourcesync/capabilitylist.xml</loc>"));
        assert!(sd.contains(r#"<rs:md capability="capabilitylist"/>"#));
        let cl = text(capability_list(&s).expect("xml"));
        assert!(cl.contains(
            r#"<rs:ln rel="up" href="https://data.example.org/.well-known/resourcesync"/>"#
        ));
        assert!(cl.contains(r#"<rs:md capability="capabilitylist"/>"#));
        assert!(cl.contains("<loc>https://data.example.org/resourcesync/resourcelist.xml</loc>"));
        assert!(cl.contains(r#"<rs:md capability="resourcelist"/>"#));
        assert!(cl.contains(r#"<rs:md capability="changelist"/>"#));
        // Links come before the entries, as the spec asks.
        assert!(cl.find("<rs:ln").expect("ln") < cl.find("<url>").expect("url"));
    }

    #[test]
    fn resource_list_entries_carry_hash_length_and_type() {
        let s = settings();
        let xml = text(
            list_document(
                &s,
                &doc(List::Resources, false, None),
                &[entry(Change::Created, 1, "data/a b.csv")],
            )
            .expect("xml"),
        );
        assert!(xml.contains(r#"xmlns="http://www.sitemaps.org/schemas/sitemap/0.9""#));
        assert!(xml.contains(r#"xmlns:rs="http://www.openarchives.org/rs/terms/""#));
        assert!(xml.contains(r#"<rs:md capability="resourcelist" at="2026-12-02T11:00:00Z" completed="2026-12-02T11:00:01Z"/>"#), "{xml}");
        assert!(xml.contains(
            "<loc>https://data.example.org/datasets/7/versions/2/files/data/a%20b.csv</loc>"
        ));
        assert!(xml.contains("<lastmod>2026-12-02T10:00:00.250Z</lastmod>"));
        assert!(xml.contains(&format!(
            r#"<rs:md hash="sha-256:{}" length="14" type="text/csv"/>"#,
            "ab".repeat(32)
        )));
        assert!(!xml.contains("change="));
        assert!(!xml.contains(r#"rel="index""#));
        assert!(xml.contains(r#"<rs:ln rel="describedby" href="https://data.example.org/federation/objects/7/v2/inventory.json" type="application/json"/>"#), "{xml}");
    }

    #[test]
    fn change_list_parts_say_created_and_deleted_and_point_to_their_index() {
        let s = settings();
        let through = Cursor {
            time: t("2026-12-02T10:00:00.25Z"),
            change: Change::Deleted,
            file_id: 2,
        };
        let xml = text(
            list_document(
                &s,
                &doc(List::Changes, true, Some(through)),
                &[
                    entry(Change::Created, 1, "a.csv"),
                    entry(Change::Deleted, 2, "b.csv"),
                ],
            )
            .expect("xml"),
        );
        assert!(xml.contains(
            r#"<rs:ln rel="up" href="https://data.example.org/resourcesync/capabilitylist.xml"/>"#
        ));
        assert!(xml.contains(
            r#"<rs:ln rel="index" href="https://data.example.org/resourcesync/changelist.xml"/>"#
        ));
        assert!(xml.contains(r#"<rs:md capability="changelist" from="2026-12-02T10:00:00.250Z" until="2026-12-02T10:00:00.250Z"/>"#), "{xml}");
        assert!(xml.contains(r#"change="created" datetime="2026-12-02T10:00:00.250Z"/>"#));
        assert!(xml.contains(r#"<rs:md change="deleted" datetime="2026-12-02T10:00:00.250Z"/>"#));
        // A deleted resource has no lastmod or digest left to give.
        let deleted = &xml[xml.find("b.csv").expect("b")..];
        assert!(!deleted.contains("<lastmod>") && !deleted.contains("hash="));
        // It still names the object it belonged to.
        assert!(deleted
            .contains(r#"href="https://data.example.org/federation/objects/7/inventory.json""#));
    }

    #[test]
    fn an_index_lists_its_parts_with_their_ranges() {
        let s = settings();
        let c1 = Cursor {
            time: t("2026-12-02T10:00:00Z"),
            change: Change::Created,
            file_id: 5,
        };
        let parts = vec![
            Part {
                start: Start::Beginning,
                through: Some(c1),
                from: Some(t("2026-12-01T00:00:00Z")),
                until: Some(c1.time),
            },
            Part {
                start: Start::After(c1),
                through: None,
                from: Some(t("2026-12-02T10:00:01Z")),
                until: None,
            },
        ];
        let xml = text(index_document(&s, &doc(List::Changes, false, None), &parts).expect("xml"));
        assert!(xml.contains("<sitemapindex"), "{xml}");
        assert!(xml.contains(r#"<rs:md capability="changelist" from="2026-12-01T00:00:00Z" until="2026-12-02T11:00:00Z"/>"#), "{xml}");
        assert!(xml.contains(&format!(
            "<loc>https://data.example.org/resourcesync/changelist.xml?through={}</loc>",
            c1.encode()
        )));
        assert!(xml.contains(&format!(
            "<loc>https://data.example.org/resourcesync/changelist.xml?after={}</loc>",
            c1.encode()
        )));
        assert!(
            xml.contains(r#"<rs:md from="2026-12-01T00:00:00Z" until="2026-12-02T10:00:00Z"/>"#)
        );
        assert!(xml.contains(r#"<rs:md from="2026-12-02T10:00:01Z"/>"#));
        assert_eq!(xml.matches("<sitemap>").count(), 2);
    }
}
