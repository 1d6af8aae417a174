//! Browser sessions: a random token in an HttpOnly cookie, only its sha256 in the
//! database (a leaked database does not leak live sessions). Stored in the database so
//! any node behind a load balancer can check any session.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::users::{self, User};
use crate::db::schema::sessions;
use crate::db::AnyConnection;
use crate::error::DomainError;

pub const SESSION_DAYS: i64 = 14;

/// A fresh random secret, 32 bytes as URL-safe base64 (no padding).
pub fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session for the user and returns the cookie value.
pub fn start(conn: &mut AnyConnection, user_id: i64) -> Result<String, DomainError> {
    let token = random_secret();
    let now = Utc::now().naive_utc();
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token_hash(&token)),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(now + Duration::days(SESSION_DAYS)),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The signed-in user for a cookie value, if the session exists and has not expired.
pub fn user_for(conn: &mut AnyConnection, token: &str) -> Result<Option<User>, DomainError> {
    let now = Utc::now().naive_utc();
    let user_id: Option<i64> = sessions::table
        .filter(sessions::token_hash.eq(token_hash(token)))
        .filter(sessions::expires_at.gt(now))
        .select(sessions::user_id)
        .first(conn)
        .optional()?;
    user_id.map(|id| users::find_by_id(conn, id)).transpose()
}

pub fn end(conn: &mut AnyConnection, token: &str) -> Result<(), DomainError> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash(token))))
        .execute(conn)?;
    Ok(())
}
