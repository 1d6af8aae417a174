use super::documents::{
    capability_list, index_document, list_document, source_description, ListDoc,
};
use super::*;
use crate::config::{Settings, SettingsArgs};

fn settings() -> Settings {
    Settings::load(&SettingsArgs {
        base_url: Some("https://data.example.org".into()),
        ..Default::default()
    })
    .expect("settings")
}

fn t(s: &str) -> NaiveDateTime {
    parse_time(s).expect("time")
}

fn entry(change: Change, id: i64, path: &str) -> Entry {
    Entry {
        cursor: Cursor {
            time: t("2026-12-02T10:00:00.25Z"),
            change,
            file_id: id,
        },
        dataset_id: 7,
        number: 2,
        path: path.into(),
        size: 14,
        sha256: "ab".repeat(32),
        media_type: "text/csv".into(),
        published_at: t("2026-12-02T10:00:00.25Z"),
        ocfl_version: Some(2),
    }
}

fn doc(list: List, part: bool, through: Option<Cursor>) -> ListDoc {
    ListDoc {
        list,
        start: Start::Beginning,
        through,
        part,
        at: t("2026-12-02T11:00:00Z"),
        completed: t("2026-12-02T11:00:01Z"),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8")
}

#[test]
fn cursors_round_trip_and_refuse_others() {
    let c = Cursor {
        time: t("2026-12-02T10:00:00.123456789Z"),
        change: Change::Deleted,
        file_id: 42,
    };
    assert_eq!(Cursor::decode(&c.encode()), Some(c));
    for bad in ["", "1-x-2", "a-c-2", "1-c-", "1-c-2.5", "c-2"] {
        assert_eq!(Cursor::decode(bad), None, "{bad}");
    }
    let earlier = Cursor {
        change: Change::Created,
        file_id: 99,
        ..c
    };
    assert!(earlier < c, "created sorts before deleted at one instant");
}

#[test]
fn times_are_w3c_datetimes_in_utc() {
    assert_eq!(w3c(t("2026-12-02T10:00:00Z")), "2026-12-02T10:00:00Z");
    assert_eq!(
        w3c(t("2026-12-02T12:00:00.5+02:00")),
        "2026-12-02T10:00:00.500Z"
    );
    assert_eq!(w3c(t("2026-12-02")), "2026-12-02T00:00:00Z");
    assert_eq!(parse_time("yesterday"), None);
}

#[test]
fn list_arguments_are_checked() {
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        parse_list(List::Changes, &pairs(&[("from", "2026-12-02")])).expect("from"),
        Request::List {
            list: List::Changes,
            start: Start::From(t("2026-12-02")),
            through: None,
            part: false
        }
    );
    for bad in [
        vec![("from", "soon")],
        vec![("after", "x")],
        vec![("through", "1-q-1")],
        vec![("page", "2")],
        vec![("from", "2026-12-02"), ("from", "2026-12-03")],
        vec![("from", "2026-12-02"), ("after", "1-c-1")],
    ] {
        assert!(
            matches!(
                parse_list(List::Changes, &pairs(&bad)),
                Err(DomainError::BadRequest(_))
            ),
            "{bad:?}"
        );
    }
    // The resource list is a snapshot: it has no `from`.
    assert!(parse_list(List::Resources, &pairs(&[("from", "2026-12-02")])).is_err());
}

#[test]
fn source_description_and_capability_list_link_each_other() {
    let s = settings();
    let sd = text(source_description(&s).expect("xml"));
    assert!(sd.contains(r#"<rs:md capability="description"/>"#), "{sd}");
    assert!(sd.contains("<loc>https://data.example.org/resourcesync/capabilitylist.xml</loc>"));
    assert!(sd.contains(r#"<rs:md capability="capabilitylist"/>"#));
    let cl = text(capability_list(&s).expect("xml"));
    assert!(cl
        .contains(r#"<rs:ln rel="up" href="https://data.example.org/.well-known/resourcesync"/>"#));
    assert!(cl.contains(r#"<rs:md capability="capabilitylist"/>"#));
    assert!(cl.contains("<loc>https://data.example.org/resourcesync/resourcelist.xml</loc>"));
    assert!(cl.contains(r#"<rs:md capability="resourcelist"/>"#));
    assert!(cl.contains(r#"<rs:md capability="changelist"/>"#));
    // Links come before the entries, as the spec asks.
    assert!(cl.find("<rs:ln").expect("ln") < cl.find("<url>").expect("url"));
}

#[test]
fn resource_list_entries_carry_hash_length_and_type() {
    let s = settings();
    let xml = text(
        list_document(
            &s,
            &doc(List::Resources, false, None),
            &[entry(Change::Created, 1, "data/a b.csv")],
        )
        .expect("xml"),
    );
    assert!(xml.contains(r#"xmlns="http://www.sitemaps.org/schemas/sitemap/0.9""#));
    assert!(xml.contains(r#"xmlns:rs="http://www.openarchives.org/rs/terms/""#));
    assert!(xml.contains(r#"<rs:md capability="resourcelist" at="2026-12-02T11:00:00Z" completed="2026-12-02T11:00:01Z"/>"#), "{xml}");
    assert!(xml.contains(
        "<loc>https://data.example.org/datasets/7/versions/2/files/data/a%20b.csv</loc>"
    ));
    assert!(xml.contains("<lastmod>2026-12-02T10:00:00.250Z</lastmod>"));
    assert!(xml.contains(&format!(
        r#"<rs:md hash="sha-256:{}" length="14" type="text/csv"/>"#,
        "ab".repeat(32)
    )));
    assert!(!xml.contains("change="));
    assert!(!xml.contains(r#"rel="index""#));
    assert!(xml.contains(r#"<rs:ln rel="describedby" href="https://data.example.org/federation/objects/7/v2/inventory.json" type="application/json"/>"#), "{xml}");
}

#[test]
fn change_list_parts_say_created_and_deleted_and_point_to_their_index() {
    let s = settings();
    let through = Cursor {
        time: t("2026-12-02T10:00:00.25Z"),
        change: Change::Deleted,
        file_id: 2,
    };
    let xml = text(
        list_document(
            &s,
            &doc(List::Changes, true, Some(through)),
            &[
                entry(Change::Created, 1, "a.csv"),
                entry(Change::Deleted, 2, "b.csv"),
            ],
        )
        .expect("xml"),
    );
    assert!(xml.contains(
        r#"<rs:ln rel="up" href="https://data.example.org/resourcesync/capabilitylist.xml"/>"#
    ));
    assert!(xml.contains(
        r#"<rs:ln rel="index" href="https://data.example.org/resourcesync/changelist.xml"/>"#
    ));
    assert!(xml.contains(r#"<rs:md capability="changelist" from="2026-12-02T10:00:00.250Z" until="2026-12-02T10:00:00.250Z"/>"#), "{xml}");
    assert!(xml.contains(r#"change="created" datetime="2026-12-02T10:00:00.250Z"/>"#));
    assert!(xml.contains(r#"<rs:md change="deleted" datetime="2026-12-02T10:00:00.250Z"/>"#));
    // A deleted resource has no lastmod or digest left to give.
    let deleted = &xml[xml.find("b.csv").expect("b")..];
    assert!(!deleted.contains("<lastmod>") && !deleted.contains("hash="));
    // It still names the object it belonged to.
    assert!(
        deleted.contains(r#"href="https://data.example.org/federation/objects/7/inventory.json""#)
    );
}

#[test]
fn an_index_lists_its_parts_with_their_ranges() {
    let s = settings();
    let c1 = Cursor {
        time: t("2026-12-02T10:00:00Z"),
        change: Change::Created,
        file_id: 5,
    };
    let parts = vec![
        Part {
            start: Start::Beginning,
            through: Some(c1),
            from: Some(t("2026-12-01T00:00:00Z")),
            until: Some(c1.time),
        },
        Part {
            start: Start::After(c1),
            through: None,
            from: Some(t("2026-12-02T10:00:01Z")),
            until: None,
        },
    ];
    let xml = text(index_document(&s, &doc(List::Changes, false, None), &parts).expect("xml"));
    assert!(xml.contains("<sitemapindex"), "{xml}");
    assert!(xml.contains(r#"<rs:md capability="changelist" from="2026-12-01T00:00:00Z" until="2026-12-02T11:00:00Z"/>"#), "{xml}");
    assert!(xml.contains(&format!(
        "<loc>https://data.example.org/resourcesync/changelist.xml?through={}</loc>",
        c1.encode()
    )));
    assert!(xml.contains(&format!(
        "<loc>https://data.example.org/resourcesync/changelist.xml?after={}</loc>",
        c1.encode()
    )));
    assert!(xml.contains(r#"<rs:md from="2026-12-01T00:00:00Z" until="2026-12-02T10:00:00Z"/>"#));
    assert!(xml.contains(r#"<rs:md from="2026-12-02T10:00:01Z"/>"#));
    assert_eq!(xml.matches("<sitemap>").count(), 2);
}
