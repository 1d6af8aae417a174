//! Partners' replicas as a source of good copies for fixity repair: the
//! [`PartnerCopies`] port fixity declares, answered from what partners reported holding
//! and fetched with a signed request.

use chrono::Utc;
use diesel::prelude::*;
use sha2::Digest as _;

use super::partners::Partner;
use super::Federation;
use crate::db::schema::{federation_partners, replica_copies};
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::fixity::{PartnerCopies, PartnerCopy};
use crate::storage::StorageError;

#[async_trait::async_trait]
impl PartnerCopies for Federation {
    fn holders(
        &self,
        conn: &mut AnyConnection,
        object_id: &str,
        content_path: &str,
    ) -> Result<Vec<PartnerCopy>, DomainError> {
        let version = content_path
            .split('/')
            .next()
            .and_then(crate::storage::ocfl::parse_version_dir)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(i32::MAX);
        let mut rows: Vec<(Option<String>, Option<chrono::NaiveDateTime>, Partner)> =
            replica_copies::table
                .inner_join(federation_partners::table)
                .filter(federation_partners::revoked_at.is_null())
                .filter(replica_copies::object_id.eq(object_id))
                .filter(replica_copies::version_number.ge(version))
                .select((
                    replica_copies::last_outcome,
                    replica_copies::last_verified_at,
                    Partner::as_select(),
                ))
                .load(conn)?;
        rows.retain(|(outcome, _, _)| outcome.as_deref() != Some("failed"));
        rows.sort_by_key(|(outcome, verified, _)| {
            (
                outcome.as_deref() != Some("passed"),
                std::cmp::Reverse(*verified),
            )
        });
        let mut seen = std::collections::HashSet::new();
        Ok(rows
            .into_iter()
            .map(|(_, _, p)| p)
            .filter(|p| seen.insert(p.id))
            .map(|p| PartnerCopy {
                partner_id: p.id,
                name: p.name,
                base_url: p.base_url,
            })
            .collect())
    }

    async fn fetch(
        &self,
        copy: &PartnerCopy,
        object_id: &str,
        content_path: &str,
        sha256: &str,
        size: u64,
    ) -> Result<tempfile::NamedTempFile, StorageError> {
        let id = copy.partner_id;
        let partner: Partner = self
            .db
            .run(move |conn| super::partners::find(conn, id))
            .await
            .map_err(|e| StorageError::Io(std::io::Error::other(e.to_string())))?;
        let partner = &partner;

        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let fail = |why: String| StorageError::Io(std::io::Error::other(why));
        let body = serde_json::to_vec(&super::answer::FetchRequest {
            object_id: object_id.to_string(),
            content_path: content_path.to_string(),
            issued_at: Utc::now(),
        })?;
        let signature =
            super::signing::sign(&super::signing::key_of_hash(&partner.token_hash), &body);
        let url = format!("{}/api/federation/files", partner.base_url);
        let http = super::challenge::partner_client().map_err(|e| fail(e.to_string()))?;
        let response = http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(super::signing::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| fail(format!("{url} could not be reached: {e}")))?;
        if !response.status().is_success() {
            return Err(fail(format!("{url} answered {}", response.status())));
        }
        let dir = self.settings.data_dir.join("tmp");
        tokio::fs::create_dir_all(&dir).await?;
        let temp = tempfile::NamedTempFile::new_in(&dir)?;
        let mut out = tokio::fs::File::create(temp.path()).await?;
        let mut hasher = sha2::Sha256::new();
        let mut received = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fail(format!("reading from {url}: {e}")))?;
            received += chunk.len() as u64;
            if received > size {
                return Err(fail(format!(
                    "the replica sent more than the {size} bytes recorded here"
                )));
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        drop(out);
        let found = hex::encode(hasher.finalize());
        if received != size || !found.eq_ignore_ascii_case(sha256) {
            return Err(StorageError::DigestMismatch {
                path: content_path.to_string(),
                expected: format!("{sha256} ({size} bytes)"),
                found: format!("{found} ({received} bytes)"),
            });
        }
        Ok(temp)
    }
}
