//! The deposit metadata model, serialised in DataCite's REST API (JSON) shape.
//!
//! Field names are DataCite's JSON attribute names (`camelCase`, `Uri` not `URI`).
//! Unknown fields are rejected. Missing or `null` required strings and lists
//! deserialise as empty so that [`super::validate`] can report every problem
//! with a field path instead of serde stopping at the first one.
//! Coordinates and `publicationYear` accept JSON numbers or numeric strings
//! and are emitted as numbers.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Deposit metadata (a subset of DataCite 4.6 attributes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub titles: Vec<Title>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub creators: Vec<Creator>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub descriptions: Vec<Description>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subjects: Vec<Subject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Types>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rights_list: Vec<Rights>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub funding_references: Vec<FundingReference>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub geo_locations: Vec<GeoLocation>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dates: Vec<Date>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related_identifiers: Vec<RelatedIdentifier>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub version: Option<String>,
    /// Set by the archive at publication.
    #[serde(
        default,
        deserialize_with = "de_opt_year",
        skip_serializing_if = "Option::is_none"
    )]
    pub publication_year: Option<i32>,
    /// Set by the archive at publication. Accepts DataCite's string or (4.5+) object form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<Publisher>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Title {
    #[serde(default, deserialize_with = "null_default")]
    pub title: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub title_type: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Creator {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `Personal` or `Organizational`.
    #[serde(default, skip_serializing_if = "is_blank")]
    pub name_type: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub family_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub name_identifiers: Vec<NameIdentifier>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub affiliation: Vec<Affiliation>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameIdentifier {
    #[serde(default, deserialize_with = "null_default")]
    pub name_identifier: String,
    /// e.g. `ORCID`, `ROR`, `ISNI`.
    #[serde(default, deserialize_with = "null_default")]
    pub name_identifier_scheme: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub scheme_uri: Option<String>,
}

/// An affiliation. DataCite returns plain strings unless `?affiliation=true`;
/// both forms are accepted, the object form is emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Affiliation {
    pub name: String,
    #[serde(skip_serializing_if = "is_blank")]
    pub affiliation_identifier: Option<String>,
    /// e.g. `ROR`.
    #[serde(skip_serializing_if = "is_blank")]
    pub affiliation_identifier_scheme: Option<String>,
    #[serde(skip_serializing_if = "is_blank")]
    pub scheme_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AffiliationObject {
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default)]
    affiliation_identifier: Option<String>,
    #[serde(default)]
    affiliation_identifier_scheme: Option<String>,
    #[serde(default)]
    scheme_uri: Option<String>,
}

impl<'de> Deserialize<'de> for Affiliation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Affiliation;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an affiliation name or an affiliation object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Affiliation, E> {
                Ok(Affiliation {
                    name: v.to_string(),
                    ..Affiliation::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Affiliation, A::Error> {
                let o = AffiliationObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Affiliation {
                    name: o.name,
                    affiliation_identifier: o.affiliation_identifier,
                    affiliation_identifier_scheme: o.affiliation_identifier_scheme,
                    scheme_uri: o.scheme_uri,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Description {
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// `Abstract`, `Methods`, ...
    #[serde(default, deserialize_with = "null_default")]
    pub description_type: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subject {
    #[serde(default, deserialize_with = "null_default")]
    pub subject: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub subject_scheme: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub scheme_uri: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub value_uri: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub classification_code: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Types {
    #[serde(default, deserialize_with = "null_default")]
    pub resource_type_general: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub resource_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rights {
    #[serde(default, skip_serializing_if = "is_blank")]
    pub rights: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub rights_uri: Option<String>,
    /// SPDX license id, e.g. `CC-BY-4.0`.
    #[serde(default, skip_serializing_if = "is_blank")]
    pub rights_identifier: Option<String>,
    /// `SPDX`.
    #[serde(default, skip_serializing_if = "is_blank")]
    pub rights_identifier_scheme: Option<String>,
    /// `https://spdx.org/licenses/`.
    #[serde(default, skip_serializing_if = "is_blank")]
    pub scheme_uri: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FundingReference {
    #[serde(default, deserialize_with = "null_default")]
    pub funder_name: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub funder_identifier: Option<String>,
    /// `ISNI`, `GRID`, `ROR`, `Crossref Funder ID`, `Other`.
    #[serde(default, skip_serializing_if = "is_blank")]
    pub funder_identifier_type: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub scheme_uri: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub award_number: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub award_uri: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub award_title: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeoLocation {
    #[serde(default, skip_serializing_if = "is_blank")]
    pub geo_location_place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_location_point: Option<GeoLocationPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_location_box: Option<GeoLocationBox>,
}

/// Both coordinates are required; they are `Option` so that a missing one is
/// reported by validation with its path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeoLocationPoint {
    #[serde(
        default,
        deserialize_with = "de_opt_coord",
        skip_serializing_if = "Option::is_none"
    )]
    pub point_latitude: Option<f64>,
    #[serde(
        default,
        deserialize_with = "de_opt_coord",
        skip_serializing_if = "Option::is_none"
    )]
    pub point_longitude: Option<f64>,
}

/// All four bounds are required (see [`GeoLocationPoint`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeoLocationBox {
    #[serde(
        default,
        deserialize_with = "de_opt_coord",
        skip_serializing_if = "Option::is_none"
    )]
    pub west_bound_longitude: Option<f64>,
    #[serde(
        default,
        deserialize_with = "de_opt_coord",
        skip_serializing_if = "Option::is_none"
    )]
    pub east_bound_longitude: Option<f64>,
    #[serde(
        default,
        deserialize_with = "de_opt_coord",
        skip_serializing_if = "Option::is_none"
    )]
    pub south_bound_latitude: Option<f64>,
    #[serde(
        default,
        deserialize_with = "de_opt_coord",
        skip_serializing_if = "Option::is_none"
    )]
    pub north_bound_latitude: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Date {
    /// ISO 8601 date, datetime, or `start/end` range.
    #[serde(default, deserialize_with = "null_default")]
    pub date: String,
    #[serde(default, deserialize_with = "null_default")]
    pub date_type: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub date_information: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelatedIdentifier {
    #[serde(default, deserialize_with = "null_default")]
    pub related_identifier: String,
    #[serde(default, deserialize_with = "null_default")]
    pub related_identifier_type: String,
    #[serde(default, deserialize_with = "null_default")]
    pub relation_type: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub resource_type_general: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub related_metadata_scheme: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub scheme_uri: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub scheme_type: Option<String>,
}

/// The publisher. DataCite accepts a plain string or (4.5+) an object; a
/// publisher with only a name is emitted as a plain string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publisher {
    pub name: String,
    pub publisher_identifier: Option<String>,
    pub publisher_identifier_scheme: Option<String>,
    pub scheme_uri: Option<String>,
    pub lang: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PublisherObject {
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, skip_serializing_if = "is_blank")]
    publisher_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    publisher_identifier_scheme: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    scheme_uri: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    lang: Option<String>,
}

impl Serialize for Publisher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let only_name = is_blank(&self.publisher_identifier)
            && is_blank(&self.publisher_identifier_scheme)
            && is_blank(&self.scheme_uri)
            && is_blank(&self.lang);
        if only_name {
            s.serialize_str(&self.name)
        } else {
            PublisherObject {
                name: self.name.clone(),
                publisher_identifier: self.publisher_identifier.clone(),
                publisher_identifier_scheme: self.publisher_identifier_scheme.clone(),
                scheme_uri: self.scheme_uri.clone(),
                lang: self.lang.clone(),
            }
            .serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Publisher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Publisher;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a publisher name or a publisher object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Publisher, E> {
                Ok(Publisher {
                    name: v.to_string(),
                    ..Publisher::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Publisher, A::Error> {
                let o = PublisherObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Publisher {
                    name: o.name,
                    publisher_identifier: o.publisher_identifier,
                    publisher_identifier_scheme: o.publisher_identifier_scheme,
                    scheme_uri: o.scheme_uri,
                    lang: o.lang,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Why metadata JSON could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the metadata JSON could not be read: {message} (line {line}, column {column})")]
pub struct JsonError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl Metadata {
    /// Parse DataCite-shaped JSON (the `attributes` object); unknown fields are errors.
    pub fn from_json(input: &str) -> Result<Metadata, JsonError> {
        serde_json::from_str(input).map_err(|e| JsonError {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })
    }

    /// Serialise to DataCite-shaped JSON.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub(super) fn is_blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// `null` or missing → `T::default()`.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A number, a numeric string, `""` or `null`.
enum NumKind {
    Coordinate,
    Year,
}

struct NumVisitor(NumKind);

impl NumVisitor {
    fn check<E: de::Error>(&self, v: f64) -> Result<Option<f64>, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("{v} is not a usable number")));
        }
        Ok(Some(v))
    }
}

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Option<f64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0 {
            NumKind::Coordinate => f.write_str("a coordinate as a decimal number (e.g. 37.875)"),
            NumKind::Year => f.write_str("a four-digit year (e.g. 2025)"),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.check(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.check(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.check(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        match parse_decimal(t) {
            Some(x) => self.check(x),
            None => Err(E::invalid_value(
                de::Unexpected::Str(&super::ids::excerpt(v)),
                &self,
            )),
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Parse a plain decimal number (`-12.5`, `+3`, `1e2`); rejects `NaN`, `inf`.
pub(super) fn parse_decimal(s: &str) -> Option<f64> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    if !ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn de_opt_coord<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_option(NumVisitor(NumKind::Coordinate))
}

fn de_opt_year<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    match d.deserialize_option(NumVisitor(NumKind::Year))? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && (0.0..=9999.0).contains(&v) => Ok(Some(v as i32)),
        Some(v) => Err(de::Error::custom(format!(
            "publicationYear {v} is not a four-digit year"
        ))),
    }
}
