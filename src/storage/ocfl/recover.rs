use super::{parse_version_dir, sidecar_body, OcflRoot, INVENTORY, SIDECAR};
use crate::storage::StorageError;
use bytes::Bytes;
use std::collections::BTreeMap;

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
impl OcflRoot {
    /// Version `name`'s inventory bytes and digest if its inventory and
    /// sidecar agree and it is this object's inventory as of that version.
    pub(super) async fn complete_version(
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
                report.restored_from = self.restore_root(&root, object_id, &versions).await?;
                report.head = report.restored_from;
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

    /// Rewrites a root inventory (and sidecar) that does not verify from the newest
    /// complete version copy; returns that version, or None when the object was never
    /// committed.
    async fn restore_root(
        &self,
        root: &str,
        object_id: &str,
        versions: &BTreeMap<u32, String>,
    ) -> Result<Option<u32>, StorageError> {
        let root_bytes = self.store.get_bytes(&format!("{root}/{INVENTORY}")).await?;
        // Prefer the version whose inventory *is* the root inventory:
        // the commit point was passed and only the sidecar lags.
        let mut matching = None;
        let mut newest = None;
        for (n, name) in versions.iter().rev() {
            if let Some((bytes, digest)) = self.complete_version(root, name, object_id).await? {
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
                    .put_bytes(
                        &format!("{root}/{SIDECAR}"),
                        Bytes::from(sidecar_body(&digest)),
                    )
                    .await?;
                Ok(Some(n))
            }
            None if root_bytes.is_some() => Err(StorageError::Corrupt(format!(
                "{root}: root inventory does not verify and no version inventory can replace it"
            ))),
            // Never committed: everything under the object root goes.
            None => Ok(None),
        }
    }
}
