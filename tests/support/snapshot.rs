//! What snapshot tests (insta) compare: answers with what changes from run to run
//! (ids, times, DOIs, the server's address) replaced by stable markers, and the route
//! table as the source declares it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Error;

/// `value` with every string's `replacements` (e.g. the base URL, a dataset id in a
/// path) replaced, every id-like field (`id`, `*_id`) set to `"[id]"`, every timing
/// (`*_ms`, `duration`) to `"[duration]"`, every ISO 8601 time to `"[time]"`, every
/// test DOI to `"[doi]"` and the publication year (and a string that is this year) to
/// `"[year]"`.
pub fn redacted(value: &Value, replacements: &[(&str, &str)]) -> Value {
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
        .expect("a valid pattern");
    let doi = regex::Regex::new(r"10\.5072/[A-Za-z0-9.-]+").expect("a valid pattern");
    redact(value, replacements, &time, &doi, None)
}

fn redact(
    value: &Value,
    replacements: &[(&str, &str)],
    time: &regex::Regex,
    doi: &regex::Regex,
    key: Option<&str>,
) -> Value {
    let id_like = key.is_some_and(|k| k == "id" || k.ends_with("_id"));
    let timing =
        key.is_some_and(|k| k.ends_with("_ms") || k.contains("duration") || k.contains("elapsed"));
    match value {
        Value::String(_) if key == Some("request_id") => Value::String("[request id]".into()),
        Value::Number(_) if id_like => Value::String("[id]".into()),
        Value::Number(_) if timing => Value::String("[duration]".into()),
        Value::Number(_)
            if key.is_some_and(|k| k == "publicationYear" || k == "publication_year") =>
        {
            Value::String("[year]".into())
        }
        // A facet value that is this year.
        Value::String(s) if *s == chrono::Utc::now().format("%Y").to_string() => {
            Value::String("[year]".into())
        }
        Value::String(s) => {
            let mut s = s.clone();
            for (from, to) in replacements {
                s = s.replace(from, to);
            }
            let s = time.replace_all(&s, "[time]");
            Value::String(doi.replace_all(&s, "[doi]").into_owned())
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| redact(v, replacements, time, doi, None))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact(v, replacements, time, doi, Some(k))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every route of the server as `METHOD /path`, sorted, read from the route table in
/// src/web/routes.rs (following `web::scope` prefixes and `.configure(…)` calls into
/// other files). A declaration the reader does not understand is an error, so the
/// table cannot silently lose routes.
pub fn route_table() -> Result<Vec<String>, Error> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut routes = Vec::new();
    read_configure(&src.join("web/routes.rs"), "", &src, &mut routes)?;
    if routes.is_empty() {
        return Err("no route found in src/web/routes.rs".into());
    }
    routes.sort();
    routes.dedup();
    Ok(routes)
}

/// The text of `pub fn configure(` in `file`, up to its closing brace.
fn configure_body(file: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let start = text
        .find("pub fn configure(")
        .ok_or_else(|| format!("no `pub fn configure(` in {}", file.display()))?;
    let body = &text[start..];
    let open = body.find('{').ok_or("configure has no body")?;
    let mut depth = 0;
    for (i, c) in body[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(body[open..open + i].to_string());
                }
            }
            _ => {}
        }
    }
    Err(format!("configure in {} does not end", file.display()).into())
}

/// The file a `.configure(path::configure)` call names, relative to `src/web`.
fn module_file(path: &str, src: &Path) -> Result<PathBuf, Error> {
    let mut parts: Vec<&str> = path.split("::").collect();
    parts.pop(); // the function
    let mut dir = src.join("web");
    for (i, part) in parts.iter().enumerate() {
        match *part {
            "super" if i == 0 => dir = src.to_path_buf().join("web"),
            "crate" if i == 0 => dir = src.to_path_buf(),
            "self" => {}
            name => dir = dir.join(name),
        }
    }
    for candidate in [dir.with_extension("rs"), dir.join("mod.rs")] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!("cannot find the module of `{path}`").into())
}

fn read_configure(
    file: &Path,
    prefix: &str,
    src: &Path,
    out: &mut Vec<String>,
) -> Result<(), Error> {
    let body: String = configure_body(file)?
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    if body.contains("web::resource(") {
        return Err(format!(
            "{}: web::resource is not read by the route table",
            file.display()
        )
        .into());
    }
    let token = regex::Regex::new(
        r#"web::scope\(\s*"([^"]*)"|\.route\(\s*"([^"]*)"\s*,\s*web::(?:method\(\s*Method::(\w+)\s*\)|(\w+)\(\s*\))|\.configure\(\s*([\w:]+)\s*\)|[()]"#,
    )?;
    // (prefix, depth at which its `.service(` closes)
    let mut scopes: Vec<(String, i32)> = vec![(prefix.to_string(), i32::MIN)];
    let mut depth = 0;
    for c in token.captures_iter(&body) {
        let whole = c.get(0).map(|m| m.as_str()).unwrap_or_default();
        let current = scopes.last().map(|s| s.0.clone()).unwrap_or_default();
        if whole == "(" {
            depth += 1;
        } else if whole == ")" {
            depth -= 1;
            while scopes.len() > 1 && scopes.last().is_some_and(|s| depth < s.1) {
                scopes.pop();
            }
        } else if let Some(scope) = c.get(1) {
            // Inside `.service(`: the scope lasts until that call closes.
            scopes.push((format!("{current}{}", scope.as_str()), depth));
            depth += 1;
        } else if let Some(path) = c.get(2) {
            let method = c
                .get(3)
                .or(c.get(4))
                .map(|m| m.as_str().to_ascii_uppercase())
                .ok_or("a route without a method")?;
            out.push(format!("{method} {current}{}", path.as_str()));
            // The match holds `.route(` open (its method's parentheses are closed).
            depth += 1;
        } else if let Some(module) = c.get(5) {
            // The match holds both parentheses of `.configure(…)`.
            let file = module_file(module.as_str(), src)?;
            read_configure(&file, &current, src, out)?;
        }
    }
    Ok(())
}
