//! Engine tests: the AmeriFlux conformance suite file by file, and small CSVs.

use super::*;
use std::io::Write;

const CONFORMANCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/standards/ameriflux/conformance"
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
