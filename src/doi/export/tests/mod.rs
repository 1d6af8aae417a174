use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;

use super::*;
use crate::deposit::access::Access;
use crate::deposit::metadata::{normalize, Metadata};

mod formats;
mod kernel;
mod signposts;

const FULL: &str = r#"{
  "titles": [
    {"title": "Flux tower \"EC\" data & <fluxes> 2024", "lang": "en"},
    {"title": "Flussdaten", "titleType": "TranslatedTitle", "lang": "de"}
  ],
  "creators": [
    {"name": "Doe, Jane Mary", "nameType": "Personal",
     "nameIdentifiers": [{"nameIdentifier": "0000-0002-1825-0097", "nameIdentifierScheme": "ORCID"}],
     "affiliation": [{"name": "Harvard University", "affiliationIdentifier": "https://ror.org/03vek6s52",
                      "affiliationIdentifierScheme": "ROR"}]},
    {"name": "Müller, Jörg", "nameType": "Personal"},
    {"name": "O'Brien & <Sons>", "nameType": "Organizational"},
    {"name": "Harvard Forest LTER", "nameType": "Organizational",
     "nameIdentifiers": [{"nameIdentifier": "https://ror.org/03vek6s52", "nameIdentifierScheme": "ROR"}]}
  ],
  "descriptions": [
    {"description": "Half-hourly fluxes.\nLine two with </script><!-- and 50% {braces}.", "descriptionType": "Abstract", "lang": "en"},
    {"description": "Eddy covariance.", "descriptionType": "Methods"}
  ],
  "subjects": [
    {"subject": "eddy covariance"},
    {"subject": "Earth and related environmental sciences", "subjectScheme": "Fields of Science and Technology (FOS)",
     "schemeUri": "http://www.oecd.org/science/inno", "valueUri": "http://www.oecd.org/science/inno/38235147.pdf"}
  ],
  "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Flux tower data"},
  "rightsList": [{"rightsIdentifier": "CC-BY-4.0"}],
  "fundingReferences": [
    {"funderName": "National Science Foundation", "funderIdentifier": "https://doi.org/10.13039/100000001",
     "funderIdentifierType": "Crossref Funder ID", "awardNumber": "DEB-1832210",
     "awardUri": "https://www.nsf.gov/awardsearch/showAward?AWD_ID=1832210", "awardTitle": "LTER: Harvard Forest"},
    {"funderName": "A funder without id"}
  ],
  "geoLocations": [
    {"geoLocationPlace": "Harvard Forest, Petersham, MA",
     "geoLocationPoint": {"pointLatitude": 42.5378, "pointLongitude": -72.1715}},
    {"geoLocationBox": {"westBoundLongitude": -72.3, "eastBoundLongitude": -72.1,
                        "southBoundLatitude": 42.4, "northBoundLatitude": 42.6}}
  ],
  "dates": [
    {"date": "2024-01-01/2024-12-31", "dateType": "Collected"},
    {"date": "2025-03-01", "dateType": "Created", "dateInformation": "first release"}
  ],
  "relatedIdentifiers": [
    {"relatedIdentifier": "10.1016/j.agrformet.2020.108350", "relatedIdentifierType": "DOI",
     "relationType": "IsSupplementTo", "resourceTypeGeneral": "JournalArticle"},
    {"relatedIdentifier": "https://example.org/protocol?a=1&b=2", "relatedIdentifierType": "URL", "relationType": "IsDocumentedBy"}
  ],
  "language": "en",
  "publicationYear": 2026
}"#;

const MINIMAL: &str = r#"{
  "titles": [{"title": "Minimal"}],
  "creators": [{"name": "Solo, Han", "nameType": "Personal"}]
}"#;

fn metadata(json: &str) -> Metadata {
    let mut m = Metadata::from_json(json).expect("fixture parses");
    normalize(&mut m);
    m
}

fn files() -> Vec<ExportFile> {
    vec![
        ExportFile {
            path: "data/fluxes.csv".into(),
            size: 1000,
            sha256: "ab".repeat(32),
            media_type: "text/csv".into(),
            download_url: "https://archive.example/datasets/7/versions/2/files/data/fluxes.csv"
                .into(),
        },
        ExportFile {
            path: "README.md".into(),
            size: 234,
            sha256: "cd".repeat(32),
            media_type: "text/markdown".into(),
            download_url: "https://archive.example/datasets/7/versions/2/files/README.md".into(),
        },
    ]
}

fn published() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 5, 4)
        .and_then(|d| d.and_hms_opt(12, 30, 0))
        .expect("valid date")
}

fn full<'a>(m: &'a Metadata, files: &'a [ExportFile]) -> PublishedRecord<'a> {
    PublishedRecord {
        metadata: m,
        doi: "10.5555/k7qz-m4r9",
        concept_doi: Some("10.5555/abcd-efgh"),
        previous_doi: Some("10.5555/prev-2345"),
        next_doi: None,
        has_versions: &[],
        version: 2,
        published: published(),
        publisher: "Holdfast Test Archive",
        landing_url: "https://archive.example/datasets/7/versions/2",
        files,
        catalog: Some(Catalog {
            name: "Holdfast Test Archive",
            url: "https://archive.example/",
        }),
        access: &Access::Open,
    }
}

fn minimal(m: &Metadata) -> PublishedRecord<'_> {
    PublishedRecord {
        metadata: m,
        doi: "10.5555/mini-mal2",
        concept_doi: None,
        previous_doi: None,
        next_doi: None,
        has_versions: &[],
        version: 1,
        published: published(),
        publisher: "Holdfast Test Archive",
        landing_url: "https://archive.example/datasets/1",
        files: &[],
        catalog: None,
        access: &Access::Open,
    }
}

// ---------- XSD validation through Python's xmlschema ----------

fn xsd_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datacite/kernel-4.6/metadata.xsd")
}

/// Validates `xml` against the official DataCite 4.6 XSD. A missing interpreter fails
/// the test: the external check must never be silently skipped.
fn xsd_validate(xml: &str) -> Result<(), String> {
    let python = std::env::var("HOLDFAST_TEST_PYTHON").expect(
        "HOLDFAST_TEST_PYTHON must point to a Python with xmlschema installed: run scripts/test",
    );
    let xsd = xsd_path();
    assert!(xsd.is_file(), "DataCite XSD not found at {}", xsd.display());
    let dir = tempfile::tempdir().expect("temp dir");
    let doc = dir.path().join("datacite.xml");
    std::fs::write(&doc, xml).expect("write temp xml");
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            "import xmlschema,sys; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])",
        ])
        .arg(&xsd)
        .arg(&doc)
        .output()
        .unwrap_or_else(|e| panic!("could not run HOLDFAST_TEST_PYTHON={python}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "xmlschema is not installed for {python}: {stderr}"
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr.into_owned())
    }
}
