//! Keys a file defines and uses (sample names, IGSNs, location, method and chamber ids,
//! terms), kept in its report so the rules between files work from stored reports, and
//! the check that every key a file uses is defined somewhere in the dataset (or, for an
//! IGSN, is a related identifier of the dataset's metadata).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

use super::engine::FileReport;
use super::findings::{Finding, Issue, Severity};

/// Keys one list keeps before it stops collecting (memory stays bounded); a list that
/// reached it is marked `truncated` and its missing definitions are not reported.
pub const MAX_KEYS_PER_LIST: usize = 50_000;

/// What one file defines and uses, by kind of key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct References {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defines: Vec<KeyList>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<KeyList>,
}

impl References {
    pub fn is_empty(&self) -> bool {
        self.defines.is_empty() && self.uses.is_empty()
    }
}

/// The keys of one kind found in one column (or header row) of a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyList {
    /// `sample`, `igsn`, `location`, `method`, `term`, `chamber`, … (a standard names it).
    pub kind: String,
    /// Where the keys were read: a column label, or a header row's name.
    pub column: String,
    /// The standard whose rule collected them.
    pub standard: String,
    /// How serious a used key that no file defines is.
    #[serde(default = "error")]
    pub level: Severity,
    /// How serious it is when no file of the dataset defines keys of this kind at all
    /// (`None`: the same as `level`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<Severity>,
    pub keys: Vec<Key>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

fn error() -> Severity {
    Severity::Error
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One key, the first row it was seen on, and values of the same row a rule asked for
/// (a sample's material, its IGSN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Key {
    pub value: String,
    pub row: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

/// Collects the keys of one list without repeating a value.
#[derive(Debug)]
pub struct KeyCollector {
    pub list: KeyList,
    seen: HashSet<String>,
}

impl KeyCollector {
    pub fn new(kind: &str, column: &str, standard: &str, level: Severity) -> KeyCollector {
        KeyCollector {
            list: KeyList {
                kind: kind.to_string(),
                column: column.to_string(),
                standard: standard.to_string(),
                level,
                absent: None,
                keys: Vec::new(),
                truncated: false,
            },
            seen: HashSet::new(),
        }
    }

    pub fn add(&mut self, value: &str, row: u64, attrs: BTreeMap<String, String>) {
        if self.list.truncated || self.seen.contains(value) {
            return;
        }
        if self.list.keys.len() >= MAX_KEYS_PER_LIST {
            self.list.truncated = true;
            return;
        }
        self.seen.insert(value.to_string());
        self.list.keys.push(Key {
            value: value.to_string(),
            row,
            attrs,
        });
    }
}

/// Keys are compared without regard to case or surrounding space (depositors type the
/// same sample name as `RV_1` and `rv_1`; IGSNs are upper case by rule).
pub fn normal(key: &str) -> String {
    key.trim().to_lowercase()
}

/// Every used key must be defined by some file of the dataset; an `igsn` (or a sample
/// used with its IGSN) may instead be a related identifier of the dataset.
pub fn check(reports: &[FileReport], linked_igsns: &[String]) -> Vec<Finding> {
    let mut defined: HashMap<&str, HashMap<String, &Key>> = HashMap::new();
    let mut definers: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in reports {
        for list in &r.references.defines {
            let keys = defined.entry(list.kind.as_str()).or_default();
            for k in &list.keys {
                keys.entry(normal(&k.value)).or_insert(k);
            }
            let files = definers.entry(list.kind.as_str()).or_default();
            if !files.contains(&r.path.as_str()) {
                files.push(r.path.as_str());
            }
        }
    }
    let linked: HashSet<String> = linked_igsns
        .iter()
        .map(|i| normal(&super::rules::canonical_igsn(i).unwrap_or_else(|| i.clone())))
        .collect();
    let mut out = Vec::new();
    for r in reports {
        for list in &r.references.uses {
            let kind = list.kind.as_str();
            let keys = defined.get(kind);
            if list.truncated && keys.is_some() {
                continue;
            }
            for k in &list.keys {
                let key = normal(&k.value);
                let by_igsn = |i: &String| {
                    let i = normal(i);
                    linked.contains(&i) || defined.get("igsn").is_some_and(|d| d.contains_key(&i))
                };
                if keys.is_some_and(|d| d.contains_key(&key))
                    || (kind == "igsn" && linked.contains(&key))
                    || k.attrs.get("igsn").is_some_and(by_igsn)
                {
                    if let (Some(def), Some(material)) =
                        (keys.and_then(|d| d.get(&key)), k.attrs.get("material"))
                    {
                        mismatch(r, list, k, def, material, &mut out);
                    }
                    continue;
                }
                out.push(undefined(r, list, k, definers.get(kind)));
            }
        }
    }
    out
}

fn undefined(r: &FileReport, list: &KeyList, k: &Key, definers: Option<&Vec<&str>>) -> Finding {
    let kind = list.kind.as_str();
    let (severity, message) = match definers {
        Some(files) => (
            list.level,
            format!(
                "{kind} {:?} is not defined in {}; add it there{}",
                k.value,
                files.join(", "),
                if kind == "igsn" || kind == "sample" {
                    " or link the sample's IGSN to the dataset (related identifier of type IGSN)"
                } else {
                    ""
                }
            ),
        ),
        None => (
            list.absent.unwrap_or(list.level),
            format!(
                "{kind} {:?} is used but no file of the dataset defines {kind}s; {}",
                k.value,
                what_defines(kind)
            ),
        ),
    };
    Issue::new(format!("undefined-{kind}"), severity, message)
        .row(k.row)
        .column(list.column.clone())
        .value(k.value.as_bytes())
        .found_in(r.path.clone(), list.standard.clone())
}

fn what_defines(kind: &str) -> &'static str {
    match kind {
        "sample" | "igsn" => {
            "add a sample metadata file (essdive-sample) or link the IGSNs to the dataset"
        }
        "location" => "add a location metadata file (essdive-location)",
        "method" => "add a methods file (*_methods.csv)",
        "term" => "define it in a terminology file (*_terminology.csv) or the data dictionary",
        "installation-method" => "add an installation methods file (InstallationMethods.csv)",
        "chamber" => "add a chamber metadata file",
        _ => "add the file that defines them",
    }
}

/// A sample used with another material than its description gives (WSSC: "the exact
/// same values as recorded in the Sample Metadata file").
fn mismatch(
    r: &FileReport,
    list: &KeyList,
    used: &Key,
    defined: &Key,
    material: &str,
    out: &mut Vec<Finding>,
) {
    let Some(described) = defined.attrs.get("material") else {
        return;
    };
    if normal(described) == normal(material) {
        return;
    }
    out.push(
        Issue::new(
            "sample-material-mismatch",
            Severity::Warning,
            format!(
                "sample {:?} has material {material:?} here but {described:?} in its sample metadata; use the same value",
                used.value
            ),
        )
        .row(used.row)
        .column(list.column.clone())
        .value(material.as_bytes())
        .found_in(r.path.clone(), list.standard.clone()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(path: &str, refs: References) -> FileReport {
        let mut r = FileReport::empty(path, vec![], 0);
        r.references = refs;
        r
    }

    fn list(kind: &str, values: &[&str]) -> KeyList {
        let mut c = KeyCollector::new(kind, "col", "std", Severity::Error);
        for (i, v) in values.iter().enumerate() {
            c.add(v, i as u64 + 2, BTreeMap::new());
        }
        c.list
    }

    #[test]
    fn used_keys_need_a_definition_without_regard_to_case() {
        let samples = report(
            "s.csv",
            References {
                defines: vec![list("sample", &["RV_1", "RV_2"])],
                uses: vec![],
            },
        );
        let data = report(
            "d.csv",
            References {
                defines: vec![],
                uses: vec![list("sample", &["rv_1", "RV_3"]), list("location", &["L1"])],
            },
        );
        let found = check(&[samples, data], &[]);
        let codes: Vec<(&str, Option<&str>)> = found
            .iter()
            .map(|f| (f.code.as_ref(), f.value.as_deref()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("undefined-sample", Some("RV_3")),
                ("undefined-location", Some("L1"))
            ]
        );
        assert!(found[1].message.contains("no file of the dataset defines"));
    }

    #[test]
    fn a_linked_igsn_describes_a_sample() {
        let data = report(
            "d.csv",
            References {
                defines: vec![],
                uses: vec![list("igsn", &["IEWER7214", "IEWER7215"])],
            },
        );
        let found = check(&[data], &["IGSN:IEWER7214".into()]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].value.as_deref(), Some("IEWER7215"));
    }
}
