//! The ESS-DIVE reporting formats against their official templates and examples (copied
//! into tests/data/essdive with their sources), against mutated copies, and a whole
//! water-chemistry dataset with its samples, locations, methods and terms.

use std::path::{Path, PathBuf};

use super::*;

const ESSDIVE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/essdive");

fn registry() -> Registry {
    Registry::embedded().expect("embedded standards load")
}

fn data(name: &str) -> PathBuf {
    Path::new(ESSDIVE).join(name)
}

/// (code, row) of every finding of `standard` for one file checked against it alone.
fn findings_of(path: &Path, shown: &str, standard: &str) -> Vec<(String, Option<u64>)> {
    let r = registry();
    let report = validate_file(path, shown, &[r.get(standard).expect("standard")]).expect("runs");
    report
        .findings
        .iter()
        .map(|f| (f.code.to_string(), f.row))
        .collect()
}

fn codes_of(path: &Path, shown: &str, standard: &str) -> Vec<String> {
    let mut c: Vec<String> = findings_of(path, shown, standard)
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    c.sort();
    c
}

fn strs(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// A copy of a file of the dataset folder with `edit` applied to its text.
fn mutated(dir: &Path, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(data("dataset").join(name)).expect("read");
    let p = dir.join(name);
    std::fs::write(&p, edit(text)).expect("write");
    p
}

type Edit<'e> = &'e dyn Fn(String) -> String;

/// The dataset folder copied, with one file replaced by a mutated text (or removed).
fn dataset_with(dir: &Path, change: Option<(&str, Option<Edit>)>) -> Vec<DatasetFile> {
    let mut files = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(data("dataset"))
        .expect("dataset")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let local = match change {
            Some((n, None)) if n == name => continue,
            Some((n, Some(edit))) if n == name => mutated(dir, &name, edit),
            _ => data("dataset").join(&name),
        };
        files.push(DatasetFile {
            path: name,
            local,
            sha256: String::new(),
        });
    }
    files
}

fn run(files: &[DatasetFile], linked: &[&str]) -> DatasetReport {
    let r = registry();
    let mut metadata = crate::deposit::metadata::Metadata::default();
    for igsn in linked {
        metadata
            .related_identifiers
            .push(crate::deposit::metadata::model::RelatedIdentifier {
                related_identifier: igsn.to_string(),
                related_identifier_type: "IGSN".into(),
                relation_type: "References".into(),
                ..Default::default()
            });
    }
    let input = DatasetInput {
        files,
        claimed: &[],
        metadata: (!linked.is_empty()).then_some(&metadata),
    };
    validate_dataset(&r, &input, &mut |_| None).expect("runs")
}

/// Every finding of a dataset run, as (code, file, value), DataCite's left out (the
/// test datasets carry no full metadata).
fn all(report: &DatasetReport) -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<(String, String, Option<String>)> = report
        .files
        .iter()
        .flat_map(|f| f.findings.iter())
        .chain(report.dataset.iter())
        .filter(|f| f.standard != "datacite")
        .map(|f| (f.code.to_string(), f.file.clone(), f.value.clone()))
        .collect();
    out.sort();
    out
}

#[test]
fn the_water_chemistry_dataset_passes_every_rule_between_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(&dataset_with(dir.path(), None), &[]);
    assert_eq!(all(&report), vec![], "{}", render_text(&report));
    let data = report
        .files
        .iter()
        .find(|f| f.path == "river_chem_data.csv")
        .expect("data file checked");
    assert_eq!(data.standards, vec!["essdive-wssc".to_string()]);
    let kinds: Vec<&str> = data
        .references
        .uses
        .iter()
        .map(|l| l.kind.as_str())
        .collect();
    assert_eq!(kinds, vec!["sample", "igsn", "method", "term"]);
}

/// Removes one column (by its header name on line `header_line`, 1-based) from every
/// line from that one on; the test files quote no commas.
fn drop_column(text: String, header_line: usize, name: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines[header_line - 1]
        .split(',')
        .position(|c| c == name)
        .expect("column exists");
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i + 1 < header_line {
            out.push_str(line);
        } else {
            let cells: Vec<&str> = line
                .split(',')
                .enumerate()
                .filter(|(j, _)| *j != at)
                .map(|(_, c)| c)
                .collect();
            out.push_str(&cells.join(","));
        }
        out.push('\n');
    }
    out
}

/// One mutation of the dataset and exactly the findings it must give.
fn mutation(file: &str, edit: &dyn Fn(String) -> String) -> Vec<(String, String, Option<String>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    all(&run(
        &dataset_with(dir.path(), Some((file, Some(edit)))),
        &[],
    ))
}

fn finding(code: &str, file: &str, value: Option<&str>) -> (String, String, Option<String>) {
    (
        code.to_string(),
        file.to_string(),
        value.map(str::to_string),
    )
}

const SAMPLES: &str = "river_samples_sample_metadata.csv";
const DATA: &str = "river_chem_data.csv";

#[test]
fn a_missing_required_column_is_reported_once() {
    let found = mutation(SAMPLES, &|t| drop_column(t, 2, "collector"));
    assert_eq!(
        found,
        vec![
            finding("dd-entry-unused", "dd.csv", Some("collector")),
            finding("missing-column", SAMPLES, None),
        ]
    );
}

#[test]
fn a_material_outside_the_vocabulary_is_an_error() {
    let found = mutation(SAMPLES, &|t| {
        t.replacen("IEWER0001,NA,liquid water", "IEWER0001,NA,lemonade", 1)
    });
    assert_eq!(
        found,
        vec![finding("not-in-vocabulary", SAMPLES, Some("lemonade"))]
    );
}

#[test]
fn a_malformed_igsn_is_an_error() {
    let found = mutation(SAMPLES, &|t| {
        t.replace("ER_2019_06_02,IEWER0002", "ER_2019_06_02,iewer-0002")
    });
    assert_eq!(
        found,
        vec![
            finding("igsn-format", SAMPLES, Some("iewer-0002")),
            // The data file names the sample by IGSN too: that IGSN is no longer described.
            finding("undefined-igsn", DATA, Some("IEWER0002")),
        ]
    );
}

#[test]
fn a_sample_used_but_not_described_is_an_error_unless_its_igsn_is_linked() {
    let edit = |t: String| t.replace("ER_2019_06_02,IEWER0002", "ER_2019_06_09,IEWER0009");
    assert_eq!(
        mutation(DATA, &edit),
        vec![
            finding("undefined-igsn", DATA, Some("IEWER0009")),
            finding("undefined-sample", DATA, Some("ER_2019_06_09")),
        ]
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let files = dataset_with(dir.path(), Some((DATA, Some(&edit))));
    assert_eq!(all(&run(&files, &["IGSN:IEWER0009"])), vec![]);
}

#[test]
fn a_method_not_in_the_methods_file_is_an_error() {
    let found = mutation(DATA, &|t| t.replace("NPOC_0", "NPOC_9"));
    assert_eq!(
        found,
        vec![finding("undefined-method", DATA, Some("NPOC_9"))]
    );
}

#[test]
fn a_location_and_a_data_flag_must_be_defined() {
    let found = mutation(SAMPLES, &|t| t.replace("ER-R2", "ER-R9"));
    assert_eq!(
        found,
        vec![finding("undefined-location", SAMPLES, Some("ER-R9"))]
    );
    let found = mutation(DATA, &|t| t.replace(",BD,", ",XX,"));
    assert_eq!(found, vec![finding("undefined-term", DATA, Some("XX"))]);
}

#[test]
fn the_control_column_counts_must_agree() {
    let found = mutation(DATA, &|t| {
        t.replace("#Columns,6", "#Columns,7")
            .replace("#Header_Rows,8", "#Header_Rows,7")
    });
    assert_eq!(
        found,
        vec![
            finding("wssc-count", DATA, Some("7")),
            finding("wssc-count", DATA, Some("7")),
        ]
    );
}

#[test]
fn a_value_below_detection_needs_a_number_and_a_flag() {
    let found = mutation(DATA, &|t| {
        t.replace(",0.05,BD,", ",<0.1,BD,")
            .replace(",0.31", ",0.001")
    });
    assert_eq!(
        found,
        vec![finding("below-detection-code", DATA, Some("<0.1"))]
    );
    // Nitrate's detection limit is a method id, so 0.001 is not compared; DOC's is 0.1.
    let found = mutation(DATA, &|t| t.replace(",0.05,BD,", ",0.05,N/A,"));
    assert_eq!(
        found,
        vec![finding("below-detection-unflagged", DATA, Some("0.05"))]
    );
}

#[test]
fn parents_and_children_form_no_loop() {
    let found = mutation(SAMPLES, &|t| {
        t.replace(
            "ER_2019_06_01,IEWER0001,NA",
            "ER_2019_06_01,IEWER0001,IEWER0001A",
        )
    });
    assert_eq!(
        found,
        vec![finding("parent-cycle", SAMPLES, Some("IEWER0001A"))]
    );
    let found = mutation(SAMPLES, &|t| {
        t.replace(
            "ER_2019_06_02,IEWER0002,NA",
            "ER_2019_06_02,IEWER0002,IEWER0002",
        )
    });
    assert_eq!(
        found,
        vec![finding("parent-cycle", SAMPLES, Some("IEWER0002"))]
    );
}

/// Each official template and example, checked alone against its standard: exactly the
/// findings docs/standards.md predicts (per code, with suppressed ones counted). Filled
/// examples: only the trailing blank rows and unnamed columns their spreadsheet export
/// left (warnings), and the defects they really have (the FLMD example's header counts
/// in `Data_Orientation`, the LI-COR 6800 dictionary's repeated names, Windows-1252
/// bytes); unedited templates: their instruction rows, placeholders and empty cells.
type Expected = (&'static str, &'static str, &'static [(&'static str, u64)]);

const OFFICIAL: &[Expected] = &[
    (
        "essdive-sample",
        "sampleid-v1.1.1__sampleTemplate.csv",
        &[
            ("duplicate-label", 1),
            ("legacy-names", 1),
            ("missing-column", 2),
        ],
    ),
    (
        "essdive-wssc",
        "wssc-v1.0.1__examples_Data_req_example.csv",
        &[("blank-row", 12)],
    ),
    (
        "essdive-wssc",
        "wssc-v1.0.1__examples_Data_opt_example.csv",
        &[("blank-column", 1), ("blank-row", 15)],
    ),
    (
        "essdive-wssc",
        "wssc-v1.0.1__examples_Data_col_row_shift_example.csv",
        &[],
    ),
    (
        "essdive-wssc",
        "wssc-v1.0.1__templates_Data_req_template.csv",
        &[
            ("constraint-error", 10),
            ("missing-value-code", 32),
            ("wssc-count", 1),
            ("wssc-layout", 1),
        ],
    ),
    (
        "essdive-wssc",
        "wssc-v1.0.1__templates_Data_opt_template.csv",
        &[
            ("constraint-error", 10),
            ("missing-value-code", 65),
            ("wssc-count", 1),
            ("wssc-layout", 1),
        ],
    ),
    (
        "essdive-wssc-methods",
        "wssc-v1.0.1__examples_Methods_req_example.csv",
        &[
            ("blank-column", 1),
            ("blank-row", 992),
            ("missing-column", 2),
        ],
    ),
    (
        "essdive-wssc-methods",
        "wssc-v1.0.1__examples_Methods_opt_example.csv",
        &[("blank-column", 1), ("blank-row", 991), ("legacy-names", 1)],
    ),
    (
        "essdive-wssc-methods",
        "wssc-v1.0.1__templates_Methods_req_template.csv",
        &[("blank-column", 1), ("blank-row", 2), ("missing-column", 2)],
    ),
    (
        "essdive-wssc-methods",
        "wssc-v1.0.1__templates_Methods_opt_template.csv",
        &[("blank-column", 1), ("blank-row", 2), ("legacy-names", 1)],
    ),
    (
        "essdive-wssc-terms",
        "wssc-v1.0.1__examples_Terms_example.csv",
        &[],
    ),
    (
        "essdive-wssc-terms",
        "wssc-v1.0.1__examples_Terms_dd_combo_example.csv",
        &[],
    ),
    (
        "essdive-wssc-terms",
        "wssc-v1.0.1__templates_Terms_template.csv",
        &[("blank-row", 3)],
    ),
    (
        "essdive-wssc-terms",
        "wssc-v1.0.1__templates_Terms_dd_combo_template.csv",
        &[("blank-row", 1)],
    ),
    ("essdive-dd", "wssc-v1.0.1__examples_dd_example.csv", &[]),
    (
        "essdive-dd",
        "wssc-v1.0.1__templates_dd_template.csv",
        &[("blank-row", 1)],
    ),
    (
        "essdive-flmd",
        "wssc-v1.0.1__examples_flmd_example.csv",
        &[("blank-row", 990), ("constraint-error", 8)],
    ),
    (
        "essdive-flmd",
        "wssc-v1.0.1__templates_flmd_template.csv",
        &[],
    ),
    (
        "essdive-soil-respiration",
        "soilresp-v1.0.1__data_reportingformat_template.csv",
        &[("blank-row", 32), ("encoding-error", 2)],
    ),
    (
        "essdive-soil-respiration-chambers",
        "soilresp-v1.0.1__chammetadata_reportingformat_template.csv",
        &[("blank-row", 19), ("encoding-error", 3)],
    ),
    (
        "essdive-hydrologic-monitoring",
        "hydro-v1.0.1__HydroRF_Template_DataFile.csv",
        &[
            ("duplicate-label", 1),
            ("label-format", 3),
            ("leading-row", 1),
        ],
    ),
    (
        "essdive-hydrologic-installation",
        "hydro-v1.0.1__HydroRF_Template_InstallationMethods.csv",
        &[("blank-column", 1)],
    ),
    (
        "essdive-dd",
        "hydro-v1.0.1__HydroRF_Template_dd.csv",
        &[("blank-column", 1), ("legacy-names", 1)],
    ),
    (
        "essdive-flmd",
        "hydro-v1.0.1__HydroRF_Template_FLMD.csv",
        &[("blank-column", 1)],
    ),
    (
        "essdive-dd",
        "leafgas-v1.1.0__LICOR6400_v6.2_dd.csv",
        &[("encoding-error", 12)],
    ),
    (
        "essdive-dd",
        "leafgas-v1.1.0__LICOR6800_v2.1_dd.csv",
        &[("encoding-error", 71), ("primary-key", 3)],
    ),
    (
        "essdive-dd",
        "leafgas-v1.1.0__gas_exchange_methods_dd.csv",
        &[],
    ),
    (
        "essdive-dd",
        "leafgas-v1.1.0__instrument_details_dd.csv",
        &[],
    ),
    (
        "essdive-dd",
        "leafgas-v1.1.0__leaf_gasex_defined_variables_dd.csv",
        &[("encoding-error", 33)],
    ),
    (
        "essdive-amplicon-sequencing",
        "amplicon-v1.0.1__sequencing_metadata_template.csv",
        &[("not-in-vocabulary", 1)],
    ),
    (
        "essdive-amplicon-bioinformatic",
        "amplicon-v1.0.1__bioinformatic_metadata_template.csv",
        &[("blank-column", 1)],
    ),
];

#[test]
fn official_templates_and_examples_give_exactly_the_predicted_findings() {
    let r = registry();
    for (standard, file, expected) in OFFICIAL {
        let report =
            validate_file(&data(file), file, &[r.get(standard).expect("standard")]).expect("runs");
        let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
        for f in &report.findings {
            *counts.entry(f.code.to_string()).or_default() += 1;
        }
        for s in &report.suppressed {
            *counts.entry(s.code.to_string()).or_default() += s.count;
        }
        let want: std::collections::BTreeMap<String, u64> =
            expected.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        assert_eq!(counts, want, "{standard} on {file}");
    }
}

#[test]
fn the_sample_template_is_read_with_its_object_type_and_user_code_row() {
    let found = findings_of(
        &data("sampleid-v1.1.1__sampleTemplate.csv"),
        "sampleTemplate.csv",
        "essdive-sample",
    );
    // The unedited template: no object type or user code yet, and its two `Release Date`
    // columns; its SESAR labels are accepted with one warning.
    assert_eq!(
        codes_of(
            &data("sampleid-v1.1.1__sampleTemplate.csv"),
            "sampleTemplate.csv",
            "essdive-sample"
        ),
        strs(&[
            "duplicate-label",
            "legacy-names",
            "missing-column",
            "missing-column"
        ]),
        "{found:?}"
    );
}
