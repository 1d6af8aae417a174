//! OCFL 1.1 storage root and objects over a [`BlobStore`].
//!
//! Update protocol (one committer per object per process): new content goes to
//! `vN/content/`, then `vN/inventory.json` + sidecar, then the root
//! `inventory.json` is replaced (the commit point), then its sidecar. Anything
//! a crash leaves behind is cleaned up by [`OcflRoot::recover_object`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::blob::BlobStore;
use super::layout::{HashedNTupleConfig, HashedNTupleLayout, EXTENSION_NAME};
use super::StorageError;

mod commit;
mod inventory;
mod recover;

pub use commit::{CommittedVersion, ContentRef, FileSource, NewFile, NewVersion};
use inventory::{is_sha256_hex, read_inventory};
pub use inventory::{parse_sidecar, parse_version_dir, sidecar_body, Inventory, User, Version};
pub use recover::RecoveryReport;

pub const INVENTORY_TYPE: &str = "https://ocfl.io/1.1/spec/#inventory";
pub const DIGEST_ALGORITHM: &str = "sha256";
const ROOT_DECLARATION: &str = "0=ocfl_1.1";
const ROOT_DECLARATION_BODY: &[u8] = b"ocfl_1.1\n";
/// The object declaration file (also written by replicas of objects of other archives).
pub const OBJECT_DECLARATION: &str = "0=ocfl_object_1.1";
pub const OBJECT_DECLARATION_BODY: &[u8] = b"ocfl_object_1.1\n";
const LAYOUT_FILE: &str = "ocfl_layout.json";
const INVENTORY: &str = "inventory.json";
const SIDECAR: &str = "inventory.json.sha256";
const CONTENT_DIR: &str = "content";

pub struct OcflRoot {
    store: Arc<dyn BlobStore>,
    layout: HashedNTupleLayout,
    /// Per-object commit locks; entries nobody holds are pruned on each lookup.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
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
}
