//! The API's surface, pinned by snapshots (insta): the JSON of a draft and of a
//! published dataset, search results, errors and a validation report, on both
//! backends against the same snapshot, and the route table. A change to any of them
//! shows in review as a changed file under tests/journeys/snapshots/ (see
//! docs/testing.md).

use crate::support::fixtures::FLUX_CSV;
use crate::support::snapshot::{redacted, route_table};
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// What differs from run to run in an answer about dataset `id`.
fn stable(app: &TestApp, id: i64, value: &Value) -> Value {
    let dataset = format!("/datasets/{id}");
    redacted(
        value,
        &[
            (&app.base, "http://holdfast.test"),
            (&dataset, "/datasets/[id]"),
        ],
    )
}

#[actix_web::test]
async fn the_route_table() -> TestResult {
    let routes = route_table()?;
    // Every route without parameters that the table lists answers on the running
    // server (the table is read from the source: this keeps it honest).
    // With a metrics token, so /metrics is served (401 here) rather than hidden.
    let app = TestApp::builder()
        .settings(|s| s.metrics_token = Some("route-table".into()))
        .spawn(Backend::Sqlite)
        .await?;
    let client = app.client();
    for route in &routes {
        let (method, path) = route.split_once(' ').ok_or("METHOD /path")?;
        if path.contains('{') || !matches!(method, "GET" | "HEAD") {
            continue;
        }
        let r = client
            .request(method.parse()?, app.url(path))
            .send()
            .await?;
        assert_ne!(
            r.status(),
            StatusCode::NOT_FOUND,
            "{route} is in the table but not served"
        );
        assert_ne!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{route}");
    }
    insta::assert_snapshot!(routes.join("\n"));
    Ok(())
}

#[actix_web::test]
async fn the_dataset_json_of_a_draft_and_of_its_publication() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let (dep, cur) = (
            app.api(&users.depositor.token),
            app.api(&users.curator.token),
        );
        let id = dep.create_draft("Shapes of things").await?;
        dep.put_file(id, "data/flux.csv", FLUX_CSV).await?;
        app.run_jobs().await?;
        insta::assert_json_snapshot!("draft", stable(&app, id, &dep.dataset(id).await?));
        app.publish(&dep, &cur, id).await?;
        let published = app.public_api().dataset(id).await?;
        insta::assert_json_snapshot!("published", stable(&app, id, &published));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn the_search_results_json() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let published = app
            .published(
                &users,
                "Harvard Forest fluxes",
                &[("data/flux.csv", FLUX_CSV)],
            )
            .await?;
        let id = published["id"].as_i64().ok_or("id")?;
        let found = app.public_api().search("q=forest").await?;
        insta::assert_json_snapshot!("search", stable(&app, id, &found));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn the_validation_report_json() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.api(
            &app.new_user("dep@example.org", Role::Depositor)
                .await?
                .token,
        );
        let id = dep.create_draft("A table with problems").await?;
        dep.put_file(id, "data/bad.csv", b"site,site\nA,1\n,\nB,x,3\n")
            .await?;
        app.run_jobs().await?;
        insta::assert_json_snapshot!("validation", stable(&app, id, &dep.validation(id).await?));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn the_error_json() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let dep = app.api(&users.depositor.token);
        let id = dep.create_draft("Nothing in it").await?;
        let mut invalid = minimal_json("");
        invalid["rightsList"] = json!([{"rightsIdentifier": "not-a-license"}]);
        let answer = |r: ApiAnswer| json!({"status": r.status.as_u16(), "body": r.body});
        let errors = json!({
            "no token": answer(app.public_api().post("/api/datasets", &minimal_json("x")).await?),
            "a depositor claims": answer(dep.post(&format!("/api/datasets/{id}/claim"), &json!({})).await?),
            "unknown dataset": answer(dep.get("/api/datasets/999999").await?),
            "nothing to submit": answer(dep.post(&format!("/api/datasets/{id}/submit"), &json!({})).await?),
            "invalid metadata": answer(dep.post("/api/datasets", &invalid).await?),
        });
        insta::assert_json_snapshot!("errors", stable(&app, id, &errors));
        Ok(())
    })
    .await
}

/// Headers that differ between any two answers (a fresh CSRF cookie, the clock, the request id).
const PER_ANSWER_HEADERS: [&str; 3] = ["date", "set-cookie", "x-request-id"];

/// A route of the table with its parameters filled in for `dataset` (published).
pub(crate) fn concrete(path: &str, dataset: &Value) -> Option<String> {
    let id = dataset["id"].as_i64()?.to_string();
    let doi = dataset["doi"].as_str()?;
    let mut out = path.to_string();
    for (param, value) in [
        ("{id}", id.as_str()),
        ("{n}", "1"),
        ("{format}", "json-ld"),
        ("{path:.+}", "data/flux.csv"),
        ("{doi:.+}", doi),
        ("{name}", "data"),
        ("{igsn}", "IEXYZ0001"),
        ("{item}", "1"),
        ("{event}", "1"),
    ] {
        out = out.replace(param, value);
    }
    (!out.contains('{')).then_some(out)
}

#[actix_web::test]
async fn every_get_route_answers_head_with_its_status_and_headers() -> TestResult {
    let app = TestApp::builder().spawn(Backend::Sqlite).await?;
    let users = app.users().await?;
    let dataset = app
        .published(&users, "Heads and tails", &[("data/flux.csv", FLUX_CSV)])
        .await?;
    let mut paths = Vec::new();
    for route in route_table()? {
        let (method, path) = route.split_once(' ').ok_or("METHOD /path")?;
        if method == "GET" {
            paths.push(concrete(path, &dataset).ok_or(format!("fill in {path}"))?);
        }
    }
    let id = &dataset["id"];
    paths.extend([
        format!("/datasets/{id}/versions/1/download?format=zip"),
        format!("/datasets/{id}/versions/1/download?format=bagit"),
        "/oai?verb=Identify".to_string(),
        "/oai?verb=ListRecords&metadataPrefix=oai_datacite".to_string(),
    ]);
    let client = app.client();
    for path in &paths {
        let get = client.get(app.url(path)).send().await?;
        let head = client.head(app.url(path)).send().await?;
        assert_eq!(get.status(), head.status(), "HEAD {path}");
        let without = |r: &reqwest::Response| {
            let mut headers: Vec<(String, String)> = r
                .headers()
                .iter()
                .filter(|(k, _)| !PER_ANSWER_HEADERS.contains(&k.as_str()))
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            headers.sort();
            headers
        };
        assert_eq!(without(&get), without(&head), "HEAD {path}");
        // Content-Length, where GET has it, is among the headers compared above.
        assert!(head.bytes().await?.is_empty(), "HEAD {path} sent a body");
    }
    // The ones Signposting clients and harvesters ask for answer 200 with a length.
    for path in [
        format!("/datasets/{id}/export/datacite-xml"),
        format!("/datasets/{id}/linkset"),
        format!("/doi/{}", dataset["doi"].as_str().unwrap_or_default()),
        "/oai?verb=Identify".to_string(),
        "/resourcesync/resourcelist.xml".to_string(),
        "/".to_string(),
        "/healthz".to_string(),
    ] {
        let head = client.head(app.url(&path)).send().await?;
        assert!(
            head.status().is_success() || head.status().is_redirection(),
            "HEAD {path}: {}",
            head.status()
        );
    }
    Ok(())
}
