use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;

use super::*;
use crate::deposit::access::Access;
use crate::deposit::metadata::{normalize, Metadata};

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

#[test]
fn datacite_xml_of_full_record_validates_against_xsd() {
    let m = metadata(FULL);
    let f = files();
    let xml = datacite_xml(&full(&m, &f));
    if let Err(e) = xsd_validate(&xml) {
        panic!("invalid DataCite XML:\n{e}\n{xml}");
    }
}

#[test]
fn datacite_xml_of_minimal_record_validates_against_xsd() {
    let m = metadata(MINIMAL);
    let xml = datacite_xml(&minimal(&m));
    if let Err(e) = xsd_validate(&xml) {
        panic!("invalid DataCite XML:\n{e}\n{xml}");
    }
    // Even metadata missing mandatory values yields a valid document (":unav").
    let empty = Metadata::default();
    let xml = datacite_xml(&minimal(&empty));
    if let Err(e) = xsd_validate(&xml) {
        panic!("invalid DataCite XML:\n{e}\n{xml}");
    }
}

#[test]
fn xsd_helper_rejects_invalid_documents() {
    let m = metadata(MINIMAL);
    let good = datacite_xml(&minimal(&m));
    // Schema-invalid: a resourceTypeGeneral outside the controlled list.
    let bad_type = good.replace(
        "resourceTypeGeneral=\"Dataset\"",
        "resourceTypeGeneral=\"Spreadsheet\"",
    );
    assert_ne!(bad_type, good);
    assert!(xsd_validate(&bad_type).is_err());
    // Schema-invalid: the mandatory publisher removed.
    let start = good.find("<publisher").expect("publisher");
    let end = good.find("</publisher>").expect("publisher end") + "</publisher>".len();
    let no_publisher = format!("{}{}", &good[..start], &good[end..]);
    assert!(xsd_validate(&no_publisher).is_err());
    // Not well-formed at all.
    assert!(xsd_validate("<resource><unclosed></resource>").is_err());
}

#[test]
fn datacite_xml_maps_every_field() {
    let m = metadata(FULL);
    let f = files();
    let xml = datacite_xml(&full(&m, &f));
    for needle in [
        "xmlns=\"http://datacite.org/schema/kernel-4\"",
        "kernel-4.6/metadata.xsd",
        "<identifier identifierType=\"DOI\">10.5555/k7qz-m4r9</identifier>",
        "<creatorName nameType=\"Personal\">Doe, Jane Mary</creatorName>",
        "<givenName>Jane Mary</givenName>",
        "<familyName>Doe</familyName>",
        "<nameIdentifier nameIdentifierScheme=\"ORCID\" schemeURI=\"https://orcid.org\">https://orcid.org/0000-0002-1825-0097</nameIdentifier>",
        "affiliationIdentifier=\"https://ror.org/03vek6s52\" affiliationIdentifierScheme=\"ROR\"",
        "<creatorName nameType=\"Personal\">Müller, Jörg</creatorName>",
        "<creatorName nameType=\"Organizational\">O&apos;Brien &amp; &lt;Sons&gt;</creatorName>",
        "Flux tower &quot;EC&quot; data &amp; &lt;fluxes&gt; 2024",
        "<title titleType=\"TranslatedTitle\" xml:lang=\"de\">Flussdaten</title>",
        "<publisher>Holdfast Test Archive</publisher>",
        "<publicationYear>2026</publicationYear>",
        "<resourceType resourceTypeGeneral=\"Dataset\">Flux tower data</resourceType>",
        "subjectScheme=\"Fields of Science and Technology (FOS)\"",
        "<date dateType=\"Collected\">2024-01-01/2024-12-31</date>",
        "<date dateType=\"Created\" dateInformation=\"first release\">2025-03-01</date>",
        "<date dateType=\"Issued\">2026-05-04</date>",
        "<language>en</language>",
        "relationType=\"IsSupplementTo\" resourceTypeGeneral=\"JournalArticle\">10.1016/j.agrformet.2020.108350<",
        "https://example.org/protocol?a=1&amp;b=2",
        "relationType=\"IsVersionOf\" resourceTypeGeneral=\"Dataset\">10.5555/abcd-efgh<",
        "relationType=\"IsNewVersionOf\" resourceTypeGeneral=\"Dataset\">10.5555/prev-2345<",
        "<size>1234 bytes</size>",
        "<size>2 files</size>",
        "<format>text/csv</format>",
        "<format>text/markdown</format>",
        "<version>2</version>",
        "rightsIdentifier=\"CC-BY-4.0\"",
        "rightsIdentifierScheme=\"SPDX\"",
        "schemeURI=\"https://spdx.org/licenses/\"",
        "descriptionType=\"Abstract\"",
        "<geoLocationPlace>Harvard Forest, Petersham, MA</geoLocationPlace>",
        "<pointLatitude>42.5378</pointLatitude>",
        "<pointLongitude>-72.1715</pointLongitude>",
        "<westBoundLongitude>-72.3</westBoundLongitude>",
        "<northBoundLatitude>42.6</northBoundLatitude>",
        "<funderIdentifier funderIdentifierType=\"Crossref Funder ID\">https://doi.org/10.13039/100000001</funderIdentifier>",
        "<awardNumber awardURI=\"https://www.nsf.gov/awardsearch/showAward?AWD_ID=1832210\">DEB-1832210</awardNumber>",
        "<awardTitle>LTER: Harvard Forest</awardTitle>",
        "<funderName>A funder without id</funderName>",
    ] {
        assert!(xml.contains(needle), "missing {needle} in\n{xml}");
    }
    assert!(!xml.contains("<Sons>"));
}

#[test]
fn datacite_xml_drops_characters_xml_forbids() {
    let mut m = metadata(MINIMAL);
    m.titles[0].title = "Bell\u{7} and NUL\u{0} gone".into();
    let xml = datacite_xml(&minimal(&m));
    assert!(xml.contains("<title>Bell and NUL gone</title>"), "{xml}");
}

#[test]
fn datacite_json_has_rest_api_shape() {
    let m = metadata(FULL);
    let f = files();
    let v = datacite_json(&full(&m, &f));
    assert_eq!(v["doi"], "10.5555/k7qz-m4r9");
    assert_eq!(v["prefix"], "10.5555");
    assert_eq!(v["suffix"], "k7qz-m4r9");
    assert_eq!(v["url"], "https://archive.example/datasets/7/versions/2");
    assert_eq!(v["types"]["resourceTypeGeneral"], "Dataset");
    assert_eq!(v["types"]["resourceType"], "Flux tower data");
    assert_eq!(v["types"]["ris"], "DATA");
    assert_eq!(v["types"]["bibtex"], "misc");
    assert_eq!(v["types"]["citeproc"], "dataset");
    assert_eq!(v["types"]["schemaOrg"], "Dataset");
    assert_eq!(v["creators"][0]["givenName"], "Jane Mary");
    assert_eq!(
        v["creators"][0]["nameIdentifiers"][0]["nameIdentifier"],
        "https://orcid.org/0000-0002-1825-0097"
    );
    assert_eq!(
        v["creators"][0]["affiliation"][0]["affiliationIdentifierScheme"],
        "ROR"
    );
    assert_eq!(v["creators"][2]["name"], "O'Brien & <Sons>");
    assert_eq!(
        v["titles"][0]["title"],
        "Flux tower \"EC\" data & <fluxes> 2024"
    );
    assert_eq!(v["publisher"], "Holdfast Test Archive");
    assert_eq!(v["publicationYear"], 2026);
    assert_eq!(v["version"], "2");
    assert_eq!(v["sizes"][0], "1234 bytes");
    assert_eq!(
        v["formats"],
        serde_json::json!(["text/csv", "text/markdown"])
    );
    assert_eq!(v["rightsList"][0]["rightsIdentifier"], "CC-BY-4.0");
    assert_eq!(
        v["geoLocations"][0]["geoLocationPoint"]["pointLatitude"],
        42.5378
    );
    let rel = v["relatedIdentifiers"].as_array().expect("array");
    assert!(rel.iter().any(
        |r| r["relationType"] == "IsVersionOf" && r["relatedIdentifier"] == "10.5555/abcd-efgh"
    ));
    let dates = v["dates"].as_array().expect("array");
    assert!(dates
        .iter()
        .any(|d| d["dateType"] == "Issued" && d["date"] == "2026-05-04"));
    // The attributes read back as deposit metadata field names (plus API-only ones).
    assert!(v["fundingReferences"][0]["awardNumber"] == "DEB-1832210");
}

#[test]
fn schema_org_dataset_for_landing_pages() {
    let m = metadata(FULL);
    let f = files();
    let v = schema_org_jsonld(&full(&m, &f));
    assert_eq!(v["@context"], "https://schema.org");
    assert_eq!(v["@type"], "Dataset");
    assert_eq!(v["@id"], "https://doi.org/10.5555/k7qz-m4r9");
    assert_eq!(v["identifier"], "https://doi.org/10.5555/k7qz-m4r9");
    assert_eq!(v["name"], "Flux tower \"EC\" data & <fluxes> 2024");
    assert!(v["description"]
        .as_str()
        .expect("description")
        .starts_with("Half-hourly fluxes."));
    let doe = &v["creator"][0];
    assert_eq!(doe["@type"], "Person");
    assert_eq!(doe["@id"], "https://orcid.org/0000-0002-1825-0097");
    assert_eq!(doe["givenName"], "Jane Mary");
    assert_eq!(doe["familyName"], "Doe");
    assert_eq!(doe["affiliation"][0]["@id"], "https://ror.org/03vek6s52");
    assert_eq!(v["creator"][1]["name"], "Jörg Müller");
    assert_eq!(v["creator"][2]["@type"], "Organization");
    assert_eq!(v["creator"][3]["@id"], "https://ror.org/03vek6s52");
    assert_eq!(
        v["license"],
        "https://creativecommons.org/licenses/by/4.0/legalcode"
    );
    assert_eq!(v["keywords"][0], "eddy covariance");
    assert_eq!(v["temporalCoverage"], "2024-01-01/2024-12-31");
    let places = v["spatialCoverage"].as_array().expect("places");
    assert_eq!(places[0]["@type"], "Place");
    assert_eq!(places[0]["name"], "Harvard Forest, Petersham, MA");
    assert_eq!(places[0]["geo"]["@type"], "GeoCoordinates");
    assert_eq!(places[0]["geo"]["latitude"], 42.5378);
    assert_eq!(places[1]["geo"]["@type"], "GeoShape");
    assert_eq!(places[1]["geo"]["box"], "42.4 -72.3 42.6 -72.1");
    let dist = v["distribution"].as_array().expect("distribution");
    assert_eq!(dist.len(), 2);
    assert_eq!(dist[0]["@type"], "DataDownload");
    assert_eq!(
        dist[0]["contentUrl"],
        "https://archive.example/datasets/7/versions/2/files/data/fluxes.csv"
    );
    assert_eq!(dist[0]["encodingFormat"], "text/csv");
    assert_eq!(dist[0]["contentSize"], "1000 B");
    assert_eq!(v["version"], "2");
    assert_eq!(v["datePublished"], "2026-05-04");
    assert_eq!(v["publisher"]["@type"], "Organization");
    assert_eq!(v["includedInDataCatalog"]["@type"], "DataCatalog");
    assert_eq!(
        v["funding"][0]["funder"]["name"],
        "National Science Foundation"
    );
}

#[test]
fn jsonld_script_text_cannot_close_the_script_element() {
    let m = metadata(FULL);
    let f = files();
    let v = schema_org_jsonld(&full(&m, &f));
    assert!(v.to_string().contains("</script>"));
    let text = jsonld_script_text(&v);
    assert!(!text.contains('<'));
    assert!(!text.contains('>'));
    assert!(!text.contains('&'));
    assert!(text.contains("\\u003c/script\\u003e\\u003c!--"));
    let back: Value = serde_json::from_str(&text).expect("still JSON");
    assert_eq!(back, v);
    let odd = serde_json::json!({ "name": "a\u{2028}b" });
    assert_eq!(jsonld_script_text(&odd), "{\"name\":\"a\\u2028b\"}");
}

#[test]
fn bibtex_entry_is_escaped_and_balanced() {
    let m = metadata(FULL);
    let f = files();
    let b = bibtex(&full(&m, &f));
    assert!(b.starts_with("@misc{10.5555/k7qz-m4r9,\n"), "{b}");
    assert!(b.ends_with("}\n"));
    assert!(b.contains(
        "author    = {Doe, Jane Mary and Müller, Jörg and {O'Brien \\& \\textless{}Sons\\textgreater{}} and {Harvard Forest LTER}},"
    ), "{b}");
    assert!(
        b.contains(
            "title     = {{Flux tower \"EC\" data \\& \\textless{}fluxes\\textgreater{} 2024}},"
        ),
        "{b}"
    );
    assert!(b.contains("year      = {2026},"));
    assert!(b.contains("doi       = {10.5555/k7qz-m4r9},"));
    assert!(b.contains("url       = {https://doi.org/10.5555/k7qz-m4r9},"));
    assert!(b.contains("version   = {2},"));
    assert!(b.contains("50\\% \\{braces\\}"), "{b}");
    // Braces balance: unescaped { and } pair up.
    let mut depth = 0i32;
    let mut prev = ' ';
    for c in b.chars() {
        if prev != '\\' {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0, "{b}");
        }
        prev = c;
    }
    assert_eq!(depth, 0, "{b}");
    // Every field on its own line, one entry.
    assert_eq!(b.matches('@').count(), 1);
}

#[test]
fn ris_record_structure() {
    let m = metadata(FULL);
    let f = files();
    let r = ris(&full(&m, &f));
    let lines: Vec<&str> = r.split("\r\n").collect();
    assert_eq!(lines[0], "TY  - DATA");
    assert_eq!(lines[lines.len() - 2], "ER  - ");
    assert_eq!(lines[lines.len() - 1], "");
    for l in &lines[..lines.len() - 1] {
        assert!(
            l.len() >= 6 && l.as_bytes()[2..6] == *b"  - ",
            "bad RIS line {l:?}"
        );
    }
    assert!(!r.replace("\r\n", "").contains('\n'));
    assert!(lines.contains(&"AU  - Doe, Jane Mary"));
    assert!(lines.contains(&"AU  - Müller, Jörg"));
    assert!(lines.contains(&"AU  - O'Brien & <Sons>"));
    assert!(lines.contains(&"TI  - Flux tower \"EC\" data & <fluxes> 2024"));
    assert!(lines.contains(&"PY  - 2026"));
    assert!(lines.contains(&"DA  - 2026/05/04"));
    assert!(lines.contains(&"PB  - Holdfast Test Archive"));
    assert!(lines.contains(&"DO  - 10.5555/k7qz-m4r9"));
    assert!(lines.contains(&"UR  - https://doi.org/10.5555/k7qz-m4r9"));
    assert!(lines.contains(&"KW  - eddy covariance"));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("AB  - Half-hourly fluxes. Line two")));
}

#[test]
fn csl_json_item() {
    let m = metadata(FULL);
    let f = files();
    let c = csl_json(&full(&m, &f));
    assert_eq!(c["type"], "dataset");
    assert_eq!(c["id"], "https://doi.org/10.5555/k7qz-m4r9");
    assert_eq!(c["DOI"], "10.5555/k7qz-m4r9");
    assert_eq!(c["URL"], "https://doi.org/10.5555/k7qz-m4r9");
    assert_eq!(
        c["author"][0],
        serde_json::json!({"family": "Doe", "given": "Jane Mary"})
    );
    assert_eq!(
        c["author"][1],
        serde_json::json!({"family": "Müller", "given": "Jörg"})
    );
    assert_eq!(
        c["author"][2],
        serde_json::json!({"literal": "O'Brien & <Sons>"})
    );
    assert_eq!(c["issued"]["date-parts"], serde_json::json!([[2026, 5, 4]]));
    assert_eq!(c["publisher"], "Holdfast Test Archive");
    assert_eq!(c["version"], "2");
    assert!(c["abstract"].as_str().is_some());
    assert_eq!(
        c["keyword"],
        "eddy covariance, Earth and related environmental sciences"
    );
}

#[test]
fn apa_citation() {
    let m = metadata(FULL);
    let f = files();
    assert_eq!(
        apa(&full(&m, &f)),
        "Doe, J. M., Müller, J., O'Brien & <Sons>, & Harvard Forest LTER. (2026). \
         Flux tower \"EC\" data & <fluxes> 2024 (Version 2) [Data set]. Holdfast Test Archive. \
         https://doi.org/10.5555/k7qz-m4r9"
    );
    let two = metadata(
        r#"{"titles": [{"title": "Fluxes."}],
            "creators": [{"name": "Doe, Jane", "nameType": "Personal"},
                         {"name": "Harvard Forest LTER", "nameType": "Organizational"}]}"#,
    );
    assert_eq!(
        apa(&minimal(&two)),
        "Doe, J., & Harvard Forest LTER. (2026). Fluxes (Version 1) [Data set]. \
         Holdfast Test Archive. https://doi.org/10.5555/mini-mal2"
    );
    let none = metadata(r#"{"titles": [{"title": "Anonymous"}]}"#);
    assert_eq!(
        apa(&minimal(&none)),
        "Anonymous (Version 1) [Data set]. (2026). Holdfast Test Archive. \
         https://doi.org/10.5555/mini-mal2"
    );
}

#[test]
fn initials_from_given_names() {
    assert_eq!(names::initials("Jörg"), "J.");
    assert_eq!(names::initials("Mary-Jane"), "M.-J.");
    assert_eq!(names::initials("John Ronald Reuel"), "J. R. R.");
    assert_eq!(names::initials("ángel"), "Á.");
}

#[test]
fn chicago_and_harvard_citations() {
    let m = metadata(FULL);
    let f = files();
    let r = full(&m, &f);
    assert_eq!(
        chicago(&r),
        "Doe, Jane Mary, Jörg Müller, O'Brien & <Sons>, and Harvard Forest LTER. 2026. \
         Flux tower \"EC\" data & <fluxes> 2024. Version 2. Dataset. Holdfast Test Archive. \
         https://doi.org/10.5555/k7qz-m4r9."
    );
    assert_eq!(
        harvard(&r),
        "Doe, J. M., Müller, J., O'Brien & <Sons> and Harvard Forest LTER (2026) \
         Flux tower \"EC\" data & <fluxes> 2024 (Version 2) [Data set]. Holdfast Test Archive. \
         Available at: https://doi.org/10.5555/k7qz-m4r9"
    );
    assert_eq!(cite(CitationStyle::Apa, &r), apa(&r));
    assert_eq!(cite(CitationStyle::Chicago, &r), chicago(&r));
    assert_eq!(
        "Harvard".parse::<CitationStyle>(),
        Ok(CitationStyle::Harvard)
    );
    assert!("mla".parse::<CitationStyle>().is_err());
}

#[test]
fn dois_with_url_specials_are_encoded() {
    assert_eq!(
        doi_url("10.1000/a#b?c d"),
        "https://doi.org/10.1000/a%23b%3Fc%20d"
    );
    assert_eq!(
        doi_url("10.5555/k7qz-m4r9"),
        "https://doi.org/10.5555/k7qz-m4r9"
    );
}

#[test]
fn version_links_skip_what_metadata_states_and_self() {
    let mut m = metadata(MINIMAL);
    m.related_identifiers
        .push(crate::deposit::metadata::RelatedIdentifier {
            related_identifier: "10.5555/abcd-efgh".into(),
            related_identifier_type: "DOI".into(),
            relation_type: "IsVersionOf".into(),
            ..Default::default()
        });
    let mut r = minimal(&m);
    r.concept_doi = Some("10.5555/abcd-efgh");
    r.next_doi = Some("10.5555/next-2345");
    r.previous_doi = Some("10.5555/mini-mal2"); // its own DOI: never a relation
    let xml = datacite_xml(&r);
    assert_eq!(xml.matches("IsVersionOf").count(), 1, "{xml}");
    assert!(xml.contains("relationType=\"IsPreviousVersionOf\""));
    assert!(!xml.contains("IsNewVersionOf"));
}

#[test]
fn a_concept_record_lists_its_versions_and_validates() {
    let m = metadata(FULL);
    let f = files();
    let versions = vec![
        "10.5555/prev-2345".to_string(),
        "10.5555/k7qz-m4r9".to_string(),
    ];
    let concept = PublishedRecord {
        doi: "10.5555/abcd-efgh",
        concept_doi: None,
        previous_doi: None,
        next_doi: None,
        has_versions: &versions,
        landing_url: "https://archive.example/datasets/7",
        ..full(&m, &f)
    };
    let xml = datacite_xml(&concept);
    for v in &versions {
        assert!(
            xml.contains(&format!(
                "relationType=\"HasVersion\" resourceTypeGeneral=\"Dataset\">{v}<"
            )),
            "{xml}"
        );
    }
    assert!(!xml.contains("IsVersionOf") && !xml.contains("IsNewVersionOf"));
    assert!(xml.contains("<identifier identifierType=\"DOI\">10.5555/abcd-efgh</identifier>"));
    if let Err(e) = xsd_validate(&xml) {
        panic!("invalid DataCite XML:\n{e}\n{xml}");
    }
    // Its own DOI among the versions is never a relation.
    let with_self = vec!["10.5555/abcd-efgh".to_string()];
    let r = PublishedRecord {
        has_versions: &with_self,
        ..concept
    };
    assert!(!datacite_xml(&r).contains("HasVersion"));
}

// ---------- FAIR Signposting ----------

fn signpost_urls(metadata: &[signposting::MetadataDoc]) -> signposting::Urls<'_> {
    signposting::Urls {
        landing: "https://archive.example/datasets/7/versions/2",
        metadata,
        linkset: "https://archive.example/datasets/7/versions/2/linkset",
    }
}

fn metadata_docs() -> Vec<signposting::MetadataDoc> {
    vec![
        signposting::MetadataDoc {
            url: "https://archive.example/datasets/7/versions/2/export/datacite-xml".into(),
            media_type: "application/vnd.datacite.datacite+xml",
            profile: None,
        },
        signposting::MetadataDoc {
            url: "https://archive.example/datasets/7/versions/2/export/json-ld".into(),
            media_type: "application/ld+json",
            profile: Some("https://schema.org"),
        },
    ]
}

#[test]
fn the_landing_header_carries_every_level_one_link() {
    let m = metadata(FULL);
    let f = files();
    let docs = metadata_docs();
    let header = signposting::landing_header(&full(&m, &f), &signpost_urls(&docs));
    for expected in [
        r#"<https://doi.org/10.5555/k7qz-m4r9>; rel="cite-as""#,
        r#"<https://schema.org/Dataset>; rel="type""#,
        r#"<https://schema.org/AboutPage>; rel="type""#,
        r#"<https://orcid.org/0000-0002-1825-0097>; rel="author""#,
        r#"<https://creativecommons.org/licenses/by/4.0/legalcode>; rel="license""#,
        r#"<https://archive.example/datasets/7/versions/2/export/datacite-xml>; rel="describedby"; type="application/vnd.datacite.datacite+xml""#,
        r#"<https://archive.example/datasets/7/versions/2/export/json-ld>; rel="describedby"; type="application/ld+json"; profile="https://schema.org""#,
        r#"<https://archive.example/datasets/7/versions/2/files/data/fluxes.csv>; rel="item"; type="text/csv""#,
        r#"<https://archive.example/datasets/7/versions/2/files/README.md>; rel="item"; type="text/markdown""#,
        r#"<https://archive.example/datasets/7/versions/2/linkset>; rel="linkset"; type="application/linkset""#,
        r#"<https://archive.example/datasets/7/versions/2/linkset?format=json>; rel="linkset"; type="application/linkset+json""#,
    ] {
        assert!(header.contains(expected), "{expected}\nnot in\n{header}");
    }
    assert_eq!(header.matches("rel=\"author\"").count(), 1, "only ORCIDs");
    assert!(!header.contains('\n'), "a header is one line");
}

#[test]
fn many_files_leave_items_to_the_link_set() {
    let m = metadata(FULL);
    let many: Vec<ExportFile> = (0..=signposting::MAX_HEADER_ITEMS)
        .map(|i| ExportFile {
            path: format!("f{i}.csv"),
            size: 1,
            sha256: "ab".repeat(32),
            media_type: "text/csv; charset=utf-8".into(),
            download_url: format!("https://archive.example/datasets/7/versions/2/files/f{i}.csv"),
        })
        .collect();
    let docs = metadata_docs();
    let record = full(&m, &many);
    let urls = signpost_urls(&docs);
    let header = signposting::landing_header(&record, &urls);
    assert!(!header.contains("rel=\"item\""), "{header}");
    assert!(header.contains("rel=\"linkset\""));
    let sets = signposting::linkset(&record, &urls);
    let items: Vec<_> = sets[0].links.iter().filter(|l| l.rel == "item").collect();
    assert_eq!(items.len(), many.len(), "the link set lists every file");
    assert_eq!(
        items[0].media_type.as_deref(),
        Some("text/csv"),
        "parameters are dropped from link types"
    );
    // Each file and each metadata document links back to the landing page.
    assert_eq!(sets.len(), 1 + many.len() + docs.len());
    assert!(sets[1..].iter().all(|c| c.links.len() == 1
        && c.links[0].href == "https://archive.example/datasets/7/versions/2"));
}

#[test]
fn link_sets_come_in_both_rfc_9264_forms() {
    let m = metadata(FULL);
    let f = files();
    let docs = metadata_docs();
    let sets = signposting::linkset(&full(&m, &f), &signpost_urls(&docs));
    let json = signposting::linkset_json(&sets);
    let list = json["linkset"].as_array().expect("a linkset array");
    let landing = &list[0];
    assert_eq!(
        landing["anchor"],
        "https://archive.example/datasets/7/versions/2"
    );
    assert_eq!(
        landing["cite-as"][0]["href"],
        "https://doi.org/10.5555/k7qz-m4r9"
    );
    assert_eq!(landing["type"].as_array().map(Vec::len), Some(2));
    assert_eq!(landing["item"].as_array().map(Vec::len), Some(2));
    assert_eq!(landing["describedby"][1]["type"], "application/ld+json");
    assert!(
        landing["describedby"][1].get("profile").is_none(),
        "profile would have to be an array in JSON, which common clients cannot read"
    );
    let file = list
        .iter()
        .find(|c| c["anchor"] == "https://archive.example/datasets/7/versions/2/files/README.md")
        .expect("a context per file");
    assert_eq!(
        file["collection"][0]["href"],
        "https://archive.example/datasets/7/versions/2"
    );
    assert!(list.iter().any(|c| c.get("describes").is_some()));

    let text = signposting::linkset_text(&sets);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 10);
    for line in &lines {
        assert!(
            line.contains("; anchor=\"https://archive.example/"),
            "{line}"
        );
    }
    assert!(text.contains("profile=\"https://schema.org\""));
}

#[test]
fn link_urls_are_made_safe_and_link_sets_negotiated() {
    assert_eq!(
        signposting::uri("https://example.org/my license/ü?a=\"b\""),
        "https://example.org/my%20license/%C3%BC?a=%22b%22"
    );
    assert_eq!(
        signposting::uri("https://example.org/a%20b"),
        "https://example.org/a%20b",
        "already encoded URLs are kept"
    );
    use signposting::{negotiate, LINKSET, LINKSET_JSON};
    assert_eq!(negotiate(None, ""), Some(LINKSET));
    assert_eq!(negotiate(None, "*/*"), Some(LINKSET));
    assert_eq!(
        negotiate(None, "application/linkset+json"),
        Some(LINKSET_JSON)
    );
    assert_eq!(
        negotiate(
            None,
            "application/linkset+json,application/linkset;q=0.9,application/json;q=0.3,text/plain;q=0.2"
        ),
        Some(LINKSET_JSON)
    );
    assert_eq!(
        negotiate(None, "application/linkset, application/linkset+json;q=0.5"),
        Some(LINKSET)
    );
    assert_eq!(
        negotiate(Some("json"), "application/linkset"),
        Some(LINKSET_JSON)
    );
    assert_eq!(
        negotiate(Some("linkset"), "application/linkset+json"),
        Some(LINKSET)
    );
    assert_eq!(negotiate(Some("xml"), ""), None);
}
