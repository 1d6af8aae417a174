//! Deaccession: an admin withdraws a published dataset from public access.

use diesel::prelude::*;

use crate::accounts::{access, User};
use crate::config::Settings;
use crate::db::schema::datasets;
use crate::db::AnyConnection;
use crate::deposit::model::DatasetState;
use crate::deposit::service;
use crate::doi::registration::{self as doi_registration, DoiAction};
use crate::doi::DoiState;
use crate::error::DomainError;
use crate::preservation::events::{self, Agent, EventType, Outcome};
use crate::search;
use crate::tickets;

/// An admin withdraws a published dataset: a tombstone page stays, its DOIs keep
/// resolving to it (registered, no longer findable: DataCite's `hide`), and its files
/// are no longer served. Callers wake the workers afterwards (DataCite jobs).
pub fn deaccession(
    conn: &mut AnyConnection,
    settings: &Settings,
    admin: &User,
    id: i64,
    reason: &str,
) -> Result<(), DomainError> {
    access::require_admin(admin, "deaccession a dataset")?;
    let reason = tickets::clean_text("reason", reason, true, 10_000)?;
    crate::db::transaction(conn, |conn| {
        let row = service::dataset_row(conn, id)?;
        let state = service::state_of(&row)?;
        if state != DatasetState::Published {
            return Err(DomainError::Conflict(format!(
                "only a published dataset can be deaccessioned; this one is {}",
                state.label().to_lowercase()
            )));
        }
        diesel::update(datasets::table.find(id))
            .set(datasets::deaccession_reason.eq(Some(&reason)))
            .execute(conn)?;
        service::set_state(
            conn,
            id,
            DatasetState::Published,
            DatasetState::Deaccessioned,
            admin.id,
            &format!("deaccessioned: {reason}"),
        )?;
        // Drafts (reserved, never published) have nothing to hide.
        let dois: Vec<String> = crate::db::schema::dois::table
            .filter(crate::db::schema::dois::dataset_id.eq(row.id))
            .filter(crate::db::schema::dois::state.ne(DoiState::Draft.as_str()))
            .select(crate::db::schema::dois::doi)
            .load(conn)?;
        for d in dois {
            doi_registration::request(conn, settings, &d, DoiState::Registered, DoiAction::Hide)?;
        }
        // A withdrawn dataset is no longer found by search; OAI-PMH shows it deleted.
        search::remove_dataset(conn, id)?;
        crate::samples::remove_dataset(conn, id)?;
        crate::federation::sync_dataset(conn, id)?;
        events::record(
            conn,
            EventType::Deaccession,
            &events::Subject {
                dataset_id: Some(id),
                ..Default::default()
            },
            &format!("Withdrawn from public access: {reason}"),
            Outcome::Success,
            "files kept in storage, no longer served; DOIs registered, not findable",
            Agent::Person(admin),
        )?;
        crate::crashpoint::hit("deaccession.before-commit");
        Ok(())
    })
}
