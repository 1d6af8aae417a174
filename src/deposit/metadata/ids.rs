//! Parsed person and organisation identifiers: [`Orcid`] and [`RorId`].
//!
//! Parse, don't validate: holding an `Orcid` or a `RorId` means the value has
//! the right shape and a correct check digit / checksum.

use std::fmt;
use std::str::FromStr;

/// Longest input echoed back in error messages.
const ECHO_MAX: usize = 60;

/// Shorten user input for an error message.
pub(super) fn excerpt(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= ECHO_MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(ECHO_MAX).collect();
        out.push('…');
        out
    }
}

/// Why a string is not an ORCID iD.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrcidError {
    #[error("\"{0}\" is not an ORCID iD; write it as 0000-0002-1825-0097 or https://orcid.org/0000-0002-1825-0097")]
    Format(String),
    #[error("ORCID {0} has a wrong check digit; please check it for typos")]
    CheckDigit(String),
}

/// An ORCID iD with a verified ISO 7064 MOD 11-2 check digit.
///
/// Accepts `0000-0002-1825-0097`, `0000000218250097`, `orcid.org/…`,
/// `http(s)://(www.)orcid.org/…`; a lowercase `x` check character is upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Orcid(String);

impl Orcid {
    /// `schemeUri` for ORCID name identifiers.
    pub const SCHEME_URI: &'static str = "https://orcid.org";
    /// `nameIdentifierScheme` value.
    pub const SCHEME: &'static str = "ORCID";

    pub fn parse(input: &str) -> Result<Self, OrcidError> {
        let trimmed = input.trim();
        let bare = strip_url_prefix(trimmed, "orcid.org/");
        let compact: String = bare.chars().filter(|c| *c != '-').collect();
        let hyphens_ok = if bare.contains('-') {
            bare.len() == 19
                && [4, 9, 14]
                    .iter()
                    .all(|&i| bare.as_bytes().get(i) == Some(&b'-'))
        } else {
            true
        };
        let bytes = compact.as_bytes();
        let shape_ok = hyphens_ok
            && bytes.len() == 16
            && bytes[..15].iter().all(u8::is_ascii_digit)
            && (bytes[15].is_ascii_digit() || bytes[15] == b'X' || bytes[15] == b'x');
        if !shape_ok {
            return Err(OrcidError::Format(excerpt(input)));
        }
        let compact = compact.to_ascii_uppercase();
        let formatted = format!(
            "{}-{}-{}-{}",
            &compact[0..4],
            &compact[4..8],
            &compact[8..12],
            &compact[12..16]
        );
        let expected = orcid_check_char(&compact.as_bytes()[..15]);
        if compact.as_bytes()[15] != expected {
            return Err(OrcidError::CheckDigit(formatted));
        }
        Ok(Orcid(formatted))
    }

    /// The bare form, `0000-0002-1825-0097`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical URL form, `https://orcid.org/0000-0002-1825-0097`.
    pub fn url(&self) -> String {
        format!("https://orcid.org/{}", self.0)
    }
}

/// ISO 7064 MOD 11-2 over 15 ASCII digits; returns b'0'..=b'9' or b'X'.
fn orcid_check_char(digits: &[u8]) -> u8 {
    let mut total: u32 = 0;
    for d in digits {
        total = (total + u32::from(d - b'0')) * 2;
    }
    let result = (12 - total % 11) % 11;
    if result == 10 {
        b'X'
    } else {
        b'0' + result as u8
    }
}

impl FromStr for Orcid {
    type Err = OrcidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Orcid::parse(s)
    }
}

/// Displays the URL form.
impl fmt::Display for Orcid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://orcid.org/{}", self.0)
    }
}

/// Why a string is not a ROR id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RorError {
    #[error("\"{0}\" is not a ROR id; write it as https://ror.org/02jbv0t02 (find it at https://ror.org)")]
    Format(String),
    #[error("ROR id {0} has a wrong checksum; please check it for typos")]
    Checksum(String),
}

/// A ROR organisation id with a verified checksum.
///
/// Shape: `0` + 6 Crockford base32 characters (no i, l, o, u) + 2 decimal digits.
/// The last two digits are the ISO 7064 MOD 97-10 checksum of the integer
/// encoded by the base32 part: `98 - (n * 100 mod 97)`, zero-padded (this is how
/// ror-community/ror-api generates ids; checked against real ids in the tests).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RorId(String);

impl RorId {
    /// `schemeUri` for ROR identifiers.
    pub const SCHEME_URI: &'static str = "https://ror.org";
    /// `nameIdentifierScheme` / `affiliationIdentifierScheme` / `funderIdentifierType` value.
    pub const SCHEME: &'static str = "ROR";

    pub fn parse(input: &str) -> Result<Self, RorError> {
        let trimmed = input.trim();
        let bare = strip_url_prefix(trimmed, "ror.org/").to_ascii_lowercase();
        let b = bare.as_bytes();
        if b.len() != 9 || b[0] != b'0' || !b[7].is_ascii_digit() || !b[8].is_ascii_digit() {
            return Err(RorError::Format(excerpt(input)));
        }
        let mut n: u64 = 0;
        for &c in &b[1..7] {
            match crockford_value(c) {
                Some(v) => n = n * 32 + v,
                None => return Err(RorError::Format(excerpt(input))),
            }
        }
        let expected = 98 - (n * 100) % 97;
        let given = u64::from(b[7] - b'0') * 10 + u64::from(b[8] - b'0');
        if given != expected {
            return Err(RorError::Checksum(format!("https://ror.org/{bare}")));
        }
        Ok(RorId(bare))
    }

    /// The bare form, `02jbv0t02`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical URL form, `https://ror.org/02jbv0t02`.
    pub fn url(&self) -> String {
        format!("https://ror.org/{}", self.0)
    }
}

fn crockford_value(c: u8) -> Option<u64> {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u64)
}

impl FromStr for RorId {
    type Err = RorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RorId::parse(s)
    }
}

/// Displays the URL form.
impl fmt::Display for RorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://ror.org/{}", self.0)
    }
}

/// Strip `https://`, `http://`, `www.` and then `host_path` (e.g. `orcid.org/`),
/// case-insensitively; returns the input unchanged when it has no such prefix.
fn strip_url_prefix<'a>(s: &'a str, host_path: &str) -> &'a str {
    let mut rest = s;
    for p in ["https://", "http://"] {
        if starts_with_ci(rest, p) {
            rest = &rest[p.len()..];
            break;
        }
    }
    if starts_with_ci(rest, "www.") {
        rest = &rest[4..];
    }
    if starts_with_ci(rest, host_path) {
        rest[host_path.len()..].trim_end_matches('/')
    } else {
        s
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orcid_valid_forms() {
        let a = Orcid::parse("0000-0002-1825-0097").expect("valid");
        assert_eq!(a.as_str(), "0000-0002-1825-0097");
        assert_eq!(a.url(), "https://orcid.org/0000-0002-1825-0097");
        assert_eq!(a.to_string(), a.url());
        for s in [
            "https://orcid.org/0000-0002-1825-0097",
            "http://orcid.org/0000-0002-1825-0097/",
            "HTTPS://www.ORCID.org/0000-0002-1825-0097",
            "orcid.org/0000-0002-1825-0097",
            " 0000000218250097 ",
        ] {
            assert_eq!(Orcid::parse(s).as_ref(), Ok(&a), "{s}");
        }
    }

    #[test]
    fn orcid_x_check_digit() {
        let x = Orcid::parse("0000-0002-9079-593X").expect("valid");
        assert_eq!(x.as_str(), "0000-0002-9079-593X");
        assert_eq!(Orcid::parse("0000-0002-9079-593x"), Ok(x));
    }

    #[test]
    fn orcid_wrong_check_digit() {
        let e = Orcid::parse("0000-0002-1825-0098").unwrap_err();
        assert_eq!(e, OrcidError::CheckDigit("0000-0002-1825-0098".into()));
        assert_eq!(
            e.to_string(),
            "ORCID 0000-0002-1825-0098 has a wrong check digit; please check it for typos"
        );
        assert!(matches!(
            Orcid::parse("0000-0002-9079-5930"),
            Err(OrcidError::CheckDigit(_))
        ));
    }

    #[test]
    fn orcid_bad_format() {
        for s in [
            "",
            "0000-0002-1825-009",
            "0000-0002-1825-00977",
            "00000-002-1825-0097",
            "0000-0002-1825-X097",
            "https://example.org/0000-0002-1825-0097",
            "0000–0002–1825–0097",
            "John Smith",
        ] {
            assert!(matches!(Orcid::parse(s), Err(OrcidError::Format(_))), "{s}");
        }
        let long = "9".repeat(1000);
        let msg = Orcid::parse(&long).unwrap_err().to_string();
        assert!(
            msg.len() < 250,
            "error message echoes too much: {}",
            msg.len()
        );
    }

    #[test]
    fn ror_valid() {
        let r = RorId::parse("https://ror.org/02jbv0t02").expect("valid");
        assert_eq!(r.as_str(), "02jbv0t02");
        assert_eq!(r.url(), "https://ror.org/02jbv0t02");
        assert_eq!(RorId::parse("02jbv0t02").as_ref(), Ok(&r));
        assert_eq!(RorId::parse("ror.org/02JBV0T02").as_ref(), Ok(&r));
        // Other real ROR ids (Caltech, CDL, DataCite, CERN, ORCID).
        for s in [
            "05dxps055",
            "03yrm5c26",
            "04wxnsj81",
            "01ggx4157",
            "04fa4r544",
        ] {
            assert!(RorId::parse(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn ror_wrong_checksum() {
        let e = RorId::parse("https://ror.org/02jbv0t03").unwrap_err();
        assert_eq!(e, RorError::Checksum("https://ror.org/02jbv0t03".into()));
        assert!(e.to_string().contains("wrong checksum"));
    }

    #[test]
    fn ror_bad_format() {
        for s in [
            "",
            "12jbv0t02",
            "02jbv0t0",
            "02jbv0t0x",
            "02ibv0t02",
            "02ubv0t02",
            "https://ror.org/",
            "https://example.org/02jbv0t02",
        ] {
            assert!(matches!(RorId::parse(s), Err(RorError::Format(_))), "{s}");
        }
    }
}
