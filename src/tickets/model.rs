//! The rows of the ticket tables, the states a ticket and an item can be in, and the
//! limits on what people write into a ticket.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

use crate::db::schema::{ticket_events, ticket_items, tickets};
use crate::error::DomainError;

/// Longest comment or waiver reason accepted.
pub const MAX_TEXT: usize = 20_000;
/// Longest ticket title.
pub const MAX_TITLE: usize = 300;

/// Whether a ticket still needs someone: open, or closed (by hand, or by itself when
/// every item is settled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketState {
    Open,
    Closed,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::Closed => "closed",
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(TicketState::Open),
            "closed" => Ok(TicketState::Closed),
            other => Err(format!("unknown ticket state '{other}'")),
        }
    }
}

impl TryFrom<String> for TicketState {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// Where one problem of a ticket stands: open until a run no longer finds it (fixed) or a
/// curator accepts it with a reason (waived).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    Open,
    Fixed,
    Waived,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Open => "open",
            ItemState::Fixed => "fixed",
            ItemState::Waived => "waived",
        }
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(ItemState::Open),
            "fixed" => Ok(ItemState::Fixed),
            "waived" => Ok(ItemState::Waived),
            other => Err(format!("unknown ticket item state '{other}'")),
        }
    }
}

impl TryFrom<String> for ItemState {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = tickets)]
pub struct TicketRow {
    pub id: i64,
    pub dataset_id: i64,
    pub kind: String,
    pub title: String,
    #[diesel(deserialize_as = String)]
    pub state: TicketState,
    pub opened_by: Option<i64>,
    pub assignee_id: Option<i64>,
    pub due_date: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
}

impl TicketRow {
    pub fn is_open(&self) -> bool {
        self.state == TicketState::Open
    }
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = ticket_items)]
pub struct ItemRow {
    pub id: i64,
    pub ticket_id: i64,
    pub file: String,
    pub code: String,
    pub standard: String,
    pub severity: String,
    #[diesel(deserialize_as = String)]
    pub state: ItemState,
    pub occurrences: i64,
    pub message: String,
    /// JSON array of up to a hundred findings of this (file, check), as the report shows them.
    #[serde(skip)]
    pub findings: String,
    pub waiver_reason: Option<String>,
    pub waived_by: Option<i64>,
    pub waived_at: Option<NaiveDateTime>,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

impl ItemRow {
    /// An error nobody fixed or waived: it blocks submission and publication.
    pub fn is_blocking(&self) -> bool {
        self.is_open() && self.severity == crate::tickets::blocking::BLOCKING_SEVERITY
    }

    pub fn is_open(&self) -> bool {
        self.state == ItemState::Open
    }

    pub fn is_waived(&self) -> bool {
        self.state == ItemState::Waived
    }

    pub fn findings_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.findings).unwrap_or(serde_json::Value::Null)
    }

    /// "code in file", or "code (dataset)" for a dataset-level finding.
    pub fn label(&self) -> String {
        item_label(&self.file, &self.code)
    }
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = ticket_events)]
pub struct EventRow {
    pub id: i64,
    pub ticket_id: i64,
    pub item_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub kind: String,
    pub body: String,
    pub attachment_name: Option<String>,
    #[serde(skip)]
    pub attachment_blob: Option<String>,
    pub attachment_size: Option<i64>,
    pub attachment_sha256: Option<String>,
    pub created_at: NaiveDateTime,
}

/// An event with its author's name (None: holdfast itself).
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub row: EventRow,
    pub actor_name: Option<String>,
}

/// What one validation run (or one alert) saw for one (file, check).
#[derive(Clone, Debug)]
pub struct Observation {
    /// The dataset path, or "" for dataset-level findings.
    pub file: String,
    pub code: String,
    pub standard: String,
    /// "error" or "warning".
    pub severity: String,
    /// All occurrences, including those beyond the report's cap.
    pub occurrences: i64,
    /// The first finding's message.
    pub message: String,
    /// JSON array of the kept findings.
    pub findings: String,
}

pub(crate) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// How an item is named in events and notices.
pub(crate) fn item_label(file: &str, code: &str) -> String {
    if file.is_empty() {
        format!("{code} (dataset)")
    } else {
        format!("{code} in {file}")
    }
}

/// Trims and bounds free text; empty text is refused when `required`.
pub fn clean_text(
    field: &str,
    text: &str,
    required: bool,
    max: usize,
) -> Result<String, DomainError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(DomainError::invalid(field, "write something here"));
    }
    if text.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("keep this under {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(text.to_string())
}

/// Parses a due date from a form or JSON (`YYYY-MM-DD`; empty clears it).
pub fn parse_due(text: &str) -> Result<Option<NaiveDate>, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| DomainError::invalid("due_date", "use a date like 2026-12-31"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_stored_text() {
        for state in [TicketState::Open, TicketState::Closed] {
            assert_eq!(state.as_str().parse::<TicketState>(), Ok(state));
            assert_eq!(serde_json::json!(state), state.as_str());
        }
        for state in [ItemState::Open, ItemState::Fixed, ItemState::Waived] {
            assert_eq!(state.as_str().parse::<ItemState>(), Ok(state));
            assert_eq!(serde_json::json!(state), state.as_str());
        }
        assert!("reopened".parse::<TicketState>().is_err());
        assert!("closed".parse::<ItemState>().is_err());
    }

    #[test]
    fn text_is_trimmed_bounded_and_clean() {
        assert_eq!(clean_text("b", "  hi \n", true, 10).ok(), Some("hi".into()));
        assert!(clean_text("b", "   ", true, 10).is_err());
        assert_eq!(clean_text("b", "", false, 10).ok(), Some(String::new()));
        assert!(clean_text("b", "abcdefghijk", true, 10).is_err());
        assert!(clean_text("b", "a\u{0}b", true, 10).is_err());
    }

    #[test]
    fn due_dates_parse_or_clear() {
        assert_eq!(parse_due("").ok(), Some(None));
        assert_eq!(
            parse_due("2026-12-31").ok().flatten(),
            NaiveDate::from_ymd_opt(2026, 12, 31)
        );
        assert!(parse_due("31/12/2026").is_err());
    }
}
