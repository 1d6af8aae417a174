use super::{
    check_shapes, folder_of, inline_or_file, lowercase_name, resolve, unsafe_path, Context,
    ResourcePlan, RESOURCE_PROPERTIES,
};
use crate::standards::findings::Severity;
use crate::standards::spec::{Dialect, Standard};
use crate::standards::tableschema::{FieldsMatch, TableSchema};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Plans the check of one resource of a package: reports what is wrong with its
/// descriptor and, for a CSV or TSV table held by the dataset, returns the table
/// standard to apply to its file.
pub(super) fn plan_resource(
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
    let name = resource_name(ctx, r, index);
    let label = format!("resource {name:?}");
    check_resource_properties(ctx, r, &name, &label, v1);
    let path = resource_path(ctx, r, &label)?;
    let file = located(ctx, &label, &path)?;
    let format = table_format(ctx, r, &label, &path)?;
    let mut digest = Sha256::new();
    digest.update(descriptor_bytes);
    digest.update(index.to_le_bytes());
    let dialect = resource_dialect(ctx, r, &label, &format, &mut digest)?;
    let schema = resource_schema(ctx, r, &label, names, &mut digest)?;
    let bytes = declared_bytes(ctx, r, &label);
    let hash = declared_hash(ctx, r, &label);
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

/// The resource's `name`, or `resource N` (reported) when it has none.
fn resource_name(ctx: &mut Context, r: &Map<String, Value>, index: usize) -> String {
    match r.get("name").and_then(Value::as_str) {
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
    }
}

/// The descriptor properties of a resource that need no file: shapes, `type`,
/// `mediatype` and, in v1, the form of the name.
fn check_resource_properties(
    ctx: &mut Context,
    r: &Map<String, Value>,
    name: &str,
    label: &str,
    v1: bool,
) {
    check_shapes(ctx, r, RESOURCE_PROPERTIES, "resource-error", label);
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
    if v1 && !lowercase_name(name, b"-._/") {
        ctx.push(
            "resource-error",
            Severity::Warning,
            format!("{label}: Data Package v1 names use only lowercase letters, digits, `-`, `.`, `_` and `/`"),
        );
    }
}

/// The one file path of a resource; None (reported where it is a problem) for inline
/// data, a multipart path or a missing or malformed one.
fn resource_path(ctx: &mut Context, r: &Map<String, Value>, label: &str) -> Option<String> {
    match (r.get("path"), r.get("data")) {
        (Some(_), Some(_)) => {
            ctx.push(
                "resource-error",
                Severity::Error,
                format!("{label} has both `path` and `data`; give one"),
            );
            None
        }
        (None, None) => {
            ctx.push(
                "resource-error",
                Severity::Error,
                format!("{label} has neither `path` nor `data`; give one"),
            );
            None
        }
        // Inline data is part of the descriptor: no file to check.
        (None, Some(_)) => None,
        (Some(Value::String(p)), None) => Some(p.clone()),
        (Some(Value::Array(parts)), None) => {
            for p in parts {
                match p.as_str() {
                    Some(p) => {
                        located(ctx, label, p);
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
            None
        }
        (Some(_), None) => {
            ctx.push(
                "resource-error",
                Severity::Error,
                format!("{label}: `path` must be a string or a list of strings"),
            );
            None
        }
    }
}

/// The table format of a resource (`csv`, `tsv` or `txt`); None when it is not a
/// table holdfast checks (reported when it is a table in another format).
fn table_format(
    ctx: &mut Context,
    r: &Map<String, Value>,
    label: &str,
    path: &str,
) -> Option<String> {
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
    Some(format)
}

/// The CSV dialect of a table: the default (tab-separated for TSV) or the one the
/// resource gives, inline or in a file; None (reported) when that one is wrong.
fn resource_dialect(
    ctx: &mut Context,
    r: &Map<String, Value>,
    label: &str,
    format: &str,
    digest: &mut Sha256,
) -> Option<Dialect> {
    let mut dialect = Dialect::default();
    if format == "tsv" {
        dialect.delimiter = "\t".into();
    }
    if let Some(d) = r.get("dialect") {
        if let Some(v) = inline_or_file(ctx, "dialect", "dialect-error", d, digest) {
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
    Some(dialect)
}

/// The Table Schema of a table, prepared (its fields must then match the header
/// exactly unless it says otherwise); None (reported) when it is wrong.
fn resource_schema(
    ctx: &mut Context,
    r: &Map<String, Value>,
    label: &str,
    names: &HashMap<String, usize>,
    digest: &mut Sha256,
) -> Option<TableSchema> {
    let mut schema = TableSchema {
        missing_values: vec![String::new()],
        ..TableSchema::default()
    };
    if let Some(s) = r.get("schema") {
        let v = inline_or_file(ctx, "schema", "schema-error", s, digest)?;
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
    Some(schema)
}

/// The declared size of the file, if given as a whole number (reported otherwise).
fn declared_bytes(ctx: &mut Context, r: &Map<String, Value>, label: &str) -> Option<u64> {
    match r.get("bytes") {
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
    }
}

/// The declared hash of the file, if it has a form the profiles accept (reported
/// otherwise).
fn declared_hash(ctx: &mut Context, r: &Map<String, Value>, label: &str) -> Option<String> {
    match r.get("hash") {
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
    }
}

/// `<algorithm>:<hex>` or a bare 32-digit MD5 (the profiles' pattern).
pub(super) fn hash_form_ok(h: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    match h.split_once(':') {
        Some((algorithm, digest)) => !algorithm.is_empty() && hex(digest),
        None => h.len() == 32 && hex(h),
    }
}

/// Finds the dataset file a resource path names, reporting why it cannot be used.
pub(super) fn located(ctx: &mut Context, label: &str, path: &str) -> Option<usize> {
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
