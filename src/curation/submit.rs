//! A depositor hands a draft to the curators: the entry into review.

use crate::accounts::User;
use crate::config::Settings;
use crate::db::AnyConnection;
use crate::deposit::model::DatasetState;
use crate::deposit::service;
use crate::error::DomainError;
use crate::mail::{self, Notice, NotificationKind};
use crate::qa::validation;
use crate::tickets;

/// Hands a draft to the curators, once its files are checked and no error is left open
/// (fixed or waived); the curators are told.
pub fn submit(
    conn: &mut AnyConnection,
    settings: &Settings,
    actor: &User,
    id: i64,
) -> Result<(), DomainError> {
    crate::db::transaction(conn, |conn| {
        let (_, version) = service::editable_draft(conn, actor, id)?;
        let metadata = service::parse_stored_metadata(&version.metadata)?;
        service::checked_metadata(metadata)?;
        let file_count = service::file_count(conn, version.id)?;
        if file_count == 0 {
            return Err(DomainError::Conflict(
                "add at least one file before submitting".into(),
            ));
        }
        if validation::is_checking(conn, version.id)? {
            return Err(DomainError::Conflict(
                "the data standards check of this draft is still running; \
                 submit again when its report is ready (usually a few seconds)"
                    .into(),
            ));
        }
        if !validation::has_run(conn, version.id)? {
            // Drafts from before validation existed, or whose run was lost: check first.
            validation::request_run(conn, id, version.id, "submission")?;
            return Err(DomainError::Conflict(
                "the data standards check of this draft has just started; \
                 submit again when its report is ready (usually a few seconds)"
                    .into(),
            ));
        }
        tickets::ensure_no_blocking_items(conn, id)?;
        let dataset = service::dataset_row(conn, id)?;
        let from = service::state_of(&dataset)?;
        let note = if from == DatasetState::ChangesRequested {
            "resubmitted after changes"
        } else {
            "submitted for review"
        };
        service::set_state(conn, id, from, DatasetState::Submitted, actor.id, note)?;
        let curators = crate::accounts::users::curator_ids(conn)?;
        let notice = Notice {
            kind: NotificationKind::DatasetSubmitted,
            subject: format!("Submitted for review: {}", version.title),
            headline: format!("{} submitted \"{}\" for review.", actor.name, version.title),
            lines: vec![format!("{file_count} file(s).")],
            link_path: format!("/datasets/{id}"),
        };
        mail::notify(conn, settings, &curators, &notice)
    })
}
