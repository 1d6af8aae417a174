//! The deposit form: rows, numbers, unknown fields and the mapping to and from a record.

use super::*;

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
