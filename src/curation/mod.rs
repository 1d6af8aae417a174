//! Review of submitted datasets and their publication.
//!
//! Publishing is crash safe and idempotent: DOIs are reserved first, the version is
//! then committed to OCFL storage (the root inventory is the commit point), and only
//! then is the database switched to "published". If the process dies in between, the
//! next attempt finds the committed OCFL version, checks it holds exactly the draft's
//! files, and finishes the database part instead of writing a second version.

use chrono::{Datelike, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::BTreeMap;

use crate::accounts::User;
use crate::app::Archive;
use crate::db::schema::{dataset_versions, datasets, version_files};
use crate::deposit::model::{DatasetRow, DatasetState, FileRow, VersionRow};
use crate::deposit::service;
use crate::doi::{self, DoiState};
use crate::error::DomainError;
use crate::mail::{self, Notice, NotificationKind};
use crate::qa::{tickets, validation};
use crate::search;
use crate::storage::{FileSource, NewFile, NewVersion};

#[derive(Debug, Clone)]
pub struct Published {
    pub dataset_id: i64,
    pub version: i32,
    pub doi: String,
    pub concept_doi: String,
}

struct PublishPlan {
    dataset: DatasetRow,
    version: VersionRow,
    files: Vec<FileRow>,
    object_id: String,
    concept_doi: String,
    version_doi: String,
    ocfl_version: u32,
    metadata_json: String,
}

/// A curator accepts a submitted dataset, which publishes it.
/// `comment` is the curator's note, kept in the dataset's history.
pub async fn accept(
    archive: &Archive,
    curator: &User,
    id: i64,
    comment: &str,
) -> Result<Published, DomainError> {
    let comment = comment.trim();
    if comment.chars().count() > 10_000 {
        return Err(DomainError::invalid(
            "comment",
            "use at most 10,000 characters",
        ));
    }
    let history = if comment.is_empty() {
        String::new()
    } else {
        format!(": {comment}")
    };
    if !curator.role.can_curate() {
        return Err(DomainError::Forbidden(
            "only curators and admins can review submissions".into(),
        ));
    }
    let prefix = archive.settings.doi_prefix.clone();
    let base_url = archive.settings.base_url.clone();
    let publisher = archive.settings.site_name.clone();
    let curator_for_plan = curator.clone();
    let plan = archive
        .db
        .transaction(move |conn| {
            prepare(conn, &curator_for_plan, id, &prefix, &base_url, &publisher)
        })
        .await?;

    let content_paths = commit_to_storage(archive, &plan, curator).await?;

    let curator_id = curator.id;
    let published = Published {
        dataset_id: id,
        version: plan.version.number,
        doi: plan.version_doi.clone(),
        concept_doi: plan.concept_doi.clone(),
    };
    let staged_blobs: Vec<String> = plan
        .files
        .iter()
        .filter_map(|f| f.staged_name.clone())
        .collect();
    let settings = archive.settings.clone();
    let notice = Notice {
        kind: NotificationKind::ReviewDecision,
        subject: format!("Published: {}", plan.version.title),
        headline: format!(
            "{} accepted \"{}\"; it is published with DOI {}.",
            curator.name, plan.version.title, plan.version_doi
        ),
        lines: if comment.is_empty() {
            Vec::new()
        } else {
            vec![format!("Comment: {comment}")]
        },
        link_path: format!("/datasets/{id}"),
    };
    let owner = plan.dataset.owner_id;
    archive
        .db
        .transaction(move |conn| {
            finish(conn, &plan, &content_paths, curator_id, &history)?;
            mail::notify(conn, &settings, &[owner], &notice)
        })
        .await?;
    archive.wake_workers();
    archive.remove_staged_blobs(staged_blobs).await;
    Ok(published)
}

/// Checks the dataset can be published and reserves its DOIs (kept on retry).
fn prepare(
    conn: &mut crate::db::AnyConnection,
    curator: &User,
    id: i64,
    prefix: &str,
    base_url: &str,
    publisher: &str,
) -> Result<PublishPlan, DomainError> {
    let view = service::load_view(conn, Some(curator), id, None)?;
    if view.state != DatasetState::Submitted {
        return Err(DomainError::Conflict(format!(
            "only submitted datasets can be accepted; this one is {}",
            view.state.label().to_lowercase()
        )));
    }
    if validation::is_checking(conn, view.version.id)? {
        return Err(DomainError::Conflict(
            "the data standards check of this dataset is still running; try again in a moment"
                .into(),
        ));
    }
    tickets::ensure_no_blocking_items(conn, id)?;
    let landing = format!("{base_url}/datasets/{id}");
    let concept_doi = match &view.dataset.concept_doi {
        Some(doi) => doi.clone(),
        None => {
            let doi = doi::reserve(conn, prefix, id, None, &landing)?;
            diesel::update(datasets::table.find(id))
                .set((
                    datasets::concept_doi.eq(&doi),
                    datasets::ocfl_object_id.eq(format!("doi:{doi}")),
                ))
                .execute(conn)?;
            doi
        }
    };
    let version_doi = match &view.version.doi {
        Some(doi) => doi.clone(),
        None => {
            let url = format!("{landing}/versions/{}", view.version.number);
            let doi = doi::reserve(conn, prefix, id, Some(view.version.id), &url)?;
            diesel::update(dataset_versions::table.find(view.version.id))
                .set(dataset_versions::doi.eq(&doi))
                .execute(conn)?;
            doi
        }
    };
    // The published record names its publisher, year, version and DOI.
    let mut metadata = view.metadata.clone();
    metadata.publisher = Some(crate::deposit::metadata::Publisher {
        name: publisher.to_string(),
        ..Default::default()
    });
    metadata.publication_year = Some(Utc::now().year());
    metadata.version = Some(view.version.number.to_string());
    let metadata_json = serde_json::to_string(&metadata).map_err(DomainError::internal)?;
    let published_before: i64 = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(id))
        .filter(dataset_versions::published_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(PublishPlan {
        object_id: format!("doi:{concept_doi}"),
        ocfl_version: u32::try_from(published_before + 1).map_err(DomainError::internal)?,
        dataset: view.dataset,
        version: view.version,
        files: view.files,
        concept_doi,
        version_doi,
        metadata_json,
    })
}

/// Writes the version into OCFL storage, or recognises that an earlier attempt did.
/// Returns where each digest's bytes live in the object (its first content path).
async fn commit_to_storage(
    archive: &Archive,
    plan: &PublishPlan,
    curator: &User,
) -> Result<BTreeMap<String, String>, DomainError> {
    let ocfl = &archive.ocfl;
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
            Some(blob) => FileSource::Local(archive.staged_blob_path(blob)?),
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
        user_address: Some(format!("mailto:{}", curator.email)),
        files,
    };
    ocfl.commit_version(&plan.object_id, version)
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

/// Switches the database to "published" once the bytes are committed.
fn finish(
    conn: &mut crate::db::AnyConnection,
    plan: &PublishPlan,
    content_paths: &BTreeMap<String, String>,
    curator_id: i64,
    history: &str,
) -> Result<(), DomainError> {
    let now: NaiveDateTime = Utc::now().naive_utc();
    let ocfl_version = i32::try_from(plan.ocfl_version).map_err(DomainError::internal)?;
    diesel::update(dataset_versions::table.find(plan.version.id))
        .set((
            dataset_versions::published_at.eq(now),
            dataset_versions::ocfl_version.eq(ocfl_version),
            dataset_versions::metadata.eq(&plan.metadata_json),
            dataset_versions::updated_at.eq(now),
        ))
        .execute(conn)?;
    for f in &plan.files {
        // Identical bytes are stored once; files carried over point into earlier versions.
        let content_path = content_paths.get(&f.sha256).ok_or_else(|| {
            DomainError::internal(format!("'{}' is missing from the OCFL manifest", f.path))
        })?;
        diesel::update(version_files::table.find(f.id))
            .set((
                version_files::staged_name.eq(None::<String>),
                version_files::content_path.eq(content_path),
            ))
            .execute(conn)?;
    }
    doi::set_state(conn, &plan.concept_doi, DoiState::Findable)?;
    doi::set_state(conn, &plan.version_doi, DoiState::Findable)?;
    search::index_dataset(conn, plan.dataset.id)?;
    service::set_state(
        conn,
        plan.dataset.id,
        DatasetState::Submitted,
        DatasetState::Published,
        curator_id,
        &format!("accepted and published as {}{history}", plan.version_doi),
    )
}
