//! The replication policy (origin side): every published dataset's latest version should
//! have at least `HOLDFAST_REPLICATION_MIN_COPIES` good copies outside this archive. A
//! copy counts when its partner is active, the inventory digest of its receipt is this
//! archive's for that version, and its last challenge did not fail.
//!
//! A dataset below the policy gets a `replication_shortfalls` row (since when); when it
//! stays below longer than `HOLDFAST_REPLICATION_ALERT_HOURS` an alert ticket of kind
//! `replication` opens and curators are told; it is resolved when the copies are back.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::Federation;
use crate::config::Settings;
use crate::db::schema::{
    dataset_versions, datasets, federation_partners, replica_challenges, replica_copies,
    replication_shortfalls, stored_files,
};
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::mail::{self, Notice, NotificationKind};
use crate::tickets::{self, Observation};

pub const TICKET_KIND: &str = "replication";
pub const ITEM_CODE: &str = "replication-below-policy";
const TICKET_TITLE: &str = "Replication alert: fewer copies than the policy asks";

/// A published dataset's latest version as the policy sees it.
#[derive(Clone, Debug)]
struct Published {
    dataset_id: i64,
    object_id: String,
    version: i32,
}

/// One partner's copy of a dataset, as pages and the API show it.
#[derive(Clone, Debug, Serialize)]
pub struct CopyView {
    pub partner: String,
    pub partner_active: bool,
    pub version: i32,
    pub inventory_digest: String,
    /// The receipt's inventory digest is this archive's for that version.
    pub matches_origin: bool,
    pub received_at: NaiveDateTime,
    pub last_verified_at: Option<NaiveDateTime>,
    pub last_outcome: Option<String>,
    /// Whether this copy counts towards the policy.
    pub counts: bool,
}

#[derive(Clone, Debug, Serialize, Queryable)]
pub struct ChallengeView {
    pub partner: String,
    pub files: i32,
    pub failures: i32,
    pub outcome: String,
    pub detail: String,
    pub challenged_at: NaiveDateTime,
}

/// A dataset's copies and where it stands against the policy.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetReplication {
    pub dataset_id: i64,
    pub object_id: String,
    /// The latest published OCFL version.
    pub version: i32,
    pub min_copies: u32,
    pub good_copies: i64,
    pub below_policy: bool,
    pub below_since: Option<NaiveDateTime>,
    pub alerted_at: Option<NaiveDateTime>,
    pub copies: Vec<CopyView>,
    pub challenges: Vec<ChallengeView>,
}

/// The latest published OCFL version of each published (not deaccessioned) dataset,
/// optionally of one.
fn published(conn: &mut AnyConnection, only: Option<i64>) -> Result<Vec<Published>, DomainError> {
    let mut q = dataset_versions::table
        .inner_join(datasets::table)
        .filter(dataset_versions::published_at.is_not_null())
        .filter(dataset_versions::ocfl_version.is_not_null())
        .filter(datasets::ocfl_object_id.is_not_null())
        .filter(datasets::state.ne("deaccessioned"))
        .into_boxed();
    if let Some(id) = only {
        q = q.filter(datasets::id.eq(id));
    }
    let rows: Vec<(i64, String, i32)> = q
        .select((
            datasets::id,
            datasets::ocfl_object_id.assume_not_null(),
            dataset_versions::ocfl_version.assume_not_null(),
        ))
        .load(conn)?;
    let mut latest: BTreeMap<i64, Published> = BTreeMap::new();
    for (dataset_id, object_id, version) in rows {
        let e = latest.entry(dataset_id).or_insert(Published {
            dataset_id,
            object_id,
            version,
        });
        e.version = e.version.max(version);
    }
    Ok(latest.into_values().collect())
}

/// The inventory digests this archive holds for each object (every version's inventory
/// and the root one), lowercase.
fn inventory_digests(
    conn: &mut AnyConnection,
    object_ids: &[&str],
) -> Result<HashMap<(String, String), String>, DomainError> {
    let mut out = HashMap::new();
    for chunk in object_ids.chunks(500) {
        let rows: Vec<(String, String, String)> = stored_files::table
            .filter(stored_files::kind.eq("inventory"))
            .filter(stored_files::object_id.eq_any(chunk))
            .select((
                stored_files::object_id,
                stored_files::content_path,
                stored_files::sha256,
            ))
            .load(conn)?;
        for (object, path, sha) in rows {
            out.insert((object, path), sha.to_ascii_lowercase());
        }
    }
    Ok(out)
}

/// Whether a receipt's inventory digest is this archive's for `version` of the object
/// (its version inventory, or the root inventory when that version is the head).
fn digest_matches(
    digests: &HashMap<(String, String), String>,
    object_id: &str,
    version: i32,
    latest: i32,
    receipt: &str,
) -> bool {
    let receipt = receipt.to_ascii_lowercase();
    let of = |path: String| digests.get(&(object_id.to_string(), path));
    of(format!("v{version}/inventory.json")) == Some(&receipt)
        || (version == latest && of("inventory.json".into()) == Some(&receipt))
}

type CopyRow = (
    i64,
    String,
    i32,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    String,
    Option<NaiveDateTime>,
);

/// Every copy of these datasets, with its partner's name and state.
fn copy_rows(conn: &mut AnyConnection, dataset_ids: &[i64]) -> Result<Vec<CopyRow>, DomainError> {
    let mut out = Vec::new();
    for chunk in dataset_ids.chunks(500) {
        out.extend(
            replica_copies::table
                .inner_join(federation_partners::table)
                .filter(replica_copies::dataset_id.eq_any(chunk))
                .order((
                    replica_copies::version_number.desc(),
                    federation_partners::name.asc(),
                ))
                .select((
                    replica_copies::dataset_id,
                    replica_copies::object_id,
                    replica_copies::version_number,
                    replica_copies::inventory_digest,
                    replica_copies::received_at,
                    replica_copies::last_verified_at,
                    replica_copies::last_outcome,
                    federation_partners::name,
                    federation_partners::revoked_at,
                ))
                .load::<CopyRow>(conn)?,
        );
    }
    Ok(out)
}

/// The copies of each dataset, judged against the policy.
fn judge_all(
    conn: &mut AnyConnection,
    list: &[Published],
) -> Result<HashMap<i64, Vec<CopyView>>, DomainError> {
    let objects: Vec<&str> = list.iter().map(|p| p.object_id.as_str()).collect();
    let digests = inventory_digests(conn, &objects)?;
    let latest: HashMap<i64, &Published> = list.iter().map(|p| (p.dataset_id, p)).collect();
    let ids: Vec<i64> = list.iter().map(|p| p.dataset_id).collect();
    let mut out: HashMap<i64, Vec<CopyView>> = HashMap::new();
    for (
        dataset_id,
        object_id,
        version,
        digest,
        received_at,
        verified,
        outcome,
        partner,
        revoked,
    ) in copy_rows(conn, &ids)?
    {
        let Some(p) = latest.get(&dataset_id) else {
            continue;
        };
        let matches_origin = object_id == p.object_id
            && digest_matches(&digests, &object_id, version, p.version, &digest);
        let partner_active = revoked.is_none();
        let counts = partner_active
            && matches_origin
            && version == p.version
            && outcome.as_deref() != Some("failed");
        out.entry(dataset_id).or_default().push(CopyView {
            partner,
            partner_active,
            version,
            inventory_digest: digest,
            matches_origin,
            received_at,
            last_verified_at: verified,
            last_outcome: outcome,
            counts,
        });
    }
    Ok(out)
}

/// Partners counted once each (two receipts of one partner are one copy).
fn good_copies(copies: &[CopyView]) -> i64 {
    copies
        .iter()
        .filter(|c| c.counts)
        .map(|c| c.partner.as_str())
        .collect::<HashSet<_>>()
        .len() as i64
}

/// A dataset's copies and standing; None when it has no published version.
pub fn of_dataset(
    conn: &mut AnyConnection,
    settings: &Settings,
    dataset_id: i64,
) -> Result<Option<DatasetReplication>, DomainError> {
    let list = published(conn, Some(dataset_id))?;
    let Some(p) = list.first().cloned() else {
        return Ok(None);
    };
    let copies = judge_all(conn, &list)?
        .remove(&dataset_id)
        .unwrap_or_default();
    let good = good_copies(&copies);
    let min = settings.replication.min_copies;
    let shortfall: Option<(NaiveDateTime, Option<NaiveDateTime>)> = replication_shortfalls::table
        .find(dataset_id)
        .select((
            replication_shortfalls::since,
            replication_shortfalls::alerted_at,
        ))
        .first(conn)
        .optional()?;
    let challenges = replica_challenges::table
        .inner_join(federation_partners::table)
        .filter(replica_challenges::dataset_id.eq(dataset_id))
        .order(replica_challenges::id.desc())
        .limit(20)
        .select((
            federation_partners::name,
            replica_challenges::files,
            replica_challenges::failures,
            replica_challenges::outcome,
            replica_challenges::detail,
            replica_challenges::challenged_at,
        ))
        .load::<ChallengeView>(conn)?;
    Ok(Some(DatasetReplication {
        dataset_id,
        object_id: p.object_id,
        version: p.version,
        min_copies: min,
        good_copies: good,
        below_policy: good < i64::from(min),
        below_since: shortfall.map(|s| s.0),
        alerted_at: shortfall.and_then(|s| s.1),
        copies,
        challenges,
    }))
}

/// What one evaluation changed.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    pub datasets: usize,
    pub below: usize,
    pub alerts_raised: Vec<i64>,
    pub alerts_resolved: Vec<i64>,
}

/// Applies the policy to every published dataset (one transaction).
pub fn evaluate(conn: &mut AnyConnection, settings: &Settings) -> Result<Evaluation, DomainError> {
    crate::db::transaction(conn, |conn| evaluate_in(conn, settings, None))
}

/// Applies the policy to one dataset (a receipt just arrived for it).
pub fn evaluate_dataset(
    conn: &mut AnyConnection,
    settings: &Settings,
    dataset_id: i64,
) -> Result<Evaluation, DomainError> {
    crate::db::transaction(conn, |conn| evaluate_in(conn, settings, Some(dataset_id)))
}

/// The lock that lets one evaluation at a time read and write the shortfalls (two
/// nodes, or a node and the command line, evaluating at once would both add the same
/// shortfall). Any fixed number; this one spells "policy".
const EVALUATION_LOCK: i64 = 0x0000_706f_6c69_6379;

fn evaluate_in(
    conn: &mut AnyConnection,
    settings: &Settings,
    only: Option<i64>,
) -> Result<Evaluation, DomainError> {
    crate::db::lock_for_transaction(conn, EVALUATION_LOCK)?;
    let now = Utc::now().naive_utc();
    let min = i64::from(settings.replication.min_copies);
    let list = published(conn, only)?;
    let judged = judge_all(conn, &list)?;
    let mut shortfall_rows = replication_shortfalls::table.into_boxed();
    if let Some(id) = only {
        shortfall_rows = shortfall_rows.filter(replication_shortfalls::dataset_id.eq(id));
    }
    let mut existing: HashMap<i64, (i32, NaiveDateTime, Option<NaiveDateTime>)> = shortfall_rows
        .select((
            replication_shortfalls::dataset_id,
            replication_shortfalls::copies,
            replication_shortfalls::since,
            replication_shortfalls::alerted_at,
        ))
        .load::<(i64, i32, NaiveDateTime, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(d, c, s, a)| (d, (c, s, a)))
        .collect();
    let mut out = Evaluation {
        datasets: list.len(),
        ..Evaluation::default()
    };
    let mut to_alert: Vec<(i64, i64, NaiveDateTime)> = Vec::new();
    for p in &list {
        let good = judged.get(&p.dataset_id).map_or(0, |c| good_copies(c));
        let copies = i32::try_from(good).unwrap_or(i32::MAX);
        match (good < min, existing.remove(&p.dataset_id)) {
            (true, None) => {
                out.below += 1;
                diesel::insert_into(replication_shortfalls::table)
                    .values((
                        replication_shortfalls::dataset_id.eq(p.dataset_id),
                        replication_shortfalls::copies.eq(copies),
                        replication_shortfalls::since.eq(now),
                    ))
                    .execute(conn)?;
                if settings.replication.alert_after <= chrono::Duration::zero() {
                    to_alert.push((p.dataset_id, good, now));
                }
            }
            (true, Some((before, since, alerted))) => {
                out.below += 1;
                if before != copies {
                    diesel::update(replication_shortfalls::table.find(p.dataset_id))
                        .set(replication_shortfalls::copies.eq(copies))
                        .execute(conn)?;
                }
                if alerted.is_none() && now - since >= settings.replication.alert_after {
                    to_alert.push((p.dataset_id, good, since));
                }
            }
            (false, Some((_, _, alerted))) => {
                diesel::delete(replication_shortfalls::table.find(p.dataset_id)).execute(conn)?;
                if alerted.is_some() {
                    resolve(conn, p.dataset_id, good)?;
                    out.alerts_resolved.push(p.dataset_id);
                }
            }
            (false, None) => {}
        }
    }
    // Datasets no longer published (deaccessioned) leave the policy.
    for (dataset_id, (_, _, alerted)) in existing {
        diesel::delete(replication_shortfalls::table.find(dataset_id)).execute(conn)?;
        if alerted.is_some() {
            tickets::resolve_alert(
                conn,
                dataset_id,
                TICKET_KIND,
                "",
                "the dataset is no longer published, so the replication policy no longer applies",
            )?;
            out.alerts_resolved.push(dataset_id);
        }
    }
    if !to_alert.is_empty() {
        let curators = crate::accounts::users::curator_ids(conn)?;
        for (dataset_id, good, since) in to_alert {
            let ticket = raise(conn, dataset_id, good, min, since)?;
            diesel::update(replication_shortfalls::table.find(dataset_id))
                .set(replication_shortfalls::alerted_at.eq(Some(now)))
                .execute(conn)?;
            let notice = Notice {
                kind: NotificationKind::FixityAlert,
                subject: format!(
                    "Replication alert: dataset {dataset_id} has {good} of {min} copies"
                ),
                headline: format!(
                    "Dataset {dataset_id} has had fewer good copies outside this archive than the replication policy asks since {}.",
                    crate::fixity::record::iso(since)
                ),
                lines: vec![format!(
                    "{good} good copies, {min} wanted; see the dataset page for each partner's copy and its last challenge."
                )],
                link_path: format!("/tickets/{ticket}"),
            };
            mail::notify(conn, settings, &curators, &notice)?;
            out.alerts_raised.push(dataset_id);
        }
    }
    Ok(out)
}

fn raise(
    conn: &mut AnyConnection,
    dataset_id: i64,
    good: i64,
    min: i64,
    since: NaiveDateTime,
) -> Result<i64, DomainError> {
    let message = format!(
        "{good} good copies outside this archive, {min} wanted, since {}",
        crate::fixity::record::iso(since)
    );
    let evidence = serde_json::json!([{
        "good_copies": good,
        "min_copies": min,
        "since": crate::fixity::record::iso(since),
    }]);
    let alert = tickets::raise_alert(
        conn,
        dataset_id,
        TICKET_KIND,
        TICKET_TITLE,
        &Observation {
            file: String::new(),
            code: ITEM_CODE.into(),
            standard: "replication".into(),
            severity: "error".into(),
            occurrences: 1,
            message,
            findings: evidence.to_string(),
        },
    )?;
    Ok(alert.ticket_id)
}

fn resolve(conn: &mut AnyConnection, dataset_id: i64, good: i64) -> Result<(), DomainError> {
    tickets::resolve_alert(
        conn,
        dataset_id,
        TICKET_KIND,
        "",
        &format!("{good} good copies again, as the replication policy asks"),
    )?;
    Ok(())
}

/// [`evaluate`] from async code.
pub async fn evaluate_now(fed: &Federation) -> Result<Evaluation, DomainError> {
    let settings = fed.settings.clone();
    fed.db.run(move |conn| evaluate(conn, &settings)).await
}

/// A dataset below the policy, for the admin preservation page.
#[derive(Clone, Debug, Serialize)]
pub struct Shortfall {
    pub dataset_id: i64,
    pub title: String,
    pub copies: i32,
    pub since: NaiveDateTime,
    pub alerted_at: Option<NaiveDateTime>,
}

/// Datasets below the policy, longest first, with their latest published titles.
pub fn shortfalls(conn: &mut AnyConnection) -> Result<Vec<Shortfall>, DomainError> {
    let rows: Vec<(i64, i32, NaiveDateTime, Option<NaiveDateTime>)> = replication_shortfalls::table
        .order((
            replication_shortfalls::since.asc(),
            replication_shortfalls::dataset_id.asc(),
        ))
        .limit(500)
        .select((
            replication_shortfalls::dataset_id,
            replication_shortfalls::copies,
            replication_shortfalls::since,
            replication_shortfalls::alerted_at,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut titles: HashMap<i64, (i32, String)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(i64, i32, String)> = dataset_versions::table
            .filter(dataset_versions::dataset_id.eq_any(chunk))
            .filter(dataset_versions::published_at.is_not_null())
            .select((
                dataset_versions::dataset_id,
                dataset_versions::number,
                dataset_versions::title,
            ))
            .load(conn)?;
        for (d, n, t) in found {
            let e = titles.entry(d).or_insert((n, t.clone()));
            if n >= e.0 {
                *e = (n, t);
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|(dataset_id, copies, since, alerted_at)| Shortfall {
            title: titles.remove(&dataset_id).map(|t| t.1).unwrap_or_default(),
            dataset_id,
            copies,
            since,
            alerted_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(partner: &str, counts: bool) -> CopyView {
        CopyView {
            partner: partner.into(),
            partner_active: true,
            version: 1,
            inventory_digest: String::new(),
            matches_origin: counts,
            received_at: NaiveDateTime::default(),
            last_verified_at: None,
            last_outcome: None,
            counts,
        }
    }

    #[test]
    fn a_partner_counts_once_and_only_good_copies_count() {
        assert_eq!(good_copies(&[view("b", true), view("b", true)]), 1);
        assert_eq!(good_copies(&[view("b", true), view("c", false)]), 1);
        assert_eq!(good_copies(&[view("b", true), view("c", true)]), 2);
        assert_eq!(good_copies(&[]), 0);
    }

    #[test]
    fn a_receipt_must_name_this_archives_inventory_of_its_version() {
        let mut d = HashMap::new();
        d.insert(
            ("o".to_string(), "v1/inventory.json".to_string()),
            "aa".to_string(),
        );
        d.insert(
            ("o".to_string(), "v2/inventory.json".to_string()),
            "bb".to_string(),
        );
        d.insert(
            ("o".to_string(), "inventory.json".to_string()),
            "bb".to_string(),
        );
        assert!(digest_matches(&d, "o", 1, 2, "AA"));
        assert!(digest_matches(&d, "o", 2, 2, "bb"));
        assert!(
            !digest_matches(&d, "o", 2, 2, "aa"),
            "v1's inventory is not v2's"
        );
        assert!(!digest_matches(&d, "p", 1, 1, "aa"), "another object");
    }
}
