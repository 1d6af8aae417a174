//! Dataset-level tests: data packages, cross-file rules, claims, DataCite metadata and
//! the reuse of stored file reports.

use super::*;
use std::path::Path;

fn registry() -> Registry {
    Registry::embedded().expect("shipped standards load")
}

/// A dataset in a temporary folder: `(dataset path, bytes)` pairs.
struct Fixture {
    _dir: tempfile::TempDir,
    files: Vec<DatasetFile>,
}

fn dataset(files: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = files
        .iter()
        .enumerate()
        .map(|(i, (path, body))| {
            // Stored under names of their own, as staged uploads are.
            let local = dir.path().join(format!("blob-{i}"));
            std::fs::write(&local, body).expect("write");
            DatasetFile {
                path: path.to_string(),
                local,
                sha256: String::new(),
            }
        })
        .collect();
    Fixture { _dir: dir, files }
}

fn run(fixture: &Fixture, claimed: &[&str]) -> DatasetReport {
    let claimed: Vec<String> = claimed.iter().map(|s| s.to_string()).collect();
    let input = DatasetInput {
        files: &fixture.files,
        claimed: &claimed,
        metadata: None,
    };
    validate_dataset(&registry(), &input, &mut |_| None).expect("runs")
}

/// (code, file, severity) of the dataset-level findings.
fn dataset_codes(r: &DatasetReport) -> Vec<(String, String, Severity)> {
    r.dataset
        .iter()
        .map(|f| (f.code.to_string(), f.file.clone(), f.severity))
        .collect()
}

fn file_codes<'r>(r: &'r DatasetReport, path: &str, standard: &str) -> Vec<&'r str> {
    r.files
        .iter()
        .find(|f| f.path == path)
        .map(|f| {
            f.findings
                .iter()
                .filter(|x| x.standard == standard)
                .map(|x| x.code.as_ref())
                .collect()
        })
        .unwrap_or_default()
}

const FLMD: &str = "file_name,file_description\nsoil_*.csv,Soil cores from the hillslope plots\ndata/soil_dd.csv,Data dictionary for the soil files\nmissing.csv,A file that was never uploaded\n";

#[test]
fn every_file_must_be_listed_in_the_flmd() {
    let f = dataset(&[
        ("flmd.csv", FLMD),
        ("data/soil_2019.csv", "depth,ph\n1,6.5\n"),
        (
            "data/soil_dd.csv",
            "column_or_row_name,unit,definition\ndepth,cm,Depth\nph,N/A,pH\n",
        ),
        ("README.txt", "notes\n"),
    ]);
    let r = run(&f, &[]);
    let found = dataset_codes(&r);
    // The wildcard and the relative path list their files; the FLMD need not list itself.
    assert_eq!(
        found,
        vec![
            (
                "file-not-in-flmd".into(),
                "README.txt".into(),
                Severity::Error
            ),
            (
                "flmd-entry-not-found".into(),
                "flmd.csv".into(),
                Severity::Warning
            ),
        ],
        "{found:?}"
    );
    let entry = &r.dataset[1];
    assert_eq!(entry.row, Some(4));
    assert_eq!(entry.value.as_deref(), Some("missing.csv"));
    // Without an FLMD nothing is required.
    let g = dataset(&[("data/soil_2019.csv", "depth,ph\n1,6.5\n")]);
    assert!(run(&g, &[]).dataset.is_empty());
}

#[test]
fn every_column_must_be_defined_in_the_data_dictionary() {
    let f = dataset(&[
        ("a.csv", "depth,ph,temp\n1,6.5,10\n"),
        ("b.csv", "site,wave_1,wave_2\nA,1,2\n"),
        ("dd.csv", "column_or_row_name,unit,definition\ndepth,cm,Depth\nph,N/A,pH\nsite,N/A,Site\nwave_*,m,Wave heights\nunused,N/A,Not in any file\n"),
    ]);
    let r = run(&f, &[]);
    let found = dataset_codes(&r);
    assert_eq!(
        found,
        vec![
            ("column-not-in-dd".into(), "a.csv".into(), Severity::Error),
            ("dd-entry-unused".into(), "dd.csv".into(), Severity::Warning),
        ],
        "{found:?}"
    );
    assert_eq!(r.dataset[0].column.as_deref(), Some("temp"));
    // A dictionary made for a file (`<name>_dd.csv`) is the one that file must use.
    let g = dataset(&[
        ("a.csv", "depth,ph\n1,6.5\n"),
        (
            "a_dd.csv",
            "column_or_row_name,unit,definition\ndepth,cm,Depth\n",
        ),
        ("dd.csv", "column_or_row_name,unit,definition\nph,N/A,pH\n"),
    ]);
    let found = dataset_codes(&run(&g, &[]));
    assert!(
        found.contains(&("column-not-in-dd".into(), "a.csv".into(), Severity::Error)),
        "ph is defined only in the general dictionary: {found:?}"
    );
}

#[test]
fn claimed_standards_need_their_files() {
    let f = dataset(&[("plots.csv", "a,b\n1,2\n")]);
    let r = run(
        &f,
        &[
            "essdive-flmd",
            "ameriflux-base",
            "frictionless",
            "datacite",
            "csv",
            "nope",
        ],
    );
    let found = dataset_codes(&r);
    let missing: Vec<&str> = r
        .dataset
        .iter()
        .filter(|x| x.code == "missing-required-file")
        .map(|x| x.standard.as_str())
        .collect();
    assert_eq!(
        missing,
        vec!["essdive-flmd", "ameriflux-base", "frictionless", "datacite"],
        "{found:?}"
    );
    assert!(found.contains(&("unknown-standard".into(), "".into(), Severity::Warning)));
    assert_eq!(r.status, Status::Error);
    let g = dataset(&[
        ("flmd.csv", "file_name,file_description\nUS-UMB_HH_201901010000_201901010100.csv,Half-hourly fluxes\n"),
        ("US-UMB_HH_201901010000_201901010100.csv", "TIMESTAMP_START,TIMESTAMP_END,FC\n201901010000,201901010030,1\n201901010030,201901010100,2\n"),
    ]);
    let r = run(&g, &["essdive-flmd", "ameriflux-base"]);
    assert!(
        !r.dataset.iter().any(|x| x.code == "missing-required-file"),
        "{:?}",
        dataset_codes(&r)
    );
    // File-name rules read the dataset name, not the name the bytes are stored under.
    let flux = r
        .files
        .iter()
        .find(|x| x.path.starts_with("US-UMB"))
        .expect("flux file");
    assert!(
        !flux.findings.iter().any(|x| x.code == "filename-format"),
        "{:?}",
        flux.findings
    );
}

#[test]
fn datacite_findings_are_dataset_level() {
    let f = dataset(&[("plots.csv", "a,b\n1,2\n")]);
    let m = crate::deposit::metadata::Metadata::from_json(r#"{"titles": [{"title": "Plots"}]}"#)
        .expect("metadata");
    let input = DatasetInput {
        files: &f.files,
        claimed: &[],
        metadata: Some(&m),
    };
    let r = validate_dataset(&registry(), &input, &mut |_| None).expect("runs");
    let creator = r
        .dataset
        .iter()
        .find(|x| x.code == "missing-mandatory-property")
        .expect("creator missing");
    assert_eq!(
        (creator.file.as_str(), creator.standard.as_str()),
        ("", "datacite")
    );
    assert_eq!(creator.column.as_deref(), Some("Creator"));
    assert_eq!(r.status, Status::Error);
}

const PEOPLE_SCHEMA: &str = r#"{
  "fields": [
    {"name": "id", "type": "integer"},
    {"name": "name", "type": "string", "constraints": {"required": true}},
    {"name": "born", "type": "date", "constraints": {"minimum": "1900-01-01"}},
    {"name": "email", "type": "string", "format": "email", "constraints": {"unique": true}},
    {"name": "parent", "type": "integer"}
  ],
  "missingValues": ["", "NA"],
  "primaryKey": ["id"],
  "foreignKeys": [{"fields": ["parent"], "reference": {"fields": ["id"]}}]
}"#;

fn package(resources: &str) -> String {
    format!(r#"{{"name": "people", "resources": [{resources}]}}"#)
}

#[test]
fn data_package_tables_are_checked_against_their_schemas() {
    let people = "id,name,born,email,parent\n1,Ann,1950-02-03,ann@example.org,NA\n2,Bob,1899-12-31,bob@example.org,1\n2,,1980-01-01,ann@example.org,7\nx,Eve,1980-13-01,eve,1\n";
    let visits = "person;day\n1;2020-01-01\n9;2020-01-02\n";
    let f = dataset(&[
        (
            "datapackage.json",
            &package(&format!(
                r#"{{"name": "people", "path": "data/people.csv", "schema": {PEOPLE_SCHEMA}}},
                   {{"name": "visits", "path": "data/visits.csv", "dialect": {{"delimiter": ";"}},
                     "schema": "visits.schema.json"}}"#
            )),
        ),
        ("data/people.csv", people),
        ("data/visits.csv", visits),
        (
            "visits.schema.json",
            r#"{"fields": [{"name": "person", "type": "integer"}, {"name": "day", "type": "date"}],
                "foreignKeys": [{"fields": "person", "reference": {"resource": "people", "fields": "id"}}]}"#,
        ),
    ]);
    let r = run(&f, &[]);
    assert!(r.dataset.is_empty(), "{:?}", dataset_codes(&r));
    let mut codes = file_codes(&r, "data/people.csv", "frictionless");
    codes.sort();
    assert_eq!(
        codes,
        vec![
            "constraint-error", // born before 1900
            "constraint-error", // name required
            "foreign-key",      // parent 7
            "primary-key",      // id 2 twice
            "type-error",       // id x
            "type-error",       // born 1980-13-01
            "type-error",       // email eve
            "unique-error",     // ann@example.org twice
        ]
    );
    assert_eq!(
        file_codes(&r, "data/visits.csv", "frictionless"),
        vec!["foreign-key"]
    );
    let visits_report = r
        .files
        .iter()
        .find(|x| x.path == "data/visits.csv")
        .expect("visits");
    let dangling = visits_report
        .findings
        .iter()
        .find(|x| x.code == "foreign-key")
        .expect("foreign-key");
    assert_eq!(
        (dangling.row, dangling.value.as_deref()),
        (Some(3), Some("9"))
    );
    assert!(visits_report.depends_on.is_some());
    // The csv standard still applies to both files, in the same run.
    assert!(visits_report.standards.contains(&"csv".to_string()));
}

#[test]
fn labels_follow_fields_match() {
    // One table `t.csv` described by `schema`: its frictionless codes, sorted.
    let codes = |schema: &str, body: &str| {
        let f = dataset(&[
            (
                "datapackage.json",
                &package(&format!(
                    r#"{{"name": "t", "path": "t.csv", "schema": {schema}}}"#
                )),
            ),
            ("t.csv", body),
        ]);
        let mut codes: Vec<String> = file_codes(&run(&f, &[]), "t.csv", "frictionless")
            .into_iter()
            .map(String::from)
            .collect();
        codes.sort();
        codes
    };
    let exact = r#"{"fields": [{"name": "a", "type": "integer"}, {"name": "b"}, {"name": "c"}]}"#;
    assert_eq!(
        codes(exact, "a,B\n1,2\n"),
        ["incorrect-label", "missing-label"]
    );
    let subset = r#"{"fieldsMatch": "subset", "fields": [{"name": "a", "type": "integer"}]}"#;
    assert_eq!(codes(subset, "z,a\n1,x\n"), ["type-error"]);
    let equal = subset.replace("subset", "equal");
    assert_eq!(codes(&equal, "z,a\n1,2\n"), ["extra-label"]);
}

#[test]
fn resource_paths_never_leave_the_dataset() {
    let f = dataset(&[
        (
            "pkg/datapackage.json",
            &package(
                r#"{"name": "up", "path": "../secret.csv"},
                   {"name": "abs", "path": "/etc/passwd"},
                   {"name": "url", "path": "https://example.org/x.csv"},
                   {"name": "gone", "path": "nothere.csv"},
                   {"name": "ok", "path": "data/ok.csv"},
                   {"name": "ok", "data": [[1]]},
                   {"path": "data/ok.csv"},
                   {"name": "both", "path": "data/ok.csv", "data": []}"#,
            ),
        ),
        ("pkg/data/ok.csv", "a\n1\n"),
        ("secret.csv", "a\n1\n"),
    ]);
    let r = run(&f, &[]);
    let found = dataset_codes(&r);
    let count = |code: &str, sev: Severity| {
        found
            .iter()
            .filter(|(c, _, s)| c == code && *s == sev)
            .count()
    };
    // up, abs, duplicate name "ok", unnamed, both → errors; url → warning; gone → source-error.
    assert_eq!(count("resource-error", Severity::Error), 5, "{found:?}");
    assert_eq!(count("resource-error", Severity::Warning), 1, "{found:?}");
    assert_eq!(count("source-error", Severity::Error), 1, "{found:?}");
    assert!(found
        .iter()
        .all(|(_, file, _)| file == "pkg/datapackage.json"));
    // The secret file outside the package is checked only as itself, never as a resource.
    assert!(file_codes(&r, "secret.csv", "frictionless").is_empty());
    assert!(r.files.iter().any(|x| x.path == "pkg/data/ok.csv"));
}

#[test]
fn broken_descriptors_are_package_errors() {
    for (body, code) in [
        ("{not json", "package-error"),
        ("[]", "package-error"),
        (r#"{"name": "x"}"#, "package-error"),
        (r#"{"resources": []}"#, "package-error"),
        (
            r#"{"resources": [{"name": "t", "path": "t.csv", "schema": {"fields": [{"name": "a", "type": "color"}]}}]}"#,
            "schema-error",
        ),
        (
            r#"{"resources": [{"name": "t", "path": "t.csv", "schema": {"fields": [{"name": "a"}], "primaryKey": ["b"]}}]}"#,
            "schema-error",
        ),
        (
            r#"{"resources": [{"name": "t", "path": "t.csv", "schema": {"fields": [{"name": "a", "constraints": {"pattern": "("}}]}}]}"#,
            "field-error",
        ),
        (
            r#"{"resources": [{"name": "t", "path": "t.csv", "dialect": {"delimiter": ";;"}}]}"#,
            "dialect-error",
        ),
        (
            r#"{"resources": [{"name": "t", "path": "t.csv", "schema": "../s.json"}]}"#,
            "schema-error",
        ),
        (
            r#"{"keywords": "soil", "resources": [{"name": "t", "path": "t.csv"}]}"#,
            "package-error",
        ),
        (
            r#"{"licenses": [{"title": "no name"}], "resources": [{"name": "t", "path": "t.csv"}]}"#,
            "package-error",
        ),
        (
            r#"{"created": "yesterday", "resources": [{"name": "t", "path": "t.csv"}]}"#,
            "package-error",
        ),
        (
            r#"{"resources": [{"name": "t", "path": "t.csv", "type": "tabular"}]}"#,
            "resource-error",
        ),
        (
            r#"{"resources": [{"name": "t", "path": "t.csv", "mediatype": "csv"}]}"#,
            "resource-error",
        ),
        (
            r#"{"resources": [{"name": "t", "path": "t.csv", "hash": "sha256:xyz"}]}"#,
            "resource-error",
        ),
    ] {
        let f = dataset(&[("datapackage.json", body), ("t.csv", "a\n1\n")]);
        let found = dataset_codes(&run(&f, &[]));
        assert!(
            found
                .iter()
                .any(|(c, _, s)| c == code && *s == Severity::Error),
            "{body}: {found:?}"
        );
    }
}

#[test]
fn declared_size_and_hashes_are_verified() {
    let body = "a\n1\n";
    let sha = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(body.as_bytes()))
    };
    let f = dataset(&[
        (
            "datapackage.json",
            &package(&format!(
                r#"{{"name": "a", "path": "a.csv", "bytes": 99, "hash": "{sha}"}},
                   {{"name": "b", "path": "b.csv", "bytes": 4, "hash": "{md5}"}}"#
            )),
        ),
        ("a.csv", body),
        ("b.csv", body),
    ]);
    let r = run(&f, &[]);
    let mut a = file_codes(&r, "a.csv", "frictionless");
    a.sort();
    assert_eq!(a, vec!["byte-count", "hash-count"]);
    assert!(file_codes(&r, "b.csv", "frictionless").is_empty());
}

#[test]
fn dialects_and_missing_values_are_honoured() {
    let schema = r#"{"fields": [{"name": "n", "type": "number", "decimalChar": ","}, {"name": "s", "type": "string", "constraints": {"required": true}}], "missingValues": ["-"]}"#;
    let f = dataset(&[
        (
            "datapackage.json",
            &package(&format!(
                r##"{{"name": "t", "path": "t.txt", "format": "csv", "dialect": {{"delimiter": "|", "commentChar": "#", "header": false}}, "schema": {schema}}}"##
            )),
        ),
        ("t.txt", "# a comment\n1,5|x\n-|y\n2|-\n"),
    ]);
    let r = run(&f, &[]);
    let report = r
        .files
        .iter()
        .find(|x| x.path == "t.txt")
        .expect("t.txt checked");
    let found: Vec<(&str, Option<u64>)> = report
        .findings
        .iter()
        .map(|x| (x.code.as_ref(), x.row))
        .collect();
    assert_eq!(
        found,
        vec![("constraint-error", Some(4))],
        "s is required; `-` is missing"
    );
}

#[test]
fn stored_reports_are_reused_and_cross_file_rules_still_hold() {
    let f = dataset(&[
        (
            "flmd.csv",
            "file_name,file_description\na.csv,The first data file\n",
        ),
        ("a.csv", "depth,ph\n1,6.5\n"),
        ("b.csv", "depth\n2\n"),
        (
            "dd.csv",
            "column_or_row_name,unit,definition\ndepth,cm,Depth\n",
        ),
    ]);
    let first = run(&f, &[]);
    let stored: Vec<FileReport> = first.files.clone();
    // Reports come back through JSON, as the job stores them.
    let json = serde_json::to_string(&first).expect("serialises");
    assert_eq!(
        serde_json::from_str::<DatasetReport>(&json).expect("parses"),
        first
    );
    // The data files are gone from disk: a reused report must not read them.
    let moved: Vec<DatasetFile> = f
        .files
        .iter()
        .map(|x| DatasetFile {
            local: if x.path.ends_with("flmd.csv") || x.path.ends_with("dd.csv") {
                x.local.clone()
            } else {
                Path::new("/nonexistent").join(&x.path)
            },
            ..x.clone()
        })
        .collect();
    let input = DatasetInput {
        files: &moved,
        claimed: &[],
        metadata: None,
    };
    let mut asked = Vec::new();
    let second = validate_dataset(&registry(), &input, &mut |file| {
        asked.push(file.path.clone());
        stored.iter().find(|r| r.path == file.path).cloned()
    })
    .expect("runs without reading the data files");
    assert_eq!(second, first);
    assert_eq!(asked, vec!["flmd.csv", "a.csv", "b.csv", "dd.csv"]);
    let found = dataset_codes(&second);
    assert!(
        found.contains(&("file-not-in-flmd".into(), "b.csv".into(), Severity::Error)),
        "{found:?}"
    );
    assert!(
        found.contains(&("column-not-in-dd".into(), "a.csv".into(), Severity::Error)),
        "{found:?}"
    );
}

#[test]
fn a_changed_package_invalidates_stored_resource_reports() {
    let pkg = |t: &str| {
        package(&format!(
            r#"{{"name": "t", "path": "t.csv", "schema": {{"fields": [{{"name": "a", "type": "{t}"}}]}}}}"#
        ))
    };
    let f = dataset(&[("datapackage.json", &pkg("integer")), ("t.csv", "a\nx\n")]);
    let first = run(&f, &[]);
    assert_eq!(
        file_codes(&first, "t.csv", "frictionless"),
        vec!["type-error"]
    );
    let g = dataset(&[("datapackage.json", &pkg("string")), ("t.csv", "a\nx\n")]);
    let input = DatasetInput {
        files: &g.files,
        claimed: &[],
        metadata: None,
    };
    let second = validate_dataset(&registry(), &input, &mut |file| {
        first.files.iter().find(|r| r.path == file.path).cloned()
    })
    .expect("runs");
    assert!(
        file_codes(&second, "t.csv", "frictionless").is_empty(),
        "the stale report was not reused"
    );
}

#[test]
fn fingerprint_follows_the_standards_files() {
    let a = registry();
    let mut b = registry();
    assert_eq!(a.fingerprint(), b.fingerprint());
    let csv = b
        .standards
        .iter_mut()
        .find(|s| s.name == "csv")
        .expect("csv");
    let text = include_str!("../../schemas/csv.json").replace("\"warning\"", "\"error\"");
    *csv = Standard::parse("csv.json", &text).expect("parses");
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint().len(), 64);
}

#[test]
fn malformed_new_standards_name_their_problem() {
    for (text, needle) in [
        (
            r#"{"name": "d", "title": "t", "appliesTo": [], "datacite": {"properties": [{"name": "Contributor", "obligation": "recommended"}]}}"#,
            "Contributor",
        ),
        (
            r#"{"name": "d", "title": "t", "appliesTo": [], "datacite": {"properties": [{"name": "Title", "obligation": "maybe"}]}}"#,
            "maybe",
        ),
        (
            r#"{"name": "p", "title": "t", "appliesTo": ["datapackage.json"], "datapackage": {"maxBytes": 1}}"#,
            "maxBytes",
        ),
        (
            r#"{"name": "l", "title": "t", "appliesTo": ["*.csv"], "layout": {"headerSearchRows": 0}}"#,
            "headerSearchRows",
        ),
        (
            r#"{"name": "l", "title": "t", "appliesTo": ["*.csv"], "layout": {"descriptorRows": [{"name": "unit"}]}}"#,
            "values",
        ),
        (
            r#"{"name": "f", "title": "t", "appliesTo": ["*.csv"], "crossFile": {"listsFiles": {"column": "file_name"}}}"#,
            "file_name",
        ),
        (
            r#"{"name": "x", "title": "t", "appliesTo": ["*.csv"], "datapackage": {}, "datacite": {"properties": []}}"#,
            "at most one",
        ),
        (
            r#"{"name": "x", "title": "t", "appliesTo": ["*.csv"], "schema": {"fields": [{"name": "a", "type": "date", "format": "dd/mm"}]}}"#,
            "format",
        ),
        (
            r#"{"name": "x", "title": "t", "appliesTo": ["*.csv"], "schema": {"fields": [{"name": "a"}, {"name": "a"}]}}"#,
            "more than once",
        ),
        (
            r###"{"name": "x", "title": "t", "appliesTo": ["*.csv"], "dialect": {"commentChar": "##"}}"###,
            "commentChar",
        ),
    ] {
        let err = Standard::parse("new.json", text).expect_err(text);
        let msg = err.to_string();
        assert!(
            msg.starts_with("new.json: ") && msg.contains(needle),
            "{needle}: {msg}"
        );
    }
}

/// frictionless-py's reference invalid table gives the same five errors here.
#[test]
fn capital_invalid_gives_frictionless_errors() {
    let body = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/frictionless/capital-invalid.csv"
    ))
    .expect("reference file");
    let f = dataset(&[
        (
            "datapackage.json",
            &package(
                r#"{"name": "capital", "path": "capital-invalid.csv",
                    "schema": {"fields": [{"name": "id", "type": "integer"},
                                          {"name": "name", "type": "string"},
                                          {"name": "name", "type": "string"}]}}"#,
            ),
        ),
        ("capital-invalid.csv", &body),
    ]);
    let r = run(&f, &[]);
    let report = r
        .files
        .iter()
        .find(|x| x.path == "capital-invalid.csv")
        .expect("checked");
    let found: Vec<(&str, Option<u64>)> = report
        .findings
        .iter()
        .filter(|x| x.standard == "frictionless")
        .map(|x| (x.code.as_ref(), x.row))
        .collect();
    assert_eq!(
        found,
        vec![
            ("duplicate-label", None),
            ("missing-cell", Some(10)),
            ("blank-row", Some(11)),
            ("extra-cell", Some(12)),
            ("type-error", Some(12)),
        ]
    );
}

#[test]
fn header_rows_join_and_unique_keys_skip_nulls() {
    let schema = r#"{"fields": [{"name": "site id", "type": "string"}, {"name": "depth cm", "type": "integer"}],
        "uniqueKeys": [["site id", "depth cm"]]}"#;
    let f = dataset(&[
        (
            "datapackage.json",
            &package(&format!(
                r#"{{"name": "t", "path": "t.csv", "dialect": {{"headerRows": [2, 3]}}, "schema": {schema}}}"#
            )),
        ),
        (
            "t.csv",
            "a title line\nsite,depth\nid,cm\nA,1\nA,2\nA,1\n,3\n,3\n",
        ),
    ]);
    let r = run(&f, &[]);
    let report = r.files.iter().find(|x| x.path == "t.csv").expect("checked");
    let found: Vec<(&str, Option<u64>)> = report
        .findings
        .iter()
        .filter(|x| x.standard == "frictionless")
        .map(|x| (x.code.as_ref(), x.row))
        .collect();
    // Labels "site id" and "depth cm" match the fields; A,1 repeats; keys with a null
    // (the empty sites) are not compared, as in SQL.
    assert_eq!(found, vec![("unique-error", Some(6))]);
}

#[test]
fn a_complete_descriptor_passes() {
    let body = "id,site\n1,A\n2,B\n";
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(body.as_bytes()))
    };
    let descriptor = format!(
        r#"{{"$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
            "name": "east-river-soil", "id": "https://doi.org/10.1234/abc", "version": "1.0.0",
            "title": "East River soil", "created": "2024-01-26T15:00:00Z", "keywords": ["soil"],
            "licenses": [{{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}}],
            "contributors": [{{"title": "Jane Doe", "roles": ["author"]}}],
            "resources": [{{"name": "sites", "type": "table", "path": "sites.csv", "format": "csv",
                "mediatype": "text/csv", "encoding": "utf-8", "bytes": {}, "hash": "sha256:{sha}",
                "schema": {{"fields": [{{"name": "id", "type": "integer"}}, {{"name": "site", "type": "string"}}],
                           "primaryKey": ["id"]}}}}]}}"#,
        body.len()
    );
    let f = dataset(&[("datapackage.json", &descriptor), ("sites.csv", body)]);
    let r = run(&f, &[]);
    assert!(r.dataset.is_empty(), "{:?}", dataset_codes(&r));
    assert!(file_codes(&r, "sites.csv", "frictionless").is_empty());
    assert_eq!(r.status, Status::Ok);
}
