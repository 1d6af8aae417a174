//! PREMIS 3 events: what happened to a dataset's content, when, by whom, with what
//! outcome. Append-only: rows are only ever inserted. The history is served as JSON and
//! as PREMIS XML, and written into the OCFL object's `logs/` at each new version so it
//! travels with the content.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::accounts::User;
use crate::db::schema::premis_events;
use crate::db::AnyConnection;
use crate::error::{DomainError, ErrorContext};
use crate::xml::Xml;

/// Event types from the PREMIS event type vocabulary
/// (https://id.loc.gov/vocabulary/preservation/eventType).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Ingestion,
    MessageDigestCalculation,
    FixityCheck,
    Replication,
    Deaccession,
    Deletion,
    /// A damaged file restored from a good copy ("recovery" in the vocabulary).
    Recovery,
    Validation,
    /// An unexpected file moved out of an object ("quarantine" in the vocabulary).
    Quarantine,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Ingestion => "ingestion",
            EventType::MessageDigestCalculation => "message digest calculation",
            EventType::FixityCheck => "fixity check",
            EventType::Replication => "replication",
            EventType::Deaccession => "deaccession",
            EventType::Deletion => "deletion",
            EventType::Recovery => "recovery",
            EventType::Validation => "validation",
            EventType::Quarantine => "quarantine",
        }
    }

    /// The term's URI in the Library of Congress vocabulary.
    pub fn uri(self) -> &'static str {
        match self {
            EventType::Ingestion => "http://id.loc.gov/vocabulary/preservation/eventType/ing",
            EventType::MessageDigestCalculation => {
                "http://id.loc.gov/vocabulary/preservation/eventType/mes"
            }
            EventType::FixityCheck => "http://id.loc.gov/vocabulary/preservation/eventType/fix",
            EventType::Replication => "http://id.loc.gov/vocabulary/preservation/eventType/rep",
            EventType::Deaccession => "http://id.loc.gov/vocabulary/preservation/eventType/dea",
            EventType::Deletion => "http://id.loc.gov/vocabulary/preservation/eventType/del",
            EventType::Recovery => "http://id.loc.gov/vocabulary/preservation/eventType/rec",
            EventType::Validation => "http://id.loc.gov/vocabulary/preservation/eventType/val",
            EventType::Quarantine => "http://id.loc.gov/vocabulary/preservation/eventType/qua",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Warning,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Warning => "warning",
        }
    }
}

/// Who acted: a person (an account) or holdfast itself, with its version.
#[derive(Clone, Debug)]
pub enum Agent<'a> {
    Person(&'a User),
    Holdfast,
    /// Another archive (a federation partner), named as its admin registered it, e.g.
    /// the replica that answered a challenge.
    Organization(&'a str),
}

/// The software agent's name, with the version that acted.
pub fn software_agent() -> String {
    format!("holdfast {}", env!("CARGO_PKG_VERSION"))
}

/// What an event is about: a dataset, optionally one version and one file.
#[derive(Clone, Debug, Default)]
pub struct Subject<'a> {
    pub dataset_id: Option<i64>,
    pub version: Option<i32>,
    pub file_path: Option<&'a str>,
    pub file_sha256: Option<&'a str>,
}

/// Records one event (inside the caller's transaction, so it exists exactly when the
/// action it describes was committed).
pub fn record(
    conn: &mut AnyConnection,
    event_type: EventType,
    subject: &Subject,
    detail: &str,
    outcome: Outcome,
    outcome_detail: &str,
    agent: Agent,
) -> Result<(), DomainError> {
    let (agent_type, agent_name, agent_user_id) = match agent {
        // The name only: the history is public, addresses are not (the account is
        // linked by id for the archive's own use).
        Agent::Person(u) => ("person", u.name.clone(), Some(u.id)),
        Agent::Holdfast => ("software", software_agent(), None),
        Agent::Organization(name) => ("organization", name.to_string(), None),
    };
    diesel::insert_into(premis_events::table)
        .values((
            premis_events::event_uuid.eq(uuid::Uuid::new_v4().to_string()),
            premis_events::dataset_id.eq(subject.dataset_id),
            premis_events::version_number.eq(subject.version),
            premis_events::file_path.eq(subject.file_path),
            premis_events::file_sha256.eq(subject.file_sha256),
            premis_events::event_type.eq(event_type.as_str()),
            premis_events::event_datetime.eq(Utc::now().naive_utc()),
            premis_events::detail.eq(detail),
            premis_events::outcome.eq(outcome.as_str()),
            premis_events::outcome_detail.eq(outcome_detail),
            premis_events::agent_type.eq(agent_type),
            premis_events::agent_name.eq(agent_name),
            premis_events::agent_user_id.eq(agent_user_id),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = premis_events)]
pub struct EventRow {
    #[serde(skip)]
    pub id: i64,
    pub event_uuid: String,
    pub dataset_id: Option<i64>,
    pub version_number: Option<i32>,
    pub file_path: Option<String>,
    pub file_sha256: Option<String>,
    pub event_type: String,
    pub event_datetime: NaiveDateTime,
    pub detail: String,
    pub outcome: String,
    pub outcome_detail: String,
    pub agent_type: String,
    pub agent_name: String,
    #[serde(skip)]
    pub agent_user_id: Option<i64>,
}

/// A dataset's events, oldest first.
pub fn of_dataset(conn: &mut AnyConnection, dataset_id: i64) -> Result<Vec<EventRow>, DomainError> {
    Ok(premis_events::table
        .filter(premis_events::dataset_id.eq(dataset_id))
        .order(premis_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?)
}

/// Who reads a dataset's history.
#[derive(Clone, Copy, Debug)]
pub enum Reader<'a> {
    /// The depositor and the archive's staff: every event, with people's names.
    Insider,
    /// Everyone else, and the copy kept in the OCFL object: the events of published
    /// versions and of the dataset as a whole, without the work on drafts (removed
    /// draft files, checks of drafts), and people named by their role.
    Public {
        owner_id: i64,
        published_versions: &'a [i32],
    },
}

/// Whether the event records work on a draft: a file removed before publication, or a
/// data standards check (which runs on drafts and names their files).
fn is_draft_work(event: &EventRow) -> bool {
    matches!(
        EventType::parse(&event.event_type),
        Some(EventType::Deletion | EventType::Validation)
    )
}

/// A dataset's history as `reader` may see it.
pub fn history_for(rows: Vec<EventRow>, reader: Reader) -> Vec<EventRow> {
    rows.into_iter()
        .filter_map(|mut event| {
            // Rows written before names went without addresses carried "Name <email>".
            if let Some((name, _)) = event.agent_name.split_once(" <") {
                event.agent_name = name.to_string();
            }
            let Reader::Public {
                owner_id,
                published_versions,
            } = reader
            else {
                return Some(event);
            };
            let of_published = event
                .version_number
                .is_none_or(|n| published_versions.contains(&n));
            if !of_published || is_draft_work(&event) {
                return None;
            }
            if event.agent_type == "person" {
                event.agent_name = if event.agent_user_id == Some(owner_id) {
                    "depositor".to_string()
                } else {
                    "curator".to_string()
                };
            }
            Some(event)
        })
        .collect()
}

/// An opaque, stable identifier of a person acting in this archive, for records that
/// travel with the content (OCFL inventories): it names no address, and the archive can
/// tell whose it is.
pub fn person_uri(base_url: &str, user_id: i64) -> String {
    let name = format!("{}/agents/{user_id}", base_url.trim_end_matches('/'));
    format!(
        "urn:uuid:{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

const PREMIS_NS: &str = "http://www.loc.gov/premis/v3";
const PREMIS_SCHEMA: &str =
    "http://www.loc.gov/premis/v3 https://www.loc.gov/standards/premis/premis.xsd";

/// The events as a PREMIS 3 document: one `event` per row, with the objects (the OCFL
/// object, or a file by its digest) and agents they link to.
pub fn premis_xml(object_id: &str, events: &[EventRow]) -> Result<Vec<u8>, DomainError> {
    write_premis(object_id, events)
        .with_context(|| format!("writing the PREMIS document of {object_id}"))
}

fn write_premis(object_id: &str, events: &[EventRow]) -> std::io::Result<Vec<u8>> {
    let mut x = Xml::document()?;
    x.open(
        "premis",
        &[
            ("xmlns", Some(PREMIS_NS)),
            (
                "xmlns:xsi",
                Some("http://www.w3.org/2001/XMLSchema-instance"),
            ),
            ("xsi:schemaLocation", Some(PREMIS_SCHEMA)),
            ("version", Some("3.0")),
        ],
    )?;
    // The object: the dataset's OCFL object, identified as OCFL does.
    x.open("object", &[("xsi:type", Some("intellectualEntity"))])?;
    x.open("objectIdentifier", &[])?;
    x.leaf("objectIdentifierType", &[], "OCFL object id")?;
    x.leaf("objectIdentifierValue", &[], object_id)?;
    x.close("objectIdentifier")?;
    x.close("object")?;
    for e in events {
        x.open("event", &[])?;
        x.open("eventIdentifier", &[])?;
        x.leaf("eventIdentifierType", &[], "UUID")?;
        x.leaf("eventIdentifierValue", &[], &e.event_uuid)?;
        x.close("eventIdentifier")?;
        let uri = EventType::parse(&e.event_type).map(EventType::uri);
        x.leaf("eventType", &[("valueURI", uri)], &e.event_type)?;
        x.leaf(
            "eventDateTime",
            &[],
            &e.event_datetime
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )?;
        x.open("eventDetailInformation", &[])?;
        x.leaf("eventDetail", &[], &e.detail)?;
        x.close("eventDetailInformation")?;
        x.open("eventOutcomeInformation", &[])?;
        x.leaf("eventOutcome", &[], &e.outcome)?;
        if !e.outcome_detail.is_empty() {
            x.open("eventOutcomeDetail", &[])?;
            x.leaf("eventOutcomeDetailNote", &[], &e.outcome_detail)?;
            x.close("eventOutcomeDetail")?;
        }
        x.close("eventOutcomeInformation")?;
        x.open("linkingAgentIdentifier", &[])?;
        let kind = match e.agent_type.as_str() {
            "person" => "person",
            "organization" => "organization",
            _ => "software",
        };
        x.leaf("linkingAgentIdentifierType", &[], kind)?;
        x.leaf("linkingAgentIdentifierValue", &[], &e.agent_name)?;
        x.close("linkingAgentIdentifier")?;
        x.open("linkingObjectIdentifier", &[])?;
        match (&e.file_path, &e.file_sha256) {
            (Some(path), digest) => {
                x.leaf("linkingObjectIdentifierType", &[], "logical path")?;
                let value = match (e.version_number, digest) {
                    (Some(v), Some(d)) => format!("{object_id} v{v} {path} (sha256:{d})"),
                    (None, Some(d)) => format!("{object_id} {path} (sha256:{d})"),
                    (Some(v), None) => format!("{object_id} v{v} {path}"),
                    (None, None) => format!("{object_id} {path}"),
                };
                x.leaf("linkingObjectIdentifierValue", &[], &value)?;
            }
            (None, _) => {
                x.leaf("linkingObjectIdentifierType", &[], "OCFL object id")?;
                let value = match e.version_number {
                    Some(v) => format!("{object_id} v{v}"),
                    None => object_id.to_string(),
                };
                x.leaf("linkingObjectIdentifierValue", &[], &value)?;
            }
        }
        x.close("linkingObjectIdentifier")?;
        x.close("event")?;
    }
    x.close("premis")?;
    Ok(x.into_bytes())
}

impl EventType {
    pub fn parse(s: &str) -> Option<EventType> {
        [
            EventType::Ingestion,
            EventType::MessageDigestCalculation,
            EventType::FixityCheck,
            EventType::Replication,
            EventType::Deaccession,
            EventType::Deletion,
            EventType::Recovery,
            EventType::Validation,
            EventType::Quarantine,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, path: Option<&str>) -> EventRow {
        EventRow {
            id: 1,
            event_uuid: "7d0a4d55-3c1f-4f0c-9d36-5b8f1b8d8c11".into(),
            dataset_id: Some(1),
            version_number: Some(1),
            file_path: path.map(str::to_string),
            file_sha256: path.map(|_| "ab".repeat(32)),
            event_type: kind.into(),
            event_datetime: chrono::NaiveDateTime::default(),
            detail: "Version 1 <published> & stored".into(),
            outcome: "success".into(),
            outcome_detail: String::new(),
            agent_type: "software".into(),
            agent_name: software_agent(),
            agent_user_id: None,
        }
    }

    #[test]
    fn premis_xml_names_events_objects_and_agents_and_escapes_text() {
        let xml = premis_xml(
            "doi:10.5072/abc",
            &[
                event("ingestion", None),
                event("message digest calculation", Some("data/a.csv")),
            ],
        )
        .unwrap_or_default();
        let text = String::from_utf8_lossy(&xml);
        assert!(text.contains("<premis xmlns=\"http://www.loc.gov/premis/v3\""));
        assert_eq!(text.matches("<event>").count(), 2);
        assert!(
            text.contains("valueURI=\"http://id.loc.gov/vocabulary/preservation/eventType/ing\"")
        );
        assert!(text.contains("&lt;published&gt; &amp; stored"));
        assert!(text.contains("doi:10.5072/abc v1 data/a.csv (sha256:abab"));
        assert!(text.contains(&software_agent()));
    }

    #[test]
    fn event_types_round_trip() {
        for t in ["ingestion", "fixity check", "recovery", "deaccession"] {
            assert_eq!(EventType::parse(t).map(EventType::as_str), Some(t));
        }
        assert_eq!(EventType::parse("repair"), None);
    }

    fn by_person(kind: &str, version: Option<i32>, user: i64, name: &str) -> EventRow {
        EventRow {
            version_number: version,
            agent_type: "person".into(),
            agent_name: name.into(),
            agent_user_id: Some(user),
            ..event(kind, Some("data/a.csv"))
        }
    }

    #[test]
    fn the_public_history_names_roles_and_leaves_out_drafts() {
        let rows = vec![
            by_person("deletion", Some(1), 7, "Dee Positor"),
            by_person("validation", Some(1), 7, "Dee Positor"),
            by_person("ingestion", Some(1), 9, "Cura Tor <cur@example.org>"),
            by_person("ingestion", Some(2), 9, "Cura Tor"),
            by_person("deaccession", None, 3, "Ad Min"),
        ];
        let public = history_for(
            rows.clone(),
            Reader::Public {
                owner_id: 7,
                published_versions: &[1],
            },
        );
        let seen: Vec<(&str, &str)> = public
            .iter()
            .map(|e| (e.event_type.as_str(), e.agent_name.as_str()))
            .collect();
        assert_eq!(seen, [("ingestion", "curator"), ("deaccession", "curator")]);

        let insider = history_for(rows, Reader::Insider);
        assert_eq!(insider.len(), 5);
        assert_eq!(
            insider[2].agent_name, "Cura Tor",
            "no address, even in old rows"
        );
        assert!(insider.iter().all(|e| !e.agent_name.contains('@')));
    }

    #[test]
    fn a_person_uri_is_stable_and_names_no_address() {
        let uri = person_uri("https://archive.example/", 42);
        assert_eq!(uri, person_uri("https://archive.example", 42));
        assert_ne!(uri, person_uri("https://archive.example", 43));
        let id = uri.strip_prefix("urn:uuid:").map(uuid::Uuid::parse_str);
        assert_eq!(
            id.and_then(Result::ok).map(|u| u.get_version_num()),
            Some(5)
        );
    }
}
