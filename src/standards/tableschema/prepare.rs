use super::{Field, FieldType, Literal, Prepared};
use regex::Regex;

impl Field {
    pub(super) fn prepare(&mut self) -> Result<(), String> {
        let c = &self.constraints;
        let mut p = Prepared {
            time_pattern: self.time_pattern()?,
            ..Prepared::default()
        };
        if let Some(pattern) = &c.pattern {
            // Table Schema patterns are XML Schema regexes: they match the whole value.
            p.pattern = Some(
                Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("pattern {pattern:?} is not a valid regex: {e}"))?,
            );
        }
        p.minimum = self.bound(&c.minimum, "minimum", &p)?;
        p.maximum = self.bound(&c.maximum, "maximum", &p)?;
        p.exclusive_minimum = self.bound(&c.exclusive_minimum, "exclusiveMinimum", &p)?;
        p.exclusive_maximum = self.bound(&c.exclusive_maximum, "exclusiveMaximum", &p)?;
        if let (Some(lo), Some(hi)) = (p.minimum, p.maximum) {
            if lo > hi {
                return Err(format!("minimum {lo} is above maximum {hi}"));
            }
        }
        p.allowed = self.allowed_values();
        p.list_item = self.list_item()?;
        self.prepared = p;
        Ok(())
    }

    /// Checks the field's `format` for its type; returns the %-pattern of a date or
    /// time field that gives one.
    fn time_pattern(&self) -> Result<Option<String>, String> {
        let format = self.format.as_deref().unwrap_or("default");
        match self.kind {
            FieldType::Date | FieldType::Time | FieldType::Datetime
                if !matches!(format, "default" | "any") =>
            {
                // v1 wrote patterns as `fmt:%Y-%m-%d`.
                let pattern = format.strip_prefix("fmt:").unwrap_or(format);
                if !pattern.contains('%') {
                    return Err(format!(
                        "format {format:?} is not default, any or a %-pattern"
                    ));
                }
                return Ok(Some(pattern.to_string()));
            }
            FieldType::String
                if !matches!(format, "default" | "email" | "uri" | "binary" | "uuid") =>
            {
                return Err(format!(
                    "string format {format:?} is not one of default, email, uri, binary, uuid"
                ));
            }
            FieldType::Geopoint if !matches!(format, "default" | "array" | "object") => {
                return Err(format!(
                    "geopoint format {format:?} is not default, array or object"
                ));
            }
            _ => {}
        }
        Ok(None)
    }

    /// A bound (`minimum`, `maximum`, ...) as the ordering key of the field's type.
    fn bound(
        &self,
        given: &Option<Literal>,
        what: &str,
        p: &Prepared,
    ) -> Result<Option<f64>, String> {
        let Some(literal) = given else {
            return Ok(None);
        };
        if !self.kind.ordered() {
            return Err(format!(
                "{what} does not apply to {} fields",
                self.kind.name()
            ));
        }
        let parsed = match literal {
            Literal::Number(n) => Some(*n),
            Literal::Text(t) => self.ordered_value(t.as_bytes(), p).ok().flatten(),
            Literal::Bool(_) => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| format!("{what} is not a valid {} value", self.kind.name()))
    }

    /// The values `enum` allows, or else the field's categories.
    fn allowed_values(&self) -> Option<Vec<String>> {
        let mut allowed: Option<Vec<String>> = self
            .constraints
            .one_of
            .as_ref()
            .map(|v| v.iter().map(literal_text).collect());
        if let Some(categories) = &self.categories {
            let values: Vec<String> = categories
                .iter()
                .map(|c| match c {
                    serde_json::Value::Object(o) => {
                        o.get("value").map(json_text).unwrap_or_default()
                    }
                    other => json_text(other),
                })
                .collect();
            allowed.get_or_insert(values);
        }
        allowed
    }

    /// The prepared field each item of a `list` field is read as.
    fn list_item(&self) -> Result<Option<Box<Field>>, String> {
        if self.kind != FieldType::List {
            return Ok(None);
        }
        let kind = self.item_type.unwrap_or(FieldType::String);
        if !matches!(
            kind,
            FieldType::String
                | FieldType::Integer
                | FieldType::Boolean
                | FieldType::Number
                | FieldType::Datetime
                | FieldType::Date
                | FieldType::Time
        ) {
            return Err(format!("a list's itemType cannot be {}", kind.name()));
        }
        let mut item: Field = serde_json::from_value(serde_json::json!({
            "name": self.name,
            "type": kind.name(),
        }))
        .map_err(|e| e.to_string())?;
        item.prepare()?;
        Ok(Some(Box::new(item)))
    }
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Number(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Text(t) => t.clone(),
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
