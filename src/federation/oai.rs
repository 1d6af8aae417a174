//! The OAI-PMH 2.0 protocol itself, without a database: the verbs and their arguments,
//! the error codes, datestamps and resumption tokens. `parse` turns a request's
//! arguments into a checked [`Request`] or the protocol error to answer with.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use sha2::{Digest, Sha256};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// `granularity` in Identify, and the format of every datestamp written.
pub const GRANULARITY: &str = "YYYY-MM-DDThh:mm:ssZ";
const SECONDS: &str = "%Y-%m-%dT%H:%M:%SZ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Identify,
    ListMetadataFormats,
    ListSets,
    ListIdentifiers,
    ListRecords,
    GetRecord,
}

impl Verb {
    pub fn parse(s: &str) -> Option<Verb> {
        Some(match s {
            "Identify" => Verb::Identify,
            "ListMetadataFormats" => Verb::ListMetadataFormats,
            "ListSets" => Verb::ListSets,
            "ListIdentifiers" => Verb::ListIdentifiers,
            "ListRecords" => Verb::ListRecords,
            "GetRecord" => Verb::GetRecord,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Identify => "Identify",
            Verb::ListMetadataFormats => "ListMetadataFormats",
            Verb::ListSets => "ListSets",
            Verb::ListIdentifiers => "ListIdentifiers",
            Verb::ListRecords => "ListRecords",
            Verb::GetRecord => "GetRecord",
        }
    }

    /// The arguments the verb accepts besides `verb`.
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Verb::Identify => &[],
            Verb::ListMetadataFormats => &["identifier"],
            Verb::ListSets => &["resumptionToken"],
            Verb::ListIdentifiers | Verb::ListRecords => {
                &["metadataPrefix", "from", "until", "set", "resumptionToken"]
            }
            Verb::GetRecord => &["identifier", "metadataPrefix"],
        }
    }
}

/// The eight error codes of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    BadArgument,
    BadResumptionToken,
    BadVerb,
    CannotDisseminateFormat,
    IdDoesNotExist,
    NoRecordsMatch,
    NoMetadataFormats,
    NoSetHierarchy,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadArgument => "badArgument",
            ErrorCode::BadResumptionToken => "badResumptionToken",
            ErrorCode::BadVerb => "badVerb",
            ErrorCode::CannotDisseminateFormat => "cannotDisseminateFormat",
            ErrorCode::IdDoesNotExist => "idDoesNotExist",
            ErrorCode::NoRecordsMatch => "noRecordsMatch",
            ErrorCode::NoMetadataFormats => "noMetadataFormats",
            ErrorCode::NoSetHierarchy => "noSetHierarchy",
        }
    }

    /// The spec has the `request` element carry no attributes for these two: the
    /// arguments were not understood.
    pub fn hides_arguments(self) -> bool {
        matches!(self, ErrorCode::BadVerb | ErrorCode::BadArgument)
    }
}

/// A protocol error: answered as `<error code="…">message</error>` with HTTP 200.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OaiError {
    pub code: ErrorCode,
    pub message: String,
}

impl OaiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> OaiError {
        OaiError {
            code,
            message: message.into(),
        }
    }

    fn bad_argument(message: impl Into<String>) -> OaiError {
        OaiError::new(ErrorCode::BadArgument, message)
    }

    fn bad_token(message: impl Into<String>) -> OaiError {
        OaiError::new(ErrorCode::BadResumptionToken, message)
    }
}

/// The metadata formats every record is disseminated in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Unqualified Dublin Core, which the protocol requires.
    OaiDc,
    /// DataCite's OAI convention: the kernel-4 `resource` inside the oai-1.1 wrapper
    /// (what DataCite's own provider, InvenioRDM and Zenodo serve under this prefix).
    OaiDatacite,
    /// The bare kernel-4 `resource` (DataCite's provider's `datacite` prefix).
    Datacite,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::OaiDc, Format::OaiDatacite, Format::Datacite];

    pub fn parse(prefix: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.prefix() == prefix)
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Format::OaiDc => "oai_dc",
            Format::OaiDatacite => "oai_datacite",
            Format::Datacite => "datacite",
        }
    }

    pub fn schema(self) -> &'static str {
        match self {
            Format::OaiDc => "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
            Format::OaiDatacite => "http://schema.datacite.org/oai/oai-1.1/oai.xsd",
            Format::Datacite => "http://schema.datacite.org/meta/kernel-4.6/metadata.xsd",
        }
    }

    pub fn namespace(self) -> &'static str {
        match self {
            Format::OaiDc => "http://www.openarchives.org/OAI/2.0/oai_dc/",
            Format::OaiDatacite => "http://schema.datacite.org/oai/oai-1.1/",
            Format::Datacite => "http://datacite.org/schema/kernel-4",
        }
    }
}

/// A selective harvest: the format, optional set and inclusive datestamp range, and
/// where the previous page ended (datestamp and dataset id of its last record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub format: Format,
    pub set: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub after: Option<(NaiveDateTime, i64)>,
    /// Records already sent in earlier pages (the token's `cursor`).
    pub cursor: u64,
}

/// A checked request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Identify,
    ListMetadataFormats { identifier: Option<String> },
    ListSets,
    ListIdentifiers(ListQuery),
    ListRecords(ListQuery),
    GetRecord { identifier: String, format: Format },
}

/// Checks the arguments of one request (query string or form body, in order).
/// Errors follow the spec's precedence: the verb first (`badVerb`), then the
/// arguments' presence and syntax (`badArgument`), then their values.
pub fn parse(pairs: &[(String, String)]) -> Result<Request, OaiError> {
    let verbs: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "verb")
        .map(|(_, v)| v.as_str())
        .collect();
    let verb = match verbs.as_slice() {
        [] => {
            return Err(OaiError::new(
                ErrorCode::BadVerb,
                "the verb argument is missing",
            ))
        }
        [one] => Verb::parse(one).ok_or_else(|| {
            OaiError::new(
                ErrorCode::BadVerb,
                format!("'{}' is not an OAI-PMH verb", clip(one)),
            )
        })?,
        _ => {
            return Err(OaiError::new(
                ErrorCode::BadVerb,
                "the verb argument is repeated",
            ))
        }
    };
    let mut args: Vec<(&str, &str)> = Vec::new();
    for (k, v) in pairs.iter().filter(|(k, _)| k != "verb") {
        if !verb.allowed().contains(&k.as_str()) {
            return Err(OaiError::bad_argument(format!(
                "{} does not take the argument '{}'",
                verb.as_str(),
                clip(k)
            )));
        }
        if args.iter().any(|(seen, _)| seen == k) {
            return Err(OaiError::bad_argument(format!(
                "the argument '{k}' is repeated"
            )));
        }
        args.push((k.as_str(), v.as_str()));
    }
    let get = |name: &str| args.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    match verb {
        Verb::Identify => Ok(Request::Identify),
        Verb::ListMetadataFormats => Ok(Request::ListMetadataFormats {
            identifier: get("identifier").map(str::to_string),
        }),
        Verb::ListSets => match get("resumptionToken") {
            // Every set fits on one page, so no token was ever issued for ListSets.
            Some(_) => Err(OaiError::bad_token(
                "ListSets never issues resumption tokens",
            )),
            None => Ok(Request::ListSets),
        },
        Verb::GetRecord => {
            let identifier = get("identifier")
                .ok_or_else(|| OaiError::bad_argument("GetRecord needs an identifier"))?;
            let prefix = get("metadataPrefix")
                .ok_or_else(|| OaiError::bad_argument("GetRecord needs a metadataPrefix"))?;
            Ok(Request::GetRecord {
                identifier: identifier.to_string(),
                format: format_of(prefix)?,
            })
        }
        Verb::ListIdentifiers | Verb::ListRecords => {
            let query = match get("resumptionToken") {
                Some(token) => {
                    if args.len() > 1 {
                        return Err(OaiError::bad_argument(
                            "resumptionToken is an exclusive argument",
                        ));
                    }
                    Token::decode(token, verb)?.query
                }
                None => list_query(get("metadataPrefix"), get("from"), get("until"), get("set"))?,
            };
            Ok(if verb == Verb::ListRecords {
                Request::ListRecords(query)
            } else {
                Request::ListIdentifiers(query)
            })
        }
    }
}

fn format_of(prefix: &str) -> Result<Format, OaiError> {
    Format::parse(prefix).ok_or_else(|| {
        OaiError::new(
            ErrorCode::CannotDisseminateFormat,
            format!(
                "'{}' is not a metadata format of this repository; use ListMetadataFormats",
                clip(prefix)
            ),
        )
    })
}

fn list_query(
    prefix: Option<&str>,
    from: Option<&str>,
    until: Option<&str>,
    set: Option<&str>,
) -> Result<ListQuery, OaiError> {
    let prefix = prefix.ok_or_else(|| OaiError::bad_argument("metadataPrefix is required"))?;
    let from = from.map(|s| parse_datestamp(s, Bound::From)).transpose()?;
    let until = until
        .map(|s| parse_datestamp(s, Bound::Until))
        .transpose()?;
    if let (Some((_, g1)), Some((_, g2))) = (from, until) {
        if g1 != g2 {
            return Err(OaiError::bad_argument(
                "from and until must have the same granularity",
            ));
        }
    }
    let from = from.map(|(d, _)| d);
    let until = until.map(|(d, _)| d);
    if let (Some(f), Some(u)) = (from, until) {
        if f > u {
            return Err(OaiError::bad_argument("from is later than until"));
        }
    }
    if let Some(s) = set {
        if !is_set_spec(s) {
            return Err(OaiError::bad_argument(format!(
                "'{}' is not a setSpec",
                clip(s)
            )));
        }
    }
    let format = format_of(prefix)?;
    Ok(ListQuery {
        format,
        set: set.map(str::to_string),
        from,
        until,
        after: None,
        cursor: 0,
    })
}

/// Which end of a range a datestamp is: a day means its first second for `from`
/// and its last for `until` (both are inclusive).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    From,
    Until,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Seconds,
}

/// `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ`, strictly (no fractions, no offsets: finer
/// than the advertised granularity is a bad argument).
pub fn parse_datestamp(s: &str, bound: Bound) -> Result<(NaiveDateTime, Granularity), OaiError> {
    let bad = || {
        OaiError::bad_argument(format!(
            "'{}' is not a datestamp (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)",
            clip(s)
        ))
    };
    let digits_at = |positions: &[usize]| {
        positions
            .iter()
            .all(|&i| s.as_bytes().get(i).is_some_and(u8::is_ascii_digit))
    };
    match s.len() {
        10 if digits_at(&[0, 1, 2, 3, 5, 6, 8, 9]) => {
            let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
            let time = match bound {
                Bound::From => NaiveTime::MIN,
                Bound::Until => NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(bad)?,
            };
            Ok((day.and_time(time), Granularity::Day))
        }
        20 if digits_at(&[0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]) => {
            let t = NaiveDateTime::parse_from_str(s, SECONDS).map_err(|_| bad())?;
            Ok((t, Granularity::Seconds))
        }
        _ => Err(bad()),
    }
}

/// A datestamp as written in responses: UTC, to the second.
pub fn format_datestamp(t: NaiveDateTime) -> String {
    t.format(SECONDS).to_string()
}

/// `setSpec` syntax: colon-separated parts of URI-unreserved characters.
pub fn is_set_spec(s: &str) -> bool {
    s.len() <= 200
        && s.split(':').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '-' | '_' | '.' | '!' | '~' | '*' | '\'' | '(' | ')')
                })
        })
}

/// Echoed values in messages are cut short: a request may carry anything.
fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// A stateless resumption token: the whole query and where the page ended, so any
/// node answers it, before or after a restart. A checksum makes a damaged or edited
/// token a `badResumptionToken`; it is not a secret (forging one gains nothing a
/// plain request could not ask for, and every field is checked again on decoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub verb: Verb,
    pub query: ListQuery,
}

const TOKEN_VERSION: &str = "1";
const TOKEN_SALT: &[u8] = b"holdfast oai-pmh resumption token";

fn checksum(payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(TOKEN_SALT);
    h.update(payload.as_bytes());
    hex::encode(&h.finalize()[..8])
}

impl Token {
    pub fn encode(&self) -> String {
        let q = &self.query;
        let (after_t, after_id) = match q.after {
            Some((t, id)) => (format_datestamp(t), id.to_string()),
            None => (String::new(), String::new()),
        };
        let fields = serde_json::json!([
            TOKEN_VERSION,
            self.verb.as_str(),
            q.format.prefix(),
            q.set.as_deref().unwrap_or(""),
            q.from.map(format_datestamp).unwrap_or_default(),
            q.until.map(format_datestamp).unwrap_or_default(),
            after_t,
            after_id,
            q.cursor,
        ]);
        let payload = URL_SAFE_NO_PAD.encode(fields.to_string());
        let sum = checksum(&payload);
        format!("{payload}.{sum}")
    }

    /// Reads a token sent with `verb`; anything off is `badResumptionToken`.
    pub fn decode(token: &str, verb: Verb) -> Result<Token, OaiError> {
        let bad = || OaiError::bad_token("the resumption token is not valid");
        let (payload, sum) = token.rsplit_once('.').ok_or_else(bad)?;
        if token.len() > 2000 || checksum(payload) != sum {
            return Err(bad());
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let fields: Vec<serde_json::Value> = serde_json::from_slice(&json).map_err(|_| bad())?;
        let text = |i: usize| fields.get(i).and_then(|v| v.as_str()).ok_or_else(bad);
        let optional_time = |i: usize| -> Result<Option<NaiveDateTime>, OaiError> {
            match text(i)? {
                "" => Ok(None),
                s => NaiveDateTime::parse_from_str(s, SECONDS)
                    .map(Some)
                    .map_err(|_| bad()),
            }
        };
        if fields.len() != 9 || text(0)? != TOKEN_VERSION {
            return Err(bad());
        }
        if Verb::parse(text(1)?) != Some(verb) {
            return Err(OaiError::bad_token(format!(
                "this resumption token belongs to another verb, not {}",
                verb.as_str()
            )));
        }
        let format = Format::parse(text(2)?).ok_or_else(bad)?;
        let set = match text(3)? {
            "" => None,
            s if is_set_spec(s) => Some(s.to_string()),
            _ => return Err(bad()),
        };
        let after = match (optional_time(6)?, text(7)?) {
            (Some(t), id) => Some((t, id.parse::<i64>().map_err(|_| bad())?)),
            (None, "") => None,
            (None, _) => return Err(bad()),
        };
        let cursor = fields.get(8).and_then(|v| v.as_u64()).ok_or_else(bad)?;
        Ok(Token {
            verb,
            query: ListQuery {
                format,
                set,
                from: optional_time(4)?,
                until: optional_time(5)?,
                after,
                cursor,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn code(list: &[(&str, &str)]) -> Option<ErrorCode> {
        parse(&pairs(list)).err().map(|e| e.code)
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, SECONDS).expect("test datestamp")
    }

    #[test]
    fn verbs_missing_repeated_or_unknown_are_bad_verbs() {
        assert_eq!(code(&[]), Some(ErrorCode::BadVerb));
        assert_eq!(code(&[("verb", "Dance")]), Some(ErrorCode::BadVerb));
        assert_eq!(code(&[("verb", "identify")]), Some(ErrorCode::BadVerb));
        assert_eq!(
            code(&[("verb", "Identify"), ("verb", "Identify")]),
            Some(ErrorCode::BadVerb)
        );
        assert_eq!(
            parse(&pairs(&[("verb", "Identify")])),
            Ok(Request::Identify)
        );
    }

    #[test]
    fn extra_repeated_and_missing_arguments_are_bad_arguments() {
        use ErrorCode::*;
        assert_eq!(code(&[("verb", "Identify"), ("x", "1")]), Some(BadArgument));
        assert_eq!(
            code(&[
                ("verb", "ListRecords"),
                ("metadataPrefix", "oai_dc"),
                ("metadataPrefix", "oai_dc")
            ]),
            Some(BadArgument)
        );
        assert_eq!(code(&[("verb", "ListRecords")]), Some(BadArgument));
        assert_eq!(
            code(&[("verb", "GetRecord"), ("identifier", "x")]),
            Some(BadArgument)
        );
        assert_eq!(
            code(&[("verb", "GetRecord"), ("metadataPrefix", "oai_dc")]),
            Some(BadArgument)
        );
        assert_eq!(
            code(&[
                ("verb", "ListIdentifiers"),
                ("metadataPrefix", "oai_dc"),
                ("resumptionToken", "x")
            ]),
            Some(BadArgument)
        );
        assert_eq!(
            code(&[
                ("verb", "ListIdentifiers"),
                ("metadataPrefix", "oai_dc"),
                ("set", "a::b")
            ]),
            Some(BadArgument)
        );
        assert_eq!(
            code(&[("verb", "ListRecords"), ("metadataPrefix", "marc21")]),
            Some(CannotDisseminateFormat)
        );
        assert_eq!(
            code(&[
                ("verb", "GetRecord"),
                ("identifier", "x"),
                ("metadataPrefix", "marc21")
            ]),
            Some(CannotDisseminateFormat)
        );
        assert_eq!(
            code(&[("verb", "ListSets"), ("resumptionToken", "x")]),
            Some(BadResumptionToken)
        );
    }

    #[test]
    fn dates_are_strict_inclusive_and_of_one_granularity() {
        use ErrorCode::*;
        let list = |from: &str, until: &str| {
            let mut p = vec![("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")];
            if !from.is_empty() {
                p.push(("from", from));
            }
            if !until.is_empty() {
                p.push(("until", until));
            }
            parse(&pairs(&p))
        };
        for bad in [
            "2026-12-2",
            "2026-13-01",
            "2026-02-30",
            "2026-12-02T10:00:00",
            "2026-12-02T10:00:00.5Z",
            "2026-12-02T10:00:00+01:00",
            "2026-12-02T25:00:00Z",
            "yesterday",
            " 2026-12-02",
        ] {
            assert_eq!(
                list(bad, "").err().map(|e| e.code),
                Some(BadArgument),
                "{bad}"
            );
        }
        assert_eq!(
            list("2026-12-01", "2026-12-02T00:00:00Z")
                .err()
                .map(|e| e.code),
            Some(BadArgument)
        );
        assert_eq!(
            list("2026-12-03", "2026-12-02").err().map(|e| e.code),
            Some(BadArgument)
        );
        let Ok(Request::ListIdentifiers(q)) = list("2026-12-02", "2026-12-02") else {
            panic!("a one-day range is fine");
        };
        assert_eq!(q.from, Some(at("2026-12-02T00:00:00Z")));
        assert_eq!(q.until, Some(at("2026-12-02T23:59:59Z")));
        let Ok(Request::ListIdentifiers(q)) = list("2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z")
        else {
            panic!("a one-second range is fine");
        };
        assert_eq!(q.from, q.until);
        assert_eq!(
            format_datestamp(at("2026-01-05T03:04:05Z")),
            "2026-01-05T03:04:05Z"
        );
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let token = Token {
            verb: Verb::ListRecords,
            query: ListQuery {
                format: Format::OaiDatacite,
                set: Some("standard:ameriflux-base".into()),
                from: Some(at("2026-01-01T00:00:00Z")),
                until: None,
                after: Some((at("2026-06-01T12:00:00Z"), 42)),
                cursor: 100,
            },
        };
        let text = token.encode();
        assert!(text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        assert_eq!(Token::decode(&text, Verb::ListRecords), Ok(token.clone()));
        let Ok(Request::ListRecords(q)) = parse(&pairs(&[
            ("verb", "ListRecords"),
            ("resumptionToken", &text),
        ])) else {
            panic!("a token alone is a valid request");
        };
        assert_eq!(q, token.query);
        // Another verb, a changed character, a cut token, garbage.
        let wrong_verb = Token::decode(&text, Verb::ListIdentifiers);
        assert_eq!(
            wrong_verb.err().map(|e| e.code),
            Some(ErrorCode::BadResumptionToken)
        );
        let mut tampered = text.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        for bad in [
            tampered.as_str(),
            &text[..text.len() - 1],
            "",
            ".",
            "abc",
            "x.y.z",
        ] {
            assert_eq!(
                Token::decode(bad, Verb::ListRecords).err().map(|e| e.code),
                Some(ErrorCode::BadResumptionToken),
                "{bad}"
            );
        }
        // A well-formed payload with a valid checksum but an unknown format.
        let payload = URL_SAFE_NO_PAD.encode(r#"["1","ListRecords","marc21","","","","","",0]"#);
        let forged = format!("{payload}.{}", checksum(&payload));
        assert_eq!(
            Token::decode(&forged, Verb::ListRecords)
                .err()
                .map(|e| e.code),
            Some(ErrorCode::BadResumptionToken)
        );
    }

    #[test]
    fn set_specs() {
        assert!(is_set_spec("type:Dataset"));
        assert!(is_set_spec("standard:ameriflux-base"));
        assert!(!is_set_spec(""));
        assert!(!is_set_spec("type:"));
        assert!(!is_set_spec("a b"));
        assert!(!is_set_spec("a/b"));
    }
}
