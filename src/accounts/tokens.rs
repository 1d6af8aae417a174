//! API tokens for `Authorization: Bearer`. The token is shown once; only its sha256 is kept.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::sessions::{random_secret, token_hash};
use super::users::{self, User};
use crate::db::schema::api_tokens;
use crate::db::AnyConnection;
use crate::error::DomainError;

/// Prefix that makes a holdfast token recognisable to secret scanners and people.
pub const TOKEN_PREFIX: &str = "hf_";

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    #[serde(skip)]
    pub token_hash: String,
    pub label: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Creates a token and returns its secret (the only time it exists in clear).
pub fn create(conn: &mut AnyConnection, user_id: i64, label: &str) -> Result<String, DomainError> {
    let label = label.trim();
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "label",
            "use at most 100 characters, without control characters",
        ));
    }
    let label = if label.is_empty() { "API token" } else { label };
    let secret = format!("{TOKEN_PREFIX}{}", random_secret());
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user_id),
            api_tokens::token_hash.eq(token_hash(&secret)),
            api_tokens::label.eq(label),
            api_tokens::created_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(secret)
}

pub fn list_for(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<ApiToken>, DomainError> {
    Ok(api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order(api_tokens::id.desc())
        .select(ApiToken::as_select())
        .load(conn)?)
}

/// Revokes one of the user's own tokens; another user's token id is "not found".
pub fn revoke(conn: &mut AnyConnection, user_id: i64, token_id: i64) -> Result<(), DomainError> {
    let updated = diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(token_id))
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(Utc::now().naive_utc()))
    .execute(conn)?;
    if updated == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// The user a bearer token belongs to, if it is live.
pub fn authenticate(conn: &mut AnyConnection, secret: &str) -> Result<Option<User>, DomainError> {
    let hash = token_hash(secret.trim());
    let token: Option<ApiToken> = api_tokens::table
        .filter(api_tokens::token_hash.eq(&hash))
        .filter(api_tokens::revoked_at.is_null())
        .select(ApiToken::as_select())
        .first(conn)
        .optional()?;
    let Some(token) = token else {
        return Ok(None);
    };
    diesel::update(api_tokens::table.find(token.id))
        .set(api_tokens::last_used_at.eq(Utc::now().naive_utc()))
        .execute(conn)?;
    users::find_by_id(conn, token.user_id).map(Some)
}
