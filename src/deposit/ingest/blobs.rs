//! The staged blobs of drafts, seen from async code: where a blob's bytes are, staging a
//! request body while it arrives, and removing blobs no draft keeps.

use bytes::Bytes;
use futures_util::Stream;
use std::path::PathBuf;

use super::staging::StagingWriter;
use super::{StagedFile, Staging};
use crate::error::{DomainError, ErrorContext, InternalError};
use crate::storage::stream::{drain_into, BlockingSink};

impl Staging {
    /// The staged bytes of a draft file. Names come from our own database, but are
    /// checked anyway so nothing can point outside the staging folder.
    pub fn blob_path(&self, name: &str) -> Result<PathBuf, DomainError> {
        let safe = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
            && !name.starts_with('.');
        if !safe {
            return Err(DomainError::internal(format!(
                "bad staged blob name {name:?}"
            )));
        }
        Ok(self.dir().join(name))
    }

    /// Deletes staged blobs no draft refers to any more (after replace, remove, publish).
    pub async fn remove_blobs(&self, names: Vec<String>) {
        for name in names {
            if let Ok(path) = self.blob_path(&name) {
                if let Err(e) = tokio::fs::remove_file(&path).await {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(blob = %name, error = %e, "could not remove a staged blob");
                    }
                }
            }
        }
    }

    /// Deletes the staged bytes of uploads a request did not keep.
    pub async fn discard<'a>(&self, files: impl IntoIterator<Item = &'a StagedFile>) {
        let names = files
            .into_iter()
            .filter_map(StagedFile::blob_name)
            .collect();
        self.remove_blobs(names).await;
    }

    /// Streams a request body into staging while hashing it. Memory stays bounded:
    /// the network side waits when the disk side falls behind, and a silent client
    /// holds no thread (see [`crate::storage::stream`]).
    pub async fn stage_stream<S, E>(&self, body: S, limit: u64) -> Result<StagedFile, DomainError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let writer = self
            .create_pipelined()
            .with_context(|| format!("creating an upload file in {}", self.dir().display()))?
            .with_limit(limit);
        let sink = StagingSink {
            writer,
            error: None,
        };
        let drained = drain_into(body, sink)
            .await
            .map_err(DomainError::internal)?;
        let StagingSink { writer, error } = drained.sink;
        // Dropping the writer without finish() removes the partial file.
        let outcome = match (error, drained.body_error) {
            (Some(e), _) => Err(e),
            (None, Some(e)) => Err(DomainError::BadRequest(format!(
                "the upload was interrupted ({e}); nothing was stored, please try again"
            ))),
            (None, None) => return finish_blocking(writer).await,
        };
        tokio::task::spawn_blocking(move || drop(writer))
            .await
            .map_err(|e| DomainError::internal(format!("upload writer: {e}")))?;
        outcome
    }

    /// Removes staged blobs not in `referenced` (left by a crash between staging a file
    /// and recording it). Only blobs older than an hour are touched, so an upload
    /// another process is finishing right now is safe. Returns how many it removed.
    pub async fn sweep_unreferenced(
        &self,
        referenced: std::collections::HashSet<String>,
    ) -> std::io::Result<usize> {
        let dir = self.dir().to_path_buf();
        tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
            let mut removed = 0;
            let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().to_string();
                if !name.ends_with(".blob") || referenced.contains(&name) {
                    continue;
                }
                if entry.metadata()?.modified()? < cutoff {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// A staging file fed from the network; the first write error stops the upload.
struct StagingSink {
    writer: StagingWriter,
    error: Option<DomainError>,
}

impl BlockingSink for StagingSink {
    fn write(&mut self, batch: Bytes) -> bool {
        match self.writer.write_bytes(batch) {
            Ok(()) => {
                crate::crashpoint::hit("upload.mid-file");
                true
            }
            Err(e) => {
                self.error = Some(upload_error(e));
                false
            }
        }
    }
}

async fn finish_blocking(writer: StagingWriter) -> Result<StagedFile, DomainError> {
    tokio::task::spawn_blocking(move || writer.finish().map_err(upload_error))
        .await
        .map_err(|e| DomainError::internal(format!("upload writer: {e}")))?
}

fn upload_error(e: std::io::Error) -> DomainError {
    if e.kind() == std::io::ErrorKind::FileTooLarge {
        DomainError::PayloadTooLarge(e.to_string())
    } else {
        DomainError::Internal(InternalError::new("writing an upload into staging", e))
    }
}
