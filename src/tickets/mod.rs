//! QA tickets: one per problem area of a dataset, with items, a thread and a history.
//!
//! Nothing is deleted: tickets and items only change state, and every change is an
//! event in the ticket's thread. Where each rule lives:
//! - `model`: the rows, the ticket and item states, the limits on what people write;
//! - `lifecycle`: how tickets and items change state, with the one rule that closes a
//!   ticket by itself (`close_when_settled`);
//! - `sync`: a validation ticket kept in step with the latest validation run;
//! - `alerts`: archive-side alerts (fixity, replication) raised and resolved;
//! - `blocking`: the open errors that keep a dataset from submission and publication;
//! - `access`: who may see a ticket and who may act on it;
//! - `thread`: opening a ticket by hand, comments, attachments, the page's contents;
//! - `actions`: what curators do on a ticket (waive, assign, due date, close by hand);
//! - `queue`: the lists (the curators' queue, "my tickets", a dataset's tickets);
//! - `links`: comment text split into text and links for the templates.

pub mod access;
pub mod actions;
pub mod alerts;
pub mod blocking;
mod lifecycle;
pub mod links;
pub mod model;
pub mod queue;
pub mod sync;
pub mod thread;

pub use access::{load_for, TicketAccess};
pub use actions::{assign, set_due, set_state, unwaive, waive};
pub use alerts::{open_alert_items, raise_alert, resolve_alert, Alert};
pub use blocking::{blocking_counts, blocking_items, ensure_no_blocking_items};
pub use links::{linkify, Segment};
pub use model::{
    clean_text, parse_due, Event, EventRow, ItemRow, ItemState, Observation, TicketRow,
    TicketState, MAX_TEXT, MAX_TITLE,
};
pub use queue::{items_of_dataset, mine, of_dataset, queue, QueueQuery, TicketSummary};
pub use sync::{sync_validation, SyncOutcome};
pub use thread::{attachment, comment, detail, open_manual, Attachment, TicketDetail};
