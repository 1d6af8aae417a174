//! Who may read a dataset's files: the one access state every access-rights statement
//! (schema.org, DataCite, OAI-PMH) is built from. Embargoes and restricted access add
//! their variants here; the exporters already map them.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::model::DatasetState;
use crate::db::schema::{dataset_transitions, datasets};
use crate::db::AnyConnection;
use crate::error::DomainError;

/// The access state of a published dataset's files (its metadata is always open).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Access {
    /// Anyone may download the files, without signing in.
    #[default]
    Open,
    /// The files open on `until`; only the metadata is public before.
    Embargoed { until: NaiveDate },
    /// The files are given to those who meet `conditions`.
    Restricted { conditions: String },
    /// The dataset was deaccessioned on `on`: its files are no longer served.
    Withdrawn { reason: String, on: NaiveDate },
}

impl Access {
    /// The access state of a dataset in `state`; `withdrawal` is the reason and date of
    /// its deaccession, if any.
    pub fn of_dataset(state: DatasetState, withdrawal: Option<(&str, NaiveDate)>) -> Access {
        match (state, withdrawal) {
            (DatasetState::Deaccessioned, Some((reason, on))) => Access::Withdrawn {
                reason: reason.trim().to_string(),
                on,
            },
            _ => Access::Open,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Access::Open)
    }

    pub fn is_withdrawn(&self) -> bool {
        matches!(self, Access::Withdrawn { .. })
    }
}

/// The access state of dataset `id`.
pub fn of(conn: &mut AnyConnection, id: i64) -> Result<Access, DomainError> {
    let (state, reason): (String, Option<String>) = datasets::table
        .find(id)
        .select((datasets::state, datasets::deaccession_reason))
        .first(conn)?;
    let state: DatasetState = state.parse().map_err(DomainError::internal)?;
    of_state(conn, id, state, reason.as_deref())
}

/// The access state of dataset `id` known to be in `state`: a deaccessioned one's
/// withdrawal date is read from its transition (no query for any other state).
pub fn of_state(
    conn: &mut AnyConnection,
    id: i64,
    state: DatasetState,
    deaccession_reason: Option<&str>,
) -> Result<Access, DomainError> {
    if state != DatasetState::Deaccessioned {
        return Ok(Access::Open);
    }
    let on: Option<chrono::NaiveDateTime> = dataset_transitions::table
        .filter(dataset_transitions::dataset_id.eq(id))
        .filter(dataset_transitions::to_state.eq(DatasetState::Deaccessioned.as_str()))
        .select(diesel::dsl::max(dataset_transitions::created_at))
        .first(conn)?;
    let on = on.ok_or_else(|| {
        DomainError::internal(format!(
            "dataset {id} is deaccessioned without a transition"
        ))
    })?;
    Ok(Access::of_dataset(
        state,
        Some((deaccession_reason.unwrap_or(""), on.date())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_deaccessioned_dataset_is_not_open_yet() {
        let on = NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
        for state in DatasetState::ALL {
            let access = Access::of_dataset(state, Some((" duplicate ", on)));
            if state == DatasetState::Deaccessioned {
                assert_eq!(
                    access,
                    Access::Withdrawn {
                        reason: "duplicate".into(),
                        on
                    }
                );
            } else {
                assert!(access.is_open(), "{state:?}");
            }
        }
    }
}
