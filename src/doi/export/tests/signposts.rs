//! FAIR Signposting: link headers and link sets.

use super::*;

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
