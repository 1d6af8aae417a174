//! The caller's own settings: which notification emails they get.

use actix_web::{web, HttpResponse};
use serde_json::Value;

use crate::app::Archive;
use crate::mail;
use crate::web::auth::ApiUser;
use crate::web::errors::ApiError;
use crate::web::extract::ApiJson;

/// `GET /api/profile/notifications`: `{"ticket": true, "comment": true, ...}`, one key
/// per notification kind, true when the caller gets those emails.
pub async fn notifications(
    archive: web::Data<Archive>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let current = archive
        .db
        .run(move |conn| mail::prefs::load(conn, user.id))
        .await?;
    Ok(HttpResponse::Ok().json(mail::prefs::to_json(&current)))
}

/// `PUT /api/profile/notifications`: sets the kinds named in the body (others keep
/// their setting) and answers with all of them.
pub async fn set_notifications(
    archive: web::Data<Archive>,
    ApiUser(user): ApiUser,
    ApiJson(value): ApiJson<Value>,
) -> Result<HttpResponse, ApiError> {
    let changes = mail::prefs::parse_json(&value)?;
    let current = archive
        .db
        .transaction(move |conn| {
            mail::prefs::set(conn, user.id, &changes)?;
            mail::prefs::load(conn, user.id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(mail::prefs::to_json(&current)))
}
