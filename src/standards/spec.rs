//! Standards as data: the JSON files in `schemas/`, parsed and checked once at load.
//!
//! A standard names the files it applies to, a CSV dialect, a Frictionless Table Schema,
//! and optional rule blocks: `structure` (ESS-DIVE CSV layout rules), `layout` (where the
//! header is and which rows under it describe columns), `crossFile` (what the file says
//! about the other files of its dataset), `ameriflux` (the FP-In format and
//! physical-range checks), `datapackage` (a Frictionless `datapackage.json`) and
//! `datacite` (the dataset's own metadata). Regexes are compiled here, never per cell.

use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use super::tableschema::{Constraints, Field, FieldType, TableSchema};

/// The standards shipped with holdfast, embedded so the binary works from any directory.
macro_rules! embedded {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../schemas/", $file)))),*]
    };
}

const EMBEDDED: &[(&str, &str)] = embedded![
    "csv.json",
    "ameriflux-base.json",
    "essdive-flmd.json",
    "essdive-dd.json",
    "essdive-location.json",
    "essdive-sample.json",
    "essdive-wssc.json",
    "essdive-wssc-methods.json",
    "essdive-wssc-terms.json",
    "essdive-soil-respiration.json",
    "essdive-soil-respiration-chambers.json",
    "essdive-hydrologic-monitoring.json",
    "essdive-hydrologic-installation.json",
    "essdive-leaf-gas-exchange.json",
    "essdive-leaf-gas-exchange-methods.json",
    "essdive-leaf-gas-exchange-instruments.json",
    "essdive-amplicon.json",
    "essdive-amplicon-sequencing.json",
    "essdive-amplicon-bioinformatic.json",
    "frictionless.json",
    "datacite.json",
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
    /// Where the standard's specification is published (a URL).
    #[serde(default)]
    specification: Option<String>,
    /// The reporting format's term in an FLMD `standard` column (`ESS-DIVE Sample v1`):
    /// files an FLMD lists under it are checked against this standard too.
    #[serde(default)]
    flmd_standard: Option<String>,
    /// Of a format's standards, the one an FLMD-listed file gets when no name matches.
    #[serde(default)]
    flmd_default: bool,
    /// Standards this one stands in for on the files it applies to (`csv` for a layout
    /// the generic CSV rules would misread).
    #[serde(default)]
    replaces: Vec<String>,
    applies_to: Vec<String>,
    /// Name patterns too common to apply to every dataset (`*_data.csv`): they apply
    /// only in datasets that follow the format (claimed, or named in their FLMD).
    #[serde(default)]
    applies_to_when_followed: Vec<String>,
    #[serde(default)]
    dialect: Dialect,
    #[serde(default)]
    schema: TableSchema,
    #[serde(default)]
    structure: Option<RawStructure>,
    #[serde(default)]
    layout: Option<Layout>,
    #[serde(default)]
    cross_file: Option<CrossFile>,
    #[serde(default)]
    ameriflux: Option<RawAmeriflux>,
    #[serde(default)]
    datapackage: Option<DataPackageRules>,
    #[serde(default)]
    datacite: Option<DataciteRules>,
    #[serde(default)]
    rules: Option<super::rules::Rules>,
    #[serde(default)]
    wssc: Option<super::wssc::WsscLayout>,
    /// Standards whose files a dataset must also hold when it holds this one's.
    #[serde(default)]
    requires_standards: Vec<String>,
}

/// CSV dialect (Frictionless Table Dialect). `quoteChar: null` reads quotes as literal
/// characters, as the AmeriFlux reader does, so quoted values stay visible. Unknown
/// properties are allowed: data packages carry v1-only ones (`caseSensitiveHeader`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dialect {
    #[serde(default = "comma")]
    pub delimiter: String,
    #[serde(default = "double_quote")]
    pub quote_char: Option<String>,
    #[serde(default = "yes")]
    pub header: bool,
    /// 1-based rows holding the header, joined with `headerJoin` when several.
    #[serde(default)]
    pub header_rows: Option<Vec<u64>>,
    #[serde(default)]
    pub header_join: Option<String>,
    /// 1-based physical rows to skip.
    #[serde(default)]
    pub comment_rows: Vec<u64>,
    #[serde(default)]
    pub comment_char: Option<String>,
    #[serde(default = "yes")]
    pub double_quote: bool,
    #[serde(default)]
    pub escape_char: Option<String>,
    /// A cell holding exactly this is null, like a missing value.
    #[serde(default)]
    pub null_sequence: Option<String>,
    #[serde(default)]
    pub skip_initial_space: bool,
    /// Accepted for completeness: the reader takes `\n`, `\r\n` and `\r` alike.
    #[serde(default)]
    pub line_terminator: Option<String>,
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
            header_rows: None,
            header_join: None,
            comment_rows: Vec::new(),
            comment_char: None,
            double_quote: true,
            escape_char: None,
            null_sequence: None,
            skip_initial_space: false,
            line_terminator: None,
        }
    }
}

fn first_byte(v: &Option<String>) -> Option<u8> {
    v.as_ref().and_then(|q| q.as_bytes().first().copied())
}

impl Dialect {
    pub fn delimiter_byte(&self) -> u8 {
        self.delimiter.as_bytes().first().copied().unwrap_or(b',')
    }
    pub fn quote_byte(&self) -> Option<u8> {
        first_byte(&self.quote_char)
    }
    pub fn escape_byte(&self) -> Option<u8> {
        first_byte(&self.escape_char)
    }
    pub fn comment_byte(&self) -> Option<u8> {
        first_byte(&self.comment_char)
    }
    /// Two standards can share one pass over a file when they read it the same way.
    pub fn same_reading(&self, other: &Dialect) -> bool {
        self.delimiter_byte() == other.delimiter_byte()
            && self.quote_byte() == other.quote_byte()
            && self.escape_byte() == other.escape_byte()
            && self.comment_byte() == other.comment_byte()
            && self.double_quote == other.double_quote
    }

    /// Problems that make the dialect unusable, each a sentence.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.delimiter.len() != 1 {
            out.push(format!(
                "delimiter must be one ASCII character, not {:?}",
                self.delimiter
            ));
        }
        for (what, v) in [
            ("quoteChar", &self.quote_char),
            ("escapeChar", &self.escape_char),
            ("commentChar", &self.comment_char),
        ] {
            if matches!(v, Some(c) if c.len() != 1) {
                out.push(format!("{what} must be one ASCII character or absent"));
            }
        }
        if self
            .header_rows
            .as_ref()
            .is_some_and(|r| r.is_empty() || r.contains(&0))
        {
            out.push("headerRows must list row numbers from 1".into());
        }
        out
    }
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

/// Where a table's header is, and rows under it that describe the columns rather than
/// hold data (a template's `format` and `unit` rows).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Layout {
    /// The header is the first of this many rows that names a field of the schema; rows
    /// before it (a template's instructions) are reported at `leadingRows`.
    #[serde(default = "one")]
    pub header_search_rows: u64,
    #[serde(default = "error_level")]
    pub leading_rows: RuleLevel,
    /// Rows right under the header whose every non-empty cell is one of `values` (or the
    /// row's own `name`, as a template's label column holds it) are skipped.
    #[serde(default)]
    pub descriptor_rows: Vec<DescriptorRow>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DescriptorRow {
    pub name: String,
    pub values: Vec<String>,
}

fn one() -> u64 {
    1
}
fn error_level() -> RuleLevel {
    RuleLevel::Error
}
fn warning_level() -> RuleLevel {
    RuleLevel::Warning
}

/// What a file of this standard says about the rest of its dataset.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrossFile {
    /// The column naming every file of the dataset (FLMD `file_name`; `*` wildcards).
    #[serde(default)]
    pub lists_files: Option<NameColumn>,
    /// The column naming every column of the dataset's CSV files (dd `column_or_row_name`).
    #[serde(default)]
    pub defines_columns: Option<NameColumn>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NameColumn {
    /// A field of the standard's schema (its aliases are accepted too).
    pub column: String,
    /// A file (or column) of the dataset that no entry names.
    #[serde(default = "error_level")]
    pub unlisted: RuleLevel,
    /// An entry that names nothing in the dataset.
    #[serde(default = "warning_level")]
    pub unmatched: RuleLevel,
}

/// A Frictionless Data Package (`datapackage.json`) and the tables it describes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataPackageRules {
    /// Descriptors and schema files are read whole: larger ones are refused.
    #[serde(default = "max_descriptor_bytes")]
    pub max_descriptor_bytes: u64,
}

fn max_descriptor_bytes() -> u64 {
    10 << 20
}

/// The dataset's own metadata against the DataCite properties.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataciteRules {
    pub properties: Vec<DataciteProperty>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataciteProperty {
    /// The DataCite property name, e.g. `Title`, `GeoLocation`.
    pub name: String,
    pub obligation: Obligation,
    /// Filled in by the archive at publication (DOI, publisher, year): its absence from
    /// a draft is no finding.
    #[serde(default)]
    pub assigned_by_archive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Obligation {
    Mandatory,
    Recommended,
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
#[derive(Debug, Clone, Default)]
pub struct Standard {
    pub name: String,
    pub title: String,
    pub version: Option<String>,
    pub source: Option<String>,
    pub applies_to: Vec<String>,
    pub applies_when_followed: Vec<String>,
    pub dialect: Dialect,
    pub schema: TableSchema,
    pub structure: Option<Structure>,
    pub layout: Option<Layout>,
    pub cross_file: Option<CrossFile>,
    pub ameriflux: Option<Ameriflux>,
    pub datapackage: Option<DataPackageRules>,
    pub datacite: Option<DataciteRules>,
    pub specification: Option<String>,
    pub flmd_standard: Option<String>,
    pub flmd_default: bool,
    pub replaces: Vec<String>,
    pub rules: Option<super::rules::Rules>,
    pub wssc: Option<super::wssc::WsscLayout>,
    pub requires_standards: Vec<String>,
    /// SHA-256 of the file the standard was read from (see [`Registry::fingerprint`]).
    pub sha256: String,
}

impl Standard {
    /// Parses and checks one standard file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Standard, StandardsError> {
        let bad = |problem: String| StandardsError::Malformed {
            file: file.to_string(),
            problem,
        };
        let mut raw: RawStandard = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if raw.name.trim().is_empty() {
            return Err(bad("`name` is empty".into()));
        }
        if raw.applies_to.is_empty()
            && raw.applies_to_when_followed.is_empty()
            && raw.datacite.is_none()
        {
            return Err(bad(
                "`appliesTo` lists no file patterns (use [\"*.csv\"] for every CSV)".into(),
            ));
        }
        let kinds = [
            raw.ameriflux.is_some(),
            raw.datapackage.is_some(),
            raw.datacite.is_some(),
            raw.wssc.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err(bad(
                "a standard has at most one of the `ameriflux`, `datapackage`, `datacite` and `wssc` blocks"
                    .into(),
            ));
        }
        if let Some(p) = raw.dialect.problems().into_iter().next() {
            return Err(bad(format!("dialect.{p}")));
        }
        if let Some(name) = raw.schema.repeated_names().first() {
            return Err(bad(format!("schema: fields name {name:?} more than once")));
        }
        if let Some(p) = raw.schema.prepare().into_iter().next() {
            return Err(bad(format!("schema: {p}")));
        }
        if let Some(cross) = &raw.cross_file {
            for c in [&cross.lists_files, &cross.defines_columns]
                .into_iter()
                .flatten()
            {
                if !raw.schema.fields.iter().any(|f| f.name == c.column) {
                    return Err(bad(format!(
                        "crossFile names the column {:?}, which is not a field of the schema",
                        c.column
                    )));
                }
            }
        }
        if let Some(rules) = raw.rules.as_mut() {
            rules
                .prepare(&raw.schema)
                .map_err(|p| bad(format!("rules: {p}")))?;
        }
        if let Some(w) = raw.wssc.as_mut() {
            w.prepare().map_err(|p| bad(format!("wssc: {p}")))?;
        }
        if let Some(layout) = &raw.layout {
            if layout.header_search_rows == 0 {
                return Err(bad("layout.headerSearchRows must be at least 1".into()));
            }
        }
        if let Some(d) = &raw.datacite {
            for p in &d.properties {
                if !super::datacite::is_known_property(&p.name) {
                    return Err(bad(format!(
                        "datacite.properties names {:?}, which holdfast's metadata does not hold (known: {})",
                        p.name,
                        super::datacite::known_properties()
                    )));
                }
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
            applies_when_followed: raw.applies_to_when_followed,
            dialect: raw.dialect,
            schema: raw.schema,
            structure,
            layout: raw.layout,
            cross_file: raw.cross_file,
            ameriflux,
            datapackage: raw.datapackage,
            datacite: raw.datacite,
            specification: raw.specification,
            flmd_standard: raw.flmd_standard,
            flmd_default: raw.flmd_default,
            replaces: raw.replaces,
            rules: raw.rules,
            wssc: raw.wssc,
            requires_standards: raw.requires_standards,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    /// Whether the standard checks files as tables (and not a data package descriptor
    /// or the dataset's metadata).
    pub fn checks_tables(&self) -> bool {
        self.datapackage.is_none() && self.datacite.is_none()
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

    /// SHA-256 over the loaded standards (name and file digest, in name order) and the
    /// engine's version: a report cached under one fingerprint is stale under another.
    pub fn fingerprint(&self) -> String {
        let mut parts: Vec<(&str, &str)> = self
            .standards
            .iter()
            .map(|s| (s.name.as_str(), s.sha256.as_str()))
            .collect();
        parts.sort();
        let mut h = Sha256::new();
        h.update(format!(
            "holdfast standards engine {}
",
            super::ENGINE_VERSION
        ));
        for (name, digest) in parts {
            h.update(format!(
                "{name} {digest}
"
            ));
        }
        hex::encode(h.finalize())
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
