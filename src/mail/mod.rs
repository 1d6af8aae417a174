//! Notifications by mail: written to the outbox in the transaction that causes them,
//! delivered by a job (SMTP through lettre, or .eml files by default).
//!
//! - [`notify`] renders the bodies once, then adds one outbox row and one
//!   `deliver-mail` job per recipient who has not turned the kind off. It runs inside
//!   the caller's transaction: the mail exists exactly when the change that caused it
//!   does.
//! - [`DeliverMail`] (a job) sends one outbox message. A failure is recorded on the row and
//!   returned, so the job queue retries with backoff; the request that caused the mail
//!   never waits for or fails with the mail server.
//! - Users turn kinds off on their profile ([`prefs`]); an absent row means "on".

pub mod outbox;
pub mod prefs;
pub mod render;
pub mod transport;

#[cfg(test)]
mod tests;

use diesel::prelude::*;
use std::collections::HashSet;

use std::sync::Arc;

use crate::config::Settings;
use crate::db::schema::{muted_notifications, users};
use crate::db::{AnyConnection, Db};
use crate::error::DomainError;
use crate::jobs::{self, Job};

pub use crate::config::smtp::{SmtpConfig, SmtpSecurity};
pub use transport::Mailer;

/// The kinds of notification a user can turn off one by one on their profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// A QA ticket on one of my datasets was opened or updated.
    TicketUpdated,
    /// Someone else commented on a ticket I take part in.
    NewComment,
    /// A dataset was submitted for review (to curators).
    DatasetSubmitted,
    /// My dataset was accepted, or changes were requested.
    ReviewDecision,
    /// A stored file failed its fixity check, or was repaired (to curators).
    FixityAlert,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 5] = [
        NotificationKind::TicketUpdated,
        NotificationKind::NewComment,
        NotificationKind::DatasetSubmitted,
        NotificationKind::ReviewDecision,
        NotificationKind::FixityAlert,
    ];

    /// Stored in `outbox.kind` and `muted_notifications.kind`, and the key of the
    /// `/api/profile/notifications` JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::TicketUpdated => "ticket",
            NotificationKind::NewComment => "comment",
            NotificationKind::DatasetSubmitted => "submitted",
            NotificationKind::ReviewDecision => "decision",
            NotificationKind::FixityAlert => "fixity",
        }
    }

    pub fn parse(s: &str) -> Option<NotificationKind> {
        NotificationKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What the checkbox on the profile page says.
    pub fn label(self) -> &'static str {
        match self {
            NotificationKind::TicketUpdated => {
                "A QA ticket on one of my datasets is opened or changes"
            }
            NotificationKind::NewComment => "Someone comments on a ticket I take part in",
            NotificationKind::DatasetSubmitted => {
                "A dataset is submitted for review (for curators)"
            }
            NotificationKind::ReviewDecision => {
                "My dataset is published, or a curator asks for changes"
            }
            NotificationKind::FixityAlert => {
                "A stored file fails its fixity audit, or is repaired (for curators)"
            }
        }
    }
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to tell people; rendered into the text and HTML bodies by templates.
#[derive(Clone, Debug)]
pub struct Notice {
    pub kind: NotificationKind,
    pub subject: String,
    /// One sentence saying what happened.
    pub headline: String,
    /// Details, one paragraph or list item each (plain text; escaped in HTML).
    pub lines: Vec<String>,
    /// Site-relative link to the page to act on, e.g. `/tickets/5`.
    pub link_path: String,
}

/// Queues `notice` for each recipient (user ids) who has not muted its kind: an outbox
/// row plus a delivery job each, inside the caller's transaction. Returns nothing to
/// wait for: the caller wakes the workers (`jobs::Waker`) after it commits.
pub fn notify(
    conn: &mut AnyConnection,
    settings: &Settings,
    recipients: &[i64],
    notice: &Notice,
) -> Result<(), DomainError> {
    queue(conn, settings, recipients, notice).map(|_| ())
}

/// [`notify`], returning the ids of the outbox messages it added.
pub fn queue(
    conn: &mut AnyConnection,
    settings: &Settings,
    recipients: &[i64],
    notice: &Notice,
) -> Result<Vec<i64>, DomainError> {
    let mut ids = recipients.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let kind = notice.kind.as_str();
    let muted: HashSet<i64> = muted_notifications::table
        .filter(muted_notifications::kind.eq(kind))
        .filter(muted_notifications::user_id.eq_any(&ids))
        .select(muted_notifications::user_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let people: Vec<(i64, String)> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::email))
        .order(users::id.asc())
        .load(conn)?;
    if people.len() < ids.len() {
        let found: HashSet<i64> = people.iter().map(|(id, _)| *id).collect();
        let missing: Vec<i64> = ids
            .iter()
            .filter(|id| !found.contains(id))
            .copied()
            .collect();
        tracing::warn!(
            ?missing,
            kind,
            "notification recipients that do not exist were skipped"
        );
    }
    let wanted: Vec<(i64, String)> = people
        .into_iter()
        .filter(|(id, _)| !muted.contains(id))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let rendered = render::render(settings, notice)?;
    let mut queued = Vec::with_capacity(wanted.len());
    for (user_id, email) in wanted {
        let id = outbox::insert(
            conn,
            &outbox::NewMessage {
                recipient_id: Some(user_id),
                to_address: &email,
                kind,
                subject: &rendered.subject,
                body_text: &rendered.text,
                body_html: &rendered.html,
            },
        )?;
        jobs::enqueue(conn, &DeliverMail { message_id: id })?;
        queued.push(id);
    }
    Ok(queued)
}

/// What delivers outbox messages: the database and the mail transport.
#[derive(Clone)]
pub struct Postman {
    pub db: Db,
    pub mailer: Arc<Mailer>,
}

/// The delivery job of one outbox message.
///
/// Idempotent: a message already sent (or given up on) is left alone, so a job that
/// runs twice after a crash sends nothing twice unless the crash fell between the
/// server's acceptance and our record of it. Errors are recorded on the row and
/// returned, so the queue retries with backoff; at the job's last attempt the row is
/// marked `failed`.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct DeliverMail {
    pub message_id: i64,
}

impl Job for DeliverMail {
    const KIND: &'static str = "deliver-mail";
    /// Mail keeps trying for about a day (backoff is capped), so an SMTP server that is
    /// down for hours delays mail but never loses it.
    const MAX_ATTEMPTS: i32 = 40;
    type Context = Postman;

    async fn run(self, postman: &Postman) -> Result<(), DomainError> {
        deliver(postman, self.message_id).await
    }
}

/// Delivers outbox message `id` now (see [`DeliverMail`]).
pub async fn deliver(postman: &Postman, id: i64) -> Result<(), DomainError> {
    let Some(row) = postman.db.run(move |conn| outbox::find(conn, id)).await? else {
        tracing::warn!(
            outbox_id = id,
            "the outbox message to deliver no longer exists"
        );
        return Ok(());
    };
    if row.state != outbox::PENDING {
        tracing::debug!(outbox_id = id, state = %row.state, "outbox message already settled");
        return Ok(());
    }
    let attempts = row.attempts.saturating_add(1);
    let sent = postman
        .mailer
        .send(&transport::Envelope {
            id,
            to: &row.to_address,
            subject: &row.subject,
            text: &row.body_text,
            html: &row.body_html,
            created_at: row.created_at,
        })
        .await;
    match sent {
        Ok(()) => {
            postman
                .db
                .run(move |conn| outbox::mark_sent(conn, id, attempts))
                .await?;
            tracing::info!(outbox_id = id, to = %row.to_address, kind = %row.kind, "mail sent");
            Ok(())
        }
        Err(transport::SendError::Permanent(error)) => {
            tracing::error!(outbox_id = id, to = %row.to_address, %error, "mail cannot be sent; marked failed");
            let e = error.clone();
            postman
                .db
                .run(move |conn| outbox::record_failure(conn, id, attempts, &e, true))
                .await?;
            // Nothing to retry: the row says failed and why.
            Ok(())
        }
        Err(transport::SendError::Temporary(error)) => {
            let give_up = attempts >= DeliverMail::MAX_ATTEMPTS;
            if give_up {
                tracing::error!(outbox_id = id, to = %row.to_address, attempts, %error, "mail delivery failed for good");
            } else {
                tracing::warn!(outbox_id = id, to = %row.to_address, attempts, %error, "mail delivery failed; will retry");
            }
            let e = error.clone();
            postman
                .db
                .run(move |conn| outbox::record_failure(conn, id, attempts, &e, give_up))
                .await?;
            Err(DomainError::internal(format!(
                "delivering mail {id} to {}: {error}",
                row.to_address
            )))
        }
    }
}
