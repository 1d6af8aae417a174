use super::{fmt, Q_FILENAME};
use crate::standards::findings::{AmfLevel, Collector};
use crate::standards::spec::Ameriflux;
use crate::standards::values::{self};

/// What the file name says, after the format QA/QC's `file_name_verifier`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileNameParts {
    pub resolution: Option<i64>,
    pub start: Option<String>,
    pub end: Option<String>,
}

/// Checks `<SITE>_<HH|HR>_<YYYYMMDDHHMM>_<YYYYMMDDHHMM>[_<optional>].csv`.
pub fn check_file_name(rules: &Ameriflux, name: &str, out: &mut Collector) -> FileNameParts {
    let mut parts = FileNameParts::default();
    let mut problem = |level: AmfLevel, what: String| {
        out.push(
            fmt(
                "filename-format",
                level,
                Q_FILENAME,
                format!("file name: {what}"),
            )
            .value(name.as_bytes()),
        );
    };
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    if !ext.eq_ignore_ascii_case("csv") {
        problem(AmfLevel::Error, "extension must be .csv".into());
    }
    // The upload system appends `-<YYYYMMDDHHMM>`; it is not part of the name proper.
    let stem = match stem.rsplit_once('-') {
        Some((head, tail)) if tail.len() == 12 && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => stem,
    };
    if stem.ends_with('_') {
        problem(AmfLevel::Error, "ends with `_`".into());
    }
    let fields: Vec<&str> = stem.split('_').collect();
    if !(4..=5).contains(&fields.len()) {
        problem(
            AmfLevel::Warning,
            format!(
                "{} `_`-separated components instead of 4 (or 5 with an optional part); site, resolution and times cannot be read",
                fields.len()
            ),
        );
        return parts;
    }
    if fields.len() == 5 {
        problem(
            AmfLevel::Warning,
            format!(
                "optional component {:?} included (AmeriFlux removes it)",
                fields[4]
            ),
        );
    }
    if let Some((level, what)) = site_problem(rules, fields[0]) {
        problem(level, what);
    }
    match rules.resolutions.get(fields[1]) {
        Some(minutes) => parts.resolution = Some(*minutes),
        None => problem(
            AmfLevel::Error,
            format!(
                "resolution {:?} is not one of {}",
                fields[1],
                rules
                    .resolutions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
    for (label, text) in [("ts-start", fields[2]), ("ts-end", fields[3])] {
        if let Some((level, what)) = timestamp_problem(label, text) {
            problem(level, what);
        }
    }
    parts.start = Some(fields[2].to_string());
    parts.end = Some(fields[3].to_string());
    parts
}

/// What is wrong with the site id of a file name: not well formed, or (a warning) not
/// on the known-site list.
fn site_problem(rules: &Ameriflux, site: &str) -> Option<(AmfLevel, String)> {
    if rules.site_ids.iter().any(|s| s == site) {
        None
    } else if rules.site_id_pattern.is_match(site) {
        // DECISIONS.md 9: a well-formed id not on the list passes with a warning.
        Some((
            AmfLevel::Warning,
            format!("site id {site:?} is not on the known-site list"),
        ))
    } else {
        Some((
            AmfLevel::Error,
            format!("SITE_ID {site:?} is not a valid AmeriFlux site id"),
        ))
    }
}

/// What is wrong with a start or end time of a file name.
fn timestamp_problem(label: &str, text: &str) -> Option<(AmfLevel, String)> {
    if text.len() != 12 {
        Some((
            AmfLevel::Warning,
            format!("{label} {text:?} is not 12 characters (YYYYMMDDHHMM)"),
        ))
    } else if values::amf_timestamp(text.as_bytes()).is_err() {
        Some((
            AmfLevel::Error,
            format!("{label} {text:?} is not a valid date and time"),
        ))
    } else {
        None
    }
}

/// A variable name split after the FP-Standard: base name and whether `_F` is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarName {
    pub base: String,
    pub gap_filled: bool,
    /// The name without the `_F` qualifier (the non-filled counterpart).
    pub unfilled: String,
}

/// Parses a label against the accepted patterns (`VAR`, `VAR_F`, `VAR[_F]_H_V_R`,
/// `VAR[_F]_H_V_A[_SD|_N]`, `VAR[_F]_L[_SD|_N]`); `None` when it is not FP-Standard.
pub fn parse_var(label: &str, rules: &Ameriflux) -> Option<VarName> {
    let tokens: Vec<&str> = label.split('_').collect();
    // Longest known base first: `FETCH_70_1_1_1` is FETCH_70, not FETCH.
    for cut in (1..=tokens.len()).rev() {
        let base = tokens[..cut].join("_");
        if base == rules.timestamp_start || base == rules.timestamp_end {
            continue;
        }
        if !rules.variables.contains_key(&base) {
            continue;
        }
        let mut rest = &tokens[cut..];
        let gap_filled = rest.first() == Some(&"F");
        if gap_filled {
            rest = &rest[1..];
        }
        let num = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let ok = match rest {
            [] => true,
            [h, v, r] => num(h) && num(v) && (num(r) || *r == "A"),
            [h, v, "A", "SD" | "N"] => num(h) && num(v),
            [l] => num(l),
            [l, "SD" | "N"] => num(l),
            _ => false,
        };
        if ok {
            let unfilled = if gap_filled {
                std::iter::once(base.as_str())
                    .chain(rest.iter().copied())
                    .collect::<Vec<_>>()
                    .join("_")
            } else {
                label.to_string()
            };
            return Some(VarName {
                base,
                gap_filled,
                unfilled,
            });
        }
    }
    None
}
