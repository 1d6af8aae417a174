//! The replica side: archives this one pulls (`holdfast replicate add`), and the pull.
//!
//! A pull reads the source's ResourceSync change list since the last position applied
//! (`pulled_through`, re-reading a minute before it so a publication committed late is
//! not missed; re-reading is harmless). Each `created` entry links (`rs:ln
//! rel="describedby"`) to the OCFL inventory of the object version it belongs to under
//! `/federation/objects/{dataset}/`. For each object the pull fetches the root inventory
//! and every version the replica lacks: the version's inventory (checked against its
//! sidecar), then every content file of that version not yet held, a bounded number at
//! once, each downloaded into a partial file (resumed with a Range request after a
//! broken transfer), its length checked against the change list and its sha-256
//! against the inventory's manifest before it is put into storage (`put_file` checks
//! the digest again and stores nothing on a mismatch). A file that fails is retried,
//! then reported (`last_error`, a PREMIS event) and never stored; its object is tried
//! again at the next pull. The version's inventory and sidecar are written after its
//! content and the root inventory last, so a crash leaves the previous version the
//! valid head. Every file is the origin's own bytes, so the replica's object is
//! byte-identical to the origin's (same inventory digests).
//!
//! Each source has its own OCFL storage root (`DATA_DIR/replicas/<id>`, or the key
//! prefix `<prefix>-replicas/<id>` on S3), separate from this archive's own root.
//! After a version is stored the replica sends the source a signed receipt
//! (`receipts`). A `deleted` entry (the dataset was deaccessioned at the source) marks
//! the replica's object versions deleted; the bytes are kept, dark (a preservation copy
//! is not destroyed because its source withdrew it from view), and no longer reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::objects::{self, OBJECTS_PATH};
use super::receipts::{self, RECEIPTS_PATH};
use super::Federation;
use crate::config::Settings;
use crate::db::schema::{replica_objects, replication_sources};
use crate::db::AnyConnection;
use crate::error::{DomainError, ErrorContext};
use crate::jobs::Job;
use crate::preservation::events::{self, Agent, EventType, Outcome, Subject};
use crate::storage::ocfl::{parse_sidecar, sidecar_body};
use crate::storage::{
    BlobStore, Inventory, LocalDiskStore, OcflRoot, PutReceipt, S3Store, StorageError,
};

/// Tries per file before it is reported as failed.
const ATTEMPTS: u32 = 3;
/// How far before `pulled_through` a pull starts reading again.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(60);
const PULL_KEY: &str = "replicate-pull";
const OBJECT_DECLARATION: &str = "0=ocfl_object_1.1";
const OBJECT_DECLARATION_BODY: &[u8] = b"ocfl_object_1.1\n";

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = replication_sources)]
pub struct Source {
    pub id: i64,
    pub base_url: String,
    /// The partner token the source's admin issued (presented, so kept in clear).
    #[serde(skip)]
    pub token: Option<String>,
    pub added_at: NaiveDateTime,
    pub pulled_through: Option<String>,
    pub last_pull_at: Option<NaiveDateTime>,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
}

/// Where a pull reports what it is doing (the CLI's progress bar).
pub trait Progress: Send + Sync {
    /// More bytes are to be fetched.
    fn planned(&self, bytes: u64);
    /// Bytes arrived.
    fn fetched(&self, bytes: u64);
}

/// A pull nobody watches (the scheduled job).
pub struct Quiet;

impl Progress for Quiet {
    fn planned(&self, _bytes: u64) {}
    fn fetched(&self, _bytes: u64) {}
}

/// What one pull did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PullSummary {
    pub versions: usize,
    pub files: usize,
    pub bytes: u64,
    pub withdrawn: usize,
    pub receipts: usize,
    pub failures: Vec<String>,
    #[serde(skip)]
    pub elapsed: Duration,
}

fn http_client() -> Result<reqwest::Client, DomainError> {
    crate::http_client::client(crate::http_client::Peer::Transfer, None)
        .context("building the HTTP client for replica transfers")
}

// ---------------------------------------------------------------------------------
// Sources

pub fn list(conn: &mut AnyConnection) -> Result<Vec<Source>, DomainError> {
    Ok(replication_sources::table
        .order(replication_sources::id)
        .select(Source::as_select())
        .load(conn)?)
}

pub fn find_by_url(conn: &mut AnyConnection, url: &str) -> Result<Source, DomainError> {
    let url = super::partners::check_base_url(url)?;
    replication_sources::table
        .filter(replication_sources::base_url.eq(&url))
        .select(Source::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound)
}

/// How many object versions are held from a source: (live, withdrawn).
pub fn held_counts(conn: &mut AnyConnection, source_id: i64) -> Result<(i64, i64), DomainError> {
    let all: i64 = replica_objects::table
        .filter(replica_objects::source_id.eq(source_id))
        .count()
        .get_result(conn)?;
    let withdrawn: i64 = replica_objects::table
        .filter(replica_objects::source_id.eq(source_id))
        .filter(replica_objects::deleted_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok((all - withdrawn, withdrawn))
}

/// Registers a source after checking that it answers ResourceSync (and, with a token,
/// that it accepts the token); queues a first pull. Returns the source.
pub async fn add(
    fed: &Federation,
    url: &str,
    token: Option<String>,
) -> Result<Source, DomainError> {
    let base = super::partners::check_base_url(url)?;
    let token = token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(t) = &token {
        if !t.starts_with(super::partners::PARTNER_TOKEN_PREFIX) {
            return Err(DomainError::invalid(
                "token",
                "a partner token starts with hfp_ (the source's admin prints it with `holdfast partner add`)",
            ));
        }
    }
    // The source description is public; the token is tried on its own below.
    let description_url = format!("{base}{}", super::resourcesync::SOURCE_DESCRIPTION);
    let doc = Remote::new(&base, None)?
        .document(&description_url)
        .await
        .map_err(|e| {
            DomainError::invalid(
                "source",
                format!("{base} does not answer as a ResourceSync source: {e}"),
            )
        })?;
    if doc.capability.as_deref() != Some("description") {
        return Err(DomainError::invalid(
            "source",
            format!("{description_url} is not a ResourceSync source description"),
        ));
    }
    if token.is_some() {
        // The capability list answers 401 to a token the source does not know.
        let capabilities = format!("{base}{}", super::resourcesync::CAPABILITY_LIST);
        let remote = Remote::new(&base, token.clone())?;
        remote.document(&capabilities).await.map_err(|e| {
            DomainError::invalid("token", format!("the source refused the token: {e}"))
        })?;
    }
    let now = Utc::now().naive_utc();
    let b = base.clone();
    let source = fed
        .db
        .transaction(move |conn| {
            let taken: i64 = replication_sources::table
                .filter(replication_sources::base_url.eq(&b))
                .count()
                .get_result(conn)?;
            if taken > 0 {
                return Err(DomainError::Conflict(format!(
                    "{b} is already a replication source"
                )));
            }
            diesel::insert_into(replication_sources::table)
                .values((
                    replication_sources::base_url.eq(&b),
                    replication_sources::token.eq(&token),
                    replication_sources::added_at.eq(now),
                ))
                .execute(conn)?;
            let source: Source = replication_sources::table
                .filter(replication_sources::base_url.eq(&b))
                .select(Source::as_select())
                .first(conn)?;
            // A first pull now, by whichever worker is free (the schedule covers the
            // rest).
            crate::jobs::enqueue(
                conn,
                &PullReplicas {
                    source_id: Some(source.id),
                },
            )?;
            Ok(source)
        })
        .await?;
    fed.waker.wake();
    Ok(source)
}

// ---------------------------------------------------------------------------------
// Storage

/// The key prefix of a source's replica root on S3: beside this archive's own root,
/// never inside it (OCFL roots must not nest).
fn s3_replica_prefix(own_prefix: &str, source_id: i64) -> String {
    if own_prefix.is_empty() {
        format!("replicas/{source_id}")
    } else {
        format!("{own_prefix}-replicas/{source_id}")
    }
}

/// The OCFL storage root holding a source's objects, created if needed.
pub async fn replica_root(settings: &Settings, source_id: i64) -> Result<OcflRoot, DomainError> {
    let store: Arc<dyn BlobStore> = match &settings.s3 {
        None => Arc::new(
            LocalDiskStore::new(settings.replicas_dir().join(source_id.to_string()))
                .with_context(|| format!("opening the replica store of source {source_id}"))?,
        ),
        Some(s3) => {
            let mut s3 = s3.clone();
            s3.prefix = s3_replica_prefix(&s3.prefix, source_id);
            Arc::new(
                S3Store::new(s3)
                    .context("opening the S3 replica store")?
                    .blobs(),
            )
        }
    };
    let root = OcflRoot::new(store);
    root.init()
        .await
        .with_context(|| format!("initialising the replica root of source {source_id}"))?;
    Ok(root)
}

/// Where downloads of a source wait until they are verified (always local disk).
fn partial_dir(settings: &Settings, source_id: i64) -> PathBuf {
    settings.replicas_dir().join(format!("{source_id}.partial"))
}

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

/// A source as this replica reaches it.
struct Remote {
    client: reqwest::Client,
    /// The address registered with `replicate add`.
    base: String,
    token: Option<String>,
    /// The base URL the source writes into its documents, when it differs from the
    /// registered one (behind a proxy, another name): such URLs are fetched through
    /// the registered address.
    advertised: std::sync::Mutex<Option<String>>,
}

impl Remote {
    fn new(base: &str, token: Option<String>) -> Result<Remote, DomainError> {
        Ok(Remote {
            client: http_client()?,
            base: base.trim_end_matches('/').to_string(),
            token,
            advertised: std::sync::Mutex::new(None),
        })
    }

    fn rebase(&self, url: &str) -> String {
        let advertised = self
            .advertised
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match advertised {
            Some(a) if a != self.base => match url.strip_prefix(&a) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => {
                    format!("{}{rest}", self.base)
                }
                _ => url.to_string(),
            },
            _ => url.to_string(),
        }
    }

    fn request(&self, url: &str) -> reqwest::RequestBuilder {
        let r = self.client.get(self.rebase(url));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// A whole document (list, inventory, sidecar). A connection error or a 5xx answer
    /// is tried again a few times: a busy source, or a kept-alive connection the source
    /// closed just as it was reused, must not fail the pull.
    async fn bytes(&self, url: &str) -> Result<Bytes, String> {
        let mut last_error = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            let r = match self.request(url).send().await {
                Ok(r) => r,
                Err(e) => {
                    last_error = format!("{url}: {e}");
                    continue;
                }
            };
            let status = r.status();
            if status.is_server_error() {
                last_error = format!("{url}: {status}");
                continue;
            }
            if !status.is_success() {
                return Err(format!("{url}: {status}"));
            }
            match r.bytes().await {
                Ok(body) => return Ok(body),
                Err(e) => last_error = format!("{url}: {e}"),
            }
        }
        Err(last_error)
    }

    async fn document(&self, url: &str) -> Result<Document, String> {
        let body = self.bytes(url).await?;
        parse_document(&body).map_err(|e| format!("{url}: {e}"))
    }

    /// Learns the base URL the source's documents use, from its source description.
    async fn discover(&self) -> Result<(), String> {
        let doc = self
            .document(&format!(
                "{}{}",
                self.base,
                super::resourcesync::SOURCE_DESCRIPTION
            ))
            .await?;
        let advertised = doc.items.iter().find_map(|i| {
            i.loc
                .strip_suffix(super::resourcesync::CAPABILITY_LIST)
                .map(str::to_string)
        });
        *self
            .advertised
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = advertised;
        Ok(())
    }

    fn object_url(&self, dataset: i64, path: &str) -> String {
        objects::file_url(&self.base, dataset, path)
    }

    /// An inventory (root or version) and its digest, checked against its sidecar.
    async fn inventory(&self, dataset: i64, path: &str) -> Result<(Bytes, String), String> {
        let bytes = self.bytes(&self.object_url(dataset, path)).await?;
        let sidecar = self
            .bytes(&self.object_url(dataset, &format!("{path}.sha256")))
            .await?;
        let expected =
            parse_sidecar(&sidecar).ok_or_else(|| format!("{path}: malformed sidecar"))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest != expected {
            return Err(format!(
                "{path} of dataset {dataset}: sha256 {digest} does not match its sidecar {expected}"
            ));
        }
        Ok((bytes, digest))
    }
}

// ---------------------------------------------------------------------------------
// The change list

/// What the change list says about one object since the last pull.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ObjectChange {
    dataset: i64,
    /// Withdrawn (a `deleted` entry after the last `created` one).
    deleted: bool,
    /// When its first change in this read happened (where to resume if it fails).
    first: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Changes {
    /// In order of first change.
    objects: Vec<ObjectChange>,
    /// Lengths by sha-256, from the entries.
    lengths: HashMap<String, u64>,
    last: Option<DateTime<Utc>>,
    /// Entries without a link to an object of ours (another kind of source).
    unlinked: usize,
}

/// The dataset (and version inventory) an entry's describedby link names.
fn object_ref(href: &str) -> Option<i64> {
    let at = href.find(&format!("{OBJECTS_PATH}/"))?;
    let rest = &href[at + OBJECTS_PATH.len() + 1..];
    let (dataset, _) = rest.split_once('/')?;
    dataset.parse().ok()
}

fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn collect_changes(items: &[Item], into: &mut Changes) {
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

async fn read_changes(remote: &Remote, since: Option<DateTime<Utc>>) -> Result<Changes, String> {
    let mut url = format!("{}{}", remote.base, super::resourcesync::CHANGE_LIST);
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

// ---------------------------------------------------------------------------------
// The pull

struct Pull<'a> {
    fed: &'a Federation,
    source: Source,
    remote: Remote,
    root: OcflRoot,
    partial: PathBuf,
    lengths: HashMap<String, u64>,
    progress: Arc<dyn Progress>,
    files: AtomicU64,
    bytes: AtomicU64,
}

/// One pull of a source at a time in this process (the scheduled round and a pull
/// queued by `replicate add` may meet).
fn source_lock(source_id: i64) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: std::sync::OnceLock<std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>> =
        std::sync::OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(source_id).or_default().clone()
}

/// Pulls one source now: everything its change list shows since the last pull.
pub async fn pull(
    fed: &Federation,
    source: &Source,
    progress: Arc<dyn Progress>,
) -> Result<PullSummary, DomainError> {
    let lock = source_lock(source.id);
    let _one_at_a_time = lock.lock().await;
    // And one process at a time (the CLI beside a worker): an advisory lock on a file
    // of the data folder, released when the pull ends (or its process dies).
    let lock_path = fed
        .settings
        .replicas_dir()
        .join(format!("{}.lock", source.id));
    let locking = format!("locking {}", lock_path.display());
    let _one_process = tokio::task::spawn_blocking(move || {
        if let Some(dir) = lock_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    })
    .await
    .context("the replica pull lock task")?
    .context(locking)?
    .ok_or_else(|| {
        DomainError::Conflict(format!(
            "another process is pulling {} right now; try again when it is done",
            source.base_url
        ))
    })?;
    // Read again: a pull that held the lock may have moved the position.
    let id = source.id;
    let source = &fed
        .db
        .run(move |conn| {
            Ok(replication_sources::table
                .find(id)
                .select(Source::as_select())
                .first(conn)?)
        })
        .await?;
    let started = Instant::now();
    let remote = Remote::new(&source.base_url, source.token.clone())?;
    let mut summary = PullSummary::default();
    let outcome = pull_inner(fed, source, remote, progress, &mut summary).await;
    summary.elapsed = started.elapsed();
    let (through, error) = match outcome {
        Ok(through) => (through, None),
        Err(e) => {
            summary.failures.push(e);
            (None, None::<String>)
        }
    };
    let error = error.or_else(|| {
        (!summary.failures.is_empty()).then(|| {
            let mut text = summary
                .failures
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n");
            if summary.failures.len() > 20 {
                text.push_str(&format!("\n… and {} more", summary.failures.len() - 20));
            }
            text
        })
    });
    let id = source.id;
    let outcome_word = if error.is_some() { "failed" } else { "ok" };
    fed.db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            let q = diesel::update(replication_sources::table.find(id));
            match through {
                Some(t) => q
                    .set((
                        replication_sources::pulled_through.eq(Some(t)),
                        replication_sources::last_pull_at.eq(Some(now)),
                        replication_sources::last_outcome.eq(Some(outcome_word)),
                        replication_sources::last_error.eq(&error),
                    ))
                    .execute(conn)?,
                None => q
                    .set((
                        replication_sources::last_pull_at.eq(Some(now)),
                        replication_sources::last_outcome.eq(Some(outcome_word)),
                        replication_sources::last_error.eq(&error),
                    ))
                    .execute(conn)?,
            };
            Ok(())
        })
        .await?;
    Ok(summary)
}

/// The pull's work; returns the new `pulled_through` (None: unchanged). Failures of
/// single objects are in `summary.failures`; an Err is a source that could not be read.
async fn pull_inner(
    fed: &Federation,
    source: &Source,
    remote: Remote,
    progress: Arc<dyn Progress>,
    summary: &mut PullSummary,
) -> Result<Option<String>, String> {
    remote.discover().await?;
    let since = source.pulled_through.as_deref().and_then(parse_datetime);
    let changes = read_changes(&remote, since).await?;
    if changes.unlinked > 0 {
        tracing::warn!(
            source = %source.base_url,
            entries = changes.unlinked,
            "change-list entries without a link to an OCFL object were skipped"
        );
    }
    let root = replica_root(&fed.settings, source.id)
        .await
        .map_err(|e| e.to_string())?;
    let partial = partial_dir(&fed.settings, source.id);
    tokio::fs::create_dir_all(&partial)
        .await
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    let pull = Pull {
        fed,
        source: source.clone(),
        remote,
        root,
        partial,
        lengths: changes.lengths.clone(),
        progress,
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    };
    let mut resume_from: Option<DateTime<Utc>> = None;
    for change in &changes.objects {
        let result = if change.deleted {
            pull.withdraw(change.dataset).await.map(|n| {
                summary.withdrawn += n;
            })
        } else {
            pull.object(change.dataset).await.map(|n| {
                summary.versions += n;
            })
        };
        if let Err(e) = result {
            let message = format!("dataset {} of {}: {e}", change.dataset, source.base_url);
            pull.record_failure(&message).await;
            summary.failures.push(message);
            resume_from = Some(resume_from.map_or(change.first, |r| r.min(change.first)));
        }
    }
    let (sent, receipt_failures) = pull.send_receipts().await;
    summary.receipts = sent;
    summary.failures.extend(receipt_failures);
    summary.files = pull.files.load(Ordering::Relaxed) as usize;
    summary.bytes = pull.bytes.load(Ordering::Relaxed);
    let through = resume_from.or(changes.last);
    Ok(through.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
}

impl Pull<'_> {
    fn store(&self) -> &Arc<dyn BlobStore> {
        self.root.store()
    }

    /// Brings one object up to the source's head; returns how many versions were added.
    async fn object(&self, dataset: i64) -> Result<usize, String> {
        let (root_bytes, root_digest) = self.remote.inventory(dataset, "inventory.json").await?;
        let inventory = parse_inventory(&root_bytes)?;
        let head = inventory.head_number().map_err(|e| e.to_string())?;
        let object_id = inventory.id.clone();
        // What an interrupted pull left (content of a version never committed, a root
        // inventory without its sidecar) is cleaned up first, so the copy is valid.
        let recovered = self
            .root
            .recover_object(&object_id)
            .await
            .map_err(|e| format!("the replica's copy of {object_id}: {e}"))?;
        if recovered.changed() {
            tracing::warn!(object = %object_id, removed = recovered.removed.len(), "cleaned up an interrupted replica pull");
        }
        let held = self
            .root
            .inventory(&object_id)
            .await
            .map_err(|e| format!("the replica's copy of {object_id}: {e}"))?;
        let held_head = match &held {
            Some(h) => h.head_number().map_err(|e| e.to_string())?,
            None => 0,
        };
        if held_head > head {
            return Err(format!(
                "the source's {object_id} is at v{head}, behind the replica's v{held_head}"
            ));
        }
        let mut added = 0;
        for n in held_head + 1..=head {
            let last = (n == head).then(|| (root_bytes.clone(), root_digest.clone()));
            self.version(dataset, &object_id, n, last).await?;
            added += 1;
        }
        if added == 0 {
            let (_, held_digest) = self.held_root_digest(&object_id).await?;
            if held_digest != root_digest {
                return Err(format!(
                    "the replica's {object_id} v{head} has inventory sha256 {held_digest}, the source's {root_digest}"
                ));
            }
        }
        // Rows for every version held (an earlier pull may have stopped between
        // storage and database).
        for n in 1..=head {
            let digest = self.held_version_digest(&object_id, n).await?;
            self.record_version(dataset, &object_id, n, &digest, 0, 0)
                .await?;
        }
        Ok(added)
    }

    async fn held_root_digest(&self, object_id: &str) -> Result<(u64, String), String> {
        self.root
            .inventory_digest(object_id)
            .await
            .map_err(|e| e.to_string())?
            .map(|(d, size)| (size, d))
            .ok_or_else(|| format!("the replica holds no {object_id}"))
    }

    async fn held_version_digest(&self, object_id: &str, n: u32) -> Result<String, String> {
        let key = format!("{}/v{n}/inventory.json", self.root.object_root(object_id));
        let bytes = self
            .store()
            .get_bytes(&key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the replica's {object_id} lacks v{n}/inventory.json"))?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    }

    /// Fetches and stores version `n`; `last` is the root inventory to finish with
    /// when this is the source's head.
    async fn version(
        &self,
        dataset: i64,
        object_id: &str,
        n: u32,
        last: Option<(Bytes, String)>,
    ) -> Result<(), String> {
        let dir = format!("v{n}");
        let (bytes, digest) = self
            .remote
            .inventory(dataset, &format!("{dir}/inventory.json"))
            .await?;
        let inventory = parse_inventory(&bytes)?;
        if inventory.id != object_id || inventory.head != dir {
            return Err(format!(
                "{dir}/inventory.json of dataset {dataset} is {} {}, not {object_id} {dir}",
                inventory.id, inventory.head
            ));
        }
        let prefix = format!("{dir}/");
        let wanted: Vec<(String, String)> = inventory
            .manifest
            .iter()
            .flat_map(|(digest, paths)| {
                paths
                    .iter()
                    .filter(|p| p.starts_with(&prefix))
                    .map(move |p| (digest.to_ascii_lowercase(), p.clone()))
            })
            .collect();
        let object_root = self.root.object_root(object_id);
        let planned: u64 = wanted.iter().filter_map(|(d, _)| self.lengths.get(d)).sum();
        self.progress.planned(planned);
        let parallel = self.fed.settings.replication_parallel;
        let results: Vec<Result<(u64, bool), String>> =
            // Owned names per file: a future that borrows from the iterator is not `Send`
            // for every lifetime the job's future needs.
            futures_util::stream::iter(wanted.iter().cloned().map(|(digest, path)| {
                let key = format!("{object_root}/{path}");
                let url = self.remote.object_url(dataset, &path);
                async move { self.content(&url, &key, &path, &digest).await }
            }))
            .buffer_unordered(parallel)
            .collect()
            .await;
        let mut failures = Vec::new();
        let (mut files, mut size) = (0, 0);
        for r in results {
            match r {
                Ok((n, fetched)) => {
                    if fetched {
                        files += 1;
                        size += n;
                    }
                }
                Err(e) => failures.push(e),
            }
        }
        if !failures.is_empty() {
            // The version's other files are taken out again, so the storage root holds
            // no content without an inventory (a crash could leave some; the next pull
            // completes them).
            for (_, path) in &wanted {
                let key = format!("{object_root}/{path}");
                if let Err(e) = self.store().delete(&key).await {
                    tracing::warn!(key = %key, error = %e, "could not remove a file of a version that failed");
                }
            }
            return Err(format!(
                "{object_id} {dir}: {} file(s) not stored: {}",
                failures.len(),
                failures.join("; ")
            ));
        }
        let put = |key: String, body: Bytes| async move {
            self.store()
                .put_bytes(&key, body)
                .await
                .map_err(|e| format!("{key}: {e}"))
        };
        // The version's content was stored without a flush per file: one flush makes
        // it all durable before any inventory names it (a crash before this leaves a
        // version directory above the head, which recovery removes).
        self.store()
            .sync_batch()
            .await
            .map_err(|e| format!("{object_id} {dir}: making its content durable: {e}"))?;
        let declaration = format!("{object_root}/{OBJECT_DECLARATION}");
        if self
            .store()
            .size(&declaration)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            put(declaration, Bytes::from_static(OBJECT_DECLARATION_BODY)).await?;
        }
        put(format!("{object_root}/{dir}/inventory.json"), bytes.clone()).await?;
        put(
            format!("{object_root}/{dir}/inventory.json.sha256"),
            Bytes::from(sidecar_body(&digest)),
        )
        .await?;
        let (root_bytes, root_digest) = last.unwrap_or((bytes, digest.clone()));
        put(format!("{object_root}/inventory.json"), root_bytes).await?;
        put(
            format!("{object_root}/inventory.json.sha256"),
            Bytes::from(sidecar_body(&root_digest)),
        )
        .await?;
        self.record_version(dataset, object_id, n, &digest, files, size)
            .await
    }

    /// One content file: already held, or downloaded, checked and stored. Returns its
    /// size and whether it was fetched now.
    async fn content(
        &self,
        url: &str,
        key: &str,
        path: &str,
        digest: &str,
    ) -> Result<(u64, bool), String> {
        if let Some(size) = self.store().size(key).await.map_err(|e| e.to_string())? {
            // Stored by an earlier pull: put_file verified it before it appeared.
            return Ok((size, false));
        }
        let expected_len = self.lengths.get(digest).copied();
        let part = self.partial.join(format!(
            "{}.part",
            hex::encode(Sha256::digest(key.as_bytes()))
        ));
        let mut problems = Vec::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            let (len, hashed) = match self.download(url, &part, expected_len).await {
                Ok(got) => got,
                Err(e) => {
                    // The partial file stays: the next try resumes it.
                    problems.push(e);
                    continue;
                }
            };
            if let Some(expected) = expected_len {
                if len != expected {
                    let _ = tokio::fs::remove_file(&part).await;
                    problems.push(format!("length {len}, expected {expected}"));
                    continue;
                }
            }
            let stored = match hashed {
                Some(sha256) if !sha256.eq_ignore_ascii_case(digest) => {
                    let _ = tokio::fs::remove_file(&part).await;
                    problems.push(format!("sha-256 {sha256}, expected {digest}"));
                    continue;
                }
                Some(sha256) => {
                    let receipt = PutReceipt { size: len, sha256 };
                    self.store()
                        .put_file_moving_batched(key, &part, Some(digest), Some(&receipt))
                        .await
                }
                // Resumed: the bytes received before are read again to check them.
                None => {
                    self.store()
                        .put_file_moving_batched(key, &part, Some(digest), None)
                        .await
                }
            };
            match stored {
                Ok(receipt) => {
                    let _ = tokio::fs::remove_file(&part).await;
                    self.files.fetch_add(1, Ordering::Relaxed);
                    self.bytes.fetch_add(receipt.size, Ordering::Relaxed);
                    return Ok((receipt.size, true));
                }
                Err(StorageError::DigestMismatch { found, .. }) => {
                    let _ = tokio::fs::remove_file(&part).await;
                    problems.push(format!("sha-256 {found}, expected {digest}"));
                }
                Err(e) => return Err(format!("{path}: storing it: {e}")),
            }
        }
        let _ = tokio::fs::remove_file(&part).await;
        Err(format!(
            "{path} failed verification {ATTEMPTS} times ({})",
            problems.join("; ")
        ))
    }

    /// Downloads `url` into `part`, resuming what is there with a Range request.
    /// Returns the length of the complete file.
    async fn download(
        &self,
        url: &str,
        part: &Path,
        expected_len: Option<u64>,
    ) -> Result<(u64, Option<String>), String> {
        let io = |e: std::io::Error| format!("{}: {e}", part.display());
        let mut have = match tokio::fs::metadata(part).await {
            Ok(m) => m.len(),
            Err(_) => 0,
        };
        if expected_len.is_some_and(|e| have > e) {
            have = 0;
        }
        if have > 0 && expected_len == Some(have) {
            return Ok((have, None));
        }
        let mut request = self.remote.request(url);
        if have > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let append = match status {
            reqwest::StatusCode::PARTIAL_CONTENT if have > 0 => true,
            s if s.is_success() => false,
            reqwest::StatusCode::RANGE_NOT_SATISFIABLE => {
                let _ = tokio::fs::remove_file(part).await;
                return Err(format!("{url}: the partial download no longer fits"));
            }
            s => return Err(format!("{url}: {s}")),
        };
        if !append {
            have = 0;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(part)
            .await
            .map_err(io)?;
        // Network chunks are small; each tokio file write is a trip to a blocking thread.
        let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut stream = response.bytes_stream();
        let mut len = have;
        // A download from the first byte is hashed as it arrives, so storing it needs no
        // second read; a resumed one is checked when it is stored.
        let mut hasher = (!append).then(Sha256::new);
        while let Some(chunk) = stream.try_next().await.map_err(|e| format!("{url}: {e}"))? {
            len += chunk.len() as u64;
            if expected_len.is_some_and(|e| len > e) {
                drop(file);
                let _ = tokio::fs::remove_file(part).await;
                return Err(format!("{url}: longer than the {} bytes listed", len));
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            file.write_all(&chunk).await.map_err(io)?;
            self.progress.fetched(chunk.len() as u64);
        }
        file.flush().await.map_err(io)?;
        Ok((len, hasher.map(|h| hex::encode(h.finalize()))))
    }

    async fn record_version(
        &self,
        dataset: i64,
        object_id: &str,
        n: u32,
        digest: &str,
        files: u64,
        bytes: u64,
    ) -> Result<(), String> {
        let source = self.source.clone();
        let (object_id, digest) = (object_id.to_string(), digest.to_string());
        self.fed
            .db
            .transaction(move |conn| {
                let version = i32::try_from(n).map_err(DomainError::internal)?;
                let known: i64 = replica_objects::table
                    .filter(replica_objects::source_id.eq(source.id))
                    .filter(replica_objects::object_id.eq(&object_id))
                    .filter(replica_objects::version_number.eq(version))
                    .count()
                    .get_result(conn)?;
                if known > 0 {
                    return Ok(());
                }
                // Another process pulling the same source at the same moment (the CLI
                // beside the worker) may insert first: the unique key refuses this row,
                // the failure is reported, and the next pull finds the row in place.
                diesel::insert_into(replica_objects::table)
                    .values((
                        replica_objects::source_id.eq(source.id),
                        replica_objects::object_id.eq(&object_id),
                        replica_objects::version_number.eq(version),
                        replica_objects::inventory_digest.eq(&digest),
                        replica_objects::pulled_at.eq(Utc::now().naive_utc()),
                        replica_objects::source_dataset_id.eq(Some(dataset)),
                    ))
                    .execute(conn)?;
                events::record(
                    conn,
                    EventType::Replication,
                    &Subject::default(),
                    &format!(
                        "replica of {object_id} v{n} pulled from {} (dataset {dataset} there)",
                        source.base_url
                    ),
                    Outcome::Success,
                    &format!(
                        "inventory sha256={digest}; {files} file(s), {bytes} bytes fetched now, every one checked for length and sha-256 before it was stored"
                    ),
                    Agent::Holdfast,
                )
            })
            .await
            .map_err(|e| e.to_string())
    }

    async fn record_failure(&self, message: &str) {
        let message = message.to_string();
        let result = self
            .fed
            .db
            .transaction(move |conn| {
                events::record(
                    conn,
                    EventType::Replication,
                    &Subject::default(),
                    "replica pull",
                    Outcome::Failure,
                    &message,
                    Agent::Holdfast,
                )
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record a failed replication");
        }
    }

    /// The source deaccessioned a dataset: its versions here are marked deleted (the
    /// bytes stay, dark). Returns how many versions were marked.
    async fn withdraw(&self, dataset: i64) -> Result<usize, String> {
        let source = self.source.clone();
        self.fed
            .db
            .transaction(move |conn| {
                let now = Utc::now().naive_utc();
                let objects: Vec<String> = replica_objects::table
                    .filter(replica_objects::source_id.eq(source.id))
                    .filter(replica_objects::source_dataset_id.eq(dataset))
                    .filter(replica_objects::deleted_at.is_null())
                    .select(replica_objects::object_id)
                    .distinct()
                    .load(conn)?;
                let marked = diesel::update(
                    replica_objects::table
                        .filter(replica_objects::source_id.eq(source.id))
                        .filter(replica_objects::source_dataset_id.eq(dataset))
                        .filter(replica_objects::deleted_at.is_null()),
                )
                .set(replica_objects::deleted_at.eq(Some(now)))
                .execute(conn)?;
                for object_id in objects {
                    events::record(
                        conn,
                        EventType::Deaccession,
                        &Subject::default(),
                        &format!(
                            "{object_id} was deaccessioned at {} (dataset {dataset} there): the replica no longer serves or reports it",
                            source.base_url
                        ),
                        Outcome::Success,
                        "bytes kept, dark",
                        Agent::Holdfast,
                    )?;
                }
                Ok(marked)
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends a receipt for every version held and not yet reported (needs a token).
    async fn send_receipts(&self) -> (usize, Vec<String>) {
        let Some(token) = self.source.token.clone() else {
            return (0, Vec::new());
        };
        let id = self.source.id;
        let pending = self
            .fed
            .db
            .run(move |conn| {
                Ok(replica_objects::table
                    .filter(replica_objects::source_id.eq(id))
                    .filter(replica_objects::receipt_sent_at.is_null())
                    .filter(replica_objects::deleted_at.is_null())
                    .order(replica_objects::id)
                    .select((
                        replica_objects::id,
                        replica_objects::object_id,
                        replica_objects::version_number,
                        replica_objects::inventory_digest,
                        replica_objects::pulled_at,
                    ))
                    .load::<(i64, String, i32, String, NaiveDateTime)>(conn)?)
            })
            .await;
        let pending = match pending {
            Ok(p) => p,
            Err(e) => return (0, vec![format!("receipts: {e}")]),
        };
        let url = format!("{}{RECEIPTS_PATH}", self.remote.base);
        let (mut sent, mut failures) = (0, Vec::new());
        for (row, object_id, version, digest, pulled_at) in pending {
            let receipt = receipts::sign(
                &token,
                &object_id,
                u32::try_from(version).unwrap_or(0),
                &digest,
                pulled_at.and_utc(),
            );
            let answer = self
                .remote
                .client
                .post(&url)
                .bearer_auth(&token)
                .json(&receipt)
                .send()
                .await;
            match answer {
                Ok(r) if r.status().is_success() => {
                    let done = self
                        .fed
                        .db
                        .run(move |conn| {
                            diesel::update(replica_objects::table.find(row))
                                .set(
                                    replica_objects::receipt_sent_at
                                        .eq(Some(Utc::now().naive_utc())),
                                )
                                .execute(conn)?;
                            Ok(())
                        })
                        .await;
                    match done {
                        Ok(()) => sent += 1,
                        Err(e) => failures.push(format!("receipt for {object_id} v{version}: {e}")),
                    }
                }
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    failures.push(format!(
                        "the source refused the receipt for {object_id} v{version}: {status} {}",
                        body.chars().take(300).collect::<String>()
                    ));
                }
                Err(e) => failures.push(format!("receipt for {object_id} v{version}: {e}")),
            }
        }
        (sent, failures)
    }
}

fn parse_inventory(bytes: &[u8]) -> Result<Inventory, String> {
    let inventory: Inventory =
        serde_json::from_slice(bytes).map_err(|e| format!("an inventory does not parse: {e}"))?;
    if inventory.digest_algorithm != crate::storage::ocfl::DIGEST_ALGORITHM {
        return Err(format!(
            "{} uses {}, this replica stores sha256 objects",
            inventory.id, inventory.digest_algorithm
        ));
    }
    Ok(inventory)
}

// ---------------------------------------------------------------------------------
// The schedule

/// The `replicate-pull` job: one source (queued by `replicate add`) or, scheduled,
/// every source, then the next round after the interval. A source that fails is
/// recorded on its row; the round goes on.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PullReplicas {
    /// One source; None: the scheduled round over all sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<i64>,
}

impl Job for PullReplicas {
    const KIND: &'static str = "replicate-pull";
    /// A pull records its own failures on the source; a job failure is the database
    /// away, retried.
    const MAX_ATTEMPTS: i32 = 20;
    type Context = Federation;

    fn dedupe_key(&self) -> Option<String> {
        Some(match self.source_id {
            Some(id) => format!("{PULL_KEY}-{id}"),
            None => PULL_KEY.to_string(),
        })
    }

    async fn run(self, fed: &Federation) -> Result<(), DomainError> {
        pull_sources(fed, self.source_id).await
    }
}

async fn pull_sources(fed: &Federation, only: Option<i64>) -> Result<(), DomainError> {
    let sources = fed.db.run(list).await?;
    for source in sources.iter().filter(|s| only.is_none_or(|id| s.id == id)) {
        match pull(fed, source, Arc::new(Quiet)).await {
            Ok(s) if !s.failures.is_empty() => tracing::warn!(
                source = %source.base_url,
                failures = s.failures.len(),
                "replication pull finished with failures (see holdfast replicate list)"
            ),
            Ok(s) => tracing::info!(
                source = %source.base_url,
                versions = s.versions,
                files = s.files,
                bytes = s.bytes,
                "replication pull done"
            ),
            Err(e) => {
                tracing::warn!(source = %source.base_url, error = %e, "replication pull failed")
            }
        }
    }
    if only.is_none() {
        let next = Utc::now().naive_utc()
            + chrono::Duration::from_std(fed.settings.replication_interval)
                .map_err(DomainError::internal)?;
        crate::jobs::ensure_scheduled(&fed.db, PullReplicas::default(), next).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_lists_are_read_into_objects_with_lengths() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:rs="http://www.openarchives.org/rs/terms/">
<rs:ln rel="up" href="http://o.test/resourcesync/capabilitylist.xml"/>
<rs:md capability="changelist" from="2026-12-02T10:00:00Z" until="2026-12-02T11:00:00Z"/>
<url><loc>http://o.test/datasets/7/versions/1/files/a%20b.csv</loc><lastmod>2026-12-02T10:00:00Z</lastmod>
<rs:md hash="sha-256:ABAB" length="14" type="text/csv" change="created" datetime="2026-12-02T10:00:00.250Z"/>
<rs:ln rel="describedby" href="http://o.test/federation/objects/7/v1/inventory.json" type="application/json"/></url>
<url><loc>http://o.test/datasets/8/versions/1/files/x.csv</loc>
<rs:md hash="sha-256:cdcd" length="3" change="created" datetime="2026-12-02T10:01:00Z"/>
<rs:ln rel="describedby" href="http://o.test/federation/objects/8/v1/inventory.json"/></url>
<url><loc>http://o.test/datasets/7/versions/1/files/a%20b.csv</loc>
<rs:md change="deleted" datetime="2026-12-02T10:02:00Z"/>
<rs:ln rel="describedby" href="http://o.test/federation/objects/7/inventory.json"/></url>
<url><loc>http://elsewhere.test/x</loc><rs:md change="created" datetime="2026-12-02T10:03:00Z"/></url>
</urlset>"#;
        let doc = parse_document(xml).expect("parses");
        assert!(!doc.index);
        assert_eq!(doc.capability.as_deref(), Some("changelist"));
        assert_eq!(doc.items.len(), 4);
        assert_eq!(
            doc.items[0].loc,
            "http://o.test/datasets/7/versions/1/files/a%20b.csv"
        );
        let mut changes = Changes::default();
        collect_changes(&doc.items, &mut changes);
        assert_eq!(changes.unlinked, 1);
        assert_eq!(
            changes
                .objects
                .iter()
                .map(|o| (o.dataset, o.deleted))
                .collect::<Vec<_>>(),
            vec![(7, true), (8, false)]
        );
        assert_eq!(changes.lengths.get("abab"), Some(&14));
        assert_eq!(changes.lengths.get("cdcd"), Some(&3));
        assert_eq!(
            changes.last,
            parse_datetime("2026-12-02T10:02:00Z"),
            "the unlinked entry does not move the position"
        );
    }

    #[test]
    fn object_links_name_datasets() {
        assert_eq!(
            object_ref("http://o.test/federation/objects/42/v3/inventory.json"),
            Some(42)
        );
        assert_eq!(
            object_ref("http://o.test/a/federation/objects/42/inventory.json"),
            Some(42)
        );
        assert_eq!(
            object_ref("http://o.test/federation/objects/x/inventory.json"),
            None
        );
        assert_eq!(object_ref("http://o.test/datasets/42/"), None);
    }

    #[test]
    fn replica_roots_on_s3_sit_beside_the_archive_root() {
        assert_eq!(s3_replica_prefix("", 3), "replicas/3");
        assert_eq!(
            s3_replica_prefix("archive/ocfl", 3),
            "archive/ocfl-replicas/3"
        );
    }

    #[test]
    fn urls_in_the_source_documents_go_through_the_registered_address() {
        let remote = Remote::new("http://127.0.0.1:9000", None).expect("client");
        *remote.advertised.lock().expect("lock") = Some("http://archive.test".into());
        assert_eq!(
            remote.rebase("http://archive.test/resourcesync/changelist.xml?after=1"),
            "http://127.0.0.1:9000/resourcesync/changelist.xml?after=1"
        );
        assert_eq!(
            remote.rebase("http://archive.testing/x"),
            "http://archive.testing/x"
        );
    }
}
