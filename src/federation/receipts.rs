//! Receipts: a replica tells its source that it holds an object version, with the
//! digest of that version's inventory, signed with a key both sides derive from the
//! partner token (the origin keeps only `sha256(token)`, so the key is that digest).
//!
//! The origin checks the token, the signature and that the digest equals its own
//! inventory's for that version (409 if not), then records the copy (`replica_copies`)
//! and a PREMIS replication event; the dataset page and API list the copies.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::partners::Partner;
use crate::db::schema::{dataset_versions, datasets, federation_partners, replica_copies};
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::preservation::events::{self, Agent, EventType, Outcome, Subject};

/// Where receipts are posted on the source.
pub const RECEIPTS_PATH: &str = "/api/federation/receipts";

/// What a replica reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The OCFL object id (the `id` of its inventory).
    pub object_id: String,
    /// The OCFL version number (`vN`).
    pub version: u32,
    /// sha256 of that version's `vN/inventory.json` as the replica holds it.
    pub inventory_digest: String,
    /// When the replica verified and stored it (RFC 3339, UTC).
    pub held_at: String,
    /// HMAC-SHA256 of [`canonical`] under [`signing_key`], lowercase hex.
    pub signature: String,
}

/// The signed text: fixed fields, one per line, so both sides build the same bytes.
pub fn canonical(object_id: &str, version: u32, inventory_digest: &str, held_at: &str) -> String {
    format!("holdfast-receipt-1\n{object_id}\n{version}\n{inventory_digest}\n{held_at}\n")
}

/// The key of a partner token: its sha256 (what the origin stores).
pub fn signing_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// A receipt for a version held now, signed with `token`.
pub fn sign(
    token: &str,
    object_id: &str,
    version: u32,
    inventory_digest: &str,
    held_at: DateTime<Utc>,
) -> Receipt {
    let held_at = held_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut m = mac(&signing_key(token));
    m.update(canonical(object_id, version, inventory_digest, &held_at).as_bytes());
    Receipt {
        object_id: object_id.to_string(),
        version,
        inventory_digest: inventory_digest.to_string(),
        held_at,
        signature: hex::encode(m.finalize().into_bytes()),
    }
}

/// Whether the signature is right for a key (a partner's stored token hash, decoded).
pub fn verify(key: &[u8], r: &Receipt) -> bool {
    let Ok(signature) = hex::decode(&r.signature) else {
        return false;
    };
    let mut m = mac(key);
    m.update(canonical(&r.object_id, r.version, &r.inventory_digest, &r.held_at).as_bytes());
    m.verify_slice(&signature).is_ok()
}

/// The dataset whose object a receipt names and the dataset version number of its OCFL
/// version; NotFound when the object or version is not published here.
pub fn published_version(
    conn: &mut AnyConnection,
    object_id: &str,
    ocfl_version: u32,
) -> Result<(i64, i32), DomainError> {
    let dataset_id: i64 = datasets::table
        .filter(datasets::ocfl_object_id.eq(object_id))
        .select(datasets::id)
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound)?;
    let number: i32 = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .filter(dataset_versions::published_at.is_not_null())
        .filter(dataset_versions::ocfl_version.eq(i32::try_from(ocfl_version).unwrap_or(-1)))
        .select(dataset_versions::number)
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound)?;
    Ok((dataset_id, number))
}

/// Checks a receipt's form and signature (before any storage is read).
pub fn check(partner: &Partner, r: &Receipt) -> Result<(), DomainError> {
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if r.object_id.is_empty() || r.object_id.len() > 500 {
        return Err(DomainError::invalid("object_id", "give the OCFL object id"));
    }
    if r.version == 0 {
        return Err(DomainError::invalid("version", "OCFL versions start at 1"));
    }
    if !hex64(&r.inventory_digest) {
        return Err(DomainError::invalid(
            "inventory_digest",
            "the sha256 of vN/inventory.json, 64 hex digits",
        ));
    }
    if DateTime::parse_from_rfc3339(&r.held_at).is_err() {
        return Err(DomainError::invalid(
            "held_at",
            "an RFC 3339 date-time such as 2026-12-03T10:00:00Z",
        ));
    }
    let key = hex::decode(&partner.token_hash).map_err(DomainError::internal)?;
    if !verify(&key, r) {
        return Err(DomainError::Unauthorized(
            "the receipt's signature does not match (HMAC-SHA256 of the canonical receipt under sha256(token))".into(),
        ));
    }
    Ok(())
}

/// Records a checked receipt whose digest equals this archive's own (`own_digest`);
/// 409 when they differ (the replica holds something else). Returns the copy.
pub fn record(
    conn: &mut AnyConnection,
    partner: &Partner,
    r: &Receipt,
    own_digest: &str,
) -> Result<CopyView, DomainError> {
    let (dataset_id, number) = published_version(conn, &r.object_id, r.version)?;
    let now = Utc::now().naive_utc();
    let version = i32::try_from(r.version).map_err(DomainError::internal)?;
    let subject = Subject {
        dataset_id: Some(dataset_id),
        version: Some(number),
        ..Default::default()
    };
    if !own_digest.eq_ignore_ascii_case(&r.inventory_digest) {
        crate::db::transaction(conn, |conn| {
            events::record(
                conn,
                EventType::Replication,
                &subject,
                &format!(
                    "receipt from partner {} for {} v{}",
                    partner.name, r.object_id, r.version
                ),
                Outcome::Failure,
                &format!(
                    "inventory sha256 expected={own_digest} reported={}",
                    r.inventory_digest
                ),
                Agent::Holdfast,
            )
        })?;
        return Err(DomainError::Conflict(format!(
            "the inventory of {} v{} here has sha256 {own_digest}, not {}: the copy is not the same object version",
            r.object_id, r.version, r.inventory_digest
        )));
    }
    crate::db::transaction(conn, |conn| {
        let existing: Option<i64> = replica_copies::table
            .filter(replica_copies::partner_id.eq(partner.id))
            .filter(replica_copies::object_id.eq(&r.object_id))
            .filter(replica_copies::version_number.eq(version))
            .select(replica_copies::id)
            .first(conn)
            .optional()?;
        match existing {
            Some(id) => {
                diesel::update(replica_copies::table.find(id))
                    .set((
                        replica_copies::inventory_digest.eq(&r.inventory_digest),
                        replica_copies::signature.eq(&r.signature),
                        replica_copies::received_at.eq(now),
                        replica_copies::last_verified_at.eq(Some(now)),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(replica_copies::table)
                    .values((
                        replica_copies::partner_id.eq(partner.id),
                        replica_copies::dataset_id.eq(dataset_id),
                        replica_copies::object_id.eq(&r.object_id),
                        replica_copies::version_number.eq(version),
                        replica_copies::inventory_digest.eq(&r.inventory_digest),
                        replica_copies::signature.eq(&r.signature),
                        replica_copies::received_at.eq(now),
                        replica_copies::last_verified_at.eq(Some(now)),
                    ))
                    .execute(conn)?;
            }
        }
        events::record(
            conn,
            EventType::Replication,
            &subject,
            &format!(
                "partner {} ({}) holds {} v{}",
                partner.name, partner.base_url, r.object_id, r.version
            ),
            Outcome::Success,
            &format!(
                "inventory sha256={} held_at={}",
                r.inventory_digest, r.held_at
            ),
            Agent::Holdfast,
        )
    })?;
    let copies = copies_of(conn, dataset_id)?;
    copies
        .into_iter()
        .find(|c| c.partner == partner.name && c.ocfl_version == version)
        .ok_or_else(|| DomainError::internal("a recorded copy is missing"))
}

/// One copy of a dataset's object version at a partner, as pages and the API show it.
#[derive(Clone, Debug, Serialize)]
pub struct CopyView {
    pub partner: String,
    pub partner_url: String,
    /// False once the partner's token was revoked (the copy no longer counts).
    pub partner_active: bool,
    pub ocfl_version: i32,
    /// The dataset version the OCFL version holds.
    pub version: Option<i32>,
    pub inventory_digest: String,
    #[serde(serialize_with = "iso")]
    pub received_at: NaiveDateTime,
    #[serde(serialize_with = "iso_opt")]
    pub last_verified_at: Option<NaiveDateTime>,
    pub last_outcome: Option<String>,
}

fn iso<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn iso_opt<S: serde::Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => iso(t, s),
        None => s.serialize_none(),
    }
}

type CopyColumns = (
    String,
    String,
    Option<NaiveDateTime>,
    i32,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
);

/// The copies partners reported of a dataset, newest version first, by partner name.
pub fn copies_of(conn: &mut AnyConnection, dataset_id: i64) -> Result<Vec<CopyView>, DomainError> {
    let rows: Vec<CopyColumns> = replica_copies::table
        .inner_join(federation_partners::table)
        .filter(replica_copies::dataset_id.eq(dataset_id))
        .order((
            replica_copies::version_number.desc(),
            federation_partners::name.asc(),
        ))
        .select((
            federation_partners::name,
            federation_partners::base_url,
            federation_partners::revoked_at,
            replica_copies::version_number,
            replica_copies::inventory_digest,
            replica_copies::received_at,
            replica_copies::last_verified_at,
            replica_copies::last_outcome,
        ))
        .load(conn)?;
    let numbers: Vec<(Option<i32>, i32)> = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .filter(dataset_versions::published_at.is_not_null())
        .select((dataset_versions::ocfl_version, dataset_versions::number))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(partner, url, revoked, ocfl_version, digest, received, verified, outcome)| CopyView {
                partner,
                partner_url: url,
                partner_active: revoked.is_none(),
                ocfl_version,
                version: numbers
                    .iter()
                    .find(|(o, _)| *o == Some(ocfl_version))
                    .map(|(_, n)| *n),
                inventory_digest: digest,
                received_at: received,
                last_verified_at: verified,
                last_outcome: outcome,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_signed_with_the_token_verifies_under_its_hash_only() {
        let token = "hfp_secret";
        let at = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let r = sign(token, "doi:10.5072/FK2-x", 2, &"ab".repeat(32), at);
        assert_eq!(r.held_at, "2026-12-03T10:00:00Z");
        // The origin keeps hex(sha256(token)); decoded, it is the key.
        let stored = crate::accounts::sessions::token_hash(token);
        let key = hex::decode(stored).expect("hex");
        assert!(verify(&key, &r));
        assert!(!verify(&signing_key("hfp_other"), &r));
        for tampered in [
            Receipt {
                version: 3,
                ..r.clone()
            },
            Receipt {
                inventory_digest: "cd".repeat(32),
                ..r.clone()
            },
            Receipt {
                object_id: "doi:10.5072/FK2-y".into(),
                ..r.clone()
            },
            Receipt {
                signature: "zz".into(),
                ..r.clone()
            },
        ] {
            assert!(!verify(&key, &tampered), "{tampered:?}");
        }
    }
}
