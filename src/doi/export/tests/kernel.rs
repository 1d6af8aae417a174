//! DataCite XML (checked against the kernel 4.6 XSD) and JSON.

use super::*;

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
