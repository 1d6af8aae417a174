use super::{level, ForeignCheck, TableChecker, Target, UniqueSet};
use crate::standards::findings::{Collector, Issue, Severity};
use crate::standards::tableschema::{key_hash, MAX_KEYS};
use csv::ByteRecord;
use std::collections::HashSet;

impl TableChecker<'_> {
    pub(super) fn prepare_keys(&mut self) {
        let schema = &self.standard.schema;
        let mut sets = Vec::new();
        if let Some(columns) = self
            .columns_of(&schema.primary_key)
            .filter(|c| !c.is_empty())
        {
            sets.push(UniqueSet::new(columns, true, schema.primary_key.join(", ")));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(f) = f.filter(|f| f.constraints.unique) {
                sets.push(UniqueSet::new(vec![i], false, f.name.clone()));
            }
        }
        for keys in &schema.unique_keys {
            if let Some(columns) = self.columns_of(keys) {
                sets.push(UniqueSet::new(columns, false, keys.join(", ")));
            }
        }
        self.unique = sets;
        let mut foreign = Vec::new();
        for (i, key) in schema.foreign_keys.iter().enumerate() {
            // Referring columns absent from the header: missing-label already says so.
            let Some(columns) = self.columns_of(&key.fields) else {
                continue;
            };
            let target = if key.is_self_reference() {
                match self.columns_of(&key.reference.fields) {
                    Some(columns) => Target::SameTable {
                        columns,
                        keys: HashSet::new(),
                        pending: Vec::new(),
                        overflow: false,
                    },
                    None => continue,
                }
            } else {
                match schema.referenced_keys.get(i).cloned().flatten() {
                    Some(set) => Target::Other(set),
                    None => Target::Unavailable,
                }
            };
            foreign.push(ForeignCheck {
                key,
                columns,
                target,
                severity: key.level.map_or(Severity::Error, level),
            });
        }
        self.foreign = foreign;
    }

    pub(super) fn key_of(&self, record: &ByteRecord, columns: &[usize]) -> Option<u64> {
        key_hash(columns.iter().map(|&c| self.cell(record, c)), |i, cell| {
            self.is_missing(columns[i], cell)
        })
    }

    pub(super) fn key_text(&self, record: &ByteRecord, columns: &[usize]) -> String {
        columns
            .iter()
            .map(|&c| String::from_utf8_lossy(self.cell(record, c)).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(super) fn check_keys(&mut self, row: u64, record: &ByteRecord, out: &mut Collector) {
        for u in 0..self.unique.len() {
            if self.unique[u].full {
                continue;
            }
            // Nulls are not compared (Table Schema uniqueKeys; a null primary key is a
            // constraint-error already).
            let Some(hash) = self.key_of(record, &self.unique[u].columns) else {
                continue;
            };
            let set = &mut self.unique[u];
            if !set.seen.insert(hash) {
                let (code, message) = if set.primary {
                    (
                        "primary-key",
                        format!("{} must be unique; this value appears earlier", set.label),
                    )
                } else {
                    (
                        "unique-error",
                        format!("{} must be unique; this value appears earlier", set.label),
                    )
                };
                let value = self.key_text(record, &self.unique[u].columns);
                if out.has_room(code) {
                    out.push(
                        Issue::new(code, Severity::Error, message)
                            .row(row)
                            .value(value.as_bytes()),
                    );
                } else {
                    out.count_suppressed(code, Severity::Error);
                }
            }
            let set = &mut self.unique[u];
            set.full = set.seen.len() >= MAX_KEYS;
        }
        for f in 0..self.foreign.len() {
            let referring = self.key_of(record, &self.foreign[f].columns);
            if let Target::SameTable { columns, .. } = &self.foreign[f].target {
                let defined = self.key_of(record, columns);
                if let (Some(h), Target::SameTable { keys, overflow, .. }) =
                    (defined, &mut self.foreign[f].target)
                {
                    if keys.len() < MAX_KEYS {
                        keys.insert(h);
                    } else {
                        *overflow = true;
                    }
                }
            }
            let Some(hash) = referring else { continue };
            match &self.foreign[f].target {
                Target::SameTable { keys, .. } if keys.contains(&hash) => {}
                Target::SameTable { .. } => {
                    // Resolved at the end: the key may be defined further down.
                    let value: String = self
                        .key_text(record, &self.foreign[f].columns)
                        .chars()
                        .take(200)
                        .collect();
                    if let Target::SameTable {
                        pending, overflow, ..
                    } = &mut self.foreign[f].target
                    {
                        if pending.len() < MAX_KEYS {
                            pending.push((hash, row, value));
                        } else {
                            *overflow = true;
                        }
                    }
                }
                Target::Other(set) => {
                    if set.complete && !set.hashes.contains(&hash) {
                        let value = self.key_text(record, &self.foreign[f].columns);
                        push_foreign(out, &self.foreign[f], row, &value);
                    }
                }
                Target::Unavailable => {}
            }
        }
    }
}

impl UniqueSet {
    pub(super) fn new(columns: Vec<usize>, primary: bool, label: String) -> UniqueSet {
        UniqueSet {
            columns,
            primary,
            seen: HashSet::new(),
            full: false,
            label,
        }
    }
}

pub(super) fn push_foreign(out: &mut Collector, fk: &ForeignCheck, row: u64, value: &str) {
    if !out.has_room("foreign-key") {
        out.count_suppressed("foreign-key", fk.severity);
        return;
    }
    let target = match fk.key.reference.resource.as_deref() {
        Some(r) if !r.is_empty() => format!("resource {r:?}"),
        _ => "this table".to_string(),
    };
    out.push(
        Issue::new(
            "foreign-key",
            fk.severity,
            format!(
                "{} must name a row of {target} ({}); no such row",
                fk.key.fields.join(", "),
                fk.key.reference.fields.join(", ")
            ),
        )
        .row(row)
        .column(fk.key.fields.join(", "))
        .value(value.as_bytes()),
    );
}
