//! Review of submitted datasets: submit, claim, request changes, approve (which queues
//! the publication job, see `crate::publish`) and the curators' queue.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::accounts::{access, User};
use crate::config::Settings;
use crate::db::schema::datasets;
use crate::db::AnyConnection;
use crate::db::Db;
use crate::deposit::model::{DatasetRow, DatasetState};
use crate::deposit::service;
use crate::error::DomainError;
use crate::jobs::Waker;
use crate::mail::{self, Notice, NotificationKind};
use crate::publish::PublishDataset;
use crate::qa::validation;
use crate::tickets;

mod submit;

pub use submit::submit;

fn require_curator(user: &User) -> Result<(), DomainError> {
    access::require_curator(user, "review submissions")
}

/// A curator's note for the history: trimmed, bounded, optional or required.
fn review_comment(comment: &str, required: bool) -> Result<String, DomainError> {
    tickets::clean_text("comment", comment, required, 10_000)
}

fn state_of(conn: &mut AnyConnection, id: i64) -> Result<(DatasetRow, DatasetState), DomainError> {
    let row: DatasetRow = datasets::table
        .find(id)
        .select(DatasetRow::as_select())
        .first(conn)?;
    let state = row.state.parse().map_err(DomainError::internal)?;
    Ok((row, state))
}

/// The four-eyes rule (`access::check_reviewer_is_not_depositor`) for this dataset.
fn check_four_eyes(
    conn: &mut AnyConnection,
    settings: &Settings,
    curator: &User,
    row: &DatasetRow,
) -> Result<(), DomainError> {
    if !settings.four_eyes || row.owner_id != curator.id {
        return Ok(());
    }
    let others = crate::accounts::users::other_curators(conn, curator.id)?;
    access::check_reviewer_is_not_depositor(curator, row.owner_id, others, settings.four_eyes)
}

/// A submission a curator is about to decide on: in review (or submitted) and not their
/// own deposit (four eyes).
fn under_review(
    conn: &mut AnyConnection,
    settings: &Settings,
    curator: &User,
    id: i64,
    action: &str,
) -> Result<(DatasetRow, DatasetState), DomainError> {
    let (row, state) = state_of(conn, id)?;
    require_in_review(state, action)?;
    check_four_eyes(conn, settings, curator, &row)?;
    Ok((row, state))
}

fn require_in_review(state: DatasetState, action: &str) -> Result<(), DomainError> {
    if matches!(state, DatasetState::Submitted | DatasetState::InReview) {
        Ok(())
    } else {
        Err(DomainError::Conflict(format!(
            "only a submitted dataset can be {action}; this one is {}",
            state.label().to_lowercase()
        )))
    }
}

fn set_assignee(conn: &mut AnyConnection, id: i64, curator: i64) -> Result<(), DomainError> {
    diesel::update(datasets::table.find(id))
        .set(datasets::assignee_id.eq(Some(curator)))
        .execute(conn)?;
    Ok(())
}

/// A curator takes a submission: it is in review and assigned to them.
pub fn claim(
    conn: &mut AnyConnection,
    settings: &Settings,
    curator: &User,
    id: i64,
) -> Result<(), DomainError> {
    require_curator(curator)?;
    crate::db::transaction(conn, |conn| {
        let (row, state) = state_of(conn, id)?;
        check_four_eyes(conn, settings, curator, &row)?;
        if state != DatasetState::Submitted {
            return Err(DomainError::Conflict(format!(
                "only a submitted dataset can be claimed; this one is {}",
                state.label().to_lowercase()
            )));
        }
        service::set_state(
            conn,
            id,
            DatasetState::Submitted,
            DatasetState::InReview,
            curator.id,
            &format!("claimed for review by {}", curator.name),
        )?;
        set_assignee(conn, id, curator.id)
    })
}

/// Takes a submission into review on the way, when a curator decides without claiming.
fn claim_on_the_way(
    conn: &mut AnyConnection,
    curator: &User,
    id: i64,
    state: DatasetState,
) -> Result<(), DomainError> {
    if state == DatasetState::Submitted {
        service::set_state(
            conn,
            id,
            DatasetState::Submitted,
            DatasetState::InReview,
            curator.id,
            &format!("claimed for review by {}", curator.name),
        )?;
        set_assignee(conn, id, curator.id)?;
    }
    Ok(())
}

/// The curator sends the dataset back: the draft reopens with the request on top and
/// the depositor is told.
pub fn request_changes(
    conn: &mut AnyConnection,
    settings: &Settings,
    curator: &User,
    id: i64,
    comment: &str,
) -> Result<(), DomainError> {
    require_curator(curator)?;
    let comment = review_comment(comment, true)?;
    crate::db::transaction(conn, |conn| {
        let (row, state) = under_review(conn, settings, curator, id, "sent back")?;
        claim_on_the_way(conn, curator, id, state)?;
        service::set_state(
            conn,
            id,
            DatasetState::InReview,
            DatasetState::ChangesRequested,
            curator.id,
            &comment,
        )?;
        let view = service::load_landing_view(conn, Some(curator), id, None)?;
        let notice = Notice {
            kind: NotificationKind::ReviewDecision,
            subject: format!("Changes requested: {}", view.version.title),
            headline: format!(
                "{} asks for changes to \"{}\" before it can be published.",
                curator.name, view.version.title
            ),
            lines: vec![comment.clone()],
            link_path: format!("/datasets/{id}"),
        };
        mail::notify(conn, settings, &[row.owner_id], &notice)
    })
}

/// The curator approves: the dataset is publishing in the background (the publication
/// job) and the page shows progress until the DOI is findable.
pub fn approve(
    conn: &mut AnyConnection,
    settings: &Settings,
    curator: &User,
    id: i64,
    comment: &str,
) -> Result<(), DomainError> {
    require_curator(curator)?;
    let comment = review_comment(comment, false)?;
    crate::db::transaction(conn, |conn| {
        let (_, state) = under_review(conn, settings, curator, id, "approved")?;
        let view = service::load_landing_view(conn, Some(curator), id, None)?;
        if validation::is_checking(conn, view.version.id)? {
            return Err(DomainError::Conflict(
                "the data standards check of this dataset is still running; try again in a moment"
                    .into(),
            ));
        }
        tickets::ensure_no_blocking_items(conn, id)?;
        claim_on_the_way(conn, curator, id, state)?;
        let note = if comment.is_empty() {
            "approved".to_string()
        } else {
            format!("approved: {comment}")
        };
        service::set_state(
            conn,
            id,
            DatasetState::InReview,
            DatasetState::Approved,
            curator.id,
            &note,
        )?;
        crate::jobs::enqueue(
            conn,
            &PublishDataset {
                dataset_id: id,
                curator_id: curator.id,
            },
        )?;
        Ok(())
    })
}

/// Which part of the review queue to show.
#[derive(Clone, Debug)]
pub struct QueueFilter {
    pub states: Vec<DatasetState>,
    /// None: anyone; Some(None): unassigned; Some(Some(id)): that curator.
    pub assignee: Option<Option<i64>>,
}

impl QueueFilter {
    /// From the queue page's parameters: `state` (empty for every state in curation)
    /// and `assignee` (empty, `me`, `none` or a curator's id).
    pub fn parse(state: &str, assignee: &str, me: i64) -> Result<QueueFilter, DomainError> {
        let states = match state {
            "" => vec![
                DatasetState::Submitted,
                DatasetState::InReview,
                DatasetState::Approved,
            ],
            other => {
                let s: DatasetState = other
                    .parse()
                    .map_err(|_| DomainError::BadRequest(format!("unknown state '{other}'")))?;
                if !s.in_curation() {
                    return Err(DomainError::BadRequest(format!(
                        "'{other}' is not a state of the review queue"
                    )));
                }
                vec![s]
            }
        };
        let assignee = match assignee {
            "" => None,
            "me" => Some(Some(me)),
            "none" => Some(None),
            id => Some(Some(id.parse::<i64>().map_err(|_| {
                DomainError::BadRequest("assignee must be me, none or a curator's id".into())
            })?)),
        };
        Ok(QueueFilter { states, assignee })
    }
}

/// One line of the review queue.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueueEntry {
    pub dataset: crate::deposit::model::DatasetSummary,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    /// When it last entered the queue (its latest submission).
    pub queued_at: NaiveDateTime,
    pub blocking_items: i64,
}

impl QueueEntry {
    /// Time in the queue, as a person reads it: "3 d", "5 h", "12 min".
    pub fn age(&self) -> String {
        let minutes = (Utc::now().naive_utc() - self.queued_at)
            .num_minutes()
            .max(0);
        match minutes {
            m if m >= 60 * 24 => format!("{} d", m / (60 * 24)),
            m if m >= 60 => format!("{} h", m / 60),
            m => format!("{m} min"),
        }
    }
}

/// The review queue: a fixed number of queries whatever its length.
pub fn queue(
    conn: &mut AnyConnection,
    filter: &QueueFilter,
    limit: i64,
) -> Result<Vec<QueueEntry>, DomainError> {
    use crate::db::schema::{dataset_transitions, users};
    use std::collections::HashMap;
    let rows = service::list_for_curation(conn, &filter.states, filter.assignee, limit)?;
    let ids: Vec<i64> = rows.iter().map(|(d, _)| d.id).collect();
    let mut submitted: HashMap<i64, NaiveDateTime> = HashMap::new();
    for chunk in ids.chunks(500) {
        let times: Vec<(i64, Option<NaiveDateTime>)> = dataset_transitions::table
            .filter(dataset_transitions::dataset_id.eq_any(chunk))
            .filter(dataset_transitions::to_state.eq(DatasetState::Submitted.as_str()))
            .group_by(dataset_transitions::dataset_id)
            .select((
                dataset_transitions::dataset_id,
                diesel::dsl::max(dataset_transitions::created_at),
            ))
            .load(conn)?;
        submitted.extend(times.into_iter().filter_map(|(id, t)| t.map(|t| (id, t))));
    }
    let blocking = tickets::blocking_counts(conn, &ids)?;
    let assignee_ids: Vec<i64> = rows.iter().filter_map(|(_, a)| *a).collect();
    let names: HashMap<i64, String> = users::table
        .filter(users::id.eq_any(&assignee_ids))
        .select((users::id, users::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let mut entries: Vec<QueueEntry> = rows
        .into_iter()
        .map(|(dataset, assignee_id)| QueueEntry {
            queued_at: submitted
                .get(&dataset.id)
                .copied()
                .unwrap_or(dataset.updated_at),
            blocking_items: blocking.get(&dataset.id).copied().unwrap_or(0),
            assignee_name: assignee_id.and_then(|a| names.get(&a).cloned()),
            assignee_id,
            dataset,
        })
        .collect();
    entries.sort_by_key(|e| e.queued_at);
    Ok(entries)
}

/// Approves and wakes the workers: what the review form and API call for "accept".
pub async fn accept(
    db: &Db,
    settings: &Settings,
    waker: &Waker,
    curator: &User,
    id: i64,
    comment: &str,
) -> Result<(), DomainError> {
    let (curator, comment) = (curator.clone(), comment.to_string());
    let settings = settings.clone();
    db.run(move |conn| approve(conn, &settings, &curator, id, &comment))
        .await?;
    waker.wake();
    Ok(())
}
