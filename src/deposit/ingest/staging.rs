//! Streaming, hashing, size-limited writes of uploads into a staging folder.
//!
//! Everything here is blocking; async callers run it in `spawn_blocking`.
//! A file is written under a temporary name `.part-<random>` and only renamed
//! to `<random>.blob` once it is complete, flushed and fsynced, so a crash never
//! leaves a half-written `.blob`. [`Staging::cleanup_leftovers`] removes the
//! `.part-*` files a crash may leave behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use bytes::Bytes;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

const BUFFER_BYTES: usize = 1 << 20;
/// Chunks that may wait for the hashing thread of a pipelined writer.
const HASH_QUEUE_CHUNKS: usize = 64;
/// A pipelined writer asks the kernel to write back every this many bytes, so the
/// final fsync has little left to do and disk writes overlap with receiving.
const WRITEBACK_EVERY: u64 = 64 << 20;
const PART_PREFIX: &str = ".part-";
const BLOB_SUFFIX: &str = ".blob";

/// A staging folder. Cheap to create; the folder must exist before `create`.
#[derive(Debug, Clone)]
pub struct Staging {
    dir: PathBuf,
}

/// A complete file in the staging folder. It is not removed on drop: the caller
/// moves it into storage, or calls [`StagedFile::remove`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha256_hex: String,
    /// The same digest as raw bytes, e.g. for [`verify_content_digest`].
    pub sha256: [u8; 32],
}

impl StagedFile {
    pub fn remove(&self) -> io::Result<()> {
        fs::remove_file(&self.path)
    }

    /// The file's name in the staging folder (`<random>.blob`), which drafts record.
    pub fn blob_name(&self) -> Option<String> {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
    }
}

/// The error inside the `io::Error` (kind `FileTooLarge`) that
/// [`StagingWriter::write_chunk`] returns once the size limit is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the upload is larger than the limit of {limit} bytes")]
pub struct TooLarge {
    pub limit: u64,
}

impl TooLarge {
    /// The limit, if `err` is a [`TooLarge`] error from this module.
    pub fn from_io(err: &io::Error) -> Option<u64> {
        err.get_ref()
            .and_then(|inner| inner.downcast_ref::<TooLarge>())
            .map(|t| t.limit)
    }
}

impl Staging {
    pub fn new(dir: PathBuf) -> Staging {
        Staging { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes every file staged with [`StagingWriter::finish_batched`] durable: one
    /// flush of the file system holding the staging folder.
    pub fn sync_batch(&self) -> io::Result<()> {
        let dir = File::open(&self.dir)?;
        nix::unistd::syncfs(&dir).map_err(io::Error::from)
    }

    /// Opens a new temporary file for writing (no size limit until `with_limit`).
    pub fn create(&self) -> io::Result<StagingWriter> {
        self.open(Hashing::Inline(Sha256::new()))
    }

    /// Like `create`, but hashes on a thread of its own while the caller writes, so
    /// hashing and writing overlap. For large uploads; feed it with `write_bytes`.
    pub fn create_pipelined(&self) -> io::Result<StagingWriter> {
        let (tx, rx) = sync_channel::<Bytes>(HASH_QUEUE_CHUNKS);
        let done = std::thread::Builder::new()
            .name("upload-hash".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                while let Ok(chunk) = rx.recv() {
                    hasher.update(&chunk);
                }
                <[u8; 32]>::from(hasher.finalize())
            })?;
        self.open(Hashing::Pipelined {
            chunks: Some(tx),
            done: Some(done),
        })
    }

    fn open(&self, hashing: Hashing) -> io::Result<StagingWriter> {
        let name = random_name();
        // The writer's pid and host in the temp name let any process tell a dead
        // upload's leftover from one another process (or node, on a shared staging
        // folder) is still receiving.
        let temp_path = self.dir.join(format!(
            "{PART_PREFIX}{}@{}-{name}",
            std::process::id(),
            crate::node::host_name()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)?;
        Ok(StagingWriter {
            dir: self.dir.clone(),
            name,
            temp_path: Some(temp_path),
            file: Some(BufWriter::with_capacity(BUFFER_BYTES, file)),
            hashing,
            size: 0,
            limit: None,
            unsynced: 0,
        })
    }

    /// Removes `.part-*` files left in `dir` by uploads whose process has ended (a
    /// crash), and parts without a writer's pid, or of another host (a staging folder
    /// shared by several nodes), once they are an hour old. Uploads other processes (or
    /// this one) are receiving are left alone, so a command run beside a live server
    /// never breaks its uploads. Returns how many were removed.
    pub fn cleanup_leftovers(dir: &Path) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PART_PREFIX)) else {
                continue;
            };
            if !entry.file_type()?.is_file() {
                continue;
            }
            let abandoned = match crate::node::own_writer_pid(rest) {
                Some(pid) => crate::node::process_is_dead(pid),
                None => entry
                    .metadata()?
                    .modified()?
                    .elapsed()
                    .is_ok_and(|age| age > std::time::Duration::from_secs(3600)),
            };
            if abandoned {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

fn random_name() -> String {
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

/// An upload being written. Dropping it before `finish` removes the temp file.
#[derive(Debug)]
pub struct StagingWriter {
    dir: PathBuf,
    name: String,
    /// `Some` while a temp file exists that we are responsible for removing.
    temp_path: Option<PathBuf>,
    /// `None` once poisoned (limit passed) or finished.
    file: Option<BufWriter<File>>,
    hashing: Hashing,
    size: u64,
    limit: Option<u64>,
    /// Bytes written since the last early write-back (pipelined writers only).
    unsynced: u64,
}

#[derive(Debug)]
enum Hashing {
    Inline(Sha256),
    Pipelined {
        chunks: Option<SyncSender<Bytes>>,
        done: Option<JoinHandle<[u8; 32]>>,
    },
}

impl Hashing {
    fn update(&mut self, chunk: Bytes) -> io::Result<()> {
        match self {
            Hashing::Inline(hasher) => {
                hasher.update(&chunk);
                Ok(())
            }
            Hashing::Pipelined { chunks, .. } => chunks
                .as_ref()
                .and_then(|tx| tx.send(chunk).ok())
                .ok_or_else(|| io::Error::other("the hashing thread stopped")),
        }
    }

    fn finalize(&mut self) -> io::Result<[u8; 32]> {
        match self {
            Hashing::Inline(hasher) => Ok(hasher.clone().finalize().into()),
            Hashing::Pipelined { chunks, done } => {
                chunks.take(); // closing the channel lets the thread finish
                done.take()
                    .ok_or_else(|| io::Error::other("the hashing thread is gone"))?
                    .join()
                    .map_err(|_| io::Error::other("the hashing thread panicked"))
            }
        }
    }
}

impl StagingWriter {
    /// Refuse more than `limit` bytes in total.
    pub fn with_limit(mut self, limit: u64) -> StagingWriter {
        self.limit = Some(limit);
        self
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        match self.hashing {
            Hashing::Inline(_) => self.write(chunk, None),
            Hashing::Pipelined { .. } => self.write(chunk, Some(Bytes::copy_from_slice(chunk))),
        }
    }

    /// Writes a chunk the caller already holds as `Bytes` (no copy for the hashing thread).
    pub fn write_bytes(&mut self, chunk: Bytes) -> io::Result<()> {
        let shared = chunk.clone();
        self.write(&chunk, Some(shared))
    }

    fn write(&mut self, chunk: &[u8], owned: Option<Bytes>) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other(
                "staging writer is no longer usable after an earlier error",
            ));
        };
        let new_size = self.size.saturating_add(chunk.len() as u64);
        if let Some(limit) = self.limit {
            if new_size > limit {
                self.discard();
                return Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    TooLarge { limit },
                ));
            }
        }
        if let Err(e) = file.write_all(chunk) {
            self.discard();
            return Err(e);
        }
        let hashed = match (&mut self.hashing, owned) {
            (Hashing::Inline(hasher), _) => {
                hasher.update(chunk);
                Ok(())
            }
            (hashing, Some(bytes)) => hashing.update(bytes),
            (hashing, None) => hashing.update(Bytes::copy_from_slice(chunk)),
        };
        if let Err(e) = hashed {
            self.discard();
            return Err(e);
        }
        self.size = new_size;
        if matches!(self.hashing, Hashing::Pipelined { .. }) {
            self.unsynced += chunk.len() as u64;
            if self.unsynced >= WRITEBACK_EVERY {
                self.unsynced = 0;
                if let Some(file) = self.file.as_mut() {
                    let written = file.flush().and_then(|()| file.get_ref().sync_data());
                    if let Err(e) = written {
                        self.discard();
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Flushes, fsyncs, renames to `<random>.blob`, fsyncs the folder.
    pub fn finish(self) -> io::Result<StagedFile> {
        self.complete(true)
    }

    /// [`StagingWriter::finish`] for one of many files staged together (a zip's
    /// entries): renamed into place, made durable later by one
    /// [`Staging::sync_batch`] instead of two fsyncs each.
    pub fn finish_batched(self) -> io::Result<StagedFile> {
        self.complete(false)
    }

    fn complete(mut self, durable: bool) -> io::Result<StagedFile> {
        let (Some(buffered), Some(temp_path)) = (self.file.take(), self.temp_path.clone()) else {
            return Err(io::Error::other(
                "staging writer is no longer usable after an earlier error",
            ));
        };
        // On any error below, Drop removes the temp file (temp_path is still Some).
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        crate::crashpoint::hit("staging.after-fsync");

        let final_path = self.dir.join(format!("{}{BLOB_SUFFIX}", self.name));
        fs::rename(&temp_path, &final_path)?;
        self.temp_path = None;
        if let Err(e) = if durable { sync_dir(&self.dir) } else { Ok(()) } {
            let _ = fs::remove_file(&final_path);
            return Err(e);
        }
        crate::crashpoint::hit("staging.after-rename");

        let sha256 = match self.hashing.finalize() {
            Ok(digest) => digest,
            Err(e) => {
                let _ = fs::remove_file(&final_path);
                return Err(e);
            }
        };
        Ok(StagedFile {
            path: final_path,
            size: self.size,
            sha256_hex: hex::encode(sha256),
            sha256,
        })
    }

    fn discard(&mut self) {
        if let Some(buffered) = self.file.take() {
            // into_parts drops the buffer without writing it out.
            let (file, _unwritten) = buffered.into_parts();
            drop(file);
        }
        if let Some(path) = self.temp_path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

impl Drop for StagingWriter {
    fn drop(&mut self) {
        self.discard();
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Why a `Content-Digest` header was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("the Content-Digest header does not match the upload: it says sha-256=:{expected_b64}:, the received bytes have sha-256=:{found_b64}:")]
    Mismatch {
        expected_b64: String,
        found_b64: String,
    },
    #[error("the Content-Digest header could not be read: {0}")]
    Malformed(String),
    #[error("the Content-Digest header has no sha-256 digest (found: {}); please send sha-256", .algorithms.join(", "))]
    Unsupported { algorithms: Vec<String> },
}

/// Checks an RFC 9530 `Content-Digest` header value such as
/// `sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:, sha-512=:...:`
/// against the digest of the received bytes. Only sha-256 is checked; other
/// algorithms are ignored if sha-256 is present.
pub fn verify_content_digest(header: &str, sha256: &[u8; 32]) -> Result<(), DigestError> {
    let mut algorithms = Vec::new();
    let mut expected: Option<Vec<u8>> = None;

    for member in header.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            return Err(DigestError::Malformed("empty entry".to_string()));
        }
        let Some((key, value)) = member.split_once('=') else {
            return Err(DigestError::Malformed(format!(
                "'{member}' is not of the form algorithm=:base64:"
            )));
        };
        let key = key.trim().to_ascii_lowercase();
        // Structured-field parameters (";param=...") are allowed and ignored.
        let value = value.split(';').next().unwrap_or("").trim();
        let Some(b64) = value
            .strip_prefix(':')
            .and_then(|v| v.strip_suffix(':'))
            .filter(|_| value.len() >= 2)
        else {
            return Err(DigestError::Malformed(format!(
                "the value for '{key}' must be wrapped in colons, like :base64:"
            )));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| {
                DigestError::Malformed(format!("the value for '{key}' is not base64 ({e})"))
            })?;
        if key == "sha-256" {
            if bytes.len() != 32 {
                return Err(DigestError::Malformed(format!(
                    "a sha-256 digest is 32 bytes, this one is {}",
                    bytes.len()
                )));
            }
            expected = Some(bytes);
        }
        algorithms.push(key);
    }

    let Some(expected) = expected else {
        return Err(DigestError::Unsupported { algorithms });
    };
    if expected.as_slice() == sha256.as_slice() {
        Ok(())
    } else {
        let b64 = base64::engine::general_purpose::STANDARD;
        Err(DigestError::Mismatch {
            expected_b64: b64.encode(&expected),
            found_b64: b64.encode(sha256),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn empty_file_hash() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = Staging::new(tmp.path().to_path_buf());
        let staged = staging.create().unwrap().finish().unwrap();
        assert_eq!(staged.size, 0);
        assert_eq!(staged.sha256_hex, EMPTY_SHA256);
        assert_eq!(hex::encode(staged.sha256), EMPTY_SHA256);
        assert_eq!(fs::read(&staged.path).unwrap(), b"");
        let names = entries(tmp.path());
        assert_eq!(names.len(), 1);
        assert!(names[0].ends_with(".blob"), "{names:?}");
    }

    #[test]
    fn chunked_hash_and_content() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = Staging::new(tmp.path().to_path_buf());
        let mut w = staging.create().unwrap().with_limit(3);
        w.write_chunk(b"a").unwrap();
        w.write_chunk(b"").unwrap();
        w.write_chunk(b"bc").unwrap();
        assert_eq!(w.size(), 3);
        let staged = w.finish().unwrap();
        assert_eq!(staged.size, 3);
        assert_eq!(staged.sha256_hex, ABC_SHA256);
        assert_eq!(fs::read(&staged.path).unwrap(), b"abc");
        assert_eq!(staged.path.parent(), Some(tmp.path()));
    }

    #[test]
    fn pipelined_writer_hashes_what_it_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = Staging::new(tmp.path().to_path_buf());
        let mut w = staging.create_pipelined().unwrap();
        w.write_bytes(Bytes::from_static(b"a")).unwrap();
        w.write_chunk(b"bc").unwrap();
        let staged = w.finish().unwrap();
        assert_eq!(staged.sha256_hex, ABC_SHA256);
        assert_eq!(fs::read(&staged.path).unwrap(), b"abc");

        // Past the write-back threshold, and across many chunks.
        let chunk = Bytes::from(vec![7u8; 1 << 20]);
        let mut w = staging.create_pipelined().unwrap();
        let mut inline = Sha256::new();
        for _ in 0..(WRITEBACK_EVERY >> 20) + 3 {
            inline.update(&chunk);
            w.write_bytes(chunk.clone()).unwrap();
        }
        let staged = w.finish().unwrap();
        assert_eq!(staged.sha256_hex, hex::encode(inline.finalize()));

        // A pipelined writer over its limit leaves nothing behind either.
        let mut w = staging.create_pipelined().unwrap().with_limit(2);
        assert!(w.write_bytes(Bytes::from_static(b"abc")).is_err());
        drop(w);
        let parts = fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(PART_PREFIX)
            })
            .count();
        assert_eq!(parts, 0);
    }

    #[test]
    fn large_write_goes_through_buffer() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = Staging::new(tmp.path().to_path_buf());
        let mut w = staging.create().unwrap();
        let chunk = vec![7u8; 300_000];
        for _ in 0..10 {
            w.write_chunk(&chunk).unwrap();
        }
        let staged = w.finish().unwrap();
        assert_eq!(staged.size, 3_000_000);
        assert_eq!(fs::metadata(&staged.path).unwrap().len(), 3_000_000);
        let mut h = Sha256::new();
        for _ in 0..10 {
            h.update(&chunk);
        }
        assert_eq!(staged.sha256_hex, hex::encode(h.finalize()));
    }

    #[test]
    fn limit_exceeded_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = Staging::new(tmp.path().to_path_buf());
        let mut w = staging.create().unwrap().with_limit(10);
        w.write_chunk(b"0123456789").unwrap();
        let err = w.write_chunk(b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(TooLarge::from_io(&err), Some(10));
        assert!(entries(tmp.path()).is_empty());
        // Poisoned afterwards; finishing fails and still leaves nothing.
        assert!(w.write_chunk(b"").is_err());
        assert!(w.finish().is_err());
        assert!(entries(tmp.path()).is_empty());
    }

    #[test]
    fn drop_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = Staging::new(tmp.path().to_path_buf());
        let mut w = staging.create().unwrap();
        w.write_chunk(b"partial").unwrap();
        assert_eq!(entries(tmp.path()).len(), 1);
        assert!(entries(tmp.path())[0].starts_with(".part-"));
        drop(w);
        assert!(entries(tmp.path()).is_empty());
    }

    #[test]
    fn cleanup_leftovers_removes_only_parts_of_ended_uploads() {
        let tmp = tempfile::tempdir().unwrap();
        // A process that has ended wrote one part; this process (alive) another.
        let mut ended = std::process::Command::new("true").spawn().unwrap();
        let ended_pid = ended.id();
        ended.wait().unwrap();
        let host = crate::node::host_name();
        let mine = format!(".part-{}@{host}-def", std::process::id());
        fs::write(tmp.path().join(format!(".part-{ended_pid}-abc")), b"x").unwrap();
        fs::write(
            tmp.path().join(format!(".part-{ended_pid}@{host}-abd")),
            b"x",
        )
        .unwrap();
        fs::write(tmp.path().join(&mine), b"y").unwrap();
        fs::write(tmp.path().join(".part-fresh"), b"w").unwrap();
        // Another node's upload on a shared staging folder: its pid means nothing here.
        let other = format!(".part-{ended_pid}@other-node.example-ghi");
        fs::write(tmp.path().join(&other), b"v").unwrap();
        fs::write(tmp.path().join("keep.blob"), b"z").unwrap();
        assert_eq!(Staging::cleanup_leftovers(tmp.path()).unwrap(), 2);
        let mut left = entries(tmp.path());
        left.sort();
        let mut want = vec![
            ".part-fresh".to_string(),
            mine,
            other,
            "keep.blob".to_string(),
        ];
        want.sort();
        assert_eq!(left, want);
    }

    fn abc() -> [u8; 32] {
        let mut d = [0u8; 32];
        hex::decode_to_slice(ABC_SHA256, &mut d).unwrap();
        d
    }
    const ABC_B64: &str = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

    #[test]
    fn content_digest_match() {
        verify_content_digest(&format!("sha-256=:{ABC_B64}:"), &abc()).unwrap();
        verify_content_digest(&format!("sha-512=:AAAA:, sha-256=:{ABC_B64}:"), &abc()).unwrap();
        verify_content_digest(&format!("SHA-256=:{ABC_B64}:;x=1"), &abc()).unwrap();
    }

    #[test]
    fn content_digest_mismatch() {
        let empty_b64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let err = verify_content_digest(&format!("sha-256=:{empty_b64}:"), &abc()).unwrap_err();
        assert_eq!(
            err,
            DigestError::Mismatch {
                expected_b64: empty_b64.to_string(),
                found_b64: ABC_B64.to_string(),
            }
        );
        assert!(err.to_string().contains("does not match"));
    }

    #[test]
    fn content_digest_malformed_and_unsupported() {
        for bad in [
            "",
            "sha-256",
            "sha-256=abc",
            "sha-256=:not base64!:",
            "sha-256=:AAAA:", // wrong length
            "sha-256=:",
            &format!("sha-256=:{ABC_B64}:,"),
        ] {
            assert!(
                matches!(
                    verify_content_digest(bad, &abc()),
                    Err(DigestError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            verify_content_digest("sha-512=:AAAA:", &abc()),
            Err(DigestError::Unsupported {
                algorithms: vec!["sha-512".to_string()]
            })
        );
    }
}
