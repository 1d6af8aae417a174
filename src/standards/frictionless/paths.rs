use super::Context;
use crate::standards::dataset::DatasetFile;
use crate::standards::findings::Severity;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;

/// The folder of a dataset path, with a trailing `/` ("" at the top).
pub(super) fn folder_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    }
}

/// Why a path in a descriptor may not be followed, if it may not.
pub(super) fn unsafe_path(path: &str) -> Option<&'static str> {
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
pub(super) fn resolve(folder: &str, path: &str) -> String {
    let joined = format!("{folder}{}", path.trim_start_matches("./"));
    joined
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads a small JSON file of the dataset (a descriptor or a schema), refusing big ones.
pub(super) fn read_json(file: &DatasetFile, max: u64) -> Result<(Vec<u8>, Value), String> {
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
pub(super) fn inline_or_file(
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
