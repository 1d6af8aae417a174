//! How tickets and items change state, including the one rule that closes a ticket by
//! itself ([`close_when_settled`]). Every change writes its event in the thread, so the
//! history shows who (or which run) did what.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{item_label, now, ItemRow, ItemState, Observation, TicketState};
use crate::db::schema::{ticket_events, ticket_items, tickets};
use crate::db::AnyConnection;
use crate::error::DomainError;

/// Appends an event to a ticket's thread; returns its id. `actor_id` None: holdfast.
pub(crate) fn add_event(
    conn: &mut AnyConnection,
    ticket_id: i64,
    item_id: Option<i64>,
    actor_id: Option<i64>,
    kind: &str,
    body: &str,
) -> Result<i64, DomainError> {
    Ok(crate::insert_returning_id!(
        conn,
        crate::db::schema::ticket_events,
        (
            ticket_events::ticket_id.eq(ticket_id),
            ticket_events::item_id.eq(item_id),
            ticket_events::actor_id.eq(actor_id),
            ticket_events::kind.eq(kind),
            ticket_events::body.eq(body),
            ticket_events::created_at.eq(now()),
        )
    )?)
}

/// Marks the ticket as changed now (the lists sort by it).
pub(crate) fn touch(conn: &mut AnyConnection, ticket_id: i64) -> Result<(), DomainError> {
    diesel::update(tickets::table.find(ticket_id))
        .set(tickets::updated_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

/// Opens a new ticket of `kind` on a dataset; returns its id.
pub(crate) fn insert_ticket(
    conn: &mut AnyConnection,
    dataset_id: i64,
    kind: &str,
    title: &str,
    opened_by: Option<i64>,
) -> Result<i64, DomainError> {
    let at = now();
    Ok(crate::insert_returning_id!(
        conn,
        crate::db::schema::tickets,
        (
            tickets::dataset_id.eq(dataset_id),
            tickets::kind.eq(kind),
            tickets::title.eq(title),
            tickets::state.eq(TicketState::Open.as_str()),
            tickets::opened_by.eq(opened_by),
            tickets::created_at.eq(at),
            tickets::updated_at.eq(at),
        )
    )?)
}

/// Sets a ticket's state; a closed ticket remembers when it closed.
pub(crate) fn set_ticket_state(
    conn: &mut AnyConnection,
    id: i64,
    state: TicketState,
) -> Result<(), DomainError> {
    let closed_at = (state == TicketState::Closed).then(now);
    diesel::update(tickets::table.find(id))
        .set((
            tickets::state.eq(state.as_str()),
            tickets::closed_at.eq(closed_at),
            tickets::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many items of a ticket are still open.
pub(crate) fn open_item_count(
    conn: &mut AnyConnection,
    ticket_id: i64,
) -> Result<i64, DomainError> {
    Ok(ticket_items::table
        .filter(ticket_items::ticket_id.eq(ticket_id))
        .filter(ticket_items::state.eq(ItemState::Open.as_str()))
        .count()
        .get_result(conn)?)
}

/// Adds a new open item for an observation, with its "item-added" event; returns its
/// label.
pub(crate) fn add_item(
    conn: &mut AnyConnection,
    ticket_id: i64,
    o: &Observation,
    at: NaiveDateTime,
) -> Result<String, DomainError> {
    let id = crate::insert_returning_id!(
        conn,
        crate::db::schema::ticket_items,
        (
            ticket_items::ticket_id.eq(ticket_id),
            ticket_items::file.eq(&o.file),
            ticket_items::code.eq(&o.code),
            ticket_items::standard.eq(&o.standard),
            ticket_items::severity.eq(&o.severity),
            ticket_items::state.eq(ItemState::Open.as_str()),
            ticket_items::occurrences.eq(o.occurrences),
            ticket_items::message.eq(&o.message),
            ticket_items::findings.eq(&o.findings),
            ticket_items::first_seen_at.eq(at),
            ticket_items::last_seen_at.eq(at),
        )
    )?;
    let label = item_label(&o.file, &o.code);
    add_event(
        conn,
        ticket_id,
        Some(id),
        None,
        "item-added",
        &format!("New {}: {label}: {}", o.severity, o.message),
    )?;
    Ok(label)
}

/// An item whose problem is gone: fixed now, with an "item-fixed" event saying `body`.
pub(crate) fn fix_item(
    conn: &mut AnyConnection,
    ticket_id: i64,
    item: &ItemRow,
    at: NaiveDateTime,
    body: &str,
) -> Result<(), DomainError> {
    diesel::update(ticket_items::table.find(item.id))
        .set((
            ticket_items::state.eq(ItemState::Fixed.as_str()),
            ticket_items::resolved_at.eq(Some(at)),
        ))
        .execute(conn)?;
    add_event(conn, ticket_id, Some(item.id), None, "item-fixed", body)?;
    Ok(())
}

/// Loads a ticket's row.
pub(crate) fn ticket_row(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<super::model::TicketRow, DomainError> {
    Ok(tickets::table
        .find(id)
        .select(super::model::TicketRow::as_select())
        .first(conn)?)
}

/// The dataset's newest ticket of a kind (validation, fixity, …), open or closed.
pub(crate) fn latest_of_kind(
    conn: &mut AnyConnection,
    dataset_id: i64,
    kind: &str,
) -> Result<Option<super::model::TicketRow>, DomainError> {
    Ok(tickets::table
        .filter(tickets::dataset_id.eq(dataset_id))
        .filter(tickets::kind.eq(kind))
        .order(tickets::id.desc())
        .select(super::model::TicketRow::as_select())
        .first(conn)
        .optional()?)
}

/// Notes in the thread that an item fixed earlier is found again; its label.
pub(crate) fn note_found_again(
    conn: &mut AnyConnection,
    ticket_id: i64,
    item_id: i64,
    observation: &super::model::Observation,
) -> Result<String, DomainError> {
    let label = super::model::item_label(&observation.file, &observation.code);
    add_event(
        conn,
        ticket_id,
        Some(item_id),
        None,
        "item-reopened",
        &format!("Found again: {label}: {}", observation.message),
    )?;
    Ok(label)
}

/// What the thread says when a ticket closes by itself.
pub(crate) const SETTLED_NOTE: &str = "Closed: every item is fixed or waived.";

/// The one rule that closes a ticket by itself: after its items changed (a run no longer
/// finds a problem, an alert is resolved, a curator waives an item), an open ticket with
/// no item left open closes. Returns whether it closed.
pub(crate) fn close_when_settled(
    conn: &mut AnyConnection,
    ticket_id: i64,
) -> Result<bool, DomainError> {
    let ticket = ticket_row(conn, ticket_id)?;
    if !ticket.is_open() || open_item_count(conn, ticket_id)? > 0 {
        return Ok(false);
    }
    set_ticket_state(conn, ticket_id, TicketState::Closed)?;
    add_event(conn, ticket_id, None, None, "closed", SETTLED_NOTE)?;
    Ok(true)
}
