//! The rule that gates submission and publication: an open item of severity "error"
//! blocks until it is fixed or a curator waives it.

use diesel::prelude::*;
use std::collections::HashMap;

use super::model::{item_label, ItemRow, ItemState};
use crate::db::schema::{ticket_items, tickets};
use crate::db::AnyConnection;
use crate::error::DomainError;

/// The severity whose open items block.
pub const BLOCKING_SEVERITY: &str = "error";

/// The errors that keep a dataset from being submitted or published.
pub fn blocking_items(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Vec<ItemRow>, DomainError> {
    Ok(ticket_items::table
        .inner_join(tickets::table)
        .filter(tickets::dataset_id.eq(dataset_id))
        .filter(ticket_items::state.eq(ItemState::Open.as_str()))
        .filter(ticket_items::severity.eq(BLOCKING_SEVERITY))
        .order((ticket_items::file.asc(), ticket_items::code.asc()))
        .select(ItemRow::as_select())
        .load(conn)?)
}

/// How many blocking items each of these datasets has (datasets without any are left
/// out), for queues that show many datasets at once.
pub fn blocking_counts(
    conn: &mut AnyConnection,
    dataset_ids: &[i64],
) -> Result<HashMap<i64, i64>, DomainError> {
    let mut out = HashMap::new();
    // Chunked so the IN list stays within every backend's bind limit.
    for chunk in dataset_ids.chunks(500) {
        let counts: Vec<(i64, i64)> = ticket_items::table
            .inner_join(tickets::table)
            .filter(tickets::dataset_id.eq_any(chunk))
            .filter(ticket_items::state.eq(ItemState::Open.as_str()))
            .filter(ticket_items::severity.eq(BLOCKING_SEVERITY))
            .group_by(tickets::dataset_id)
            .select((tickets::dataset_id, diesel::dsl::count_star()))
            .load(conn)?;
        out.extend(counts);
    }
    Ok(out)
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
