//! Which notification kinds a user gets: all of them, less the ones they turned off
//! (a row in `muted_notifications`).

use diesel::prelude::*;

use super::NotificationKind;
use crate::db::schema::muted_notifications;
use crate::db::AnyConnection;
use crate::error::DomainError;

/// Every kind with whether this user gets it, in [`NotificationKind::ALL`] order.
pub fn load(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<(NotificationKind, bool)>, DomainError> {
    let muted: Vec<String> = muted_notifications::table
        .filter(muted_notifications::user_id.eq(user_id))
        .select(muted_notifications::kind)
        .load(conn)?;
    Ok(NotificationKind::ALL
        .into_iter()
        .map(|k| (k, !muted.iter().any(|m| m == k.as_str())))
        .collect())
}

/// Turns the given kinds on or off; kinds not listed keep their setting. Run it in a
/// transaction when several kinds change at once.
pub fn set(
    conn: &mut AnyConnection,
    user_id: i64,
    changes: &[(NotificationKind, bool)],
) -> Result<(), DomainError> {
    for (kind, on) in changes {
        // Delete, then insert if muted: portable on both backends (no upsert through
        // the MultiConnection) and idempotent.
        diesel::delete(
            muted_notifications::table
                .filter(muted_notifications::user_id.eq(user_id))
                .filter(muted_notifications::kind.eq(kind.as_str())),
        )
        .execute(conn)?;
        if !on {
            diesel::insert_into(muted_notifications::table)
                .values((
                    muted_notifications::user_id.eq(user_id),
                    muted_notifications::kind.eq(kind.as_str()),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Reads the JSON of `/api/profile/notifications`: an object of kind → boolean. Keys
/// left out keep their setting; unknown keys and non-booleans are refused.
pub fn parse_json(value: &serde_json::Value) -> Result<Vec<(NotificationKind, bool)>, DomainError> {
    let keys = NotificationKind::ALL
        .iter()
        .map(|k| format!("\"{}\"", k.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(object) = value.as_object() else {
        return Err(DomainError::invalid(
            "body",
            format!("send a JSON object such as {{\"comment\": false}}; the keys are {keys}"),
        ));
    };
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (key, v) in object {
        match (NotificationKind::parse(key), v.as_bool()) {
            (Some(kind), Some(on)) => changes.push((kind, on)),
            (Some(_), None) => errors.push(crate::error::FieldError::new(
                key.clone(),
                "must be true (send these emails) or false (do not)",
            )),
            (None, _) => errors.push(crate::error::FieldError::new(
                key.clone(),
                format!("is not a notification kind; the kinds are {keys}"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(DomainError::Invalid(errors))
    }
}

/// The JSON of `/api/profile/notifications`.
pub fn to_json(settings: &[(NotificationKind, bool)]) -> serde_json::Value {
    serde_json::Value::Object(
        settings
            .iter()
            .map(|(k, on)| (k.as_str().to_string(), serde_json::Value::Bool(*on)))
            .collect(),
    )
}
