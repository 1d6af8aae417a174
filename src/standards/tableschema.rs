//! Frictionless Table Schema (v2, v1 forms accepted): the descriptor, checked and
//! prepared once (patterns compiled, bounds parsed), and the typed reading of one cell.
//!
//! The same types serve holdfast's own standard files (`schemas/*.json`) and the
//! schemas of a dataset's `datapackage.json`.

use regex::Regex;
use serde::{Deserialize, Deserializer};
use std::collections::HashSet;
use std::sync::Arc;

use super::values;

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

impl Field {
    fn prepare(&mut self) -> Result<(), String> {
        let c = &self.constraints;
        let format = self.format.as_deref().unwrap_or("default");
        let mut p = Prepared::default();
        match self.kind {
            FieldType::Date | FieldType::Time | FieldType::Datetime
                if !matches!(format, "default" | "any") =>
            {
                // v1 wrote patterns as `fmt:%Y-%m-%d`.
                let pattern = format.strip_prefix("fmt:").unwrap_or(format);
                if !pattern.contains('%') {
                    return Err(format!(
                        "format {format:?} is not default, any or a %-pattern"
                    ));
                }
                p.time_pattern = Some(pattern.to_string());
            }
            FieldType::String
                if !matches!(format, "default" | "email" | "uri" | "binary" | "uuid") =>
            {
                return Err(format!(
                    "string format {format:?} is not one of default, email, uri, binary, uuid"
                ));
            }
            FieldType::Geopoint if !matches!(format, "default" | "array" | "object") => {
                return Err(format!(
                    "geopoint format {format:?} is not default, array or object"
                ));
            }
            _ => {}
        }
        if let Some(pattern) = &c.pattern {
            // Table Schema patterns are XML Schema regexes: they match the whole value.
            p.pattern = Some(
                Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("pattern {pattern:?} is not a valid regex: {e}"))?,
            );
        }
        let bound =
            |given: &Option<Literal>, what: &str, p: &Prepared| -> Result<Option<f64>, String> {
                let Some(literal) = given else {
                    return Ok(None);
                };
                if !self.kind.ordered() {
                    return Err(format!(
                        "{what} does not apply to {} fields",
                        self.kind.name()
                    ));
                }
                let parsed = match literal {
                    Literal::Number(n) => Some(*n),
                    Literal::Text(t) => self.ordered_value(t.as_bytes(), p).ok().flatten(),
                    Literal::Bool(_) => None,
                };
                parsed
                    .map(Some)
                    .ok_or_else(|| format!("{what} is not a valid {} value", self.kind.name()))
            };
        p.minimum = bound(&c.minimum, "minimum", &p)?;
        p.maximum = bound(&c.maximum, "maximum", &p)?;
        p.exclusive_minimum = bound(&c.exclusive_minimum, "exclusiveMinimum", &p)?;
        p.exclusive_maximum = bound(&c.exclusive_maximum, "exclusiveMaximum", &p)?;
        if let (Some(lo), Some(hi)) = (p.minimum, p.maximum) {
            if lo > hi {
                return Err(format!("minimum {lo} is above maximum {hi}"));
            }
        }
        let mut allowed: Option<Vec<String>> = c
            .one_of
            .as_ref()
            .map(|v| v.iter().map(literal_text).collect());
        if let Some(categories) = &self.categories {
            let values: Vec<String> = categories
                .iter()
                .map(|c| match c {
                    serde_json::Value::Object(o) => {
                        o.get("value").map(json_text).unwrap_or_default()
                    }
                    other => json_text(other),
                })
                .collect();
            allowed.get_or_insert(values);
        }
        p.allowed = allowed;
        if self.kind == FieldType::List {
            let kind = self.item_type.unwrap_or(FieldType::String);
            if !matches!(
                kind,
                FieldType::String
                    | FieldType::Integer
                    | FieldType::Boolean
                    | FieldType::Number
                    | FieldType::Datetime
                    | FieldType::Date
                    | FieldType::Time
            ) {
                return Err(format!("a list's itemType cannot be {}", kind.name()));
            }
            let mut item: Field = serde_json::from_value(serde_json::json!({
                "name": self.name,
                "type": kind.name(),
            }))
            .map_err(|e| e.to_string())?;
            item.prepare()?;
            p.list_item = Some(Box::new(item));
        }
        self.prepared = p;
        Ok(())
    }

    pub fn is_missing(&self, schema: &TableSchema, cell: &[u8]) -> bool {
        schema
            .missing_for(Some(self))
            .iter()
            .any(|m| m.as_bytes() == cell)
    }

    /// Checks one non-missing cell: its type, then its constraints.
    /// Returns the frictionless error code and a message.
    pub fn check_cell(&self, cell: &[u8]) -> Option<(&'static str, String)> {
        let p = &self.prepared;
        let ordered = match self.typed(cell) {
            Ok(v) => v,
            Err(expected) => {
                return Some(("type-error", format!("{} must be {expected}", self.name)));
            }
        };
        if let Some(v) = ordered {
            // NaN lies within no bounds.
            let below = |b: Option<f64>, strict: bool| {
                b.is_some_and(|m| v.is_nan() || if strict { v <= m } else { v < m })
            };
            let above = |b: Option<f64>, strict: bool| {
                b.is_some_and(|m| v.is_nan() || if strict { v >= m } else { v > m })
            };
            if below(p.minimum, false)
                || above(p.maximum, false)
                || below(p.exclusive_minimum, true)
                || above(p.exclusive_maximum, true)
            {
                return Some((
                    "constraint-error",
                    format!("{} must lie within {}", self.name, self.range_text()),
                ));
            }
        }
        let c = &self.constraints;
        if c.min_length.is_some() || c.max_length.is_some() {
            let n = self.length(cell);
            if c.min_length.is_some_and(|m| n < m) || c.max_length.is_some_and(|m| n > m) {
                return Some((
                    "constraint-error",
                    format!(
                        "{} must have between {} and {} characters",
                        self.name,
                        c.min_length.unwrap_or(0),
                        c.max_length
                            .map_or("any number of".into(), |m| m.to_string())
                    ),
                ));
            }
        }
        if let Some(re) = &p.pattern {
            if !re.is_match(&String::from_utf8_lossy(cell)) {
                return Some((
                    "constraint-error",
                    format!(
                        "{} must match the pattern {}",
                        self.name,
                        c.pattern.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        if let Some(allowed) = &p.allowed {
            let same = |a: &String| {
                a.as_bytes() == cell
                    || (ordered.is_some()
                        && self.ordered_value(a.as_bytes(), p).ok().flatten() == ordered)
            };
            if !allowed.iter().any(same) {
                return Some((
                    "constraint-error",
                    format!("{} must be one of: {}", self.name, allowed.join(", ")),
                ));
            }
        }
        None
    }

    fn range_text(&self) -> String {
        let p = &self.prepared;
        let lo = p
            .minimum
            .map(|m| format!("[{m}"))
            .or(p.exclusive_minimum.map(|m| format!("({m}")))
            .unwrap_or_else(|| "(-∞".into());
        let hi = p
            .maximum
            .map(|m| format!("{m}]"))
            .or(p.exclusive_maximum.map(|m| format!("{m})")))
            .unwrap_or_else(|| "∞)".into());
        format!("{lo}, {hi}")
    }

    /// Length for minLength/maxLength: characters of a string, items of a list, array
    /// or object.
    fn length(&self, cell: &[u8]) -> usize {
        match self.kind {
            FieldType::List => self.list_items(cell).count(),
            FieldType::Array | FieldType::Object => {
                match serde_json::from_slice::<serde_json::Value>(cell) {
                    Ok(serde_json::Value::Array(a)) => a.len(),
                    Ok(serde_json::Value::Object(o)) => o.len(),
                    _ => 0,
                }
            }
            _ => String::from_utf8_lossy(cell).chars().count(),
        }
    }

    fn list_items<'c>(&self, cell: &'c [u8]) -> impl Iterator<Item = &'c [u8]> {
        let d = self
            .delimiter
            .as_deref()
            .and_then(|d| d.as_bytes().first().copied())
            .unwrap_or(b',');
        cell.split(move |b| *b == d)
    }

    /// Reads a cell as the field's type: `Ok(Some(key))` for ordered types (a number
    /// that orders the values), `Ok(None)` for others, `Err(expected)` when it is not a
    /// value of the type.
    fn typed(&self, cell: &[u8]) -> Result<Option<f64>, String> {
        self.ordered_value(cell, &self.prepared)
    }

    fn ordered_value(&self, cell: &[u8], p: &Prepared) -> Result<Option<f64>, String> {
        let fmt = self.format.as_deref().unwrap_or("default");
        let expect = |what: &str| Err(what.to_string());
        match self.kind {
            FieldType::Any => Ok(None),
            FieldType::String if fmt == "default" => Ok(None),
            FieldType::String => {
                // Bytes that are not UTF-8 are an encoding-error, reported by the engine.
                let text = String::from_utf8_lossy(cell);
                let ok = match fmt {
                    "email" => values::is_email(&text),
                    "uri" => values::is_uri(&text),
                    "uuid" => values::is_uuid(&text),
                    "binary" => values::is_base64(&text),
                    _ => true,
                };
                if ok {
                    Ok(None)
                } else {
                    expect(&format!("a valid {fmt}"))
                }
            }
            FieldType::Number => {
                let normalised = self.number_text(cell);
                match values::parse_table_number(&normalised) {
                    Some(v) => Ok(Some(v)),
                    None => expect("a number"),
                }
            }
            FieldType::Integer => {
                let normalised = self.number_text(cell);
                match values::parse_integer(&normalised) {
                    Some(v) => Ok(Some(v as f64)),
                    None => expect("a whole number"),
                }
            }
            FieldType::Year => {
                match values::parse_integer(cell).filter(|_| cell.trim_ascii_start().len() >= 4) {
                    Some(v) => Ok(Some(v as f64)),
                    None => expect("a year (YYYY)"),
                }
            }
            FieldType::Boolean => {
                let text = String::from_utf8_lossy(cell);
                let is_in = |list: &Option<Vec<String>>, default: &[&str]| match list {
                    Some(l) => l.iter().any(|v| *v == text),
                    None => default.contains(&text.as_ref()),
                };
                if is_in(&self.true_values, &["true", "True", "TRUE", "1"])
                    || is_in(&self.false_values, &["false", "False", "FALSE", "0"])
                {
                    Ok(None)
                } else {
                    expect("true or false")
                }
            }
            FieldType::Date => match (&p.time_pattern, fmt) {
                (Some(pat), _) => values::date_with_pattern(cell, pat)
                    .map(Some)
                    .ok_or(format!("a date written {pat}")),
                (None, "any") => values::date_any(cell).map(Some).ok_or("a date".into()),
                _ => values::date_default(cell)
                    .map(Some)
                    .ok_or("a date (YYYY-MM-DD)".into()),
            },
            FieldType::Datetime => match (&p.time_pattern, fmt) {
                (Some(pat), _) => values::datetime_with_pattern(cell, pat)
                    .map(Some)
                    .ok_or(format!("a date and time written {pat}")),
                (None, "any") => values::datetime_any(cell)
                    .map(Some)
                    .ok_or("a date and time".into()),
                _ => values::datetime_default(cell)
                    .map(Some)
                    .ok_or("a date and time (YYYY-MM-DDThh:mm:ss)".into()),
            },
            FieldType::Time => match (&p.time_pattern, fmt) {
                (Some(pat), _) => values::time_with_pattern(cell, pat)
                    .map(Some)
                    .ok_or(format!("a time written {pat}")),
                _ => values::time_default(cell)
                    .map(Some)
                    .ok_or("a time (hh:mm:ss)".into()),
            },
            FieldType::Yearmonth => values::yearmonth(cell)
                .map(Some)
                .ok_or("a year and month (YYYY-MM)".into()),
            FieldType::Duration => values::duration(cell)
                .map(Some)
                .ok_or("an ISO 8601 duration (e.g. P1DT2H)".into()),
            FieldType::Geopoint => {
                if values::geopoint(cell, fmt) {
                    Ok(None)
                } else {
                    expect(match fmt {
                        "array" => "a point as [lon, lat]",
                        "object" => "a point as {\"lon\": .., \"lat\": ..}",
                        _ => "a point as \"lon, lat\"",
                    })
                }
            }
            FieldType::Object | FieldType::Geojson => {
                match serde_json::from_slice::<serde_json::Value>(cell) {
                    Ok(serde_json::Value::Object(o))
                        if self.kind == FieldType::Object || o.contains_key("type") =>
                    {
                        Ok(None)
                    }
                    _ => expect(if self.kind == FieldType::Object {
                        "a JSON object"
                    } else {
                        "a GeoJSON object"
                    }),
                }
            }
            FieldType::Array => match serde_json::from_slice::<serde_json::Value>(cell) {
                Ok(serde_json::Value::Array(_)) => Ok(None),
                _ => expect("a JSON array"),
            },
            FieldType::List => {
                let item = p.list_item.as_deref();
                if self
                    .list_items(cell)
                    .all(|i| item.is_none_or(|f| f.typed(i).is_ok()))
                {
                    Ok(None)
                } else {
                    let kind = self.item_type.unwrap_or(FieldType::String);
                    expect(&format!("a list of {} values", kind.name()))
                }
            }
        }
    }

    /// The cell with `groupChar` removed, `decimalChar` made `.`, and (with
    /// `bareNumber: false`) leading and trailing non-numeric characters dropped.
    fn number_text<'c>(&self, cell: &'c [u8]) -> std::borrow::Cow<'c, [u8]> {
        let group = self.group_char.as_deref().and_then(|g| g.bytes().next());
        let decimal = self
            .decimal_char
            .as_deref()
            .and_then(|d| d.bytes().next())
            .filter(|d| *d != b'.');
        let bare = self.bare_number.unwrap_or(true);
        if group.is_none() && decimal.is_none() && bare {
            return std::borrow::Cow::Borrowed(cell);
        }
        let mut s: &[u8] = cell;
        if !bare {
            let numeric = |b: &u8| {
                b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.') || Some(*b) == decimal
            };
            let start = s.iter().position(numeric).unwrap_or(s.len());
            let end = s
                .iter()
                .rposition(|b| b.is_ascii_digit())
                .map_or(start, |e| e + 1);
            s = if start < end { &s[start..end] } else { &[] };
        }
        std::borrow::Cow::Owned(
            s.iter()
                .filter(|b| Some(**b) != group)
                .map(|b| if Some(*b) == decimal { b'.' } else { *b })
                .collect(),
        )
    }
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Number(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Text(t) => t.clone(),
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(json: &str) -> Field {
        let mut schema: TableSchema =
            serde_json::from_str(&format!(r#"{{"fields": [{json}]}}"#)).expect("schema parses");
        let problems = schema.prepare();
        assert!(problems.is_empty(), "{problems:?}");
        schema.fields.remove(0)
    }

    fn code(f: &Field, cell: &str) -> Option<&'static str> {
        f.check_cell(cell.as_bytes()).map(|(c, _)| c)
    }

    #[test]
    fn types_follow_table_schema() {
        let n = field(r#"{"name": "n", "type": "number"}"#);
        assert_eq!(code(&n, "1.5e3"), None);
        assert_eq!(code(&n, "NaN"), None);
        assert_eq!(code(&n, "-INF"), None);
        assert_eq!(code(&n, "x"), Some("type-error"));
        let eu = field(r#"{"name": "n", "type": "number", "decimalChar": ",", "groupChar": "."}"#);
        assert_eq!(code(&eu, "1.234,5"), None);
        let pct = field(r#"{"name": "n", "type": "number", "bareNumber": false}"#);
        assert_eq!(code(&pct, "95%"), None);
        assert_eq!(code(&pct, "€ 12.5"), None);
        let b = field(
            r#"{"name": "b", "type": "boolean", "trueValues": ["yes"], "falseValues": ["no"]}"#,
        );
        assert_eq!(code(&b, "yes"), None);
        assert_eq!(code(&b, "true"), Some("type-error"));
        let d = field(r#"{"name": "d", "type": "date"}"#);
        assert_eq!(code(&d, "2024-02-29"), None);
        assert_eq!(code(&d, "2023-02-29"), Some("type-error"));
        assert_eq!(code(&d, "2024-02"), Some("type-error"));
        let dp = field(r#"{"name": "d", "type": "date", "format": "%d/%m/%Y"}"#);
        assert_eq!(code(&dp, "31/12/2020"), None);
        assert_eq!(code(&dp, "2020-12-31"), Some("type-error"));
        let dt = field(r#"{"name": "t", "type": "datetime"}"#);
        assert_eq!(code(&dt, "2024-01-26T15:00:00Z"), None);
        assert_eq!(code(&dt, "2024-01-26T15:00:00.5+02:00"), None);
        assert_eq!(code(&dt, "2024-01-26 15:00:00"), Some("type-error"));
        let t = field(r#"{"name": "t", "type": "time"}"#);
        assert_eq!(code(&t, "23:59:59"), None);
        assert_eq!(code(&t, "24:00:01"), Some("type-error"));
        let ym = field(r#"{"name": "m", "type": "yearmonth"}"#);
        assert_eq!(code(&ym, "2020-13"), Some("type-error"));
        let du = field(r#"{"name": "p", "type": "duration"}"#);
        assert_eq!(code(&du, "P1Y2M3DT4H5M6S"), None);
        assert_eq!(code(&du, "1 day"), Some("type-error"));
        let g = field(r#"{"name": "g", "type": "geopoint"}"#);
        assert_eq!(code(&g, "-122.25, 37.87"), None);
        assert_eq!(code(&g, "200, 37"), Some("type-error"));
        let l = field(r#"{"name": "l", "type": "list", "itemType": "integer", "delimiter": ";"}"#);
        assert_eq!(code(&l, "1;2;3"), None);
        assert_eq!(code(&l, "1;x"), Some("type-error"));
        let o = field(r#"{"name": "o", "type": "object"}"#);
        assert_eq!(code(&o, r#"{"a": 1}"#), None);
        assert_eq!(code(&o, "[1]"), Some("type-error"));
        let e = field(r#"{"name": "e", "type": "string", "format": "email"}"#);
        assert_eq!(code(&e, "a@b.org"), None);
        assert_eq!(code(&e, "not mail"), Some("type-error"));
        let u = field(r#"{"name": "u", "type": "string", "format": "uuid"}"#);
        assert_eq!(code(&u, "123e4567-e89b-12d3-a456-426614174000"), None);
        assert_eq!(code(&u, "123e4567"), Some("type-error"));
    }

    #[test]
    fn constraints_apply_to_typed_values() {
        let lat = field(
            r#"{"name": "lat", "type": "number", "constraints": {"minimum": -90, "maximum": 90}}"#,
        );
        assert_eq!(code(&lat, "37.8"), None);
        assert_eq!(code(&lat, "90.5"), Some("constraint-error"));
        assert_eq!(code(&lat, "NaN"), Some("constraint-error"));
        let ex =
            field(r#"{"name": "x", "type": "integer", "constraints": {"exclusiveMinimum": 0}}"#);
        assert_eq!(code(&ex, "0"), Some("constraint-error"));
        assert_eq!(code(&ex, "1"), None);
        let d = field(r#"{"name": "d", "type": "date", "constraints": {"minimum": "2000-01-01"}}"#);
        assert_eq!(code(&d, "1999-12-31"), Some("constraint-error"));
        assert_eq!(code(&d, "2000-01-01"), None);
        let p = field(
            r#"{"name": "id", "type": "string", "constraints": {"pattern": "[A-Z]{2}-[0-9]+"}}"#,
        );
        assert_eq!(code(&p, "AC-423"), None);
        assert_eq!(
            code(&p, "xAC-423"),
            Some("constraint-error"),
            "patterns match the whole value"
        );
        let en = field(r#"{"name": "k", "type": "integer", "constraints": {"enum": [1, 2]}}"#);
        assert_eq!(code(&en, "2"), None);
        assert_eq!(code(&en, "3"), Some("constraint-error"));
        let cat = field(
            r#"{"name": "c", "type": "string", "categories": [{"value": "a", "label": "A"}, "b"]}"#,
        );
        assert_eq!(code(&cat, "b"), None);
        assert_eq!(code(&cat, "c"), Some("constraint-error"));
        let len = field(
            r#"{"name": "s", "type": "string", "constraints": {"minLength": 2, "maxLength": 3}}"#,
        );
        assert_eq!(code(&len, "a"), Some("constraint-error"));
        assert_eq!(code(&len, "abc"), None);
    }

    #[test]
    fn schema_problems_are_named() {
        let mut s: TableSchema = serde_json::from_str(
            r#"{"fields": [{"name": "a"}, {"name": "a"}, {"name": "b", "type": "string", "constraints": {"minimum": 1}}],
                "primaryKey": "c",
                "foreignKeys": [{"fields": ["a"], "reference": {"resource": "", "fields": ["a", "b"]}}]}"#,
        )
        .expect("parses");
        let problems = s.prepare().join("\n");
        assert_eq!(s.repeated_names(), vec!["a"]);
        assert!(problems.contains("primaryKey names \"c\""), "{problems}");
        assert!(problems.contains("reference has 2"), "{problems}");
        assert!(
            problems.contains("minimum does not apply to string"),
            "{problems}"
        );
        let bad = serde_json::from_str::<TableSchema>(
            r#"{"fields": [{"name": "x", "constraints": {"bogus": 1}}]}"#,
        );
        assert!(bad.is_err());
        let v1 = serde_json::from_str::<TableSchema>(
            r#"{"fields": [], "missingValues": ["", {"value": "-9999", "label": "missing"}]}"#,
        )
        .expect("v2 missingValues objects");
        assert_eq!(v1.missing_values, vec!["".to_string(), "-9999".to_string()]);
    }
}
