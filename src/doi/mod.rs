//! DOIs: the local registrar that mints under the configured prefix.
//!
//! Suffixes are short, random, use no look-alike characters (no 0/O/1/l/i) and end in a
//! check character, so a DOI copied by hand with one wrong or swapped character is
//! caught instead of pointing at another dataset.

pub mod export;

use chrono::Utc;
use diesel::prelude::*;
use rand::Rng;

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
}

/// The state of a DOI of this archive ("draft", "findable", "registered").
pub fn state_of(conn: &mut AnyConnection, doi: &str) -> Result<Option<String>, DomainError> {
    Ok(dois::table
        .filter(dois::doi.eq(doi))
        .select(dois::state)
        .first(conn)
        .optional()?)
}

/// Reserves a new DOI under `prefix` for a dataset (and version, for version DOIs).
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

/// Looks up a findable DOI (DOIs are case-insensitive; we mint lower case).
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

pub fn set_state(conn: &mut AnyConnection, doi: &str, state: DoiState) -> Result<(), DomainError> {
    diesel::update(dois::table.find(doi))
        .set((
            dois::state.eq(state.as_str()),
            dois::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
