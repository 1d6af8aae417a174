//! Frictionless Data Packages: a dataset's `datapackage.json` (v2, v1 accepted) is
//! checked as a descriptor, and each tabular resource becomes a table standard of its
//! own (its Table Schema and dialect) that the engine applies to the resource's file.
//!
//! Only files of the dataset are ever read: a resource path that is absolute, climbs
//! out with `..`, is a URL or names no file of the dataset is a finding, not a read.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use super::dataset::{DatasetFile, FileHashes};
use super::findings::{Finding, Issue, Severity};
use super::spec::{DataPackageRules, Dialect, Standard};
use super::tableschema::TableSchema;
use super::values;

mod keys;
mod paths;
mod resource;

use paths::{folder_of, inline_or_file, read_json, resolve, unsafe_path};
use resource::plan_resource;

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
    let names = resource_names(&mut ctx, &resources);
    let mut planned: Vec<Option<ResourcePlan>> = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        planned.push(plan_resource(&mut ctx, &bytes, i, r, v1, &names));
    }
    PackagePlan {
        findings: ctx.findings,
        resources: with_references(planned, &names, all, hashes),
    }
}

/// Each resource's index by name; a name used twice is reported.
fn resource_names(ctx: &mut Context, resources: &[Value]) -> HashMap<String, usize> {
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
    names
}

/// The planned resources with the tables their foreign keys refer to; what those
/// tables are (path and digest) becomes part of what a resource's result depends on.
fn with_references(
    planned: Vec<Option<ResourcePlan>>,
    names: &HashMap<String, usize>,
    all: &[DatasetFile],
    hashes: &mut FileHashes,
) -> Vec<ResourcePlan> {
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
    resources_out
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
