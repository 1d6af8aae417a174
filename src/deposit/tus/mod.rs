//! Resumable uploads (the tus 1.0 protocol's state and rules; `web::protocols::tus` speaks HTTP).
//!
//! An upload is a row in `tus_uploads` and a file `STAGING/tus/<id>.bin`. The row's
//! `upload_offset` only ever counts bytes that are fsynced, and its `hash_state` is the
//! SHA-256 state after exactly those bytes: a PATCH first cuts the file back to the
//! committed offset (bytes an interrupted request wrote but never committed), appends,
//! fsyncs, and only then commits the new offset with the new state. A resume after a
//! restart, or on another node sharing the database and staging folder, therefore
//! neither trusts unsynced bytes nor re-reads what was received.
//!
//! When the last byte arrives the file is renamed to `STAGING/<id>.blob` and recorded
//! with `service::add_files`, exactly like a finished PUT, in the same transaction that
//! marks the upload completed. Completion is idempotent (the blob's name is fixed by
//! the upload id), so a crash half-way is finished by the next PATCH or HEAD.

pub mod metadata;
pub mod sha256;
mod write;

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::accounts::User;
use crate::db::schema::tus_uploads;
use crate::db::AnyConnection;
use crate::deposit::ingest::DatasetPath;
use crate::deposit::service;
use crate::deposit::uploads::Uploads;
use crate::error::{DomainError, ErrorContext};

pub use metadata::{parse_target, UploadTarget};
pub use sha256::ResumableSha256;
pub use write::{patch, PatchError, PatchOutcome, PatchRequest};

/// How often expired uploads are looked for (also once at start).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// How long a request waits for another request writing to the same upload (e.g. the
/// one whose connection just broke and is still committing what it received).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = tus_uploads)]
pub struct UploadRow {
    pub id: String,
    pub owner_id: i64,
    pub dataset_id: i64,
    pub path: String,
    pub upload_length: i64,
    pub upload_offset: i64,
    pub hash_state: Vec<u8>,
    pub expected_sha256: Option<String>,
    /// The `Upload-Metadata` header as sent, returned on HEAD.
    pub metadata: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

impl UploadRow {
    pub fn length(&self) -> u64 {
        self.upload_length.max(0) as u64
    }

    pub fn offset(&self) -> u64 {
        self.upload_offset.max(0) as u64
    }

    pub fn is_expired(&self, now: NaiveDateTime) -> bool {
        self.completed_at.is_none() && self.expires_at <= now
    }
}

/// Where an upload's bytes are while it is received, and once complete.
fn data_path(staging: &Path, id: &str) -> PathBuf {
    staging.join("tus").join(format!("{id}.bin"))
}

fn blob_name(id: &str) -> String {
    format!("{id}.blob")
}

/// Upload ids are 32 lowercase hex digits; anything else is simply not found.
fn check_id(id: &str) -> Result<(), DomainError> {
    if id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

pub fn expiry_from(uploads: &Uploads, now: NaiveDateTime) -> NaiveDateTime {
    let hours = i64::try_from(uploads.settings.upload_expiry_hours).unwrap_or(i64::MAX / 7200);
    now + Duration::hours(hours.min(24 * 365 * 100))
}

/// One request at a time writes to an upload (in this process; across nodes the
/// offset's compare-and-set in the database refuses the second writer).
#[derive(Default)]
pub struct UploadLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

pub struct UploadLock {
    locks: Arc<UploadLocks>,
    id: String,
    mutex: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl UploadLocks {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn acquire(self: &Arc<Self>, id: &str) -> Result<UploadLock, DomainError> {
        let mutex = self.map().entry(id.to_string()).or_default().clone();
        let guard = tokio::time::timeout(LOCK_WAIT, mutex.clone().lock_owned())
            .await
            .map_err(|_| {
                DomainError::Conflict(
                    "another request is still writing to this upload; try again shortly".into(),
                )
            })?;
        Ok(UploadLock {
            locks: self.clone(),
            id: id.to_string(),
            mutex,
            guard: Some(guard),
        })
    }

    /// The lock if nobody holds it now (for the sweep, which never waits).
    fn try_acquire(self: &Arc<Self>, id: &str) -> Option<UploadLock> {
        let mutex = self.map().entry(id.to_string()).or_default().clone();
        let guard = mutex.clone().try_lock_owned().ok()?;
        Some(UploadLock {
            locks: self.clone(),
            id: id.to_string(),
            mutex,
            guard: Some(guard),
        })
    }
}

impl Drop for UploadLock {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.map();
        // Only the map and this lock hold the mutex: nobody waits, forget it.
        if map
            .get(&self.id)
            .is_some_and(|m| Arc::ptr_eq(m, &self.mutex) && Arc::strong_count(m) == 2)
        {
            map.remove(&self.id);
        }
    }
}

/// How long a writer's lease on an upload lasts unless renewed (a node that crashed
/// mid-request holds it no longer than this).
const LEASE: std::time::Duration = std::time::Duration::from_secs(60);
/// A writer renews its lease when it is older than this and more bytes arrive.
const RENEW_AFTER: std::time::Duration = std::time::Duration::from_secs(15);
/// How often a request waiting for another node's writer looks again.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(50);

fn lease_until(now: NaiveDateTime) -> NaiveDateTime {
    now + Duration::milliseconds(LEASE.as_millis() as i64)
}

/// The right to write to an upload's file, held in the database so that it holds
/// across nodes (the in-process `UploadLock` only orders this node's requests).
/// Released when dropped; a writer that finds it lost (it expired) stops without
/// touching the file again.
pub struct WriterLease {
    uploads: Uploads,
    id: String,
    holder: String,
    renewed: std::time::Instant,
}

impl WriterLease {
    /// Takes the lease, waiting up to `LOCK_WAIT` for another node's writer.
    pub async fn acquire(uploads: &Uploads, id: &str) -> Result<WriterLease, DomainError> {
        let holder = format!(
            "{}:{}:{:016x}",
            crate::node::host_name(),
            std::process::id(),
            rand::random::<u64>()
        );
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            let (key, me) = (id.to_string(), holder.clone());
            let taken = uploads
                .db
                .run(move |conn| {
                    let now = Utc::now().naive_utc();
                    Ok(diesel::update(
                        tus_uploads::table.find(&key).filter(
                            tus_uploads::writer
                                .is_null()
                                .or(tus_uploads::writer_until.lt(now)),
                        ),
                    )
                    .set((
                        tus_uploads::writer.eq(Some(&me)),
                        tus_uploads::writer_until.eq(Some(lease_until(now))),
                    ))
                    .execute(conn)?
                        == 1)
                })
                .await?;
            if taken {
                return Ok(WriterLease {
                    uploads: uploads.clone(),
                    id: id.to_string(),
                    holder,
                    renewed: std::time::Instant::now(),
                });
            }
            if std::time::Instant::now() >= deadline {
                return Err(DomainError::Conflict(
                    "another request is still writing to this upload; try again shortly".into(),
                ));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// Extends the lease if it is due (blocking; called by the writer as bytes arrive).
    /// Err when the lease was lost: another writer may own the file now.
    pub fn keep(&mut self) -> Result<(), DomainError> {
        if self.renewed.elapsed() < RENEW_AFTER {
            return Ok(());
        }
        self.confirm()
    }

    /// Extends the lease now (blocking); Err when it was lost. A connection is taken
    /// only for this, so a long upload does not hold one of the pool's.
    pub fn confirm(&mut self) -> Result<(), DomainError> {
        let conn = &mut self.uploads.db.get()?;
        let now = Utc::now().naive_utc();
        let kept = diesel::update(
            tus_uploads::table
                .find(&self.id)
                .filter(tus_uploads::writer.eq(&self.holder)),
        )
        .set(tus_uploads::writer_until.eq(Some(lease_until(now))))
        .execute(conn)?;
        if kept != 1 {
            return Err(DomainError::Conflict(
                "this request paused so long that another took over the upload; ask with HEAD \
                 and go on"
                    .into(),
            ));
        }
        self.renewed = std::time::Instant::now();
        Ok(())
    }
}

impl WriterLease {
    /// Gives the lease up now (blocking), before the request answers, so the client's
    /// next request (or the sweep) finds it free.
    pub fn release(mut self) {
        release_lease(&self.uploads, &self.id, &self.holder);
        self.holder.clear();
    }
}

fn release_lease(uploads: &Uploads, id: &str, holder: &str) {
    let released = uploads.db.get().and_then(|mut conn| {
        diesel::update(
            tus_uploads::table
                .find(id)
                .filter(tus_uploads::writer.eq(holder)),
        )
        .set((
            tus_uploads::writer.eq(None::<String>),
            tus_uploads::writer_until.eq(None::<NaiveDateTime>),
        ))
        .execute(&mut conn)
        .map_err(DomainError::from)
    });
    if let Err(e) = released {
        // It expires by itself.
        tracing::warn!(upload = %id, error = %e, "could not release an upload's writer lease");
    }
}

impl Drop for WriterLease {
    fn drop(&mut self) {
        if self.holder.is_empty() {
            return; // released already
        }
        let (uploads, id, holder) = (
            self.uploads.clone(),
            std::mem::take(&mut self.id),
            std::mem::take(&mut self.holder),
        );
        let release = move || release_lease(&uploads, &id, &holder);
        // The database call blocks: off the async threads when there is a runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(release)),
            Err(_) => release(),
        }
    }
}

/// Waits (up to `LOCK_WAIT`) until no request of any node holds the upload's writer
/// lease, so the committed offset is the one a resume must start from.
async fn wait_for_writers(uploads: &Uploads, id: &str) -> Result<(), DomainError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let key = id.to_string();
        let busy = uploads
            .db
            .run(move |conn| {
                let now = Utc::now().naive_utc();
                let held: i64 = tus_uploads::table
                    .find(&key)
                    .filter(tus_uploads::writer.is_not_null())
                    .filter(tus_uploads::writer_until.ge(now))
                    .count()
                    .get_result(conn)?;
                Ok(held > 0)
            })
            .await?;
        if !busy || std::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(LEASE_POLL).await;
    }
}

/// Starts a new upload into a draft the actor may change.
pub async fn create(
    uploads: &Uploads,
    actor: &User,
    target: UploadTarget,
    length: u64,
    raw_metadata: String,
) -> Result<UploadRow, DomainError> {
    let max = uploads.settings.max_upload_bytes;
    if length > max {
        return Err(DomainError::PayloadTooLarge(format!(
            "the file is {length} bytes; this archive accepts at most {max} bytes per file"
        )));
    }
    let length = i64::try_from(length)
        .map_err(|_| DomainError::PayloadTooLarge("Upload-Length is too large".into()))?;
    let now = Utc::now().naive_utc();
    let row = UploadRow {
        id: format!("{:032x}", rand::random::<u128>()),
        owner_id: actor.id,
        dataset_id: target.dataset_id,
        path: target.path.as_str().to_string(),
        upload_length: length,
        upload_offset: 0,
        hash_state: ResumableSha256::new().to_bytes(),
        expected_sha256: target.expected_sha256.map(hex::encode),
        metadata: raw_metadata,
        created_at: now,
        expires_at: expiry_from(uploads, now),
        completed_at: None,
    };
    let actor = actor.clone();
    let insert = row.clone();
    uploads
        .db
        .run(move |conn| {
            crate::db::transaction(conn, |conn| {
                service::editable_draft(conn, &actor, insert.dataset_id)?;
                diesel::insert_into(tus_uploads::table)
                    .values(&insert)
                    .execute(conn)?;
                Ok(())
            })
        })
        .await?;
    Ok(row)
}

fn load(conn: &mut AnyConnection, actor: &User, id: &str) -> Result<UploadRow, DomainError> {
    check_id(id)?;
    // Another user's upload is not found, not forbidden: its id says nothing.
    Ok(tus_uploads::table
        .find(id)
        .filter(tus_uploads::owner_id.eq(actor.id))
        .select(UploadRow::as_select())
        .first(conn)?)
}

/// The upload as the server has it (HEAD). An upload whose bytes all arrived but
/// whose completion was cut short (a crash) is completed now.
///
/// It waits for a request still writing to the upload (typically one whose connection
/// just broke), so the offset it reports is the one a resume must start from.
pub async fn status(uploads: &Uploads, actor: &User, id: &str) -> Result<UploadRow, DomainError> {
    fetch(uploads, actor, id).await?;
    let lock = match uploads.tus_locks.acquire(id).await {
        Ok(lock) => lock,
        // Still busy: the committed offset is true, only perhaps not the latest.
        Err(_) => return fetch(uploads, actor, id).await,
    };
    // A request on another node may still be committing what it received.
    wait_for_writers(uploads, id).await?;
    let row = fetch(uploads, actor, id).await?;
    if row.completed_at.is_some() || row.offset() < row.length() {
        return Ok(row);
    }
    let uploads = uploads.clone();
    let actor = actor.clone();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        let _lock = lock;
        let mut conn = uploads.db.get()?;
        let row = load(&mut conn, &actor, &id)?;
        if row.completed_at.is_none() && row.offset() == row.length() {
            let state = ResumableSha256::from_bytes(&row.hash_state, row.offset())
                .with_context(|| format!("restoring the hash state of upload {}", row.id))?;
            write::complete(&uploads, &mut conn, &actor, &row, &state)?;
        }
        load(&mut conn, &actor, &id)
    })
    .await
    .map_err(DomainError::internal)?
}

/// The row of an upload the actor owns; an expired one is gone.
pub async fn fetch(uploads: &Uploads, actor: &User, id: &str) -> Result<UploadRow, DomainError> {
    let actor = actor.clone();
    let id = id.to_string();
    let row = uploads.db.run(move |conn| load(conn, &actor, &id)).await?;
    if row.is_expired(Utc::now().naive_utc()) {
        return Err(expired());
    }
    Ok(row)
}

/// The row of an upload the actor owns, expired or not.
async fn fetch_any(uploads: &Uploads, actor: &User, id: &str) -> Result<UploadRow, DomainError> {
    let actor = actor.clone();
    let id = id.to_string();
    uploads.db.run(move |conn| load(conn, &actor, &id)).await
}

fn expired() -> DomainError {
    DomainError::Gone("this upload expired and its bytes were removed; start it again".into())
}

/// Termination: removes an upload and its bytes. A completed upload's file stays in
/// the draft (remove it from the draft to delete it); only the upload is forgotten.
pub async fn terminate(uploads: &Uploads, actor: &User, id: &str) -> Result<(), DomainError> {
    let lock = uploads.tus_locks.acquire(id).await?;
    fetch_any(uploads, actor, id).await?;
    let lease = WriterLease::acquire(uploads, id).await?;
    let uploads = uploads.clone();
    let actor = actor.clone();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        let _lock = lock;
        let removed = uploads.db.get().and_then(|mut conn| {
            let row = load(&mut conn, &actor, &id)?;
            remove_upload(&uploads, &mut conn, &row)
        });
        lease.release();
        removed
    })
    .await
    .context("the upload removal task")?
}

/// Deletes the bytes first, then the row: a crash in between leaves a row whose bytes
/// are missing, which the next request reports and the sweep removes.
fn remove_upload(
    uploads: &Uploads,
    conn: &mut AnyConnection,
    row: &UploadRow,
) -> Result<(), DomainError> {
    remove_if_present(&data_path(uploads.staging.dir(), &row.id))?;
    if row.completed_at.is_none() {
        // A completion cut short may have renamed the bytes already; no draft refers
        // to them until the upload is marked completed.
        remove_if_present(&uploads.staging.dir().join(blob_name(&row.id)))?;
    }
    diesel::delete(tus_uploads::table.find(&row.id)).execute(conn)?;
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<(), DomainError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DomainError::internal(format!(
            "removing {}: {e}",
            path.display()
        ))),
    }
}

/// Removes uploads whose expiry is before `now` (bytes and rows), and files in the
/// upload folder that no row refers to. Returns how many uploads were removed.
pub async fn sweep_expired(uploads: &Uploads, now: NaiveDateTime) -> Result<usize, DomainError> {
    let uploads = uploads.clone();
    tokio::task::spawn_blocking(move || sweep_blocking(&uploads, now))
        .await
        .context("the expired upload sweep task")?
}

fn sweep_blocking(uploads: &Uploads, now: NaiveDateTime) -> Result<usize, DomainError> {
    // The folder appears with the first upload's bytes.
    let dir = uploads.staging.dir().join("tus");
    // Listed before the rows are read: a file exists only once its row does, so a file
    // without a row in the later read belongs to an upload already removed.
    let mut files = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir)? {
            let name = entry?.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".bin") {
                files.push(id.to_string());
            }
        }
    }
    let mut conn = uploads.db.get()?;
    let expired: Vec<UploadRow> = tus_uploads::table
        .filter(tus_uploads::expires_at.le(now))
        // Being written right now on some node: not abandoned after all.
        .filter(
            tus_uploads::writer
                .is_null()
                .or(tus_uploads::writer_until.lt(Utc::now().naive_utc())),
        )
        .select(UploadRow::as_select())
        .load(&mut conn)?;
    let mut removed = 0;
    for row in expired {
        let Some(_lock) = uploads.tus_locks.try_acquire(&row.id) else {
            continue; // being written right now; not abandoned after all
        };
        remove_upload(uploads, &mut conn, &row)?;
        removed += 1;
    }
    let known: std::collections::HashSet<String> = tus_uploads::table
        .filter(tus_uploads::id.eq_any(&files))
        .select(tus_uploads::id)
        .load::<String>(&mut conn)?
        .into_iter()
        .collect();
    for id in files.iter().filter(|id| !known.contains(*id)) {
        remove_if_present(&data_path(uploads.staging.dir(), id))?;
    }
    Ok(removed)
}

/// Staged blob names of uploads whose completion a crash cut short (renamed into
/// staging, not yet recorded in a draft): the start-up sweep of unreferenced blobs
/// keeps them, so the next HEAD or PATCH can finish the upload.
pub fn pending_blob_names(conn: &mut AnyConnection) -> Result<Vec<String>, DomainError> {
    Ok(tus_uploads::table
        .filter(tus_uploads::completed_at.is_null())
        .filter(tus_uploads::upload_offset.eq(tus_uploads::upload_length))
        .select(tus_uploads::id)
        .load::<String>(conn)?
        .iter()
        .map(|id| blob_name(id))
        .collect())
}

/// Sweeps expired uploads now and then every few minutes, for as long as the
/// archive runs.
pub fn start_sweeper(uploads: &Uploads) {
    let uploads = uploads.clone();
    tokio::spawn(async move {
        loop {
            match sweep_expired(&uploads, Utc::now().naive_utc()).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "removed expired resumable uploads"),
                Err(e) => tracing::warn!(error = %e, "sweeping expired resumable uploads"),
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    });
}

/// The path an upload's file will have in its draft.
pub fn target_path(row: &UploadRow) -> Result<DatasetPath, DomainError> {
    DatasetPath::parse(&row.path).map_err(DomainError::internal)
}
