//! OAI-PMH for journeys: raw requests and what their answers say (error codes, echoed
//! arguments, resumption tokens, identifiers), and an archive with four records (one
//! withdrawn), a draft and a new draft version, two records a page.

use reqwest::StatusCode;
use serde_json::json;

use super::api::Api;
use super::app::{backends, Backend, TestApp};
use super::fixtures::minimal_json;
use super::wait::next_second;
use super::{get_document, Error, TestResult};
use holdfast::accounts::Role;

/// A raw OAI-PMH request by GET; checks the status and media type; returns the body.
pub async fn oai(base: &str, query: &str) -> Result<String, Error> {
    get_document(&format!("{base}/oai?{query}"), "text/xml; charset=utf-8").await
}

/// The error code of an answer, if it is an error.
pub fn error_code(body: &str) -> Option<String> {
    regex::Regex::new(r#"<error code="(\w+)""#)
        .ok()?
        .captures(body)
        .map(|c| c[1].to_string())
}

/// The arguments the answer echoes in its `<request>` element.
pub fn request_attrs(body: &str) -> String {
    regex::Regex::new(r"<request([^>]*)>")
        .ok()
        .and_then(|re| re.captures(body).map(|c| c[1].trim().to_string()))
        .unwrap_or_default()
}

/// The resumption token: ("completeListSize/cursor", the token, empty on the last page).
pub fn token_of(body: &str) -> Option<(String, String)> {
    let re = regex::Regex::new(
        r#"<resumptionToken completeListSize="(\d+)" cursor="(\d+)"(?:>([^<]*)</resumptionToken>|/>)"#,
    )
    .ok()?;
    re.captures(body).map(|c| {
        (
            format!("{}/{}", &c[1], &c[2]),
            c.get(3).map(|m| m.as_str().to_string()).unwrap_or_default(),
        )
    })
}

/// The record identifiers of an answer, in order.
pub fn identifiers_in(body: &str) -> Vec<String> {
    regex::Regex::new(r"<identifier>([^<]+)</identifier>")
        .map(|re| re.captures_iter(body).map(|c| c[1].to_string()).collect())
        .unwrap_or_default()
}

pub struct Published {
    pub id: i64,
    pub doi: String,
    pub concept_doi: String,
}

/// A published dataset of `resource_type` with one file, claiming `standards`.
pub async fn publish(
    app: &TestApp,
    (dep, cur): (&Api, &Api),
    title: &str,
    resource_type: &str,
    file: (&str, &[u8]),
    standards: &[&str],
) -> Result<Published, Error> {
    let mut metadata = minimal_json(title);
    metadata["types"] = json!({"resourceTypeGeneral": resource_type});
    metadata["subjects"] = json!([{"subject": "eddy covariance"}]);
    metadata["language"] = json!("en");
    let id = dep.create_dataset(&metadata).await?["id"]
        .as_i64()
        .ok_or("id")?;
    dep.put_file(id, file.0, file.1).await?;
    if !standards.is_empty() {
        let claimed = dep
            .put(
                &format!("/api/datasets/{id}/standards"),
                &json!({ "standards": standards }),
            )
            .await?;
        assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    }
    let body = app.publish(dep, cur, id).await?;
    // The next publication gets a datestamp of its own (the granularity is the second).
    next_second().await;
    Ok(Published {
        id,
        doi: body["doi"].as_str().ok_or("doi")?.to_string(),
        concept_doi: body["concept_doi"]
            .as_str()
            .ok_or("concept doi")?
            .to_string(),
    })
}

/// Four published records (one of them withdrawn since), a draft, and a new draft
/// version of the first; two records a page, so four take two pages.
pub struct Records {
    pub app: TestApp,
    pub forest: Published,
    pub model: Published,
    pub fen: Published,
    pub withdrawn: Published,
    pub draft: i64,
}

impl Records {
    pub fn id_of(&self, p: &Published) -> String {
        format!("oai:127.0.0.1:dataset/{}", p.id)
    }
}

/// An archive showing two records a page; an empty archive has no records, no sets.
async fn empty_archive(backend: Backend) -> Result<TestApp, Error> {
    let app = TestApp::builder()
        .settings(|a| a.oai_page_size = Some(2))
        .spawn(backend)
        .await?;
    let empty = oai(&app.base, "verb=ListRecords&metadataPrefix=oai_dc").await?;
    assert_eq!(
        error_code(&empty).as_deref(),
        Some("noRecordsMatch"),
        "{empty}"
    );
    let empty = oai(&app.base, "verb=ListSets").await?;
    assert_eq!(
        error_code(&empty).as_deref(),
        Some("noSetHierarchy"),
        "{empty}"
    );
    Ok(app)
}

pub async fn four_records(backend: Backend) -> Result<Records, Error> {
    let app = empty_archive(backend).await?;
    let dep = app.api(&app.new_user("pi@example.org", Role::Depositor).await?.token);
    let cur = app.api(&app.new_user("cur@example.org", Role::Curator).await?.token);
    let admin = app.api(&app.new_user("admin@example.org", Role::Admin).await?.token);
    let both = (&dep, &cur);
    let fluxes = ("fluxes.csv", &b"site,flux\nUS-Ha1,1.5\n"[..]);
    let forest = publish(
        &app,
        both,
        "Harvard Forest fluxes",
        "Dataset",
        fluxes,
        &["csv"],
    )
    .await?;
    let notes = ("notes.txt", &b"model notes"[..]);
    let model = publish(&app, both, "Gap-filling model", "Software", notes, &[]).await?;
    let notes = ("notes.txt", &b"chamber notes"[..]);
    let fen = publish(&app, both, "Fen chambers", "Dataset", notes, &[]).await?;
    let notes = ("notes.txt", &b"plot notes"[..]);
    let withdrawn = publish(&app, both, "Withdrawn plot", "Dataset", notes, &[]).await?;
    let reason = json!({"reason": "Consent for the site data was withdrawn."});
    admin
        .post(
            &format!("/api/datasets/{}/deaccession", withdrawn.id),
            &reason,
        )
        .await?
        .expect(StatusCode::OK)?;
    // Never published: a draft, and a new draft version of the forest dataset.
    let draft = dep.create_draft("Unfinished draft").await?;
    dep.post(&format!("/api/datasets/{}/versions", forest.id), &json!({}))
        .await?
        .expect(StatusCode::CREATED)?;
    let mut changed = minimal_json("Draft title of version 2");
    changed["types"] = json!({"resourceTypeGeneral": "Dataset"});
    dep.update_metadata(forest.id, &changed).await?;
    Ok(Records {
        app,
        forest,
        model,
        fen,
        withdrawn,
        draft,
    })
}

/// Runs `journey` on the four records, once per backend.
pub async fn on_each<F, Fut>(journey: F) -> TestResult
where
    F: Fn(Records) -> Fut,
    Fut: std::future::Future<Output = TestResult>,
{
    for backend in backends() {
        let records = four_records(backend).await?;
        journey(records)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}
