//! A [`BlobStore`] over a cloud object store from the `object_store` crate: S3 today
//! (see [`super::s3`]); Azure Blob Storage and Google Cloud Storage implement the same
//! traits and would fit without a change here. The crate signs, retries and pages; this
//! file keeps holdfast's promises on top of it:
//! - a file is hashed while it is uploaded, in parts when it is large, and a multipart
//!   upload is completed only when the digest is right: aborted on a mismatch, an
//!   error, or when the caller drops the write half-way, so nothing appears at the key;
//! - reads stream, whole or by byte range, and a range past the end is refused rather
//!   than shortened;
//! - listing is by plain string prefix, as the trait promises.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{StreamExt, TryStreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest as _, Sha256};

use super::blob::{check_digest, validate_key, BlobStore, ByteStream, PutReceipt};
use super::StorageError;

/// What the blob store needs of a backend: objects, multipart uploads it drives part by
/// part (so it can hash and check before completing), and listing by string prefix.
pub trait Backend: ObjectStore + MultipartStore + PaginatedListStore {}
impl<T: ObjectStore + MultipartStore + PaginatedListStore> Backend for T {}

/// Cheap to clone (the backend is shared), so a pending multipart upload can abort
/// itself from a background task when its future is dropped.
#[derive(Clone)]
pub struct ObjectStoreBlobs {
    backend: Arc<dyn Backend>,
    /// Key prefix inside the bucket, without leading or trailing `/`; may be empty.
    prefix: String,
    part_size: usize,
    /// Keys per listing page; None: the store's own (S3: 1000).
    list_page: Option<usize>,
}

impl std::fmt::Debug for ObjectStoreBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreBlobs")
            .field("backend", &self.backend.to_string())
            .field("prefix", &self.prefix)
            .field("part_size", &self.part_size)
            .finish()
    }
}

/// A backend's error with what was being done; a missing object is `NotFound`.
pub(super) fn store_error(what: &str, key: &str, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound,
        e => StorageError::Io(std::io::Error::other(format!("{what} {key}: {e}"))),
    }
}

impl ObjectStoreBlobs {
    pub fn new(backend: Arc<dyn Backend>, prefix: &str, part_size: u64) -> ObjectStoreBlobs {
        ObjectStoreBlobs {
            backend,
            prefix: prefix.trim_matches('/').to_string(),
            part_size: usize::try_from(part_size).unwrap_or(usize::MAX),
            list_page: None,
        }
    }

    /// Smaller listing pages, so tests can follow continuation tokens.
    pub fn with_list_page_size(mut self, keys: usize) -> ObjectStoreBlobs {
        self.list_page = Some(keys.max(1));
        self
    }

    pub(super) fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// `key` under the store's prefix, as a string.
    pub(super) fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// The backend's path for a checked key. The backend refuses control characters in
    /// keys (deposits never have them: ingest refuses such paths).
    pub(super) fn path(&self, key: &str) -> Result<ObjectPath, StorageError> {
        validate_key(key)?;
        ObjectPath::parse(self.full_key(key))
            .map_err(|e| StorageError::InvalidKey(format!("{key:?}: {e}")))
    }

    /// The key relative to the store's root of a backend path under the prefix.
    pub(super) fn relative_key(&self, full: &str) -> Option<String> {
        if self.prefix.is_empty() {
            return Some(full.to_string());
        }
        full.strip_prefix(&self.prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !rest.is_empty())
            .map(str::to_string)
    }

    async fn put_object(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let path = self.path(key)?;
        self.backend
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|e| store_error("PUT", key, e))?;
        Ok(())
    }

    /// Uploads `first`, `second` and the rest of `reader` as the parts of upload `id`,
    /// reading each next part while the previous one goes up, and completes the upload
    /// only if the bytes have the expected digest. The caller aborts on any error.
    #[allow(clippy::too_many_arguments)]
    async fn upload_parts(
        &self,
        key: &str,
        path: &ObjectPath,
        id: &str,
        mut reader: PartReader,
        first: Bytes,
        second: Bytes,
        expected: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        let id = id.to_string();
        let mut parts: Vec<PartId> = Vec::new();
        let mut part = first;
        // The second part was read ahead to tell small files from large ones.
        let mut queued = Some(second);
        loop {
            let upload = self
                .backend
                .put_part(path, &id, parts.len(), PutPayload::from(part));
            let (uploaded, next) = match queued.take() {
                Some(next) => (upload.await, next),
                None => {
                    let (uploaded, read) = tokio::join!(upload, reader.next_part());
                    let (r, next) = read?;
                    reader = r;
                    (uploaded, next)
                }
            };
            let number = parts.len() + 1;
            parts.push(
                uploaded.map_err(|e| store_error(&format!("upload part {number} of"), key, e))?,
            );
            if next.is_empty() {
                break;
            }
            part = next;
        }
        let receipt = reader.finish();
        check_digest(key, &receipt, expected)?;
        self.backend
            .complete_multipart(path, &id, parts)
            .await
            .map_err(|e| store_error("complete multipart upload of", key, e))?;
        Ok(receipt)
    }

    /// Aborts a multipart upload; a failure is logged (the stale-upload sweep or the
    /// bucket's lifecycle rules remove it later; the object never became visible).
    pub(super) async fn abort_upload(&self, key: &str, id: &str) {
        let result = match self.path(key) {
            Ok(path) => self
                .backend
                .abort_multipart(&path, &id.to_string())
                .await
                .map_err(|e| store_error("abort multipart upload of", key, e)),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(key, error = %e, "could not abort a multipart upload");
        }
    }
}

/// A multipart upload in progress; aborted from a background task if dropped while
/// `store` is still set (the caller went away half-way).
struct PendingUpload {
    store: Option<ObjectStoreBlobs>,
    key: String,
    id: String,
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        let (key, id) = (std::mem::take(&mut self.key), std::mem::take(&mut self.id));
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { store.abort_upload(&key, &id).await });
            }
            // No runtime left (shutting down): the stale-upload sweep removes it later.
            Err(_) => tracing::warn!(key, "a multipart upload was left for the sweep to abort"),
        }
    }
}

/// Reads a local file in parts on the blocking pool, hashing as it goes.
struct PartReader {
    file: std::fs::File,
    hasher: Sha256,
    size: u64,
    part_size: usize,
}

impl PartReader {
    /// The next part (empty at the end of the file).
    async fn next_part(mut self) -> Result<(PartReader, Bytes), StorageError> {
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = vec![0u8; self.part_size];
            let mut filled = 0;
            while filled < buf.len() {
                match self.file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(StorageError::Io(e)),
                }
            }
            buf.truncate(filled);
            self.hasher.update(&buf);
            self.size += filled as u64;
            Ok((self, Bytes::from(buf)))
        })
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
    }

    fn finish(self) -> PutReceipt {
        PutReceipt {
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

#[async_trait::async_trait]
impl BlobStore for ObjectStoreBlobs {
    async fn put_file(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        let path = self.path(key)?;
        let reader = PartReader {
            file: std::fs::File::open(source)?,
            hasher: Sha256::new(),
            size: 0,
            part_size: self.part_size,
        };
        let (reader, first) = reader.next_part().await?;
        let (reader, second) = reader.next_part().await?;
        if second.is_empty() {
            // Small file: one PUT, after the digest is known to be right.
            let receipt = reader.finish();
            check_digest(key, &receipt, expected_sha256)?;
            self.put_object(key, first).await?;
            return Ok(receipt);
        }
        let id = self
            .backend
            .create_multipart(&path)
            .await
            .map_err(|e| store_error("create multipart upload of", key, e))?;
        // Armed until the upload completes or is aborted here: a caller that drops
        // this future half-way (a cancelled request) still has the upload aborted.
        let mut pending = PendingUpload {
            store: Some(self.clone()),
            key: key.to_string(),
            id: id.clone(),
        };
        let result = self
            .upload_parts(key, &path, &id, reader, first, second, expected_sha256)
            .await;
        pending.store = None;
        if result.is_err() {
            self.abort_upload(key, &id).await;
        }
        result
    }

    async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        // A single PUT replaces the object atomically.
        self.put_object(key, bytes).await
    }

    async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let path = self.path(key)?;
        let read = async { self.backend.get(&path).await?.bytes().await };
        match read.await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error("GET", key, e)),
        }
    }

    async fn get_range(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        let path = self.path(key)?;
        let outside = |r: &Range<u64>, len: u64| {
            StorageError::InvalidInput(format!(
                "range {}..{} outside object of {len} bytes",
                r.start, r.end
            ))
        };
        let mut options = GetOptions::default();
        if let Some(r) = &range {
            if r.start > r.end {
                return Err(StorageError::InvalidInput(format!(
                    "range {}..{} is reversed",
                    r.start, r.end
                )));
            }
            if r.start == r.end {
                // HTTP cannot ask for no bytes: check the object and answer empty.
                let len = self.size(key).await?.ok_or(StorageError::NotFound)?;
                if r.end > len {
                    return Err(outside(r, len));
                }
                return Ok(futures_util::stream::empty().boxed());
            }
            options.range = Some(GetRange::Bounded(r.clone()));
        }
        match (self.backend.get_opts(&path, options).await, &range) {
            // A store shortens a range that runs past the end; the trait refuses it.
            (Ok(got), Some(r)) if got.range != *r => Err(outside(r, got.meta.size)),
            (Ok(got), _) => Ok(got.into_stream().map_err(std::io::Error::other).boxed()),
            (Err(e @ object_store::Error::NotFound { .. }), _) => Err(store_error("GET", key, e)),
            // A range starting at or past the end is refused by the store (416): say so.
            (Err(e), Some(r)) => match self.size(key).await? {
                None => Err(StorageError::NotFound),
                Some(len) if r.end > len => Err(outside(r, len)),
                Some(_) => Err(store_error("GET", key, e)),
            },
            (Err(e), None) => Err(store_error("GET", key, e)),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let path = self.path(key)?;
        match self.backend.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error("HEAD", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let full_prefix = if self.prefix.is_empty() {
            prefix.to_string()
        } else {
            format!("{}/{prefix}", self.prefix)
        };
        let mut out = Vec::new();
        let mut page_token = None;
        loop {
            let options = PaginatedListOptions {
                max_keys: self.list_page,
                page_token,
                ..Default::default()
            };
            let page = self
                .backend
                .list_paginated(
                    Some(full_prefix.as_str()).filter(|p| !p.is_empty()),
                    options,
                )
                .await
                .map_err(|e| store_error("list", prefix, e))?;
            out.extend(
                page.result
                    .objects
                    .iter()
                    .filter(|o| o.location.as_ref().starts_with(&full_prefix))
                    .filter_map(|o| self.relative_key(o.location.as_ref())),
            );
            page_token = page.page_token;
            if page_token.is_none() {
                break;
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        match self.backend.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error("DELETE", key, e)),
        }
    }

    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }

    async fn check_writable(&self) -> Result<(), StorageError> {
        // OCFL ignores unknown files at the top of a storage root (E087).
        let key = format!(".healthz-{:032x}", rand::random::<u128>());
        self.put_object(&key, Bytes::from_static(b"probe")).await?;
        self.delete(&key).await
    }
}
