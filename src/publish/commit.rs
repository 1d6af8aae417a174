//! The version's bytes into OCFL storage: the commit (or finding that an interrupted
//! attempt already made it) and the event log kept in the object.

use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use super::plan::PublishPlan;
use super::Publisher;
use crate::accounts::User;
use crate::error::DomainError;
use crate::preservation::events;
use crate::storage::{FileSource, NewFile, NewVersion};

/// Writes the version into OCFL storage, or recognises that an earlier attempt did.
/// Returns where each digest's bytes live in the object (its first content path).
pub(super) async fn commit_to_storage(
    publisher: &Publisher,
    plan: &PublishPlan,
    curator: &User,
    copied: &AtomicU64,
) -> Result<BTreeMap<String, String>, DomainError> {
    let ocfl = &publisher.ocfl;
    // A crash inside an earlier commit can leave an uncommitted version directory or a
    // root inventory without its sidecar; bring the object back to its last committed
    // state before looking at it.
    let recovered = ocfl
        .recover_object(&plan.object_id)
        .await
        .map_err(DomainError::internal)?;
    if recovered.changed() {
        tracing::warn!(object = %plan.object_id, ?recovered, "recovered an OCFL object left by an interrupted commit");
    }
    let existing = ocfl
        .inventory(&plan.object_id)
        .await
        .map_err(DomainError::internal)?;
    let head = match &existing {
        Some(inv) => inv.head_number().map_err(DomainError::internal)?,
        None => 0,
    };
    if head >= plan.ocfl_version {
        // An earlier attempt committed this version before the process stopped.
        let wanted: BTreeMap<&str, &str> = plan
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.sha256.as_str()))
            .collect();
        let stored = existing
            .as_ref()
            .map(|inv| inv.logical_state(plan.ocfl_version))
            .unwrap_or_default();
        let stored: BTreeMap<&str, &str> = stored
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_str()))
            .collect();
        if head == plan.ocfl_version && stored == wanted {
            tracing::info!(object = %plan.object_id, version = head, "finishing an interrupted publication");
            return Ok(existing.map(|inv| inv.content_paths()).unwrap_or_default());
        }
        return Err(DomainError::internal(format!(
            "OCFL object {} is at version {head} but the database expects {}; run recovery",
            plan.object_id, plan.ocfl_version
        )));
    }
    let mut files = Vec::with_capacity(plan.files.len());
    for f in &plan.files {
        let source = match &f.staged_name {
            Some(blob) => FileSource::Local(publisher.staging.blob_path(blob)?),
            None => FileSource::Existing,
        };
        files.push(NewFile {
            logical_path: f.path.clone(),
            sha256: f.sha256.clone(),
            source,
        });
    }
    let version = NewVersion {
        created: Utc::now(),
        message: format!(
            "Version {} published ({})",
            plan.version.number, plan.version_doi
        ),
        user_name: curator.name.clone(),
        user_address: Some(events::person_uri(&publisher.settings.base_url, curator.id)),
        files,
    };
    ocfl.commit_version_counted(&plan.object_id, version, copied)
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::DigestMismatch { path, .. } => DomainError::Conflict(
                format!("the stored bytes of '{path}' no longer match their sha256; the depositor must upload it again"),
            ),
            other => DomainError::internal(other),
        })?;
    let inventory = ocfl
        .inventory(&plan.object_id)
        .await
        .map_err(DomainError::internal)?
        .ok_or_else(|| DomainError::internal("committed object has no inventory"))?;
    Ok(inventory.content_paths())
}

/// Writes the dataset's event history into its OCFL object (`logs/`, which OCFL leaves
/// outside versions), so the history travels with the content. A failure is logged:
/// the database keeps the history either way.
pub(super) async fn write_event_log(
    publisher: &Publisher,
    object_id: &str,
    history: &[events::EventRow],
) {
    let key = format!(
        "{}/logs/premis-events.xml",
        publisher.ocfl.object_root(object_id)
    );
    crate::crashpoint::hit("publish.before-event-log");
    let written = match events::premis_xml(object_id, history) {
        Ok(xml) => publisher
            .store
            .put_bytes(&key, bytes::Bytes::from(xml))
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = written {
        tracing::warn!(object = %object_id, error = %e, "could not write the event log into the OCFL object");
    }
}
