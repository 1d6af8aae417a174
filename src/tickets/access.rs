//! Who may see a ticket (the dataset's owner and curators) and who may act on it
//! (curators).

use diesel::prelude::*;

use super::model::TicketRow;
use crate::accounts::User;
use crate::db::schema::{datasets, tickets};
use crate::db::AnyConnection;
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
    if owner != user.id && !user.role.can_curate() {
        return Err(DomainError::NotFound);
    }
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
    let owner: i64 = datasets::table
        .find(dataset_id)
        .select(datasets::owner_id)
        .first(conn)?;
    if owner != user.id && !user.role.can_curate() {
        return Err(DomainError::NotFound);
    }
    Ok(owner)
}

pub(crate) fn require_curator(user: &User) -> Result<(), DomainError> {
    if user.role.can_curate() {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only curators can do this on a ticket".into(),
        ))
    }
}
