//! Frictionless Table Schema (v2, v1 forms accepted): the descriptor, checked and
//! prepared once (patterns compiled, bounds parsed), and the typed reading of one cell.
//!
//! The same types serve holdfast's own standard files (`schemas/*.json`) and the
//! schemas of a dataset's `datapackage.json`.

use regex::Regex;
use serde::{Deserialize, Deserializer};
use std::collections::HashSet;
use std::sync::Arc;

mod cell;
mod prepare;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableSchema {
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default = "default_missing", deserialize_with = "missing_values")]
    pub missing_values: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub primary_key: Vec<String>,
    #[serde(default)]
    pub unique_keys: Vec<Vec<String>>,
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// How header labels map to fields; `None` is holdfast's own rule for its standard
    /// files (by name, without case, aliases accepted, other columns allowed).
    #[serde(default)]
    pub fields_match: Option<FieldsMatch>,
    /// Key sets of other resources that foreign keys reference, by foreign key index;
    /// filled in for one run by the data package checks.
    #[serde(skip)]
    pub referenced_keys: Vec<Option<Arc<KeySet>>>,
}

fn default_missing() -> Vec<String> {
    vec![String::new()]
}

/// `missingValues`: strings, or (v2) `{value, label}` objects.
fn missing_values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Text(String),
        Labelled { value: String },
    }
    Ok(Vec::<Item>::deserialize(d)?
        .into_iter()
        .map(|i| match i {
            Item::Text(s) | Item::Labelled { value: s } => s,
        })
        .collect())
}

fn opt_missing_values<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    missing_values(d).map(Some)
}

/// A field name list given as one string (v1) or an array.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldsMatch {
    Exact,
    Equal,
    Subset,
    Superset,
    Partial,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub name: String,
    #[serde(default = "any_type", rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub constraints: Constraints,
    /// Other names accepted for this column (e.g. FLMD v1.0 names), matched without case.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// holdfast: a column the standard recommends; its absence is a warning.
    #[serde(default)]
    pub recommended: bool,
    /// Replaces the schema's list for this field (does not merge with it).
    #[serde(default, deserialize_with = "opt_missing_values")]
    pub missing_values: Option<Vec<String>>,
    #[serde(default)]
    pub true_values: Option<Vec<String>>,
    #[serde(default)]
    pub false_values: Option<Vec<String>>,
    #[serde(default)]
    pub decimal_char: Option<String>,
    #[serde(default)]
    pub group_char: Option<String>,
    #[serde(default)]
    pub bare_number: Option<bool>,
    /// `list` fields: the item separator and item type.
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub item_type: Option<FieldType>,
    /// Allowed values (v2 `categories`): plain values or `{value, label}` objects.
    #[serde(default)]
    pub categories: Option<Vec<serde_json::Value>>,
    #[serde(skip)]
    pub prepared: Prepared,
}

/// A field's rules turned into ready-to-use form by [`TableSchema::prepare`].
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pattern: Option<Regex>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    allowed: Option<Vec<String>>,
    /// A strptime-style pattern for date, time and datetime fields.
    time_pattern: Option<String>,
    /// A list's items, read as a field of the list's `itemType`.
    list_item: Option<Box<Field>>,
}

/// Table Schema's default type when none is given is `any`; holdfast's own files
/// name a type for every field.
fn any_type() -> FieldType {
    FieldType::Any
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
    List,
    Date,
    Time,
    Datetime,
    Year,
    Yearmonth,
    Duration,
    Geopoint,
    Geojson,
    Any,
}

impl FieldType {
    fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Object => "object",
            FieldType::Array => "array",
            FieldType::List => "list",
            FieldType::Date => "date",
            FieldType::Time => "time",
            FieldType::Datetime => "datetime",
            FieldType::Year => "year",
            FieldType::Yearmonth => "yearmonth",
            FieldType::Duration => "duration",
            FieldType::Geopoint => "geopoint",
            FieldType::Geojson => "geojson",
            FieldType::Any => "any",
        }
    }

    /// Types whose values are ordered, so minimum/maximum apply.
    fn ordered(self) -> bool {
        matches!(
            self,
            FieldType::Number
                | FieldType::Integer
                | FieldType::Date
                | FieldType::Time
                | FieldType::Datetime
                | FieldType::Year
                | FieldType::Yearmonth
                | FieldType::Duration
        )
    }
}

/// A bound or enum value: a JSON number, or a string in the field's own lexical form.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    Number(f64),
    Bool(bool),
    Text(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Constraints {
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub unique: bool,
    #[serde(default)]
    pub minimum: Option<Literal>,
    #[serde(default)]
    pub maximum: Option<Literal>,
    #[serde(default)]
    pub exclusive_minimum: Option<Literal>,
    #[serde(default)]
    pub exclusive_maximum: Option<Literal>,
    #[serde(default, rename = "enum")]
    pub one_of: Option<Vec<Literal>>,
    #[serde(default)]
    pub min_length: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
    #[serde(default)]
    pub pattern: Option<String>,
    /// Accepted so a valid descriptor is not rejected; reported as not checked.
    #[serde(default)]
    pub json_schema: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForeignKey {
    #[serde(deserialize_with = "one_or_many")]
    pub fields: Vec<String>,
    pub reference: Reference,
    /// holdfast: how serious a dangling reference is (frictionless: always an error).
    #[serde(default)]
    pub level: Option<super::spec::RuleLevel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    /// Another resource of the package; absent (v2) or "" (v1) for the same table.
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub fields: Vec<String>,
}

impl ForeignKey {
    pub fn is_self_reference(&self) -> bool {
        self.reference.resource.as_deref().is_none_or(str::is_empty)
    }
}

/// Hashed key values of a table (64-bit hashes: a false match needs a collision, about
/// one in 10^7 for a million keys), and whether every key fitted under the cap.
#[derive(Debug, Default)]
pub struct KeySet {
    pub hashes: HashSet<u64>,
    pub complete: bool,
}

/// Key values remembered per key set before a check gives up, so memory stays bounded:
/// a million keys take about 16 MB.
pub const MAX_KEYS: usize = 1_000_000;

/// Hashes the cells of one key; `None` when a cell is missing: like SQL's unique and
/// foreign keys, a key with a null is not compared (Table Schema `uniqueKeys`).
pub fn key_hash<'c>(
    cells: impl Iterator<Item = &'c [u8]>,
    is_missing: impl Fn(usize, &[u8]) -> bool,
) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (i, c) in cells.enumerate() {
        if is_missing(i, c) {
            return None;
        }
        c.hash(&mut h);
    }
    Some(h.finish())
}

impl TableSchema {
    /// Names given to more than one field (holdfast's own standards refuse them).
    pub fn repeated_names(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.fields
            .iter()
            .filter(|f| !seen.insert(f.name.as_str()))
            .map(|f| f.name.as_str())
            .collect()
    }

    /// Checks the schema's own consistency and prepares its fields (patterns compiled,
    /// bounds parsed). Returns every problem found, each naming what is wrong.
    pub fn prepare(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        // Repeated names are allowed: v1 schemas had them (v2 says readers must accept).
        if self.fields.iter().any(|f| f.name.is_empty()) {
            problems.push("a field has an empty name".to_string());
        }
        let names: HashSet<String> = self.fields.iter().map(|f| f.name.clone()).collect();
        let unknown = |what: &str, list: &[String], problems: &mut Vec<String>| {
            for key in list {
                if !names.contains(key) {
                    problems.push(format!("{what} names {key:?}, which is not a field"));
                }
            }
        };
        unknown("primaryKey", &self.primary_key, &mut problems);
        for keys in &self.unique_keys {
            if keys.is_empty() {
                problems.push("uniqueKeys holds an empty list".into());
            }
            unknown("uniqueKeys", keys, &mut problems);
        }
        for fk in &self.foreign_keys {
            unknown("foreignKeys.fields", &fk.fields, &mut problems);
            if fk.fields.len() != fk.reference.fields.len() || fk.fields.is_empty() {
                problems.push(format!(
                    "foreign key {:?} has {} field(s) but its reference has {}",
                    fk.fields.join(", "),
                    fk.fields.len(),
                    fk.reference.fields.len()
                ));
            }
            if fk.is_self_reference() {
                unknown(
                    "foreignKeys.reference.fields",
                    &fk.reference.fields,
                    &mut problems,
                );
            }
        }
        // A primary key implies `required` (Table Schema).
        let primary: HashSet<&String> = self.primary_key.iter().collect();
        for f in &mut self.fields {
            if primary.contains(&f.name) {
                f.constraints.required = true;
            }
            if let Err(p) = f.prepare() {
                problems.push(format!("field {:?}: {p}", f.name));
            }
        }
        problems
    }

    /// The missing-value list that applies to a field.
    pub fn missing_for<'s>(&'s self, field: Option<&'s Field>) -> &'s [String] {
        field
            .and_then(|f| f.missing_values.as_deref())
            .unwrap_or(&self.missing_values)
    }
}

#[cfg(test)]
mod tests;
