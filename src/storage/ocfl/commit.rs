use super::{
    is_sha256_hex, parse_version_dir, sidecar_body, Inventory, OcflRoot, User, Version,
    CONTENT_DIR, INVENTORY, OBJECT_DECLARATION, OBJECT_DECLARATION_BODY, SIDECAR,
};
use crate::storage::StorageError;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

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
pub(super) fn validate_logical_path(path: &str) -> Result<(), StorageError> {
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
pub(super) fn validate_state_paths<'a>(
    paths: impl Iterator<Item = &'a str>,
) -> Result<(), StorageError> {
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
pub(super) fn next_version_name(head: &str) -> Result<(u32, String), StorageError> {
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
/// Where a version being committed goes.
struct VersionDir<'a> {
    root: &'a str,
    vdir: &'a str,
    name: &'a str,
    /// The object had no version before: its declaration goes too on failure.
    new_object: bool,
}

/// A version's object id, logical paths and digests are well formed.
fn check_new_version(object_id: &str, version: &NewVersion) -> Result<(), StorageError> {
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
    Ok(())
}

/// Every file said to be already stored has a digest of the manifest (or of a file
/// this version adds).
fn check_existing_files(
    object_id: &str,
    version: &NewVersion,
    known: &HashMap<String, String>,
) -> Result<(), StorageError> {
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
    Ok(())
}

impl OcflRoot {
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
        check_new_version(object_id, &version)?;
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
        let vdir = format!("{root}/{name}");
        self.clear_version_dir(prior.as_ref(), &vdir).await?;

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
        check_existing_files(object_id, &version, &known)?;

        let new_object = prior.is_none();
        if new_object {
            self.declare_object(&root).await?;
        }
        let at = VersionDir {
            root: &root,
            vdir: &vdir,
            name: &name,
            new_object,
        };
        let state = self
            .write_content(&at, &version.files, &mut manifest, &mut known, copied)
            .await?;

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
        let digest = self
            .write_inventories(&root, &vdir, inv, new_object)
            .await?;
        Ok(CommittedVersion {
            version: number,
            inventory_sha256: digest,
            object_root: root,
        })
    }

    /// Refuses a version directory that is already committed (or an object with a
    /// content directory of its own) and removes what a crashed attempt left there.
    async fn clear_version_dir(
        &self,
        prior: Option<&Inventory>,
        vdir: &str,
    ) -> Result<(), StorageError> {
        if let Some(inv) = prior {
            if inv.content_directory.as_deref().unwrap_or(CONTENT_DIR) != CONTENT_DIR {
                return Err(StorageError::Conflict(
                    "custom contentDirectory unsupported".into(),
                ));
            }
        }
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
        Ok(())
    }

    /// Writes the object declaration of a new object (unless a crashed attempt
    /// already did).
    async fn declare_object(&self, root: &str) -> Result<(), StorageError> {
        if self
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
        Ok(())
    }

    /// Stores the version's new content (a digest already in the manifest is not
    /// stored again) and returns its state: manifest key to logical paths. On failure
    /// the uncommitted version is removed.
    async fn write_content(
        &self,
        at: &VersionDir<'_>,
        files: &[NewFile],
        manifest: &mut BTreeMap<String, Vec<String>>,
        known: &mut HashMap<String, String>,
        copied: &AtomicU64,
    ) -> Result<BTreeMap<String, Vec<String>>, StorageError> {
        let mut state: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Local files first so `Existing` may also name content added here.
        for f in files {
            let FileSource::Local(source) = &f.source else {
                continue;
            };
            let digest = f.sha256.to_ascii_lowercase();
            let manifest_key = match known.get(&digest) {
                // Already stored: trust the caller's digest (computed at
                // upload) rather than re-read a possibly huge file.
                Some(k) => k.clone(),
                None => {
                    let content_path = format!("{}/{CONTENT_DIR}/{}", at.name, f.logical_path);
                    let key = format!("{}/{content_path}", at.root);
                    if let Err(e) = self
                        .store
                        .put_file_batched(&key, source, Some(&digest))
                        .await
                    {
                        self.abort(at.root, at.vdir, at.new_object).await;
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
        for f in files {
            if matches!(f.source, FileSource::Existing) {
                let d = f.sha256.to_ascii_lowercase();
                let Some(k) = known.get(&d) else {
                    // Pre-checked above; unreachable unless that check changes.
                    self.abort(at.root, at.vdir, at.new_object).await;
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
        Ok(state)
    }

    /// Writes the version's inventory and sidecar, then the root inventory (the commit
    /// point) and its sidecar; returns the inventory's digest.
    async fn write_inventories(
        &self,
        root: &str,
        vdir: &str,
        inv: Inventory,
        new_object: bool,
    ) -> Result<String, StorageError> {
        let written = tokio::task::spawn_blocking(move || inv.write_temp())
            .await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)));
        let (temp, digest, _size) = match written {
            Ok(Ok(done)) => done,
            Ok(Err(e)) | Err(e) => {
                self.abort(root, vdir, new_object).await;
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
            self.abort(root, vdir, new_object).await;
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
        Ok(digest)
    }

    /// Best-effort removal of an uncommitted version (and of the declaration
    /// of an object that never had a version); recover_object covers failures.
    pub(super) async fn abort(&self, root: &str, vdir: &str, new_object: bool) {
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
}
