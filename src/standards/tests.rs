//! Engine tests: the AmeriFlux conformance suite file by file, and small CSVs.

use super::*;
use std::io::Write;

const CONFORMANCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/ameriflux/conformance"
);

fn registry() -> Registry {
    Registry::embedded().expect("shipped standards load")
}

/// Every upload of the AmeriFlux format QA/QC suite gets the overall status the
/// reference implementation gives it (expected_results.csv, column overall_status).
#[test]
fn ameriflux_conformance_agrees_file_by_file() {
    let registry = registry();
    let amf = registry.get("ameriflux-base").expect("ameriflux-base");
    let expected_path = format!("{CONFORMANCE}/expected_results.csv");
    let mut reader = csv::Reader::from_path(&expected_path).expect("expected_results.csv");
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (file_col, status_col, checks_col) =
        (col("filename"), col("overall_status"), col("checks"));
    let mut total = 0;
    let mut mismatches = Vec::new();
    for row in reader.records() {
        let row = row.expect("row");
        let file = &row[file_col];
        let expected = &row[status_col];
        let path = std::path::Path::new(CONFORMANCE).join(file);
        let report = validate_file(&path, file, &[amf]).expect("validates");
        let got = report.ameriflux_status.expect("AmeriFlux status").as_str();
        total += 1;
        if got != expected {
            let ours = ameriflux::levels_by_check(&report.findings)
                .into_iter()
                .map(|(k, v)| format!("{k} => {}", v.as_str()))
                .collect::<Vec<_>>()
                .join(" | ");
            mismatches.push(format!(
                "{file}\n    expected {expected}, got {got}\n    theirs: {}\n    ours:   {ours}",
                &row[checks_col]
            ));
        }
    }
    assert_eq!(total, 46, "every conformance file is listed");
    assert!(
        mismatches.is_empty(),
        "{} of {total} files disagree:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).expect("create");
    f.write_all(bytes).expect("write");
    p
}

fn codes(report: &FileReport) -> Vec<&str> {
    report.findings.iter().map(|f| f.code.as_ref()).collect()
}

#[test]
fn clean_csv_passes_and_bom_is_stripped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        dir.path(),
        "plots_2019.csv",
        b"\xEF\xBB\xBFsite,depth_cm\nA,1.5\nB,-9999\n",
    );
    let r = registry();
    let report = validate_file(&p, "plots_2019.csv", &[r.get("csv").expect("csv")]).expect("runs");
    assert_eq!(codes(&report), Vec::<&str>::new());
    assert_eq!(report.status, Status::Ok);
    assert_eq!(report.rows, 2);
}

#[test]
fn structure_problems_are_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        dir.path(),
        "bad file.csv",
        b"a,a,c d\n1,2,3\n,,\n4,x,\n5,6,7,8\n,,\n",
    );
    let r = registry();
    let report = validate_file(&p, "bad file.csv", &[r.get("csv").expect("csv")]).expect("runs");
    let c = codes(&report);
    for code in [
        "filename-format",
        "duplicate-label",
        "label-format",
        "blank-row",
        "missing-value-code",
        "extra-cell",
        "mixed-types",
    ] {
        assert!(c.contains(&code), "{code} in {c:?}");
    }
    let blank: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "blank-row")
        .collect();
    assert_eq!(blank.len(), 2);
    assert_eq!(
        (blank[0].row, blank[0].severity),
        (Some(3), Severity::Error)
    );
    assert_eq!(
        (blank[1].row, blank[1].severity),
        (Some(6), Severity::Warning)
    );
    assert_eq!(report.status, Status::Error);
}

#[test]
fn invalid_utf8_is_an_encoding_error_with_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "latin1.csv", b"name,v\nM\xFCller,1\n");
    let r = registry();
    let report = validate_file(&p, "latin1.csv", &[r.get("csv").expect("csv")]).expect("runs");
    let f = report
        .findings
        .iter()
        .find(|f| f.code == "encoding-error")
        .expect("encoding-error");
    assert!(f.message.contains("offset 8"), "{}", f.message);
    assert_eq!(f.row, Some(2));
}

#[test]
fn table_schema_types_and_constraints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        dir.path(),
        "flmd.csv",
        b"File_Name,File_Description,header_rows,data_orientation\na.csv,short,x,sideways\nb.csv,long enough description,2,horizontal\nb.csv,another long description,0,\n",
    );
    let r = registry();
    let report =
        validate_file(&p, "flmd.csv", &[r.get("essdive-flmd").expect("flmd")]).expect("runs");
    let c = codes(&report);
    // v1.0 capitalised names are the same spelling, so they match without a finding.
    assert!(!c.contains(&"missing-column"), "{c:?}");
    assert!(c.contains(&"type-error"), "{c:?}");
    assert!(c.contains(&"primary-key"), "{c:?}");
    assert_eq!(
        c.iter().filter(|x| **x == "constraint-error").count(),
        3,
        "{c:?}"
    );
}

#[test]
fn missing_required_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        dir.path(),
        "x_dd.csv",
        b"column_or_row_name,unit\nTA,deg C\n",
    );
    let r = registry();
    let report = validate_file(&p, "x_dd.csv", &[r.get("essdive-dd").expect("dd")]).expect("runs");
    let missing: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "missing-column")
        .map(|f| f.column.clone().unwrap_or_default())
        .collect();
    assert_eq!(missing, vec!["definition".to_string()]);
}

#[test]
fn ameriflux_range_and_gap_on_a_clean_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut body = String::from("TIMESTAMP_START,TIMESTAMP_END,TA,FC\n");
    let mut t = values::amf_timestamp(b"201901010000").expect("ts");
    let stamp = |m: i64| {
        // Minutes back to YYYYMMDDHHMM through chrono, only in the test.
        let base = chrono::NaiveDate::from_ymd_opt(1, 1, 1)
            .expect("date")
            .and_hms_opt(0, 0, 0)
            .expect("time");
        (base + chrono::Duration::minutes(m))
            .format("%Y%m%d%H%M")
            .to_string()
    };
    for i in 0..48 {
        if i == 10 {
            t += 30; // one gap
        }
        let ta = if i < 5 { "75" } else { "10.5" };
        let fc = if i % 7 == 0 { "-9999" } else { "1.25" };
        body += &format!("{},{},{ta},{fc}\n", stamp(t), stamp(t + 30));
        t += 30;
    }
    let name = format!("US-UMB_HH_201901010000_{}.csv", stamp(t));
    let p = write(dir.path(), &name, body.as_bytes());
    let r = registry();
    let report = validate_file(&p, &name, &[r.get("ameriflux-base").expect("amf")]).expect("runs");
    let c = codes(&report);
    assert!(c.contains(&"timestamp-gap"), "{c:?}");
    assert!(c.contains(&"out-of-range"), "{c:?}");
    assert!(c.contains(&"suspected-gap-fill"), "TA has no -9999: {c:?}");
    assert_eq!(report.ameriflux_status, Some(AmfLevel::Error));
    assert_eq!(report.ameriflux_data_status, Some(AmfLevel::Error));
    let range = report
        .findings
        .iter()
        .find(|f| f.code == "out-of-range")
        .expect("range");
    assert_eq!(range.column.as_deref(), Some("TA"));
    assert_eq!(range.row, Some(2));
}

#[test]
fn variable_names_follow_the_fp_standard() {
    let r = registry();
    let rules = r
        .get("ameriflux-base")
        .expect("amf")
        .ameriflux
        .as_ref()
        .expect("rules");
    let ok = |n: &str| ameriflux::parse_var(n, rules).is_some();
    for good in [
        "TA",
        "TA_F",
        "TA_1_1_1",
        "TA_F_1_1_1",
        "SWC_1",
        "SWC_1_SD",
        "TA_1_2_A",
        "TA_1_2_A_SD",
        "FETCH_70_1_1_1",
        "FC_SSITC_TEST",
    ] {
        assert!(ok(good), "{good}");
    }
    for bad in [
        "TA_1_1_1_F",
        "TA_1_1_PI",
        "PREC",
        "RH1_1_2",
        "SC_QC",
        "ta",
        "\"TA\"",
        "TIMESTAMP_START",
        "TA_1_1",
    ] {
        assert!(!ok(bad), "{bad}");
    }
    let v = ameriflux::parse_var("FC_F_1_2_1", rules).expect("valid");
    assert!(v.gap_filled);
    assert_eq!(v.unfilled, "FC_1_2_1");
}

const ESSDIVE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/essdive");

fn location_findings(report: &FileReport) -> Vec<(String, Option<u64>, Option<String>)> {
    report
        .findings
        .iter()
        .filter(|f| f.standard == "essdive-location")
        .map(|f| (f.code.to_string(), f.row, f.column.clone()))
        .collect()
}

/// The official template, unedited, gives exactly what NOTES.md 1.5 predicts: its
/// instruction row (row 1) and label column (column A) are still there. Its format,
/// unit and required rows are recognised, and its example row passes.
#[test]
fn location_template_gives_only_the_predicted_findings() {
    let path =
        std::path::Path::new(ESSDIVE).join("location-v1.0.1__Location_metadata_template.csv");
    let r = registry();
    let report = validate_file(
        &path,
        "Location_metadata_template.csv",
        &[r.get("essdive-location").expect("location")],
    )
    .expect("runs");
    let found = location_findings(&report);
    assert_eq!(
        found,
        vec![
            ("leading-row".to_string(), Some(1), None),
            (
                "blank-label".to_string(),
                None,
                Some(" (column 1)".to_string())
            ),
        ],
        "{found:?}"
    );
}

fn location(body: &str) -> Vec<(String, Option<u64>, Option<String>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "site_locations.csv", body.as_bytes());
    let r = registry();
    let report = validate_file(
        &p,
        "site_locations.csv",
        &[r.get("essdive-location").expect("location")],
    )
    .expect("runs");
    location_findings(&report)
}

const LOCATION_HEADER: &str = "Submission_Contact_Name,Submission_Contact_Email,Location_ID,Description,Latitude,Longitude,Elevation,Location_Alias,Parent_Location_ID,Projection,Measurement_Method,UTC_Offset,Location_DateTime_Start,Location_Date_End,Institution,Country,Notes\n";

#[test]
fn location_files_as_either_instruction_leaves_them_pass() {
    let data = "Jane Doe,jdoe@example.org,AC-423,Hill slope,37.874921,-122.252898,396.24,LBNL-hillslope,AC-400,WGS84,Garmin,-7,2019-03-01 09:00:01,2020-01-23,LBNL,USA,N/A\n";
    let format = "Free text,Free text,Free text,Free text,numeric,numeric,numeric,Free text,Free text,Free text,Free text,Numeric,YYYY-MM-DD HH:MM:SS,YYYY-MM-DD,Free text,Free text,Free text\n";
    let unit = "N/A,N/A,N/A,N/A,decimal degrees,decimal degrees,meters,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\n";
    let required = "required,required,required,required,required,required,recommended,optional,optional,optional,optional,optional,optional,optional,optional,optional,optional\n";
    // The template's note: delete rows 1, 3, 6 and column A (names, format, unit stay).
    assert_eq!(
        location(&format!("{LOCATION_HEADER}{format}{unit}{data}")),
        vec![]
    );
    // instructions.md: delete rows 1, 6 and column A (the required row stays too).
    assert_eq!(
        location(&format!("{LOCATION_HEADER}{required}{format}{unit}{data}")),
        vec![]
    );
    assert_eq!(location(&format!("{LOCATION_HEADER}{data}")), vec![]);
}

#[test]
fn location_rules_find_bad_values() {
    let header = LOCATION_HEADER
        .replace("Description,", "")
        .replace("Elevation,", "");
    let rows = [
        "Jane Doe,not-an-email,AC-1,95.0,-122.2,,,,,3,2019-03-01 09:00:01,2020/01/23,,,",
        "Jane Doe,jdoe@example.org,AC-1,37.8,-200,,,,,20,2019-03-01,2020-01-23,,,",
        "N/A,jdoe@example.org,AC-2,x,10,,,,,0,,,,,",
    ];
    let found = location(&format!("{header}{}\n", rows.join("\n")));
    let has = |code: &str, row: Option<u64>, col: &str| {
        found
            .iter()
            .any(|(c, r, k)| c == code && *r == row && k.as_deref() == Some(col))
    };
    assert!(has("missing-column", None, "Description"), "{found:?}");
    assert!(
        has("missing-column", None, "Elevation"),
        "recommended: {found:?}"
    );
    assert!(
        has("type-error", Some(2), "Submission_Contact_Email"),
        "{found:?}"
    );
    assert!(has("constraint-error", Some(2), "Latitude"), "{found:?}");
    assert!(has("type-error", Some(2), "Location_Date_End"), "{found:?}");
    assert!(has("constraint-error", Some(3), "Longitude"), "{found:?}");
    assert!(has("constraint-error", Some(3), "UTC_Offset"), "{found:?}");
    assert!(
        has("type-error", Some(3), "Location_DateTime_Start"),
        "{found:?}"
    );
    assert!(
        has("constraint-error", Some(4), "Submission_Contact_Name"),
        "required: {found:?}"
    );
    assert!(has("type-error", Some(4), "Latitude"), "{found:?}");
    assert!(
        found
            .iter()
            .any(|(c, r, _)| c == "primary-key" && *r == Some(3)),
        "{found:?}"
    );
    let r = registry();
    let s = r.get("essdive-location").expect("location");
    let severity_of = |code: &str, column: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            dir.path(),
            "locations.csv",
            format!("{header}{}\n", rows.join("\n")).as_bytes(),
        );
        let report = validate_file(&p, "locations.csv", &[s]).expect("runs");
        report
            .findings
            .iter()
            .find(|f| f.code == code && f.column.as_deref() == Some(column))
            .map(|f| f.severity)
    };
    assert_eq!(
        severity_of("missing-column", "Elevation"),
        Some(Severity::Warning)
    );
    assert_eq!(
        severity_of("missing-column", "Description"),
        Some(Severity::Error)
    );
}

#[test]
fn finding_json_keeps_its_shape_and_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "bad file.csv", b"a,a\n1,2,3\n");
    let r = registry();
    let report = validate_file(&p, "bad file.csv", &[r.get("csv").expect("csv")]).expect("runs");
    let json = serde_json::to_value(&report).expect("serialises");
    let finding = &json["findings"][0];
    for key in [
        "file", "standard", "row", "column", "code", "severity", "message", "value",
    ] {
        assert!(finding.get(key).is_some(), "{key} in {finding}");
    }
    assert!(
        finding.get("issue").is_none(),
        "the issue is flattened: {finding}"
    );
    assert!(finding.get("ameriflux").is_none());
    let back: FileReport = serde_json::from_value(json).expect("deserialises");
    assert_eq!(back, report);
    let amf = std::path::Path::new(CONFORMANCE).join("US-UMB_HR_200001010000_2000010120.csv");
    let report =
        validate_file(&amf, "x.csv", &[r.get("ameriflux-base").expect("amf")]).expect("runs");
    let text = serde_json::to_string(&report).expect("serialises");
    assert!(text.contains("\"ameriflux\":{\"level\":"), "{text}");
    assert_eq!(
        serde_json::from_str::<FileReport>(&text).expect("round trip"),
        report
    );
}

/// Rows are physical lines, whatever the line ends, empty lines and quoted newlines.
#[test]
fn rows_are_physical_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = registry();
    let csv = r.get("csv").expect("csv");
    for (body, blank, extra) in [
        (&b"a,b\n1,2\n\n3,4,5\n"[..], 3, 4),
        (b"a,b\r\n1,2\r\n\r\n3,4,5\r\n", 3, 4),
        (b"a,b\n\"x\ny\",2\n\n\n3,4,5\n", 4, 6),
    ] {
        let p = write(dir.path(), "t.csv", body);
        let report = validate_file(&p, "t.csv", &[csv]).expect("runs");
        let row_of = |code: &str| {
            report
                .findings
                .iter()
                .find(|f| f.code == code)
                .and_then(|f| f.row)
        };
        assert_eq!(
            row_of("blank-row"),
            Some(blank),
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(
            row_of("extra-cell"),
            Some(extra),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}
