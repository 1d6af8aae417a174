//! Self-repair: a damaged file is restored from a good copy the archive knows (the same
//! bytes stored in another object or under another path, a draft's staged upload, and
//! later a partner's replica), verified by its sha256 while it is copied, before the
//! atomic replace. Unexpected files are moved out of the object into a quarantine
//! folder, never deleted. Every attempt is a PREMIS event.

use chrono::Utc;
use diesel::prelude::*;
use sha2::Digest as _;
use std::path::PathBuf;

use super::files::{self, StoredFileRow};
use super::record::TICKET_KIND;
use super::Fixity;
use crate::db::schema::{datasets, fixity_checks, stored_files, version_files};
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::jobs::Job;
use crate::mail::{self, Notice, NotificationKind};
use crate::preservation::events::{self, Agent, EventType, Outcome, Subject};
use crate::storage::{ocfl::sidecar_body, StorageError};
use crate::tickets;

/// Where a good copy may be.
#[derive(Clone, Debug)]
enum Source {
    /// Another key of the storage root holding the same digest.
    Stored(String),
    /// A staged upload (a draft holding the same bytes).
    Staged(PathBuf),
    /// A partner's replica of the object (fetched from the partner).
    Replica(PartnerCopy),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Stored(key) => format!("the copy at {key} in this storage root"),
            Source::Staged(_) => "a draft's staged upload of the same bytes".into(),
            Source::Replica(p) => {
                format!("the replica held by partner {} ({})", p.name, p.base_url)
            }
        }
    }
}

/// What a repair pass did.
#[derive(Debug, Default)]
pub struct RepairReport {
    /// (dataset, content path, where the good copy came from)
    pub repaired: Vec<(i64, String, String)>,
    /// (dataset, content path, why not)
    pub unrepaired: Vec<(i64, String, String)>,
    /// (dataset, path in the object, where it was moved)
    pub quarantined: Vec<(i64, String, String)>,
}

/// Queues a repair of a dataset's damaged files (inside the caller's transaction).
pub fn enqueue(conn: &mut AnyConnection, dataset_id: i64) -> Result<(), DomainError> {
    crate::jobs::enqueue(conn, &RepairDataset { dataset_id })?;
    Ok(())
}

/// The repair of one dataset's damaged files (queued by an audit that found damage).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct RepairDataset {
    pub dataset_id: i64,
}

impl Job for RepairDataset {
    const KIND: &'static str = "fixity-repair";
    const MAX_ATTEMPTS: i32 = 5;
    type Context = Fixity;

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("fixity-repair:{}", self.dataset_id))
    }

    async fn run(self, fixity: &Fixity) -> Result<(), DomainError> {
        let id = self.dataset_id;
        let report = repair(fixity, Some(id)).await?;
        if !report.unrepaired.is_empty() {
            tracing::warn!(dataset = id, unrepaired = ?report.unrepaired, "damaged files left without a good copy");
        }
        Ok(())
    }
}

/// Every good copy candidate of a damaged row, best first.
fn candidates(
    conn: &mut AnyConnection,
    damaged: &StoredFileRow,
) -> Result<Vec<(String, String)>, DomainError> {
    // (object id, content path) of other stored rows with the same digest, known good.
    Ok(stored_files::table
        .filter(stored_files::sha256.eq(&damaged.sha256))
        .filter(stored_files::state.eq("ok"))
        .filter(stored_files::id.ne(damaged.id))
        .order(stored_files::last_checked_at.desc())
        .limit(20)
        .select((stored_files::object_id, stored_files::content_path))
        .load(conn)?)
}

fn staged_candidates(conn: &mut AnyConnection, sha256: &str) -> Result<Vec<String>, DomainError> {
    Ok(version_files::table
        .filter(version_files::sha256.eq(sha256))
        .filter(version_files::staged_name.is_not_null())
        .select(version_files::staged_name.assume_not_null())
        .limit(5)
        .load(conn)?)
}

/// A partner archive's replica that may hold a good copy.
#[derive(Clone, Debug)]
pub struct PartnerCopy {
    pub partner_id: i64,
    pub name: String,
    pub base_url: String,
}

/// Partner archives' replicas as a source of good copies. `federation` implements it
/// (it knows the partners and how to ask them); the composition root hands it in, so
/// fixity does not depend on federation.
#[async_trait::async_trait]
pub trait PartnerCopies: Send + Sync {
    /// Active partners whose copy of the object holds the version a content path
    /// belongs to and whose last challenge did not fail: copies that passed first,
    /// most recently verified first.
    fn holders(
        &self,
        conn: &mut AnyConnection,
        object_id: &str,
        content_path: &str,
    ) -> Result<Vec<PartnerCopy>, DomainError>;

    /// Fetches a content file from a partner's replica into a temporary file, hashing
    /// it on the way; it is kept only if its sha256 and size are the ones given.
    async fn fetch(
        &self,
        copy: &PartnerCopy,
        object_id: &str,
        content_path: &str,
        sha256: &str,
        size: u64,
    ) -> Result<tempfile::NamedTempFile, StorageError>;
}

/// Copies `source` over `key`, verified against `sha256` while it is copied: on a
/// mismatch nothing is replaced.
async fn restore_from(
    fixity: &Fixity,
    key: &str,
    row: &StoredFileRow,
    source: &Source,
) -> Result<(), StorageError> {
    let sha256 = row.sha256.as_str();
    let path = match source {
        Source::Replica(partner) => {
            let size = u64::try_from(row.size).unwrap_or(0);
            let temp = fixity
                .partners
                .fetch(partner, &row.object_id, &row.content_path, sha256, size)
                .await?;
            // put_file hashes again while it writes: the bytes that land are verified.
            return fixity
                .store
                .put_file(key, temp.path(), Some(sha256))
                .await
                .map(|_| ());
        }
        Source::Staged(path) => path.clone(),
        Source::Stored(from) => match fixity.store.local_path(from) {
            Some(p) => p,
            None => return restore_via_temp(fixity, key, sha256, from).await,
        },
    };
    if tokio::fs::metadata(&path).await.is_err() {
        return Err(StorageError::NotFound);
    }
    fixity
        .store
        .put_file(key, &path, Some(sha256))
        .await
        .map(|_| ())
}

/// A remote store's copy goes through a local temporary file first.
async fn restore_via_temp(
    fixity: &Fixity,
    key: &str,
    sha256: &str,
    from: &str,
) -> Result<(), StorageError> {
    let dir = fixity.settings.temp_dir();
    tokio::fs::create_dir_all(&dir).await?;
    let temp = tempfile::Builder::new()
        .prefix("repair-")
        .tempdir_in(&dir)?;
    let copy = temp.path().join("copy");
    crate::storage::copy_to_file(fixity.store.as_ref(), from, &copy).await?;
    fixity
        .store
        .put_file(key, &copy, Some(sha256))
        .await
        .map(|_| ())
}

/// Repairs the damaged files of one dataset (or of all), and quarantines the unexpected
/// files the audit found.
pub async fn repair(fixity: &Fixity, dataset_id: Option<i64>) -> Result<RepairReport, DomainError> {
    let mut report = RepairReport::default();
    let damaged = fixity
        .db
        .run(move |conn| files::damaged(conn, dataset_id))
        .await?;
    for row in damaged {
        match repair_one(fixity, &row).await? {
            Ok(source) => report
                .repaired
                .push((row.dataset_id, row.content_path.clone(), source)),
            Err(why) => report
                .unrepaired
                .push((row.dataset_id, row.content_path.clone(), why)),
        }
    }
    let extras = fixity
        .db
        .run(move |conn| {
            tickets::open_alert_items(conn, TICKET_KIND, "fixity-extra-file", dataset_id)
        })
        .await?;
    for (item, dataset) in extras {
        if let Some(moved) = quarantine(fixity, dataset, &item.file).await? {
            report.quarantined.push((dataset, item.file.clone(), moved));
        }
    }
    notify_repairs(fixity, &report).await?;
    Ok(report)
}

/// Restores one damaged row; the outer error is the database's, the inner one why no
/// good copy could be used.
async fn repair_one(
    fixity: &Fixity,
    row: &StoredFileRow,
) -> Result<Result<String, String>, DomainError> {
    let target = row.target(&fixity.ocfl);
    let key = target.key();
    let r = row.clone();
    let partners = fixity.partners.clone();
    let (stored, staged, replicas) = fixity
        .db
        .run(move |conn| {
            let replicas = if r.kind == "content" {
                partners.holders(conn, &r.object_id, &r.content_path)?
            } else {
                Vec::new() // an inventory is rewritten from this archive's own records
            };
            Ok((
                candidates(conn, &r)?,
                staged_candidates(conn, &r.sha256)?,
                replicas,
            ))
        })
        .await?;
    let mut sources: Vec<Source> = Vec::new();
    // An inventory whose own bytes are right needs only its sidecar written again.
    let inventory_intact = if row.kind == "inventory" {
        matches!(fixity.store.get_bytes(&key).await,
            Ok(Some(bytes)) if hex::encode(sha2::Sha256::digest(&bytes)).eq_ignore_ascii_case(&row.sha256))
    } else {
        false
    };
    for (object, path) in stored {
        sources.push(Source::Stored(format!(
            "{}/{path}",
            fixity.ocfl.object_root(&object)
        )));
    }
    for name in staged {
        if let Ok(p) = fixity.staging.blob_path(&name) {
            sources.push(Source::Staged(p));
        }
    }
    // Local copies first; a partner's replica when none of them serves.
    sources.extend(replicas.into_iter().map(Source::Replica));
    let mut used: Option<String> =
        inventory_intact.then(|| "its own bytes (only the sidecar was wrong)".to_string());
    let mut tried = Vec::new();
    if used.is_none() {
        for source in &sources {
            match restore_from(fixity, &key, row, source).await {
                Ok(()) => {
                    used = Some(source.describe());
                    break;
                }
                Err(e) => tried.push(format!("{}: {e}", source.describe())),
            }
        }
    }
    if let (Some(_), "inventory") = (&used, row.kind.as_str()) {
        let sidecar = format!("{key}.sha256");
        if let Err(e) = fixity
            .store
            .put_bytes(&sidecar, bytes::Bytes::from(sidecar_body(&row.sha256)))
            .await
        {
            used = None;
            tried.push(format!("writing the sidecar: {e}"));
        }
    }
    let row = row.clone();
    let outcome = match used {
        Some(source) => Ok(source),
        None if sources.is_empty() => Err("no good copy of these bytes is known".to_string()),
        None => Err(format!("no copy could be used: {}", tried.join("; "))),
    };
    let recorded = outcome.clone();
    fixity
        .db
        .transaction(move |conn| record_repair(conn, &row, &recorded))
        .await?;
    Ok(outcome)
}

fn record_repair(
    conn: &mut AnyConnection,
    row: &StoredFileRow,
    outcome: &Result<String, String>,
) -> Result<(), DomainError> {
    let now = Utc::now().naive_utc();
    let subject = Subject {
        dataset_id: Some(row.dataset_id),
        file_path: Some(&row.content_path),
        file_sha256: Some(&row.sha256),
        ..Default::default()
    };
    match outcome {
        Ok(source) => {
            diesel::insert_into(fixity_checks::table)
                .values((
                    fixity_checks::stored_file_id.eq(Some(row.id)),
                    fixity_checks::dataset_id.eq(row.dataset_id),
                    fixity_checks::content_path.eq(&row.content_path),
                    fixity_checks::checked_at.eq(now),
                    fixity_checks::outcome.eq("repaired"),
                    fixity_checks::expected_sha256.eq(Some(&row.sha256)),
                    fixity_checks::found_sha256.eq(Some(&row.sha256)),
                    fixity_checks::expected_size.eq(Some(row.size)),
                    fixity_checks::found_size.eq(Some(row.size)),
                    fixity_checks::detail.eq(format!("restored from {source}, verified by sha256 before it replaced the damaged copy")),
                ))
                .execute(conn)?;
            diesel::update(stored_files::table.find(row.id))
                .set((
                    stored_files::state.eq("ok"),
                    stored_files::last_outcome.eq("repaired"),
                    stored_files::last_checked_at.eq(now),
                ))
                .execute(conn)?;
            events::record(
                conn,
                EventType::Recovery,
                &subject,
                &format!(
                    "Repair of {} in OCFL object {}",
                    row.content_path, row.object_id
                ),
                Outcome::Success,
                &format!(
                    "restored from {source}; sha256 {} verified while copied",
                    row.sha256
                ),
                Agent::Holdfast,
            )?;
            tickets::resolve_alert(
                conn,
                row.dataset_id,
                TICKET_KIND,
                &row.content_path,
                &format!("repaired from {source}"),
            )?;
        }
        Err(why) => {
            events::record(
                conn,
                EventType::Recovery,
                &subject,
                &format!(
                    "Repair of {} in OCFL object {}",
                    row.content_path, row.object_id
                ),
                Outcome::Failure,
                why,
                Agent::Holdfast,
            )?;
        }
    }
    Ok(())
}

/// Moves an unexpected file out of the object into `DATA_DIR/quarantine/`, keeping its
/// bytes; returns where it went (None when it is gone already).
async fn quarantine(
    fixity: &Fixity,
    dataset_id: i64,
    rel: &str,
) -> Result<Option<String>, DomainError> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let object_id: Option<String> = fixity
        .db
        .run(move |conn| {
            Ok(datasets::table
                .find(dataset_id)
                .select(datasets::ocfl_object_id)
                .first::<Option<String>>(conn)?)
        })
        .await?;
    let Some(object_id) = object_id else {
        return Ok(None);
    };
    let root = fixity.ocfl.object_root(&object_id);
    let key = format!("{root}/{rel}");
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let dest = fixity
        .settings
        .data_dir
        .join("quarantine")
        .join(&root)
        .join(format!("{rel}.{stamp}"));
    let moved = async {
        let mut stream = match fixity.store.get_range(&key, None).await {
            Ok(s) => s,
            Err(StorageError::NotFound) => return Ok::<bool, std::io::Error>(false),
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        };
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let mut out = tokio::fs::File::create(&dest).await?;
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?).await?;
        }
        out.sync_all().await?;
        Ok(true)
    }
    .await
    .map_err(|e| DomainError::internal(format!("quarantining {key}: {e}")))?;
    let shown = dest.display().to_string();
    if moved {
        fixity
            .store
            .delete(&key)
            .await
            .map_err(|e| DomainError::internal(format!("removing {key}: {e}")))?;
    }
    let (path, place) = (rel.to_string(), shown.clone());
    fixity
        .db
        .transaction(move |conn| {
            let now = Utc::now().naive_utc();
            let detail = if moved {
                format!("moved out of the OCFL object to {place}")
            } else {
                "no longer in the OCFL object".to_string()
            };
            diesel::insert_into(fixity_checks::table)
                .values((
                    fixity_checks::stored_file_id.eq(None::<i64>),
                    fixity_checks::dataset_id.eq(dataset_id),
                    fixity_checks::content_path.eq(&path),
                    fixity_checks::checked_at.eq(now),
                    fixity_checks::outcome.eq("quarantined"),
                    fixity_checks::detail.eq(&detail),
                ))
                .execute(conn)?;
            events::record(
                conn,
                EventType::Quarantine,
                &Subject {
                    dataset_id: Some(dataset_id),
                    file_path: Some(&path),
                    ..Default::default()
                },
                &format!("An unexpected file {path} in OCFL object {object_id}"),
                Outcome::Success,
                &detail,
                Agent::Holdfast,
            )?;
            tickets::resolve_alert(conn, dataset_id, TICKET_KIND, &path, &detail)?;
            Ok(())
        })
        .await?;
    Ok(Some(shown))
}

async fn notify_repairs(fixity: &Fixity, report: &RepairReport) -> Result<(), DomainError> {
    let mut by_dataset: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
    for (d, path, source) in &report.repaired {
        by_dataset
            .entry(*d)
            .or_default()
            .push(format!("{path}: repaired from {source}"));
    }
    for (d, path, place) in &report.quarantined {
        by_dataset
            .entry(*d)
            .or_default()
            .push(format!("{path}: unexpected file moved to {place}"));
    }
    if by_dataset.is_empty() {
        return Ok(());
    }
    let settings = fixity.settings.clone();
    fixity
        .db
        .transaction(move |conn| {
            let curators = crate::accounts::users::curator_ids(conn)?;
            for (dataset_id, lines) in &by_dataset {
                let notice = Notice {
                    kind: NotificationKind::FixityAlert,
                    subject: format!("Repaired: {} stored file(s) of dataset {dataset_id}", lines.len()),
                    headline: format!(
                        "holdfast repaired {} file(s) of dataset {dataset_id} from good copies; they are served again.",
                        lines.len()
                    ),
                    lines: lines.clone(),
                    link_path: format!("/datasets/{dataset_id}"),
                };
                mail::notify(conn, &settings, &curators, &notice)?;
            }
            Ok(())
        })
        .await?;
    fixity.waker.wake();
    Ok(())
}
