//! Validation runs of a draft, as background jobs.

use crate::app::Archive;
use crate::error::DomainError;

pub async fn run_job(_archive: &Archive, _payload: &serde_json::Value) -> Result<(), DomainError> {
    Err(DomainError::internal("validation jobs are not wired yet"))
}

pub fn report_for(
    _conn: &mut crate::db::AnyConnection,
    _user: &crate::accounts::User,
    _id: i64,
) -> Result<serde_json::Value, DomainError> {
    Err(DomainError::NotFound)
}
