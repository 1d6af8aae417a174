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

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;

use super::Audience;
use crate::db::schema::{dataset_transitions, dataset_versions, datasets, version_files};
use crate::db::AnyConnection;
use crate::deposit::model::DatasetState;
use crate::error::DomainError;

mod documents;

pub use documents::{respond, Part};

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
    let rows = match change {
        Change::Created => load_created(conn, live_only, start, through, limit)?,
        Change::Deleted => load_deleted(conn, start, through, limit)?,
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

/// The columns of a file entry ([`FileColumns`]), for `select`.
macro_rules! file_columns {
    () => {
        (
            version_files::id,
            dataset_versions::dataset_id,
            dataset_versions::number,
            version_files::path,
            version_files::size,
            version_files::sha256,
            version_files::media_type,
            dataset_versions::published_at,
            dataset_versions::ocfl_version,
        )
    };
}

/// `Created` entries: every file of every published version, at its publication.
fn load_created(
    conn: &mut AnyConnection,
    live_only: bool,
    start: Start,
    through: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<(FileColumns, NaiveDateTime)>> {
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
        .select((file_columns!(), time))
        .load(conn)
}

/// `Deleted` entries: every file of every published version of a deaccessioned
/// dataset, at its deaccession.
fn load_deleted(
    conn: &mut AnyConnection,
    start: Start,
    through: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<(FileColumns, NaiveDateTime)>> {
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
        .select((file_columns!(), time))
        .load(conn)
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

#[cfg(test)]
mod tests;
