//! DOI registration when DataCite is away: down (503) for a while, not listening at
//! first, or configured only after the archive published with the local registrar.
//! Publication never waits on DataCite and no registration is lost; the retries
//! register every DOI once DataCite answers. The DataCite is the double in
//! tests/support/datacite.rs.

use std::net::SocketAddr;

use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::datacite::*;
use crate::support::*;

#[actix_web::test]
async fn datacite_being_down_delays_registration_and_never_loses_it() -> TestResult {
    for_each_backend(down_journey).await
}

async fn down_journey(backend: Backend) -> TestResult {
    let fake = FakeDatacite::start().await?;
    fake.set_down(true);
    let app = app_with_datacite(backend, &fake.url).await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let id = app.api(&dep).create_draft("Stream chemistry").await?;
    app.api(&dep).put_file(id, "chem.txt", b"ph 7.1").await?;

    // Published at once, though DataCite answers 503.
    let v1 = app.publish(&app.api(&dep), &app.api(&cur), id).await?;
    assert_eq!(v1["state"], "published");
    assert_ne!(v1["doi_state"], "findable");
    let doi = v1["doi"].as_str().ok_or("doi")?.to_string();
    let failing = wait_for_dataset(&app, &cur, id, "a failed attempt shows", |b| {
        b["doi_registration"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503"))
    })
    .await?;
    assert_eq!(failing["doi_state"], "pending", "{failing}");
    assert_eq!(failing["doi_registration"]["target_state"], "findable");
    assert!(failing["doi_registration"]["attempts"].as_i64() >= Some(1));

    // The dataset page says so: with the error to the depositor, without it to the public.
    let browser = app.browser();
    browser
        .sign_in("pi@site.org", "a long enough password")
        .await?;
    let (_, page) = browser.get_text(&format!("/datasets/{id}")).await?;
    assert!(page.contains("DOI registration pending"), "{page}");
    assert!(
        page.contains("last attempt failed") && page.contains("retrying"),
        "{page}"
    );
    assert!(page.contains("503"), "{page}");
    let public = app
        .client()
        .get(app.url(&format!("/datasets/{id}")))
        .send()
        .await?;
    assert_eq!(public.status(), StatusCode::OK);
    let public = public.text().await?;
    assert!(public.contains("DOI registration pending"), "{public}");
    assert!(!public.contains("503"), "errors are for insiders: {public}");
    let public_json = app.public_api().dataset(id).await?;
    assert!(public_json["doi_registration"]["last_error"].is_null());

    // DataCite comes back: the retries register the DOIs.
    fake.set_down(false);
    wait_for_dataset(&app, &cur, id, "findable once DataCite is back", |b| {
        b["doi_state"] == "findable"
            && b["concept_doi_state"] == "findable"
            && b["doi_registration"].is_null()
            && b["concept_doi_registration"].is_null()
    })
    .await?;
    assert_eq!(fake.state_of(&doi).as_deref(), Some("findable"));
    let unavailable = fake.received().iter().filter(|r| r.status == 503).count();
    assert!(
        unavailable >= 2,
        "both DOIs were tried while DataCite was down"
    );
    let (_, page) = browser.get_text(&format!("/datasets/{id}")).await?;
    assert!(!page.contains("DOI registration pending"), "{page}");
    validate_all_xml(&fake)?;
    Ok(())
}

#[actix_web::test]
async fn datacite_not_listening_at_first_is_retried_until_it_is() -> TestResult {
    for_each_backend(not_listening_journey).await
}

async fn not_listening_journey(backend: Backend) -> TestResult {
    // A port nothing listens on yet.
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let app = app_with_datacite(backend, &format!("http://{addr}")).await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let id = app.api(&dep).create_draft("Snow depth").await?;
    app.api(&dep).put_file(id, "snow.txt", b"1.2 m").await?;
    let v1 = app.publish(&app.api(&dep), &app.api(&cur), id).await?;
    assert_eq!(v1["state"], "published");
    let failing = wait_for_dataset(&app, &cur, id, "a refused connection shows", |b| {
        b["doi_registration"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("could not connect"))
    })
    .await?;
    assert_eq!(failing["doi_state"], "pending");

    let fake = FakeDatacite::start_on(std::net::TcpListener::bind(addr)?)?;
    wait_for_dataset(&app, &cur, id, "findable once DataCite listens", |b| {
        b["doi_state"] == "findable" && b["concept_doi_state"] == "findable"
    })
    .await?;
    let doi = v1["doi"].as_str().ok_or("doi")?;
    assert_eq!(fake.state_of(doi).as_deref(), Some("findable"));
    Ok(())
}

/// The registration status of each DOI of the dataset, as the archive records it.
async fn doi_statuses(
    archive: &holdfast::app::Archive,
    id: i64,
) -> Result<Vec<holdfast::doi::registration::DoiStatus>, Error> {
    let s = archive.settings.clone();
    Ok(archive
        .db
        .run(move |conn| holdfast::doi::registration::statuses_of_dataset(conn, &s, id))
        .await?)
}

#[actix_web::test]
async fn switching_to_datacite_registers_the_archives_dois_at_start() -> TestResult {
    for_each_backend(switch_journey).await
}

async fn switch_journey(backend: Backend) -> TestResult {
    use holdfast::config::{DataciteSettings, DoiProviderKind, Secret};
    let fake = FakeDatacite::start().await?;
    // An archive on the local registrar whose jobs run only when the test says so.
    let app = TestApp::builder()
        .settings(|args| args.doi_prefix = Some(PREFIX.into()))
        .spawn(backend)
        .await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let id = app.api(&dep).create_draft("Long-term plots").await?;
    app.api(&dep).put_file(id, "plots.txt", b"plot 1").await?;
    app.run_jobs().await?;
    let ApiAnswer { status, body, .. } = app
        .api(&dep)
        .post(&format!("/api/datasets/{id}/submit"), &json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ApiAnswer { status, body, .. } = app
        .api(&cur)
        .post(
            &format!("/api/datasets/{id}/review"),
            &json!({"decision": "accept"}),
        )
        .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.run_jobs().await?;
    let local = app.api(&cur).dataset(id).await?;
    assert_eq!(local["state"], "published");
    assert_eq!(
        local["doi_state"], "findable",
        "the local registrar: at once"
    );
    let doi = local["doi"].as_str().ok_or("doi")?.to_string();
    let concept = local["concept_doi"].as_str().ok_or("concept")?.to_string();
    assert!(fake.received().is_empty());

    // The same archive started again with DataCite: its DOIs are registered there.
    let mut settings = (*app.archive.settings).clone();
    settings.doi_provider = DoiProviderKind::Datacite;
    settings.datacite = Some(DataciteSettings {
        url: fake.url.clone(),
        repository: REPOSITORY.into(),
        password: Secret::new(PASSWORD),
    });
    let restarted = holdfast::app::Archive::open(settings).await?;
    let statuses = doi_statuses(&restarted, id).await?;
    assert!(
        statuses
            .iter()
            .all(|s| s.is_pending() && s.agency_state() == "pending"),
        "{statuses:?}"
    );
    holdfast::jobs::run_pending_now(&restarted).await?;
    assert_eq!(fake.state_of(&doi).as_deref(), Some("findable"));
    assert_eq!(fake.state_of(&concept).as_deref(), Some("findable"));
    let statuses = doi_statuses(&restarted, id).await?;
    assert!(
        statuses
            .iter()
            .all(|s| !s.is_pending() && s.agency_state() == "findable"),
        "{statuses:?}"
    );
    validate_all_xml(&fake)?;
    Ok(())
}
