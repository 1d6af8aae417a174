//! A validation ticket kept in step with the latest validation run: one item per (file,
//! check); items close by themselves when a run no longer finds them and reopen when it
//! does again.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

use super::lifecycle::{
    add_event, add_item, close_when_settled, fix_item, insert_ticket, latest_of_kind,
    note_found_again, open_item_count, set_ticket_state, ticket_row, touch,
};
use super::model::{now, ItemRow, ItemState, Observation, TicketRow, TicketState};
use crate::db::schema::ticket_items;
use crate::db::AnyConnection;
use crate::error::DomainError;

/// The kind of the ticket a validation run keeps.
pub const VALIDATION_KIND: &str = "validation";

/// How a sync changed the ticket; `changed()` decides whether the depositor is told.
#[derive(Clone, Debug, Default)]
pub struct SyncOutcome {
    pub ticket_id: Option<i64>,
    pub opened: bool,
    pub added: Vec<String>,
    pub reopened: Vec<String>,
    pub fixed: Vec<String>,
}

impl SyncOutcome {
    pub fn changed(&self) -> bool {
        self.opened || !self.added.is_empty() || !self.reopened.is_empty() || !self.fixed.is_empty()
    }
}

/// Brings the dataset's validation ticket in line with a run's observations. Call it
/// inside the transaction that records the run.
pub fn sync_validation(
    conn: &mut AnyConnection,
    dataset_id: i64,
    observations: &[Observation],
) -> Result<SyncOutcome, DomainError> {
    let mut outcome = SyncOutcome::default();
    let Some(ticket) = validation_ticket(conn, dataset_id, observations, &mut outcome)? else {
        return Ok(outcome);
    };
    outcome.ticket_id = Some(ticket.id);
    let at = now();
    let items: Vec<ItemRow> = ticket_items::table
        .filter(ticket_items::ticket_id.eq(ticket.id))
        .select(ItemRow::as_select())
        .load(conn)?;
    let mut by_key: HashMap<(String, String), ItemRow> = items
        .into_iter()
        .map(|i| ((i.file.clone(), i.code.clone()), i))
        .collect();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for o in observations {
        let key = (o.file.clone(), o.code.clone());
        if !seen.insert(key.clone()) {
            continue; // one item per (file, check); the caller merged standards already
        }
        match by_key.remove(&key) {
            Some(item) => refresh_item(conn, ticket.id, &item, o, at, &mut outcome)?,
            None => outcome.added.push(add_item(conn, ticket.id, o, at)?),
        }
    }
    // Whatever the run no longer finds is fixed (a waived item too: its problem is gone).
    for item in by_key.into_values() {
        if item.state == ItemState::Fixed {
            continue;
        }
        let label = item.label();
        fix_item(
            conn,
            ticket.id,
            &item,
            at,
            &format!("No longer found: {label}"),
        )?;
        outcome.fixed.push(label);
    }
    settle_ticket(conn, &ticket, &outcome)?;
    if outcome.changed() {
        touch(conn, ticket.id)?;
    }
    Ok(outcome)
}

/// The dataset's latest validation ticket, opened when the run found problems and there
/// is none yet; None when there is nothing to track.
fn validation_ticket(
    conn: &mut AnyConnection,
    dataset_id: i64,
    observations: &[Observation],
    outcome: &mut SyncOutcome,
) -> Result<Option<TicketRow>, DomainError> {
    let existing = latest_of_kind(conn, dataset_id, VALIDATION_KIND)?;
    match existing {
        Some(t) => Ok(Some(t)),
        None if observations.is_empty() => Ok(None),
        None => {
            let id = insert_ticket(
                conn,
                dataset_id,
                VALIDATION_KIND,
                "Data standards check",
                None,
            )?;
            add_event(
                conn,
                id,
                None,
                None,
                "opened",
                "The data standards check found problems in this dataset.",
            )?;
            outcome.opened = true;
            Ok(Some(ticket_row(conn, id)?))
        }
    }
}

/// An item the run found again: its evidence is the run's; a fixed one reopens.
fn refresh_item(
    conn: &mut AnyConnection,
    ticket_id: i64,
    item: &ItemRow,
    o: &Observation,
    at: NaiveDateTime,
    outcome: &mut SyncOutcome,
) -> Result<(), DomainError> {
    diesel::update(ticket_items::table.find(item.id))
        .set((
            ticket_items::severity.eq(&o.severity),
            ticket_items::standard.eq(&o.standard),
            ticket_items::occurrences.eq(o.occurrences),
            ticket_items::message.eq(&o.message),
            ticket_items::findings.eq(&o.findings),
            ticket_items::last_seen_at.eq(at),
        ))
        .execute(conn)?;
    if item.state != ItemState::Fixed {
        return Ok(());
    }
    diesel::update(ticket_items::table.find(item.id))
        .set((
            ticket_items::state.eq(ItemState::Open.as_str()),
            ticket_items::resolved_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    let label = note_found_again(conn, ticket_id, item.id, o)?;
    outcome.reopened.push(label);
    Ok(())
}

/// Reopens the ticket when items are open again; when the run changed something, the
/// ticket closes if nothing is left open.
fn settle_ticket(
    conn: &mut AnyConnection,
    ticket: &TicketRow,
    outcome: &SyncOutcome,
) -> Result<(), DomainError> {
    let open_items: i64 = open_item_count(conn, ticket.id)?;
    if open_items > 0 && !ticket.is_open() {
        set_ticket_state(conn, ticket.id, TicketState::Open)?;
        add_event(
            conn,
            ticket.id,
            None,
            None,
            "reopened",
            "Reopened: the data standards check found new problems.",
        )?;
    } else if outcome.changed() {
        close_when_settled(conn, ticket.id)?;
    }
    Ok(())
}
