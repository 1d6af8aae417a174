//! DOIs: minting under the configured prefix, their states, and their registration.
//!
//! The archive mints every DOI itself (the same way for both providers) and keeps it in
//! the `dois` table with two states: `state`, what the archive asks for, and
//! `provider_state`, what the registration agency confirmed. The provider
//! ([`provider::DoiProvider`]) is either the local registrar, whose registry is that
//! table (both states change together, at once), or DataCite's REST API, reached only
//! from `register-doi` jobs (see [`registration`]), so DataCite being down delays a
//! registration and never loses it.
//!
//! Suffixes are short, random, use no look-alike characters (no 0/O/1/l/i) and end in a
//! check character, so a DOI copied by hand with one wrong or swapped character is
//! caught instead of pointing at another dataset.

pub mod datacite;
pub mod export;
pub mod provider;
pub mod record;
pub mod registration;

use chrono::Utc;
use diesel::prelude::*;
use rand::Rng;

use crate::config::{DoiProviderKind, Settings};
use crate::db::schema::dois;
use crate::db::AnyConnection;
use crate::error::DomainError;

/// 31 characters: a prime modulus makes the weighted check catch every single-character
/// error and every swap of two neighbours.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const RANDOM_CHARS: usize = 7;

fn value_of(c: char) -> Option<usize> {
    ALPHABET.iter().position(|&a| a as char == c)
}

/// Weighted sum of a string of alphabet characters (hyphens ignored), weights 1, 2, ...
fn weighted_sum(body: &str) -> Option<usize> {
    let mut sum = 0usize;
    for (i, c) in body.chars().filter(|&c| c != '-').enumerate() {
        sum += (i + 1) * value_of(c)?;
    }
    Some(sum % ALPHABET.len())
}

/// The check character that makes the weighted sum of the whole suffix (check included,
/// at weight 8) divisible by 31. 4 is the inverse of 8 modulo 31.
pub fn check_char(body: &str) -> Option<char> {
    let n = ALPHABET.len();
    let sum = weighted_sum(body)?;
    Some(ALPHABET[((n - sum) % n) * 4 % n] as char)
}

/// A new random suffix like `k7qz-m4r9`: seven random characters and a check character.
pub fn mint_suffix() -> String {
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..RANDOM_CHARS)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    // The body is drawn from the alphabet, so a check character always exists.
    let check = check_char(&body).unwrap_or('2');
    format!("{}-{}{}", &body[..4], &body[4..], check)
}

/// Does this suffix carry a correct check character?
pub fn suffix_is_valid(suffix: &str) -> bool {
    let compact: String = suffix.chars().filter(|&c| c != '-').collect();
    compact.len() == RANDOM_CHARS + 1 && weighted_sum(&compact) == Some(0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoiState {
    /// Reserved: known to us, not yet public.
    Draft,
    /// Public and resolvable.
    Findable,
    /// Resolves, but is no longer listed (a deaccessioned dataset's tombstone).
    Registered,
}

impl DoiState {
    pub fn as_str(self) -> &'static str {
        match self {
            DoiState::Draft => "draft",
            DoiState::Findable => "findable",
            DoiState::Registered => "registered",
        }
    }

    pub fn parse(s: &str) -> Option<DoiState> {
        match s {
            "draft" => Some(DoiState::Draft),
            "findable" => Some(DoiState::Findable),
            "registered" => Some(DoiState::Registered),
            _ => None,
        }
    }

    /// DataCite's state machine: the state an event leads to from this one, or None
    /// when the event does not apply (a registered or findable DOI never returns to
    /// draft; only a findable one can be hidden).
    pub fn after(self, event: DoiEvent) -> Option<DoiState> {
        match (event, self) {
            (DoiEvent::Publish, DoiState::Draft | DoiState::Registered) => Some(DoiState::Findable),
            (DoiEvent::Register, DoiState::Draft) => Some(DoiState::Registered),
            (DoiEvent::Hide, DoiState::Findable) => Some(DoiState::Registered),
            _ => None,
        }
    }

    /// The event that takes a DOI the agency holds in `from` (None: not there yet) to
    /// `self`; `Ok(None)` when nothing needs to change state.
    pub fn event_from(self, from: Option<DoiState>) -> Result<Option<DoiEvent>, DomainError> {
        let event = match (from, self) {
            (None | Some(DoiState::Draft), DoiState::Draft) => None,
            (Some(_), DoiState::Draft) => {
                return Err(DomainError::Conflict(
                    "a registered DOI cannot return to draft".into(),
                ))
            }
            (Some(DoiState::Findable), DoiState::Findable) => None,
            (_, DoiState::Findable) => Some(DoiEvent::Publish),
            (Some(DoiState::Registered), DoiState::Registered) => None,
            (Some(DoiState::Findable), DoiState::Registered) => Some(DoiEvent::Hide),
            (None | Some(DoiState::Draft), DoiState::Registered) => Some(DoiEvent::Register),
        };
        Ok(event)
    }
}

/// DataCite's state-changing events (the `event` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoiEvent {
    /// draft or registered → findable
    Publish,
    /// draft → registered
    Register,
    /// findable → registered
    Hide,
}

impl DoiEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            DoiEvent::Publish => "publish",
            DoiEvent::Register => "register",
            DoiEvent::Hide => "hide",
        }
    }

    pub fn parse(s: &str) -> Option<DoiEvent> {
        match s {
            "publish" => Some(DoiEvent::Publish),
            "register" => Some(DoiEvent::Register),
            "hide" => Some(DoiEvent::Hide),
            _ => None,
        }
    }
}

/// The state of a DOI of this archive ("draft", "findable", "registered").
pub fn state_of(conn: &mut AnyConnection, doi: &str) -> Result<Option<String>, DomainError> {
    Ok(dois::table
        .filter(dois::doi.eq(doi))
        .select(dois::state)
        .first(conn)
        .optional()?)
}

/// Reserves a new DOI under the configured prefix for a dataset (and version, for
/// version DOIs), as a draft. The local registrar holds it at once; DataCite hears of
/// it only when asked (a draft reservation or the publication).
pub fn reserve_draft(
    conn: &mut AnyConnection,
    settings: &Settings,
    dataset_id: i64,
    version_id: Option<i64>,
    url: &str,
) -> Result<String, DomainError> {
    let doi = reserve(conn, &settings.doi_prefix, dataset_id, version_id, url)?;
    if settings.doi_provider == DoiProviderKind::Local {
        let now = Utc::now().naive_utc();
        diesel::update(dois::table.find(&doi))
            .set((
                dois::provider_state.eq(Some(DoiState::Draft.as_str())),
                dois::provider.eq(Some(DoiProviderKind::Local.as_str())),
                dois::provider_synced_at.eq(Some(now)),
            ))
            .execute(conn)?;
    }
    Ok(doi)
}

/// Mints a new DOI under `prefix` for a dataset (and version, for version DOIs), in
/// draft state and not yet registered with any provider (see [`reserve_draft`]).
pub fn reserve(
    conn: &mut AnyConnection,
    prefix: &str,
    dataset_id: i64,
    version_id: Option<i64>,
    url: &str,
) -> Result<String, DomainError> {
    // A clash among 31^7 suffixes is unlikely; retrying a few times makes it harmless.
    for _ in 0..5 {
        let doi = format!("{prefix}/{}", mint_suffix());
        let taken: i64 = dois::table
            .filter(dois::doi.eq(&doi))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            continue;
        }
        let now = Utc::now().naive_utc();
        diesel::insert_into(dois::table)
            .values((
                dois::doi.eq(&doi),
                dois::dataset_id.eq(dataset_id),
                dois::version_id.eq(version_id),
                dois::state.eq(DoiState::Draft.as_str()),
                dois::url.eq(url),
                dois::created_at.eq(now),
                dois::updated_at.eq(now),
            ))
            .execute(conn)?;
        return Ok(doi);
    }
    Err(DomainError::internal("could not mint a unique DOI"))
}

/// What a findable DOI of this archive points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoiTarget {
    pub dataset_id: i64,
    /// None for a concept DOI (it follows the latest version).
    pub version_number: Option<i32>,
}

/// Looks up a DOI that resolves: findable, or registered (a deaccessioned dataset's,
/// which resolves to its tombstone). DOIs are case-insensitive; we mint lower case.
pub fn find(conn: &mut AnyConnection, doi: &str) -> Result<Option<DoiTarget>, DomainError> {
    use crate::db::schema::dataset_versions;
    let row: Option<(i64, Option<i64>)> = dois::table
        .filter(dois::doi.eq(doi.to_lowercase()))
        // A registered DOI (a deaccessioned dataset's) still resolves, to the tombstone.
        .filter(dois::state.eq_any([DoiState::Findable.as_str(), DoiState::Registered.as_str()]))
        .select((dois::dataset_id, dois::version_id))
        .first(conn)
        .optional()?;
    let Some((dataset_id, version_id)) = row else {
        return Ok(None);
    };
    let version_number = match version_id {
        Some(v) => Some(
            dataset_versions::table
                .find(v)
                .select(dataset_versions::number)
                .first::<i32>(conn)?,
        ),
        None => None,
    };
    Ok(Some(DoiTarget {
        dataset_id,
        version_number,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_datacite() {
        use DoiEvent::*;
        use DoiState::*;
        assert_eq!(Draft.after(Publish), Some(Findable));
        assert_eq!(Registered.after(Publish), Some(Findable));
        assert_eq!(Draft.after(Register), Some(Registered));
        assert_eq!(Findable.after(Hide), Some(Registered));
        assert_eq!(Findable.after(Publish), None);
        assert_eq!(Findable.after(Register), None);
        assert_eq!(Draft.after(Hide), None);
        for target in [Draft, Findable, Registered] {
            for from in [None, Some(Draft), Some(Findable), Some(Registered)] {
                match target.event_from(from) {
                    Ok(None) => {
                        assert!(from == Some(target) || (from.is_none() && target == Draft))
                    }
                    Ok(Some(e)) => assert_eq!(from.unwrap_or(Draft).after(e), Some(target)),
                    Err(_) => assert_eq!(target, Draft),
                }
            }
        }
        for s in [Draft, Findable, Registered] {
            assert_eq!(DoiState::parse(s.as_str()), Some(s));
        }
        for e in [Publish, Register, Hide] {
            assert_eq!(DoiEvent::parse(e.as_str()), Some(e));
        }
    }

    #[test]
    fn minted_suffixes_check_and_avoid_look_alikes() {
        for _ in 0..1000 {
            let s = mint_suffix();
            assert!(suffix_is_valid(&s), "{s}");
            assert!(!s.contains(['0', 'o', 'O', '1', 'l', 'i', 'I']), "{s}");
            assert_eq!(s.len(), 9);
        }
    }

    #[test]
    fn one_wrong_or_swapped_character_is_caught() {
        let s = mint_suffix();
        let chars: Vec<char> = s.chars().collect();
        for i in 0..chars.len() {
            if chars[i] == '-' {
                continue;
            }
            for &a in ALPHABET {
                let a = a as char;
                if a == chars[i] {
                    continue;
                }
                let mut changed = chars.clone();
                changed[i] = a;
                let changed: String = changed.into_iter().collect();
                assert!(!suffix_is_valid(&changed), "{s} -> {changed}");
            }
        }
        let compact: Vec<char> = s.chars().filter(|&c| c != '-').collect();
        for i in 0..compact.len() - 1 {
            if compact[i] == compact[i + 1] {
                continue;
            }
            let mut swapped = compact.clone();
            swapped.swap(i, i + 1);
            let swapped: String = swapped.into_iter().collect();
            assert!(!suffix_is_valid(&swapped), "{s} -> {swapped}");
        }
    }
}
