//! Frictionless Data Packages: a dataset's `datapackage.json` (v2, v1 accepted) is
//! checked as a descriptor, and each tabular resource becomes a table standard of its
//! own (its Table Schema and dialect) that the engine applies to the resource's file.
//!
//! Only files of the dataset are ever read: a resource path that is absolute, climbs
//! out with `..`, is a URL or names no file of the dataset is a finding, not a read.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use super::dataset::{DatasetFile, FileHashes};
use super::engine::open_table;
use super::findings::{Collector, Finding, Issue, Severity};
use super::spec::{DataPackageRules, Dialect, Standard};
use super::tableschema::{key_hash, FieldsMatch, KeySet, TableSchema, MAX_KEYS};
use super::values;

/// What one `datapackage.json` asks of the dataset.
pub struct PackagePlan {
    /// Findings about the descriptor itself (file = the descriptor's path).
    pub findings: Vec<Finding>,
    pub resources: Vec<ResourcePlan>,
}

/// A tabular resource whose file is in the dataset.
pub struct ResourcePlan {
    /// Index of the resource's file in the dataset's files.
    pub file: usize,
    pub name: String,
    /// The resource's schema and dialect as a standard the engine applies.
    pub standard: Standard,
    /// Digest of everything outside the file that its checks use.
    pub depends_on: String,
    pub bytes: Option<u64>,
    pub hash: Option<String>,
    /// For each foreign key to another resource: the referenced file, its dialect and
    /// schema, and the referenced field names.
    pub references: Vec<Option<Reference>>,
}

#[derive(Clone)]
pub struct Reference {
    file: usize,
    dialect: Dialect,
    schema: TableSchema,
    fields: Vec<String>,
}

struct Context<'a> {
    standard: &'a Standard,
    rules: &'a DataPackageRules,
    descriptor: &'a DatasetFile,
    all: &'a [DatasetFile],
    /// Dataset path → index in `all`.
    files: HashMap<&'a str, usize>,
    findings: Vec<Finding>,
}

impl Context<'_> {
    fn push(&mut self, code: &'static str, severity: Severity, message: String) {
        self.findings.push(
            Issue::new(code, severity, message)
                .found_in(&self.descriptor.path, &self.standard.name),
        );
    }
}

/// The folder of a dataset path, with a trailing `/` ("" at the top).
fn folder_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    }
}

/// Why a path in a descriptor may not be followed, if it may not.
fn unsafe_path(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    if lower.contains("://")
        || ["http:", "https:", "ftp:", "file:", "data:"]
            .iter()
            .any(|s| lower.starts_with(s))
    {
        return Some("is a URL; holdfast checks only files that are part of the dataset");
    }
    if path.starts_with('/')
        || path.starts_with('~')
        || path.starts_with('\\')
        || path.get(1..2) == Some(":")
    {
        return Some("is absolute; resource paths must be relative to datapackage.json");
    }
    if path.split(['/', '\\']).any(|s| s == "..") {
        return Some("climbs out of the package with `..`");
    }
    if path.split('/').any(|s| s.starts_with('.') && s != ".") {
        return Some("goes through a hidden folder or names a hidden file");
    }
    if path.is_empty() {
        return Some("is empty");
    }
    None
}

/// Resolves a descriptor path against the descriptor's folder to a dataset path.
fn resolve(folder: &str, path: &str) -> String {
    let joined = format!("{folder}{}", path.trim_start_matches("./"));
    joined
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads a small JSON file of the dataset (a descriptor or a schema), refusing big ones.
fn read_json(file: &DatasetFile, max: u64) -> Result<(Vec<u8>, Value), String> {
    let meta = std::fs::metadata(&file.local).map_err(|e| format!("cannot be read: {e}"))?;
    if meta.len() > max {
        return Err(format!(
            "is {} bytes; descriptors over {max} bytes are not read",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&file.local)
        .and_then(|f| f.take(max).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot be read: {e}"))?;
    let bytes_for_parse = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let value =
        serde_json::from_slice(bytes_for_parse).map_err(|e| format!("is not valid JSON: {e}"))?;
    Ok((bytes, value))
}

/// A property given inline or as a path to a JSON file of the dataset.
fn inline_or_file(
    ctx: &mut Context,
    what: &'static str,
    code: &'static str,
    value: &Value,
    digest: &mut Sha256,
) -> Option<Value> {
    match value {
        Value::Object(_) => Some(value.clone()),
        Value::String(p) => {
            if let Some(why) = unsafe_path(p) {
                ctx.push(code, Severity::Error, format!("{what} path {p:?} {why}"));
                return None;
            }
            let path = resolve(folder_of(&ctx.descriptor.path), p);
            let Some(&i) = ctx.files.get(path.as_str()) else {
                ctx.push(
                    code,
                    Severity::Error,
                    format!("{what} file {p:?} is not in the dataset"),
                );
                return None;
            };
            match read_json(&ctx.all[i], ctx.rules.max_descriptor_bytes) {
                Ok((bytes, v)) => {
                    digest.update(&bytes);
                    Some(v)
                }
                Err(e) => {
                    ctx.push(code, Severity::Error, format!("{what} file {p:?} {e}"));
                    None
                }
            }
        }
        _ => {
            ctx.push(
                code,
                Severity::Error,
                format!("{what} must be an object or a path to a JSON file"),
            );
            None
        }
    }
}

/// Checks one `datapackage.json` and plans the checks of its tabular resources.
pub fn check_package(
    standard: &Standard,
    rules: &DataPackageRules,
    descriptor: usize,
    all: &[DatasetFile],
    hashes: &mut FileHashes,
) -> PackagePlan {
    let mut ctx = Context {
        standard,
        rules,
        descriptor: &all[descriptor],
        all,
        files: all
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect(),
        findings: Vec::new(),
    };
    let Some(Package {
        bytes,
        v1,
        resources,
    }) = read_package(&mut ctx)
    else {
        return PackagePlan {
            findings: ctx.findings,
            resources: Vec::new(),
        };
    };
    // Resource names first: foreign keys refer to them.
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        if let Some(n) = r.get("name").and_then(Value::as_str) {
            if names.insert(n.to_string(), i).is_some() {
                ctx.push(
                    "resource-error",
                    Severity::Error,
                    format!("resource name {n:?} is used more than once; names must be unique"),
                );
            }
        }
    }
    let mut planned: Vec<Option<ResourcePlan>> = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        planned.push(plan_resource(&mut ctx, &bytes, i, r, v1, &names));
    }
    // Foreign keys to other resources: where their keys are read from.
    let targets: Vec<Option<(usize, Dialect, TableSchema)>> = planned
        .iter()
        .map(|p| {
            p.as_ref().map(|p| {
                (
                    p.file,
                    p.standard.dialect.clone(),
                    p.standard.schema.clone(),
                )
            })
        })
        .collect();
    let mut resources_out = Vec::new();
    for mut plan in planned.into_iter().flatten() {
        let mut digest = Sha256::new();
        digest.update(plan.depends_on.as_bytes());
        plan.references = plan
            .standard
            .schema
            .foreign_keys
            .iter()
            .map(|fk| {
                let target = fk.reference.resource.as_deref().filter(|r| !r.is_empty())?;
                let (file, dialect, schema) =
                    names.get(target).and_then(|&i| targets[i].clone())?;
                digest.update(all[file].path.as_bytes());
                digest.update(hashes.sha256(&all[file]).unwrap_or_default().as_bytes());
                Some(Reference {
                    file,
                    dialect,
                    schema,
                    fields: fk.reference.fields.clone(),
                })
            })
            .collect();
        plan.depends_on = hex::encode(digest.finalize());
        resources_out.push(plan);
    }
    PackagePlan {
        findings: ctx.findings,
        resources: resources_out,
    }
}

/// A descriptor as read: its bytes (for digests), its version, its resources.
struct Package {
    bytes: Vec<u8>,
    v1: bool,
    resources: Vec<Value>,
}

/// Reads the descriptor and checks the package's own properties; `None` when there are
/// no resources to go on with (the reason is a finding).
fn read_package(ctx: &mut Context) -> Option<Package> {
    let (bytes, package) = match read_json(ctx.descriptor, ctx.rules.max_descriptor_bytes) {
        Ok(x) => x,
        Err(e) => {
            ctx.push(
                "package-error",
                Severity::Error,
                format!("datapackage.json {e}"),
            );
            return None;
        }
    };
    let Value::Object(mut package) = package else {
        ctx.push(
            "package-error",
            Severity::Error,
            "datapackage.json must hold a JSON object".into(),
        );
        return None;
    };
    check_shapes(
        ctx,
        &package,
        PACKAGE_PROPERTIES,
        "package-error",
        "the package",
    );
    if let Some(name) = package.get("name") {
        if !name.as_str().is_some_and(|n| lowercase_name(n, b".-_")) {
            ctx.push(
                "package-error",
                Severity::Warning,
                format!("package name {name} should use only lowercase letters, digits, `.`, `-` and `_`"),
            );
        }
    }
    match package.remove("resources") {
        Some(Value::Array(resources)) if !resources.is_empty() => Some(Package {
            bytes,
            v1: is_v1(&package),
            resources,
        }),
        Some(Value::Array(_)) => {
            ctx.push(
                "package-error",
                Severity::Error,
                "`resources` is empty: a data package needs at least one resource".into(),
            );
            None
        }
        _ => {
            ctx.push(
                "package-error",
                Severity::Error,
                "`resources` is missing or not a list: a data package needs a list of resources"
                    .into(),
            );
            None
        }
    }
}

/// A non-empty name of lowercase ASCII letters, digits and the `extra` bytes.
fn lowercase_name(name: &str, extra: &[u8]) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// What a descriptor property must hold (the JSON Schema profiles' types).
#[derive(Clone, Copy)]
enum Shape {
    Text,
    TextList,
    /// A list of objects, each with at least one property.
    Objects,
    /// A list of licenses: objects with a `name` or a `path`.
    Licenses,
    /// An RFC 3339 date-time.
    DateTime,
}

const PACKAGE_PROPERTIES: &[(&str, Shape)] = &[
    ("id", Shape::Text),
    ("title", Shape::Text),
    ("description", Shape::Text),
    ("homepage", Shape::Text),
    ("version", Shape::Text),
    ("image", Shape::Text),
    ("$schema", Shape::Text),
    ("profile", Shape::Text),
    ("created", Shape::DateTime),
    ("keywords", Shape::TextList),
    ("licenses", Shape::Licenses),
    ("contributors", Shape::Objects),
    ("sources", Shape::Objects),
];

const RESOURCE_PROPERTIES: &[(&str, Shape)] = &[
    ("title", Shape::Text),
    ("description", Shape::Text),
    ("format", Shape::Text),
    ("mediatype", Shape::Text),
    ("encoding", Shape::Text),
    ("$schema", Shape::Text),
    ("profile", Shape::Text),
    ("type", Shape::Text),
    ("licenses", Shape::Licenses),
    ("sources", Shape::Objects),
];

/// Reports descriptor properties that do not hold what the profiles say.
fn check_shapes(
    ctx: &mut Context,
    object: &Map<String, Value>,
    properties: &[(&str, Shape)],
    code: &'static str,
    label: &str,
) {
    let objects = |v: &Value, each: &dyn Fn(&Map<String, Value>) -> bool| {
        v.as_array().is_some_and(|a| {
            a.iter()
                .all(|i| i.as_object().is_some_and(|o| !o.is_empty() && each(o)))
        })
    };
    for (key, shape) in properties {
        let Some(v) = object.get(*key) else { continue };
        let (fits, what) = match shape {
            Shape::Text => (v.is_string(), "a string"),
            Shape::TextList => (
                v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                "a list of strings",
            ),
            Shape::Objects => (objects(v, &|_| true), "a list of objects"),
            Shape::Licenses => (
                objects(v, &|o| o.contains_key("name") || o.contains_key("path")),
                "a list of objects each with a `name` or a `path`",
            ),
            Shape::DateTime => (
                v.as_str()
                    .is_some_and(|t| values::datetime_default(t.as_bytes()).is_some()),
                "a date and time such as 2024-01-26T15:00:00Z",
            ),
        };
        if !fits {
            ctx.push(
                code,
                Severity::Error,
                format!("{label}: `{key}` must be {what}"),
            );
        }
    }
}

/// v1 descriptors name their profile (`profile`, or `$schema` pointing at 1.0).
fn is_v1(package: &Map<String, Value>) -> bool {
    let schema = package.get("$schema").and_then(Value::as_str).unwrap_or("");
    package.contains_key("profile") || schema.contains("/1.0/")
}

fn plan_resource(
    ctx: &mut Context,
    descriptor_bytes: &[u8],
    index: usize,
    resource: &Value,
    v1: bool,
    names: &HashMap<String, usize>,
) -> Option<ResourcePlan> {
    let Value::Object(r) = resource else {
        ctx.push(
            "resource-error",
            Severity::Error,
            format!("resource {} must be a JSON object", index + 1),
        );
        return None;
    };
    let name = match r.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            ctx.push(
                "resource-error",
                Severity::Error,
                format!(
                    "resource {} has no `name`; every resource needs one",
                    index + 1
                ),
            );
            format!("resource {}", index + 1)
        }
    };
    let label = format!("resource {name:?}");
    check_shapes(ctx, r, RESOURCE_PROPERTIES, "resource-error", &label);
    if r.get("type").is_some_and(|t| t != "table") {
        ctx.push(
            "resource-error",
            Severity::Error,
            format!("{label}: `type` may only be \"table\""),
        );
    }
    if r.get("mediatype").and_then(Value::as_str).is_some_and(|m| {
        !m.split_once('/')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
    }) {
        ctx.push(
            "resource-error",
            Severity::Error,
            format!("{label}: `mediatype` must look like type/subtype, e.g. text/csv"),
        );
    }
    if v1 && !lowercase_name(&name, b"-._/") {
        ctx.push(
            "resource-error",
            Severity::Warning,
            format!("{label}: Data Package v1 names use only lowercase letters, digits, `-`, `.`, `_` and `/`"),
        );
    }
    let path = match (r.get("path"), r.get("data")) {
        (Some(_), Some(_)) => {
            ctx.push(
                "resource-error",
                Severity::Error,
                format!("{label} has both `path` and `data`; give one"),
            );
            return None;
        }
        (None, None) => {
            ctx.push(
                "resource-error",
                Severity::Error,
                format!("{label} has neither `path` nor `data`; give one"),
            );
            return None;
        }
        // Inline data is part of the descriptor: no file to check.
        (None, Some(_)) => return None,
        (Some(Value::String(p)), None) => p.clone(),
        (Some(Value::Array(parts)), None) => {
            for p in parts {
                match p.as_str() {
                    Some(p) => {
                        located(ctx, &label, p);
                    }
                    None => ctx.push(
                        "resource-error",
                        Severity::Error,
                        format!("{label}: every part of `path` must be a string"),
                    ),
                }
            }
            ctx.push(
                "resource-error",
                Severity::Warning,
                format!("{label} is split over several files; holdfast checks that they exist but does not check multipart tables"),
            );
            return None;
        }
        (Some(_), None) => {
            ctx.push(
                "resource-error",
                Severity::Error,
                format!("{label}: `path` must be a string or a list of strings"),
            );
            return None;
        }
    };
    let file = located(ctx, &label, &path)?;
    let tabular = r.get("type").and_then(Value::as_str) == Some("table")
        || r.get("profile").and_then(Value::as_str) == Some("tabular-data-resource")
        || r.contains_key("schema");
    let format = r
        .get("format")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| path.rsplit('.').next().unwrap_or("").to_ascii_lowercase());
    if !tabular && !matches!(format.as_str(), "csv" | "tsv") {
        return None;
    }
    if !matches!(format.as_str(), "csv" | "tsv" | "txt") {
        ctx.push(
            "format-error",
            Severity::Warning,
            format!("{label} is a {format:?} table; holdfast checks CSV and TSV tables only"),
        );
        return None;
    }
    if let Some(enc) = r.get("encoding").and_then(Value::as_str) {
        let e = enc.to_ascii_lowercase().replace('_', "-");
        if !matches!(
            e.as_str(),
            "utf-8" | "utf8" | "utf-8-sig" | "ascii" | "us-ascii"
        ) {
            ctx.push(
                "encoding-error",
                Severity::Warning,
                format!("{label} declares encoding {enc:?}; holdfast reads tables as UTF-8, so other bytes are reported"),
            );
        }
    }
    let mut digest = Sha256::new();
    digest.update(descriptor_bytes);
    digest.update(index.to_le_bytes());
    let mut dialect = Dialect::default();
    if format == "tsv" {
        dialect.delimiter = "\t".into();
    }
    if let Some(d) = r.get("dialect") {
        if let Some(v) = inline_or_file(ctx, "dialect", "dialect-error", d, &mut digest) {
            let gives_delimiter = v.get("delimiter").is_some();
            match serde_json::from_value::<Dialect>(v) {
                Ok(mut d) => {
                    // A TSV's tab stays unless the dialect names another delimiter.
                    if !gives_delimiter {
                        d.delimiter = dialect.delimiter.clone();
                    }
                    let problems = d.problems();
                    if problems.is_empty() {
                        dialect = d;
                    } else {
                        for p in problems {
                            ctx.push(
                                "dialect-error",
                                Severity::Error,
                                format!("{label}: dialect {p}"),
                            );
                        }
                        return None;
                    }
                }
                Err(e) => {
                    ctx.push(
                        "dialect-error",
                        Severity::Error,
                        format!("{label}: dialect {e}"),
                    );
                    return None;
                }
            }
        }
    }
    let mut schema = TableSchema {
        missing_values: vec![String::new()],
        ..TableSchema::default()
    };
    if let Some(s) = r.get("schema") {
        let v = inline_or_file(ctx, "schema", "schema-error", s, &mut digest)?;
        match serde_json::from_value::<TableSchema>(v) {
            Ok(s) => schema = s,
            Err(e) => {
                ctx.push(
                    "schema-error",
                    Severity::Error,
                    format!("{label}: schema {e}"),
                );
                return None;
            }
        }
        let problems = schema.prepare();
        if !problems.is_empty() {
            for p in problems {
                let code = if p.starts_with("field") {
                    "field-error"
                } else {
                    "schema-error"
                };
                ctx.push(code, Severity::Error, format!("{label}: schema {p}"));
            }
            return None;
        }
        for f in &schema.fields {
            if f.constraints.json_schema.is_some() {
                ctx.push(
                    "field-error",
                    Severity::Warning,
                    format!("{label}: field {:?} has a jsonSchema constraint, which holdfast does not check", f.name),
                );
            }
        }
        for fk in &schema.foreign_keys {
            if let Some(target) = fk.reference.resource.as_deref().filter(|t| !t.is_empty()) {
                if !names.contains_key(target) {
                    ctx.push(
                        "schema-error",
                        Severity::Error,
                        format!("{label}: a foreign key references resource {target:?}, which the package does not have"),
                    );
                }
            }
        }
        schema.fields_match = Some(schema.fields_match.unwrap_or(FieldsMatch::Exact));
    }
    let bytes = match r.get("bytes") {
        None => None,
        Some(b) => match b.as_u64() {
            Some(b) => Some(b),
            None => {
                ctx.push(
                    "resource-error",
                    Severity::Error,
                    format!("{label}: `bytes` must be a whole number"),
                );
                None
            }
        },
    };
    let hash = match r.get("hash") {
        None => None,
        Some(Value::String(h)) if hash_form_ok(h) => Some(h.clone()),
        Some(_) => {
            ctx.push(
                "resource-error",
                Severity::Error,
                format!("{label}: `hash` must be \"<algorithm>:<hex digits>\" or a 32-digit MD5"),
            );
            None
        }
    };
    let standard = Standard {
        name: ctx.standard.name.clone(),
        title: format!("{} ({label})", ctx.standard.title),
        version: ctx.standard.version.clone(),
        source: Some(ctx.descriptor.path.clone()),
        applies_to: Vec::new(),
        dialect,
        schema,
        structure: None,
        layout: None,
        cross_file: None,
        ameriflux: None,
        datapackage: None,
        datacite: None,
        sha256: String::new(),
        ..Standard::default()
    };
    Some(ResourcePlan {
        file,
        name,
        standard,
        depends_on: hex::encode(digest.finalize()),
        bytes,
        hash,
        references: Vec::new(),
    })
}

/// `<algorithm>:<hex>` or a bare 32-digit MD5 (the profiles' pattern).
fn hash_form_ok(h: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    match h.split_once(':') {
        Some((algorithm, digest)) => !algorithm.is_empty() && hex(digest),
        None => h.len() == 32 && hex(h),
    }
}

/// Finds the dataset file a resource path names, reporting why it cannot be used.
fn located(ctx: &mut Context, label: &str, path: &str) -> Option<usize> {
    if let Some(why) = unsafe_path(path) {
        let severity = if why.starts_with("is a URL") {
            Severity::Warning
        } else {
            Severity::Error
        };
        ctx.push(
            "resource-error",
            severity,
            format!("{label}: path {path:?} {why}"),
        );
        return None;
    }
    let resolved = resolve(folder_of(&ctx.descriptor.path), path);
    match ctx.files.get(resolved.as_str()) {
        Some(&i) => Some(i),
        None => {
            ctx.push(
                "source-error",
                Severity::Error,
                format!("{label}: path {path:?} names no file of the dataset"),
            );
            None
        }
    }
}

impl ResourcePlan {
    /// Reads the key sets this resource's foreign keys need (one pass per referenced
    /// table, keeping only the hashed keys) and gives them to its schema.
    pub fn load_references(&mut self, all: &[DatasetFile]) {
        self.standard.schema.referenced_keys = self
            .references
            .iter()
            .map(|r| {
                r.as_ref()
                    .and_then(|r| read_keys(&all[r.file].local, r).ok().map(Arc::new))
            })
            .collect();
    }

    /// Checks the declared size and hash against the file.
    pub fn check_stats(
        &self,
        file: &DatasetFile,
        size: u64,
        hashes: &mut FileHashes,
        out: &mut Collector,
    ) {
        if let Some(expected) = self.bytes {
            if expected != size {
                out.push(Issue::new(
                    "byte-count",
                    Severity::Error,
                    format!(
                        "resource {:?} declares {expected} bytes but the file has {size}",
                        self.name
                    ),
                ));
            }
        }
        let Some(declared) = &self.hash else { return };
        let (algorithm, expected) = match declared.split_once(':') {
            Some((a, h)) => (a.to_ascii_lowercase(), h.to_ascii_lowercase()),
            None => ("md5".to_string(), declared.to_ascii_lowercase()),
        };
        let actual = match algorithm.as_str() {
            "sha256" => hashes.sha256(file),
            "md5" => hashes.md5(file),
            other => {
                out.push(Issue::new(
                    "hash-count",
                    Severity::Warning,
                    format!(
                        "resource {:?} gives a {other} hash; holdfast verifies md5 and sha256 only",
                        self.name
                    ),
                ));
                return;
            }
        };
        match actual {
            Ok(actual) if actual != expected => out.push(
                Issue::new(
                    "hash-count",
                    Severity::Error,
                    format!(
                        "resource {:?} declares {algorithm} {expected} but the file's is {actual}",
                        self.name
                    ),
                )
                .value(declared.as_bytes()),
            ),
            Ok(_) => {}
            Err(e) => out.push(Issue::new(
                "hash-count",
                Severity::Error,
                format!(
                    "the hash of resource {:?} could not be computed: {e}",
                    self.name
                ),
            )),
        }
    }
}

/// The hashed keys of the referenced columns of a table.
fn read_keys(path: &Path, r: &Reference) -> std::io::Result<KeySet> {
    let mut table = open_table(path, &r.dialect)?;
    let mut record = csv::ByteRecord::new();
    let mut set = KeySet {
        hashes: HashSet::new(),
        complete: true,
    };
    let mut columns: Option<Vec<usize>> = None;
    if !r.dialect.header {
        columns = r
            .fields
            .iter()
            .map(|f| r.schema.fields.iter().position(|x| x.name == *f))
            .collect();
    }
    let header_line = r
        .dialect
        .header_rows
        .as_ref()
        .and_then(|h| h.iter().max().copied())
        .unwrap_or(1);
    while let Some(line) = table.read(&mut record)? {
        if r.dialect.comment_rows.contains(&line) {
            continue;
        }
        let Some(cols) = &columns else {
            if line < header_line && r.dialect.header_rows.is_some() {
                continue;
            }
            let labels: Vec<String> = record
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            // By label; a table matched by position (`exact`) falls back to field order.
            columns = r
                .fields
                .iter()
                .map(|f| {
                    labels
                        .iter()
                        .position(|l| l == f)
                        .or_else(|| r.schema.fields.iter().position(|x| x.name == *f))
                })
                .collect();
            if columns.is_none() {
                return Ok(set);
            }
            continue;
        };
        let missing = |i: usize, cell: &[u8]| {
            let field = r.schema.fields.iter().find(|x| x.name == r.fields[i]);
            r.schema
                .missing_for(field)
                .iter()
                .any(|m| m.as_bytes() == cell)
        };
        if let Some(h) = key_hash(
            cols.iter().map(|&c| record.get(c).unwrap_or_default()),
            missing,
        ) {
            if set.hashes.len() >= MAX_KEYS {
                set.complete = false;
                break;
            }
            set.hashes.insert(h);
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_dataset_are_refused() {
        assert!(unsafe_path("/etc/passwd").is_some());
        assert!(unsafe_path("../secret.csv").is_some());
        assert!(unsafe_path("data/../../x.csv").is_some());
        assert!(unsafe_path("https://example.org/x.csv").is_some());
        assert!(unsafe_path("C:\\x.csv").is_some());
        assert!(unsafe_path("~/x.csv").is_some());
        assert!(unsafe_path(".hidden/x.csv").is_some());
        assert!(unsafe_path("data/x.csv").is_none());
        assert!(unsafe_path("./x.csv").is_none());
        assert_eq!(resolve("pkg/", "./data/x.csv"), "pkg/data/x.csv");
        assert_eq!(resolve("", "x.csv"), "x.csv");
    }
}
