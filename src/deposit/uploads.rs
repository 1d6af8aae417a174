//! Turning staged uploads into draft files: unpacking zips, recording rows, and
//! cleaning staged bytes whatever happens (a failed request leaves nothing behind).

use super::ingest::{unpack_zip, DatasetPath, StagedFile, UnpackLimits};
use super::model::FileRow;
use super::service;
use crate::accounts::User;
use crate::app::Archive;
use crate::error::DomainError;

/// One uploaded file, already staged, with the path the depositor gave it.
pub struct Upload {
    pub path: DatasetPath,
    pub staged: StagedFile,
    /// Expand this upload (a zip) into its entries instead of storing it as is.
    pub unpack: bool,
}

impl Archive {
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
    archive: &Archive,
    actor: &User,
    dataset_id: i64,
    uploads: Vec<Upload>,
) -> Result<Vec<FileRow>, DomainError> {
    let mut ready: Vec<(DatasetPath, StagedFile)> = Vec::new();
    let mut zips: Vec<StagedFile> = Vec::new();
    let mut failure = None;
    for upload in uploads {
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
        let staging = archive.staging.clone();
        let limits = archive.unpack_limits();
        let zip_path = upload.staged.path.clone();
        let unpacked = tokio::task::spawn_blocking(move || {
            unpack_zip(&zip_path, &staging, folder.as_ref(), &limits)
        })
        .await
        .map_err(DomainError::internal)?;
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
    archive.discard_staged(&zips).await;
    if let Some(e) = failure {
        archive.discard_staged(ready.iter().map(|(_, f)| f)).await;
        return Err(e);
    }
    if ready.is_empty() {
        return Err(DomainError::BadRequest(
            "no file was received; choose at least one file".into(),
        ));
    }
    let actor = actor.clone();
    let case_insensitive = archive.settings.case_insensitive_paths;
    let staged = std::sync::Arc::new(ready);
    let for_db = staged.clone();
    let result = archive
        .db
        .run(move |conn| service::add_files(conn, &actor, dataset_id, &for_db, case_insensitive))
        .await;
    match result {
        Ok(added) => {
            crate::crashpoint::hit("add-files.after-commit");
            archive.wake_workers();
            archive.remove_staged_blobs(added.replaced_blobs).await;
            Ok(added.files)
        }
        Err(e) => {
            archive.discard_staged(staged.iter().map(|(_, f)| f)).await;
            Err(e)
        }
    }
}

pub async fn remove_file(
    archive: &Archive,
    actor: &User,
    dataset_id: i64,
    path: DatasetPath,
) -> Result<(), DomainError> {
    let actor = actor.clone();
    let blob = archive
        .db
        .run(move |conn| service::remove_file(conn, &actor, dataset_id, &path))
        .await?;
    crate::crashpoint::hit("remove-file.after-commit");
    archive.wake_workers();
    archive
        .remove_staged_blobs(blob.into_iter().collect())
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
