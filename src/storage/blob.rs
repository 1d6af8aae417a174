//! Object-store interface used by the OCFL layer, and its local-disk
//! implementation. Keys are `/`-separated paths relative to the store root so
//! that an S3-style backend can hold exactly the same OCFL layout.

use std::fs;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::StorageError;

pub type ByteStream = futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;

/// What `put_file` stored: the byte count and the sha256 of exactly those bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutReceipt {
    pub size: u64,
    pub sha256: String,
}

#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Durably store the local file `source` at `key`, hashing the bytes as
    /// they are copied (the source is read once). If `expected_sha256` is given
    /// and differs from what was read, fails with `DigestMismatch` and nothing
    /// appears under `key`. Atomic: a crash never leaves a partial object under
    /// `key` (local disk: temp file + fsync + rename + fsync dir; S3: abort the
    /// upload, or let S3 check `x-amz-checksum-sha256`).
    async fn put_file(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<PutReceipt, StorageError>;
    /// `put_file` for one of many files written together: as atomic, but durable
    /// only once [`BlobStore::sync_batch`] has returned (a local disk then makes
    /// thousands of small files durable with one flush instead of two fsyncs each).
    /// Stores whose writes are durable at once keep this default.
    async fn put_file_batched(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        self.put_file(key, source, expected_sha256).await
    }
    /// Makes every `put_file_batched` that returned so far durable.
    async fn sync_batch(&self) -> Result<(), StorageError> {
        Ok(())
    }
    /// Durably and atomically write/replace small content (inventories,
    /// sidecars, declarations).
    async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StorageError>;
    async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>, StorageError>;
    /// Stream the byte range `[start, end)` or the whole object. `NotFound`
    /// when absent; `InvalidInput` when the range is reversed or past the end.
    async fn get_range(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError>;
    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError>;
    /// All keys starting with `prefix` (plain string prefix, as in S3),
    /// recursive, relative to the store root, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// Idempotent: deleting an absent key succeeds.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// A local filesystem path for the key if this store is on local disk
    /// (lets callers serve files with sendfile-like efficiency); None for
    /// remote stores or invalid keys.
    fn local_path(&self, key: &str) -> Option<PathBuf>;
    /// Can the store write to its root right now (used by /healthz)?
    async fn check_writable(&self) -> Result<(), StorageError>;
    /// [`put_file`](Self::put_file) for a source file the caller gives up (a verified
    /// download, say): a store on the same filesystem renames it into place after
    /// hashing and fsyncing it, rather than copying it. Same guarantees; the source is
    /// gone afterwards, whatever the outcome.
    async fn put_file_moving(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        let result = self.put_file(key, source, expected_sha256).await;
        let _ = tokio::fs::remove_file(source).await;
        result
    }
    /// [`put_file_moving`](Self::put_file_moving) for one of many files stored together:
    /// durable only once [`BlobStore::sync_batch`] has returned, like
    /// [`put_file_batched`](Self::put_file_batched). `hashed`: the size and digest the
    /// caller computed while writing the file (a download checked as it arrived); a
    /// local disk then moves it into place without reading it again, other stores
    /// read and check it anyway. `expected_sha256` is checked either way.
    async fn put_file_moving_batched(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
        hashed: Option<&PutReceipt>,
    ) -> Result<PutReceipt, StorageError> {
        let _ = hashed;
        self.put_file_moving(key, source, expected_sha256).await
    }
}

/// Fails with `DigestMismatch` unless `receipt` has the `expected` digest (if any).
pub(super) fn check_digest(
    key: &str,
    receipt: &PutReceipt,
    expected: Option<&str>,
) -> Result<(), StorageError> {
    match expected {
        Some(expected) if !expected.eq_ignore_ascii_case(&receipt.sha256) => {
            Err(StorageError::DigestMismatch {
                path: key.to_string(),
                expected: expected.to_string(),
                found: receipt.sha256.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// Reads `src` to its end, hashing it, and writes each block to `copy` if given.
fn read_hashing(
    src: &mut fs::File,
    mut copy: Option<&mut fs::File>,
) -> Result<PutReceipt, StorageError> {
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; COPY_BUF];
    let mut size = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        if let Some(out) = copy.as_deref_mut() {
            out.write_all(&buf[..n])?;
            crate::crashpoint::hit("blob.put-file.mid-copy");
        }
    }
    Ok(PutReceipt {
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Streams the object at `key` into a new local file `dest` (for readers that need a
/// file, such as the validators, when the store is not on local disk). Returns the
/// byte count; on an error the partial file is removed.
pub async fn copy_to_file(
    store: &dyn BlobStore,
    key: &str,
    dest: &Path,
) -> Result<u64, StorageError> {
    use tokio::io::AsyncWriteExt;
    let mut stream = store.get_range(key, None).await?;
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .await?;
    let copied = async {
        let mut out = tokio::io::BufWriter::with_capacity(COPY_BUF, file);
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        Ok::<u64, std::io::Error>(size)
    }
    .await;
    match copied {
        Ok(size) => Ok(size),
        Err(e) => {
            let _ = tokio::fs::remove_file(dest).await;
            Err(e.into())
        }
    }
}

/// Copy buffer size: large enough that multi-GB files are not syscall bound.
const COPY_BUF: usize = 1 << 20;
/// Chunk size for streamed reads.
const READ_CHUNK: u64 = 256 * 1024;

/// Rejects anything that could escape the root or that has no single meaning
/// as a path: absolute keys, empty, `.` or `..` segments, NUL, backslashes
/// (which would be a separator on some platforms and not on S3).
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let bad = |why: &str| Err(StorageError::InvalidKey(format!("{key:?}: {why}")));
    if key.is_empty() {
        return bad("empty");
    }
    if key.starts_with('/') {
        return bad("absolute");
    }
    if key.contains('\0') || key.contains('\\') {
        return bad("forbidden character");
    }
    for seg in key.split('/') {
        match seg {
            "" => return bad("empty segment"),
            "." | ".." => return bad("dot segment"),
            _ => {}
        }
    }
    Ok(())
}

/// A store on the local filesystem. Atomic writes stage their temp files in a
/// directory *outside* the root (by default the sibling `<root>.tmp`) so that
/// staging files are never visible to OCFL validators or `list`; it must be on
/// the same filesystem as the root so `rename` is atomic.
#[derive(Debug, Clone)]
pub struct LocalDiskStore {
    root: PathBuf,
    tmp_dir: PathBuf,
}

impl LocalDiskStore {
    /// Store rooted at `root` with temp files in the sibling `<root>.tmp`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root: PathBuf = root.into();
        let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
            return Err(StorageError::InvalidKey(format!(
                "store root {} has no parent directory for temp files",
                root.display()
            )));
        };
        let mut tmp_name = name.to_os_string();
        tmp_name.push(".tmp");
        let tmp_dir = parent.join(tmp_name);
        Ok(Self { root, tmp_dir })
    }

    /// Store with an explicit temp directory (must be outside `root` and on the
    /// same filesystem, e.g. when `root` is itself a mount point).
    pub fn with_temp_dir(root: impl Into<PathBuf>, tmp_dir: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            tmp_dir: tmp_dir.into(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where atomic writes stage their temp files.
    pub fn temp_dir(&self) -> &Path {
        &self.tmp_dir
    }

    fn path_for(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

async fn blocking<T, F>(f: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
}

/// `<prefix>-<pid>@<host>-<random>.tmp`: the writer's pid and host let startup
/// recovery tell a dead process's leftovers from a live one's write in progress, also
/// when several nodes share the folder.
fn random_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}@{}-{:032x}.tmp",
        std::process::id(),
        crate::jobs::worker::host_name(),
        rand::random::<u128>()
    )
}

/// Removes the staging file unless the write completed (error paths and
/// panics alike).
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// `create_dir_all` that also fsyncs the parent of every directory it
/// creates, so a renamed file's path survives a crash.
fn create_dirs_durable(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.exists() {
        missing.push(cur.to_path_buf());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    for d in missing.iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if let Some(p) = d.parent() {
            fsync_dir(p)?;
        }
    }
    Ok(())
}

/// Moves a fully synced staging file to `dest` and makes the rename durable.
fn publish(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    let parent = dest
        .parent()
        .ok_or_else(|| std::io::Error::other("destination has no parent"))?;
    // A concurrent `delete` may prune the freshly created parent between
    // mkdir and rename; recreating it a few times resolves that race.
    let mut attempts = 0;
    loop {
        create_dirs_durable(parent)?;
        match fs::rename(tmp, dest) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
    fsync_dir(parent)
}

/// [`publish`] if `durable`, else [`move_into_place`].
fn place(tmp: &Path, dest: &Path, durable: bool) -> std::io::Result<()> {
    if durable {
        publish(tmp, dest)
    } else {
        move_into_place(tmp, dest)
    }
}

/// [`publish`] without the fsyncs: the rename is atomic, its durability waits for a
/// later `syncfs`.
fn move_into_place(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    let parent = dest
        .parent()
        .ok_or_else(|| std::io::Error::other("destination has no parent"))?;
    let mut attempts = 0;
    loop {
        fs::create_dir_all(parent)?;
        match fs::rename(tmp, dest) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

fn stage_file(tmp_dir: &Path) -> Result<(TempGuard, PathBuf, fs::File), StorageError> {
    fs::create_dir_all(tmp_dir)?;
    let tmp = tmp_dir.join(random_name("put"));
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    Ok((TempGuard(Some(tmp.clone())), tmp, file))
}

impl LocalDiskStore {
    /// Copies `source` in under `key` while hashing it; `durable`: fsync the file and
    /// its directory before returning, else leave that to [`BlobStore::sync_batch`].
    async fn copy_in(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
        durable: bool,
    ) -> Result<PutReceipt, StorageError> {
        let dest = self.path_for(key)?;

        let tmp_dir = self.tmp_dir.clone();
        let source = source.to_path_buf();
        let expected = expected_sha256.map(str::to_owned);
        let key = key.to_owned();
        blocking(move || {
            let mut src = fs::File::open(&source)?;
            let (mut guard, tmp, mut out) = stage_file(&tmp_dir)?;
            let receipt = read_hashing(&mut src, Some(&mut out))?;
            if durable {
                out.sync_all()?;
            }
            drop(out);
            crate::crashpoint::hit("blob.put-file.temp-written");
            check_digest(&key, &receipt, expected.as_deref())?;
            place(&tmp, &dest, durable)?;
            guard.0 = None;
            Ok(receipt)
        })
        .await
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalDiskStore {
    async fn put_file(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        self.copy_in(key, source, expected_sha256, true).await
    }

    async fn put_file_batched(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        self.copy_in(key, source, expected_sha256, false).await
    }

    async fn sync_batch(&self) -> Result<(), StorageError> {
        let root = self.root.clone();
        blocking(move || {
            // One flush of the file system holding the root: every file written and
            // renamed since, with its directory entries.
            let dir = fs::File::open(&root)?;
            nix::unistd::syncfs(&dir).map_err(std::io::Error::from)?;
            Ok(())
        })
        .await
    }

    async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let dest = self.path_for(key)?;
        let tmp_dir = self.tmp_dir.clone();
        blocking(move || {
            let (mut guard, tmp, mut out) = stage_file(&tmp_dir)?;
            out.write_all(&bytes)?;
            out.sync_all()?;
            drop(out);
            crate::crashpoint::hit("blob.put-bytes.temp-written");
            publish(&tmp, &dest)?;
            guard.0 = None;
            Ok(())
        })
        .await
    }
    async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let path = self.path_for(key)?;
        match tokio::fs::read(&path).await {
            Ok(v) => Ok(Some(Bytes::from(v))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_range(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        let path = self.path_for(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound)
            }
            Err(e) => return Err(e.into()),
        };
        let meta = file.metadata().await?;
        if !meta.is_file() {
            return Err(StorageError::NotFound);
        }
        let len = meta.len();
        let (start, end) = match range {
            None => (0, len),
            Some(r) if r.start <= r.end && r.end <= len => (r.start, r.end),
            Some(r) => {
                return Err(StorageError::InvalidInput(format!(
                    "range {}..{} outside object of {len} bytes",
                    r.start, r.end
                )))
            }
        };
        file.seek(std::io::SeekFrom::Start(start)).await?;
        let s = stream::unfold((file, end - start), |(mut file, remaining)| async move {
            if remaining == 0 {
                return None;
            }
            let want = remaining.min(READ_CHUNK) as usize;
            let mut buf = BytesMut::zeroed(want);
            match file.read(&mut buf[..]).await {
                // The file shrank underneath us: report it rather than end short.
                Ok(0) => Some((
                    Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
                    (file, 0),
                )),
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(buf.freeze()), (file, remaining - n as u64)))
                }
                Err(e) => Some((Err(e), (file, 0))),
            }
        });
        Ok(s.boxed())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let path = self.path_for(key)?;
        match tokio::fs::symlink_metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        // Only the directory part of the prefix is walked; the rest filters.
        let dir_part = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        if !dir_part.is_empty() {
            validate_key(dir_part)?;
        }
        let root = self.root.clone();
        let dir_part = dir_part.to_owned();
        let prefix = prefix.to_owned();
        blocking(move || {
            let mut out = Vec::new();
            let mut stack = vec![(root.join(&dir_part), dir_part)];
            while let Some((dir, rel)) = stack.pop() {
                let entries = match fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
                    Err(e) => return Err(e.into()),
                };
                for entry in entries {
                    let entry = entry?;
                    let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                        tracing::warn!(dir = %dir.display(), "skipping non-UTF-8 file name");
                        continue;
                    };
                    let key = if rel.is_empty() {
                        name
                    } else {
                        format!("{rel}/{name}")
                    };
                    // file_type() does not follow symlinks: links are never listed.
                    let ft = entry.file_type()?;
                    if ft.is_dir() {
                        stack.push((entry.path(), key));
                    } else if ft.is_file() && key.starts_with(&prefix) {
                        out.push(key);
                    }
                }
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        let root = self.root.clone();
        blocking(move || {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            // OCFL forbids empty directories (E073), so prune emptied parents
            // up to (not including) the root; stop at the first non-empty one.
            let mut cur = path.parent();
            while let Some(dir) = cur {
                if dir == root || !dir.starts_with(&root) || fs::remove_dir(dir).is_err() {
                    break;
                }
                cur = dir.parent();
            }
            Ok(())
        })
        .await
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path_for(key).ok()
    }

    async fn put_file_moving(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<PutReceipt, StorageError> {
        self.move_in(key, source, expected_sha256, true, None).await
    }

    async fn put_file_moving_batched(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
        hashed: Option<&PutReceipt>,
    ) -> Result<PutReceipt, StorageError> {
        self.move_in(key, source, expected_sha256, false, hashed.cloned())
            .await
    }

    async fn check_writable(&self) -> Result<(), StorageError> {
        let root = self.root.clone();
        let tmp_dir = self.tmp_dir.clone();
        blocking(move || {
            fs::create_dir_all(&root)?;
            let (mut guard, tmp, mut out) = stage_file(&tmp_dir)?;
            out.write_all(b"probe")?;
            out.sync_all()?;
            drop(out);
            // Renaming into the root proves both directories are writable and
            // on one filesystem. OCFL ignores unknown files at the top level
            // of a storage root (E087), so the brief probe is harmless.
            let probe = root.join(random_name(".healthz"));
            fs::rename(&tmp, &probe)?;
            guard.0 = None;
            fs::remove_file(&probe)?;
            Ok(())
        })
        .await
    }
}

impl LocalDiskStore {
    /// Hashes `source` (checking `expected_sha256`) and renames it to `key`;
    /// `durable`: fsync the file and the directory first (else a later `sync_batch`).
    /// On another filesystem it falls back to a copy.
    async fn move_in(
        &self,
        key: &str,
        source: &Path,
        expected_sha256: Option<&str>,
        durable: bool,
        hashed: Option<PutReceipt>,
    ) -> Result<PutReceipt, StorageError> {
        let dest = self.path_for(key)?;
        let src = source.to_path_buf();
        let expected = expected_sha256.map(str::to_owned);
        let key_owned = key.to_owned();
        let moved = blocking(move || {
            // Removed on every path but a successful rename.
            let guard = TempGuard(Some(src.clone()));
            let mut file = fs::File::open(&src)?;
            let receipt = match hashed {
                Some(receipt) => receipt,
                None => read_hashing(&mut file, None)?,
            };
            check_digest(&key_owned, &receipt, expected.as_deref())?;
            if durable {
                file.sync_all()?;
            }
            drop(file);
            match place(&src, &dest, durable) {
                Ok(()) => {
                    let mut guard = guard;
                    guard.0 = None;
                    Ok(Some(receipt))
                }
                // Another filesystem: copy instead (below), keeping the source for it.
                Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                    let mut guard = guard;
                    guard.0 = None;
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
        match moved {
            Some(receipt) => Ok(receipt),
            None => {
                let result = if durable {
                    self.put_file(key, source, expected_sha256).await
                } else {
                    self.put_file_batched(key, source, expected_sha256).await
                };
                let _ = tokio::fs::remove_file(source).await;
                result
            }
        }
    }
}
