//! The audit engine: re-reads stored bytes and re-hashes them, on as many threads as
//! asked, under a byte-rate limit. Storage work only: the database side is in `record`.

use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use futures_util::StreamExt;
use sha2::Digest as _;

use crate::storage::ocfl::parse_sidecar;
use crate::storage::{BlobStore, StorageError};

/// Read buffer per thread: big enough that hashing, not syscalls, sets the pace.
const READ_BUF: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Content,
    Inventory,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Content => "content",
            Kind::Inventory => "inventory",
        }
    }

    pub fn parse(s: &str) -> Kind {
        if s == "inventory" {
            Kind::Inventory
        } else {
            Kind::Content
        }
    }
}

/// One stored file to verify.
#[derive(Clone, Debug)]
pub struct Target {
    pub stored_file_id: i64,
    pub dataset_id: i64,
    pub object_id: String,
    /// Store key of the object root.
    pub object_root: String,
    pub kind: Kind,
    /// Relative to the object root.
    pub content_path: String,
    pub sha256: String,
    pub size: u64,
}

impl Target {
    pub fn key(&self) -> String {
        format!("{}/{}", self.object_root, self.content_path)
    }
}

/// What a check found. Stored as `fixity_checks.outcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The bytes (or an inventory's sidecar) do not match the recorded digest or size.
    Mismatch,
    Missing,
    Unreadable,
    /// A file in the object that nothing accounts for.
    Extra,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Mismatch => "mismatch",
            Outcome::Missing => "missing",
            Outcome::Unreadable => "unreadable",
            Outcome::Extra => "extra",
        }
    }

    /// The QA ticket item code of a failure.
    pub fn item_code(self) -> &'static str {
        match self {
            Outcome::Ok => "fixity-ok",
            Outcome::Mismatch => "fixity-mismatch",
            Outcome::Missing => "fixity-missing",
            Outcome::Unreadable => "fixity-unreadable",
            Outcome::Extra => "fixity-extra-file",
        }
    }
}

/// The result of checking one target (or of finding one unexpected file).
#[derive(Clone, Debug)]
pub struct CheckResult {
    /// None for an unexpected file.
    pub stored_file_id: Option<i64>,
    pub dataset_id: i64,
    pub object_id: String,
    pub content_path: String,
    pub outcome: Outcome,
    pub expected_sha256: Option<String>,
    pub found_sha256: Option<String>,
    pub expected_size: Option<u64>,
    pub found_size: Option<u64>,
    /// For a person: what was found, e.g. "sha256 mismatch: expected …, found …".
    pub detail: String,
    pub checked_at: NaiveDateTime,
}

/// A byte-rate limit shared by every hashing thread; `None` runs flat out.
pub struct Throttle {
    rate: Option<u64>,
    state: Mutex<(Instant, u64)>,
}

impl Throttle {
    pub fn new(rate: Option<u64>) -> Throttle {
        Throttle {
            rate: rate.filter(|r| *r > 0),
            state: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Accounts for `n` bytes read and sleeps while the average rate is above the limit.
    fn take(&self, n: u64) {
        let Some(rate) = self.rate else { return };
        let wait = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.1 += n;
            pace(state.1, rate, state.0.elapsed())
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// How long to wait so that `bytes` read over `elapsed` stays at `rate` bytes a second.
fn pace(bytes: u64, rate: u64, elapsed: Duration) -> Duration {
    Duration::from_secs_f64(bytes as f64 / rate.max(1) as f64).saturating_sub(elapsed)
}

fn result(target: &Target, outcome: Outcome, detail: String) -> CheckResult {
    CheckResult {
        stored_file_id: Some(target.stored_file_id),
        dataset_id: target.dataset_id,
        object_id: target.object_id.clone(),
        content_path: target.content_path.clone(),
        outcome,
        expected_sha256: Some(target.sha256.clone()),
        found_sha256: None,
        expected_size: Some(target.size),
        found_size: None,
        detail,
        checked_at: Utc::now().naive_utc(),
    }
}

/// Compares what was read with what was recorded at ingest.
fn judge(target: &Target, found: Option<(String, u64)>) -> CheckResult {
    let Some((sha256, size)) = found else {
        return result(
            target,
            Outcome::Missing,
            format!("{} is missing from storage", target.content_path),
        );
    };
    let matches = sha256.eq_ignore_ascii_case(&target.sha256) && size == target.size;
    let (outcome, detail) = if matches {
        (Outcome::Ok, format!("sha256 and size ({size} bytes) match"))
    } else if size != target.size {
        (
            Outcome::Mismatch,
            format!(
                "size and sha256 differ: {} bytes expected, {size} found{}; sha256 expected {}, found {sha256}",
                target.size,
                if size < target.size { " (truncated)" } else { "" },
                target.sha256
            ),
        )
    } else {
        (
            Outcome::Mismatch,
            format!(
                "sha256 mismatch: expected {}, found {sha256} ({size} bytes, the recorded size)",
                target.sha256
            ),
        )
    };
    let mut r = result(target, outcome, detail);
    r.found_sha256 = Some(sha256);
    r.found_size = Some(size);
    r
}

fn unreadable(target: &Target, e: &std::io::Error) -> CheckResult {
    result(
        target,
        Outcome::Unreadable,
        format!("{} cannot be read: {e}", target.content_path),
    )
}

/// What a hashing thread reads with: the store, the runtime for remote stores, the
/// shared rate limit and the progress callback.
pub struct Reader<'a> {
    pub store: &'a dyn BlobStore,
    pub runtime: &'a tokio::runtime::Handle,
    pub throttle: &'a Throttle,
    pub on_bytes: &'a (dyn Fn(u64) + Sync),
}

impl Reader<'_> {
    /// Hashes one stored object: `Ok(None)` when it does not exist.
    fn hash_key(&self, key: &str, buf: &mut [u8]) -> Result<Option<(String, u64)>, std::io::Error> {
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut account = |chunk: &[u8]| {
            hasher.update(chunk);
            size += chunk.len() as u64;
            self.throttle.take(chunk.len() as u64);
            (self.on_bytes)(chunk.len() as u64);
        };
        if let Some(path) = self.store.local_path(key) {
            // Local disk: plain reads into one reused buffer, the fastest path there is.
            let mut file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            if !file.metadata()?.is_file() {
                return Ok(None);
            }
            loop {
                match file.read(buf) {
                    Ok(0) => break,
                    Ok(n) => account(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        } else {
            // A remote store (S3): stream it through the runtime.
            let found = self.runtime.block_on(async {
                let mut stream = match self.store.get_range(key, None).await {
                    Ok(s) => s,
                    Err(StorageError::NotFound) => return Ok(false),
                    Err(StorageError::Io(e)) => return Err(e),
                    Err(e) => return Err(std::io::Error::other(e.to_string())),
                };
                while let Some(chunk) = stream.next().await {
                    account(&chunk?);
                }
                Ok(true)
            })?;
            if !found {
                return Ok(None);
            }
        }
        Ok(Some((hex::encode(hasher.finalize()), size)))
    }

    /// An inventory must hash to the digest recorded when it was written, and its
    /// sidecar must name that digest.
    fn check_inventory(&self, target: &Target, buf: &mut [u8]) -> CheckResult {
        let key = target.key();
        let mut r = match self.hash_key(&key, buf) {
            Ok(found) => judge(target, found),
            Err(e) => return unreadable(target, &e),
        };
        if r.outcome != Outcome::Ok {
            return r;
        }
        let sidecar = self
            .runtime
            .block_on(self.store.get_bytes(&format!("{key}.sha256")));
        let problem = match sidecar {
            Ok(None) => Some(format!(
                "its sidecar {}.sha256 is missing",
                target.content_path
            )),
            Ok(Some(bytes)) => match parse_sidecar(&bytes) {
                None => Some(format!(
                    "its sidecar {}.sha256 is malformed",
                    target.content_path
                )),
                Some(d) if !d.eq_ignore_ascii_case(&target.sha256) => Some(format!(
                    "its sidecar names sha256 {d}, but the inventory is {}",
                    target.sha256
                )),
                Some(_) => None,
            },
            Err(e) => Some(format!("its sidecar cannot be read: {e}")),
        };
        if let Some(problem) = problem {
            r.outcome = Outcome::Mismatch;
            r.detail = format!("the inventory's bytes match, but {problem}");
        } else {
            r.detail = format!(
                "inventory sha256 and size ({} bytes) match, and so does its sidecar",
                target.size
            );
        }
        r
    }

    /// Checks one target.
    pub fn check(&self, target: &Target, buf: &mut [u8]) -> CheckResult {
        match target.kind {
            Kind::Inventory => self.check_inventory(target, buf),
            Kind::Content => match self.hash_key(&target.key(), buf) {
                Ok(found) => judge(target, found),
                Err(e) => unreadable(target, &e),
            },
        }
    }
}

/// Checks every target on `threads` threads (one file per thread at a time, so several
/// large files scale across cores), in the order given; results come back in that order.
/// Blocking: call it from a blocking thread.
pub fn check_all(
    store: &Arc<dyn BlobStore>,
    runtime: &tokio::runtime::Handle,
    targets: &[Target],
    threads: usize,
    throttle: &Throttle,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Vec<CheckResult> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<CheckResult>>> = Mutex::new(vec![None; targets.len()]);
    let threads = threads.clamp(1, targets.len().max(1));
    let reader = Reader {
        store: store.as_ref(),
        runtime,
        throttle,
        on_bytes,
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut buf = vec![0u8; READ_BUF];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(i) else { break };
                    let r = reader.check(target, &mut buf);
                    slots.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(r);
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// Is `rel` (a path inside an object root) one OCFL puts there by itself, outside what
/// the archive records: the declaration, sidecars, logs and extensions?
fn is_structural(rel: &str) -> bool {
    if rel == "0=ocfl_object_1.1" || rel.starts_with("logs/") || rel.starts_with("extensions/") {
        return true;
    }
    match rel.strip_suffix("inventory.json.sha256") {
        Some("") => true,
        Some(dir) => dir
            .strip_suffix('/')
            .is_some_and(|v| crate::storage::ocfl::parse_version_dir(v).is_some()),
        None => false,
    }
}

/// The files under an object root that neither the archive's records (`expected`, paths
/// relative to the root) nor OCFL's own structure account for.
pub async fn unexpected_files(
    store: &dyn BlobStore,
    object_root: &str,
    expected: &HashSet<String>,
) -> Result<Vec<String>, StorageError> {
    let prefix = format!("{object_root}/");
    Ok(store
        .list(&prefix)
        .await?
        .into_iter()
        .filter_map(|key| key.strip_prefix(&prefix).map(str::to_owned))
        .filter(|rel| !expected.contains(rel) && !is_structural(rel))
        .collect())
}

/// A result for an unexpected file.
pub fn extra_file(dataset_id: i64, object_id: &str, rel: &str, size: Option<u64>) -> CheckResult {
    CheckResult {
        stored_file_id: None,
        dataset_id,
        object_id: object_id.to_string(),
        content_path: rel.to_string(),
        outcome: Outcome::Extra,
        expected_sha256: None,
        found_sha256: None,
        expected_size: None,
        found_size: size,
        detail: format!(
            "{rel} is in the OCFL object but in no inventory the archive wrote: an unexpected file"
        ),
        checked_at: Utc::now().naive_utc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalDiskStore;

    fn target(path: &str, bytes: &[u8]) -> Target {
        Target {
            stored_file_id: 1,
            dataset_id: 1,
            object_id: "doi:x".into(),
            object_root: "obj".into(),
            kind: Kind::Content,
            content_path: path.into(),
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }

    #[test]
    fn finds_flipped_truncated_missing_and_good_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("root");
        let content = root.join("obj/v1/content");
        std::fs::create_dir_all(&content)?;
        let good = b"good bytes".to_vec();
        std::fs::write(content.join("good"), &good)?;
        std::fs::write(content.join("flipped"), b"good bytez")?;
        std::fs::write(content.join("short"), b"good")?;
        let store: Arc<dyn BlobStore> = Arc::new(LocalDiskStore::new(&root)?);
        let targets = vec![
            target("v1/content/good", &good),
            target("v1/content/flipped", &good),
            target("v1/content/short", &good),
            target("v1/content/gone", &good),
        ];
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        let total = std::sync::atomic::AtomicU64::new(0);
        let results = check_all(
            &store,
            rt.handle(),
            &targets,
            3,
            &Throttle::new(None),
            &|n| {
                total.fetch_add(n, Ordering::Relaxed);
            },
        );
        let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Ok,
                Outcome::Mismatch,
                Outcome::Mismatch,
                Outcome::Missing
            ]
        );
        assert!(
            results[2].detail.contains("truncated"),
            "{}",
            results[2].detail
        );
        assert_eq!(results[1].found_size, Some(10));
        assert_ne!(results[1].found_sha256, results[1].expected_sha256);
        assert_eq!(total.load(Ordering::Relaxed), 24);
        Ok(())
    }

    #[test]
    fn structural_files_are_not_unexpected() {
        for ok in [
            "0=ocfl_object_1.1",
            "inventory.json.sha256",
            "v3/inventory.json.sha256",
            "logs/premis-events.xml",
            "extensions/x/config.json",
        ] {
            assert!(is_structural(ok), "{ok}");
        }
        for bad in [
            "v1/content/inventory.json.sha256",
            "x/inventory.json.sha256",
            "v1/content/a.csv",
            "stray.txt",
        ] {
            assert!(!is_structural(bad), "{bad}");
        }
    }

    #[test]
    fn the_throttle_paces_to_the_average_rate() {
        let second = Duration::from_secs(1);
        assert_eq!(pace(1_000_000, 1_000_000, Duration::ZERO), second);
        assert_eq!(pace(1_000_000, 1_000_000, second), Duration::ZERO);
        assert_eq!(pace(3_000_000, 1_000_000, second), 2 * second);
        assert_eq!(pace(10, 1_000_000, 2 * second), Duration::ZERO);
        // Unlimited never waits.
        Throttle::new(None).take(u64::MAX / 2);
        Throttle::new(Some(0)).take(u64::MAX / 2);
    }
}
