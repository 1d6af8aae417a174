//! Usage counts of published datasets: landing-page views and downloads, per dataset
//! and version, counted in the spirit of COUNTER's Code of Practice.
//!
//! - One count per visitor per dataset per clock hour and kind: repeated reloads, range
//!   requests and a visitor fetching many files of one dataset in an hour count once.
//! - A visitor is a salted hash of the client address and user agent. The salt is random,
//!   one per UTC day, kept in the database so every process of the archive agrees, and
//!   deleted when the day is over; the address is never stored, and hashes of different
//!   days cannot be linked. Hashes are deleted an hour after their hour is over.
//! - Requests from robots (user agents matching `robots.txt` beside this file, or none)
//!   are not counted.
//! - Counting never slows or fails a page: a request only queues the hit (a bounded
//!   channel, dropped with a log line when full); one background task writes queued hits
//!   in batches, and a failed write is logged.

use chrono::{Duration, NaiveDateTime, Timelike, Utc};
use diesel::prelude::*;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use tokio::sync::{mpsc, oneshot};

use crate::db::schema::{usage_counts, usage_salts, usage_visits};
use crate::db::{AnyConnection, Db};
use crate::error::DomainError;

/// What was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    View,
    Download,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::View => "view",
            Kind::Download => "download",
        }
    }
}

/// One request to count.
#[derive(Clone, Debug)]
pub struct Hit {
    pub dataset_id: i64,
    pub version: i32,
    pub kind: Kind,
    /// The client's address, hashed before anything is written.
    pub client: String,
    pub user_agent: String,
    pub at: NaiveDateTime,
}

/// Totals of one dataset (or one version).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub views: i64,
    pub downloads: i64,
}

/// A dataset's totals and each version's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    #[serde(flatten)]
    pub total: Counts,
    /// `(version number, counts)`, by version.
    #[serde(skip)]
    pub versions: Vec<(i32, Counts)>,
}

impl Usage {
    pub fn version(&self, number: i32) -> Counts {
        self.versions
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }
}

/// The robot list as one case-insensitive set, matched in a single pass. A pattern that
/// does not compile is logged and left out (a unit test keeps the shipped list clean).
static ROBOTS: LazyLock<Option<regex::RegexSet>> = LazyLock::new(|| {
    let valid: Vec<&str> = robot_patterns()
        .filter(|pattern| match regex::Regex::new(pattern) {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(%pattern, error = %e, "a robots.txt pattern does not compile; skipped");
                false
            }
        })
        .collect();
    regex::RegexSetBuilder::new(valid)
        .case_insensitive(true)
        .build()
        .map_err(|e| tracing::error!(error = %e, "the robot list cannot be used"))
        .ok()
});

/// The patterns of the robot list, without comments and blank lines.
fn robot_patterns() -> impl Iterator<Item = &'static str> {
    include_str!("robots.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Whether a user agent belongs to a robot (or is missing), so its requests are not counted.
pub fn is_robot(user_agent: &str) -> bool {
    let ua = user_agent.trim();
    ua.is_empty() || ROBOTS.as_ref().is_some_and(|set| set.is_match(ua))
}

/// The start of the clock hour of `at`.
fn hour_of(at: NaiveDateTime) -> NaiveDateTime {
    at.date().and_hms_opt(at.hour(), 0, 0).unwrap_or(at)
}

/// The visitor's hash: sha256 over the day's salt, address and user agent (128 bits kept).
fn visitor_hash(salt: &str, client: &str, user_agent: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(client.as_bytes());
    h.update([0]);
    h.update(user_agent.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Hits waiting to be written; beyond this, new hits are dropped (and logged).
const QUEUE: usize = 10_000;
/// Most hits written in one transaction.
const BATCH: usize = 1_000;

enum Message {
    Hit(Hit),
    Flush(oneshot::Sender<()>),
}

/// Queues hits for the background writer. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> Recorder {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(db, rx));
        Recorder {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counts a hit later, unless it comes from a robot. Never blocks and never fails.
    pub fn record(&self, hit: Hit) {
        if is_robot(&hit.user_agent) {
            return;
        }
        if let Err(e) = self.tx.try_send(Message::Hit(hit)) {
            // Log the first drop and then one in a thousand, not every request.
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(1000) {
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "the queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the usage writer stopped",
                };
                tracing::warn!(dropped = n + 1, "a usage count was not recorded: {why}");
            }
        }
    }

    /// Waits until every hit queued before this call is written (tests, shutdown).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Message>) {
    let mut pruned_hour: Option<NaiveDateTime> = None;
    while let Some(first) = rx.recv().await {
        let mut hits = Vec::new();
        let mut waiting = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Hit(hit) => hits.push(hit),
                Message::Flush(done) => waiting.push(done),
            }
            next = if hits.len() < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !hits.is_empty() {
            let now = Utc::now().naive_utc();
            let prune = pruned_hour != Some(hour_of(now));
            let count = hits.len();
            match db
                .run(move |conn| write_batch(conn, hits, now, prune))
                .await
            {
                Ok(()) => {
                    if prune {
                        pruned_hour = Some(hour_of(now));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, hits = count, "usage counts could not be written")
                }
            }
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

/// The salt of `day` (`YYYY-MM-DD`), created by whichever process needs it first.
fn salt_of(conn: &mut AnyConnection, day: &str) -> Result<String, DomainError> {
    if let Some(salt) = usage_salts::table
        .find(day)
        .select(usage_salts::salt)
        .first::<String>(conn)
        .optional()?
    {
        return Ok(salt);
    }
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let fresh = hex::encode(raw);
    let row = (usage_salts::day.eq(day), usage_salts::salt.eq(&fresh));
    match conn {
        AnyConnection::Sqlite(c) => diesel::insert_into(usage_salts::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        AnyConnection::Postgresql(c) => diesel::insert_into(usage_salts::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    // Another process may have won the race: read back whichever salt was kept.
    Ok(usage_salts::table
        .find(day)
        .select(usage_salts::salt)
        .first::<String>(conn)?)
}

/// Records a visit unless the visitor was counted this hour; true when it is new.
fn first_visit(
    conn: &mut AnyConnection,
    dataset_id: i64,
    kind: Kind,
    visitor: &str,
    hour: NaiveDateTime,
) -> Result<bool, DomainError> {
    let row = (
        usage_visits::dataset_id.eq(dataset_id),
        usage_visits::kind.eq(kind.as_str()),
        usage_visits::visitor.eq(visitor),
        usage_visits::hour_start.eq(hour),
    );
    let inserted = match conn {
        AnyConnection::Sqlite(c) => diesel::insert_into(usage_visits::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        AnyConnection::Postgresql(c) => diesel::insert_into(usage_visits::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

/// Adds `n` to a version's count of `kind`.
fn add_count(
    conn: &mut AnyConnection,
    dataset_id: i64,
    version: i32,
    kind: Kind,
    n: i64,
) -> Result<(), DomainError> {
    let row = (
        usage_counts::dataset_id.eq(dataset_id),
        usage_counts::version_number.eq(version),
        usage_counts::kind.eq(kind.as_str()),
        usage_counts::hits.eq(n),
    );
    let target = (
        usage_counts::dataset_id,
        usage_counts::version_number,
        usage_counts::kind,
    );
    let bump = usage_counts::hits.eq(usage_counts::hits + n);
    match conn {
        AnyConnection::Sqlite(c) => diesel::insert_into(usage_counts::table)
            .values(row)
            .on_conflict(target)
            .do_update()
            .set(bump)
            .execute(c)?,
        AnyConnection::Postgresql(c) => diesel::insert_into(usage_counts::table)
            .values(row)
            .on_conflict(target)
            .do_update()
            .set(bump)
            .execute(c)?,
    };
    Ok(())
}

/// Writes a batch of hits in one transaction; `prune` also deletes the visitor hashes
/// of hours before the previous one and the salts of days before yesterday.
fn write_batch(
    conn: &mut AnyConnection,
    hits: Vec<Hit>,
    now: NaiveDateTime,
    prune: bool,
) -> Result<(), DomainError> {
    crate::db::transaction(conn, |conn| {
        if prune {
            // The previous hour stays too: hits queued just before the hour turned are
            // still checked against it.
            let kept_from = hour_of(now) - Duration::hours(1);
            diesel::delete(usage_visits::table.filter(usage_visits::hour_start.lt(kept_from)))
                .execute(conn)?;
            // Yesterday's salt stays for hits queued just before midnight.
            let yesterday = (now - Duration::days(1)).format("%Y-%m-%d").to_string();
            diesel::delete(usage_salts::table.filter(usage_salts::day.lt(yesterday)))
                .execute(conn)?;
        }
        let mut salts: HashMap<String, String> = HashMap::new();
        let mut counts: HashMap<(i64, i32, Kind), i64> = HashMap::new();
        for hit in hits {
            let day = hit.at.format("%Y-%m-%d").to_string();
            let salt = match salts.get(&day) {
                Some(s) => s.clone(),
                None => {
                    let s = salt_of(conn, &day)?;
                    salts.insert(day, s.clone());
                    s
                }
            };
            let visitor = visitor_hash(&salt, &hit.client, &hit.user_agent);
            if first_visit(conn, hit.dataset_id, hit.kind, &visitor, hour_of(hit.at))? {
                *counts
                    .entry((hit.dataset_id, hit.version, hit.kind))
                    .or_default() += 1;
            }
        }
        for ((dataset_id, version, kind), n) in counts {
            // A dataset deleted meanwhile has nothing left to count.
            let exists = crate::db::schema::datasets::table
                .find(dataset_id)
                .select(crate::db::schema::datasets::id)
                .first::<i64>(conn)
                .optional()?
                .is_some();
            if exists {
                add_count(conn, dataset_id, version, kind, n)?;
            }
        }
        Ok(())
    })
}

/// The usage of one dataset: its totals and each version's.
pub fn usage_of(conn: &mut AnyConnection, dataset_id: i64) -> Result<Usage, DomainError> {
    let rows: Vec<(i32, String, i64)> = usage_counts::table
        .filter(usage_counts::dataset_id.eq(dataset_id))
        .order(usage_counts::version_number.asc())
        .select((
            usage_counts::version_number,
            usage_counts::kind,
            usage_counts::hits,
        ))
        .load(conn)?;
    let mut usage = Usage::default();
    for (version, kind, hits) in rows {
        let index = match usage.versions.iter().position(|(n, _)| *n == version) {
            Some(i) => i,
            None => {
                usage.versions.push((version, Counts::default()));
                usage.versions.len() - 1
            }
        };
        let slot = &mut usage.versions[index].1;
        match kind.as_str() {
            "view" => {
                slot.views += hits;
                usage.total.views += hits;
            }
            "download" => {
                slot.downloads += hits;
                usage.total.downloads += hits;
            }
            _ => {}
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_robot_pattern_compiles() {
        for pattern in robot_patterns() {
            assert!(
                regex::RegexBuilder::new(pattern)
                    .case_insensitive(true)
                    .build()
                    .is_ok(),
                "{pattern}"
            );
        }
        assert!(robot_patterns().count() > 20);
        assert!(ROBOTS.is_some(), "the list builds as one set");
    }

    #[test]
    fn robots_and_tools_are_recognised_and_browsers_are_not() {
        for ua in [
            "",
            "   ",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Baiduspider+(+http://www.baidu.com/search/spider.htm)",
            "curl/8.5.0",
            "Wget/1.21.4",
            "python-requests/2.32.3",
            "Python-urllib/3.11",
            "Go-http-client/1.1",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
            "facebookexternalhit/1.1",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "ia_archiver",
        ] {
            assert!(is_robot(ua), "{ua:?} is a robot");
        }
        for ua in [
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        ] {
            assert!(!is_robot(ua), "{ua:?} is a person's browser");
        }
    }

    #[test]
    fn visitors_are_hashed_per_salt_and_hours_truncate() {
        let a = visitor_hash("salt-1", "10.0.0.1", "Firefox");
        assert_eq!(a.len(), 32);
        assert!(!a.contains("10.0.0.1"));
        assert_eq!(a, visitor_hash("salt-1", "10.0.0.1", "Firefox"));
        assert_ne!(a, visitor_hash("salt-2", "10.0.0.1", "Firefox"));
        assert_ne!(a, visitor_hash("salt-1", "10.0.0.2", "Firefox"));
        assert_ne!(a, visitor_hash("salt-1", "10.0.0.1", "Safari"));
        // The separator keeps "ab"+"c" apart from "a"+"bc".
        assert_ne!(visitor_hash("s", "ab", "c"), visitor_hash("s", "a", "bc"));
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .and_then(|d| d.and_hms_opt(13, 59, 59))
            .expect("valid time");
        assert_eq!(hour_of(t).format("%H:%M:%S").to_string(), "13:00:00");
    }
}
