//! Creator names as citation formats need them: a person's family and given names, or
//! an organisation's (or unparseable) name kept whole.

use crate::deposit::metadata::{Creator, Orcid, RorId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Name {
    Person {
        family: String,
        given: Option<String>,
    },
    /// An organisation, or a person whose name cannot be split safely.
    Literal(String),
}

/// Splits a creator's name. Organisations are never split (a comma in
/// "University of California, Berkeley" is not a "Family, Given" comma).
pub(crate) fn name_of(c: &Creator) -> Name {
    let trimmed = |o: &Option<String>| {
        o.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let organizational = c.name_type.as_deref() == Some("Organizational");
    if !organizational {
        if let Some(family) = trimmed(&c.family_name) {
            return Name::Person {
                family,
                given: trimmed(&c.given_name),
            };
        }
        if c.name_type.as_deref() == Some("Personal") {
            if let Some((family, given)) = c.name.split_once(',') {
                let (family, given) = (family.trim(), given.trim());
                if !family.is_empty() {
                    return Name::Person {
                        family: family.to_string(),
                        given: (!given.is_empty()).then(|| given.to_string()),
                    };
                }
            }
        }
    }
    let name = c.name.trim();
    if name.is_empty() {
        // Validation requires a name; an empty one still gets a visible placeholder.
        Name::Literal(":unav".to_string())
    } else {
        Name::Literal(name.to_string())
    }
}

/// The name DataCite's `creatorName` carries: as given, else "Family, Given".
pub(crate) fn display_name(c: &Creator) -> String {
    let name = c.name.trim();
    if !name.is_empty() {
        return name.to_string();
    }
    inverted_name(c)
}

/// "Family, Given" for a person (family name alone without a given name), an
/// organisation's name as it is: the form RIS and Google Scholar's tags want.
pub(crate) fn inverted_name(c: &Creator) -> String {
    match name_of(c) {
        Name::Person {
            family,
            given: Some(given),
        } => format!("{family}, {given}"),
        Name::Person { family, .. } => family,
        Name::Literal(l) => l,
    }
}

/// "J." for "Jörg", "M.-J." for "Mary-Jane", "J. R. R." for "John Ronald Reuel".
pub(crate) fn initials(given: &str) -> String {
    given
        .split_whitespace()
        .map(|word| {
            word.split('-')
                .filter_map(|part| {
                    let c = part.chars().find(|c| c.is_alphanumeric())?;
                    Some(format!("{}.", c.to_uppercase()))
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The creator's ORCID as a URL, when one of its identifiers is a valid ORCID iD.
pub(crate) fn orcid_url(c: &Creator) -> Option<String> {
    c.name_identifiers.iter().find_map(|n| {
        let scheme_ok = n.name_identifier_scheme.eq_ignore_ascii_case(Orcid::SCHEME);
        scheme_ok
            .then(|| Orcid::parse(&n.name_identifier).ok())
            .flatten()
            .map(|o| o.url())
    })
}

/// A ROR URL from an identifier that claims the ROR scheme (name identifiers,
/// affiliation identifiers).
pub(crate) fn ror_url(scheme: Option<&str>, id: &str) -> Option<String> {
    let scheme_ok = scheme.is_some_and(|s| s.eq_ignore_ascii_case(RorId::SCHEME));
    scheme_ok
        .then(|| RorId::parse(id).ok())
        .flatten()
        .map(|r| r.url())
}

/// The creator's own ROR (organisations).
pub(crate) fn creator_ror_url(c: &Creator) -> Option<String> {
    c.name_identifiers
        .iter()
        .find_map(|n| ror_url(Some(n.name_identifier_scheme.as_str()), &n.name_identifier))
}
