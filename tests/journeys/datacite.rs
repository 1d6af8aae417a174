//! DOIs registered with DataCite, through the whole life of a DOI: reserved as a draft,
//! findable on publication with its concept DOI, a new version with its relations,
//! hidden on deaccession; a draft DOI deleted, a registered one never; the local
//! registrar's reservation from the draft page. The DataCite they talk to is the double
//! in tests/support/datacite.rs; every DataCite XML it received is validated against
//! the official 4.6 XSD.

use holdfast::accounts::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::datacite::*;
use crate::support::*;

/// Asks to reserve a DOI for the draft `id`, as the holder of `token`.
async fn reserve_doi(app: &TestApp, token: &str, id: i64) -> Result<ApiAnswer, Error> {
    app.api(token)
        .post(&format!("/api/datasets/{id}/doi"), &json!({}))
        .await
}

/// The status of `/doi/{doi}`: where the archive resolves its own DOIs.
async fn resolving(app: &TestApp, doi: &str) -> Result<StatusCode, Error> {
    let r = app.client().get(app.url(&format!("/doi/{doi}"))).send();
    Ok(r.await?.status())
}

/// The status the fake DataCite answers a request with (`auth`: repository, password).
async fn fake_answers(
    fake: &FakeDatacite,
    (method, path): (Method, &str),
    auth: (&str, &str),
    content_type: &str,
    body: &Value,
) -> Result<StatusCode, Error> {
    let r = fresh_client()
        .request(method, format!("{}{path}", fake.url))
        .basic_auth(auth.0, Some(auth.1))
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body.to_string())
        .send()
        .await?;
    Ok(r.status())
}

/// A JSON:API body about `doi` (`data.type` `kind`), with `event` when given.
fn doi_body(kind: &str, doi: &str, event: Option<&str>) -> Value {
    let prefix = doi.split('/').next().unwrap_or_default();
    let mut body = json!({"data": {"type": kind, "attributes": {"doi": doi, "prefix": prefix}}});
    if let Some(event) = event {
        body["data"]["attributes"]["event"] = json!(event);
    }
    body
}

#[actix_web::test]
async fn the_fake_datacite_is_strict_like_datacite() -> TestResult {
    let fake = FakeDatacite::start().await?;
    let good = (REPOSITORY, PASSWORD);
    let body = doi_body("dois", "10.80000/abc", None);
    let create = || (Method::POST, "/dois");
    let update = |method| (method, "/dois/10.80000/abc");
    let status = fake_answers(&fake, create(), (REPOSITORY, "wrong"), JSONAPI, &body).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let status = fake_answers(&fake, create(), good, "application/json", &body).await?;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bad = doi_body("works", "10.80000/abc", None);
    let status = fake_answers(&fake, create(), good, JSONAPI, &bad).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let other_prefix = doi_body("dois", "10.1234/abc", None);
    let status = fake_answers(&fake, create(), good, JSONAPI, &other_prefix).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let status = fake_answers(&fake, update(Method::PUT), good, JSONAPI, &body).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown DOI");
    let r = fresh_client()
        .post(format!("{}/dois", fake.url))
        .basic_auth(REPOSITORY, Some(PASSWORD))
        .header(reqwest::header::CONTENT_TYPE, JSONAPI)
        .body(body.to_string())
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await?;
    assert_eq!(created["data"]["attributes"]["state"], "draft");
    let status = fake_answers(&fake, create(), good, JSONAPI, &body).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "taken");
    // Publishing needs a URL and metadata.
    let publish = doi_body("dois", "10.80000/abc", Some("publish"));
    let status = fake_answers(&fake, update(Method::PUT), good, JSONAPI, &publish).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fake.state_of("10.80000/abc").as_deref(), Some("draft"));
    let status = fake_answers(&fake, update(Method::DELETE), good, JSONAPI, &Value::Null).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(fake.record("10.80000/abc").is_none());
    fake.set_down(true);
    let status = fake_answers(&fake, create(), good, JSONAPI, &body).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

/// An archive registering with the fake DataCite, its people, and a draft with a file.
struct Registry {
    fake: FakeDatacite,
    app: TestApp,
    dep: String,
    cur: String,
    admin: String,
    id: i64,
}

async fn registry(backend: Backend) -> Result<Registry, Error> {
    let fake = FakeDatacite::start().await?;
    let app = app_with_datacite(backend, &fake.url).await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let admin = app.new_user("admin@archive.org", Role::Admin).await?.token;
    let id = app.api(&dep).create_draft("Soil respiration 2024").await?;
    app.api(&dep)
        .put_file(id, "notes.txt", b"first version")
        .await?;
    Ok(Registry {
        fake,
        app,
        dep,
        cur,
        admin,
        id,
    })
}

#[actix_web::test]
async fn datacite_registers_reserves_versions_and_hides_dois() -> TestResult {
    // One archive per backend goes through the DOI's whole life, step by step.
    for backend in backends() {
        let r = registry(backend).await?;
        let on = |e: Error| format!("on {backend:?}: {e}");
        let v1_doi = a_reserved_doi_is_a_draft_at_datacite(&r)
            .await
            .map_err(on)?;
        let concept = publication_makes_both_dois_findable(&r, &v1_doi)
            .await
            .map_err(on)?;
        let v2_doi = a_second_version_gets_its_own_doi_and_relations(&r, &v1_doi, &concept)
            .await
            .map_err(on)?;
        deaccession_hides_every_doi(&r, [&concept, &v1_doi, &v2_doi])
            .await
            .map_err(on)?;
        let fake = &r.fake;
        // Nothing was refused along the way, and every XML sent is valid DataCite 4.6.
        let refused: Vec<String> = fake
            .received()
            .iter()
            .filter(|r| r.status >= 300)
            .map(|r| format!("{} {} → {} {}", r.method, r.path, r.status, r.body))
            .collect();
        assert!(refused.is_empty(), "DataCite refused: {refused:?}");
        validate_all_xml(fake).map_err(on)?;
    }
    Ok(())
}

/// The depositor reserves a DOI for the draft: a draft DOI at DataCite. The DOI.
async fn a_reserved_doi_is_a_draft_at_datacite(r: &Registry) -> Result<String, Error> {
    let Registry {
        fake,
        app,
        dep,
        cur,
        id,
        ..
    } = r;
    let id = *id;
    let ApiAnswer { status, .. } = reserve_doi(app, cur, id).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the depositor reserves");
    let ApiAnswer { status, body, .. } = reserve_doi(app, dep, id).await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v1_doi = body["doi"].as_str().ok_or("reserved doi")?.to_string();
    assert!(v1_doi.starts_with(&format!("{PREFIX}/")), "{v1_doi}");
    assert!(
        matches!(body["doi_state"].as_str(), Some("pending" | "draft")),
        "{body}"
    );
    let ApiAnswer {
        status,
        body: again,
        ..
    } = reserve_doi(app, dep, id).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["doi"],
        v1_doi.as_str(),
        "reserving again keeps the DOI"
    );
    let drafted = wait_for_dataset(app, dep, id, "draft DOI at DataCite", |b| {
        b["doi_state"] == "draft" && b["doi_registration"].is_null()
    })
    .await?;
    assert_eq!(drafted["doi"], v1_doi.as_str());
    assert_eq!(fake.state_of(&v1_doi).as_deref(), Some("draft"));
    let first = fake.received_for(&v1_doi);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        (first[0].method.as_str(), first[0].path.as_str()),
        ("POST", "/dois")
    );
    assert_eq!(
        first[0].event(),
        None,
        "a draft is created without an event"
    );
    assert_eq!(first[0].attributes()["prefix"], PREFIX);

    // The draft page shows the reserved DOI.
    let browser = app.browser();
    browser
        .sign_in("pi@site.org", "a long enough password")
        .await?;
    let (_, page) = browser.get_text(&format!("/datasets/{id}")).await?;
    assert!(
        page.contains("Reserved DOI") && page.contains(&v1_doi),
        "{page}"
    );
    assert!(!page.contains("Reserve a DOI</button>"));

    Ok(v1_doi)
}

/// Publication does not wait on DataCite; the job then makes both DOIs findable. The
/// concept DOI.
async fn publication_makes_both_dois_findable(r: &Registry, v1_doi: &str) -> Result<String, Error> {
    let Registry {
        fake,
        app,
        dep,
        cur,
        id,
        ..
    } = r;
    let id = *id;
    let v1 = app.publish(&app.api(dep), &app.api(cur), id).await?;
    assert_eq!(v1["doi"], v1_doi, "the reserved DOI is the version's DOI");
    let concept = v1["concept_doi"].as_str().ok_or("concept doi")?.to_string();
    wait_for_dataset(app, cur, id, "findable after publication", |b| {
        b["doi_state"] == "findable"
            && b["concept_doi_state"] == "findable"
            && b["doi_registration"].is_null()
            && b["concept_doi_registration"].is_null()
    })
    .await?;
    assert_eq!(fake.state_of(v1_doi).as_deref(), Some("findable"));
    assert_eq!(fake.state_of(&concept).as_deref(), Some("findable"));
    let landing = app.url(&format!("/datasets/{id}"));
    assert_eq!(
        fake.record(v1_doi).map(|r| r["url"].clone()),
        Some(json!(format!("{landing}/versions/1")))
    );
    assert_eq!(
        fake.record(&concept).map(|r| r["url"].clone()),
        Some(json!(landing))
    );
    let publish = fake.received_for(v1_doi);
    let last = publish.last().ok_or("publication request")?;
    assert_eq!(last.method, "PUT", "the reserved draft is updated");
    assert_eq!(last.path, format!("/dois/{v1_doi}"));
    assert_eq!(last.event(), Some("publish"));
    let concept_create = fake.received_for(&concept);
    assert_eq!(
        concept_create
            .first()
            .map(|r| (r.method.as_str(), r.event())),
        Some(("POST", Some("publish")))
    );
    assert!(has_relation(&fake.xml_of(v1_doi), "IsVersionOf", &concept));
    assert!(has_relation(&fake.xml_of(&concept), "HasVersion", v1_doi));

    Ok(concept)
}

/// A second version: its own DOI with IsNewVersionOf; the concept DOI and version 1
/// are updated (HasVersion, IsPreviousVersionOf). The new DOI.
async fn a_second_version_gets_its_own_doi_and_relations(
    r: &Registry,
    v1_doi: &str,
    concept: &str,
) -> Result<String, Error> {
    let Registry {
        fake,
        app,
        dep,
        cur,
        id,
        ..
    } = r;
    let id = *id;
    let ApiAnswer { status, body, .. } = app
        .api(dep)
        .post(&format!("/api/datasets/{id}/versions"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.api(dep)
        .put_file(id, "notes.txt", b"second version")
        .await?;
    let v2 = app.publish(&app.api(dep), &app.api(cur), id).await?;
    let v2_doi = v2["doi"].as_str().ok_or("v2 doi")?.to_string();
    assert_ne!(v2_doi, v1_doi);
    assert_eq!(v2["concept_doi"], concept);
    wait_for_datacite(
        app,
        fake,
        "version 2 registered, concept and version 1 updated",
        |f| {
            f.state_of(&v2_doi).as_deref() == Some("findable")
                && has_relation(&f.xml_of(concept), "HasVersion", &v2_doi)
                && has_relation(&f.xml_of(v1_doi), "IsPreviousVersionOf", &v2_doi)
        },
    )
    .await?;
    let v2 = wait_for_dataset(app, cur, id, "version 2 findable", |b| {
        b["doi_state"] == "findable" && b["concept_doi_registration"].is_null()
    })
    .await?;
    assert_eq!(v2["version"], 2);
    let v2_xml = fake.xml_of(&v2_doi);
    assert!(has_relation(&v2_xml, "IsNewVersionOf", v1_doi), "{v2_xml}");
    assert!(has_relation(&v2_xml, "IsVersionOf", concept), "{v2_xml}");
    let concept_xml = fake.xml_of(concept);
    assert!(
        has_relation(&concept_xml, "HasVersion", v1_doi),
        "{concept_xml}"
    );
    assert!(
        concept_xml.contains("<version>2</version>"),
        "the concept DOI describes the latest version"
    );
    // The archive's own DataCite XML says the same as what DataCite was sent.
    for (n, relation, other) in [
        (2, "IsNewVersionOf", v1_doi),
        (1, "IsPreviousVersionOf", v2_doi.as_str()),
    ] {
        let served = app
            .client()
            .get(app.url(&format!("/datasets/{id}/versions/{n}/export/datacite-xml")))
            .send()
            .await?
            .text()
            .await?;
        assert!(has_relation(&served, relation, other), "{served}");
        assert!(has_relation(&served, "IsVersionOf", concept), "{served}");
    }
    let concept_update = fake.received_for(concept);
    let last = concept_update.last().ok_or("concept update")?;
    assert_eq!(
        (last.method.as_str(), last.event()),
        ("PUT", None),
        "a metadata update"
    );
    assert_eq!(fake.state_of(concept).as_deref(), Some("findable"));

    Ok(v2_doi)
}

/// Deaccession hides every DOI: registered, no longer findable.
async fn deaccession_hides_every_doi(r: &Registry, dois: [&str; 3]) -> TestResult {
    let Registry {
        fake,
        app,
        admin,
        id,
        ..
    } = r;
    let id = *id;
    let ApiAnswer { status, body, .. } = app
        .api(admin)
        .post(
            &format!("/api/datasets/{id}/deaccession"),
            &json!({"reason": "Consent for the site data was withdrawn."}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for_datacite(app, fake, "all DOIs hidden", |f| {
        dois.iter()
            .all(|d| f.state_of(d).as_deref() == Some("registered"))
    })
    .await?;
    for d in dois {
        let hide = fake
            .received_for(d)
            .into_iter()
            .rev()
            .find(|r| r.event() == Some("hide"))
            .ok_or(format!("no hide for {d}"))?;
        assert_eq!(hide.method, "PUT");
        assert_eq!(hide.status, 200);
    }
    wait_for_dataset(app, admin, id, "registered after deaccession", |b| {
        b["doi_state"] == "registered"
    })
    .await?;

    Ok(())
}

#[actix_web::test]
async fn a_draft_doi_is_deleted_at_datacite_a_registered_one_never() -> TestResult {
    for_each_backend(delete_journey).await
}

async fn delete_journey(backend: Backend) -> TestResult {
    let fake = FakeDatacite::start().await?;
    let app = app_with_datacite(backend, &fake.url).await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let id = app.api(&dep).create_draft("Abandoned plot").await?;
    app.api(&dep).put_file(id, "plot.txt", b"plot 7").await?;
    let ApiAnswer { status, body, .. } = reserve_doi(&app, &dep, id).await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let draft_doi = body["doi"].as_str().ok_or("doi")?.to_string();
    wait_for_datacite(&app, &fake, "draft created", |f| {
        f.state_of(&draft_doi).is_some()
    })
    .await?;

    // What deleting a draft dataset does with its reserved DOI.
    let settings = app.archive.settings.clone();
    let d = draft_doi.clone();
    app.archive
        .db
        .run(move |conn| holdfast::doi::registration::discard_draft(conn, &settings, &d))
        .await?;
    app.archive.wake_workers();
    wait_for_datacite(&app, &fake, "draft deleted", |f| {
        f.record(&draft_doi).is_none()
    })
    .await?;
    let delete = fake
        .received_for(&draft_doi)
        .into_iter()
        .find(|r| r.method == "DELETE")
        .ok_or("no DELETE")?;
    assert_eq!(delete.status, 204);
    let shown = app.api(&dep).dataset(id).await?;
    assert!(shown["doi"].is_null(), "{shown}");

    // Published, the dataset gets a new DOI, which is never deleted.
    let v1 = app.publish(&app.api(&dep), &app.api(&cur), id).await?;
    let doi = v1["doi"].as_str().ok_or("doi")?.to_string();
    assert_ne!(doi, draft_doi);
    wait_for_dataset(&app, &cur, id, "findable", |b| b["doi_state"] == "findable").await?;
    let settings = app.archive.settings.clone();
    let d = doi.clone();
    let refused = app
        .archive
        .db
        .run(move |conn| holdfast::doi::registration::discard_draft(conn, &settings, &d))
        .await;
    assert!(
        matches!(refused, Err(holdfast::error::DomainError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(fake.state_of(&doi).as_deref(), Some("findable"));
    assert!(
        fake.received()
            .iter()
            .filter(|r| r.method == "DELETE")
            .count()
            == 1
    );
    Ok(())
}

#[actix_web::test]
async fn the_local_registrar_reserves_a_draft_doi_from_the_draft_page() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
        let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
        let id = app.api(&dep).create_draft("Leaf area index").await?;
        app.api(&dep).put_file(id, "lai.txt", b"3.2").await?;
        let browser = app.browser();
        browser
            .sign_in("pi@site.org", "a long enough password")
            .await?;
        let page = format!("/datasets/{id}");
        let (_, html) = browser.get_text(&page).await?;
        assert!(html.contains("Reserve a DOI</button>"), "{html}");
        let r = browser
            .post_form(&page, &format!("/datasets/{id}/doi"), &[])
            .await?;
        expect_redirect(&r, &format!("/datasets/{id}?msg=doi_reserved"))?;
        let (_, html) = browser.get_text(&page).await?;
        let shown = app.api(&dep).dataset(id).await?;
        let doi = shown["doi"].as_str().ok_or("reserved doi")?.to_string();
        assert!(doi.starts_with("10.5072/"), "{doi}");
        assert!(
            html.contains("Reserved DOI") && html.contains(&doi) && html.contains("(draft:"),
            "{html}"
        );
        assert!(!html.contains("Reserve a DOI</button>"));
        // The local registrar holds it at once, as a draft that does not resolve yet.
        assert_eq!(shown["doi_state"], "draft");
        assert!(shown["doi_registration"].is_null());
        assert_eq!(resolving(&app, &doi).await?, StatusCode::NOT_FOUND);
        // Others cannot reserve on this draft.
        let ApiAnswer { status, .. } = reserve_doi(&app, &cur, id).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Publication makes the reserved DOI findable at once.
        let v1 = app.publish(&app.api(&dep), &app.api(&cur), id).await?;
        assert_eq!(v1["doi"], doi.as_str());
        assert_eq!(v1["doi_state"], "findable");
        assert_eq!(v1["concept_doi_state"], "findable");
        assert!(v1["doi_registration"].is_null());
        assert_eq!(resolving(&app, &doi).await?, StatusCode::FOUND);
        // A published dataset has nothing to reserve.
        let ApiAnswer { status, .. } = reserve_doi(&app, &dep, id).await?;
        assert_eq!(status, StatusCode::CONFLICT);
        Ok(())
    })
    .await
}
