//! Lists of tickets: the curators' queue, "my tickets", a dataset's tickets, each line
//! with its dataset's title, assignee and open item counts.

use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

use super::access::{dataset_owner_for, require_curator};
use super::blocking::BLOCKING_SEVERITY;
use super::model::{now, ItemRow, ItemState, TicketRow, TicketState};
use crate::accounts::User;
use crate::db::schema::{dataset_versions, datasets, ticket_items, tickets};
use crate::db::AnyConnection;
use crate::error::DomainError;

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
    /// Only tickets in this state; None: all.
    pub state: Option<TicketState>,
    /// "age" (oldest first, default), "due", "dataset", "assignee".
    pub sort: String,
    /// Only tickets assigned to this curator; `Some(0)`: only unassigned ones.
    pub assignee: Option<i64>,
    pub kind: Option<String>,
    pub limit: i64,
}

impl QueueQuery {
    /// The state filter a queue link names: "open" (also the default), "closed" or
    /// "all".
    pub fn state_filter(text: &str) -> Option<TicketState> {
        match text {
            "all" => None,
            other => Some(other.parse().unwrap_or(TicketState::Open)),
        }
    }
}

/// The curators' queue of tickets.
pub fn queue(
    conn: &mut AnyConnection,
    user: &User,
    q: &QueueQuery,
) -> Result<Vec<TicketSummary>, DomainError> {
    require_curator(user)?;
    let mut query = tickets::table.into_boxed();
    if let Some(state) = q.state {
        query = query.filter(tickets::state.eq(state.as_str()));
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
        // "open" sorts after "closed", so descending puts open tickets first.
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
    dataset_owner_for(conn, user, dataset_id)?;
    let rows = tickets::table
        .filter(tickets::dataset_id.eq(dataset_id))
        // Open tickets first (see `mine`).
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

/// The lines of a list: each ticket with its dataset's title, its assignee's name and
/// how many of its items are open and blocking.
fn summarize(
    conn: &mut AnyConnection,
    rows: Vec<TicketRow>,
) -> Result<Vec<TicketSummary>, DomainError> {
    let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let dataset_ids: Vec<i64> = rows.iter().map(|t| t.dataset_id).collect();
    let titles = titles_of(conn, &dataset_ids)?;
    let open = open_counts(conn, &ids)?;
    let assignee_ids: Vec<i64> = rows.iter().filter_map(|t| t.assignee_id).collect();
    let names = crate::accounts::users::names_of(conn, &assignee_ids)?;
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

/// Per ticket: (open items, of which blocking).
fn open_counts(
    conn: &mut AnyConnection,
    ticket_ids: &[i64],
) -> Result<HashMap<i64, (i64, i64)>, DomainError> {
    let counts: Vec<(i64, String, i64)> = ticket_items::table
        .filter(ticket_items::ticket_id.eq_any(ticket_ids))
        .filter(ticket_items::state.eq(ItemState::Open.as_str()))
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
        if severity == BLOCKING_SEVERITY {
            e.1 += n;
        }
    }
    Ok(open)
}

/// The latest title of each dataset, in one query.
pub(crate) fn titles_of(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<HashMap<i64, String>, DomainError> {
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
