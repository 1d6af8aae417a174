//! Origin side of replica audits: challenging the copies partners hold.
//!
//! For a partner's copy (a receipt in `replica_copies`), a random sample of the object's
//! content files is sent to the partner (`POST {base_url}/api/federation/challenges`),
//! each with a fresh random nonce; the partner answers sha256(nonce ‖ bytes) from the
//! bytes it holds, and this archive compares with the same computed over its own copy,
//! streamed through the store (whose plain sha256 is checked against the register in the
//! same pass, so only a verified copy judges a replica). The request is signed as
//! `signing` describes. A copy that answers wrong or "missing" fails; a partner that
//! cannot be reached, or answers something unreadable, is "could not audit" (an
//! `error`), which changes nothing about the copy.
//!
//! Results: a `replica_challenges` row, the copy's `last_verified_at`/`last_outcome`,
//! a PREMIS fixity-check event on the dataset with the partner as agent.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use futures_util::StreamExt;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::answer::{ChallengeAnswer, ChallengeRequest, ChallengedFile};
use super::partners::Partner;
use super::signing;
use super::Federation;
use crate::db::schema::{
    datasets, federation_partners, replica_challenges, replica_copies, stored_files,
};
use crate::db::AnyConnection;
use crate::error::{DomainError, ErrorContext};
use crate::jobs::Job;
use crate::preservation::events::{self, Agent, EventType, Outcome, Subject};
use crate::storage::ocfl::parse_version_dir;

const JOB_KEY: &str = "replica-challenge";
/// Longest a scheduled round works before it hands its worker back (it goes on in a
/// new job at once).
const ROUND_SLICE: Duration = Duration::from_secs(60);
/// How often the scheduled round runs at the least, so the policy's alert clock is
/// read often enough even with a long challenge interval.
const MAX_ROUND_GAP: Duration = Duration::from_secs(3600);
/// What a challenge answer may be at most.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// One partner copy to challenge: the highest version a partner holds of an object.
#[derive(Clone, Debug)]
pub struct CopyTarget {
    pub copy_id: i64,
    pub partner: Partner,
    pub dataset_id: i64,
    pub object_id: String,
    pub version: i32,
    pub last_verified_at: Option<NaiveDateTime>,
}

/// Which copies a run challenges.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub partner: Option<String>,
    pub dataset: Option<i64>,
    /// Only copies not verified since this moment.
    pub verified_before: Option<NaiveDateTime>,
}

/// What one challenge found.
#[derive(Clone, Debug, Serialize)]
pub struct ChallengeResult {
    pub partner: String,
    pub dataset_id: i64,
    pub object_id: String,
    pub version: i32,
    pub files: usize,
    pub failures: usize,
    /// `passed`, `failed` or `error` (could not audit).
    pub outcome: String,
    pub detail: String,
}

/// The copies of active partners that match `filter`, one per (partner, object): the
/// highest version, least recently verified first (never verified before all).
pub fn copies(conn: &mut AnyConnection, filter: &Filter) -> Result<Vec<CopyTarget>, DomainError> {
    // Deaccessioned datasets are withdrawn from their replicas too: not challenged.
    let mut q = replica_copies::table
        .inner_join(federation_partners::table)
        .inner_join(datasets::table)
        .filter(federation_partners::revoked_at.is_null())
        .filter(datasets::state.ne("deaccessioned"))
        .into_boxed();
    if let Some(name) = &filter.partner {
        q = q.filter(federation_partners::name.eq(name.trim().to_string()));
    }
    if let Some(id) = filter.dataset {
        q = q.filter(replica_copies::dataset_id.eq(id));
    }
    let rows: Vec<(i64, i64, String, i32, Option<NaiveDateTime>, Partner)> = q
        .select((
            replica_copies::id,
            replica_copies::dataset_id,
            replica_copies::object_id,
            replica_copies::version_number,
            replica_copies::last_verified_at,
            Partner::as_select(),
        ))
        .load(conn)?;
    let mut best: BTreeMap<(i64, String), CopyTarget> = BTreeMap::new();
    for (copy_id, dataset_id, object_id, version, last_verified_at, partner) in rows {
        let key = (partner.id, object_id.clone());
        if best.get(&key).is_some_and(|c| c.version >= version) {
            continue;
        }
        best.insert(
            key,
            CopyTarget {
                copy_id,
                partner,
                dataset_id,
                object_id,
                version,
                last_verified_at,
            },
        );
    }
    let mut out: Vec<CopyTarget> = best
        .into_values()
        .filter(|c| match (filter.verified_before, c.last_verified_at) {
            (Some(before), Some(at)) => at < before,
            _ => true,
        })
        .collect();
    out.sort_by_key(|c| (c.last_verified_at, c.copy_id));
    Ok(out)
}

/// The version a content path belongs to (`v3/content/...` → 3).
fn version_of(content_path: &str) -> Option<i32> {
    let dir = content_path.split('/').next()?;
    parse_version_dir(dir).and_then(|n| i32::try_from(n).ok())
}

/// Content files of an object in versions up to `version` that the last audit found
/// good: what a challenge may sample.
fn challengeable(
    conn: &mut AnyConnection,
    object_id: &str,
    version: i32,
) -> Result<Vec<(String, String, i64)>, DomainError> {
    let rows: Vec<(String, String, i64)> = stored_files::table
        .filter(stored_files::object_id.eq(object_id))
        .filter(stored_files::kind.eq("content"))
        .filter(stored_files::state.eq("ok"))
        .select((
            stored_files::content_path,
            stored_files::sha256,
            stored_files::size,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(p, _, _)| version_of(p).is_some_and(|v| v <= version))
        .collect())
}

/// sha256(nonce ‖ bytes) of this archive's copy, or why it cannot judge (its copy does
/// not match the register).
async fn expected_answer(
    fed: &Federation,
    key: &str,
    nonce: &[u8],
    sha256: &str,
    size: i64,
) -> Result<String, String> {
    let mut stream = fed
        .store
        .get_range(key, None)
        .await
        .map_err(|e| format!("this archive's copy cannot be read: {e}"))?;
    let mut hasher = signing::ChallengeHasher::new(nonce);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("this archive's copy cannot be read: {e}"))?;
        hasher.update(&chunk);
    }
    let (answer, plain, found) = hasher.finish();
    if !plain.eq_ignore_ascii_case(sha256) || i64::try_from(found).ok() != Some(size) {
        return Err(
            "this archive's copy no longer matches its recorded sha256 (left to the fixity audit)"
                .into(),
        );
    }
    Ok(answer)
}

/// What came back from the partner, as a judgement per file.
fn judge(sent: &[(String, String)], answer: &ChallengeAnswer) -> (usize, Vec<String>) {
    let by_path: HashMap<&str, &super::answer::FileAnswer> = answer
        .files
        .iter()
        .map(|f| (f.content_path.as_str(), f))
        .collect();
    let mut failures = Vec::new();
    for (path, expected) in sent {
        match by_path.get(path.as_str()) {
            None => failures.push(format!("{path}: not answered")),
            Some(f) if f.status != "ok" => failures.push(format!("{path}: {}", f.status)),
            Some(f) => match &f.digest {
                Some(d) if d.eq_ignore_ascii_case(expected) => {}
                _ => failures.push(format!(
                    "{path}: sha256(nonce ‖ bytes) differs from this archive's copy"
                )),
            },
        }
    }
    (sent.len(), failures)
}

/// Sends one signed challenge; the answer, or why there is none.
async fn send(
    http: &reqwest::Client,
    partner: &Partner,
    request: &ChallengeRequest,
) -> Result<ChallengeAnswer, String> {
    let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    let signature = signing::sign(&signing::key_of_hash(&partner.token_hash), &body);
    let url = format!("{}/api/federation/challenges", partner.base_url);
    let response = http
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signing::SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{url} could not be reached: {e}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the answer of {url}: {e}"))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).to_string();
        return Err(format!("{url} answered {status}: {text}"));
    }
    if bytes.len() > MAX_ANSWER_BYTES {
        return Err(format!("{url} answered more than {MAX_ANSWER_BYTES} bytes"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{url} answered something unreadable: {e}"))
}

/// An HTTP client for talking to partners.
pub fn partner_client() -> Result<reqwest::Client, DomainError> {
    // A challenge makes the partner read whole files before it answers.
    crate::http_client::client(crate::http_client::Peer::SlowAnswer, None)
        .context("building the HTTP client for partner challenges")
}

/// Challenges one copy and records the result.
pub async fn challenge_copy(
    fed: &Federation,
    http: &reqwest::Client,
    target: &CopyTarget,
    sample: usize,
) -> Result<ChallengeResult, DomainError> {
    let (object, version) = (target.object_id.clone(), target.version);
    let mut candidates = fed
        .db
        .run(move |conn| challengeable(conn, &object, version))
        .await?;
    candidates.shuffle(&mut rand::thread_rng());
    candidates.truncate(sample.max(1));
    let root = fed.ocfl.object_root(&target.object_id);
    let mut sent: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for (path, sha256, size) in candidates {
        let nonce = signing::nonce();
        let nonce_bytes = signing::parse_nonce(&nonce).unwrap_or_default();
        match expected_answer(fed, &format!("{root}/{path}"), &nonce_bytes, &sha256, size).await {
            Ok(expected) => {
                sent.push((path.clone(), expected));
                files.push(ChallengedFile {
                    content_path: path,
                    nonce,
                });
            }
            Err(why) => skipped.push(format!("{path}: {why}")),
        }
    }
    let mut result = ChallengeResult {
        partner: target.partner.name.clone(),
        dataset_id: target.dataset_id,
        object_id: target.object_id.clone(),
        version: target.version,
        files: files.len(),
        failures: 0,
        outcome: "error".into(),
        detail: String::new(),
    };
    if files.is_empty() {
        result.detail = if skipped.is_empty() {
            "no verified content file of this version to challenge".into()
        } else {
            format!("no verified copy here to judge by: {}", skipped.join("; "))
        };
    } else {
        let request = ChallengeRequest {
            object_id: target.object_id.clone(),
            version: target.version,
            issued_at: Utc::now(),
            files,
        };
        match send(http, &target.partner, &request).await {
            Err(why) => result.detail = format!("could not audit: {why}"),
            Ok(answer) => {
                let (checked, failures) = judge(&sent, &answer);
                result.failures = failures.len();
                if failures.is_empty() {
                    result.outcome = "passed".into();
                    result.detail = format!(
                        "{checked} file(s) answered sha256(nonce ‖ bytes) as this archive's copy does"
                    );
                } else {
                    result.outcome = "failed".into();
                    result.detail = format!(
                        "{} of {checked} file(s) failed: {}",
                        failures.len(),
                        failures.join("; ")
                    );
                }
            }
        }
        if !skipped.is_empty() {
            result.detail.push_str(&format!(
                " (left out, this archive's copy being unverified: {})",
                skipped.join("; ")
            ));
        }
    }
    let (recorded, copy_id, partner_id) = (result.clone(), target.copy_id, target.partner.id);
    let base_url = target.partner.base_url.clone();
    fed.db
        .transaction(move |conn| record(conn, copy_id, partner_id, &base_url, &recorded))
        .await?;
    Ok(result)
}

fn record(
    conn: &mut AnyConnection,
    copy_id: i64,
    partner_id: i64,
    partner_url: &str,
    r: &ChallengeResult,
) -> Result<(), DomainError> {
    let now = Utc::now().naive_utc();
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    diesel::insert_into(replica_challenges::table)
        .values((
            replica_challenges::partner_id.eq(partner_id),
            replica_challenges::dataset_id.eq(r.dataset_id),
            replica_challenges::object_id.eq(&r.object_id),
            replica_challenges::files.eq(count(r.files)),
            replica_challenges::failures.eq(count(r.failures)),
            replica_challenges::outcome.eq(&r.outcome),
            replica_challenges::detail.eq(&r.detail),
            replica_challenges::challenged_at.eq(now),
        ))
        .execute(conn)?;
    if r.outcome != "error" {
        diesel::update(replica_copies::table.find(copy_id))
            .set((
                replica_copies::last_verified_at.eq(Some(now)),
                replica_copies::last_outcome.eq(Some(&r.outcome)),
            ))
            .execute(conn)?;
    }
    let outcome = match r.outcome.as_str() {
        "passed" => Outcome::Success,
        "failed" => Outcome::Failure,
        _ => Outcome::Warning,
    };
    events::record(
        conn,
        EventType::FixityCheck,
        &Subject {
            dataset_id: Some(r.dataset_id),
            ..Default::default()
        },
        &format!(
            "Challenge of the copy of OCFL object {} v{} held by partner {} ({partner_url}): {} file(s) sampled, each with a fresh nonce",
            r.object_id, r.version, r.partner, r.files
        ),
        outcome,
        &format!("{}: {}", r.outcome, r.detail),
        Agent::Organization(&r.partner),
    )
}

/// Challenges every copy `filter` selects now (the command line), then applies the
/// replication policy.
pub async fn run(fed: &Federation, filter: &Filter) -> Result<Vec<ChallengeResult>, DomainError> {
    let f = filter.clone();
    let targets = fed
        .db
        .run(move |conn| {
            if let Some(name) = &f.partner {
                let known = super::partners::active(conn)?
                    .iter()
                    .any(|p| p.name == name.trim());
                if !known {
                    return Err(DomainError::invalid(
                        "partner",
                        format!(
                            "no active partner is named {name:?} (see `holdfast partner list`)"
                        ),
                    ));
                }
            }
            copies(conn, &f)
        })
        .await?;
    let http = partner_client()?;
    let sample = fed.settings.replication.challenge_sample;
    let mut out = Vec::new();
    for t in &targets {
        out.push(challenge_copy(fed, &http, t, sample).await?);
    }
    super::policy::evaluate_now(fed).await?;
    Ok(out)
}

/// One scheduled round of replica challenges and the replication policy. Every node
/// queues the first at start; each round queues the next.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ChallengeRound {}

impl Job for ChallengeRound {
    const KIND: &'static str = "replica-challenge";
    /// Like the fixity sweep: a failed round is retried, the next one queued anew.
    const MAX_ATTEMPTS: i32 = 20;
    type Context = Federation;

    fn dedupe_key(&self) -> Option<String> {
        Some(JOB_KEY.to_string())
    }

    async fn run(self, fed: &Federation) -> Result<(), DomainError> {
        round(fed).await
    }
}

/// The scheduled round: challenges the copies not verified within the interval (least
/// recently verified first, within a time slice), applies the replication policy, and
/// queues the next round.
async fn round(fed: &Federation) -> Result<(), DomainError> {
    let settings = fed.settings.replication.clone();
    let started = Instant::now();
    let interval =
        chrono::Duration::from_std(settings.challenge_interval).map_err(DomainError::internal)?;
    let filter = Filter {
        verified_before: Some(Utc::now().naive_utc() - interval),
        ..Filter::default()
    };
    let targets = fed.db.run(move |conn| copies(conn, &filter)).await?;
    let mut out_of_time = false;
    if !targets.is_empty() {
        let http = partner_client()?;
        for t in &targets {
            if started.elapsed() >= ROUND_SLICE {
                out_of_time = true;
                break;
            }
            let r = challenge_copy(fed, &http, t, settings.challenge_sample).await?;
            if r.outcome != "passed" {
                tracing::warn!(partner = %r.partner, object = %r.object_id, outcome = %r.outcome, detail = %r.detail, "replica challenge");
            }
        }
    }
    super::policy::evaluate_now(fed).await?;
    let gap = settings.challenge_interval.min(MAX_ROUND_GAP);
    let next = if out_of_time {
        Utc::now().naive_utc()
    } else {
        Utc::now().naive_utc() + chrono::Duration::from_std(gap).map_err(DomainError::internal)?
    };
    crate::jobs::ensure_scheduled(&fed.db, ChallengeRound {}, next).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::answer::FileAnswer;

    #[test]
    fn content_paths_name_their_version() {
        assert_eq!(version_of("v1/content/a.csv"), Some(1));
        assert_eq!(version_of("v12/content/x/y"), Some(12));
        assert_eq!(version_of("inventory.json"), None);
    }

    #[test]
    fn a_copy_passes_only_when_every_file_answers_the_origin_digest() {
        let sent = vec![
            ("v1/content/a".to_string(), "aa".repeat(32)),
            ("v1/content/b".to_string(), "bb".repeat(32)),
        ];
        let answer = |b: FileAnswer| ChallengeAnswer {
            object_id: "o".into(),
            files: vec![
                FileAnswer {
                    content_path: "v1/content/a".into(),
                    status: "ok".into(),
                    digest: Some("AA".repeat(32)),
                },
                b,
            ],
        };
        let good = answer(FileAnswer {
            content_path: "v1/content/b".into(),
            status: "ok".into(),
            digest: Some("bb".repeat(32)),
        });
        assert_eq!(judge(&sent, &good), (2, vec![]));
        let wrong = answer(FileAnswer {
            content_path: "v1/content/b".into(),
            status: "ok".into(),
            digest: Some("cc".repeat(32)),
        });
        assert_eq!(judge(&sent, &wrong).1.len(), 1);
        let missing = answer(FileAnswer {
            content_path: "v1/content/b".into(),
            status: "missing".into(),
            digest: None,
        });
        assert_eq!(
            judge(&sent, &missing).1,
            vec!["v1/content/b: missing".to_string()]
        );
        let other = answer(FileAnswer {
            content_path: "v1/content/c".into(),
            status: "ok".into(),
            digest: Some("bb".repeat(32)),
        });
        assert_eq!(
            judge(&sent, &other).1,
            vec!["v1/content/b: not answered".to_string()]
        );
    }
}
