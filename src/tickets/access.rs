//! Who may see a ticket (as who may see its dataset's drafts) and who may act on it
//! (curators): both asked of the one access rule, `accounts::access`.

use diesel::prelude::*;

use super::model::TicketRow;
use crate::accounts::{access, Access, User};
use crate::db::schema::{datasets, tickets};
use crate::db::AnyConnection;
use crate::deposit::service;
use crate::error::DomainError;

/// A ticket the viewer may see, with the owner of its dataset.
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
    service::access_of(conn, Some(user), ticket.dataset_id)?.check_see_tickets()?;
    Ok(TicketAccess {
        ticket,
        dataset_owner: owner,
    })
}

/// The dataset's owner, when the user may see its tickets; "not found" otherwise.
pub(crate) fn dataset_owner_for(
    conn: &mut AnyConnection,
    user: &User,
    dataset_id: i64,
) -> Result<i64, DomainError> {
    let dataset = service::dataset_row(conn, dataset_id)?;
    Access::of(Some(user), &dataset.access_facts()?).check_see_tickets()?;
    Ok(dataset.owner_id)
}

pub(crate) fn require_curator(user: &User) -> Result<(), DomainError> {
    access::require_curator(user, "do this on a ticket")
}
