//! What a publication will write: the dataset must be approved, and its DOIs are
//! reserved (kept on retry) before anything is stored.

use chrono::{Datelike, Utc};
use diesel::prelude::*;

use crate::accounts::User;
use crate::config::Settings;
use crate::db::schema::{dataset_versions, datasets};
use crate::deposit::model::{DatasetRow, DatasetState, FileRow, VersionRow};
use crate::deposit::service;
use crate::doi;
use crate::error::DomainError;

pub(super) struct PublishPlan {
    pub(super) dataset: DatasetRow,
    pub(super) version: VersionRow,
    pub(super) files: Vec<FileRow>,
    pub(super) object_id: String,
    pub(super) concept_doi: String,
    pub(super) version_doi: String,
    pub(super) ocfl_version: u32,
    pub(super) metadata_json: String,
}

/// Checks the dataset can be published and reserves its DOIs (kept on retry; a DOI the
/// depositor reserved for the draft is the version's DOI).
pub(super) fn prepare(
    conn: &mut crate::db::AnyConnection,
    settings: &Settings,
    curator: &User,
    id: i64,
) -> Result<PublishPlan, DomainError> {
    let base_url = settings.base_url.as_str();
    let publisher = settings.site_name.as_str();
    let view = service::load_view(conn, Some(curator), id, None)?;
    if view.state != DatasetState::Approved {
        return Err(DomainError::Conflict(format!(
            "only approved datasets are published; this one is {}",
            view.state.label().to_lowercase()
        )));
    }
    let landing = doi::record::landing_url(base_url, id, None);
    let concept_doi = match &view.dataset.concept_doi {
        Some(doi) => doi.clone(),
        None => {
            let doi = doi::reserve_draft(conn, settings, id, None, &landing)?;
            diesel::update(datasets::table.find(id))
                .set((
                    datasets::concept_doi.eq(&doi),
                    datasets::ocfl_object_id.eq(format!("doi:{doi}")),
                ))
                .execute(conn)?;
            doi
        }
    };
    let version_doi = match &view.version.doi {
        Some(doi) => doi.clone(),
        None => {
            let url = doi::record::landing_url(base_url, id, Some(view.version.number));
            let doi = doi::reserve_draft(conn, settings, id, Some(view.version.id), &url)?;
            diesel::update(dataset_versions::table.find(view.version.id))
                .set(dataset_versions::doi.eq(&doi))
                .execute(conn)?;
            doi
        }
    };
    // The published record names its publisher, year, version and DOI.
    let mut metadata = view.metadata.clone();
    metadata.publisher = Some(crate::deposit::metadata::Publisher {
        name: publisher.to_string(),
        ..Default::default()
    });
    metadata.publication_year = Some(Utc::now().year());
    metadata.version = Some(view.version.number.to_string());
    crate::samples::link_igsns(conn, view.version.id, &mut metadata)?;
    let metadata_json = serde_json::to_string(&metadata).map_err(DomainError::internal)?;
    let published_before: i64 = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(id))
        .filter(dataset_versions::published_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(PublishPlan {
        object_id: format!("doi:{concept_doi}"),
        ocfl_version: u32::try_from(published_before + 1).map_err(DomainError::internal)?,
        dataset: view.dataset,
        version: view.version,
        files: view.files,
        concept_doi,
        version_doi,
        metadata_json,
    })
}
