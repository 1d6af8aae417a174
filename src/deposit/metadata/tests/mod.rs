//! Tests for validation, normalisation, JSON and form mapping.

use super::*;

mod form;
mod json;
mod rules;

use json::FULL_JSON;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A minimal valid dataset.
fn valid() -> Metadata {
    Metadata {
        titles: vec![Title {
            title: "Soil pore water chemistry, East River, 2019".into(),
            ..Title::default()
        }],
        creators: vec![Creator {
            name: "Carberry, Josiah".into(),
            name_type: Some("Personal".into()),
            given_name: Some("Josiah".into()),
            family_name: Some("Carberry".into()),
            name_identifiers: vec![NameIdentifier {
                name_identifier: "https://orcid.org/0000-0002-1825-0097".into(),
                name_identifier_scheme: "ORCID".into(),
                scheme_uri: Some("https://orcid.org".into()),
            }],
            affiliation: vec![Affiliation {
                name: "Lawrence Berkeley National Laboratory".into(),
                affiliation_identifier: Some("https://ror.org/02jbv0t02".into()),
                affiliation_identifier_scheme: Some("ROR".into()),
                scheme_uri: Some("https://ror.org".into()),
            }],
        }],
        descriptions: vec![Description {
            description: "Pore water samples from the East River watershed.".into(),
            description_type: "Abstract".into(),
            lang: None,
        }],
        types: Some(Types {
            resource_type_general: "Dataset".into(),
            resource_type: None,
        }),
        rights_list: vec![Rights {
            rights_identifier: Some("CC-BY-4.0".into()),
            ..Rights::default()
        }],
        ..Metadata::default()
    }
}

fn errors(m: &Metadata) -> Vec<FieldError> {
    validate(m).err().unwrap_or_default()
}

fn fields(m: &Metadata) -> Vec<String> {
    errors(m).into_iter().map(|e| e.field).collect()
}

fn message_for(m: &Metadata, field: &str) -> String {
    errors(m)
        .into_iter()
        .find(|e| e.field == field)
        .map(|e| e.message)
        .unwrap_or_else(|| panic!("no error on {field}: {:?}", errors(m)))
}
