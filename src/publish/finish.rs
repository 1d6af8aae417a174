//! The database switched to "published" once the bytes are committed: the ingestion
//! event, the version's row, the DOIs' registration, search, samples and federation.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::plan::PublishPlan;
use crate::accounts::User;
use crate::config::Settings;
use crate::db::schema::dataset_versions;
use crate::db::AnyConnection;
use crate::deposit::model::DatasetState;
use crate::deposit::service;
use crate::doi::registration::{self as doi_registration, DoiAction};
use crate::doi::{self, DoiState};
use crate::error::DomainError;
use crate::preservation::events::{self, Agent, EventType, Outcome};
use crate::search;

/// Switches the database to "published" once the bytes are committed, and asks for the
/// DOIs: the version's made findable; the concept DOI made findable on the first
/// publication, else updated (it now names this version as its latest and lists it
/// with HasVersion); the previous version's updated (IsPreviousVersionOf this one).
pub(super) fn finish(
    conn: &mut crate::db::AnyConnection,
    settings: &Settings,
    plan: &PublishPlan,
    inventory: &(String, u64),
    curator: &User,
) -> Result<(), DomainError> {
    let curator_id = curator.id;
    let version_subject = events::Subject {
        dataset_id: Some(plan.dataset.id),
        version: Some(plan.version.number),
        ..Default::default()
    };
    events::record(
        conn,
        EventType::Ingestion,
        &version_subject,
        &format!(
            "Version {} ({} files) committed to OCFL object {} as v{} with DOI {}",
            plan.version.number,
            plan.files.len(),
            plan.object_id,
            plan.ocfl_version,
            plan.version_doi
        ),
        Outcome::Success,
        "",
        Agent::Person(curator),
    )?;
    let now: NaiveDateTime = Utc::now().naive_utc();
    let ocfl_version = i32::try_from(plan.ocfl_version).map_err(DomainError::internal)?;
    diesel::update(dataset_versions::table.find(plan.version.id))
        .set((
            dataset_versions::published_at.eq(now),
            dataset_versions::ocfl_version.eq(ocfl_version),
            dataset_versions::metadata.eq(&plan.metadata_json),
            dataset_versions::updated_at.eq(now),
        ))
        .execute(conn)?;
    register_stored_inventories(conn, plan, inventory)?;
    let concept_state = doi::state_of(conn, &plan.concept_doi)?;
    let concept_action = if concept_state.as_deref() == Some(DoiState::Findable.as_str()) {
        DoiAction::Update
    } else {
        DoiAction::Publish
    };
    doi_registration::request(
        conn,
        settings,
        &plan.concept_doi,
        DoiState::Findable,
        concept_action,
    )?;
    doi_registration::request(
        conn,
        settings,
        &plan.version_doi,
        DoiState::Findable,
        DoiAction::Publish,
    )?;
    let previous: Option<String> = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(plan.dataset.id))
        .filter(dataset_versions::number.lt(plan.version.number))
        .filter(dataset_versions::published_at.is_not_null())
        .order(dataset_versions::number.desc())
        .select(dataset_versions::doi)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    if let Some(previous) = previous {
        if doi::state_of(conn, &previous)?.as_deref() == Some(DoiState::Findable.as_str()) {
            doi_registration::request(
                conn,
                settings,
                &previous,
                DoiState::Findable,
                DoiAction::Update,
            )?;
        }
    }
    search::index_dataset(conn, plan.dataset.id)?;
    crate::samples::index_dataset(conn, plan.dataset.id)?;
    crate::federation::sync_dataset(conn, plan.dataset.id)?;
    service::set_state(
        conn,
        plan.dataset.id,
        DatasetState::Approved,
        DatasetState::Published,
        curator_id,
        &format!("published as {}", plan.version_doi),
    )
}

/// Puts the new root and version inventories in the fixity register.
fn register_stored_inventories(
    conn: &mut AnyConnection,
    plan: &PublishPlan,
    (inventory_sha256, inventory_size): &(String, u64),
) -> Result<(), DomainError> {
    use crate::fixity::{Kind, NewStoredFile};
    let inventory_size = i64::try_from(*inventory_size).map_err(DomainError::internal)?;
    let version_inventory = format!("v{}/inventory.json", plan.ocfl_version);
    let rows: Vec<NewStoredFile> = ["inventory.json", version_inventory.as_str()]
        .into_iter()
        .map(|path| NewStoredFile {
            kind: Kind::Inventory,
            content_path: path,
            sha256: inventory_sha256,
            size: inventory_size,
        })
        .collect();
    crate::fixity::files::register(conn, plan.dataset.id, &plan.object_id, &rows)?;
    Ok(())
}
