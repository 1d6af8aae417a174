//! Validation and normalisation rules, with the messages users see.

use super::*;

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
