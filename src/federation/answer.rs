//! Replica side of replica audits: answering an origin's challenge from the bytes this
//! archive holds for it, and serving a held file back to its origin for a repair.
//!
//! Both requests are signed by the origin (see `signing`); only a source this archive
//! replicates can ask, and only about the objects held from it. Answers are computed
//! from stored bytes every time, never from a digest kept on the side.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::signing;
use super::Federation;
use crate::config::MAX_CHALLENGE_SAMPLE;
use crate::db::schema::{replica_objects, replication_sources};
use crate::db::AnyConnection;
use crate::error::{DomainError, ErrorContext};
use crate::preservation::events::{self, Agent, EventType, Outcome, Subject};
use crate::storage::{BlobStore, ByteStream, StorageError};

/// Largest challenge or fetch request body.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// `POST /api/federation/challenges`: one object, a sample of its content files, a
/// fresh nonce per file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The OCFL object id (as in the origin's inventory).
    pub object_id: String,
    /// The object version the origin's receipt names (content of versions up to it).
    pub version: i32,
    pub issued_at: DateTime<Utc>,
    pub files: Vec<ChallengedFile>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengedFile {
    /// Path relative to the object root, e.g. `v1/content/data/flux.csv`.
    pub content_path: String,
    /// 32 random bytes as hex.
    pub nonce: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChallengeAnswer {
    pub object_id: String,
    pub files: Vec<FileAnswer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAnswer {
    pub content_path: String,
    /// `ok` (digest given), `missing` (not held) or `unreadable` (held, but reading failed).
    pub status: String,
    /// sha256(nonce ‖ bytes), hex; only with `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// `POST /api/federation/files`: the bytes of one held content file, for a repair.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchRequest {
    pub object_id: String,
    pub content_path: String,
    pub issued_at: DateTime<Utc>,
}

/// A replication source as this side knows it.
#[derive(Clone, Debug)]
pub struct Source {
    pub id: i64,
    pub base_url: String,
}

/// The source whose token signed `body`, or Unauthorized.
pub fn authenticate(
    conn: &mut AnyConnection,
    body: &[u8],
    signature: Option<&str>,
) -> Result<Source, DomainError> {
    let Some(signature) = signature else {
        return Err(DomainError::Unauthorized(format!(
            "sign the request: {} header with hmac-sha256=<hex> of the body, keyed by sha256(partner token)",
            signing::SIGNATURE_HEADER
        )));
    };
    let sources: Vec<(i64, String, Option<String>)> = replication_sources::table
        .filter(replication_sources::token.is_not_null())
        .select((
            replication_sources::id,
            replication_sources::base_url,
            replication_sources::token,
        ))
        .load(conn)?;
    let source = sources
        .into_iter()
        .find_map(|(id, base_url, token)| {
            let key = signing::key_of_token(token.as_deref()?);
            signing::verify(&key, body, signature).then_some(Source { id, base_url })
        })
        .ok_or_else(|| {
            DomainError::Unauthorized("the signature matches no archive this one replicates".into())
        })?;
    refuse_replay(conn, signature)?;
    Ok(source)
}

/// Each signed request is answered once: its signature is kept for as long as the
/// request could pass the clock check, and a second arrival is refused. Kept in the
/// database, so a request replayed to another node is refused too.
fn refuse_replay(conn: &mut AnyConnection, signature: &str) -> Result<(), DomainError> {
    use crate::db::schema::federation_seen_requests as seen;
    let now = Utc::now().naive_utc();
    // Twice the allowed skew: a request may be issued that far ahead of this clock
    // and arrive that far behind it.
    let window = chrono::Duration::seconds(2 * signing::MAX_SKEW_SECS);
    diesel::delete(seen::table.filter(seen::seen_at.lt(now - window))).execute(conn)?;
    let inserted = diesel::insert_into(seen::table)
        .values((seen::signature.eq(signature.trim()), seen::seen_at.eq(now)))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Err(DomainError::Unauthorized(
            "this signed request was already received; requests are single-use, sign a new one"
                .into(),
        )),
        Err(e) => Err(e.into()),
    }
}

fn fresh(issued_at: DateTime<Utc>) -> Result<(), DomainError> {
    if signing::fresh(issued_at, Utc::now()) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "issued_at",
            format!(
                "the request was issued more than {} seconds from this archive's clock; send a new one",
                signing::MAX_SKEW_SECS
            ),
        ))
    }
}

/// A content path as an origin names it: `vN/content/...`, a valid store key.
fn check_content_path(path: &str) -> Result<(), DomainError> {
    let mut parts = path.splitn(3, '/');
    let version_ok = parts
        .next()
        .and_then(crate::storage::ocfl::parse_version_dir)
        .is_some();
    let content_ok = parts.next() == Some("content") && parts.next().is_some_and(|r| !r.is_empty());
    if !(version_ok && content_ok) || crate::storage::blob::validate_key(path).is_err() {
        return Err(DomainError::invalid(
            "content_path",
            format!("{path:?} is not a content path such as v1/content/data/file.csv"),
        ));
    }
    Ok(())
}

/// Checks a challenge's shape before anything is read.
pub fn check_challenge(req: &ChallengeRequest) -> Result<Vec<Vec<u8>>, DomainError> {
    fresh(req.issued_at)?;
    if req.object_id.trim().is_empty() || req.object_id.len() > 1000 {
        return Err(DomainError::invalid("object_id", "name the OCFL object"));
    }
    if req.version < 1 {
        return Err(DomainError::invalid("version", "versions start at 1"));
    }
    if req.files.is_empty() || req.files.len() > MAX_CHALLENGE_SAMPLE {
        return Err(DomainError::invalid(
            "files",
            format!("challenge 1 to {MAX_CHALLENGE_SAMPLE} files at a time"),
        ));
    }
    req.files
        .iter()
        .map(|f| {
            check_content_path(&f.content_path)?;
            signing::parse_nonce(&f.nonce).ok_or_else(|| {
                DomainError::invalid(
                    "nonce",
                    format!("each nonce is {} random bytes as hex", signing::NONCE_BYTES),
                )
            })
        })
        .collect()
}

/// Where this archive keeps the objects it holds from a source: the store of the
/// source's own OCFL root (see `replica`) and the key of the object's root in it.
pub async fn held_object_root(
    fed: &Federation,
    source_id: i64,
    object_id: &str,
) -> Result<(Arc<dyn BlobStore>, String), DomainError> {
    let root = super::replica::replica_root(&fed.settings, source_id).await?;
    Ok((root.store().clone(), root.object_root(object_id)))
}

/// Whether an object (any of its versions) is held from a source.
fn holds(conn: &mut AnyConnection, source_id: i64, object_id: &str) -> Result<bool, DomainError> {
    let n: i64 = replica_objects::table
        .filter(replica_objects::source_id.eq(source_id))
        .filter(replica_objects::object_id.eq(object_id))
        .filter(replica_objects::deleted_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Reads one stored file and hashes it with the nonce.
async fn answer_file(store: &dyn BlobStore, key: &str, nonce: &[u8]) -> (String, Option<String>) {
    let mut stream = match store.get_range(key, None).await {
        Ok(s) => s,
        Err(StorageError::NotFound) => return ("missing".into(), None),
        Err(e) => {
            tracing::warn!(%key, error = %e, "a challenged file could not be read");
            return ("unreadable".into(), None);
        }
    };
    let mut hasher = signing::ChallengeHasher::new(nonce);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => hasher.update(&bytes),
            Err(e) => {
                tracing::warn!(%key, error = %e, "a challenged file could not be read");
                return ("unreadable".into(), None);
            }
        }
    }
    ("ok".into(), Some(hasher.finish().0))
}

/// Answers each file of a challenge from the bytes under `object_root` (or "missing" for
/// all of them when `held` is false).
pub async fn answer_files(
    store: &dyn BlobStore,
    object_root: &str,
    held: bool,
    files: &[ChallengedFile],
    nonces: &[Vec<u8>],
) -> Vec<FileAnswer> {
    let mut out = Vec::with_capacity(files.len());
    for (f, nonce) in files.iter().zip(nonces) {
        let (status, digest) = if held {
            answer_file(store, &format!("{object_root}/{}", f.content_path), nonce).await
        } else {
            ("missing".into(), None)
        };
        out.push(FileAnswer {
            content_path: f.content_path.clone(),
            status,
            digest,
        });
    }
    out
}

/// Answers a signed challenge and records it as a PREMIS event.
pub async fn answer_challenge(
    fed: &Federation,
    body: bytes::Bytes,
    signature: Option<String>,
) -> Result<ChallengeAnswer, DomainError> {
    let signed = body.clone();
    let source = fed
        .db
        .run(move |conn| authenticate(conn, &signed, signature.as_deref()))
        .await?;
    let req: ChallengeRequest = serde_json::from_slice(&body).map_err(|e| {
        DomainError::BadRequest(format!(
            "the challenge is not valid JSON of the expected shape: {e}"
        ))
    })?;
    let nonces = check_challenge(&req)?;
    let (source_id, object) = (source.id, req.object_id.clone());
    let held = fed
        .db
        .run(move |conn| holds(conn, source_id, &object))
        .await?;
    let (store, root) = held_object_root(fed, source.id, &req.object_id).await?;
    let files = answer_files(store.as_ref(), &root, held, &req.files, &nonces).await;
    let answered = files.iter().filter(|f| f.status == "ok").count();
    let not: Vec<String> = files
        .iter()
        .filter(|f| f.status != "ok")
        .map(|f| format!("{} {}", f.content_path, f.status))
        .collect();
    let detail = format!(
        "Challenge from {} of OCFL object {} v{}: {} file(s) re-read and hashed with the origin's nonces",
        source.base_url,
        req.object_id,
        req.version,
        files.len()
    );
    let (outcome, outcome_detail) = if !not.is_empty() {
        (
            Outcome::Failure,
            format!("{answered} answered; could not answer: {}", not.join(", ")),
        )
    } else {
        (
            Outcome::Success,
            format!("{answered} answered from the stored bytes"),
        )
    };
    let origin = source.base_url.clone();
    fed.db
        .run(move |conn| {
            events::record(
                conn,
                EventType::FixityCheck,
                &Subject::default(),
                &detail,
                outcome,
                &outcome_detail,
                Agent::Organization(&origin),
            )
        })
        .await?;
    Ok(ChallengeAnswer {
        object_id: req.object_id,
        files,
    })
}

/// A held file's bytes for its origin (a repair), with their size.
pub async fn serve_file(
    fed: &Federation,
    body: bytes::Bytes,
    signature: Option<String>,
) -> Result<(ByteStream, Option<u64>), DomainError> {
    let signed = body.clone();
    let source = fed
        .db
        .run(move |conn| authenticate(conn, &signed, signature.as_deref()))
        .await?;
    let req: FetchRequest = serde_json::from_slice(&body).map_err(|e| {
        DomainError::BadRequest(format!(
            "the request is not valid JSON of the expected shape: {e}"
        ))
    })?;
    fresh(req.issued_at)?;
    check_content_path(&req.content_path)?;
    let (source_id, object) = (source.id, req.object_id.clone());
    if !fed
        .db
        .run(move |conn| holds(conn, source_id, &object))
        .await?
    {
        return Err(DomainError::NotFound);
    }
    let (store, root) = held_object_root(fed, source.id, &req.object_id).await?;
    let key = format!("{root}/{}", req.content_path);
    let size = store
        .size(&key)
        .await
        .with_context(|| format!("reading the size of the held file {key}"))?;
    match store.get_range(&key, None).await {
        Ok(stream) => Ok((stream, size)),
        Err(StorageError::NotFound) => Err(DomainError::NotFound),
        Err(e) => Err(DomainError::internal(format!("reading {key}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalDiskStore;

    fn request(files: Vec<ChallengedFile>) -> ChallengeRequest {
        ChallengeRequest {
            object_id: "doi:10.5072/x".into(),
            version: 1,
            issued_at: Utc::now(),
            files,
        }
    }

    fn file(path: &str) -> ChallengedFile {
        ChallengedFile {
            content_path: path.into(),
            nonce: signing::nonce(),
        }
    }

    #[test]
    fn bad_challenges_are_refused_before_anything_is_read() {
        assert!(check_challenge(&request(vec![file("v1/content/a.csv")])).is_ok());
        assert!(check_challenge(&request(vec![])).is_err(), "no files");
        let many = (0..=MAX_CHALLENGE_SAMPLE)
            .map(|i| file(&format!("v1/content/{i}")))
            .collect();
        assert!(check_challenge(&request(many)).is_err(), "too many files");
        for bad in [
            "inventory.json",
            "v1/inventory.json",
            "v1/content/",
            "v1/content/../../x",
            "/v1/content/a",
            "x1/content/a",
        ] {
            assert!(check_challenge(&request(vec![file(bad)])).is_err(), "{bad}");
        }
        let mut stale = request(vec![file("v1/content/a.csv")]);
        stale.issued_at = Utc::now() - chrono::Duration::hours(1);
        assert!(check_challenge(&stale).is_err(), "stale");
        let mut short = request(vec![file("v1/content/a.csv")]);
        short.files[0].nonce = "abcd".into();
        assert!(check_challenge(&short).is_err(), "short nonce");
    }

    #[tokio::test]
    async fn answers_come_from_the_stored_bytes_and_lost_files_answer_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path().join("root")).unwrap();
        let bytes = b"time,flux\n2019-01-01T00:00,1.5\n";
        let src = dir.path().join("src");
        std::fs::write(&src, bytes).unwrap();
        store
            .put_file("obj/v1/content/a.csv", &src, None)
            .await
            .unwrap();
        let files = vec![file("v1/content/a.csv"), file("v1/content/lost.csv")];
        let nonces: Vec<Vec<u8>> = files
            .iter()
            .map(|f| signing::parse_nonce(&f.nonce).unwrap())
            .collect();
        let answers = answer_files(&store, "obj", true, &files, &nonces).await;
        assert_eq!(answers[0].status, "ok");
        assert_eq!(
            answers[0].digest.as_deref(),
            Some(signing::challenge_digest(&nonces[0], bytes).as_str())
        );
        assert_eq!(answers[1].status, "missing");
        assert_eq!(answers[1].digest, None);
        // An object not held from this source answers missing, whatever is on disk.
        let answers = answer_files(&store, "obj", false, &files, &nonces).await;
        assert!(answers.iter().all(|a| a.status == "missing"));
    }
}
