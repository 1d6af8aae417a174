//! Query parsing and escaping, facet values, and the FTS5 expressions run against a
//! real FTS5 table (the bundled SQLite), so no typed text can break a query.

use super::*;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field_names(e: crate::error::DomainError) -> Vec<String> {
    match e {
        crate::error::DomainError::Invalid(fields) => fields.into_iter().map(|f| f.field).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn words_are_lowercased_split_on_anything_else_and_stop_words_dropped() {
    let q = TextQuery::parse("Eddy-Covariance fluxes of the CO2 at US-Ha1");
    assert_eq!(
        q.terms,
        ["eddy", "covariance", "fluxes", "co2", "us", "ha1"]
    );
    assert!(q.phrases.is_empty());
    assert_eq!(TextQuery::parse("soil SOIL Soil").terms, ["soil"]);
    assert_eq!(
        TextQuery::parse("Müller Ångström").terms,
        ["müller", "ångström"]
    );
}

#[test]
fn quoted_text_is_a_phrase_and_an_unclosed_quote_runs_to_the_end() {
    let q = TextQuery::parse(r#"methane "eddy covariance tower" soil"#);
    assert_eq!(q.terms, ["methane", "soil"]);
    assert_eq!(q.phrases, vec![vec!["eddy", "covariance", "tower"]]);
    let q = TextQuery::parse(r#"methane "carbon and water"#);
    assert_eq!(q.phrases, vec![vec!["carbon", "and", "water"]]);
    // A one-word phrase is a word.
    let q = TextQuery::parse(r#""flux""#);
    assert_eq!(q.terms, ["flux"]);
    assert!(q.phrases.is_empty());
}

#[test]
fn operators_and_punctuation_are_not_words() {
    for hostile in [
        "\"",
        "\"\"",
        "AND (",
        "*",
        "(",
        ")",
        "-",
        "NOT",
        "OR",
        "NEAR(a b)",
        "title:x",
        "^a",
        "a*",
        "'",
        "\\",
        ";",
        "%",
        "_",
        "{}",
        "\u{0}",
        "🙂",
        "",
    ] {
        let q = TextQuery::parse(hostile);
        for t in &q.terms {
            assert!(
                t.chars().all(char::is_alphanumeric),
                "{hostile:?} gave {t:?}"
            );
        }
    }
    assert!(TextQuery::parse("AND (").is_empty(), "and is a stop word");
    assert!(TextQuery::parse("*").is_empty());
    assert!(TextQuery::parse("\"").is_empty());
    assert_eq!(TextQuery::parse("NOT").terms, Vec::<String>::new());
    assert_eq!(TextQuery::parse("NEAR(a b)").terms, ["near", "b"]);
    assert_eq!(TextQuery::parse("title:x").terms, ["title", "x"]);
}

#[test]
fn fts5_expressions_quote_every_word_and_phrase() {
    let q = TextQuery::parse(r#"soil "eddy covariance" NEAR"#);
    assert_eq!(
        q.fts5_expression(),
        r#""soil" AND "near" AND "eddy covariance""#
    );
    let odd = TextQuery {
        terms: vec!["a\"b".into()],
        phrases: vec![],
    };
    assert_eq!(odd.fts5_expression(), r#""a""b""#);
}

#[test]
fn postgres_gets_words_and_phrases_as_text() {
    let q = TextQuery::parse(r#"soil "eddy covariance" methane"#);
    assert_eq!(q.plain_words().as_deref(), Some("soil methane"));
    assert_eq!(q.phrase_texts(), ["eddy covariance"]);
    assert_eq!(TextQuery::parse(r#""a b c""#).plain_words(), None);
}

#[test]
fn queries_are_bounded() {
    let long: String = (0..100).map(|i| format!("w{i} ")).collect();
    let q = TextQuery::parse(&long);
    assert_eq!(q.terms.len(), MAX_QUERY_PARTS);
}

#[test]
fn requests_default_to_newest_without_text_and_relevance_with_it() {
    let r = SearchRequest::from_pairs(&[]).expect("valid");
    assert_eq!(r.sort, SortOrder::Newest);
    assert_eq!((r.page, r.per_page), (1, DEFAULT_PER_PAGE));
    let r = SearchRequest::from_pairs(&pairs(&[("q", "soil")])).expect("valid");
    assert_eq!(r.sort, SortOrder::Relevance);
    let r = SearchRequest::from_pairs(&pairs(&[("q", "soil"), ("sort", "newest")])).expect("valid");
    assert_eq!(r.sort, SortOrder::Newest);
    let r = SearchRequest::from_pairs(&pairs(&[("q", "soil"), ("sort", "date")])).expect("valid");
    assert_eq!(r.sort, SortOrder::Newest);
    // Relevance without words means nothing: newest first.
    let r = SearchRequest::from_pairs(&pairs(&[("q", "*"), ("sort", "relevance")])).expect("valid");
    assert_eq!(r.sort, SortOrder::Newest);
    assert_eq!(r.text, "*");
}

#[test]
fn bad_parameters_are_named() {
    for (name, value) in [
        ("page", "0"),
        ("page", "-1"),
        ("page", "x"),
        ("page", "99999999999999999999"),
        ("per_page", "101"),
        ("per_page", "0"),
        ("sort", "oldest"),
    ] {
        let e = SearchRequest::from_pairs(&pairs(&[(name, value)])).expect_err(value);
        assert_eq!(field_names(e), [name]);
    }
    let long = "x".repeat(MAX_QUERY_CHARS + 1);
    let e = SearchRequest::from_pairs(&pairs(&[("q", &long)])).expect_err("long");
    assert_eq!(field_names(e), ["q"]);
    let many: Vec<(String, String)> = (0..=MAX_FILTER_VALUES)
        .map(|i| ("subject".to_string(), format!("s{i}")))
        .collect();
    let e = SearchRequest::from_pairs(&many).expect_err("many");
    assert_eq!(field_names(e), ["subject"]);
    let r = SearchRequest::from_pairs(&pairs(&[("per_page", "100"), ("page", "3")])).expect("ok");
    assert_eq!(r.offset(), 200);
}

#[test]
fn filters_collect_several_values_per_facet_and_ignore_unknown_names() {
    let r = SearchRequest::from_pairs(&pairs(&[
        ("subject", "soil"),
        ("subject", " methane "),
        ("subject", "soil"),
        ("subject", ""),
        ("license", "CC0-1.0"),
        ("colour", "blue"),
    ]))
    .expect("valid");
    assert_eq!(r.filters[&Facet::Subject], ["soil", "methane"]);
    assert_eq!(r.filters[&Facet::License], ["CC0-1.0"]);
    assert!(r.is_selected(Facet::Subject, "methane"));
    assert!(!r.is_selected(Facet::Creator, "methane"));
    assert_eq!(r.filters.len(), 2);
}

#[test]
fn links_ask_for_the_same_search() {
    let given = pairs(&[
        ("q", "soil"),
        ("sort", "newest"),
        ("subject", "a&b"),
        ("page", "2"),
        ("per_page", "50"),
    ]);
    let r = SearchRequest::from_pairs(&given).expect("valid");
    let back: Vec<(String, String)> = r
        .to_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(SearchRequest::from_pairs(&back).expect("valid"), r);
    let plain = SearchRequest::from_pairs(&pairs(&[("q", "soil")])).expect("valid");
    assert_eq!(plain.to_pairs(), vec![("q", "soil".to_string())]);
}

fn fts_table() -> diesel::SqliteConnection {
    let mut c = diesel::SqliteConnection::establish(":memory:").expect("sqlite");
    diesel::sql_query(
        "CREATE VIRTUAL TABLE search_fts USING fts5(title, abstract_text, keywords, creators, \
         tokenize = 'porter unicode61 remove_diacritics 2')",
    )
    .execute(&mut c)
    .expect("fts5 is compiled in");
    for (id, title, abs, kw, who) in [
        (
            1,
            "Harvard Forest fluxes",
            "Half-hourly eddy covariance fluxes of CO2.",
            "carbon flux",
            "Doe, Jane",
        ),
        (
            2,
            "Soil moisture",
            "Soil water content at 10 cm.",
            "soil",
            "Müller, Hans",
        ),
        (
            3,
            "Methane",
            "Chamber measurements of methane.",
            "methane\nwetland",
            "Smith, Ann",
        ),
    ] {
        diesel::sql_query(
            "INSERT INTO search_fts (rowid, title, abstract_text, keywords, creators) VALUES (?, ?, ?, ?, ?)",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(title)
        .bind::<Text, _>(abs)
        .bind::<Text, _>(kw)
        .bind::<Text, _>(who)
        .execute(&mut c)
        .expect("insert");
    }
    c
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    rowid: i64,
}

fn fts_ids(c: &mut diesel::SqliteConnection, text: &str) -> Vec<i64> {
    let q = TextQuery::parse(text);
    if q.is_empty() {
        return vec![];
    }
    let rows: Vec<Id> =
        diesel::sql_query("SELECT rowid FROM search_fts WHERE search_fts MATCH ? ORDER BY rowid")
            .bind::<Text, _>(q.fts5_expression())
            .load(c)
            .unwrap_or_else(|e| panic!("{text:?} -> {:?} failed: {e}", q.fts5_expression()));
    rows.into_iter().map(|r| r.rowid).collect()
}

#[test]
fn fts5_finds_words_stems_phrases_and_names() {
    let mut c = fts_table();
    assert_eq!(fts_ids(&mut c, "flux"), [1], "porter: fluxes ~ flux");
    assert_eq!(fts_ids(&mut c, "covariance"), [1]);
    assert_eq!(fts_ids(&mut c, "\"eddy covariance\""), [1]);
    assert_eq!(fts_ids(&mut c, "\"covariance eddy\""), Vec::<i64>::new());
    assert_eq!(fts_ids(&mut c, "muller"), [2], "diacritics folded");
    assert_eq!(fts_ids(&mut c, "Smith"), [3]);
    assert_eq!(fts_ids(&mut c, "wetland methane"), [3]);
    assert_eq!(fts_ids(&mut c, "wetland soil"), Vec::<i64>::new());
}

#[test]
fn no_typed_text_breaks_an_fts5_query() {
    let mut c = fts_table();
    let long = "x".repeat(1000);
    let nasty = [
        "\"",
        "\"\"\"",
        "AND (",
        "OR",
        "NOT soil",
        "soil NOT",
        "*",
        "soil*",
        "^soil",
        "soil:",
        "title:soil",
        "{title}: soil",
        "NEAR(soil water, 2)",
        "soil + water",
        "-soil",
        "(((",
        "')); DROP TABLE search_fts; --",
        "\u{0}soil",
        "\u{2}soil\u{3}",
        "½ ² ⅷ",
        "🙂 soil",
        "ǅ ﬁ ß",
        "a\"b",
        "\u{200b}soil",
        "٣ ٤",
        long.as_str(),
    ];
    for text in nasty {
        fts_ids(&mut c, text);
    }
    // Every single character, alone and inside a word.
    for cp in (1u32..0x3000).chain(0xff00..0xfff0) {
        if let Some(ch) = char::from_u32(cp) {
            fts_ids(&mut c, &ch.to_string());
            fts_ids(&mut c, &format!("so{ch}il"));
        }
    }
}

fn version(metadata: &str) -> crate::deposit::model::VersionRow {
    let t = chrono::NaiveDate::from_ymd_opt(2026, 3, 4)
        .and_then(|d| d.and_hms_opt(5, 6, 7))
        .expect("date");
    crate::deposit::model::VersionRow {
        id: 7,
        dataset_id: 3,
        number: 1,
        title: "Stored title".into(),
        metadata: metadata.into(),
        doi: Some("10.5072/x".into()),
        ocfl_version: Some(1),
        published_at: Some(t),
        created_at: t,
        updated_at: t,
        standards: "[]".into(),
    }
}

#[test]
fn documents_take_abstracts_keywords_creators_and_facets_from_metadata() {
    let json = r#"{
        "titles": [{"title": "  Fluxes\n2019 "}],
        "creators": [{"name": "Doe, Jane"}, {"name": "Doe, Jane"}, {"name": "Ameriflux\u0002 Team"}],
        "descriptions": [
            {"description": "Methods text.", "descriptionType": "Methods"},
            {"description": "The abstract.", "descriptionType": "Abstract"}
        ],
        "subjects": [{"subject": "soil"}, {"subject": " soil "}, {"subject": "methane"}],
        "types": {"resourceTypeGeneral": "Dataset"},
        "rightsList": [{"rightsIdentifier": "CC-BY-4.0"}, {"rights": "Custom terms"}]
    }"#;
    let v = version(json);
    let m = crate::deposit::service::parse_stored_metadata(json).expect("metadata");
    let published = v.published_at.expect("published");
    let doc = Document::of_version(&v, &m, published, vec!["csv".into()]);
    assert_eq!(doc.title, "Fluxes 2019");
    assert_eq!(doc.creators, ["Doe, Jane", "Ameriflux Team"]);
    assert_eq!(doc.abstract_text, "The abstract.");
    assert_eq!(doc.keywords, ["soil", "methane"]);
    assert_eq!(doc.licenses, ["CC-BY-4.0", "Custom terms"]);
    assert_eq!(
        doc.publication_year,
        Some(2026),
        "from the publication date"
    );
    let facets = doc.facet_values();
    let of = |f: Facet| -> Vec<&str> {
        facets
            .iter()
            .filter(|(g, _)| *g == f)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(of(Facet::ResourceType), ["Dataset"]);
    assert_eq!(of(Facet::License), ["CC-BY-4.0", "Custom terms"]);
    assert_eq!(of(Facet::Subject), ["soil", "methane"]);
    assert_eq!(of(Facet::Creator), ["Doe, Jane", "Ameriflux Team"]);
    assert_eq!(of(Facet::PublicationYear), ["2026"]);
    assert_eq!(of(Facet::Standard), ["csv"]);
}

#[test]
fn without_an_abstract_other_descriptions_are_searched() {
    let json = r#"{"titles": [{"title": "T"}],
        "descriptions": [{"description": "Only methods.", "descriptionType": "Methods"}]}"#;
    let v = version(json);
    let m = crate::deposit::service::parse_stored_metadata(json).expect("metadata");
    let doc = Document::of_version(&v, &m, v.created_at, vec![]);
    assert_eq!(doc.abstract_text, "Only methods.");
    assert!(doc
        .facet_values()
        .iter()
        .all(|(f, _)| *f != Facet::ResourceType));
}

#[test]
fn standards_are_the_claimed_ones_and_those_files_passed() {
    let passed = r#"{"path": "a.csv", "standards": ["csv", "ameriflux-base"], "findings": [
        {"file": "a.csv", "standard": "ameriflux-base", "severity": "error", "code": "x"},
        {"file": "a.csv", "standard": "csv", "severity": "warning", "code": "y"}]}"#;
    let suppressed = r#"{"standards": ["essdive-dd"], "findings": [],
        "suppressed": [{"standard": "essdive-dd", "code": "x", "severity": "error", "count": 3}]}"#;
    let got = standards_of(
        r#"["essdive-flmd", "csv"]"#,
        &[passed.into(), suppressed.into(), "not json".into()],
    );
    assert_eq!(got, ["essdive-flmd", "csv"]);
    assert_eq!(standards_of("garbage", &[]), Vec::<String>::new());
}
