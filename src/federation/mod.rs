//! Federation: what other archives and aggregators harvest from holdfast: the OAI-PMH
//! 2.0 provider at `/oai` (see docs/interoperability.md, "OAI-PMH") and ResourceSync (`resourcesync`).
//!
//! - `oai`: the protocol without a database (arguments, errors, dates, tokens);
//! - `records`: the record table kept in step with publication and deaccession;
//! - `xml`: the response documents and the `oai_dc` / `oai_datacite` payloads;
//! - this file: answering one request.
//!
//! Records are datasets: identifier `oai:HOST:dataset/ID` (HOST from the base URL),
//! metadata of the latest published version under the concept DOI, datestamp when that
//! version was published or when the dataset was deaccessioned (then a deleted header).

pub mod answer;
pub mod challenge;
pub mod oai;
pub mod objects;
pub mod partners;
pub mod policy;
pub mod receipts;
pub mod records;
pub mod replica;
pub mod resourcesync;
pub mod signing;
mod xml;

use chrono::{NaiveDateTime, Utc};

use self::oai::{ErrorCode, Format, ListQuery, OaiError, Request, Token, Verb};
use self::records::Header;
use crate::config::Settings;
use crate::db::AnyConnection;
use crate::doi::record::{self as doi_record, DoiRecord};
use crate::error::DomainError;

pub use self::records::{backfill, sync_dataset};

/// Who is harvesting or pulling: any client (`Public`), or a registered partner node
/// that authenticated with its token (`Authorization: Bearer hfp_…`, resolved by the web
/// layer; a bad partner token is refused there with 401). A partner sees everything the
/// public sees and, where the deposit model has content that is published but not
/// public, that too. The deposit model has no such state today
/// (no embargo, no restricted access: every published, not deaccessioned dataset is
/// open), so both audiences are shown the same records and files; the partner's
/// identity is what its receipts are recorded under. Drafts never have records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Public,
    /// The partner's id in `federation_partners`.
    Partner(i64),
}

/// The base URL harvesters use.
pub fn base_url(settings: &Settings) -> String {
    format!("{}/oai", settings.base_url)
}

/// The host part of record identifiers.
fn host(settings: &Settings) -> String {
    url::Url::parse(&settings.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "localhost".to_string())
}

pub fn identifier(settings: &Settings, dataset_id: i64) -> String {
    format!("oai:{}:dataset/{dataset_id}", host(settings))
}

/// The dataset an identifier names; None for anything else (`idDoesNotExist`).
pub fn dataset_of(settings: &Settings, identifier: &str) -> Option<i64> {
    let prefix = format!("oai:{}:dataset/", host(settings));
    let id = identifier.strip_prefix(&prefix)?;
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) || id.starts_with('0') {
        return None;
    }
    id.parse().ok()
}

/// oai-identifier's `repositoryIdentifier` must be a domain name with a dot, which a
/// test server's `127.0.0.1` or `localhost` is not; then the description is left out.
fn repository_identifier(host: &str) -> Option<&str> {
    let label_ok = |l: &str| {
        l.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    (host.contains('.') && host.split('.').all(label_ok)).then_some(host)
}

/// The bare address of a mail-from value such as `Archive <archive@example.org>`.
fn bare_address(mail: &str) -> &str {
    match (mail.find('<'), mail.rfind('>')) {
        (Some(a), Some(b)) if a < b => mail[a + 1..b].trim(),
        _ => mail.trim(),
    }
}

/// The metadata of a dataset's record: its latest published version, described
/// under the concept DOI (or the version DOI of a dataset that has no concept DOI).
fn payload_of(
    conn: &mut AnyConnection,
    settings: &Settings,
    dataset_id: i64,
) -> Result<Option<DoiRecord>, DomainError> {
    use crate::db::schema::{dataset_versions, datasets};
    use diesel::prelude::*;
    let concept: Option<String> = datasets::table
        .find(dataset_id)
        .select(datasets::concept_doi)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    let doi = match concept {
        Some(d) => Some(d),
        None => dataset_versions::table
            .filter(dataset_versions::dataset_id.eq(dataset_id))
            .filter(dataset_versions::published_at.is_not_null())
            .order(dataset_versions::number.desc())
            .select(dataset_versions::doi)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten(),
    };
    let row = doi
        .map(|d| doi_record::find_row(conn, &d))
        .transpose()?
        .flatten();
    let record = match row {
        Some(row) => doi_record::load(conn, &settings.base_url, &row)?,
        None => None,
    };
    if record.is_none() {
        // A published dataset always has a DOI; without one the record goes out with
        // its header only, and this says why.
        tracing::warn!(
            dataset_id,
            "OAI-PMH: a published dataset has no DOI record to describe"
        );
    }
    Ok(record)
}

/// A record read for a response: its header and, unless deleted or ListIdentifiers,
/// its metadata.
struct Item {
    header: Header,
    payload: Option<DoiRecord>,
}

/// What one request is answered with, before it is written.
enum Answer {
    Errors(Vec<OaiError>),
    Identify {
        earliest: Option<NaiveDateTime>,
    },
    ListMetadataFormats,
    ListSets(Vec<records::Set>),
    List {
        verb: Verb,
        query: ListQuery,
        items: Vec<Item>,
        next: Option<String>,
        complete_size: i64,
    },
    GetRecord {
        // Boxed: a record's metadata is large beside the other answers.
        item: Box<Item>,
        format: Format,
    },
}

fn answer(
    conn: &mut AnyConnection,
    settings: &Settings,
    _audience: Audience,
    request: Request,
) -> Result<Answer, DomainError> {
    let unknown = |id: &str| {
        Answer::Errors(vec![OaiError::new(
            ErrorCode::IdDoesNotExist,
            format!(
                "no record has the identifier '{}'",
                id.chars().take(120).collect::<String>()
            ),
        )])
    };
    let header_of = |conn: &mut AnyConnection, id: &str| -> Result<Option<Header>, DomainError> {
        match dataset_of(settings, id) {
            Some(dataset) => records::find(conn, dataset),
            None => Ok(None),
        }
    };
    Ok(match request {
        Request::Identify => Answer::Identify {
            earliest: records::earliest(conn)?,
        },
        Request::ListMetadataFormats { identifier: None } => Answer::ListMetadataFormats,
        Request::ListMetadataFormats {
            identifier: Some(id),
        } => match header_of(conn, &id)? {
            Some(_) => Answer::ListMetadataFormats,
            None => unknown(&id),
        },
        Request::ListSets => {
            let sets = records::sets(conn)?;
            if sets.is_empty() {
                Answer::Errors(vec![OaiError::new(
                    ErrorCode::NoSetHierarchy,
                    "no record belongs to a set yet",
                )])
            } else {
                Answer::ListSets(sets)
            }
        }
        Request::GetRecord { identifier, format } => match header_of(conn, &identifier)? {
            Some(header) => {
                let payload = if header.row.deleted {
                    None
                } else {
                    payload_of(conn, settings, header.row.dataset_id)?
                };
                Answer::GetRecord {
                    item: Box::new(Item { header, payload }),
                    format,
                }
            }
            None => unknown(&identifier),
        },
        Request::ListIdentifiers(query) => list(conn, settings, Verb::ListIdentifiers, query)?,
        Request::ListRecords(query) => list(conn, settings, Verb::ListRecords, query)?,
    })
}

fn list(
    conn: &mut AnyConnection,
    settings: &Settings,
    verb: Verb,
    query: ListQuery,
) -> Result<Answer, DomainError> {
    let (headers, more) = records::page(conn, &query, settings.oai_page_size)?;
    if headers.is_empty() {
        return Ok(Answer::Errors(vec![OaiError::new(
            ErrorCode::NoRecordsMatch,
            "no record matches the arguments",
        )]));
    }
    let complete_size = records::count(conn, &query)?;
    let next = match (more, headers.last()) {
        (true, Some(last)) => Some(
            Token {
                verb,
                query: ListQuery {
                    after: Some((last.row.datestamp, last.row.dataset_id)),
                    cursor: query.cursor + headers.len() as u64,
                    ..query.clone()
                },
            }
            .encode(),
        ),
        _ => None,
    };
    let mut items = Vec::with_capacity(headers.len());
    for header in headers {
        let payload = if verb == Verb::ListRecords && !header.row.deleted {
            payload_of(conn, settings, header.row.dataset_id)?
        } else {
            None
        };
        items.push(Item { header, payload });
    }
    Ok(Answer::List {
        verb,
        query,
        items,
        next,
        complete_size,
    })
}

fn write_item(
    x: &mut crate::doi::export::datacite::Xml,
    settings: &Settings,
    item: &Item,
    format: Option<Format>,
) -> std::io::Result<()> {
    let id = identifier(settings, item.header.row.dataset_id);
    let Some(format) = format else {
        return xml::header(x, &id, &item.header);
    };
    let datacentre = settings
        .datacite
        .as_ref()
        .map(|d| d.repository.as_str())
        .unwrap_or(settings.site_name.as_str());
    match &item.payload {
        Some(p) => p.with_record(&settings.site_name, |r| {
            let payload = xml::Payload {
                record: r,
                datacentre,
            };
            xml::record(x, &id, &item.header, format, Some(&payload))
        }),
        None => xml::record(x, &id, &item.header, format, None),
    }
}

/// Answers one OAI-PMH request (its arguments in order, from the query string or the
/// form body) with the response document. Protocol errors are part of the document;
/// only a database failure is an `Err`.
pub fn respond(
    conn: &mut AnyConnection,
    settings: &Settings,
    audience: Audience,
    pairs: &[(String, String)],
) -> Result<Vec<u8>, DomainError> {
    let now = Utc::now().naive_utc();
    let base = base_url(settings);
    let (answer, echo) = match oai::parse(pairs) {
        Ok(request) => (answer(conn, settings, audience, request)?, true),
        Err(e) => {
            let echo = !e.code.hides_arguments();
            (Answer::Errors(vec![e]), echo)
        }
    };
    let echo = echo.then_some(pairs);
    Ok(xml::document(now, &base, echo, |x| match &answer {
        Answer::Errors(errors) => xml::errors(x, errors),
        Answer::Identify { earliest } => {
            let host = host(settings);
            xml::identify(
                x,
                &xml::Identity {
                    name: &settings.site_name,
                    base_url: &base,
                    admin_email: bare_address(&settings.oai_admin_email),
                    earliest: earliest.unwrap_or(now),
                    repository_identifier: repository_identifier(&host),
                    sample_identifier: identifier(settings, 1),
                },
            )
        }
        Answer::ListMetadataFormats => xml::metadata_formats(x),
        Answer::ListSets(sets) => xml::sets(x, sets),
        Answer::GetRecord { item, format } => {
            x.open("GetRecord", &[])?;
            write_item(x, settings, item, Some(*format))?;
            x.close("GetRecord")
        }
        Answer::List {
            verb,
            query,
            items,
            next,
            complete_size,
        } => {
            let format = (*verb == Verb::ListRecords).then_some(query.format);
            x.open(verb.as_str(), &[])?;
            for item in items {
                write_item(x, settings, item, format)?;
            }
            // A single complete page needs no token; a later page, or one with more
            // to come, carries one (empty on the last page).
            if next.is_some() || query.after.is_some() {
                xml::resumption(x, next.as_deref(), *complete_size, query.cursor)?;
            }
            x.close(verb.as_str())
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SettingsArgs;

    fn settings(base: &str) -> Settings {
        Settings::load(&SettingsArgs {
            base_url: Some(base.into()),
            ..Default::default()
        })
        .expect("settings")
    }

    #[test]
    fn identifiers_round_trip_and_refuse_others() {
        let s = settings("https://data.example.org/");
        assert_eq!(identifier(&s, 42), "oai:data.example.org:dataset/42");
        assert_eq!(dataset_of(&s, "oai:data.example.org:dataset/42"), Some(42));
        for bad in [
            "oai:other.org:dataset/42",
            "oai:data.example.org:dataset/",
            "oai:data.example.org:dataset/042",
            "oai:data.example.org:dataset/4x",
            "oai:data.example.org:dataset/99999999999999999999999",
            "42",
        ] {
            assert_eq!(dataset_of(&s, bad), None, "{bad}");
        }
        assert_eq!(
            repository_identifier("data.example.org"),
            Some("data.example.org")
        );
        assert_eq!(repository_identifier("127.0.0.1"), None);
        assert_eq!(repository_identifier("localhost"), None);
        assert_eq!(bare_address("Archive <a@example.org>"), "a@example.org");
        assert_eq!(bare_address(" a@example.org "), "a@example.org");
    }
}
