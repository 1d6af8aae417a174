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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::Federation;
use crate::config::Settings;
use crate::db::schema::{replica_objects, replication_sources};
use crate::db::AnyConnection;
use crate::error::{DomainError, ErrorContext};
use crate::jobs::Job;
use crate::storage::ocfl::{OBJECT_DECLARATION, OBJECT_DECLARATION_BODY};
use crate::storage::{BlobStore, LocalDiskStore, OcflRoot, S3Store};

mod changes;
mod pull;
mod record;
mod remote;
mod transfer;

use changes::{parse_datetime, read_changes};
pub use changes::{parse_document, Document, Item};
pub use pull::pull;
use pull::Pull;
use remote::Remote;

/// Tries per file before it is reported as failed.
const ATTEMPTS: u32 = 3;
/// How far before `pulled_through` a pull starts reading again.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(60);
const PULL_KEY: &str = "replicate-pull";

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
mod tests;
