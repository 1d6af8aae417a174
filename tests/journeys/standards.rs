//! `holdfast validate` and `holdfast standards`, offline: no database, no data dir.

use crate::support::process::Home;
use std::path::Path;
use std::process::Output;

fn holdfast(dir: &Path, args: &[&str]) -> Output {
    // A data dir that cannot exist proves validation never touches the archive.
    Home::default_database("/nonexistent/holdfast-data".into())
        .command()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("holdfast runs")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("sub")).expect("mkdir");
    std::fs::write(data.join("good.csv"), "site,depth_cm\nA,1.5\nB,-9999\n").expect("write");
    std::fs::write(data.join("sub/bad.csv"), "site,site\nA,1\n,\nB,x,3\n").expect("write");
    std::fs::write(data.join("notes.txt"), "not checked\n").expect("write");
    dir
}

#[test]
fn validate_exit_codes_and_json_shape() {
    let dir = setup();
    let d = dir.path();

    let good = holdfast(d, &["validate", "data/good.csv"]);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("data/good.csv"));

    let bad = holdfast(d, &["validate", "--format", "json", "data"]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("json report");
    assert_eq!(report["report_version"], 1);
    assert_eq!(report["status"], "error");
    assert_eq!(
        report["summary"]["files"], 2,
        "the .txt file is not checked"
    );
    let files = report["files"].as_array().expect("files");
    let bad_file = files
        .iter()
        .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with("bad.csv")))
        .expect("bad.csv reported");
    assert_eq!(bad_file["status"], "error");
    let findings = bad_file["findings"].as_array().expect("findings");
    let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
    for code in ["duplicate-label", "blank-row", "extra-cell", "mixed-types"] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    for f in findings {
        for key in [
            "file", "standard", "row", "column", "code", "severity", "message", "value",
        ] {
            assert!(f.get(key).is_some(), "finding has {key}: {f}");
        }
    }

    let missing = holdfast(d, &["validate", "data/nope.csv"]);
    assert_eq!(missing.status.code(), Some(2));
    let unknown = holdfast(d, &["validate", "--standard", "nope", "data"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nope"));
}

#[test]
fn malformed_standard_is_reported_with_its_file() {
    let dir = setup();
    let d = dir.path();
    let schemas = d.join("myschemas");
    std::fs::create_dir_all(&schemas).expect("mkdir");
    std::fs::write(
        schemas.join("broken.json"),
        r#"{"name": "broken", "title": "x"}"#,
    )
    .expect("write");

    let check = holdfast(d, &["standards", "check", "myschemas"]);
    assert_eq!(check.status.code(), Some(2));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains("broken.json") && err.contains("appliesTo"),
        "{err}"
    );

    let run = holdfast(d, &["validate", "--schemas", "myschemas", "data"]);
    assert_eq!(run.status.code(), Some(2));

    // The shipped standards are built in, so the binary works from any directory.
    let list = holdfast(d, &["standards", "list"]);
    assert_eq!(list.status.code(), Some(0));
    let out = String::from_utf8_lossy(&list.stdout);
    assert!(
        out.contains("ameriflux-base") && out.contains("csv"),
        "{out}"
    );
}

#[test]
fn shipped_schemas_folder_is_well_formed() {
    let out = holdfast(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["standards", "check"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_folder_is_checked_as_a_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ds = d.join("ds");
    std::fs::create_dir_all(ds.join("data")).expect("mkdir");
    let put = |p: &str, body: &str| std::fs::write(ds.join(p), body).expect("write");
    put(
        "flmd.csv",
        "file_name,file_description\ndata/plots.csv,Plot measurements from 2019\ndd.csv,Data dictionary of the plots\n",
    );
    put(
        "dd.csv",
        "column_or_row_name,unit,definition\nsite,N/A,Site id\n",
    );
    put("data/plots.csv", "site,depth_cm\nA,1.5\n");
    put("data/extra.csv", "site\nB\n");
    put(
        "datapackage.json",
        r#"{"resources": [{"name": "plots", "path": "data/plots.csv",
            "schema": {"fields": [{"name": "site", "type": "string"}, {"name": "depth_cm", "type": "integer"}]}},
            {"name": "outside", "path": "../secret.csv"}]}"#,
    );
    std::fs::write(d.join("meta.json"), r#"{"titles": [{"title": "Plots"}]}"#).expect("write");

    let out = holdfast(
        d,
        &[
            "validate",
            "--format",
            "json",
            "--claim",
            "ameriflux-base",
            "--metadata",
            "meta.json",
            "ds",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["report_version"], 1);
    let dataset = report["dataset"].as_array().expect("dataset findings");
    let has = |code: &str, file: &str| {
        dataset
            .iter()
            .any(|f| f["code"] == code && f["file"].as_str().is_some_and(|p| p.ends_with(file)))
    };
    assert!(has("file-not-in-flmd", "extra.csv"), "{dataset:?}");
    assert!(has("file-not-in-flmd", "datapackage.json"), "{dataset:?}");
    assert!(has("column-not-in-dd", "plots.csv"), "{dataset:?}");
    assert!(has("resource-error", "datapackage.json"), "{dataset:?}");
    assert!(has("missing-required-file", ""), "{dataset:?}");
    assert!(has("missing-mandatory-property", ""), "{dataset:?}");
    let plots = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("data/plots.csv"))
        })
        .expect("plots.csv reported");
    let codes: Vec<&str> = plots["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["standard"] == "frictionless")
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["type-error"], "depth 1.5 is not an integer");

    let text = holdfast(d, &["validate", "ds"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("dataset  (") && text.contains("file-not-in-flmd"),
        "{text}"
    );

    let bad_meta = d.join("bad.json");
    std::fs::write(&bad_meta, "{\"titles\": 3}").expect("write");
    let bad = holdfast(d, &["validate", "--metadata", "bad.json", "ds"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad.json"));
}

#[test]
fn malformed_new_kinds_of_standard_are_reported() {
    let dir = setup();
    let d = dir.path();
    let schemas = d.join("myschemas");
    std::fs::create_dir_all(&schemas).expect("mkdir");
    std::fs::write(
        schemas.join("meta.json"),
        r#"{"name": "meta", "title": "x", "appliesTo": [], "datacite": {"properties": [{"name": "Colour", "obligation": "mandatory"}]}}"#,
    )
    .expect("write");
    let check = holdfast(d, &["standards", "check", "myschemas"]);
    assert_eq!(check.status.code(), Some(2));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(err.contains("meta.json") && err.contains("Colour"), "{err}");
}
