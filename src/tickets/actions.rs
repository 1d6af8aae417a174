//! What curators do on a ticket: waive an item or withdraw the waiver, assign, set a due
//! date, close or reopen by hand.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::access::{load_for, require_curator};
use super::lifecycle::{add_event, close_when_settled, set_ticket_state, touch};
use super::model::{clean_text, now, ItemRow, ItemState, TicketState, MAX_TEXT};
use crate::accounts::User;
use crate::config::Settings;
use crate::db::schema::{ticket_items, tickets};
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::mail::{self, Notice, NotificationKind};

/// Waives an open item with a reason: it stays visible but no longer blocks.
pub fn waive(
    conn: &mut AnyConnection,
    settings: &Settings,
    user: &User,
    ticket_id: i64,
    item_id: i64,
    reason: &str,
) -> Result<ItemRow, DomainError> {
    require_curator(user)?;
    crate::db::transaction(conn, |conn| {
        let access = load_for(conn, user, ticket_id)?;
        let reason = clean_text("reason", reason, true, MAX_TEXT)?;
        let item = item_of(conn, ticket_id, item_id)?;
        if !item.is_open() {
            return Err(DomainError::Conflict(format!(
                "this item is {}; only open items can be waived",
                item.state
            )));
        }
        diesel::update(
            ticket_items::table
                .find(item_id)
                .filter(ticket_items::state.eq(ItemState::Open.as_str())),
        )
        .set((
            ticket_items::state.eq(ItemState::Waived.as_str()),
            ticket_items::waiver_reason.eq(&reason),
            ticket_items::waived_by.eq(user.id),
            ticket_items::waived_at.eq(now()),
        ))
        .execute(conn)?;
        let label = item.label();
        add_event(
            conn,
            ticket_id,
            Some(item_id),
            Some(user.id),
            "waived",
            &format!("Waived {label}: {reason}"),
        )?;
        close_when_settled(conn, ticket_id)?;
        touch(conn, ticket_id)?;
        let notice = Notice {
            kind: NotificationKind::TicketUpdated,
            subject: format!("Waived on ticket #{ticket_id}: {label}"),
            headline: format!(
                "{} waived the {} \"{label}\" on ticket #{ticket_id}.",
                user.name, item.severity
            ),
            lines: vec![format!("Reason: {reason}")],
            link_path: format!("/tickets/{ticket_id}"),
        };
        mail::notify(conn, settings, &[access.dataset_owner], &notice)?;
        item_of(conn, ticket_id, item_id)
    })
}

/// Withdraws a waiver: the item is open (and blocking, if an error) again.
pub fn unwaive(
    conn: &mut AnyConnection,
    user: &User,
    ticket_id: i64,
    item_id: i64,
) -> Result<(), DomainError> {
    require_curator(user)?;
    crate::db::transaction(conn, |conn| {
        load_for(conn, user, ticket_id)?;
        let item = item_of(conn, ticket_id, item_id)?;
        if !item.is_waived() {
            return Err(DomainError::Conflict("this item is not waived".into()));
        }
        diesel::update(ticket_items::table.find(item_id))
            .set((
                ticket_items::state.eq(ItemState::Open.as_str()),
                ticket_items::waiver_reason.eq(None::<String>),
                ticket_items::waived_by.eq(None::<i64>),
                ticket_items::waived_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        add_event(
            conn,
            ticket_id,
            Some(item_id),
            Some(user.id),
            "unwaived",
            &format!("Waiver withdrawn: {}", item.label()),
        )?;
        set_ticket_state(conn, ticket_id, TicketState::Open)?;
        Ok(())
    })
}

/// One item of a ticket ("not found" when it belongs to another ticket).
fn item_of(conn: &mut AnyConnection, ticket_id: i64, item_id: i64) -> Result<ItemRow, DomainError> {
    Ok(ticket_items::table
        .filter(ticket_items::id.eq(item_id))
        .filter(ticket_items::ticket_id.eq(ticket_id))
        .select(ItemRow::as_select())
        .first(conn)?)
}

/// Assigns the ticket to a curator (or nobody).
pub fn assign(
    conn: &mut AnyConnection,
    user: &User,
    ticket_id: i64,
    assignee: Option<i64>,
) -> Result<(), DomainError> {
    require_curator(user)?;
    crate::db::transaction(conn, |conn| {
        load_for(conn, user, ticket_id)?;
        let note = match assignee {
            Some(id) => {
                let who = crate::accounts::users::find_by_id(conn, id)
                    .map_err(|_| DomainError::invalid("assignee", "no such account"))?;
                if !who.role.can_curate() {
                    return Err(DomainError::invalid(
                        "assignee",
                        "tickets can be assigned to curators only",
                    ));
                }
                format!("Assigned to {}", who.name)
            }
            None => "Unassigned".to_string(),
        };
        diesel::update(tickets::table.find(ticket_id))
            .set(tickets::assignee_id.eq(assignee))
            .execute(conn)?;
        add_event(conn, ticket_id, None, Some(user.id), "assigned", &note)?;
        touch(conn, ticket_id)
    })
}

/// Sets or clears the due date.
pub fn set_due(
    conn: &mut AnyConnection,
    user: &User,
    ticket_id: i64,
    due: Option<NaiveDate>,
) -> Result<(), DomainError> {
    require_curator(user)?;
    crate::db::transaction(conn, |conn| {
        load_for(conn, user, ticket_id)?;
        diesel::update(tickets::table.find(ticket_id))
            .set(tickets::due_date.eq(due))
            .execute(conn)?;
        let note = match due {
            Some(d) => format!("Due date set to {d}"),
            None => "Due date cleared".into(),
        };
        add_event(conn, ticket_id, None, Some(user.id), "due", &note)?;
        touch(conn, ticket_id)
    })
}

/// Closes or reopens a ticket by hand (curators).
pub fn set_state(
    conn: &mut AnyConnection,
    user: &User,
    ticket_id: i64,
    state: TicketState,
) -> Result<(), DomainError> {
    require_curator(user)?;
    crate::db::transaction(conn, |conn| {
        let access = load_for(conn, user, ticket_id)?;
        if access.ticket.state == state {
            return Ok(());
        }
        let (kind, note) = match state {
            TicketState::Open => ("reopened", "Reopened"),
            TicketState::Closed => ("closed", "Closed"),
        };
        set_ticket_state(conn, ticket_id, state)?;
        add_event(conn, ticket_id, None, Some(user.id), kind, note)?;
        Ok(())
    })
}
