//! Search: published datasets are found by words of their abstract, creators' names
//! and keywords; facets count them; filters narrow; drafts and submissions never show;
//! nothing typed breaks a query; pages and both orders work; the index rebuilds.

use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Spec<'a> {
    title: &'a str,
    abstract_text: &'a str,
    creators: &'a [&'a str],
    subjects: &'a [&'a str],
    resource_type: &'a str,
    license: &'a str,
    file: (&'a str, &'a [u8]),
}

/// Creates a draft with this metadata and one file; returns its id.
async fn draft(dep: &Api, s: &Spec<'_>) -> Result<i64, Error> {
    let creators: Vec<Value> = s
        .creators
        .iter()
        .map(|n| json!({"name": n, "nameType": "Personal"}))
        .collect();
    let subjects: Vec<Value> = s.subjects.iter().map(|k| json!({"subject": k})).collect();
    let body = json!({
        "titles": [{"title": s.title}],
        "creators": creators,
        "descriptions": [{"description": s.abstract_text, "descriptionType": "Abstract"}],
        "subjects": subjects,
        "types": {"resourceTypeGeneral": s.resource_type},
        "rightsList": [{"rightsIdentifier": s.license}]
    });
    let id = dep.create_dataset(&body).await?["id"]
        .as_i64()
        .ok_or("no id in the answer")?;
    dep.put_file(id, s.file.0, s.file.1).await?;
    Ok(id)
}

async fn api(app: &TestApp, query: &str) -> Result<Value, Error> {
    app.public_api()
        .get_ok(&format!("/api/search{query}"))
        .await
}

fn ids(v: &Value) -> Vec<i64> {
    v["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_i64()).collect())
        .unwrap_or_default()
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v
}

/// The count of `value` under `facet`, 0 when it is not listed.
fn facet(v: &Value, facet: &str, value: &str) -> i64 {
    v["facets"][facet]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["value"] == value))
        .and_then(|e| e["count"].as_i64())
        .unwrap_or(0)
}

const CSV: &[u8] = b"site,flux\nUS-Ha1,1.5\nUS-Ha1,2.5\n";

/// Three published datasets, a draft and a submission that share words with them.
struct Archive {
    forest: i64,
    fen: i64,
    soil: i64,
    hidden_draft: i64,
}

/// The five: three to publish (forest, fen, soil), then a draft and a submission that
/// are never published and share words with the others.
const FIVE: [Spec<'static>; 5] = [
    Spec {
        title: "Harvard Forest eddy covariance fluxes",
        abstract_text:
            "Half-hourly carbon dioxide and water vapour fluxes above a temperate deciduous forest.",
        creators: &["Doe, Jane", "Munger, William"],
        subjects: &["carbon flux", "forest"],
        resource_type: "Dataset",
        license: "CC-BY-4.0",
        file: ("fluxes.csv", CSV),
    },
    Spec {
        title: "Wetland methane chamber measurements",
        abstract_text: "Static chamber emissions from a boreal fen, with soil temperature.",
        creators: &["Smith, Ann"],
        subjects: &["methane", "peatland"],
        resource_type: "Dataset",
        license: "CC0-1.0",
        file: ("notes.txt", b"chamber notes"),
    },
    Spec {
        title: "Soil moisture profiles",
        abstract_text: "Volumetric water content at five depths beneath a grassland.",
        creators: &["Doe, Jane"],
        subjects: &["soil", "forest"],
        resource_type: "Collection",
        license: "CC-BY-4.0",
        file: ("moisture.csv", CSV),
    },
    Spec {
        title: "Tundra forest zyzzyva survey",
        abstract_text: "Draft abstract about forest zyzzyva.",
        creators: &["Doe, Jane"],
        subjects: &["forest"],
        resource_type: "Dataset",
        license: "CC-BY-4.0",
        file: ("tundra.csv", CSV),
    },
    Spec {
        title: "Quokka forest census",
        abstract_text: "Submitted, not accepted: quokka counts in a forest.",
        creators: &["Doe, Jane"],
        subjects: &["forest"],
        resource_type: "Dataset",
        license: "CC-BY-4.0",
        file: ("census.csv", CSV),
    },
];

async fn five_datasets(app: &TestApp) -> Result<Archive, Error> {
    let dep = app.api(&app.new_user("pi@example.org", Role::Depositor).await?.token);
    let cur = app.api(&app.new_user("cura@example.org", Role::Curator).await?.token);
    let mut ids = Vec::new();
    for spec in &FIVE {
        ids.push(draft(&dep, spec).await?);
    }
    let [forest, fen, soil, hidden_draft, submitted] = ids[..] else {
        return Err(format!("five drafts, not {ids:?}").into());
    };
    let claimed = dep
        .put(
            &format!("/api/datasets/{forest}/standards"),
            &json!({"standards": ["csv"]}),
        )
        .await?;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    for id in [forest, fen, soil] {
        app.publish(&dep, &cur, id).await?;
    }
    app.run_jobs().await?;
    dep.submit(submitted).await?;
    Ok(Archive {
        forest,
        fen,
        soil,
        hidden_draft,
    })
}

/// Everything published, newest first, in the documented shape, with facet counts.
#[actix_web::test]
async fn the_published_are_listed_newest_first_with_their_facets() -> TestResult {
    on_each_backend(|app| async move {
        let Archive {
            forest, fen, soil, ..
        } = five_datasets(&app).await?;
        // Everything published, newest first, with the JSON shape the README gives.
        let all = api(&app, "").await?;
        assert_eq!(all["total"], 3, "{all}");
        assert_eq!(all["page"], 1);
        assert_eq!(all["per_page"], 20);
        assert_eq!(all["sort"], "newest");
        assert_eq!(ids(&all), [soil, fen, forest]);
        let first = &all["results"][2];
        assert_eq!(first["title"], "Harvard Forest eddy covariance fluxes");
        assert_eq!(first["creators"], json!(["Doe, Jane", "Munger, William"]));
        assert_eq!(first["resource_type"], "Dataset");
        assert_eq!(first["license"], "CC-BY-4.0");
        assert!(first["doi"]
            .as_str()
            .is_some_and(|d| d.starts_with("10.5072/")));
        assert!(first["published_at"]
            .as_str()
            .is_some_and(|t| t.contains('T')));
        assert!(first["snippet"]
            .as_str()
            .is_some_and(|s| s.starts_with("Half-hourly")));

        // Facet counts over the published three only.
        assert_eq!(
            facet(&all, "resource_type", "Dataset"),
            2,
            "{}",
            all["facets"]
        );
        assert_eq!(facet(&all, "resource_type", "Collection"), 1);
        assert_eq!(facet(&all, "license", "CC-BY-4.0"), 2);
        assert_eq!(facet(&all, "license", "CC0-1.0"), 1);
        assert_eq!(
            facet(&all, "subject", "forest"),
            2,
            "the draft's forest is not counted"
        );
        assert_eq!(facet(&all, "subject", "methane"), 1);
        assert_eq!(facet(&all, "creator", "Doe, Jane"), 2);
        assert_eq!(facet(&all, "creator", "Smith, Ann"), 1);
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(facet(&all, "publication_year", &year), 3);
        assert_eq!(
            facet(&all, "standard", "csv"),
            2,
            "{}",
            all["facets"]["standard"]
        );
        for key in [
            "resource_type",
            "license",
            "subject",
            "creator",
            "publication_year",
            "standard",
        ] {
            assert!(all["facets"][key].is_array(), "facet {key} missing");
        }

        Ok(())
    })
    .await
}

/// Filters narrow; values of one facet widen within it; facets combine with AND.
#[actix_web::test]
async fn filters_narrow_and_each_facet_counts_around_its_own_filter() -> TestResult {
    on_each_backend(|app| async move {
        let Archive { forest, soil, .. } = five_datasets(&app).await?;
        let year = chrono::Utc::now().format("%Y").to_string();
        // Filters narrow; several values of one facet widen within it (OR); facets
        // combine with AND; a facet's own counts ignore its own filter.
        let r = api(&app, "?subject=forest").await?;
        assert_eq!(ids(&r), [soil, forest]);
        assert_eq!(facet(&r, "resource_type", "Dataset"), 1);
        assert_eq!(facet(&r, "resource_type", "Collection"), 1);
        assert_eq!(facet(&r, "license", "CC0-1.0"), 0);
        assert_eq!(
            facet(&r, "subject", "methane"),
            1,
            "choosing methane too would add one"
        );
        let r = api(&app, "?subject=forest&resource_type=Collection").await?;
        assert_eq!(ids(&r), [soil]);
        let r = api(&app, "?subject=forest&subject=methane").await?;
        assert_eq!(r["total"], 3);
        let r = api(&app, "?creator=Doe%2C+Jane&license=CC-BY-4.0&q=water").await?;
        assert_eq!(sorted(ids(&r)), sorted(vec![forest, soil]));
        let r = api(&app, &format!("?standard=csv&publication_year={year}")).await?;
        assert_eq!(sorted(ids(&r)), sorted(vec![forest, soil]));
        let r = api(&app, "?subject=no-such-keyword").await?;
        assert_eq!(r["total"], 0);
        assert_eq!(facet(&r, "subject", "no-such-keyword"), 0);
        assert_eq!(facet(&r, "subject", "forest"), 2);

        Ok(())
    })
    .await
}

/// Words of the abstract, creators and keywords; drafts never; relevance and newest.
#[actix_web::test]
async fn words_of_abstracts_creators_and_keywords_find_only_the_published() -> TestResult {
    on_each_backend(|app| async move {
        let Archive {
            forest,
            fen,
            soil,
            hidden_draft,
        } = five_datasets(&app).await?;
        // Found by a word of the abstract only, by a creator, by a keyword.
        let r = api(&app, "?q=deciduous").await?;
        assert_eq!(ids(&r), [forest]);
        assert_eq!(r["sort"], "relevance");
        assert!(
            r["results"][0]["snippet"]
                .as_str()
                .is_some_and(|s| s.contains("deciduous")),
            "{r}"
        );
        assert_eq!(ids(&api(&app, "?q=boreal").await?), [fen]);
        assert_eq!(ids(&api(&app, "?q=Munger").await?), [forest]);
        assert_eq!(
            sorted(ids(&api(&app, "?q=doe").await?)),
            sorted(vec![forest, soil])
        );
        assert_eq!(ids(&api(&app, "?q=peatland").await?), [fen], "a keyword");
        assert_eq!(
            ids(&api(&app, "?q=%22carbon+flux%22").await?),
            [forest],
            "a keyword phrase"
        );
        assert_eq!(
            ids(&api(&app, "?q=measurement").await?),
            [fen],
            "stems match"
        );
        assert_eq!(
            ids(&api(&app, "?q=methane+grassland").await?),
            Vec::<i64>::new(),
            "every word must match"
        );

        // Drafts and submissions never appear.
        for q in ["zyzzyva", "quokka", "tundra", "census"] {
            let r = api(&app, &format!("?q={q}")).await?;
            assert_eq!(r["total"], 0, "{q}: {r}");
        }
        assert!(!ids(&api(&app, "?q=forest&per_page=100").await?).contains(&hidden_draft));

        // Relevance puts the title match first; newest puts the later one first.
        let r = api(&app, "?q=forest").await?;
        assert_eq!(ids(&r), [forest, soil], "title beats keyword");
        let r = api(&app, "?q=forest&sort=newest").await?;
        assert_eq!(ids(&r), [soil, forest]);
        assert_eq!(r["sort"], "newest");

        Ok(())
    })
    .await
}

/// Pages of results; paging outside the limits is a clear 422.
#[actix_web::test]
async fn results_come_in_pages_and_bad_paging_is_refused() -> TestResult {
    on_each_backend(|app| async move {
        let Archive {
            forest, fen, soil, ..
        } = five_datasets(&app).await?;
        // Pages.
        let p1 = api(&app, "?per_page=2").await?;
        let p2 = api(&app, "?per_page=2&page=2").await?;
        let p3 = api(&app, "?per_page=2&page=3").await?;
        assert_eq!(
            (p1["total"].clone(), p2["total"].clone()),
            (json!(3), json!(3))
        );
        assert_eq!(ids(&p1), [soil, fen]);
        assert_eq!(ids(&p2), [forest]);
        assert_eq!(ids(&p3), Vec::<i64>::new());
        assert_eq!(p3["total"], 3);
        for bad in [
            "?per_page=101",
            "?per_page=0",
            "?page=0",
            "?page=x",
            "?sort=oldest",
        ] {
            let r = app.public_api().get(&format!("/api/search{bad}")).await?;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            assert!(
                r.body["fields"][0]["field"].is_string(),
                "{bad}: {}",
                r.text
            );
        }

        Ok(())
    })
    .await
}

/// Whatever is typed, the answer is results or none, never an error.
#[actix_web::test]
async fn nothing_typed_breaks_a_search() -> TestResult {
    on_each_backend(|app| async move {
        five_datasets(&app).await?;
        // Whatever is typed, the answer is results or none, never an error.
        let long = "x".repeat(1000);
        for hostile in [
            "\"",
            "\"\"",
            "AND (",
            "*",
            "(",
            ")",
            "OR",
            "NOT",
            "NEAR(",
            "title:",
            "-",
            "^",
            "'",
            "\\",
            "%",
            "_",
            ";",
            "'); DROP TABLE datasets; --",
            "forest*",
            "fo\"rest",
            "🙂",
            "\u{0}",
            "\u{2}forest\u{3}",
            "ǅ",
            long.as_str(),
            "<script>alert(1)</script>",
        ] {
            let enc: String = url_encode(hostile);
            let r = app
                .client()
                .get(app.url(&format!("/api/search?q={enc}")))
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::OK, "api {hostile:?}");
            let r = app
                .client()
                .get(app.url(&format!("/search?q={enc}")))
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::OK, "page {hostile:?}");
            if hostile.len() <= 300 {
                let r = app
                    .client()
                    .get(app.url(&format!("/api/search?subject={enc}")))
                    .send()
                    .await?;
                assert_eq!(r.status(), StatusCode::OK, "filter {hostile:?}");
            }
        }
        let r = app
            .client()
            .get(app.url(&format!("/api/search?q={}", "x".repeat(1001))))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // The database is untouched.
        assert_eq!(api(&app, "").await?["total"], 3);

        Ok(())
    })
    .await
}

/// The HTML page: marked matches, facet links, escaping, pages, the header link.
#[actix_web::test]
async fn the_search_page_marks_matches_links_facets_and_escapes() -> TestResult {
    on_each_backend(|app| async move {
        let Archive { forest, .. } = five_datasets(&app).await?;
        // The page: results with marked matches, facet links, escaping, header link.
        let r = app
            .client()
            .get(app.url("/search?q=deciduous"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await?;
        assert!(
            html.contains("Harvard Forest eddy covariance fluxes"),
            "{html}"
        );
        assert!(html.contains("<mark>deciduous</mark>"), "{html}");
        assert!(html.contains(&format!("href=\"/datasets/{forest}\"")));
        assert!(
            html.contains("href=\"/search?q=deciduous&#38;subject=forest\""),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="/search">Search</a>"#),
            "header link"
        );
        let html = app
            .client()
            .get(app.url("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
            .send()
            .await?
            .text()
            .await?;
        assert!(!html.contains("<script>alert(1)"), "the query is escaped");
        let html = app
            .client()
            .get(app.url("/search?subject=forest&per_page=1"))
            .send()
            .await?
            .text()
            .await?;
        assert!(html.contains("Soil moisture profiles"));
        assert!(!html.contains("Harvard Forest eddy"), "one per page");
        assert!(html.contains("page 1 of 2"), "{html}");
        assert!(
            html.contains("rel=\"next\" href=\"/search?subject=forest&#38;per_page=1&#38;page=2\""),
            "{html}"
        );
        let r = app
            .client()
            .get(app.url("/search?per_page=500"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let home = app.client().get(app.url("/")).send().await?.text().await?;
        assert!(
            home.contains("action=\"/search\""),
            "the home page has a search form"
        );
        for q in ["zyzzyva", "quokka"] {
            let html = app
                .client()
                .get(app.url(&format!("/search?q={q}")))
                .send()
                .await?
                .text()
                .await?;
            assert!(html.contains("No published dataset matches"), "{q}");
        }

        Ok(())
    })
    .await
}

/// A dataset withdrawn from view leaves search at once; the rebuild drops it.
#[actix_web::test]
async fn a_withdrawn_dataset_leaves_search_at_once_and_the_rebuild_drops_it() -> TestResult {
    on_each_backend(|app| async move {
        let Archive {
            forest, fen, soil, ..
        } = five_datasets(&app).await?;
        // A dataset withdrawn from view leaves search at once, and the rebuild drops it.
        let forest_id = forest;
        app.archive
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::datasets;
                diesel::update(datasets::table.find(forest_id))
                    .set(datasets::state.eq("deaccessioned"))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        assert_eq!(ids(&api(&app, "?q=deciduous").await?), Vec::<i64>::new());
        let outcome = app
            .archive
            .db
            .run(|conn| holdfast::search::reindex_all(conn, &mut |_, _| {}))
            .await?;
        assert_eq!((outcome.indexed, outcome.removed), (2, 1));
        let after = api(&app, "").await?;
        assert_eq!(ids(&after), [soil, fen]);
        assert_eq!(facet(&after, "creator", "Doe, Jane"), 1);
        // Indexing again changes nothing.
        app.archive
            .db
            .run(move |conn| holdfast::search::index_dataset(conn, soil))
            .await?;
        assert_eq!(api(&app, "").await?["facets"], after["facets"]);
        Ok(())
    })
    .await
}

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
