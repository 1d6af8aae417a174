use super::{Field, FieldType, Prepared, TableSchema};
use crate::standards::values;

impl Field {
    pub fn is_missing(&self, schema: &TableSchema, cell: &[u8]) -> bool {
        schema
            .missing_for(Some(self))
            .iter()
            .any(|m| m.as_bytes() == cell)
    }

    /// Checks one non-missing cell: its type, then its constraints.
    /// Returns the frictionless error code and a message.
    pub fn check_cell(&self, cell: &[u8]) -> Option<(&'static str, String)> {
        let p = &self.prepared;
        let ordered = match self.typed(cell) {
            Ok(v) => v,
            Err(expected) => {
                return Some(("type-error", format!("{} must be {expected}", self.name)));
            }
        };
        if let Some(v) = ordered {
            // NaN lies within no bounds.
            let below = |b: Option<f64>, strict: bool| {
                b.is_some_and(|m| v.is_nan() || if strict { v <= m } else { v < m })
            };
            let above = |b: Option<f64>, strict: bool| {
                b.is_some_and(|m| v.is_nan() || if strict { v >= m } else { v > m })
            };
            if below(p.minimum, false)
                || above(p.maximum, false)
                || below(p.exclusive_minimum, true)
                || above(p.exclusive_maximum, true)
            {
                return Some((
                    "constraint-error",
                    format!("{} must lie within {}", self.name, self.range_text()),
                ));
            }
        }
        let c = &self.constraints;
        if c.min_length.is_some() || c.max_length.is_some() {
            let n = self.length(cell);
            if c.min_length.is_some_and(|m| n < m) || c.max_length.is_some_and(|m| n > m) {
                return Some((
                    "constraint-error",
                    format!(
                        "{} must have between {} and {} characters",
                        self.name,
                        c.min_length.unwrap_or(0),
                        c.max_length
                            .map_or("any number of".into(), |m| m.to_string())
                    ),
                ));
            }
        }
        if let Some(re) = &p.pattern {
            if !re.is_match(&String::from_utf8_lossy(cell)) {
                return Some((
                    "constraint-error",
                    format!(
                        "{} must match the pattern {}",
                        self.name,
                        c.pattern.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        if let Some(allowed) = &p.allowed {
            let same = |a: &String| {
                a.as_bytes() == cell
                    || (ordered.is_some()
                        && self.ordered_value(a.as_bytes(), p).ok().flatten() == ordered)
            };
            if !allowed.iter().any(same) {
                return Some((
                    "constraint-error",
                    format!("{} must be one of: {}", self.name, allowed.join(", ")),
                ));
            }
        }
        None
    }

    pub(super) fn range_text(&self) -> String {
        let p = &self.prepared;
        let lo = p
            .minimum
            .map(|m| format!("[{m}"))
            .or(p.exclusive_minimum.map(|m| format!("({m}")))
            .unwrap_or_else(|| "(-∞".into());
        let hi = p
            .maximum
            .map(|m| format!("{m}]"))
            .or(p.exclusive_maximum.map(|m| format!("{m})")))
            .unwrap_or_else(|| "∞)".into());
        format!("{lo}, {hi}")
    }

    /// Length for minLength/maxLength: characters of a string, items of a list, array
    /// or object.
    pub(super) fn length(&self, cell: &[u8]) -> usize {
        match self.kind {
            FieldType::List => self.list_items(cell).count(),
            FieldType::Array | FieldType::Object => {
                match serde_json::from_slice::<serde_json::Value>(cell) {
                    Ok(serde_json::Value::Array(a)) => a.len(),
                    Ok(serde_json::Value::Object(o)) => o.len(),
                    _ => 0,
                }
            }
            _ => String::from_utf8_lossy(cell).chars().count(),
        }
    }

    pub(super) fn list_items<'c>(&self, cell: &'c [u8]) -> impl Iterator<Item = &'c [u8]> {
        let d = self
            .delimiter
            .as_deref()
            .and_then(|d| d.as_bytes().first().copied())
            .unwrap_or(b',');
        cell.split(move |b| *b == d)
    }

    /// Reads a cell as the field's type: `Ok(Some(key))` for ordered types (a number
    /// that orders the values), `Ok(None)` for others, `Err(expected)` when it is not a
    /// value of the type.
    pub(super) fn typed(&self, cell: &[u8]) -> Result<Option<f64>, String> {
        self.ordered_value(cell, &self.prepared)
    }

    pub(super) fn ordered_value(&self, cell: &[u8], p: &Prepared) -> Result<Option<f64>, String> {
        let fmt = self.format.as_deref().unwrap_or("default");
        let expect = |what: &str| Err(what.to_string());
        match self.kind {
            FieldType::Any => Ok(None),
            FieldType::String if fmt == "default" => Ok(None),
            FieldType::String => string_value(cell, fmt),
            FieldType::Number => {
                let normalised = self.number_text(cell);
                match values::parse_table_number(&normalised) {
                    Some(v) => Ok(Some(v)),
                    None => expect("a number"),
                }
            }
            FieldType::Integer => {
                let normalised = self.number_text(cell);
                match values::parse_integer(&normalised) {
                    Some(v) => Ok(Some(v as f64)),
                    None => expect("a whole number"),
                }
            }
            FieldType::Year => {
                match values::parse_integer(cell).filter(|_| cell.trim_ascii_start().len() >= 4) {
                    Some(v) => Ok(Some(v as f64)),
                    None => expect("a year (YYYY)"),
                }
            }
            FieldType::Boolean => self.boolean_value(cell),
            FieldType::Date | FieldType::Datetime | FieldType::Time => {
                temporal_value(self.kind, cell, p, fmt)
            }
            FieldType::Yearmonth => values::yearmonth(cell)
                .map(Some)
                .ok_or("a year and month (YYYY-MM)".into()),
            FieldType::Duration => values::duration(cell)
                .map(Some)
                .ok_or("an ISO 8601 duration (e.g. P1DT2H)".into()),
            FieldType::Geopoint => {
                if values::geopoint(cell, fmt) {
                    Ok(None)
                } else {
                    expect(match fmt {
                        "array" => "a point as [lon, lat]",
                        "object" => "a point as {\"lon\": .., \"lat\": ..}",
                        _ => "a point as \"lon, lat\"",
                    })
                }
            }
            FieldType::Object | FieldType::Geojson | FieldType::Array => self.json_value(cell),
            FieldType::List => {
                let item = p.list_item.as_deref();
                if self
                    .list_items(cell)
                    .all(|i| item.is_none_or(|f| f.typed(i).is_ok()))
                {
                    Ok(None)
                } else {
                    let kind = self.item_type.unwrap_or(FieldType::String);
                    expect(&format!("a list of {} values", kind.name()))
                }
            }
        }
    }

    /// A `boolean` cell: one of the field's true or false values.
    fn boolean_value(&self, cell: &[u8]) -> Result<Option<f64>, String> {
        let expect = |what: &str| Err(what.to_string());
        let text = String::from_utf8_lossy(cell);
        let is_in = |list: &Option<Vec<String>>, default: &[&str]| match list {
            Some(l) => l.iter().any(|v| *v == text),
            None => default.contains(&text.as_ref()),
        };
        if is_in(&self.true_values, &["true", "True", "TRUE", "1"])
            || is_in(&self.false_values, &["false", "False", "FALSE", "0"])
        {
            Ok(None)
        } else {
            expect("true or false")
        }
    }

    /// An `object`, `geojson` or `array` cell: JSON of that shape.
    fn json_value(&self, cell: &[u8]) -> Result<Option<f64>, String> {
        let expect = |what: &str| Err(what.to_string());
        match serde_json::from_slice::<serde_json::Value>(cell) {
            Ok(serde_json::Value::Array(_)) if self.kind == FieldType::Array => Ok(None),
            Ok(serde_json::Value::Object(o))
                if self.kind == FieldType::Object
                    || (self.kind == FieldType::Geojson && o.contains_key("type")) =>
            {
                Ok(None)
            }
            _ => expect(match self.kind {
                FieldType::Object => "a JSON object",
                FieldType::Array => "a JSON array",
                _ => "a GeoJSON object",
            }),
        }
    }

    /// The cell with `groupChar` removed, `decimalChar` made `.`, and (with
    /// `bareNumber: false`) leading and trailing non-numeric characters dropped.
    pub(super) fn number_text<'c>(&self, cell: &'c [u8]) -> std::borrow::Cow<'c, [u8]> {
        let group = self.group_char.as_deref().and_then(|g| g.bytes().next());
        let decimal = self
            .decimal_char
            .as_deref()
            .and_then(|d| d.bytes().next())
            .filter(|d| *d != b'.');
        let bare = self.bare_number.unwrap_or(true);
        if group.is_none() && decimal.is_none() && bare {
            return std::borrow::Cow::Borrowed(cell);
        }
        let mut s: &[u8] = cell;
        if !bare {
            let numeric = |b: &u8| {
                b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.') || Some(*b) == decimal
            };
            let start = s.iter().position(numeric).unwrap_or(s.len());
            let end = s
                .iter()
                .rposition(|b| b.is_ascii_digit())
                .map_or(start, |e| e + 1);
            s = if start < end { &s[start..end] } else { &[] };
        }
        std::borrow::Cow::Owned(
            s.iter()
                .filter(|b| Some(**b) != group)
                .map(|b| if Some(*b) == decimal { b'.' } else { *b })
                .collect(),
        )
    }
}

/// A `string` cell in a format other than `default`: email, uri, uuid or binary.
fn string_value(cell: &[u8], fmt: &str) -> Result<Option<f64>, String> {
    // Bytes that are not UTF-8 are an encoding-error, reported by the engine.
    let text = String::from_utf8_lossy(cell);
    let ok = match fmt {
        "email" => values::is_email(&text),
        "uri" => values::is_uri(&text),
        "uuid" => values::is_uuid(&text),
        "binary" => values::is_base64(&text),
        _ => true,
    };
    if ok {
        Ok(None)
    } else {
        Err(format!("a valid {fmt}"))
    }
}

/// A `date`, `datetime` or `time` cell, in the field's pattern or format; the key
/// orders the values.
fn temporal_value(
    kind: FieldType,
    cell: &[u8],
    p: &Prepared,
    fmt: &str,
) -> Result<Option<f64>, String> {
    match kind {
        FieldType::Date => match (&p.time_pattern, fmt) {
            (Some(pat), _) => values::date_with_pattern(cell, pat)
                .map(Some)
                .ok_or(format!("a date written {pat}")),
            (None, "any") => values::date_any(cell).map(Some).ok_or("a date".into()),
            _ => values::date_default(cell)
                .map(Some)
                .ok_or("a date (YYYY-MM-DD)".into()),
        },
        FieldType::Datetime => match (&p.time_pattern, fmt) {
            (Some(pat), _) => values::datetime_with_pattern(cell, pat)
                .map(Some)
                .ok_or(format!("a date and time written {pat}")),
            (None, "any") => values::datetime_any(cell)
                .map(Some)
                .ok_or("a date and time".into()),
            _ => values::datetime_default(cell)
                .map(Some)
                .ok_or("a date and time (YYYY-MM-DDThh:mm:ss)".into()),
        },
        // FieldType::Time
        _ => match (&p.time_pattern, fmt) {
            (Some(pat), _) => values::time_with_pattern(cell, pat)
                .map(Some)
                .ok_or(format!("a time written {pat}")),
            _ => values::time_default(cell)
                .map(Some)
                .ok_or("a time (hh:mm:ss)".into()),
        },
    }
}
