//! Turning staged uploads into draft files: unpacking zips, recording rows, and
//! cleaning staged bytes whatever happens (a failed request leaves nothing behind).

use super::ingest::{unpack_zip, DatasetPath, StagedFile, Staging, UnpackLimits};
use super::model::FileRow;
use super::service;
use std::sync::Arc;

use super::tus::UploadLocks;
use crate::accounts::User;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{DomainError, ErrorContext};
use crate::jobs::Waker;

/// One uploaded file, already staged, with the path the depositor gave it.
pub struct Upload {
    pub path: DatasetPath,
    pub staged: StagedFile,
    /// Expand this upload (a zip) into its entries instead of storing it as is.
    pub unpack: bool,
}

/// What uploads (form, API and resumable) run with, handed in by the composition root.
#[derive(Clone)]
pub struct Uploads {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub staging: Arc<Staging>,
    /// One writer at a time per resumable upload.
    pub tus_locks: Arc<UploadLocks>,
    pub waker: Waker,
}

impl Uploads {
    pub fn unpack_limits(&self) -> UnpackLimits {
        UnpackLimits {
            max_total_uncompressed: self.settings.unzip_max_bytes,
            max_entries: self.settings.unzip_max_entries,
            max_ratio: self.settings.unzip_max_ratio,
            max_entry_size: self
                .settings
                .max_upload_bytes
                .min(self.settings.unzip_max_bytes),
            ..UnpackLimits::default()
        }
    }
}

/// Records uploads in a draft: all of them, or (on any error) none, with every staged
/// byte of this request removed.
pub async fn add_uploads(
    uploads: &Uploads,
    actor: &User,
    dataset_id: i64,
    files: Vec<Upload>,
) -> Result<Vec<FileRow>, DomainError> {
    let mut ready: Vec<(DatasetPath, StagedFile)> = Vec::new();
    let mut zips: Vec<StagedFile> = Vec::new();
    let mut failure = None;
    for upload in files {
        if failure.is_some() {
            zips.push(upload.staged);
            continue;
        }
        if !upload.unpack {
            ready.push((upload.path, upload.staged));
            continue;
        }
        // Entries go into the folder the zip would have been stored in.
        let folder = DatasetPath::parse(upload.path.folder()).ok();
        let staging = uploads.staging.clone();
        let limits = uploads.unpack_limits();
        let zip_path = upload.staged.path.clone();
        let unpacked = tokio::task::spawn_blocking(move || {
            unpack_zip(&zip_path, &staging, folder.as_ref(), &limits)
        })
        .await
        .context("the zip unpacking task")?;
        zips.push(upload.staged);
        match unpacked {
            Ok(entries) => ready.extend(entries.into_iter().map(|e| (e.path, e.staged))),
            Err(e) => {
                failure = Some(DomainError::Unprocessable(format!(
                    "'{}' could not be unpacked: {e}",
                    upload.path
                )))
            }
        }
    }
    uploads.staging.discard(&zips).await;
    if let Some(e) = failure {
        uploads.staging.discard(ready.iter().map(|(_, f)| f)).await;
        return Err(e);
    }
    if ready.is_empty() {
        return Err(DomainError::BadRequest(
            "no file was received; choose at least one file".into(),
        ));
    }
    let actor = actor.clone();
    let case_insensitive = uploads.settings.case_insensitive_paths;
    let staged = std::sync::Arc::new(ready);
    let for_db = staged.clone();
    let result = uploads
        .db
        .run(move |conn| service::add_files(conn, &actor, dataset_id, &for_db, case_insensitive))
        .await;
    match result {
        Ok(added) => {
            crate::crashpoint::hit("add-files.after-commit");
            uploads.waker.wake();
            uploads.staging.remove_blobs(added.replaced_blobs).await;
            Ok(added.files)
        }
        Err(e) => {
            uploads.staging.discard(staged.iter().map(|(_, f)| f)).await;
            Err(e)
        }
    }
}

pub async fn remove_file(
    uploads: &Uploads,
    actor: &User,
    dataset_id: i64,
    path: DatasetPath,
) -> Result<(), DomainError> {
    let actor = actor.clone();
    let blob = uploads
        .db
        .run(move |conn| service::remove_file(conn, &actor, dataset_id, &path))
        .await?;
    crate::crashpoint::hit("remove-file.after-commit");
    uploads.waker.wake();
    uploads
        .staging
        .remove_blobs(blob.into_iter().collect())
        .await;
    Ok(())
}

/// Parses a user-given path into a dataset path, as a field error.
pub fn parse_path(raw: &str) -> Result<DatasetPath, DomainError> {
    DatasetPath::parse(raw).map_err(|e| DomainError::invalid("path", format!("'{raw}': {e}")))
}

/// Joins an optional folder typed in a form with a file name.
pub fn join_folder(folder: &str, name: &str) -> String {
    let folder = folder.trim().trim_matches('/');
    if folder.is_empty() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    }
}

/// Removes staged blobs no draft row refers to (left by a crash between staging a file
/// and recording it); run at start. Returns how many it removed.
pub async fn sweep_unreferenced_blobs(db: &Db, staging: &Staging) -> Result<usize, DomainError> {
    use crate::db::schema::version_files;
    use diesel::prelude::*;
    let referenced: std::collections::HashSet<String> = db
        .run(|conn| {
            let mut names = version_files::table
                .filter(version_files::staged_name.is_not_null())
                .select(version_files::staged_name.assume_not_null())
                .load::<String>(conn)?;
            // Blobs of resumable uploads whose completion a crash cut short.
            names.extend(super::tus::pending_blob_names(conn)?);
            Ok(names)
        })
        .await?
        .into_iter()
        .collect();
    staging
        .sweep_unreferenced(referenced)
        .await
        .map_err(|e| DomainError::internal(format!("sweeping {}: {e}", staging.dir().display())))
}
