use super::*;

fn field(json: &str) -> Field {
    let mut schema: TableSchema =
        serde_json::from_str(&format!(r#"{{"fields": [{json}]}}"#)).expect("schema parses");
    let problems = schema.prepare();
    assert!(problems.is_empty(), "{problems:?}");
    schema.fields.remove(0)
}

fn code(f: &Field, cell: &str) -> Option<&'static str> {
    f.check_cell(cell.as_bytes()).map(|(c, _)| c)
}

#[test]
fn types_follow_table_schema() {
    let n = field(r#"{"name": "n", "type": "number"}"#);
    assert_eq!(code(&n, "1.5e3"), None);
    assert_eq!(code(&n, "NaN"), None);
    assert_eq!(code(&n, "-INF"), None);
    assert_eq!(code(&n, "x"), Some("type-error"));
    let eu = field(r#"{"name": "n", "type": "number", "decimalChar": ",", "groupChar": "."}"#);
    assert_eq!(code(&eu, "1.234,5"), None);
    let pct = field(r#"{"name": "n", "type": "number", "bareNumber": false}"#);
    assert_eq!(code(&pct, "95%"), None);
    assert_eq!(code(&pct, "€ 12.5"), None);
    let b =
        field(r#"{"name": "b", "type": "boolean", "trueValues": ["yes"], "falseValues": ["no"]}"#);
    assert_eq!(code(&b, "yes"), None);
    assert_eq!(code(&b, "true"), Some("type-error"));
    let d = field(r#"{"name": "d", "type": "date"}"#);
    assert_eq!(code(&d, "2024-02-29"), None);
    assert_eq!(code(&d, "2023-02-29"), Some("type-error"));
    assert_eq!(code(&d, "2024-02"), Some("type-error"));
    let dp = field(r#"{"name": "d", "type": "date", "format": "%d/%m/%Y"}"#);
    assert_eq!(code(&dp, "31/12/2020"), None);
    assert_eq!(code(&dp, "2020-12-31"), Some("type-error"));
    let dt = field(r#"{"name": "t", "type": "datetime"}"#);
    assert_eq!(code(&dt, "2024-01-26T15:00:00Z"), None);
    assert_eq!(code(&dt, "2024-01-26T15:00:00.5+02:00"), None);
    assert_eq!(code(&dt, "2024-01-26 15:00:00"), Some("type-error"));
    let t = field(r#"{"name": "t", "type": "time"}"#);
    assert_eq!(code(&t, "23:59:59"), None);
    assert_eq!(code(&t, "24:00:01"), Some("type-error"));
    let ym = field(r#"{"name": "m", "type": "yearmonth"}"#);
    assert_eq!(code(&ym, "2020-13"), Some("type-error"));
    let du = field(r#"{"name": "p", "type": "duration"}"#);
    assert_eq!(code(&du, "P1Y2M3DT4H5M6S"), None);
    assert_eq!(code(&du, "1 day"), Some("type-error"));
    let g = field(r#"{"name": "g", "type": "geopoint"}"#);
    assert_eq!(code(&g, "-122.25, 37.87"), None);
    assert_eq!(code(&g, "200, 37"), Some("type-error"));
    let l = field(r#"{"name": "l", "type": "list", "itemType": "integer", "delimiter": ";"}"#);
    assert_eq!(code(&l, "1;2;3"), None);
    assert_eq!(code(&l, "1;x"), Some("type-error"));
    let o = field(r#"{"name": "o", "type": "object"}"#);
    assert_eq!(code(&o, r#"{"a": 1}"#), None);
    assert_eq!(code(&o, "[1]"), Some("type-error"));
    let e = field(r#"{"name": "e", "type": "string", "format": "email"}"#);
    assert_eq!(code(&e, "a@b.org"), None);
    assert_eq!(code(&e, "not mail"), Some("type-error"));
    let u = field(r#"{"name": "u", "type": "string", "format": "uuid"}"#);
    assert_eq!(code(&u, "123e4567-e89b-12d3-a456-426614174000"), None);
    assert_eq!(code(&u, "123e4567"), Some("type-error"));
}

#[test]
fn constraints_apply_to_typed_values() {
    let lat = field(
        r#"{"name": "lat", "type": "number", "constraints": {"minimum": -90, "maximum": 90}}"#,
    );
    assert_eq!(code(&lat, "37.8"), None);
    assert_eq!(code(&lat, "90.5"), Some("constraint-error"));
    assert_eq!(code(&lat, "NaN"), Some("constraint-error"));
    let ex = field(r#"{"name": "x", "type": "integer", "constraints": {"exclusiveMinimum": 0}}"#);
    assert_eq!(code(&ex, "0"), Some("constraint-error"));
    assert_eq!(code(&ex, "1"), None);
    let d = field(r#"{"name": "d", "type": "date", "constraints": {"minimum": "2000-01-01"}}"#);
    assert_eq!(code(&d, "1999-12-31"), Some("constraint-error"));
    assert_eq!(code(&d, "2000-01-01"), None);
    let p =
        field(r#"{"name": "id", "type": "string", "constraints": {"pattern": "[A-Z]{2}-[0-9]+"}}"#);
    assert_eq!(code(&p, "AC-423"), None);
    assert_eq!(
        code(&p, "xAC-423"),
        Some("constraint-error"),
        "patterns match the whole value"
    );
    let en = field(r#"{"name": "k", "type": "integer", "constraints": {"enum": [1, 2]}}"#);
    assert_eq!(code(&en, "2"), None);
    assert_eq!(code(&en, "3"), Some("constraint-error"));
    let cat = field(
        r#"{"name": "c", "type": "string", "categories": [{"value": "a", "label": "A"}, "b"]}"#,
    );
    assert_eq!(code(&cat, "b"), None);
    assert_eq!(code(&cat, "c"), Some("constraint-error"));
    let len = field(
        r#"{"name": "s", "type": "string", "constraints": {"minLength": 2, "maxLength": 3}}"#,
    );
    assert_eq!(code(&len, "a"), Some("constraint-error"));
    assert_eq!(code(&len, "abc"), None);
}

#[test]
fn schema_problems_are_named() {
    let mut s: TableSchema = serde_json::from_str(
        r#"{"fields": [{"name": "a"}, {"name": "a"}, {"name": "b", "type": "string", "constraints": {"minimum": 1}}],
            "primaryKey": "c",
            "foreignKeys": [{"fields": ["a"], "reference": {"resource": "", "fields": ["a", "b"]}}]}"#,
    )
    .expect("parses");
    let problems = s.prepare().join("\n");
    assert_eq!(s.repeated_names(), vec!["a"]);
    assert!(problems.contains("primaryKey names \"c\""), "{problems}");
    assert!(problems.contains("reference has 2"), "{problems}");
    assert!(
        problems.contains("minimum does not apply to string"),
        "{problems}"
    );
    let bad = serde_json::from_str::<TableSchema>(
        r#"{"fields": [{"name": "x", "constraints": {"bogus": 1}}]}"#,
    );
    assert!(bad.is_err());
    let v1 = serde_json::from_str::<TableSchema>(
        r#"{"fields": [], "missingValues": ["", {"value": "-9999", "label": "missing"}]}"#,
    )
    .expect("v2 missingValues objects");
    assert_eq!(v1.missing_values, vec!["".to_string(), "-9999".to_string()]);
}
