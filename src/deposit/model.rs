//! Rows and views of datasets, their versions and files.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

use super::metadata::Metadata;
use crate::accounts::access::{Access, DatasetFacts, Stage};
use crate::accounts::User;
use crate::db::schema::{dataset_transitions, dataset_versions, datasets, version_files};
use crate::error::DomainError;

/// Where a dataset is in its life:
/// draft → submitted → in_review → (changes_requested → submitted …) → approved →
/// published; a published dataset can open a new version (draft again, its published
/// versions staying public) or be deaccessioned by an admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetState {
    Draft,
    Submitted,
    InReview,
    ChangesRequested,
    Approved,
    Published,
    Deaccessioned,
}

impl DatasetState {
    pub const ALL: [DatasetState; 7] = [
        DatasetState::Draft,
        DatasetState::Submitted,
        DatasetState::InReview,
        DatasetState::ChangesRequested,
        DatasetState::Approved,
        DatasetState::Published,
        DatasetState::Deaccessioned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DatasetState::Draft => "draft",
            DatasetState::Submitted => "submitted",
            DatasetState::InReview => "in_review",
            DatasetState::ChangesRequested => "changes_requested",
            DatasetState::Approved => "approved",
            DatasetState::Published => "published",
            DatasetState::Deaccessioned => "deaccessioned",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DatasetState::Draft => "Draft",
            DatasetState::Submitted => "Submitted for review",
            DatasetState::InReview => "In review",
            DatasetState::ChangesRequested => "Changes requested",
            DatasetState::Approved => "Approved, publishing",
            DatasetState::Published => "Published",
            DatasetState::Deaccessioned => "Deaccessioned",
        }
    }

    /// States in which the depositor edits files and metadata.
    pub fn is_editable(self) -> bool {
        matches!(self, DatasetState::Draft | DatasetState::ChangesRequested)
    }

    /// The stage the access rule (`accounts::access`) knows this state as.
    pub fn access_stage(self) -> Stage {
        match self {
            DatasetState::Draft | DatasetState::ChangesRequested => Stage::Editable,
            DatasetState::Submitted | DatasetState::InReview => Stage::InReview,
            DatasetState::Approved => Stage::Publishing,
            DatasetState::Published => Stage::Published,
            DatasetState::Deaccessioned => Stage::Deaccessioned,
        }
    }

    /// States a curator acts on (the review queue).
    pub fn in_curation(self) -> bool {
        matches!(
            self,
            DatasetState::Submitted | DatasetState::InReview | DatasetState::Approved
        )
    }
}

impl fmt::Display for DatasetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "draft" => Ok(DatasetState::Draft),
            "submitted" => Ok(DatasetState::Submitted),
            "in_review" => Ok(DatasetState::InReview),
            "changes_requested" => Ok(DatasetState::ChangesRequested),
            "approved" => Ok(DatasetState::Approved),
            "published" => Ok(DatasetState::Published),
            "deaccessioned" => Ok(DatasetState::Deaccessioned),
            other => Err(format!("unknown dataset state '{other}'")),
        }
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = datasets)]
pub struct DatasetRow {
    pub id: i64,
    pub owner_id: i64,
    pub state: String,
    pub concept_doi: Option<String>,
    pub ocfl_object_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub assignee_id: Option<i64>,
    pub deaccession_reason: Option<String>,
}

impl DatasetRow {
    /// What the access rule needs to know of this dataset.
    pub fn access_facts(&self) -> Result<DatasetFacts, DomainError> {
        let state: DatasetState = self.state.parse().map_err(DomainError::internal)?;
        Ok(self.facts_in(state))
    }

    fn facts_in(&self, state: DatasetState) -> DatasetFacts {
        DatasetFacts {
            owner_id: self.owner_id,
            stage: state.access_stage(),
            deaccession_reason: self.deaccession_reason.clone(),
        }
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = dataset_versions)]
pub struct VersionRow {
    pub id: i64,
    pub dataset_id: i64,
    pub number: i32,
    pub title: String,
    pub metadata: String,
    pub doi: Option<String>,
    pub ocfl_version: Option<i32>,
    pub published_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// JSON list of the standards the depositor says the dataset follows.
    pub standards: String,
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = version_files)]
pub struct FileRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub version_id: i64,
    pub path: String,
    #[serde(skip)]
    pub case_key: String,
    pub size: i64,
    pub sha256: String,
    pub media_type: String,
    /// Name of the staged blob while the version is a draft; None once in OCFL storage.
    #[serde(skip)]
    pub staged_name: Option<String>,
    /// Path of the bytes inside the OCFL object once published (e.g. `v1/content/a.csv`).
    #[serde(skip)]
    pub content_path: Option<String>,
    #[serde(skip)]
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = dataset_transitions)]
pub struct TransitionRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub dataset_id: i64,
    pub from_state: String,
    pub to_state: String,
    pub actor_id: Option<i64>,
    pub comment: String,
    pub created_at: NaiveDateTime,
}

/// A transition with the name of who made it (None: holdfast itself).
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEntry {
    #[serde(flatten)]
    pub row: TransitionRow,
    pub actor_name: Option<String>,
}

/// Everything a page or the API shows about one version of a dataset.
#[derive(Clone, Debug)]
pub struct DatasetView {
    pub dataset: DatasetRow,
    pub state: DatasetState,
    pub owner_name: String,
    pub version: VersionRow,
    pub metadata: Metadata,
    /// Every file of the version, except in a view loaded for the landing page of a
    /// version with more than [`LANDING_FILES_LIMIT`] files (it lists a page at a time
    /// and leaves this empty); `file_count` and `file_bytes` are always the totals.
    pub files: Vec<FileRow>,
    pub file_count: i64,
    pub file_bytes: i64,
    /// Who may read the published files (what the exports state as access rights).
    pub access: super::access::Access,
}

/// The most files a landing page loads in full (for its JSON-LD and Signposting).
pub const LANDING_FILES_LIMIT: i64 = 1000;

impl DatasetView {
    /// What `viewer` may do with this dataset (see `accounts::access`).
    pub fn access(&self, viewer: Option<&User>) -> Access {
        Access::of(viewer, &self.dataset.facts_in(self.state))
    }

    pub fn is_published_version(&self) -> bool {
        self.version.published_at.is_some()
    }

    pub fn total_bytes(&self) -> i64 {
        self.file_bytes
    }

    pub fn has_files(&self) -> bool {
        self.file_count > 0
    }
}

/// One line of a dataset list ("My datasets", the curator queue).
#[derive(Clone, Debug, Serialize)]
pub struct DatasetSummary {
    pub id: i64,
    pub title: String,
    pub state: DatasetState,
    pub owner_name: String,
    pub version: i32,
    pub doi: Option<String>,
    pub updated_at: NaiveDateTime,
    pub file_count: i64,
}
