//! The dataset's own metadata against DataCite 4.6: a mandatory property missing is an
//! error, a recommended one missing a warning, and every problem the deposit validation
//! (`deposit::metadata::validate`) finds is an error on the property it concerns.
//! Findings are dataset-level: file "", column = the DataCite property name.

use crate::deposit::metadata::{self, Metadata};

use super::findings::{Finding, Issue, Severity};
use super::spec::{DataciteRules, Obligation, Standard};

/// DataCite properties holdfast's metadata model holds (or the archive assigns), with the
/// JSON attribute each one is stored under.
const PROPERTIES: &[(&str, &str)] = &[
    ("Identifier", "doi"),
    ("Creator", "creators"),
    ("Title", "titles"),
    ("Publisher", "publisher"),
    ("PublicationYear", "publicationYear"),
    ("ResourceType", "types"),
    ("Subject", "subjects"),
    ("Date", "dates"),
    ("Language", "language"),
    ("RelatedIdentifier", "relatedIdentifiers"),
    ("Version", "version"),
    ("Rights", "rightsList"),
    ("Description", "descriptions"),
    ("GeoLocation", "geoLocations"),
    ("FundingReference", "fundingReferences"),
];

pub fn is_known_property(name: &str) -> bool {
    PROPERTIES.iter().any(|(p, _)| *p == name)
}

/// The property names [`is_known_property`] accepts, for messages.
pub fn known_properties() -> String {
    PROPERTIES
        .iter()
        .map(|(p, _)| *p)
        .collect::<Vec<_>>()
        .join(", ")
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// Whether the metadata gives the property at all (its validity is checked apart).
fn present(m: &Metadata, property: &str) -> bool {
    match property {
        "Creator" => !m.creators.is_empty(),
        "Title" => !m.titles.is_empty(),
        "Publisher" => m.publisher.is_some(),
        "PublicationYear" => m.publication_year.is_some(),
        "ResourceType" => m.types.is_some(),
        "Subject" => !m.subjects.is_empty(),
        "Date" => !m.dates.is_empty(),
        "Language" => !blank(&m.language),
        "RelatedIdentifier" => !m.related_identifiers.is_empty(),
        "Version" => !blank(&m.version),
        "Rights" => !m.rights_list.is_empty(),
        "Description" => !m.descriptions.is_empty(),
        "GeoLocation" => !m.geo_locations.is_empty(),
        "FundingReference" => !m.funding_references.is_empty(),
        // The DOI is minted at publication; the model does not hold it.
        _ => false,
    }
}

/// The DataCite property a validation field path (`creators[1].name`) belongs to.
fn property_of(field: &str) -> &'static str {
    let attribute = field.split(['[', '.']).next().unwrap_or("");
    PROPERTIES
        .iter()
        .find(|(_, a)| *a == attribute)
        .map_or("", |(p, _)| *p)
}

pub fn check(standard: &Standard, rules: &DataciteRules, m: &Metadata) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |issue: Issue| out.push(issue.found_in("", standard.name.clone()));
    // Validation accepts the forms normalisation writes (bare ORCIDs, DOI URLs).
    let mut normalised = m.clone();
    metadata::normalize(&mut normalised);
    let problems = metadata::validate(&normalised).err().unwrap_or_default();
    let mut missing = Vec::new();
    for p in &rules.properties {
        if present(m, &p.name) || p.assigned_by_archive {
            continue;
        }
        // The archive's own rule on an absent property (an abstract, a license) says
        // more than "missing"; it is reported below.
        let has_own_rule = problems.iter().any(|e| property_of(&e.field) == p.name);
        match p.obligation {
            Obligation::Mandatory => {
                missing.push(p.name.as_str());
                push(
                    Issue::new(
                        "missing-mandatory-property",
                        Severity::Error,
                        format!("{} is mandatory in DataCite; add it", p.name),
                    )
                    .column(p.name.clone()),
                );
            }
            Obligation::Recommended if !has_own_rule => push(
                Issue::new(
                    "missing-recommended-property",
                    Severity::Warning,
                    format!("{} is recommended by DataCite; adding it helps others find and reuse the data", p.name),
                )
                .column(p.name.clone()),
            ),
            Obligation::Recommended => {}
        }
    }
    for e in problems {
        let property = property_of(&e.field);
        // "Enter a title" when there is none repeats missing-mandatory-property.
        let attribute = PROPERTIES
            .iter()
            .find(|(p, _)| *p == property)
            .map_or("", |(_, a)| *a);
        if missing.contains(&property)
            && (e.field == attribute || e.field.starts_with(&format!("{attribute}.")))
        {
            continue;
        }
        let message = if e.field.is_empty() {
            e.message.clone()
        } else {
            format!("{}: {}", e.field, e.message)
        };
        push(Issue::new("invalid-property", Severity::Error, message).column(property));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standards::Registry;

    fn run(json: &str) -> Vec<(String, String, Severity)> {
        let registry = Registry::embedded().expect("standards");
        let s = registry.get("datacite").expect("datacite standard");
        let m = Metadata::from_json(json).expect("metadata json");
        check(s, s.datacite.as_ref().expect("rules"), &m)
            .into_iter()
            .map(|f| {
                assert_eq!(f.file, "");
                (
                    f.issue.code.to_string(),
                    f.issue.column.unwrap_or_default(),
                    f.issue.severity,
                )
            })
            .collect()
    }

    #[test]
    fn empty_metadata_lacks_mandatory_and_recommended_properties() {
        let found = run("{}");
        let has = |code: &str, col: &str, sev: Severity| {
            found
                .iter()
                .any(|(c, p, s)| c == code && p == col && *s == sev)
        };
        for p in ["Creator", "Title", "ResourceType"] {
            assert!(
                has("missing-mandatory-property", p, Severity::Error),
                "{p}: {found:?}"
            );
        }
        for p in ["Subject", "Date", "RelatedIdentifier", "GeoLocation"] {
            assert!(
                has("missing-recommended-property", p, Severity::Warning),
                "{p}: {found:?}"
            );
        }
        // The archive requires an abstract: an error, not only a recommendation.
        assert!(
            has("invalid-property", "Description", Severity::Error),
            "{found:?}"
        );
        assert!(!has(
            "missing-recommended-property",
            "Description",
            Severity::Warning
        ));
        // DOI, publisher and year are the archive's to set at publication.
        for p in ["Identifier", "Publisher", "PublicationYear"] {
            assert!(!found.iter().any(|(_, c, _)| c == p), "{p}: {found:?}");
        }
        // "Enter a title" is not repeated next to the missing Title.
        assert_eq!(
            found.iter().filter(|(_, c, _)| c == "Title").count(),
            1,
            "{found:?}"
        );
    }

    #[test]
    fn complete_metadata_passes_and_invalid_values_name_their_property() {
        let good = r#"{
            "titles": [{"title": "Soil pore water chemistry, East River, 2019"}],
            "creators": [{"name": "Doe, Jane", "nameType": "Personal"}],
            "descriptions": [{"description": "Weekly samples.", "descriptionType": "Abstract"}],
            "subjects": [{"subject": "hydrology"}],
            "types": {"resourceTypeGeneral": "Dataset"},
            "rightsList": [{"rightsIdentifier": "CC-BY-4.0"}],
            "dates": [{"date": "2019-05-01/2019-10-01", "dateType": "Collected"}],
            "relatedIdentifiers": [{"relatedIdentifier": "10.1234/abc", "relatedIdentifierType": "DOI", "relationType": "IsCitedBy"}],
            "geoLocations": [{"geoLocationPlace": "East River, Colorado"}]
        }"#;
        assert_eq!(run(good), vec![]);
        let bad = good.replace("\"Dataset\"", "\"Datasett\"").replace(
            "\"geoLocationPlace\": \"East River, Colorado\"",
            "\"geoLocationPoint\": {\"pointLatitude\": 95, \"pointLongitude\": 10}",
        );
        let found = run(&bad);
        assert!(
            found.contains(&(
                "invalid-property".into(),
                "ResourceType".into(),
                Severity::Error
            )),
            "{found:?}"
        );
        assert!(
            found.contains(&(
                "invalid-property".into(),
                "GeoLocation".into(),
                Severity::Error
            )),
            "{found:?}"
        );
    }
}
