//! OCFL 1.1 storage root and objects over a [`BlobStore`].
//!
//! Update protocol (one committer per object per process): new content goes to
//! `vN/content/`, then `vN/inventory.json` + sidecar, then the root
//! `inventory.json` is replaced (the commit point), then its sidecar. Anything
//! a crash leaves behind is cleaned up by [`OcflRoot::recover_object`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::blob::BlobStore;
use super::layout::{HashedNTupleConfig, HashedNTupleLayout, EXTENSION_NAME};
use super::StorageError;

pub const INVENTORY_TYPE: &str = "https://ocfl.io/1.1/spec/#inventory";
pub const DIGEST_ALGORITHM: &str = "sha256";
const ROOT_DECLARATION: &str = "0=ocfl_1.1";
const ROOT_DECLARATION_BODY: &[u8] = b"ocfl_1.1\n";
const OBJECT_DECLARATION: &str = "0=ocfl_object_1.1";
const OBJECT_DECLARATION_BODY: &[u8] = b"ocfl_object_1.1\n";
const LAYOUT_FILE: &str = "ocfl_layout.json";
const INVENTORY: &str = "inventory.json";
const SIDECAR: &str = "inventory.json.sha256";
const CONTENT_DIR: &str = "content";

/// An OCFL inventory. Unknown top-level keys are rejected (E102).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inventory {
    pub id: String,
    #[serde(rename = "type")]
    pub inventory_type: String,
    pub digest_algorithm: String,
    pub head: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_directory: Option<String>,
    /// digest -> content paths (relative to the object root).
    pub manifest: BTreeMap<String, Vec<String>>,
    /// "vN" -> version block. Lexical key order ("v10" < "v2") is fine for
    /// JSON; use [`Inventory::head_number`] / [`parse_version_dir`] for order.
    pub versions: BTreeMap<String, Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixity: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    #[serde(with = "rfc3339_seconds")]
    pub created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// digest -> logical paths.
    pub state: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `created` is written as RFC 3339 UTC to whole seconds with `Z` (E049);
/// any RFC 3339 offset is accepted on read.
mod rfc3339_seconds {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&dt.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|dt| dt.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a version directory name (`v1`, `v0003`) into its number.
pub fn parse_version_dir(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

impl Inventory {
    fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            inventory_type: INVENTORY_TYPE.to_owned(),
            digest_algorithm: DIGEST_ALGORITHM.to_owned(),
            head: String::new(),
            content_directory: None,
            manifest: BTreeMap::new(),
            versions: BTreeMap::new(),
            fixity: None,
        }
    }

    pub fn head_number(&self) -> Result<u32, StorageError> {
        parse_version_dir(&self.head)
            .ok_or_else(|| StorageError::Corrupt(format!("bad head {:?}", self.head)))
    }

    /// The version block numbered `n`, whatever its zero-padding.
    pub fn version(&self, n: u32) -> Option<&Version> {
        self.versions
            .iter()
            .find(|(k, _)| parse_version_dir(k) == Some(n))
            .map(|(_, v)| v)
    }

    /// Logical path -> digest for version `n` (empty when there is no such version).
    pub fn logical_state(&self, n: u32) -> BTreeMap<String, String> {
        self.version(n)
            .map(|v| {
                v.state
                    .iter()
                    .flat_map(|(digest, paths)| {
                        paths.iter().map(move |p| (p.clone(), digest.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Digest -> the content path its bytes are stored at (the first, if several).
    pub fn content_paths(&self) -> BTreeMap<String, String> {
        self.manifest
            .iter()
            .filter_map(|(digest, paths)| paths.first().map(|p| (digest.clone(), p.clone())))
            .collect()
    }

    /// Deterministic serialization (sorted maps, fixed field order, pretty).
    pub fn to_bytes(&self) -> Result<Vec<u8>, StorageError> {
        let mut bytes = Vec::new();
        self.write_to(&mut bytes)?;
        Ok(bytes)
    }

    /// [`Inventory::to_bytes`] written straight into `out`, byte for byte the same.
    pub fn write_to<W: Write>(&self, mut out: W) -> Result<(), StorageError> {
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        Ok(())
    }

    /// Writes the inventory to a temporary file while hashing it, so an inventory of a
    /// hundred thousand files is never held whole in memory. Returns the file with the
    /// bytes' sha256 and size.
    fn write_temp(&self) -> Result<(tempfile::TempPath, String, u64), StorageError> {
        let file = tempfile::NamedTempFile::new()?;
        let mut hashed = Hashed::new(std::io::BufWriter::new(file));
        self.write_to(&mut hashed)?;
        let (buffered, digest, size) = hashed.finish();
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        Ok((file.into_temp_path(), digest, size))
    }
}

/// A reader or writer that hashes (sha256) and counts the bytes passing through.
struct Hashed<T> {
    inner: T,
    hasher: sha2::Sha256,
    size: u64,
}

impl<T> Hashed<T> {
    fn new(inner: T) -> Self {
        use sha2::Digest as _;
        Hashed {
            inner,
            hasher: sha2::Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (T, String, u64) {
        use sha2::Digest as _;
        (self.inner, hex::encode(self.hasher.finalize()), self.size)
    }
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Parses an inventory from `reader` with serde (no intermediate `Value` or `String`),
/// hashing the bytes as they are read; returns it with their sha256 and size.
fn read_inventory<R: Read>(reader: R) -> Result<(Inventory, String, u64), serde_json::Error> {
    let mut hashed = Hashed::new(std::io::BufReader::with_capacity(1 << 16, reader));
    let inventory: Inventory = serde_json::from_reader(&mut hashed)?;
    // from_reader has read to the end (trailing whitespace allowed): the digest covers
    // the whole file.
    let (_, digest, size) = hashed.finish();
    Ok((inventory, digest, size))
}

pub struct NewVersion {
    pub created: DateTime<Utc>,
    pub message: String,
    pub user_name: String,
    pub user_address: Option<String>,
    pub files: Vec<NewFile>,
}

pub struct NewFile {
    pub logical_path: String,
    /// Lowercase or uppercase hex sha256 of the file's bytes.
    pub sha256: String,
    pub source: FileSource,
}

pub enum FileSource {
    /// Bytes to add; copied (and re-hashed) unless the digest is already stored.
    Local(PathBuf),
    /// Digest already in this object's manifest: carried over without copying.
    Existing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedVersion {
    pub version: u32,
    pub inventory_sha256: String,
    pub object_root: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRef {
    /// Store key of the content file.
    pub key: String,
    pub sha256: String,
    /// None if the content file is missing from the store.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub object_root: String,
    /// Committed head after recovery; None if the object has no committed version.
    pub head: Option<u32>,
    /// Root inventory and sidecar were rewritten from this version's copies.
    pub restored_from: Option<u32>,
    /// Uncommitted keys that were deleted.
    pub removed: Vec<String>,
}

impl RecoveryReport {
    pub fn changed(&self) -> bool {
        self.restored_from.is_some() || !self.removed.is_empty()
    }
}

pub struct OcflRoot {
    store: Arc<dyn BlobStore>,
    layout: HashedNTupleLayout,
    /// Per-object commit locks; entries nobody holds are pruned on each lookup.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The sidecar of an inventory with this digest: `<hex>  inventory.json`.
pub fn sidecar_body(digest: &str) -> String {
    format!("{digest}  {INVENTORY}\n")
}

/// The digest in a sidecar, if it has the form `<hex><whitespace>inventory.json`.
pub fn parse_sidecar(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.split_whitespace();
    let digest = parts.next()?;
    (parts.next()? == INVENTORY && parts.next().is_none()).then(|| digest.to_ascii_lowercase())
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn validate_logical_path(path: &str) -> Result<(), StorageError> {
    let bad = |why: &str| Err(StorageError::InvalidPath(format!("{path:?}: {why}")));
    if path.is_empty() {
        return bad("empty");
    }
    if path.starts_with('/') || path.ends_with('/') {
        return bad("leading or trailing '/'");
    }
    // Backslash and NUL would not survive as store keys/filenames portably.
    if path.contains('\0') || path.contains('\\') {
        return bad("forbidden character");
    }
    if path
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("empty, '.' or '..' segment");
    }
    Ok(())
}

/// Unique and non-conflicting logical paths (E095): `a` and `a/b` cannot coexist.
fn validate_state_paths<'a>(paths: impl Iterator<Item = &'a str>) -> Result<(), StorageError> {
    let mut seen = HashSet::new();
    for p in paths {
        validate_logical_path(p)?;
        if !seen.insert(p) {
            return Err(StorageError::InvalidPath(format!("{p:?}: duplicate")));
        }
    }
    for p in &seen {
        for (i, _) in p.match_indices('/') {
            if seen.contains(&p[..i]) {
                return Err(StorageError::InvalidPath(format!(
                    "{p:?} conflicts with file {:?}",
                    &p[..i]
                )));
            }
        }
    }
    Ok(())
}

/// Name of the version after `head`, keeping zero-padding if the object uses it.
fn next_version_name(head: &str) -> Result<(u32, String), StorageError> {
    let n = parse_version_dir(head)
        .ok_or_else(|| StorageError::Corrupt(format!("bad head {head:?}")))?;
    let next = n
        .checked_add(1)
        .ok_or_else(|| StorageError::Conflict("version number overflow".into()))?;
    let digits = &head[1..];
    if digits.len() > 1 && digits.starts_with('0') {
        let name = format!("v{next:0width$}", width = digits.len());
        if name.len() != head.len() {
            return Err(StorageError::Conflict(
                "zero-padded version numbers exhausted (E011-E013)".into(),
            ));
        }
        return Ok((next, name));
    }
    Ok((next, format!("v{next}")))
}

impl OcflRoot {
    pub fn new(store: Arc<dyn BlobStore>) -> Self {
        Self::with_layout(store, HashedNTupleLayout::default())
    }

    pub fn with_layout(store: Arc<dyn BlobStore>, layout: HashedNTupleLayout) -> Self {
        Self {
            store,
            layout,
            locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.store
    }

    /// Idempotent. Writes the extension config, `ocfl_layout.json` and finally
    /// the `0=ocfl_1.1` declaration (last, so a declared root is complete).
    /// Refuses roots using another layout or spec version.
    pub async fn init(&self) -> Result<(), StorageError> {
        for other in ["0=ocfl_1.0", "0=ocfl_1.2"] {
            if self.store.size(other).await?.is_some() {
                return Err(StorageError::Conflict(format!(
                    "storage root declares {other}"
                )));
            }
        }
        let declaration = self.store.get_bytes(ROOT_DECLARATION).await?;
        if let Some(d) = &declaration {
            if d.as_ref() != ROOT_DECLARATION_BODY {
                return Err(StorageError::Corrupt(format!("bad {ROOT_DECLARATION}")));
            }
        }

        let config_key = format!("extensions/{EXTENSION_NAME}/config.json");
        match self.store.get_bytes(&config_key).await? {
            Some(b) => {
                let cfg: HashedNTupleConfig = serde_json::from_slice(&b)?;
                if HashedNTupleLayout::from_config(&cfg)? != self.layout {
                    return Err(StorageError::Conflict(format!(
                        "storage root uses different {EXTENSION_NAME} parameters"
                    )));
                }
            }
            None if declaration.is_some() => {
                return Err(StorageError::Conflict(format!(
                    "existing storage root has no {EXTENSION_NAME} config"
                )))
            }
            None => {
                let cfg = serde_json::to_vec_pretty(&self.layout.config())?;
                self.store.put_bytes(&config_key, Bytes::from(cfg)).await?;
            }
        }

        match self.store.get_bytes(LAYOUT_FILE).await? {
            Some(b) => {
                let v: serde_json::Value = serde_json::from_slice(&b)?;
                let ext = v.get("extension").and_then(|e| e.as_str());
                if ext != Some(EXTENSION_NAME) {
                    return Err(StorageError::Conflict(format!(
                        "storage root uses layout {ext:?}, not {EXTENSION_NAME}"
                    )));
                }
            }
            None => {
                let v = serde_json::json!({
                    "extension": EXTENSION_NAME,
                    "description": "OCFL object identifiers are hashed and encoded as lowercase hex strings. These digests are then divided into N n-tuple segments, which are used to create nested paths under the OCFL storage root.",
                });
                let layout = serde_json::to_vec_pretty(&v)?;
                self.store
                    .put_bytes(LAYOUT_FILE, Bytes::from(layout))
                    .await?;
            }
        }

        if declaration.is_none() {
            self.store
                .put_bytes(ROOT_DECLARATION, Bytes::from_static(ROOT_DECLARATION_BODY))
                .await?;
        }
        Ok(())
    }

    pub fn object_root(&self, object_id: &str) -> String {
        self.layout.object_root(object_id)
    }

    async fn lock_object(&self, object_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            // Entries only the map references are idle: drop them so the map
            // stays as small as the number of in-flight commits.
            map.retain(|_, m| Arc::strong_count(m) > 1);
            map.entry(object_id.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The head inventory, verified against its sidecar.
    pub async fn inventory(&self, object_id: &str) -> Result<Option<Inventory>, StorageError> {
        let root = self.object_root(object_id);
        match self.load_root(&root, object_id).await {
            // An in-process commit may be between replacing the inventory and
            // its sidecar; once its lock is free the pair is consistent again.
            Err(StorageError::Corrupt(_)) => {
                let _guard = self.lock_object(object_id).await;
                self.load_root(&root, object_id).await
            }
            other => other,
        }
        .map(|o| o.map(|(inv, _, _)| inv))
    }

    /// The committed head inventory's sha256 and size (what the sidecar vouches for),
    /// or None when the object has no committed version.
    pub async fn inventory_digest(
        &self,
        object_id: &str,
    ) -> Result<Option<(String, u64)>, StorageError> {
        let root = self.object_root(object_id);
        Ok(self
            .load_root(&root, object_id)
            .await?
            .map(|(_, size, digest)| (digest, size)))
    }

    /// Root inventory with its bytes and digest; `Corrupt` if the sidecar is
    /// missing or wrong or the inventory is not ours to update.
    async fn load_root(
        &self,
        root: &str,
        object_id: &str,
    ) -> Result<Option<(Inventory, u64, String)>, StorageError> {
        self.load_verified(
            &format!("{root}/{INVENTORY}"),
            &format!("{root}/{SIDECAR}"),
            object_id,
        )
        .await
    }

    async fn load_verified(
        &self,
        inventory_key: &str,
        sidecar_key: &str,
        object_id: &str,
    ) -> Result<Option<(Inventory, u64, String)>, StorageError> {
        let corrupt = |why: String| StorageError::Corrupt(format!("{inventory_key}: {why}"));
        // A file on local disk is parsed as it is read; a remote object is fetched first.
        let parsed = match self.store.local_path(inventory_key) {
            Some(path) => {
                let read = tokio::task::spawn_blocking(move || match std::fs::File::open(&path) {
                    Ok(file) => Ok(Some(read_inventory(file))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                })
                .await
                .map_err(|e| StorageError::Io(std::io::Error::other(e)))??;
                match read {
                    Some(parsed) => parsed,
                    None => return Ok(None),
                }
            }
            None => match self.store.get_bytes(inventory_key).await? {
                Some(bytes) => read_inventory(bytes.as_ref()),
                None => return Ok(None),
            },
        };
        let sidecar = self
            .store
            .get_bytes(sidecar_key)
            .await?
            .ok_or_else(|| corrupt("sidecar missing".into()))?;
        let expected =
            parse_sidecar(&sidecar).ok_or_else(|| corrupt("malformed sidecar".into()))?;
        // A damaged file is reported as a digest mismatch first, as before.
        let (inv, digest, size) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                return Err(corrupt(format!(
                    "does not match sidecar {expected} (unparseable: {e})"
                )))
            }
        };
        if digest != expected {
            return Err(corrupt(format!(
                "sha256 {digest} does not match sidecar {expected}"
            )));
        }
        if inv.id != object_id {
            return Err(corrupt(format!("belongs to {:?}", inv.id)));
        }
        if inv.digest_algorithm != DIGEST_ALGORITHM {
            return Err(corrupt(format!(
                "unsupported digest {}",
                inv.digest_algorithm
            )));
        }
        if !inv.versions.contains_key(&inv.head) {
            return Err(corrupt("head version block missing".into()));
        }
        inv.head_number()?;
        Ok(Some((inv, size, digest)))
    }

    pub async fn commit_version(
        &self,
        object_id: &str,
        version: NewVersion,
    ) -> Result<CommittedVersion, StorageError> {
        self.commit_version_counted(object_id, version, &AtomicU64::new(0))
            .await
    }

    /// [`OcflRoot::commit_version`] counting in `copied` the files written so far, for
    /// a caller showing progress. Content is written as one batch made durable by a
    /// single flush before the inventories (so the commit point still follows durable
    /// content).
    pub async fn commit_version_counted(
        &self,
        object_id: &str,
        version: NewVersion,
        copied: &AtomicU64,
    ) -> Result<CommittedVersion, StorageError> {
        if object_id.is_empty() {
            return Err(StorageError::InvalidInput("empty object id".into()));
        }
        validate_state_paths(version.files.iter().map(|f| f.logical_path.as_str()))?;
        for f in &version.files {
            if !is_sha256_hex(&f.sha256) {
                return Err(StorageError::InvalidInput(format!(
                    "{:?}: not a sha256 hex digest: {:?}",
                    f.logical_path, f.sha256
                )));
            }
        }

        let root = self.object_root(object_id);
        let _guard = self.lock_object(object_id).await;
        let prior = self
            .load_root(&root, object_id)
            .await?
            .map(|(inv, _, _)| inv);
        let (number, name) = match &prior {
            None => (1, "v1".to_owned()),
            Some(inv) => next_version_name(&inv.head)?,
        };
        if let Some(inv) = &prior {
            if inv.content_directory.as_deref().unwrap_or(CONTENT_DIR) != CONTENT_DIR {
                return Err(StorageError::Conflict(
                    "custom contentDirectory unsupported".into(),
                ));
            }
        }
        let vdir = format!("{root}/{name}");
        if self
            .store
            .size(&format!("{vdir}/{INVENTORY}"))
            .await?
            .is_some()
        {
            return Err(StorageError::Conflict(format!(
                "{vdir} already has an inventory; run recover_object"
            )));
        }
        // Leftovers of a crashed attempt are uncommitted (the root inventory
        // does not reference them) and would break validation (E023).
        for key in self.store.list(&format!("{vdir}/")).await? {
            tracing::warn!(%key, "removing uncommitted content of a crashed commit");
            self.store.delete(&key).await?;
        }

        let mut manifest = prior
            .as_ref()
            .map(|inv| inv.manifest.clone())
            .unwrap_or_default();
        // Digests are case-insensitive (E096) but state must repeat the
        // manifest key exactly, so look up by lowercase and use the stored key.
        let mut known: HashMap<String, String> = manifest
            .keys()
            .map(|k| (k.to_ascii_lowercase(), k.clone()))
            .collect();
        let local_digests: HashSet<String> = version
            .files
            .iter()
            .filter(|f| matches!(f.source, FileSource::Local(_)))
            .map(|f| f.sha256.to_ascii_lowercase())
            .collect();
        for f in &version.files {
            let d = f.sha256.to_ascii_lowercase();
            if matches!(f.source, FileSource::Existing)
                && !known.contains_key(&d)
                && !local_digests.contains(&d)
            {
                return Err(StorageError::InvalidInput(format!(
                    "{:?}: digest {d} is not in the manifest of {object_id:?}",
                    f.logical_path
                )));
            }
        }

        let new_object = prior.is_none();
        if new_object
            && self
                .store
                .get_bytes(&format!("{root}/{OBJECT_DECLARATION}"))
                .await?
                .as_deref()
                != Some(OBJECT_DECLARATION_BODY)
        {
            self.store
                .put_bytes(
                    &format!("{root}/{OBJECT_DECLARATION}"),
                    Bytes::from_static(OBJECT_DECLARATION_BODY),
                )
                .await?;
            crate::crashpoint::hit("ocfl.after-object-declaration");
        }

        let mut state: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Local files first so `Existing` may also name content added here.
        for f in version.files.iter() {
            let FileSource::Local(source) = &f.source else {
                continue;
            };
            let digest = f.sha256.to_ascii_lowercase();
            let manifest_key = match known.get(&digest) {
                // Already stored: trust the caller's digest (computed at
                // upload) rather than re-read a possibly huge file.
                Some(k) => k.clone(),
                None => {
                    let content_path = format!("{name}/{CONTENT_DIR}/{}", f.logical_path);
                    let key = format!("{root}/{content_path}");
                    if let Err(e) = self
                        .store
                        .put_file_batched(&key, source, Some(&digest))
                        .await
                    {
                        self.abort(&root, &vdir, new_object).await;
                        return Err(match e {
                            StorageError::DigestMismatch {
                                expected, found, ..
                            } => StorageError::DigestMismatch {
                                path: f.logical_path.clone(),
                                expected,
                                found,
                            },
                            e => e,
                        });
                    }
                    crate::crashpoint::hit("ocfl.mid-content");
                    manifest.insert(digest.clone(), vec![content_path]);
                    known.insert(digest.clone(), digest.clone());
                    digest
                }
            };
            state
                .entry(manifest_key)
                .or_default()
                .push(f.logical_path.clone());
            copied.fetch_add(1, Ordering::Relaxed);
        }
        for f in version.files.iter() {
            if matches!(f.source, FileSource::Existing) {
                let d = f.sha256.to_ascii_lowercase();
                let Some(k) = known.get(&d) else {
                    // Pre-checked above; unreachable unless that check changes.
                    self.abort(&root, &vdir, new_object).await;
                    return Err(StorageError::InvalidInput(format!("unknown digest {d}")));
                };
                state
                    .entry(k.clone())
                    .or_default()
                    .push(f.logical_path.clone());
            }
        }
        for paths in state.values_mut() {
            paths.sort();
        }

        let mut inv = prior.unwrap_or_else(|| Inventory::new(object_id));
        inv.head = name.clone();
        inv.manifest = manifest;
        inv.versions.insert(
            name.clone(),
            Version {
                created: version.created,
                message: Some(version.message),
                user: Some(User {
                    name: version.user_name,
                    address: version.user_address,
                }),
                state,
            },
        );
        let written = tokio::task::spawn_blocking(move || inv.write_temp())
            .await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)));
        let (temp, digest, _size) = match written {
            Ok(Ok(done)) => done,
            Ok(Err(e)) | Err(e) => {
                self.abort(&root, &vdir, new_object).await;
                return Err(e);
            }
        };
        let sidecar = Bytes::from(sidecar_body(&digest));

        let version_copy = async {
            // Every content file durable before anything refers to it.
            self.store.sync_batch().await?;
            self.store
                .put_file(&format!("{vdir}/{INVENTORY}"), &temp, Some(&digest))
                .await?;
            crate::crashpoint::hit("ocfl.after-version-inventory");
            self.store
                .put_bytes(&format!("{vdir}/{SIDECAR}"), sidecar.clone())
                .await
        };
        if let Err(e) = version_copy.await {
            self.abort(&root, &vdir, new_object).await;
            return Err(e);
        }
        crate::crashpoint::hit("ocfl.after-version-sidecar");
        // Commit point. A failure from here on may or may not have replaced
        // the root inventory, so nothing is undone; recover_object decides.
        self.store
            .put_file(&format!("{root}/{INVENTORY}"), &temp, Some(&digest))
            .await?;
        crate::crashpoint::hit("ocfl.after-root-inventory");
        self.store
            .put_bytes(&format!("{root}/{SIDECAR}"), sidecar)
            .await?;
        Ok(CommittedVersion {
            version: number,
            inventory_sha256: digest,
            object_root: root,
        })
    }

    /// Best-effort removal of an uncommitted version (and of the declaration
    /// of an object that never had a version); recover_object covers failures.
    async fn abort(&self, root: &str, vdir: &str, new_object: bool) {
        let mut keys = match self.store.list(&format!("{vdir}/")).await {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(%vdir, error = %e, "cannot list uncommitted version for cleanup");
                return;
            }
        };
        if new_object {
            keys.push(format!("{root}/{OBJECT_DECLARATION}"));
        }
        for key in keys {
            if let Err(e) = self.store.delete(&key).await {
                tracing::error!(%key, error = %e, "cannot remove uncommitted content");
            }
        }
    }

    /// Store location of `logical_path` in version `version`; None if the
    /// object, version or path does not exist.
    pub async fn content_key(
        &self,
        object_id: &str,
        version: u32,
        logical_path: &str,
    ) -> Result<Option<ContentRef>, StorageError> {
        let Some(inv) = self.inventory(object_id).await? else {
            return Ok(None);
        };
        let Some(v) = inv.version(version) else {
            return Ok(None);
        };
        let Some(digest) = v
            .state
            .iter()
            .find(|(_, paths)| paths.iter().any(|p| p == logical_path))
            .map(|(d, _)| d)
        else {
            return Ok(None);
        };
        let content_path = inv
            .manifest
            .get(digest)
            .and_then(|p| p.first())
            .ok_or_else(|| StorageError::Corrupt(format!("digest {digest} not in manifest")))?;
        let key = format!("{}/{content_path}", self.object_root(object_id));
        let size = self.store.size(&key).await?;
        Ok(Some(ContentRef {
            key,
            sha256: digest.to_ascii_lowercase(),
            size,
        }))
    }

    /// Version `name`'s inventory bytes and digest if its inventory and
    /// sidecar agree and it is this object's inventory as of that version.
    async fn complete_version(
        &self,
        root: &str,
        name: &str,
        object_id: &str,
    ) -> Result<Option<(Bytes, String)>, StorageError> {
        match self
            .load_verified(
                &format!("{root}/{name}/{INVENTORY}"),
                &format!("{root}/{name}/{SIDECAR}"),
                object_id,
            )
            .await
        {
            // Recovery compares and copies these bytes: read them whole (a rare path).
            Ok(Some((inv, _, digest))) if inv.head == name => Ok(self
                .store
                .get_bytes(&format!("{root}/{name}/{INVENTORY}"))
                .await?
                .map(|bytes| (bytes, digest))),
            Ok(_) | Err(StorageError::Corrupt(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Brings an object back to its last committed state after a crash:
    /// repairs a root inventory/sidecar pair that does not verify from the
    /// newest complete version copy, then deletes every version directory
    /// above the committed head (and an object with no committed version).
    pub async fn recover_object(&self, object_id: &str) -> Result<RecoveryReport, StorageError> {
        let root = self.object_root(object_id);
        let _guard = self.lock_object(object_id).await;
        let mut report = RecoveryReport {
            object_root: root.clone(),
            ..RecoveryReport::default()
        };
        let keys = self.store.list(&format!("{root}/")).await?;
        if keys.is_empty() {
            return Ok(report);
        }
        let version_of = |key: &str| -> Option<(u32, String)> {
            let rel = key.strip_prefix(&root)?.strip_prefix('/')?;
            let dir = rel.split('/').next()?;
            // Only directories count; a root-level file named like "v1" is not one.
            (rel.len() > dir.len()).then_some(())?;
            parse_version_dir(dir).map(|n| (n, dir.to_owned()))
        };
        let versions: BTreeMap<u32, String> = keys.iter().filter_map(|k| version_of(k)).collect();

        match self.load_root(&root, object_id).await {
            Ok(Some((inv, _, _))) => report.head = Some(inv.head_number()?),
            Ok(None) | Err(StorageError::Corrupt(_)) => {
                let root_bytes = self.store.get_bytes(&format!("{root}/{INVENTORY}")).await?;
                // Prefer the version whose inventory *is* the root inventory:
                // the commit point was passed and only the sidecar lags.
                let mut matching = None;
                let mut newest = None;
                for (n, name) in versions.iter().rev() {
                    if let Some((bytes, digest)) =
                        self.complete_version(&root, name, object_id).await?
                    {
                        if root_bytes.as_ref() == Some(&bytes) {
                            matching = Some((*n, bytes, digest));
                            break;
                        }
                        if newest.is_none() {
                            newest = Some((*n, bytes, digest));
                        }
                    }
                }
                match matching.or(newest) {
                    Some((n, bytes, digest)) => {
                        tracing::warn!(%root, version = n, "restoring root inventory from version copy");
                        if root_bytes.as_ref() != Some(&bytes) {
                            self.store
                                .put_bytes(&format!("{root}/{INVENTORY}"), bytes)
                                .await?;
                        }
                        self.store
                            .put_bytes(&format!("{root}/{SIDECAR}"), Bytes::from(sidecar_body(&digest)))
                            .await?;
                        report.restored_from = Some(n);
                        report.head = Some(n);
                    }
                    None if root_bytes.is_some() => {
                        return Err(StorageError::Corrupt(format!(
                            "{root}: root inventory does not verify and no version inventory can replace it"
                        )))
                    }
                    // Never committed: everything under the object root goes.
                    None => report.head = None,
                }
            }
            Err(e) => return Err(e),
        }

        for key in keys {
            let uncommitted = match (report.head, version_of(&key)) {
                (None, _) => true,
                (Some(head), Some((n, _))) => n > head,
                (Some(_), None) => false,
            };
            if uncommitted {
                tracing::warn!(%key, "removing uncommitted key");
                self.store.delete(&key).await?;
                report.removed.push(key);
            }
        }
        Ok(report)
    }
}
