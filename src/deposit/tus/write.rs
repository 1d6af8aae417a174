//! PATCH: appending a request body to an upload, durably, and completing it.

use bytes::Bytes;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use futures_util::Stream;
use sha2::{Digest as _, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};

use super::{
    blob_name, data_path, expired, expiry_from, fetch_any, load, remove_if_present, remove_upload,
    target_path, ResumableSha256, UploadRow, WriterLease,
};
use crate::accounts::User;
use crate::db::schema::tus_uploads;
use crate::db::AnyConnection;
use crate::deposit::ingest::StagedFile;
use crate::deposit::service;
use crate::deposit::uploads::Uploads;
use crate::error::DomainError;
use crate::storage::stream::{drain_into, BlockingSink};

const BUFFER_BYTES: usize = 1 << 20;

#[derive(Debug)]
pub enum PatchError {
    Domain(DomainError),
    /// The request's `Upload-Checksum` did not match its body (tus answers 460).
    ChecksumMismatch(String),
}

impl From<DomainError> for PatchError {
    fn from(e: DomainError) -> Self {
        PatchError::Domain(e)
    }
}

impl From<std::io::Error> for PatchError {
    fn from(e: std::io::Error) -> Self {
        PatchError::Domain(e.into())
    }
}

#[derive(Debug, Clone)]
pub struct PatchOutcome {
    pub offset: u64,
    pub length: u64,
    pub expires_at: NaiveDateTime,
    /// The whole file arrived and is now in the draft.
    pub completed: bool,
}

/// What a PATCH request brings besides its body.
pub struct PatchRequest {
    /// `Upload-Offset`: where the client believes the upload stands.
    pub offset: u64,
    /// `Upload-Checksum` (sha256) of this request's body.
    pub checksum: Option<[u8; 32]>,
    pub content_length: Option<u64>,
}

/// Appends a request body at the upload's offset. Without `Upload-Checksum`, bytes
/// received before a broken connection are kept (fsynced, then committed), so the
/// client resumes from there; with it, only a whole, matching body is kept.
///
/// The disk side runs on a blocking thread that finishes (and commits) even if the
/// request is dropped because the client went away.
pub async fn patch<S, E>(
    uploads: &Uploads,
    actor: &User,
    id: &str,
    req: PatchRequest,
    body: S,
) -> Result<PatchOutcome, PatchError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + 'static,
    E: std::fmt::Display,
{
    let lock = uploads.tus_locks.acquire(id).await?;
    fetch_any(uploads, actor, id).await?;
    // Across nodes: no other request writes to the file until this one has committed.
    let lease = WriterLease::acquire(uploads, id).await?;
    let row = {
        let actor = actor.clone();
        let id = id.to_string();
        uploads
            .db
            .run(move |conn| {
                let row = load(conn, &actor, &id)?;
                if row.completed_at.is_none() {
                    // A submitted dataset refuses more bytes, with the reason.
                    service::editable_draft(conn, &actor, row.dataset_id)?;
                }
                Ok(row)
            })
            .await?
    };
    if row.is_expired(Utc::now().naive_utc()) {
        return Err(expired().into());
    }
    if req.offset != row.offset() {
        return Err(DomainError::Conflict(format!(
            "Upload-Offset is {} but the server has {} bytes of this upload; ask with HEAD and \
             go on from there",
            req.offset,
            row.offset()
        ))
        .into());
    }
    if row.completed_at.is_some() {
        return Ok(PatchOutcome {
            offset: row.length(),
            length: row.length(),
            expires_at: row.expires_at,
            completed: true,
        });
    }
    let remaining = row.length() - row.offset();
    if req.content_length.is_some_and(|n| n > remaining) {
        return Err(too_long(remaining).into());
    }

    // The disk side is driven by a task of its own that finishes (and commits) even if
    // the request is dropped because the client went away. It holds a blocking thread
    // only while bytes are written, never while the client is silent.
    let uploads = uploads.clone();
    let actor = actor.clone();
    let upload_id = id.to_string();
    let task = actix_web::rt::spawn(async move {
        // The lease goes first, then this node's lock: the next request finds both free.
        let _lock = lock;
        let checksum = req.checksum;
        let opened = {
            let (uploads, row) = (uploads.clone(), row.clone());
            tokio::task::spawn_blocking(move || open_for_append(&uploads, &row, checksum, lease))
                .await
                .map_err(|e| DomainError::internal(format!("upload writer: {e}")))?
        };
        let sink = opened?;
        let drained = drain_into(body, sink)
            .await
            .map_err(DomainError::internal)?;
        if let Some(e) = &drained.body_error {
            tracing::info!(upload = %upload_id, error = %e, "a resumable upload was interrupted");
        }
        let body_complete = drained.body_error.is_none();
        tokio::task::spawn_blocking(move || {
            commit(&uploads, &actor, row, checksum, drained.sink, body_complete)
        })
        .await
        .map_err(|e| DomainError::internal(format!("upload writer: {e}")))?
    });
    task.await
        .map_err(|e| DomainError::internal(format!("upload writer: {e}")))?
}

fn too_long(remaining: u64) -> DomainError {
    DomainError::PayloadTooLarge(format!(
        "the request carries more bytes than remain of this upload's Upload-Length ({remaining})"
    ))
}

/// Cuts the file back to the committed offset, dropping what is buffered.
fn roll_back(out: BufWriter<File>, offset: u64) -> Result<(), DomainError> {
    let (file, _unwritten) = out.into_parts();
    file.set_len(offset)?;
    Ok(())
}

/// The upload's file, open at its committed offset, with the hash state so far.
struct Appender {
    path: std::path::PathBuf,
    offset: u64,
    out: BufWriter<File>,
    hasher: ResumableSha256,
    chunk_hasher: Option<Sha256>,
    remaining: u64,
    written: u64,
    failure: Option<DomainError>,
    /// Set when the lease was lost: another writer may own the file now.
    lost: Option<DomainError>,
    lease: WriterLease,
}

fn open_for_append(
    uploads: &Uploads,
    row: &UploadRow,
    checksum: Option<[u8; 32]>,
    lease: WriterLease,
) -> Result<Appender, PatchError> {
    let offset = row.offset();
    let path = data_path(uploads.staging.dir(), &row.id);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let existed = path.exists();
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    if !existed {
        // The new name must survive a crash as well as the bytes written into it.
        if let Some(parent) = path.parent() {
            File::open(parent)?.sync_all()?;
        }
    }
    let on_disk = file.metadata()?.len();
    if on_disk < offset {
        return Err(DomainError::internal(format!(
            "upload {} has {on_disk} bytes on disk but {offset} committed",
            row.id
        ))
        .into());
    }
    if on_disk > offset {
        // Written by a request that never committed them (a crash, a failed fsync).
        file.set_len(offset)?;
    }
    file.seek(SeekFrom::Start(offset))?;
    let hasher =
        ResumableSha256::from_bytes(&row.hash_state, offset).map_err(DomainError::internal)?;
    Ok(Appender {
        path,
        offset,
        out: BufWriter::with_capacity(BUFFER_BYTES, file),
        hasher,
        chunk_hasher: checksum.map(|_| Sha256::new()),
        remaining: row.length() - offset,
        written: 0,
        failure: None,
        lost: None,
        lease,
    })
}

impl BlockingSink for Appender {
    fn write(&mut self, chunk: Bytes) -> bool {
        if let Err(lost) = self.lease.keep() {
            self.lost = Some(lost);
            return false;
        }
        if self.written + chunk.len() as u64 > self.remaining {
            self.failure = Some(too_long(self.remaining));
            return false;
        }
        if let Err(e) = self.out.write_all(&chunk) {
            self.failure = Some(DomainError::internal(format!("writing upload: {e}")));
            return false;
        }
        self.hasher.update(&chunk);
        if let Some(h) = self.chunk_hasher.as_mut() {
            h.update(&chunk);
        }
        self.written += chunk.len() as u64;
        true
    }
}

/// Checks what arrived, makes it durable and moves the upload's offset on; then gives
/// the lease up, before the request answers, so the client's next request finds it free.
fn commit(
    uploads: &Uploads,
    actor: &User,
    row: UploadRow,
    checksum: Option<[u8; 32]>,
    sink: Appender,
    body_complete: bool,
) -> Result<PatchOutcome, PatchError> {
    let Appender {
        path,
        offset,
        out,
        hasher,
        chunk_hasher,
        written,
        failure,
        lost,
        mut lease,
        remaining: _,
    } = sink;
    if let Some(lost) = lost {
        // Another writer may own the file now: leave it as it is.
        return Err(lost.into());
    }
    let appended = Appended {
        path,
        offset,
        out,
        hasher,
        chunk_hasher,
        written,
        failure,
    };
    let outcome = commit_appended(
        uploads,
        actor,
        row,
        checksum,
        appended,
        body_complete,
        &mut lease,
    );
    lease.release();
    outcome
}

/// What a request appended, not yet durable.
struct Appended {
    path: std::path::PathBuf,
    offset: u64,
    out: BufWriter<File>,
    hasher: ResumableSha256,
    chunk_hasher: Option<Sha256>,
    written: u64,
    failure: Option<DomainError>,
}

fn commit_appended(
    uploads: &Uploads,
    actor: &User,
    row: UploadRow,
    checksum: Option<[u8; 32]>,
    appended: Appended,
    body_complete: bool,
    lease: &mut WriterLease,
) -> Result<PatchOutcome, PatchError> {
    let Appended {
        path,
        offset,
        out,
        hasher,
        chunk_hasher,
        written,
        failure,
    } = appended;
    // Still ours? Only then may the file be cut back or its new bytes committed.
    lease.confirm()?;
    if let Some(e) = failure {
        roll_back(out, offset)?;
        return Err(e.into());
    }
    if let (Some(expected), Some(h)) = (checksum, chunk_hasher) {
        if !body_complete {
            roll_back(out, offset)?;
            return Err(DomainError::BadRequest(format!(
                "the request was interrupted; a request with Upload-Checksum is kept only whole, \
                 so send it again from offset {offset}"
            ))
            .into());
        }
        let found: [u8; 32] = h.finalize().into();
        if found != expected {
            roll_back(out, offset)?;
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            return Err(PatchError::ChecksumMismatch(format!(
                "Upload-Checksum says sha256 {}, the received bytes have sha256 {}; they were \
                 discarded, send them again from offset {offset}",
                b64.encode(expected),
                b64.encode(found)
            )));
        }
    }
    // Durable before the offset says so.
    let synced = out
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_data());
    if let Err(e) = synced {
        let _ = OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(offset));
        return Err(DomainError::internal(format!("writing upload: {e}")).into());
    }
    let new_offset = offset + written;
    let now = Utc::now().naive_utc();
    let expires_at = expiry_from(uploads, now);
    let mut conn = uploads.db.get()?;
    let updated = diesel::update(
        tus_uploads::table
            .find(&row.id)
            .filter(tus_uploads::upload_offset.eq(row.upload_offset))
            .filter(tus_uploads::completed_at.is_null()),
    )
    .set((
        tus_uploads::upload_offset.eq(new_offset as i64),
        tus_uploads::hash_state.eq(hasher.to_bytes()),
        tus_uploads::expires_at.eq(expires_at),
    ))
    .execute(&mut conn)
    .map_err(DomainError::from)?;
    if updated != 1 {
        return Err(DomainError::Conflict(
            "another request changed this upload at the same time; ask with HEAD and go on".into(),
        )
        .into());
    }
    let mut outcome = PatchOutcome {
        offset: new_offset,
        length: row.length(),
        expires_at,
        completed: false,
    };
    if new_offset == row.length() {
        let row = UploadRow {
            upload_offset: new_offset as i64,
            ..row
        };
        complete(uploads, &mut conn, actor, &row, &hasher)?;
        outcome.completed = true;
    }
    Ok(outcome)
}

/// Turns a fully received upload into a draft file, as a finished PUT does: a staged
/// blob recorded by `service::add_files` (which queues the draft's checks). Errors the
/// client could not fix by retrying (a wrong digest, a path clash, a submitted
/// dataset) remove the upload; internal ones keep it for the next HEAD or PATCH.
pub(super) fn complete(
    uploads: &Uploads,
    conn: &mut AnyConnection,
    actor: &User,
    row: &UploadRow,
    hasher: &ResumableSha256,
) -> Result<(), DomainError> {
    let digest = hasher.finalize();
    let found = hex::encode(digest);
    if let Some(expected) = &row.expected_sha256 {
        if *expected != found {
            abandon(uploads, conn, &row.id);
            return Err(DomainError::Unprocessable(format!(
                "the received file has sha256 {found}, but Upload-Metadata said {expected}; \
                 nothing was stored, please upload it again"
            )));
        }
    }
    let staging = uploads.staging.dir();
    let data = data_path(staging, &row.id);
    let blob = staging.join(blob_name(&row.id));
    if data.exists() {
        std::fs::rename(&data, &blob)?;
        File::open(staging)?.sync_all()?;
    } else if !blob.exists() {
        abandon(uploads, conn, &row.id);
        return Err(DomainError::Gone(
            "the bytes of this upload were lost; please upload the file again".into(),
        ));
    }
    let staged = StagedFile {
        path: blob,
        size: row.length(),
        sha256_hex: found,
        sha256: digest,
    };
    let path = target_path(row)?;
    let case_insensitive = uploads.settings.case_insensitive_paths;
    let result = crate::db::transaction(conn, |conn| {
        let added = service::add_files(
            conn,
            actor,
            row.dataset_id,
            &[(path, staged)],
            case_insensitive,
        )?;
        let now = Utc::now().naive_utc();
        let marked = diesel::update(
            tus_uploads::table
                .find(&row.id)
                .filter(tus_uploads::completed_at.is_null()),
        )
        .set((
            tus_uploads::completed_at.eq(now),
            tus_uploads::expires_at.eq(expiry_from(uploads, now)),
        ))
        .execute(conn)?;
        if marked != 1 {
            return Err(DomainError::Conflict(
                "this upload was completed by another request".into(),
            ));
        }
        Ok(added)
    });
    match result {
        Ok(added) => {
            uploads.waker.wake();
            for name in added.replaced_blobs {
                if let Ok(old) = uploads.staging.blob_path(&name) {
                    if let Err(e) = remove_if_present(&old) {
                        tracing::warn!(blob = %name, error = %e, "could not remove a replaced blob");
                    }
                }
            }
            Ok(())
        }
        Err(e @ (DomainError::Internal(_) | DomainError::Unavailable(_))) => Err(e),
        Err(e) => {
            abandon(uploads, conn, &row.id);
            Err(e)
        }
    }
}

/// Removes an upload that cannot be completed, unless (re-read now) it was completed
/// after all, whose blob a draft then refers to.
fn abandon(uploads: &Uploads, conn: &mut AnyConnection, id: &str) {
    let current: Result<Option<UploadRow>, _> = tus_uploads::table
        .find(id)
        .select(UploadRow::as_select())
        .first(conn)
        .optional();
    let removed = match current {
        Ok(Some(row)) if row.completed_at.is_none() => remove_upload(uploads, conn, &row),
        Ok(_) => Ok(()),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = removed {
        tracing::warn!(upload = id, error = %e, "could not remove a failed upload");
    }
}
