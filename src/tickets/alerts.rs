//! Archive-side alerts on a dataset (a fixity failure, too few replicas): the dataset's
//! ticket of the alert's kind gets an item per (file, code), raised while the problem
//! lasts and fixed when it is resolved.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::lifecycle::{
    add_event, add_item, close_when_settled, fix_item, insert_ticket, latest_of_kind,
    note_found_again, set_ticket_state, touch,
};
use super::model::{now, ItemRow, ItemState, Observation, TicketState};
use crate::db::schema::{ticket_items, tickets};
use crate::db::AnyConnection;
use crate::error::DomainError;

/// What an alert raised: the ticket, and whether the item is new or came back (the
/// cases worth telling people about).
#[derive(Clone, Debug)]
pub struct Alert {
    pub ticket_id: i64,
    pub newly_raised: bool,
}

/// Raises an archive-side alert on a dataset: the dataset's ticket of `kind` (opened if
/// there is none, reopened if closed) gets an item per (file, code), added or reopened;
/// an item already open is refreshed with the latest evidence. Inside the caller's
/// transaction.
pub fn raise_alert(
    conn: &mut AnyConnection,
    dataset_id: i64,
    kind: &str,
    title: &str,
    observation: &Observation,
) -> Result<Alert, DomainError> {
    let ticket_id = open_alert_ticket(conn, dataset_id, kind, title)?;
    let at = now();
    let item: Option<ItemRow> = ticket_items::table
        .filter(ticket_items::ticket_id.eq(ticket_id))
        .filter(ticket_items::file.eq(&observation.file))
        .filter(ticket_items::code.eq(&observation.code))
        .select(ItemRow::as_select())
        .first(conn)
        .optional()?;
    let newly_raised = match item {
        Some(item) => raise_again(conn, ticket_id, &item, observation, at)?,
        None => {
            add_item(conn, ticket_id, observation, at)?;
            true
        }
    };
    touch(conn, ticket_id)?;
    Ok(Alert {
        ticket_id,
        newly_raised,
    })
}

/// The dataset's latest ticket of `kind`, reopened if closed, or a new one.
fn open_alert_ticket(
    conn: &mut AnyConnection,
    dataset_id: i64,
    kind: &str,
    title: &str,
) -> Result<i64, DomainError> {
    let existing = latest_of_kind(conn, dataset_id, kind)?;
    match existing {
        Some(t) => {
            if !t.is_open() {
                set_ticket_state(conn, t.id, TicketState::Open)?;
                add_event(conn, t.id, None, None, "reopened", "Reopened: a new alert.")?;
            }
            Ok(t.id)
        }
        None => {
            let id = insert_ticket(conn, dataset_id, kind, title, None)?;
            add_event(conn, id, None, None, "opened", title)?;
            Ok(id)
        }
    }
}

/// An item raised again: open, with the latest evidence and one more occurrence.
/// Returns whether it was settled before (so it came back).
fn raise_again(
    conn: &mut AnyConnection,
    ticket_id: i64,
    item: &ItemRow,
    observation: &Observation,
    at: NaiveDateTime,
) -> Result<bool, DomainError> {
    let reopen = !item.is_open();
    diesel::update(ticket_items::table.find(item.id))
        .set((
            ticket_items::state.eq(ItemState::Open.as_str()),
            ticket_items::resolved_at.eq(None::<NaiveDateTime>),
            ticket_items::severity.eq(&observation.severity),
            ticket_items::occurrences.eq(item.occurrences + 1),
            ticket_items::message.eq(&observation.message),
            ticket_items::findings.eq(&observation.findings),
            ticket_items::last_seen_at.eq(at),
        ))
        .execute(conn)?;
    if reopen {
        note_found_again(conn, ticket_id, item.id, observation)?;
    }
    Ok(reopen)
}

/// Closes the open alert items of `file` on the dataset's ticket of `kind` with a note
/// (e.g. "repaired from …"); the ticket closes when no item is left open. Returns the
/// ticket when an item was closed.
pub fn resolve_alert(
    conn: &mut AnyConnection,
    dataset_id: i64,
    kind: &str,
    file: &str,
    note: &str,
) -> Result<Option<i64>, DomainError> {
    let open: Vec<(ItemRow, i64)> = ticket_items::table
        .inner_join(tickets::table)
        .filter(tickets::dataset_id.eq(dataset_id))
        .filter(tickets::kind.eq(kind))
        .filter(ticket_items::file.eq(file))
        .filter(ticket_items::state.eq(ItemState::Open.as_str()))
        .select((ItemRow::as_select(), tickets::id))
        .load(conn)?;
    let Some(ticket_id) = open.first().map(|(_, t)| *t) else {
        return Ok(None);
    };
    let at = now();
    for (item, ticket) in &open {
        fix_item(
            conn,
            *ticket,
            item,
            at,
            &format!("{}: {note}", item.label()),
        )?;
    }
    if !close_when_settled(conn, ticket_id)? {
        touch(conn, ticket_id)?;
    }
    Ok(Some(ticket_id))
}

/// The open alert items of a kind on a dataset (or on every dataset), with the dataset.
pub fn open_alert_items(
    conn: &mut AnyConnection,
    kind: &str,
    code: &str,
    dataset_id: Option<i64>,
) -> Result<Vec<(ItemRow, i64)>, DomainError> {
    let mut q = ticket_items::table
        .inner_join(tickets::table)
        .filter(tickets::kind.eq(kind))
        .filter(ticket_items::code.eq(code))
        .filter(ticket_items::state.eq(ItemState::Open.as_str()))
        .into_boxed();
    if let Some(id) = dataset_id {
        q = q.filter(tickets::dataset_id.eq(id));
    }
    Ok(q.order(ticket_items::id.asc())
        .select((ItemRow::as_select(), tickets::dataset_id))
        .load(conn)?)
}
