//! The outbox table: every message is written here first, in the transaction that
//! causes it, and delivered by a `deliver-mail` job.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::outbox;
use crate::db::AnyConnection;
use crate::error::DomainError;

/// A message waits to be sent (or is being retried).
pub const PENDING: &str = "pending";
/// The SMTP server accepted it, or its .eml file was written.
pub const SENT: &str = "sent";
/// Every attempt failed; it will not be tried again.
pub const FAILED: &str = "failed";

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub recipient_id: Option<i64>,
    pub to_address: String,
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

pub struct NewMessage<'a> {
    pub recipient_id: Option<i64>,
    pub to_address: &'a str,
    pub kind: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
}

/// Adds a pending message; returns its id.
pub fn insert(conn: &mut AnyConnection, m: &NewMessage<'_>) -> Result<i64, DomainError> {
    let now = Utc::now().naive_utc();
    Ok(crate::insert_returning_id!(
        conn,
        crate::db::schema::outbox,
        (
            outbox::recipient_id.eq(m.recipient_id),
            outbox::to_address.eq(m.to_address),
            outbox::kind.eq(m.kind),
            outbox::subject.eq(m.subject),
            outbox::body_text.eq(m.body_text),
            outbox::body_html.eq(m.body_html),
            outbox::state.eq(PENDING),
            outbox::attempts.eq(0),
            outbox::created_at.eq(now),
        )
    )?)
}

pub fn find(conn: &mut AnyConnection, id: i64) -> Result<Option<OutboxRow>, DomainError> {
    Ok(outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records a delivery. Only a pending message moves, so a late duplicate run cannot
/// overwrite a failure an operator has seen.
pub fn mark_sent(conn: &mut AnyConnection, id: i64, attempts: i32) -> Result<(), DomainError> {
    let now = Utc::now().naive_utc();
    diesel::update(outbox::table.find(id).filter(outbox::state.eq(PENDING)))
        .set((
            outbox::state.eq(SENT),
            outbox::attempts.eq(attempts),
            outbox::sent_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt; `give_up` marks the message failed for good.
pub fn record_failure(
    conn: &mut AnyConnection,
    id: i64,
    attempts: i32,
    error: &str,
    give_up: bool,
) -> Result<(), DomainError> {
    let state = if give_up { FAILED } else { PENDING };
    // Keep the column readable: an SMTP transcript can be long.
    let error: String = error.chars().take(2000).collect();
    diesel::update(outbox::table.find(id).filter(outbox::state.eq(PENDING)))
        .set((
            outbox::state.eq(state),
            outbox::attempts.eq(attempts),
            outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Number of messages per state, e.g. `[("pending", 2), ("sent", 40)]`.
pub fn counts(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, DomainError> {
    Ok(outbox::table
        .group_by(outbox::state)
        .select((outbox::state, diesel::dsl::count_star()))
        .order(outbox::state.asc())
        .load(conn)?)
}

/// The newest messages that failed or are waiting after a failed attempt.
pub fn troubled(conn: &mut AnyConnection, limit: i64) -> Result<Vec<OutboxRow>, DomainError> {
    Ok(outbox::table
        .filter(
            outbox::state.eq(FAILED).or(outbox::state
                .eq(PENDING)
                .and(outbox::last_error.is_not_null())),
        )
        .order(outbox::id.desc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// Puts every failed message back in the queue with a fresh set of attempts (after an
/// outage longer than the retries lasted); returns their ids. Run it in a transaction.
pub fn requeue_failed(conn: &mut AnyConnection) -> Result<Vec<i64>, DomainError> {
    let ids: Vec<i64> = outbox::table
        .filter(outbox::state.eq(FAILED))
        .order(outbox::id.asc())
        .select(outbox::id)
        .load(conn)?;
    for id in &ids {
        diesel::update(outbox::table.find(*id).filter(outbox::state.eq(FAILED)))
            .set((outbox::state.eq(PENDING), outbox::attempts.eq(0)))
            .execute(conn)?;
        crate::jobs::enqueue(conn, &super::DeliverMail { message_id: *id })?;
    }
    Ok(ids)
}
