//! Notifications by mail: written to the outbox in the transaction that causes them,
//! delivered by a job (SMTP through lettre, or .eml files by default).

use crate::app::Archive;
use crate::config::Settings;
use crate::db::AnyConnection;
use crate::error::DomainError;

/// The kinds of notification a user can turn off one by one on their profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// A QA ticket on one of my datasets was opened or updated.
    TicketUpdated,
    /// Someone else commented on a ticket I take part in.
    NewComment,
    /// A dataset was submitted for review (to curators).
    DatasetSubmitted,
    /// My dataset was accepted, or changes were requested.
    ReviewDecision,
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
/// row plus a delivery job each, inside the caller's transaction.
pub fn notify(
    _conn: &mut AnyConnection,
    _settings: &Settings,
    _recipients: &[i64],
    _notice: &Notice,
) -> Result<(), DomainError> {
    Ok(())
}

/// The delivery job of one outbox message.
pub async fn deliver_job(
    _archive: &Archive,
    _payload: &serde_json::Value,
) -> Result<(), DomainError> {
    Err(DomainError::internal("mail delivery is not wired yet"))
}
