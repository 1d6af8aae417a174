//! Partner nodes (origin side): archives the admin registered to hold replicas of this
//! one. A partner authenticates with the token issued here (`Authorization: Bearer`),
//! shown once; only its sha256 is kept. With it a partner sees content that is not
//! public and sends receipts for the copies it holds; its `base_url` is where this
//! archive challenges those copies.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::accounts::sessions::{random_secret, token_hash};
use crate::db::schema::federation_partners;
use crate::db::AnyConnection;
use crate::error::DomainError;

/// Makes partner tokens recognisable, and distinct from users' `hf_` API tokens.
pub const PARTNER_TOKEN_PREFIX: &str = "hfp_";

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = federation_partners)]
pub struct Partner {
    pub id: i64,
    pub name: String,
    pub base_url: String,
    #[serde(skip)]
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_seen_at: Option<NaiveDateTime>,
}

/// A partner's name: what pages and events call it.
fn check_name(name: &str) -> Result<&str, DomainError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 100
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(DomainError::invalid(
            "name",
            "use 1 to 100 letters, digits, '-', '_' or '.' (e.g. archive-b.example.org)",
        ));
    }
    Ok(name)
}

/// The partner's own holdfast, as an absolute http(s) URL without a trailing slash.
pub fn check_base_url(url: &str) -> Result<String, DomainError> {
    let parsed = url::Url::parse(url.trim()).map_err(|_| {
        DomainError::invalid(
            "url",
            "give the partner's address, e.g. https://archive-b.example.org",
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(DomainError::invalid(
            "url",
            "use an http:// or https:// address without query or fragment",
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Registers a partner and returns its token (the only time it exists in clear).
pub fn create(conn: &mut AnyConnection, name: &str, base_url: &str) -> Result<String, DomainError> {
    let name = check_name(name)?;
    let base_url = check_base_url(base_url)?;
    let taken = federation_partners::table
        .filter(federation_partners::name.eq(name))
        .count()
        .get_result::<i64>(conn)?;
    if taken > 0 {
        return Err(DomainError::Conflict(format!(
            "a partner named {name} is already registered"
        )));
    }
    let secret = format!("{PARTNER_TOKEN_PREFIX}{}", random_secret());
    diesel::insert_into(federation_partners::table)
        .values((
            federation_partners::name.eq(name),
            federation_partners::base_url.eq(&base_url),
            federation_partners::token_hash.eq(token_hash(&secret)),
            federation_partners::created_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(secret)
}

/// Every partner ever registered, revoked ones included (their receipts stay history).
pub fn list(conn: &mut AnyConnection) -> Result<Vec<Partner>, DomainError> {
    Ok(federation_partners::table
        .order(federation_partners::id)
        .select(Partner::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut AnyConnection, id: i64) -> Result<Partner, DomainError> {
    federation_partners::table
        .find(id)
        .select(Partner::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound)
}

/// Partners whose token still works: the ones that count as copies and are challenged.
pub fn active(conn: &mut AnyConnection) -> Result<Vec<Partner>, DomainError> {
    Ok(federation_partners::table
        .filter(federation_partners::revoked_at.is_null())
        .order(federation_partners::id)
        .select(Partner::as_select())
        .load(conn)?)
}

/// Revokes a partner's token by name; its copies no longer count.
pub fn revoke(conn: &mut AnyConnection, name: &str) -> Result<(), DomainError> {
    let changed = diesel::update(
        federation_partners::table
            .filter(federation_partners::name.eq(name.trim()))
            .filter(federation_partners::revoked_at.is_null()),
    )
    .set(federation_partners::revoked_at.eq(Utc::now().naive_utc()))
    .execute(conn)?;
    if changed == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// The active partner a bearer token belongs to, noting when it was last seen; None for
/// anything else (a user's API token, a revoked or unknown one).
pub fn authenticate(conn: &mut AnyConnection, token: &str) -> Result<Option<Partner>, DomainError> {
    if !token.starts_with(PARTNER_TOKEN_PREFIX) {
        return Ok(None);
    }
    let partner = federation_partners::table
        .filter(federation_partners::token_hash.eq(token_hash(token)))
        .filter(federation_partners::revoked_at.is_null())
        .select(Partner::as_select())
        .first(conn)
        .optional()?;
    if let Some(p) = &partner {
        diesel::update(federation_partners::table.find(p.id))
            .set(federation_partners::last_seen_at.eq(Utc::now().naive_utc()))
            .execute(conn)?;
    }
    Ok(partner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_are_checked() {
        assert!(check_name("archive-b.example.org").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("two words").is_err());
        assert!(check_name("<script>").is_err());
        assert_eq!(
            check_base_url("https://b.example.org/").unwrap(),
            "https://b.example.org"
        );
        assert_eq!(
            check_base_url("http://127.0.0.1:8081/archive/").unwrap(),
            "http://127.0.0.1:8081/archive"
        );
        assert!(check_base_url("ftp://b.example.org").is_err());
        assert!(check_base_url("b.example.org").is_err());
        assert!(check_base_url("https://b.example.org/?x=1").is_err());
    }
}
