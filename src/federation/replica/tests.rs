use super::changes::{collect_changes, object_ref, Changes};
use super::*;

#[test]
fn change_lists_are_read_into_objects_with_lengths() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:rs="http://www.openarchives.org/rs/terms/">
<rs:ln rel="up" href="http://o.test/resourcesync/capabilitylist.xml"/>
<rs:md capability="changelist" from="2026-12-02T10:00:00Z" until="2026-12-02T11:00:00Z"/>
<url><loc>http://o.test/datasets/7/versions/1/files/a%20b.csv</loc><lastmod>2026-12-02T10:00:00Z</lastmod>
<rs:md hash="sha-256:ABAB" length="14" type="text/csv" change="created" datetime="2026-12-02T10:00:00.250Z"/>
<rs:ln rel="describedby" href="http://o.test/federation/objects/7/v1/inventory.json" type="application/json"/></url>
<url><loc>http://o.test/datasets/8/versions/1/files/x.csv</loc>
<rs:md hash="sha-256:cdcd" length="3" change="created" datetime="2026-12-02T10:01:00Z"/>
<rs:ln rel="describedby" href="http://o.test/federation/objects/8/v1/inventory.json"/></url>
<url><loc>http://o.test/datasets/7/versions/1/files/a%20b.csv</loc>
<rs:md change="deleted" datetime="2026-12-02T10:02:00Z"/>
<rs:ln rel="describedby" href="http://o.test/federation/objects/7/inventory.json"/></url>
<url><loc>http://elsewhere.test/x</loc><rs:md change="created" datetime="2026-12-02T10:03:00Z"/></url>
</urlset>"#;
    let doc = parse_document(xml).expect("parses");
    assert!(!doc.index);
    assert_eq!(doc.capability.as_deref(), Some("changelist"));
    assert_eq!(doc.items.len(), 4);
    assert_eq!(
        doc.items[0].loc,
        "http://o.test/datasets/7/versions/1/files/a%20b.csv"
    );
    let mut changes = Changes::default();
    collect_changes(&doc.items, &mut changes);
    assert_eq!(changes.unlinked, 1);
    assert_eq!(
        changes
            .objects
            .iter()
            .map(|o| (o.dataset, o.deleted))
            .collect::<Vec<_>>(),
        vec![(7, true), (8, false)]
    );
    assert_eq!(changes.lengths.get("abab"), Some(&14));
    assert_eq!(changes.lengths.get("cdcd"), Some(&3));
    assert_eq!(
        changes.last,
        parse_datetime("2026-12-02T10:02:00Z"),
        "the unlinked entry does not move the position"
    );
}

#[test]
fn object_links_name_datasets() {
    assert_eq!(
        object_ref("http://o.test/federation/objects/42/v3/inventory.json"),
        Some(42)
    );
    assert_eq!(
        object_ref("http://o.test/a/federation/objects/42/inventory.json"),
        Some(42)
    );
    assert_eq!(
        object_ref("http://o.test/federation/objects/x/inventory.json"),
        None
    );
    assert_eq!(object_ref("http://o.test/datasets/42/"), None);
}

#[test]
fn replica_roots_on_s3_sit_beside_the_archive_root() {
    assert_eq!(s3_replica_prefix("", 3), "replicas/3");
    assert_eq!(
        s3_replica_prefix("archive/ocfl", 3),
        "archive/ocfl-replicas/3"
    );
}

#[test]
fn urls_in_the_source_documents_go_through_the_registered_address() {
    let remote = Remote::new("http://127.0.0.1:9000", None).expect("client");
    *remote.advertised.lock().expect("lock") = Some("http://archive.test".into());
    assert_eq!(
        remote.rebase("http://archive.test/resourcesync/changelist.xml?after=1"),
        "http://127.0.0.1:9000/resourcesync/changelist.xml?after=1"
    );
    assert_eq!(
        remote.rebase("http://archive.testing/x"),
        "http://archive.testing/x"
    );
}

#[test]
fn the_partner_token_goes_to_no_host_but_the_source() {
    let remote = Remote::new("http://127.0.0.1:9000", Some("hfp_secret".into())).expect("client");
    *remote.advertised.lock().expect("lock") = Some("http://archive.test".into());
    let sent = |url: &str| {
        remote
            .request(url)
            .ok()
            .and_then(|r| r.build().ok())
            .map(|r| r.url().to_string())
    };
    assert_eq!(
        sent("http://archive.test/federation/objects/x/inventory.json").as_deref(),
        Some("http://127.0.0.1:9000/federation/objects/x/inventory.json")
    );
    assert_eq!(
        sent("http://127.0.0.1:9000").as_deref(),
        Some("http://127.0.0.1:9000/")
    );
    for elsewhere in [
        "http://evil.example/federation/objects/x/inventory.json",
        "http://archive.testing/x",
        "http://127.0.0.1:90001/x",
        "http://127.0.0.1:9000.evil.example/x",
    ] {
        let refused = remote.request(elsewhere).err().unwrap_or_default();
        assert!(
            refused.contains("not under the source's address"),
            "{elsewhere}: {refused}"
        );
    }
}
