//! The JSON form of a record: round trips, DataCite variants, bad input.

use super::*;

pub(super) const FULL_JSON: &str = r#"{
  "titles": [
    {"title": "Soil pore water chemistry, East River, 2019", "lang": "en"},
    {"title": "Porenwasserchemie", "titleType": "TranslatedTitle", "lang": "de"}
  ],
  "creators": [
    {
      "name": "Carberry, Josiah",
      "nameType": "Personal",
      "givenName": "Josiah",
      "familyName": "Carberry",
      "nameIdentifiers": [
        {"nameIdentifier": "https://orcid.org/0000-0002-1825-0097", "nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org"}
      ],
      "affiliation": [
        {"name": "Lawrence Berkeley National Laboratory", "affiliationIdentifier": "https://ror.org/02jbv0t02", "affiliationIdentifierScheme": "ROR", "schemeUri": "https://ror.org"}
      ]
    },
    {"name": "DataCite", "nameType": "Organizational",
     "nameIdentifiers": [{"nameIdentifier": "https://ror.org/04wxnsj81", "nameIdentifierScheme": "ROR", "schemeUri": "https://ror.org"}]}
  ],
  "descriptions": [
    {"description": "Pore water samples from the East River watershed.", "descriptionType": "Abstract"},
    {"description": "Samples were filtered at 0.45 um.", "descriptionType": "Methods"}
  ],
  "subjects": [
    {"subject": "hydrology"},
    {"subject": "Earth sciences", "subjectScheme": "Fields of Science and Technology (FOS)", "schemeUri": "http://www.oecd.org/science/inno/38235147.pdf", "classificationCode": "1.5"}
  ],
  "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Water chemistry"},
  "rightsList": [
    {"rights": "Creative Commons Attribution 4.0 International", "rightsUri": "https://creativecommons.org/licenses/by/4.0/legalcode", "rightsIdentifier": "CC-BY-4.0", "rightsIdentifierScheme": "SPDX", "schemeUri": "https://spdx.org/licenses/"}
  ],
  "fundingReferences": [
    {"funderName": "U.S. Department of Energy", "funderIdentifier": "https://ror.org/01bj3aw27", "funderIdentifierType": "ROR", "awardNumber": "DE-AC02-05CH11231", "awardUri": "https://www.osti.gov/award/DE-AC02-05CH11231", "awardTitle": "Watershed Function SFA"}
  ],
  "geoLocations": [
    {"geoLocationPlace": "East River, Colorado", "geoLocationPoint": {"pointLatitude": 38.92, "pointLongitude": -106.95}},
    {"geoLocationBox": {"westBoundLongitude": -107.1, "eastBoundLongitude": -106.8, "southBoundLatitude": 38.8, "northBoundLatitude": 39.0}}
  ],
  "dates": [
    {"date": "2019-05-01/2019-10-31", "dateType": "Collected", "dateInformation": "Field season"}
  ],
  "relatedIdentifiers": [
    {"relatedIdentifier": "10.82433/example-0001", "relatedIdentifierType": "DOI", "relationType": "IsSupplementTo", "resourceTypeGeneral": "JournalArticle"}
  ],
  "language": "en",
  "version": "1.0",
  "publicationYear": 2025,
  "publisher": {"name": "Holdfast Archive", "publisherIdentifier": "https://ror.org/02jbv0t02", "publisherIdentifierScheme": "ROR", "schemeUri": "https://ror.org/"}
}"#;

#[test]
fn json_round_trip_full_record() {
    let m = Metadata::from_json(FULL_JSON).expect("parses");
    assert_eq!(validate(&m), Ok(()));
    let out = m.to_json();
    let again = Metadata::from_json(&out).expect("re-parses");
    assert_eq!(again, m);
    // Same JSON value as the input (nothing added, nothing lost).
    let a: serde_json::Value = serde_json::from_str(FULL_JSON).expect("json");
    let b: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(a, b);
    // Normalising a clean record changes nothing.
    let mut n = m.clone();
    normalize(&mut n);
    assert_eq!(n, m);
}

#[test]
fn json_accepts_string_numbers_and_datacite_variants() {
    let json = r#"{
      "titles": [{"title": "T", "titleType": null}],
      "creators": [{"name": "Doe, Jane", "nameType": "Personal", "affiliation": ["Example University"], "nameIdentifiers": null}],
      "geoLocations": [{"geoLocationPoint": {"pointLatitude": "38.92", "pointLongitude": " -106.95 "}}],
      "publicationYear": "2025",
      "publisher": "Holdfast Archive",
      "language": null
    }"#;
    let m = Metadata::from_json(json).expect("parses");
    let p = m.geo_locations[0]
        .geo_location_point
        .as_ref()
        .expect("point");
    assert_eq!(p.point_latitude, Some(38.92));
    assert_eq!(p.point_longitude, Some(-106.95));
    assert_eq!(m.publication_year, Some(2025));
    assert_eq!(m.creators[0].affiliation[0].name, "Example University");
    let out: serde_json::Value = serde_json::from_str(&m.to_json()).expect("json");
    assert_eq!(
        out["geoLocations"][0]["geoLocationPoint"]["pointLatitude"],
        38.92
    );
    assert_eq!(out["publicationYear"], 2025);
    assert_eq!(out["publisher"], "Holdfast Archive");
    assert_eq!(
        out["creators"][0]["affiliation"][0]["name"],
        "Example University"
    );
    // Empty optional fields are skipped.
    assert!(out["titles"][0].get("titleType").is_none());
    assert!(out.get("language").is_none());
    assert!(out.get("dates").is_none());
    assert!(out["creators"][0].get("nameIdentifiers").is_none());
}

#[test]
fn json_rejects_bad_input() {
    let e = Metadata::from_json(r#"{"titles": [], "colour": "blue"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    let e = Metadata::from_json(r#"{"titles": [{"title": "T", "subtitle": "x"}]}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `subtitle`"), "{e}");
    let e = Metadata::from_json(
        r#"{"geoLocations": [{"geoLocationPoint": {"pointLatitude": "north"}}]}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("decimal number"), "{e}");
    assert!(Metadata::from_json(
        r#"{"geoLocations": [{"geoLocationPoint": {"pointLatitude": "NaN"}}]}"#
    )
    .is_err());
    assert!(Metadata::from_json(r#"{"publicationYear": 2025.5}"#).is_err());
}
