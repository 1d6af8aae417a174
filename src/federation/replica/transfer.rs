use super::{Pull, ATTEMPTS};
use crate::storage::{PutReceipt, StorageError};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

impl Pull<'_> {
    /// One content file: already held, or downloaded, checked and stored. Returns its
    /// size and whether it was fetched now.
    pub(super) async fn content(
        &self,
        url: &str,
        key: &str,
        path: &str,
        digest: &str,
    ) -> Result<(u64, bool), String> {
        if let Some(size) = self.store().size(key).await.map_err(|e| e.to_string())? {
            // Stored by an earlier pull: put_file verified it before it appeared.
            return Ok((size, false));
        }
        let expected_len = self.lengths.get(digest).copied();
        let part = self.partial.join(format!(
            "{}.part",
            hex::encode(Sha256::digest(key.as_bytes()))
        ));
        let mut problems = Vec::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            let (len, hashed) = match self.download(url, &part, expected_len).await {
                Ok(got) => got,
                Err(e) => {
                    // The partial file stays: the next try resumes it.
                    problems.push(e);
                    continue;
                }
            };
            if let Some(expected) = expected_len {
                if len != expected {
                    let _ = tokio::fs::remove_file(&part).await;
                    problems.push(format!("length {len}, expected {expected}"));
                    continue;
                }
            }
            let stored = match hashed {
                Some(sha256) if !sha256.eq_ignore_ascii_case(digest) => {
                    let _ = tokio::fs::remove_file(&part).await;
                    problems.push(format!("sha-256 {sha256}, expected {digest}"));
                    continue;
                }
                Some(sha256) => {
                    let receipt = PutReceipt { size: len, sha256 };
                    self.store()
                        .put_file_moving_batched(key, &part, Some(digest), Some(&receipt))
                        .await
                }
                // Resumed: the bytes received before are read again to check them.
                None => {
                    self.store()
                        .put_file_moving_batched(key, &part, Some(digest), None)
                        .await
                }
            };
            match stored {
                Ok(receipt) => {
                    let _ = tokio::fs::remove_file(&part).await;
                    self.files.fetch_add(1, Ordering::Relaxed);
                    self.bytes.fetch_add(receipt.size, Ordering::Relaxed);
                    return Ok((receipt.size, true));
                }
                Err(StorageError::DigestMismatch { found, .. }) => {
                    let _ = tokio::fs::remove_file(&part).await;
                    problems.push(format!("sha-256 {found}, expected {digest}"));
                }
                Err(e) => return Err(format!("{path}: storing it: {e}")),
            }
        }
        let _ = tokio::fs::remove_file(&part).await;
        Err(format!(
            "{path} failed verification {ATTEMPTS} times ({})",
            problems.join("; ")
        ))
    }

    /// Downloads `url` into `part`, resuming what is there with a Range request.
    /// Returns the length of the complete file.
    pub(super) async fn download(
        &self,
        url: &str,
        part: &Path,
        expected_len: Option<u64>,
    ) -> Result<(u64, Option<String>), String> {
        let io = |e: std::io::Error| format!("{}: {e}", part.display());
        let mut have = match tokio::fs::metadata(part).await {
            Ok(m) => m.len(),
            Err(_) => 0,
        };
        if expected_len.is_some_and(|e| have > e) {
            have = 0;
        }
        if have > 0 && expected_len == Some(have) {
            return Ok((have, None));
        }
        let mut request = self.remote.request(url)?;
        if have > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let append = match status {
            reqwest::StatusCode::PARTIAL_CONTENT if have > 0 => true,
            s if s.is_success() => false,
            reqwest::StatusCode::RANGE_NOT_SATISFIABLE => {
                let _ = tokio::fs::remove_file(part).await;
                return Err(format!("{url}: the partial download no longer fits"));
            }
            s => return Err(format!("{url}: {s}")),
        };
        if !append {
            have = 0;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(part)
            .await
            .map_err(io)?;
        // Network chunks are small; each tokio file write is a trip to a blocking thread.
        let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut stream = response.bytes_stream();
        let mut len = have;
        // A download from the first byte is hashed as it arrives, so storing it needs no
        // second read; a resumed one is checked when it is stored.
        let mut hasher = (!append).then(Sha256::new);
        while let Some(chunk) = stream.try_next().await.map_err(|e| format!("{url}: {e}"))? {
            len += chunk.len() as u64;
            if expected_len.is_some_and(|e| len > e) {
                drop(file);
                let _ = tokio::fs::remove_file(part).await;
                return Err(format!("{url}: longer than the {} bytes listed", len));
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            file.write_all(&chunk).await.map_err(io)?;
            self.progress.fetched(chunk.len() as u64);
        }
        file.flush().await.map_err(io)?;
        Ok((len, hasher.map(|h| hex::encode(h.finalize()))))
    }
}
