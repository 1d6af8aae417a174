//! A ticket's thread: opening a ticket by hand, comments with attachments, and the
//! ticket page's contents (items and the history).

use diesel::prelude::*;
use serde::Serialize;
use std::collections::BTreeSet;

use super::access::{load_for, require_curator, TicketAccess};
use super::lifecycle::{add_event, insert_ticket, touch};
use super::model::{clean_text, Event, EventRow, ItemRow, ItemState, TicketRow};
use super::model::{MAX_TEXT, MAX_TITLE};
use super::queue::titles_of;
use crate::accounts::User;
use crate::config::Settings;
use crate::db::schema::{datasets, ticket_events, ticket_items, users};
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::mail::{self, Notice, NotificationKind};

/// The kind of a ticket a curator opens by hand.
pub const MANUAL_KIND: &str = "manual";

/// A curator opens a ticket by hand on any dataset; its owner is told. Returns the
/// ticket id.
pub fn open_manual(
    conn: &mut AnyConnection,
    settings: &Settings,
    user: &User,
    dataset_id: i64,
    title: &str,
    body: &str,
) -> Result<i64, DomainError> {
    require_curator(user)?;
    let title = clean_text("title", title, true, MAX_TITLE)?;
    if title.contains('\n') {
        return Err(DomainError::invalid("title", "keep the title on one line"));
    }
    let body = clean_text("body", body, true, MAX_TEXT)?;
    crate::db::transaction(conn, |conn| {
        let owner: i64 = datasets::table
            .find(dataset_id)
            .select(datasets::owner_id)
            .first(conn)?;
        let id = insert_ticket(conn, dataset_id, MANUAL_KIND, &title, Some(user.id))?;
        add_event(conn, id, None, Some(user.id), "opened", &body)?;
        let notice = Notice {
            kind: NotificationKind::TicketUpdated,
            subject: format!("New ticket #{id} on your dataset: {title}"),
            headline: format!("{} opened ticket #{id} on your dataset.", user.name),
            lines: vec![title.clone(), body.clone()],
            link_path: format!("/tickets/{id}"),
        };
        mail::notify(conn, settings, &[owner], &notice)?;
        Ok(id)
    })
}

/// A file attached to a comment, already stored under the attachments folder.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub name: String,
    pub blob: String,
    pub size: i64,
    pub sha256: String,
}

/// Adds a comment (and maybe a file) to the thread and tells the other side of the
/// conversation. Returns the event id.
pub fn comment(
    conn: &mut AnyConnection,
    settings: &Settings,
    user: &User,
    ticket_id: i64,
    body: &str,
    attachment: Option<Attachment>,
) -> Result<i64, DomainError> {
    crate::db::transaction(conn, |conn| {
        let access = load_for(conn, user, ticket_id)?;
        let body = clean_text("body", body, attachment.is_none(), MAX_TEXT)?;
        let event_id = add_event(conn, ticket_id, None, Some(user.id), "comment", &body)?;
        if let Some(a) = &attachment {
            diesel::update(ticket_events::table.find(event_id))
                .set((
                    ticket_events::attachment_name.eq(&a.name),
                    ticket_events::attachment_blob.eq(&a.blob),
                    ticket_events::attachment_size.eq(a.size),
                    ticket_events::attachment_sha256.eq(&a.sha256),
                ))
                .execute(conn)?;
        }
        touch(conn, ticket_id)?;
        let recipients = other_side(conn, &access, user.id)?;
        let mut lines = vec![body.clone()];
        if let Some(a) = &attachment {
            lines.push(format!("Attached: {} ({} bytes)", a.name, a.size));
        }
        let notice = Notice {
            kind: NotificationKind::NewComment,
            subject: format!(
                "New comment on ticket #{ticket_id}: {}",
                access.ticket.title
            ),
            headline: format!(
                "{} commented on ticket #{ticket_id} ({}).",
                user.name, access.ticket.title
            ),
            lines,
            link_path: format!("/tickets/{ticket_id}"),
        };
        mail::notify(conn, settings, &recipients, &notice)?;
        Ok(event_id)
    })
}

/// The people on the other side of a ticket from `actor`: the depositor when a curator
/// acts; when the depositor acts, the assignee, else the curators who took part, else
/// every curator.
fn other_side(
    conn: &mut AnyConnection,
    access: &TicketAccess,
    actor: i64,
) -> Result<Vec<i64>, DomainError> {
    let mut out = BTreeSet::new();
    if actor != access.dataset_owner {
        out.insert(access.dataset_owner);
        if let Some(a) = access.ticket.assignee_id {
            out.insert(a);
        }
    } else if let Some(a) = access.ticket.assignee_id {
        out.insert(a);
    } else {
        let participants: Vec<i64> = ticket_events::table
            .inner_join(users::table.on(ticket_events::actor_id.eq(users::id.nullable())))
            .filter(ticket_events::ticket_id.eq(access.ticket.id))
            .filter(users::role.ne("depositor"))
            .select(users::id)
            .distinct()
            .load(conn)?;
        if participants.is_empty() {
            out.extend(crate::accounts::users::curator_ids(conn)?);
        } else {
            out.extend(participants);
        }
    }
    out.remove(&actor);
    Ok(out.into_iter().collect())
}

/// The stored attachment of a comment, if the user may see the ticket.
pub fn attachment(
    conn: &mut AnyConnection,
    user: &User,
    ticket_id: i64,
    event_id: i64,
) -> Result<EventRow, DomainError> {
    load_for(conn, user, ticket_id)?;
    let event: EventRow = ticket_events::table
        .filter(ticket_events::id.eq(event_id))
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .select(EventRow::as_select())
        .first(conn)?;
    if event.attachment_blob.is_none() {
        return Err(DomainError::NotFound);
    }
    Ok(event)
}

/// Everything a ticket page shows.
#[derive(Clone, Debug, Serialize)]
pub struct TicketDetail {
    pub ticket: TicketRow,
    pub dataset_title: String,
    pub dataset_owner: i64,
    pub assignee_name: Option<String>,
    pub items: Vec<ItemRow>,
    pub events: Vec<Event>,
}

pub fn detail(
    conn: &mut AnyConnection,
    user: &User,
    ticket_id: i64,
) -> Result<TicketDetail, DomainError> {
    let access = load_for(conn, user, ticket_id)?;
    let items: Vec<ItemRow> = ticket_items::table
        .filter(ticket_items::ticket_id.eq(ticket_id))
        .select(ItemRow::as_select())
        .load(conn)?;
    let items = sort_items(items);
    let events: Vec<(EventRow, Option<String>)> = ticket_events::table
        .left_join(users::table.on(ticket_events::actor_id.eq(users::id.nullable())))
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .order(ticket_events::id.asc())
        .select((EventRow::as_select(), users::name.nullable()))
        .load(conn)?;
    let assignee_name = match access.ticket.assignee_id {
        Some(id) => Some(crate::accounts::users::find_by_id(conn, id)?.name),
        None => None,
    };
    let titles = titles_of(conn, &[access.ticket.dataset_id])?;
    Ok(TicketDetail {
        dataset_title: titles
            .get(&access.ticket.dataset_id)
            .cloned()
            .unwrap_or_default(),
        dataset_owner: access.dataset_owner,
        assignee_name,
        items,
        events: events
            .into_iter()
            .map(|(row, actor_name)| Event { row, actor_name })
            .collect(),
        ticket: access.ticket,
    })
}

/// Open blocking errors first, then open warnings, waived, fixed; by file and check.
fn sort_items(mut items: Vec<ItemRow>) -> Vec<ItemRow> {
    let rank = |i: &ItemRow| match i.state {
        _ if i.is_blocking() => 0,
        ItemState::Open => 1,
        ItemState::Waived => 2,
        ItemState::Fixed => 3,
    };
    items.sort_by(|a, b| (rank(a), &a.file, &a.code).cmp(&(rank(b), &b.file, &b.code)));
    items
}
