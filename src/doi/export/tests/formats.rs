//! Schema.org, BibTeX, RIS, CSL-JSON, the citation styles and version links.

use super::*;

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

#[test]
fn meta_tags_give_scholar_dublin_core_and_link_previews_the_record() {
    let m = metadata(FULL);
    let files = files();
    let tags = crate::doi::export::meta_tags(&full(&m, &files));
    let all = |key: &str| -> Vec<&str> {
        tags.iter()
            .filter(|t| t.key == key)
            .map(|t| t.content.as_str())
            .collect()
    };
    assert_eq!(
        all("citation_title"),
        ["Flux tower \"EC\" data & <fluxes> 2024"]
    );
    assert_eq!(
        all("citation_author"),
        [
            "Doe, Jane Mary",
            "Müller, Jörg",
            "O'Brien & <Sons>",
            "Harvard Forest LTER"
        ]
    );
    assert_eq!(all("citation_publication_date"), ["2026/05/04"]);
    assert_eq!(all("citation_doi"), ["10.5555/k7qz-m4r9"]);
    assert_eq!(all("DC.identifier"), ["https://doi.org/10.5555/k7qz-m4r9"]);
    assert_eq!(all("DC.type"), ["Dataset"]);
    assert_eq!(all("DC.creator").len(), 4);
    assert!(all("DC.rights")[0].contains("creativecommons.org/licenses/by/4.0"));
    assert_eq!(
        all("og:url"),
        ["https://archive.example/datasets/7/versions/2"]
    );
    let og = tags
        .iter()
        .find(|t| t.key == "og:title")
        .map(|t| t.attribute);
    assert_eq!(og, Some("property"), "Open Graph tags are properties");
    assert!(tags
        .iter()
        .filter(|t| !t.key.starts_with("og:"))
        .all(|t| t.attribute == "name"));
}
