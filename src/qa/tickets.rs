//! QA tickets: one per problem area of a dataset, with items, a thread and a history.
//!
//! A validation ticket is kept in step with the latest validation run by
//! [`sync_validation`]: one item per (file, check); items close by themselves when a run
//! no longer finds them and reopen when it does again. Nothing is deleted: items only
//! change state, and every change is an event in the ticket's thread.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::accounts::User;
use crate::config::Settings;
use crate::db::schema::{dataset_versions, datasets, ticket_events, ticket_items, tickets, users};
use crate::db::AnyConnection;
use crate::error::DomainError;
use crate::mail::{self, Notice, NotificationKind};

/// Longest comment or waiver reason accepted.
pub const MAX_TEXT: usize = 20_000;
/// Longest ticket title.
pub const MAX_TITLE: usize = 300;

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = tickets)]
pub struct TicketRow {
    pub id: i64,
    pub dataset_id: i64,
    pub kind: String,
    pub title: String,
    pub state: String,
    pub opened_by: Option<i64>,
    pub assignee_id: Option<i64>,
    pub due_date: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
}

impl TicketRow {
    pub fn is_open(&self) -> bool {
        self.state == "open"
    }
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = ticket_items)]
pub struct ItemRow {
    pub id: i64,
    pub ticket_id: i64,
    pub file: String,
    pub code: String,
    pub standard: String,
    pub severity: String,
    pub state: String,
    pub occurrences: i64,
    pub message: String,
    /// JSON array of up to a hundred findings of this (file, check), as the report shows them.
    #[serde(skip)]
    pub findings: String,
    pub waiver_reason: Option<String>,
    pub waived_by: Option<i64>,
    pub waived_at: Option<NaiveDateTime>,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

impl ItemRow {
    /// An error nobody fixed or waived: it blocks submission and publication.
    pub fn is_blocking(&self) -> bool {
        self.state == "open" && self.severity == "error"
    }

    pub fn findings_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.findings).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = ticket_events)]
pub struct EventRow {
    pub id: i64,
    pub ticket_id: i64,
    pub item_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub kind: String,
    pub body: String,
    pub attachment_name: Option<String>,
    #[serde(skip)]
    pub attachment_blob: Option<String>,
    pub attachment_size: Option<i64>,
    pub attachment_sha256: Option<String>,
    pub created_at: NaiveDateTime,
}

/// An event with its author's name (None: holdfast itself).
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub row: EventRow,
    pub actor_name: Option<String>,
}

/// What one validation run saw for one (file, check).
#[derive(Clone, Debug)]
pub struct Observation {
    /// The dataset path, or "" for dataset-level findings.
    pub file: String,
    pub code: String,
    pub standard: String,
    /// "error" or "warning".
    pub severity: String,
    /// All occurrences, including those beyond the report's cap.
    pub occurrences: i64,
    /// The first finding's message.
    pub message: String,
    /// JSON array of the kept findings.
    pub findings: String,
}

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

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn item_label(file: &str, code: &str) -> String {
    if file.is_empty() {
        format!("{code} (dataset)")
    } else {
        format!("{code} in {file}")
    }
}

fn add_event(
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

fn touch(conn: &mut AnyConnection, ticket_id: i64) -> Result<(), DomainError> {
    diesel::update(tickets::table.find(ticket_id))
        .set(tickets::updated_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

fn insert_ticket(
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
            tickets::state.eq("open"),
            tickets::opened_by.eq(opened_by),
            tickets::created_at.eq(at),
            tickets::updated_at.eq(at),
        )
    )?)
}

/// Brings the dataset's validation ticket in line with a run's observations. Call it
/// inside the transaction that records the run.
pub fn sync_validation(
    conn: &mut AnyConnection,
    dataset_id: i64,
    observations: &[Observation],
) -> Result<SyncOutcome, DomainError> {
    let mut outcome = SyncOutcome::default();
    let existing: Option<TicketRow> = tickets::table
        .filter(tickets::dataset_id.eq(dataset_id))
        .filter(tickets::kind.eq("validation"))
        .order(tickets::id.desc())
        .select(TicketRow::as_select())
        .first(conn)
        .optional()?;
    let ticket = match existing {
        Some(t) => t,
        None if observations.is_empty() => return Ok(outcome),
        None => {
            let id = insert_ticket(conn, dataset_id, "validation", "Data standards check", None)?;
            add_event(
                conn,
                id,
                None,
                None,
                "opened",
                "The data standards check found problems in this dataset.",
            )?;
            outcome.opened = true;
            tickets::table
                .find(id)
                .select(TicketRow::as_select())
                .first(conn)?
        }
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
            Some(item) => {
                let reopen = item.state == "fixed";
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
                if reopen {
                    diesel::update(ticket_items::table.find(item.id))
                        .set((
                            ticket_items::state.eq("open"),
                            ticket_items::resolved_at.eq(None::<NaiveDateTime>),
                        ))
                        .execute(conn)?;
                    let label = item_label(&o.file, &o.code);
                    add_event(
                        conn,
                        ticket.id,
                        Some(item.id),
                        None,
                        "item-reopened",
                        &format!("Found again: {label}: {}", o.message),
                    )?;
                    outcome.reopened.push(label);
                }
            }
            None => {
                let label = add_item(conn, ticket.id, o, at)?;
                outcome.added.push(label);
            }
        }
    }
    // Whatever the run no longer finds is fixed (a waived item too: its problem is gone).
    for item in by_key.into_values() {
        if item.state == "fixed" {
            continue;
        }
        diesel::update(ticket_items::table.find(item.id))
            .set((
                ticket_items::state.eq("fixed"),
                ticket_items::resolved_at.eq(Some(at)),
            ))
            .execute(conn)?;
        let label = item_label(&item.file, &item.code);
        add_event(
            conn,
            ticket.id,
            Some(item.id),
            None,
            "item-fixed",
            &format!("No longer found: {label}"),
        )?;
        outcome.fixed.push(label);
    }
    let open_items: i64 = open_item_count(conn, ticket.id)?;
    if open_items > 0 && !ticket.is_open() {
        set_ticket_state(conn, ticket.id, "open")?;
        add_event(
            conn,
            ticket.id,
            None,
            None,
            "reopened",
            "Reopened: the data standards check found new problems.",
        )?;
    } else if open_items == 0 && ticket.is_open() && outcome.changed() {
        set_ticket_state(conn, ticket.id, "closed")?;
        add_event(
            conn,
            ticket.id,
            None,
            None,
            "closed",
            "Closed: every item is fixed or waived.",
        )?;
    }
    if outcome.changed() {
        touch(conn, ticket.id)?;
    }
    Ok(outcome)
}

/// Adds a new open item for an observation, with its "item-added" event; returns its
/// label.
fn add_item(
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
            ticket_items::state.eq("open"),
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

/// How many items of a ticket are still open.
fn open_item_count(conn: &mut AnyConnection, ticket_id: i64) -> Result<i64, DomainError> {
    Ok(ticket_items::table
        .filter(ticket_items::ticket_id.eq(ticket_id))
        .filter(ticket_items::state.eq("open"))
        .count()
        .get_result(conn)?)
}

fn set_ticket_state(conn: &mut AnyConnection, id: i64, state: &str) -> Result<(), DomainError> {
    let closed_at = (state == "closed").then(now);
    diesel::update(tickets::table.find(id))
        .set((
            tickets::state.eq(state),
            tickets::closed_at.eq(closed_at),
            tickets::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The errors that keep a dataset from being submitted or published.
pub fn blocking_items(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Vec<ItemRow>, DomainError> {
    Ok(ticket_items::table
        .inner_join(tickets::table)
        .filter(tickets::dataset_id.eq(dataset_id))
        .filter(ticket_items::state.eq("open"))
        .filter(ticket_items::severity.eq("error"))
        .order((ticket_items::file.asc(), ticket_items::code.asc()))
        .select(ItemRow::as_select())
        .load(conn)?)
}

/// Refuses with the list of blocking items when there are any.
pub fn ensure_no_blocking_items(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<(), DomainError> {
    let blocking = blocking_items(conn, dataset_id)?;
    if blocking.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = blocking
        .iter()
        .take(20)
        .map(|i| format!("{}: {}", item_label(&i.file, &i.code), i.message))
        .collect();
    let more = blocking.len().saturating_sub(list.len());
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    Err(DomainError::Conflict(format!(
        "{} open error(s) must be fixed or waived by a curator first: {}{tail}",
        blocking.len(),
        list.join("; ")
    )))
}

/// Who may see a ticket: the dataset's owner and curators.
pub struct TicketAccess {
    pub ticket: TicketRow,
    pub dataset_owner: i64,
}

/// Loads a ticket the user may see; anyone else gets "not found", so ticket ids of
/// other people's datasets reveal nothing.
pub fn load_for(
    conn: &mut AnyConnection,
    user: &User,
    id: i64,
) -> Result<TicketAccess, DomainError> {
    let (ticket, owner): (TicketRow, i64) = tickets::table
        .inner_join(datasets::table)
        .filter(tickets::id.eq(id))
        .select((TicketRow::as_select(), datasets::owner_id))
        .first(conn)?;
    crate::deposit::service::access_of(conn, Some(user), ticket.dataset_id)?.check_see_tickets()?;
    Ok(TicketAccess {
        ticket,
        dataset_owner: owner,
    })
}

fn require_curator(user: &User) -> Result<(), DomainError> {
    crate::accounts::access::require_curator(user, "do this on a ticket")
}

/// Trims and bounds free text; empty text is refused when `required`.
pub fn clean_text(
    field: &str,
    text: &str,
    required: bool,
    max: usize,
) -> Result<String, DomainError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(DomainError::invalid(field, "write something here"));
    }
    if text.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("keep this under {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(text.to_string())
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
        let item: ItemRow = ticket_items::table
            .filter(ticket_items::id.eq(item_id))
            .filter(ticket_items::ticket_id.eq(ticket_id))
            .select(ItemRow::as_select())
            .first(conn)?;
        if item.state != "open" {
            return Err(DomainError::Conflict(format!(
                "this item is {}; only open items can be waived",
                item.state
            )));
        }
        let at = now();
        diesel::update(
            ticket_items::table
                .find(item_id)
                .filter(ticket_items::state.eq("open")),
        )
        .set((
            ticket_items::state.eq("waived"),
            ticket_items::waiver_reason.eq(&reason),
            ticket_items::waived_by.eq(user.id),
            ticket_items::waived_at.eq(at),
        ))
        .execute(conn)?;
        add_event(
            conn,
            ticket_id,
            Some(item_id),
            Some(user.id),
            "waived",
            &format!("Waived {}: {reason}", item_label(&item.file, &item.code)),
        )?;
        close_if_settled(conn, ticket_id)?;
        touch(conn, ticket_id)?;
        let label = item_label(&item.file, &item.code);
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
        let recipients = [access.dataset_owner];
        mail::notify(conn, settings, &recipients, &notice)?;
        Ok(ticket_items::table
            .find(item_id)
            .select(ItemRow::as_select())
            .first(conn)?)
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
        let item: ItemRow = ticket_items::table
            .filter(ticket_items::id.eq(item_id))
            .filter(ticket_items::ticket_id.eq(ticket_id))
            .select(ItemRow::as_select())
            .first(conn)?;
        if item.state != "waived" {
            return Err(DomainError::Conflict("this item is not waived".into()));
        }
        diesel::update(ticket_items::table.find(item_id))
            .set((
                ticket_items::state.eq("open"),
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
            &format!("Waiver withdrawn: {}", item_label(&item.file, &item.code)),
        )?;
        set_ticket_state(conn, ticket_id, "open")?;
        Ok(())
    })
}

/// A validation ticket whose items are all settled closes by itself.
fn close_if_settled(conn: &mut AnyConnection, ticket_id: i64) -> Result<(), DomainError> {
    let ticket: TicketRow = tickets::table
        .find(ticket_id)
        .select(TicketRow::as_select())
        .first(conn)?;
    if ticket.kind != "validation" || !ticket.is_open() {
        return Ok(());
    }
    let open: i64 = open_item_count(conn, ticket_id)?;
    if open == 0 {
        set_ticket_state(conn, ticket_id, "closed")?;
        add_event(
            conn,
            ticket_id,
            None,
            None,
            "closed",
            "Closed: every item is fixed or waived.",
        )?;
    }
    Ok(())
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

/// Parses a due date from a form or JSON (`YYYY-MM-DD`; empty clears it).
pub fn parse_due(text: &str) -> Result<Option<NaiveDate>, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| DomainError::invalid("due_date", "use a date like 2026-12-31"))
}

/// Closes or reopens a ticket by hand (curators).
pub fn set_open(
    conn: &mut AnyConnection,
    user: &User,
    ticket_id: i64,
    open: bool,
) -> Result<(), DomainError> {
    require_curator(user)?;
    crate::db::transaction(conn, |conn| {
        let access = load_for(conn, user, ticket_id)?;
        if access.ticket.is_open() == open {
            return Ok(());
        }
        let (state, kind, note) = if open {
            ("open", "reopened", "Reopened")
        } else {
            ("closed", "closed", "Closed")
        };
        set_ticket_state(conn, ticket_id, state)?;
        add_event(conn, ticket_id, None, Some(user.id), kind, note)?;
        Ok(())
    })
}

/// What an alert raised: the ticket, and whether the item is new or came back (the
/// cases worth telling people about).
#[derive(Clone, Debug)]
pub struct Alert {
    pub ticket_id: i64,
    pub newly_raised: bool,
}

/// Raises an archive-side alert on a dataset (e.g. a fixity failure): the dataset's open
/// ticket of `kind` (opened if there is none) gets an item per (file, code), added or
/// reopened; an item already open is refreshed with the latest evidence. Inside the
/// caller's transaction.
pub fn raise_alert(
    conn: &mut AnyConnection,
    dataset_id: i64,
    kind: &str,
    title: &str,
    observation: &Observation,
) -> Result<Alert, DomainError> {
    let existing: Option<TicketRow> = tickets::table
        .filter(tickets::dataset_id.eq(dataset_id))
        .filter(tickets::kind.eq(kind))
        .order(tickets::id.desc())
        .select(TicketRow::as_select())
        .first(conn)
        .optional()?;
    let ticket_id = match existing {
        Some(t) => {
            if !t.is_open() {
                set_ticket_state(conn, t.id, "open")?;
                add_event(conn, t.id, None, None, "reopened", "Reopened: a new alert.")?;
            }
            t.id
        }
        None => {
            let id = insert_ticket(conn, dataset_id, kind, title, None)?;
            add_event(conn, id, None, None, "opened", title)?;
            id
        }
    };
    let at = now();
    let item: Option<ItemRow> = ticket_items::table
        .filter(ticket_items::ticket_id.eq(ticket_id))
        .filter(ticket_items::file.eq(&observation.file))
        .filter(ticket_items::code.eq(&observation.code))
        .select(ItemRow::as_select())
        .first(conn)
        .optional()?;
    let label = item_label(&observation.file, &observation.code);
    let newly_raised = match item {
        Some(item) => {
            let reopen = item.state != "open";
            diesel::update(ticket_items::table.find(item.id))
                .set((
                    ticket_items::state.eq("open"),
                    ticket_items::resolved_at.eq(None::<NaiveDateTime>),
                    ticket_items::severity.eq(&observation.severity),
                    ticket_items::occurrences.eq(item.occurrences + 1),
                    ticket_items::message.eq(&observation.message),
                    ticket_items::findings.eq(&observation.findings),
                    ticket_items::last_seen_at.eq(at),
                ))
                .execute(conn)?;
            if reopen {
                add_event(
                    conn,
                    ticket_id,
                    Some(item.id),
                    None,
                    "item-reopened",
                    &format!("Found again: {label}: {}", observation.message),
                )?;
            }
            reopen
        }
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
        .filter(ticket_items::state.eq("open"))
        .select((ItemRow::as_select(), tickets::id))
        .load(conn)?;
    let Some(ticket_id) = open.first().map(|(_, t)| *t) else {
        return Ok(None);
    };
    let at = now();
    for (item, ticket) in &open {
        diesel::update(ticket_items::table.find(item.id))
            .set((
                ticket_items::state.eq("fixed"),
                ticket_items::resolved_at.eq(Some(at)),
            ))
            .execute(conn)?;
        add_event(
            conn,
            *ticket,
            Some(item.id),
            None,
            "item-fixed",
            &format!("{}: {note}", item_label(&item.file, &item.code)),
        )?;
    }
    let still_open: i64 = open_item_count(conn, ticket_id)?;
    if still_open == 0 {
        set_ticket_state(conn, ticket_id, "closed")?;
        add_event(
            conn,
            ticket_id,
            None,
            None,
            "closed",
            "Closed: every item is resolved.",
        )?;
    } else {
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
        .filter(ticket_items::state.eq("open"))
        .into_boxed();
    if let Some(id) = dataset_id {
        q = q.filter(tickets::dataset_id.eq(id));
    }
    Ok(q.order(ticket_items::id.asc())
        .select((ItemRow::as_select(), tickets::dataset_id))
        .load(conn)?)
}

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
        let id = insert_ticket(conn, dataset_id, "manual", &title, Some(user.id))?;
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
    let rank = |i: &ItemRow| match (i.state.as_str(), i.severity.as_str()) {
        ("open", "error") => 0,
        ("open", _) => 1,
        ("waived", _) => 2,
        _ => 3,
    };
    items.sort_by(|a, b| (rank(a), &a.file, &a.code).cmp(&(rank(b), &b.file, &b.code)));
    items
}

/// The latest title of each dataset, in one query.
fn titles_of(conn: &mut AnyConnection, ids: &[i64]) -> Result<HashMap<i64, String>, DomainError> {
    let rows: Vec<(i64, i32, String)> = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq_any(ids))
        .order((
            dataset_versions::dataset_id.asc(),
            dataset_versions::number.asc(),
        ))
        .select((
            dataset_versions::dataset_id,
            dataset_versions::number,
            dataset_versions::title,
        ))
        .load(conn)?;
    // Ordered by number, so the last one written per dataset is its latest version.
    Ok(rows.into_iter().map(|(id, _, title)| (id, title)).collect())
}

/// One line of a ticket list.
#[derive(Clone, Debug, Serialize)]
pub struct TicketSummary {
    #[serde(flatten)]
    pub ticket: TicketRow,
    pub dataset_title: String,
    pub assignee_name: Option<String>,
    pub open_items: i64,
    pub blocking_items: i64,
}

impl TicketSummary {
    /// Whole days since the ticket was opened.
    pub fn age_days(&self) -> i64 {
        (now() - self.ticket.created_at).num_days()
    }
}

/// Filters and order of the curators' ticket queue.
#[derive(Clone, Debug, Default)]
pub struct QueueQuery {
    /// "open" (default), "closed" or "all".
    pub state: String,
    /// "age" (oldest first, default), "due", "dataset", "assignee".
    pub sort: String,
    /// Only tickets assigned to this curator; `Some(0)`: only unassigned ones.
    pub assignee: Option<i64>,
    pub kind: Option<String>,
    pub limit: i64,
}

fn summarize(
    conn: &mut AnyConnection,
    rows: Vec<TicketRow>,
) -> Result<Vec<TicketSummary>, DomainError> {
    let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let dataset_ids: Vec<i64> = rows.iter().map(|t| t.dataset_id).collect();
    let titles = titles_of(conn, &dataset_ids)?;
    let counts: Vec<(i64, String, i64)> = ticket_items::table
        .filter(ticket_items::ticket_id.eq_any(&ids))
        .filter(ticket_items::state.eq("open"))
        .group_by((ticket_items::ticket_id, ticket_items::severity))
        .select((
            ticket_items::ticket_id,
            ticket_items::severity,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let mut open: HashMap<i64, (i64, i64)> = HashMap::new();
    for (id, severity, n) in counts {
        let e = open.entry(id).or_default();
        e.0 += n;
        if severity == "error" {
            e.1 += n;
        }
    }
    let assignee_ids: Vec<i64> = rows.iter().filter_map(|t| t.assignee_id).collect();
    let names: HashMap<i64, String> = users::table
        .filter(users::id.eq_any(&assignee_ids))
        .select((users::id, users::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|t| {
            let (open_items, blocking_items) = open.get(&t.id).copied().unwrap_or_default();
            TicketSummary {
                dataset_title: titles.get(&t.dataset_id).cloned().unwrap_or_default(),
                assignee_name: t.assignee_id.and_then(|a| names.get(&a).cloned()),
                open_items,
                blocking_items,
                ticket: t,
            }
        })
        .collect())
}

/// The curators' queue of tickets.
pub fn queue(
    conn: &mut AnyConnection,
    user: &User,
    q: &QueueQuery,
) -> Result<Vec<TicketSummary>, DomainError> {
    require_curator(user)?;
    let mut query = tickets::table.into_boxed();
    match q.state.as_str() {
        "closed" => query = query.filter(tickets::state.eq("closed")),
        "all" => {}
        _ => query = query.filter(tickets::state.eq("open")),
    }
    match q.assignee {
        Some(0) => query = query.filter(tickets::assignee_id.is_null()),
        Some(id) => query = query.filter(tickets::assignee_id.eq(id)),
        None => {}
    }
    if let Some(kind) = &q.kind {
        query = query.filter(tickets::kind.eq(kind.clone()));
    }
    query = match q.sort.as_str() {
        // Tickets without a due date go last.
        "due" => query.order((
            tickets::due_date.is_null().asc(),
            tickets::due_date.asc(),
            tickets::created_at.asc(),
        )),
        "dataset" => query.order((tickets::dataset_id.asc(), tickets::created_at.asc())),
        "assignee" => query.order((
            tickets::assignee_id.is_null().asc(),
            tickets::assignee_id.asc(),
            tickets::created_at.asc(),
        )),
        _ => query.order((tickets::created_at.asc(), tickets::id.asc())),
    };
    let limit = if q.limit > 0 { q.limit.min(1000) } else { 200 };
    let rows = query
        .limit(limit)
        .select(TicketRow::as_select())
        .load(conn)?;
    summarize(conn, rows)
}

/// Tickets on the user's own datasets, open first.
pub fn mine(conn: &mut AnyConnection, user: &User) -> Result<Vec<TicketSummary>, DomainError> {
    let rows = tickets::table
        .inner_join(datasets::table)
        .filter(datasets::owner_id.eq(user.id))
        .order((tickets::state.desc(), tickets::updated_at.desc()))
        .limit(500)
        .select(TicketRow::as_select())
        .load(conn)?;
    summarize(conn, rows)
}

/// Tickets of one dataset (owner and curators only).
pub fn of_dataset(
    conn: &mut AnyConnection,
    user: &User,
    dataset_id: i64,
) -> Result<Vec<TicketSummary>, DomainError> {
    crate::deposit::service::access_of(conn, Some(user), dataset_id)?.check_see_tickets()?;
    let rows = tickets::table
        .filter(tickets::dataset_id.eq(dataset_id))
        .order((tickets::state.desc(), tickets::id.asc()))
        .select(TicketRow::as_select())
        .load(conn)?;
    summarize(conn, rows)
}

/// All items of the dataset's tickets (for the API and the report's waiver notes).
pub fn items_of_dataset(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Vec<ItemRow>, DomainError> {
    Ok(ticket_items::table
        .inner_join(tickets::table)
        .filter(tickets::dataset_id.eq(dataset_id))
        .select(ItemRow::as_select())
        .load(conn)?)
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

/// A piece of comment text: plain text, or a link holdfast recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Link(String),
}

/// Splits comment text into text and http(s) links, so templates can show links as
/// links while escaping everything else. Trailing punctuation stays out of the link.
pub fn linkify(text: &str) -> Vec<Segment> {
    static URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"https?://[^\s<>\x22]+").expect("the URL pattern compiles")
    });
    let mut out = Vec::new();
    let mut last = 0;
    for m in URL.find_iter(text) {
        let url = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
        if m.start() > last {
            out.push(Segment::Text(text[last..m.start()].to_string()));
        }
        out.push(Segment::Link(url.to_string()));
        last = m.start() + url.len();
    }
    if last < text.len() {
        out.push(Segment::Text(text[last..].to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_and_punctuation_left_out() {
        let s = linkify("See https://example.org/a?b=1. And http://x.y/z), ok");
        assert_eq!(
            s,
            vec![
                Segment::Text("See ".into()),
                Segment::Link("https://example.org/a?b=1".into()),
                Segment::Text(". And ".into()),
                Segment::Link("http://x.y/z".into()),
                Segment::Text("), ok".into()),
            ]
        );
        assert_eq!(linkify("no links"), vec![Segment::Text("no links".into())]);
        // A javascript: URL is never a link.
        assert_eq!(
            linkify("javascript:alert(1)"),
            vec![Segment::Text("javascript:alert(1)".into())]
        );
    }

    #[test]
    fn text_is_trimmed_bounded_and_clean() {
        assert_eq!(clean_text("b", "  hi \n", true, 10).ok(), Some("hi".into()));
        assert!(clean_text("b", "   ", true, 10).is_err());
        assert_eq!(clean_text("b", "", false, 10).ok(), Some(String::new()));
        assert!(clean_text("b", "abcdefghijk", true, 10).is_err());
        assert!(clean_text("b", "a\u{0}b", true, 10).is_err());
    }

    #[test]
    fn due_dates_parse_or_clear() {
        assert_eq!(parse_due("").ok(), Some(None));
        assert_eq!(
            parse_due("2026-12-31").ok().flatten(),
            NaiveDate::from_ymd_opt(2026, 12, 31)
        );
        assert!(parse_due("31/12/2026").is_err());
    }
}
