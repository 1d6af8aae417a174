//! Standards as data: the JSON files in `schemas/`, parsed and checked once at load.
//!
//! A standard names the files it applies to, a CSV dialect, a Frictionless Table Schema,
//! and optional rule blocks (`structure` for ESS-DIVE CSV layout rules, `ameriflux` for
//! the FP-In format and physical-range checks). Regexes are compiled here, never per cell.

use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The standards shipped with holdfast, embedded so the binary works from any directory.
const EMBEDDED: &[(&str, &str)] = &[
    ("csv.json", include_str!("../../schemas/csv.json")),
    (
        "ameriflux-base.json",
        include_str!("../../schemas/ameriflux-base.json"),
    ),
    (
        "essdive-flmd.json",
        include_str!("../../schemas/essdive-flmd.json"),
    ),
    (
        "essdive-dd.json",
        include_str!("../../schemas/essdive-dd.json"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum StandardsError {
    #[error("{file}: {problem}")]
    Malformed { file: String, problem: String },
    #[error("cannot read standards from {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no standard named {0:?} (known: {1})")]
    Unknown(String, String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStandard {
    name: String,
    title: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    source: Option<String>,
    applies_to: Vec<String>,
    #[serde(default)]
    dialect: Dialect,
    #[serde(default)]
    schema: TableSchema,
    #[serde(default)]
    structure: Option<RawStructure>,
    #[serde(default)]
    ameriflux: Option<RawAmeriflux>,
}

/// CSV dialect (Frictionless Table Dialect subset). `quoteChar: null` reads quotes as
/// literal characters, as the AmeriFlux reader does, so quoted values stay visible.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dialect {
    #[serde(default = "comma")]
    pub delimiter: String,
    #[serde(default = "double_quote")]
    pub quote_char: Option<String>,
    #[serde(default = "yes")]
    pub header: bool,
}

fn comma() -> String {
    ",".into()
}
fn double_quote() -> Option<String> {
    Some("\"".into())
}
fn yes() -> bool {
    true
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            delimiter: comma(),
            quote_char: double_quote(),
            header: true,
        }
    }
}

impl Dialect {
    pub fn delimiter_byte(&self) -> u8 {
        self.delimiter.as_bytes().first().copied().unwrap_or(b',')
    }
    pub fn quote_byte(&self) -> Option<u8> {
        self.quote_char
            .as_ref()
            .and_then(|q| q.as_bytes().first().copied())
    }
    /// Two standards can share one pass over a file when they read it the same way.
    pub fn same_reading(&self, other: &Dialect) -> bool {
        self.delimiter_byte() == other.delimiter_byte()
            && self.quote_byte() == other.quote_byte()
            && self.header == other.header
    }
}

/// Frictionless Table Schema (v1/v2 subset: fields with types and constraints,
/// missingValues, primaryKey).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableSchema {
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default = "default_missing")]
    pub missing_values: Vec<String>,
    #[serde(default)]
    pub primary_key: Vec<String>,
}

fn default_missing() -> Vec<String> {
    vec![String::new()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub name: String,
    #[serde(default = "string_type", rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub constraints: Constraints,
    /// Other names accepted for this column (e.g. FLMD v1.0 names), matched without case.
    #[serde(default)]
    pub aliases: Vec<String>,
}

fn string_type() -> FieldType {
    FieldType::String
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Number,
    Integer,
    Boolean,
    Date,
    Datetime,
    Year,
    Any,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Constraints {
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub minimum: Option<f64>,
    #[serde(default)]
    pub maximum: Option<f64>,
    #[serde(default, rename = "enum")]
    pub one_of: Option<Vec<String>>,
    #[serde(default)]
    pub min_length: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStructure {
    #[serde(default)]
    file_name_pattern: Option<String>,
    #[serde(default)]
    column_name_pattern: Option<String>,
    #[serde(default)]
    empty_cell: Option<RuleLevel>,
    #[serde(default)]
    mixed_types: Option<RuleLevel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleLevel {
    Warning,
    Error,
}

/// ESS-DIVE CSV layout rules beyond Table Schema.
#[derive(Debug, Clone)]
pub struct Structure {
    pub file_name: Option<Regex>,
    pub column_name: Option<Regex>,
    pub empty_cell: Option<RuleLevel>,
    pub mixed_types: Option<RuleLevel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAmeriflux {
    missing_value: String,
    site_ids: Vec<String>,
    site_id_pattern: String,
    resolutions: BTreeMap<String, i64>,
    timestamp_start: String,
    timestamp_end: String,
    primary_fluxes: Vec<String>,
    range: RangeRule,
    variables: Vec<Variable>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RangeRule {
    /// Share of (max - min) beyond a limit that is still a soft flag.
    pub margin: f64,
    /// Share of a year's rows beyond the soft band above which the year is an error.
    pub hard_share: f64,
    /// Share of a year's rows in the soft band above which the year is a warning.
    pub soft_share: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Variable {
    pub name: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub units: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default = "yes")]
    pub soft_flag_warning: bool,
}

/// The AmeriFlux FP-In rule block, with lookups prepared.
#[derive(Debug, Clone)]
pub struct Ameriflux {
    pub missing_value: String,
    pub site_ids: Vec<String>,
    pub site_id_pattern: Regex,
    pub resolutions: BTreeMap<String, i64>,
    pub timestamp_start: String,
    pub timestamp_end: String,
    pub primary_fluxes: Vec<String>,
    pub range: RangeRule,
    pub variables: BTreeMap<String, Variable>,
}

/// One loaded standard.
#[derive(Debug, Clone)]
pub struct Standard {
    pub name: String,
    pub title: String,
    pub version: Option<String>,
    pub source: Option<String>,
    pub applies_to: Vec<String>,
    pub dialect: Dialect,
    pub schema: TableSchema,
    pub structure: Option<Structure>,
    pub ameriflux: Option<Ameriflux>,
}

impl Standard {
    /// Parses and checks one standard file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Standard, StandardsError> {
        let bad = |problem: String| StandardsError::Malformed {
            file: file.to_string(),
            problem,
        };
        let raw: RawStandard = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if raw.name.trim().is_empty() {
            return Err(bad("`name` is empty".into()));
        }
        if raw.applies_to.is_empty() {
            return Err(bad(
                "`appliesTo` lists no file patterns (use [\"*.csv\"] for every CSV)".into(),
            ));
        }
        if raw.dialect.delimiter.len() != 1 {
            return Err(bad(format!(
                "dialect.delimiter must be one ASCII character, not {:?}",
                raw.dialect.delimiter
            )));
        }
        if matches!(&raw.dialect.quote_char, Some(q) if q.len() != 1) {
            return Err(bad(
                "dialect.quoteChar must be one ASCII character or null".into()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &raw.schema.fields {
            if !seen.insert(f.name.as_str()) {
                return Err(bad(format!(
                    "schema.fields names {:?} more than once",
                    f.name
                )));
            }
            if let (Some(lo), Some(hi)) = (f.constraints.minimum, f.constraints.maximum) {
                if lo > hi {
                    return Err(bad(format!(
                        "field {:?}: minimum {lo} is above maximum {hi}",
                        f.name
                    )));
                }
            }
        }
        for key in &raw.schema.primary_key {
            if !raw.schema.fields.iter().any(|f| &f.name == key) {
                return Err(bad(format!(
                    "schema.primaryKey names {key:?}, which is not a field"
                )));
            }
        }
        let regex = |what: &str, p: &str| {
            Regex::new(p).map_err(|e| bad(format!("{what} is not a valid regex: {e}")))
        };
        let structure = match raw.structure {
            None => None,
            Some(s) => Some(Structure {
                file_name: s
                    .file_name_pattern
                    .as_deref()
                    .map(|p| regex("structure.fileNamePattern", p))
                    .transpose()?,
                column_name: s
                    .column_name_pattern
                    .as_deref()
                    .map(|p| regex("structure.columnNamePattern", p))
                    .transpose()?,
                empty_cell: s.empty_cell,
                mixed_types: s.mixed_types,
            }),
        };
        let ameriflux = match raw.ameriflux {
            None => None,
            Some(a) => {
                if a.resolutions.values().any(|m| *m <= 0) {
                    return Err(bad("ameriflux.resolutions must be positive minutes".into()));
                }
                let r = a.range;
                if !(r.margin >= 0.0 && r.hard_share >= 0.0 && r.soft_share >= 0.0) {
                    return Err(bad(
                        "ameriflux.range margin and shares must be numbers ≥ 0".into()
                    ));
                }
                let mut variables = BTreeMap::new();
                for v in a.variables {
                    if let (Some(lo), Some(hi)) = (v.min, v.max) {
                        if lo > hi {
                            return Err(bad(format!(
                                "ameriflux variable {:?}: min {lo} is above max {hi}",
                                v.name
                            )));
                        }
                    }
                    if variables.insert(v.name.clone(), v).is_some() {
                        return Err(bad("ameriflux.variables names a variable twice".into()));
                    }
                }
                Some(Ameriflux {
                    site_id_pattern: regex("ameriflux.siteIdPattern", &a.site_id_pattern)?,
                    missing_value: a.missing_value,
                    site_ids: a.site_ids,
                    resolutions: a.resolutions,
                    timestamp_start: a.timestamp_start,
                    timestamp_end: a.timestamp_end,
                    primary_fluxes: a.primary_fluxes,
                    range: a.range,
                    variables,
                })
            }
        };
        Ok(Standard {
            name: raw.name,
            title: raw.title,
            version: raw.version,
            source: raw.source,
            applies_to: raw.applies_to,
            dialect: raw.dialect,
            schema: raw.schema,
            structure,
            ameriflux,
        })
    }

    /// Whether a file name (not a path) matches one of the standard's patterns.
    pub fn applies_to(&self, file_name: &str) -> bool {
        self.applies_to
            .iter()
            .any(|p| glob_match(p.as_bytes(), file_name.as_bytes()))
    }
}

/// `*` and `?` wildcards, case-insensitive (file systems and depositors vary).
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p].eq_ignore_ascii_case(&name[n])) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = n;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            n = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The standards known to a run: the embedded ones, overridden by name by the files of a
/// directory when there is one.
#[derive(Debug, Clone)]
pub struct Registry {
    pub standards: Vec<Standard>,
}

impl Registry {
    pub fn embedded() -> Result<Registry, StandardsError> {
        let mut standards = Vec::new();
        for (file, text) in EMBEDDED {
            standards.push(Standard::parse(&format!("(built-in) {file}"), text)?);
        }
        Ok(Registry { standards })
    }

    /// Reads every `*.json` in `dir`; any malformed file fails the whole load, naming it.
    pub fn from_dir(dir: &Path) -> Result<Vec<Standard>, StandardsError> {
        let io = |source| StandardsError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        let mut out: Vec<Standard> = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| StandardsError::Io {
                path: path.clone(),
                source,
            })?;
            let standard = Standard::parse(&path.display().to_string(), &text)?;
            if out.iter().any(|s| s.name == standard.name) {
                return Err(StandardsError::Malformed {
                    file: path.display().to_string(),
                    problem: format!("another file already defines {:?}", standard.name),
                });
            }
            out.push(standard);
        }
        Ok(out)
    }

    /// The embedded standards, then `dir` (explicit, or `schemas/` in the working
    /// directory when it exists) replacing any of the same name.
    pub fn load(dir: Option<&Path>) -> Result<Registry, StandardsError> {
        let mut registry = Registry::embedded()?;
        let default = Path::new("schemas");
        let dir = match dir {
            Some(d) => Some(d),
            None if default.is_dir() => Some(default),
            None => None,
        };
        if let Some(dir) = dir {
            for s in Registry::from_dir(dir)? {
                registry.standards.retain(|e| e.name != s.name);
                registry.standards.push(s);
            }
        }
        Ok(registry)
    }

    pub fn get(&self, name: &str) -> Result<&Standard, StandardsError> {
        self.standards
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                StandardsError::Unknown(
                    name.to_string(),
                    self.standards
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_standards_load() {
        let r = Registry::embedded().expect("embedded standards parse");
        assert!(r.get("csv").is_ok());
        let amf = r.get("ameriflux-base").expect("ameriflux");
        let a = amf.ameriflux.as_ref().expect("rule block");
        assert_eq!(a.variables.len(), 135);
        assert_eq!(a.variables["PA"].max, Some(105.0));
    }

    #[test]
    fn malformed_standard_names_file_and_problem() {
        let err = Standard::parse("x.json", r#"{"name":"x","title":"t","appliesTo":[]}"#)
            .expect_err("empty appliesTo");
        assert!(err.to_string().starts_with("x.json: "), "{err}");
        let err = Standard::parse(
            "y.json",
            r#"{"name":"y","title":"t","appliesTo":["*"],"bogus":1}"#,
        )
        .expect_err("unknown key");
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = Standard::parse(
            "z.json",
            r#"{"name":"z","title":"t","appliesTo":["*"],"structure":{"fileNamePattern":"("}}"#,
        )
        .expect_err("bad regex");
        assert!(err.to_string().contains("fileNamePattern"), "{err}");
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*_HR_*.csv", b"US-UMB_HR_1_2.csv"));
        assert!(glob_match(b"*.csv", b"A.CSV"));
        assert!(!glob_match(b"*_HH_*.csv", b"US-UMB_HR_1_2.csv"));
        assert!(glob_match(b"*flmd*.csv", b"my_flmd.csv"));
        assert!(glob_match(b"a?c", b"abc"));
    }
}
