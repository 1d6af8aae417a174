//! Tests for validation, normalisation, JSON and form mapping.

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A minimal valid dataset.
fn valid() -> Metadata {
    Metadata {
        titles: vec![Title {
            title: "Soil pore water chemistry, East River, 2019".into(),
            ..Title::default()
        }],
        creators: vec![Creator {
            name: "Carberry, Josiah".into(),
            name_type: Some("Personal".into()),
            given_name: Some("Josiah".into()),
            family_name: Some("Carberry".into()),
            name_identifiers: vec![NameIdentifier {
                name_identifier: "https://orcid.org/0000-0002-1825-0097".into(),
                name_identifier_scheme: "ORCID".into(),
                scheme_uri: Some("https://orcid.org".into()),
            }],
            affiliation: vec![Affiliation {
                name: "Lawrence Berkeley National Laboratory".into(),
                affiliation_identifier: Some("https://ror.org/02jbv0t02".into()),
                affiliation_identifier_scheme: Some("ROR".into()),
                scheme_uri: Some("https://ror.org".into()),
            }],
        }],
        descriptions: vec![Description {
            description: "Pore water samples from the East River watershed.".into(),
            description_type: "Abstract".into(),
            lang: None,
        }],
        types: Some(Types {
            resource_type_general: "Dataset".into(),
            resource_type: None,
        }),
        rights_list: vec![Rights {
            rights_identifier: Some("CC-BY-4.0".into()),
            ..Rights::default()
        }],
        ..Metadata::default()
    }
}

fn errors(m: &Metadata) -> Vec<FieldError> {
    validate(m).err().unwrap_or_default()
}

fn fields(m: &Metadata) -> Vec<String> {
    errors(m).into_iter().map(|e| e.field).collect()
}

fn message_for(m: &Metadata, field: &str) -> String {
    errors(m)
        .into_iter()
        .find(|e| e.field == field)
        .map(|e| e.message)
        .unwrap_or_else(|| panic!("no error on {field}: {:?}", errors(m)))
}

#[test]
fn minimal_valid_record_passes() {
    assert_eq!(validate(&valid()), Ok(()));
    let mut m = valid();
    normalize(&mut m);
    assert_eq!(validate(&m), Ok(()));
}

#[test]
fn empty_record_reports_everything() {
    let f = fields(&Metadata::default());
    for want in [
        "titles",
        "creators",
        "types.resourceTypeGeneral",
        "rightsList",
    ] {
        assert!(f.contains(&want.to_string()), "{want} missing from {f:?}");
    }
}

#[test]
fn titles_rules() {
    let mut m = valid();
    m.titles.clear();
    assert_eq!(message_for(&m, "titles"), "Enter a title");
    m.titles.push(Title::default());
    assert_eq!(message_for(&m, "titles[0].title"), "Enter a title");
    m.titles[0].title = "x".repeat(1001);
    assert!(message_for(&m, "titles[0].title").contains("at most 1,000"));
    m.titles[0].title = "x".repeat(1000);
    m.titles[0].title_type = Some("Subtitle".into());
    assert_eq!(validate(&m), Ok(()));
    m.titles[0].title_type = Some("Main".into());
    assert!(message_for(&m, "titles[0].titleType").contains("AlternativeTitle"));
}

#[test]
fn ten_megabyte_title_gives_clear_error() {
    let mut m = valid();
    m.titles[0].title = "a".repeat(10 * 1024 * 1024);
    let errs = errors(&m);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "titles[0].title");
    assert_eq!(
        errs[0].message,
        "The title is too long (10,485,760 characters); shorten it to at most 1,000 characters"
    );
    // Other long strings too.
    let mut m = valid();
    m.version = Some("v".repeat(10 * 1024 * 1024));
    m.creators[0].affiliation[0].name = "n".repeat(10_001);
    let f = fields(&m);
    assert!(f.contains(&"version".to_string()));
    assert!(f.contains(&"creators[0].affiliation[0].name".to_string()));
}

#[test]
fn list_length_limit() {
    let mut m = valid();
    let c = m.creators[0].clone();
    m.creators = vec![c; 1001];
    let errs = errors(&m);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "creators");
    assert!(errs[0].message.contains("at most 1,000"));
}

#[test]
fn creators_rules() {
    let mut m = valid();
    m.creators.clear();
    assert!(message_for(&m, "creators").contains("at least one creator"));

    let mut m = valid();
    m.creators[0].name = " ".into();
    assert_eq!(
        message_for(&m, "creators[0].name"),
        "Enter the creator's name"
    );

    // Personal names: "Family, Given" or given/family names.
    let mut m = valid();
    m.creators[0].name = "Josiah Carberry".into();
    m.creators[0].given_name = None;
    m.creators[0].family_name = None;
    assert!(message_for(&m, "creators[0].name").contains("\"Family, Given\""));
    m.creators[0].family_name = Some("Carberry".into());
    assert_eq!(validate(&m), Ok(()));
    // Organizational names are free.
    m.creators[0].family_name = None;
    m.creators[0].name_type = Some("Organizational".into());
    assert_eq!(validate(&m), Ok(()));
    m.creators[0].name_type = Some("Robot".into());
    assert!(message_for(&m, "creators[0].nameType").contains("Organizational, Personal"));
}

#[test]
fn orcid_rules_in_validation() {
    let mut m = valid();
    m.creators[0].name_identifiers[0].name_identifier = "0000-0002-1825-0097".into();
    assert_eq!(validate(&m), Ok(()));
    m.creators[0].name_identifiers[0].name_identifier = "0000-0002-9079-593X".into();
    assert_eq!(validate(&m), Ok(()));
    m.creators[0].name_identifiers[0].name_identifier = "0000-0002-1825-0098".into();
    assert_eq!(
        message_for(&m, "creators[0].nameIdentifiers[0].nameIdentifier"),
        "ORCID 0000-0002-1825-0098 has a wrong check digit; please check it for typos"
    );
    m.creators[0].name_identifiers[0].name_identifier = "orcid: josiah".into();
    assert!(
        message_for(&m, "creators[0].nameIdentifiers[0].nameIdentifier")
            .contains("is not an ORCID iD")
    );
    m.creators[0].name_identifiers[0].name_identifier_scheme = "".into();
    assert!(fields(&m).contains(&"creators[0].nameIdentifiers[0].nameIdentifierScheme".into()));
}

#[test]
fn ror_rules_in_validation() {
    let mut m = valid();
    m.creators[0].affiliation[0].affiliation_identifier = Some("02jbv0t02".into());
    assert_eq!(validate(&m), Ok(()));
    m.creators[0].affiliation[0].affiliation_identifier = Some("https://ror.org/02jbv0t03".into());
    assert!(
        message_for(&m, "creators[0].affiliation[0].affiliationIdentifier")
            .contains("wrong checksum")
    );
    m.creators[0].affiliation[0].affiliation_identifier = Some("02jbv0t02".into());
    m.creators[0].affiliation[0].name = "".into();
    assert!(message_for(&m, "creators[0].affiliation[0].name").contains("name of the organisation"));
}

#[test]
fn abstract_required_for_every_resource_type() {
    let mut m = valid();
    m.descriptions.clear();
    assert!(message_for(&m, "descriptions").contains("abstract"));
    m.types = Some(Types {
        resource_type_general: "Software".into(),
        resource_type: None,
    });
    assert!(message_for(&m, "descriptions").contains("abstract"));
    let mut m = valid();
    m.descriptions[0].description = "d".repeat(20_001);
    assert!(message_for(&m, "descriptions[0].description").starts_with("The abstract is too long"));
    m.descriptions[0].description = "d".repeat(20_000);
    assert_eq!(validate(&m), Ok(()));
    m.descriptions[0].description_type = "Summary".into();
    let f = fields(&m);
    assert!(f.contains(&"descriptions[0].descriptionType".into()));
    assert!(f.contains(&"descriptions".into()));
}

#[test]
fn resource_type_general_rules() {
    let mut m = valid();
    if let Some(t) = m.types.as_mut() {
        t.resource_type_general = "Spreadsheet".into();
    }
    assert!(message_for(&m, "types.resourceTypeGeneral")
        .starts_with("\"Spreadsheet\" is not a valid resource type; choose one of: Audiovisual"));
    if let Some(t) = m.types.as_mut() {
        t.resource_type_general = "dataset".into();
    }
    assert_eq!(
        message_for(&m, "types.resourceTypeGeneral"),
        "resource type \"dataset\" must be written \"Dataset\""
    );
    normalize(&mut m);
    assert_eq!(validate(&m), Ok(()));
    m.types = None;
    assert!(fields(&m).contains(&"types.resourceTypeGeneral".into()));
}

#[test]
fn license_rules() {
    let mut m = valid();
    m.rights_list.clear();
    assert!(message_for(&m, "rightsList").starts_with("Choose a license"));
    m.rights_list.push(Rights {
        rights_identifier: Some("WTFPL".into()),
        ..Rights::default()
    });
    assert!(message_for(&m, "rightsList[0].rightsIdentifier").contains("not one of the licenses"));
    m.rights_list[0].rights_identifier = Some("cc0-1.0".into());
    assert_eq!(validate(&m), Ok(()));
    m.rights_list.push(Rights {
        rights_identifier: Some("MIT".into()),
        ..Rights::default()
    });
    assert_eq!(
        message_for(&m, "rightsList"),
        "Choose only one license; found CC0-1.0, MIT"
    );
    // A license given by URL only counts.
    let mut m = valid();
    m.rights_list = vec![Rights {
        rights_uri: Some("http://creativecommons.org/licenses/by/4.0/".into()),
        ..Rights::default()
    }];
    assert_eq!(validate(&m), Ok(()));
    // Mismatched id and URL.
    m.rights_list[0].rights_identifier = Some("MIT".into());
    assert!(message_for(&m, "rightsList[0].rightsUri").contains("for CC-BY-4.0"));
    // Wrong scheme.
    let mut m = valid();
    m.rights_list[0].rights_identifier_scheme = Some("Other".into());
    assert!(fields(&m).contains(&"rightsList[0].rightsIdentifierScheme".into()));
}

#[test]
fn normalize_fills_license_and_ids() {
    let mut m = valid();
    m.titles[0].title = "  Title  ".into();
    m.creators[0].name_identifiers[0].name_identifier = " 0000-0002-1825-0097 ".into();
    m.creators[0].affiliation[0].affiliation_identifier = Some("02JBV0T02".into());
    m.creators[0].affiliation[0].affiliation_identifier_scheme = None;
    m.creators[0].affiliation[0].scheme_uri = None;
    m.rights_list[0].rights_identifier = Some("cc-by-4.0".into());
    m.creators.push(Creator {
        name: "".into(),
        name_type: Some("personal".into()),
        given_name: Some("Ann".into()),
        family_name: Some("Doe".into()),
        ..Creator::default()
    });
    m.creators.push(Creator {
        name: "Roe, Rick".into(),
        name_type: Some("Personal".into()),
        name_identifiers: vec![NameIdentifier {
            name_identifier: "orcid.org/0000-0002-9079-593x".into(),
            name_identifier_scheme: "".into(),
            scheme_uri: None,
        }],
        ..Creator::default()
    });
    m.related_identifiers.push(RelatedIdentifier {
        related_identifier: "https://doi.org/10.82433/abc-1".into(),
        related_identifier_type: "doi".into(),
        relation_type: "isderivedfrom".into(),
        ..RelatedIdentifier::default()
    });
    m.version = Some("   ".into());
    normalize(&mut m);
    assert_eq!(m.titles[0].title, "Title");
    assert_eq!(
        m.creators[0].name_identifiers[0].name_identifier,
        "https://orcid.org/0000-0002-1825-0097"
    );
    let a = &m.creators[0].affiliation[0];
    assert_eq!(
        a.affiliation_identifier.as_deref(),
        Some("https://ror.org/02jbv0t02")
    );
    assert_eq!(a.affiliation_identifier_scheme.as_deref(), Some("ROR"));
    assert_eq!(a.scheme_uri.as_deref(), Some("https://ror.org"));
    assert_eq!(
        m.rights_list[0],
        Rights {
            rights: Some("Creative Commons Attribution 4.0 International".into()),
            rights_uri: Some("https://creativecommons.org/licenses/by/4.0/legalcode".into()),
            rights_identifier: Some("CC-BY-4.0".into()),
            rights_identifier_scheme: Some("SPDX".into()),
            scheme_uri: Some("https://spdx.org/licenses/".into()),
            lang: None,
        }
    );
    assert_eq!(m.creators[1].name, "Doe, Ann");
    assert_eq!(m.creators[1].name_type.as_deref(), Some("Personal"));
    assert_eq!(m.creators[2].given_name.as_deref(), Some("Rick"));
    assert_eq!(m.creators[2].family_name.as_deref(), Some("Roe"));
    let ni = &m.creators[2].name_identifiers[0];
    assert_eq!(ni.name_identifier, "https://orcid.org/0000-0002-9079-593X");
    assert_eq!(ni.name_identifier_scheme, "ORCID");
    let r = &m.related_identifiers[0];
    assert_eq!(r.related_identifier, "10.82433/abc-1");
    assert_eq!(r.related_identifier_type, "DOI");
    assert_eq!(r.relation_type, "IsDerivedFrom");
    assert_eq!(m.version, None);
    assert_eq!(validate(&m), Ok(()));
    // Idempotent.
    let once = m.clone();
    normalize(&mut m);
    assert_eq!(m, once);
}

#[test]
fn date_rules() {
    let mut m = valid();
    m.dates.push(Date {
        date: "2019-05-01/2020-04-30".into(),
        date_type: "Collected".into(),
        date_information: None,
    });
    assert_eq!(validate(&m), Ok(()));
    m.dates[0].date = "2020-04-30/2019-05-01".into();
    assert!(message_for(&m, "dates[0].date").contains("after it ends"));
    m.dates[0].date = "30/04/2020".into();
    assert!(message_for(&m, "dates[0].date").contains("YYYY-MM-DD"));
    m.dates[0].date = "2020-04-30T10:00:00Z".into();
    m.dates[0].date_type = "Published".into();
    assert_eq!(fields(&m), vec!["dates[0].dateType".to_string()]);
    m.dates[0].date_type = "Coverage".into();
    assert_eq!(validate(&m), Ok(()));
    m.dates[0].date_type = "".into();
    assert_eq!(message_for(&m, "dates[0].dateType"), "Choose a date type");
}

#[test]
fn geo_rules() {
    let mut m = valid();
    m.geo_locations.push(GeoLocation {
        geo_location_point: Some(GeoLocationPoint {
            point_latitude: Some(91.0),
            point_longitude: Some(-181.0),
        }),
        ..GeoLocation::default()
    });
    assert_eq!(
        message_for(&m, "geoLocations[0].geoLocationPoint.pointLatitude"),
        "Latitude must be between -90 and 90; got 91"
    );
    assert!(fields(&m).contains(&"geoLocations[0].geoLocationPoint.pointLongitude".into()));
    m.geo_locations[0].geo_location_point = Some(GeoLocationPoint {
        point_latitude: Some(-90.0),
        point_longitude: None,
    });
    assert_eq!(
        fields(&m),
        vec!["geoLocations[0].geoLocationPoint.pointLongitude".to_string()]
    );

    // Box: south > north fails; west > east (antimeridian) is fine.
    let bx = |w, e, s, n| GeoLocationBox {
        west_bound_longitude: Some(w),
        east_bound_longitude: Some(e),
        south_bound_latitude: Some(s),
        north_bound_latitude: Some(n),
    };
    m.geo_locations[0] = GeoLocation {
        geo_location_box: Some(bx(170.0, -170.0, -10.0, 10.0)),
        ..GeoLocation::default()
    };
    assert_eq!(validate(&m), Ok(()));
    m.geo_locations[0].geo_location_box = Some(bx(-120.0, -100.0, 40.0, 30.0));
    assert!(
        message_for(&m, "geoLocations[0].geoLocationBox.southBoundLatitude")
            .contains("north of the north bound latitude")
    );
    // Needs a place, point or box.
    m.geo_locations[0] = GeoLocation::default();
    assert!(message_for(&m, "geoLocations[0]").contains("place name"));
    m.geo_locations[0].geo_location_place = Some("East River, Colorado".into());
    assert_eq!(validate(&m), Ok(()));
}

#[test]
fn funding_rules() {
    let mut m = valid();
    m.funding_references.push(FundingReference {
        funder_name: "".into(),
        funder_identifier: Some("https://ror.org/01bj3aw27".into()),
        funder_identifier_type: None,
        award_uri: Some("not a url".into()),
        ..FundingReference::default()
    });
    let f = fields(&m);
    assert!(f.contains(&"fundingReferences[0].funderName".into()));
    assert!(f.contains(&"fundingReferences[0].funderIdentifierType".into()));
    assert!(f.contains(&"fundingReferences[0].awardUri".into()));
    m.funding_references[0].funder_name = "U.S. Department of Energy".into();
    m.funding_references[0].funder_identifier_type = Some("ROR".into());
    m.funding_references[0].award_uri = Some("https://pamspublic.science.energy.gov/x".into());
    assert_eq!(validate(&m), Ok(()));
    m.funding_references[0].funder_identifier_type = Some("FundRef".into());
    assert!(
        message_for(&m, "fundingReferences[0].funderIdentifierType").contains("Crossref Funder ID")
    );
}

#[test]
fn related_identifier_rules() {
    let mut m = valid();
    m.related_identifiers.push(RelatedIdentifier {
        related_identifier: "10.1234/abc".into(),
        related_identifier_type: "DOI".into(),
        relation_type: "IsCitedBy".into(),
        ..RelatedIdentifier::default()
    });
    assert_eq!(validate(&m), Ok(()));
    m.related_identifiers[0].related_identifier = "https://doi.org/10.1234/abc".into();
    assert_eq!(validate(&m), Ok(()));
    m.related_identifiers[0].related_identifier = "1234/abc".into();
    assert!(message_for(&m, "relatedIdentifiers[0].relatedIdentifier").contains("10.1234/abc-def"));
    m.related_identifiers[0] = RelatedIdentifier {
        related_identifier: "".into(),
        related_identifier_type: "Website".into(),
        relation_type: "Uses".into(),
        ..RelatedIdentifier::default()
    };
    let f = fields(&m);
    for want in ["relatedIdentifier", "relatedIdentifierType", "relationType"] {
        assert!(
            f.contains(&format!("relatedIdentifiers[0].{want}")),
            "{want}: {f:?}"
        );
    }
    m.related_identifiers[0] = RelatedIdentifier {
        related_identifier: "example.org/paper".into(),
        related_identifier_type: "URL".into(),
        relation_type: "IsDocumentedBy".into(),
        ..RelatedIdentifier::default()
    };
    assert!(message_for(&m, "relatedIdentifiers[0].relatedIdentifier").contains("https://"));
}

#[test]
fn subject_language_and_year_rules() {
    let mut m = valid();
    m.subjects.push(Subject {
        subject: "  ".into(),
        ..Subject::default()
    });
    m.language = Some("English".into());
    m.publication_year = Some(25);
    let f = fields(&m);
    assert!(f.contains(&"subjects[0].subject".into()));
    assert!(f.contains(&"language".into()));
    assert!(f.contains(&"publicationYear".into()));
    m.subjects[0].subject = "hydrology".into();
    m.language = Some("en-US".into());
    m.publication_year = Some(2025);
    assert_eq!(validate(&m), Ok(()));
}

#[test]
fn collects_all_errors() {
    let mut m = valid();
    m.titles[0].title = "".into();
    m.creators[0].name_identifiers[0].name_identifier = "0000-0002-1825-0098".into();
    m.dates.push(Date {
        date: "2021/2020".into(),
        date_type: "Created".into(),
        date_information: None,
    });
    m.geo_locations.push(GeoLocation {
        geo_location_point: Some(GeoLocationPoint {
            point_latitude: Some(91.0),
            point_longitude: Some(0.0),
        }),
        ..GeoLocation::default()
    });
    assert_eq!(
        fields(&m),
        vec![
            "titles[0].title",
            "creators[0].nameIdentifiers[0].nameIdentifier",
            "geoLocations[0].geoLocationPoint.pointLatitude",
            "dates[0].date",
        ]
    );
}

const FULL_JSON: &str = r#"{
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

#[test]
fn from_form_drops_blank_rows() {
    let p = pairs(&[
        ("csrf_token", "abc"),
        ("titles[0].title", "My data"),
        ("titles[1].title", ""),
        ("creators[0].name", ""),
        ("creators[0].nameType", "Personal"),
        ("creators[0].orcid", " "),
        ("creators[1].name", "Carberry, Josiah"),
        ("creators[1].nameType", "Personal"),
        ("creators[1].orcid", "0000-0002-1825-0097"),
        ("creators[1].affiliation", "LBNL"),
        ("creators[1].affiliationRor", "02jbv0t02"),
        ("creators[2].name", ""),
        ("creators[2].nameType", "Personal"),
        ("descriptions[0].description", "Abstract text"),
        ("subjects", "hydrology, soil ,, pore water"),
        ("types.resourceTypeGeneral", "Dataset"),
        ("license", "CC-BY-4.0"),
        ("dates[0].date", ""),
        ("dates[0].dateType", "Collected"),
        ("geoLocations[0].place", ""),
        ("geoLocations[0].pointLatitude", ""),
        ("relatedIdentifiers[0].relatedIdentifier", ""),
        ("relatedIdentifiers[0].relatedIdentifierType", "DOI"),
        ("relatedIdentifiers[0].relationType", "IsCitedBy"),
        ("language", "en"),
    ]);
    let (m, errs) = from_form(&p);
    assert_eq!(errs, vec![]);
    assert_eq!(m.titles.len(), 1);
    assert_eq!(m.creators.len(), 1);
    assert_eq!(m.creators[0].name, "Carberry, Josiah");
    assert_eq!(
        m.creators[0].name_identifiers[0].name_identifier_scheme,
        "ORCID"
    );
    assert_eq!(
        m.creators[0].affiliation[0]
            .affiliation_identifier
            .as_deref(),
        Some("02jbv0t02")
    );
    assert_eq!(m.descriptions[0].description_type, "Abstract");
    let subjects: Vec<_> = m.subjects.iter().map(|s| s.subject.as_str()).collect();
    assert_eq!(subjects, ["hydrology", "soil", "pore water"]);
    assert!(m.dates.is_empty());
    assert!(m.geo_locations.is_empty());
    assert!(m.related_identifiers.is_empty());
    assert_eq!(m.language.as_deref(), Some("en"));

    let out = check_form(&p);
    assert_eq!(out.errors, vec![]);
    assert_eq!(
        out.metadata.creators[0].name_identifiers[0].name_identifier,
        "https://orcid.org/0000-0002-1825-0097"
    );
    assert_eq!(out.state.row_count("creators"), 1);
    assert_eq!(out.state.get("creators[0].orcid"), "0000-0002-1825-0097");
}

#[test]
fn form_rows_are_renumbered_and_errors_follow() {
    let p = pairs(&[
        ("titles[0].title", "T"),
        ("creators[0].name", ""),
        ("creators[3].name", "Carberry, Josiah"),
        ("creators[3].nameType", "Personal"),
        ("creators[3].orcid", "0000-0002-1825-0098"),
        ("descriptions[0].description", "A"),
        ("types.resourceTypeGeneral", "Dataset"),
        ("license", "CC-BY-4.0"),
    ]);
    let out = check_form(&p);
    assert_eq!(out.state.row_count("creators"), 1);
    assert_eq!(out.state.get("creators[0].orcid"), "0000-0002-1825-0098");
    assert_eq!(
        out.errors,
        vec![FieldError::new(
            "creators[0].orcid",
            "ORCID 0000-0002-1825-0098 has a wrong check digit; please check it for typos"
        )]
    );
}

#[test]
fn form_number_errors_keep_typed_text() {
    let p = pairs(&[
        ("geoLocations[0].place", "Site A"),
        ("geoLocations[0].pointLatitude", "38,9 N"),
        ("geoLocations[0].pointLongitude", "-106.95"),
        ("geoLocations[1].southBoundLatitude", "40"),
        ("geoLocations[1].northBoundLatitude", "30"),
        ("geoLocations[1].westBoundLongitude", "-107"),
        ("geoLocations[1].eastBoundLongitude", "-106"),
        ("geoLocations[2].pointLatitude", "91"),
        ("geoLocations[2].pointLongitude", "0"),
    ]);
    let (m, errs) = from_form(&p);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "geoLocations[0].pointLatitude");
    assert!(errs[0].message.contains("must be a number"));
    assert_eq!(m.geo_locations.len(), 3);

    let out = check_form(&p);
    assert_eq!(out.state.get("geoLocations[0].pointLatitude"), "38,9 N");
    let f: Vec<&str> = out.errors.iter().map(|e| e.field.as_str()).collect();
    // The typing error is reported once, not again as "enter the latitude".
    assert_eq!(
        f.iter()
            .filter(|x| **x == "geoLocations[0].pointLatitude")
            .count(),
        1
    );
    assert!(f.contains(&"geoLocations[1].southBoundLatitude"));
    assert!(f.contains(&"geoLocations[2].pointLatitude"));
    // Missing required parts come back under form names.
    assert!(f.contains(&"titles[0].title"));
    assert!(f.contains(&"creators[0].name"));
    assert!(f.contains(&"license"));
    assert!(f.contains(&"types.resourceTypeGeneral"));
}

#[test]
fn form_rejects_unknown_fields_and_too_many_rows() {
    let mut p = pairs(&[
        ("titles[0].title", "T"),
        ("titles[0].colour", "red"),
        ("password", "x"),
        ("creators[x].name", "A"),
        ("action", "save"),
    ]);
    for i in 0..205 {
        p.push((format!("creators[{i}].name"), format!("Org {i}")));
    }
    p.push(("creators[99999999999999999999].name".into(), "B".into()));
    let (m, errs) = from_form(&p);
    let f: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        f,
        [
            "titles[0].colour",
            "password",
            "creators[x].name",
            "creators"
        ]
    );
    assert!(errs[3].message.contains("at most 200"));
    assert_eq!(m.creators.len(), 200);
}

#[test]
fn to_form_round_trips_through_from_form() {
    let mut m = Metadata::from_json(FULL_JSON).expect("parses");
    // Keep to what the form can show.
    m.titles[1].lang = None;
    m.titles[0].lang = None;
    m.subjects = vec![
        Subject {
            subject: "hydrology".into(),
            ..Subject::default()
        },
        Subject {
            subject: "soil, chemistry".into(),
            ..Subject::default()
        },
    ];
    m.funding_references[0].scheme_uri = None;
    m.publication_year = None;
    m.publisher = None;
    let state = to_form(&m);
    assert_eq!(state.row_count("creators"), 2);
    assert_eq!(state.row_count("geoLocations["), 2);
    assert_eq!(
        state.get("creators[0].orcid"),
        "https://orcid.org/0000-0002-1825-0097"
    );
    assert_eq!(state.get("creators[1].ror"), "https://ror.org/04wxnsj81");
    assert_eq!(state.get("geoLocations[0].pointLatitude"), "38.92");
    assert_eq!(state.get("license"), "CC-BY-4.0");
    let form_pairs: Vec<(String, String)> = state
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(FormState::from_pairs(&form_pairs), state);
    let out = check_form(&form_pairs);
    assert_eq!(out.errors, vec![]);
    assert_eq!(out.metadata, m);

    // A single keyword containing a comma survives.
    let one = Metadata {
        subjects: vec![Subject {
            subject: "soil, chemistry".into(),
            ..Subject::default()
        }],
        ..Metadata::default()
    };
    let st = to_form(&one);
    assert_eq!(st.get("subjects"), "\"soil, chemistry\"");
    let (back, _) = from_form(&[("subjects".into(), st.get("subjects").into())]);
    assert_eq!(back.subjects, one.subjects);
}

#[test]
fn keywords_split_on_lines_and_commas_mixed_and_keep_quoted_commas() {
    let read = |text: &str| -> Vec<String> {
        let (m, _) = from_form(&[("subjects".into(), text.into())]);
        m.subjects.into_iter().map(|s| s.subject).collect()
    };
    assert_eq!(
        read("eddy covariance, carbon flux, AmeriFlux\nmethane\r\n\n soil ,, "),
        [
            "eddy covariance",
            "carbon flux",
            "AmeriFlux",
            "methane",
            "soil"
        ]
    );
    assert_eq!(
        read("\"Soils, tropical\", peat\n\"a \"\"quoted\"\" word\""),
        ["Soils, tropical", "peat", "a \"quoted\" word"]
    );
    // A quote never closed runs to the end of its line.
    assert_eq!(read("\"open, ended\nnext"), ["open, ended", "next"]);
}

#[test]
fn form_field_mapping() {
    let cases = [
        ("titles", "titles[0].title"),
        ("titles[2].title", "titles[2].title"),
        ("creators", "creators[0].name"),
        (
            "creators[1].nameIdentifiers[0].nameIdentifier",
            "creators[1].orcid",
        ),
        ("creators[1].affiliation[0].name", "creators[1].affiliation"),
        (
            "creators[1].affiliation[0].affiliationIdentifier",
            "creators[1].affiliationRor",
        ),
        ("creators[1].familyName", "creators[1].familyName"),
        ("descriptions", "descriptions[0].description"),
        (
            "descriptions[1].descriptionType",
            "descriptions[1].descriptionType",
        ),
        ("subjects[4].subject", "subjects"),
        ("types", "types.resourceTypeGeneral"),
        ("types.resourceType", "types.resourceType"),
        ("rightsList", "license"),
        ("rightsList[0].rightsIdentifier", "license"),
        (
            "fundingReferences[0].awardUri",
            "fundingReferences[0].awardUri",
        ),
        ("dates[3].date", "dates[3].date"),
        (
            "geoLocations[0].geoLocationPoint.pointLatitude",
            "geoLocations[0].pointLatitude",
        ),
        (
            "geoLocations[1].geoLocationBox.southBoundLatitude",
            "geoLocations[1].southBoundLatitude",
        ),
        ("geoLocations[1].geoLocationPlace", "geoLocations[1].place"),
        ("geoLocations[1]", "geoLocations[1].place"),
        (
            "relatedIdentifiers[0].relationType",
            "relatedIdentifiers[0].relationType",
        ),
        ("language", "language"),
        ("publisher", "publisher"),
        ("publicationYear", "publicationYear"),
        ("", ""),
    ];
    for (path, want) in cases {
        assert_eq!(form_field_for(path), want, "{path}");
    }
}

#[test]
fn check_form_maps_ror_name_identifier() {
    let p = pairs(&[
        ("creators[0].name", "Some Lab"),
        ("creators[0].nameType", "Organizational"),
        ("creators[0].ror", "02jbv0t03"),
    ]);
    let out = check_form(&p);
    let e = out
        .errors
        .iter()
        .find(|e| e.field == "creators[0].ror")
        .expect("ror error");
    assert!(e.message.contains("wrong checksum"));
}

#[test]
fn field_error_display() {
    assert_eq!(
        FieldError::new("titles", "Enter a title").to_string(),
        "titles: Enter a title"
    );
    assert_eq!(FieldError::new("", "Too many").to_string(), "Too many");
}
