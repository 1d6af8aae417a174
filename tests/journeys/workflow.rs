//! The review workflow: submit, request changes, fix and resubmit, claim, approve and
//! publish through the job queue; a second version with its own DOI; deaccession.

use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

/// The depositor, curator and admin of these journeys.
async fn people(app: &TestApp) -> Result<(Api, Api, Api), Error> {
    let token = |email: &'static str, role| async move {
        Ok::<_, Error>(app.new_user(email, role).await?.token)
    };
    Ok((
        app.api(&token("pi@site.org", Role::Depositor).await?),
        app.api(&token("cur@archive.org", Role::Curator).await?),
        app.api(&token("admin@archive.org", Role::Admin).await?),
    ))
}

/// A checked draft with one file.
async fn checked_draft(app: &TestApp, dep: &Api) -> Result<i64, Error> {
    let id = dep.create_draft("Leaf litter decomposition").await?;
    dep.put_file(id, "notes.txt", b"first draft").await?;
    app.run_jobs().await?;
    Ok(id)
}

#[actix_web::test]
async fn illegal_review_steps_are_refused_and_only_curators_claim() -> TestResult {
    on_each_backend(|app| async move {
        let (dep, cur, _) = people(&app).await?;
        let id = checked_draft(&app, &dep).await?;

        // Illegal transitions are refused with a clear message.
        let r = cur.review(id, "request_changes", Some("x")).await?;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(r.error().contains("draft"));

        dep.submit(id).await?;
        let r = dep
            .post(&format!("/api/datasets/{id}/claim"), &json!({}))
            .await?;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "depositors cannot claim");
        assert_eq!(cur.claim(id).await?["state"], "in_review");

        // The queue shows it with its assignee.
        let queue = cur.get_ok("/api/curation/queue?assignee=me").await?;
        let entry = queue["datasets"]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["dataset"]["id"] == id))
            .ok_or("queued")?;
        assert!(entry["assignee_name"].as_str().is_some());
        assert_eq!(entry["blocking_items"], 0);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_submission_goes_back_for_changes_and_is_then_published() -> TestResult {
    on_each_backend(|app| async move {
        let (dep, cur, _) = people(&app).await?;
        let id = checked_draft(&app, &dep).await?;
        dep.submit(id).await?;
        cur.claim(id).await?;

        // Changes requested need a comment; the draft reopens and the depositor is told.
        let r = cur.review(id, "request_changes", Some(" ")).await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = cur
            .review(
                id,
                "request_changes",
                Some("Please add the sampling protocol."),
            )
            .await?;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["state"], "changes_requested");
        let told = app.mail_to("pi@site.org").await?;
        assert!(
            told.iter().any(|m| m.subject.contains("Changes requested")),
            "the depositor is told: {told:?}"
        );

        // The depositor fixes and resubmits; approval (claiming on the way) publishes
        // through the job queue.
        dep.put_file(id, "protocol.txt", b"sampling protocol")
            .await?;
        app.run_jobs().await?;
        assert_eq!(dep.submit(id).await?["state"], "submitted");
        let r = cur.review(id, "accept", Some("Thanks")).await?;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        app.run_jobs().await?;
        let v1 = cur.dataset(id).await?;
        assert_eq!(v1["state"], "published");
        assert_eq!(v1["version"], 1);
        assert_eq!(v1["doi_state"], "findable");
        assert_ne!(v1["doi"], v1["concept_doi"]);
        assert!(
            v1["concept_doi"].is_string() && v1["doi"].is_string(),
            "{v1}"
        );
        let history = app
            .archive
            .db
            .run(move |conn| holdfast::deposit::service::transitions(conn, id))
            .await?;
        let states: Vec<&str> = history.iter().map(|t| t.row.to_state.as_str()).collect();
        assert_eq!(
            states,
            [
                "draft",
                "submitted",
                "in_review",
                "changes_requested",
                "submitted",
                "in_review",
                "approved",
                "published"
            ]
        );
        assert!(history
            .iter()
            .skip(1)
            .all(|t| t.actor_name.is_some() || t.row.to_state == "published"));
        Ok(())
    })
    .await
}

/// A dataset published twice: version 1 with notes.txt and protocol.txt, version 2
/// with new notes. Checks on the way that only the depositor opens a version, that the
/// files are carried over and that the public sees version 1 meanwhile. Its id and the
/// two versions' JSON.
async fn two_versions(app: &TestApp, dep: &Api, cur: &Api) -> Result<(i64, Value, Value), Error> {
    let id = checked_draft(app, dep).await?;
    dep.put_file(id, "protocol.txt", b"sampling protocol")
        .await?;
    let v1 = app.publish(dep, cur, id).await?;

    let versions = format!("/api/datasets/{id}/versions");
    let r = cur.post(&versions, &json!({})).await?;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "only the depositor opens versions: {}",
        r.text
    );
    let draft = dep
        .post(&versions, &json!({}))
        .await?
        .expect(StatusCode::CREATED)?;
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["version"], 2);
    assert_eq!(
        draft["files"].as_array().map(Vec::len),
        Some(2),
        "files carried over"
    );
    assert_eq!(
        app.public_api().dataset(id).await?["version"],
        1,
        "the public still sees version 1"
    );
    dep.put_file(id, "notes.txt", b"second version").await?;
    let v2 = app.publish(dep, cur, id).await?;
    Ok((id, v1, v2))
}

#[actix_web::test]
async fn a_second_version_gets_its_own_doi_and_the_concept_doi_follows() -> TestResult {
    on_each_backend(|app| async move {
        let (dep, cur, _) = people(&app).await?;
        let (id, v1, v2) = two_versions(&app, &dep, &cur).await?;
        assert_eq!(v2["version"], 2);
        assert_ne!(v2["doi"], v1["doi"]);
        assert_eq!(v2["concept_doi"], v1["concept_doi"]);
        assert_eq!(v2["versions"].as_array().map(Vec::len), Some(2));
        let public = app.public_api();
        let old = public
            .get(&format!("/datasets/{id}/versions/1/files/notes.txt"))
            .await?;
        assert_eq!(old.text, "first draft");
        assert_eq!(public.download(id, "notes.txt").await?, b"second version");
        assert_eq!(
            public.download(id, "protocol.txt").await?,
            b"sampling protocol"
        );
        validate_ocfl_root(&app.ocfl_root())?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_deaccessioned_dataset_leaves_a_tombstone_and_a_resolving_doi() -> TestResult {
    on_each_backend(|app| async move {
        let (dep, cur, admin) = people(&app).await?;
        let (id, v1, _) = two_versions(&app, &dep, &cur).await?;
        let concept = v1["concept_doi"].as_str().ok_or("concept doi")?;

        // Admins only, with a reason; a tombstone stays, files are gone.
        let path = format!("/api/datasets/{id}/deaccession");
        let r = cur.post(&path, &json!({"reason": "x"})).await?;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let body = admin
            .post(
                &path,
                &json!({"reason": "Consent for the site data was withdrawn."}),
            )
            .await?
            .expect(StatusCode::OK)?;
        assert_eq!(body["state"], "deaccessioned");
        assert_eq!(body["doi_state"], "registered");
        let public = app.public_api();
        let page = public.get(&format!("/datasets/{id}")).await?;
        assert_eq!(page.status, StatusCode::GONE);
        assert!(page
            .text
            .contains("Consent for the site data was withdrawn."));
        let file = public
            .get(&format!("/datasets/{id}/files/notes.txt"))
            .await?;
        assert_eq!(file.status, StatusCode::GONE);
        // The DOI still resolves (to the tombstone).
        let r = public.get(&format!("/doi/{concept}")).await?;
        assert!(r.status.is_redirection(), "{}", r.status);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn the_event_history_tells_what_happened_and_travels_with_the_content() -> TestResult {
    on_each_backend(|app| async move {
        let (dep, cur, admin) = people(&app).await?;
        let (id, v1, _) = two_versions(&app, &dep, &cur).await?;
        let path = format!("/api/datasets/{id}/deaccession");
        admin
            .post(&path, &json!({"reason": "Consent was withdrawn."}))
            .await?
            .expect(StatusCode::OK)?;

        let events = admin.get_ok(&format!("/api/datasets/{id}/events")).await?;
        let kinds: Vec<&str> = events["events"]
            .as_array()
            .ok_or("events")?
            .iter()
            .filter_map(|e| e["event_type"].as_str())
            .collect();
        for wanted in [
            "validation",
            "ingestion",
            "message digest calculation",
            "deaccession",
        ] {
            assert!(kinds.contains(&wanted), "{wanted} in {kinds:?}");
        }
        assert_eq!(
            kinds.iter().filter(|k| **k == "ingestion").count(),
            2,
            "one per version"
        );
        let last = events["events"]
            .as_array()
            .and_then(|l| l.last())
            .ok_or("last event")?;
        assert_eq!(last["event_type"], "deaccession");
        assert_eq!(last["agent_type"], "person");
        assert_eq!(
            last["agent_name"], "Test Person",
            "a name, never an address"
        );
        let xml = admin
            .get(&format!("/api/datasets/{id}/events?format=premis"))
            .await?
            .text;
        assert!(
            xml.contains("<premis xmlns=\"http://www.loc.gov/premis/v3\"")
                && xml.contains("<eventType")
        );
        let object_id = format!("doi:{}", v1["concept_doi"].as_str().ok_or("concept doi")?);
        let log = app
            .ocfl_root()
            .join(app.archive.ocfl.object_root(&object_id))
            .join("logs/premis-events.xml");
        assert!(std::fs::read_to_string(&log)?.contains("ingestion"));
        validate_ocfl_root(&app.ocfl_root())?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn landing_pages_browse_folders_page_files_and_state_the_standards_passed() -> TestResult {
    on_each_backend(|app| async move {
        let (dep, cur, _) = people(&app).await?;
        let id = dep.create_draft("Many small files").await?;
        let names: Vec<String> = (0..150).map(|i| format!("many/f{i:03}.txt")).collect();
        let entries: Vec<(&str, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), b"x".as_slice()))
            .collect();
        let bundle = dep.request(
            reqwest::Method::PUT,
            &format!("/api/datasets/{id}/files/bundle.zip?unpack=true"),
        );
        dep.send(bundle.body(zip_of(&entries)))
            .await?
            .expect(StatusCode::CREATED)?;
        dep.put_file(id, "table.csv", b"site,depth_cm\nA,1.5\n")
            .await?;
        app.publish(&dep, &cur, id).await?;
        let page = |query: &'static str| {
            let public = app.public_api();
            async move { Ok::<_, Error>(public.get(&format!("/datasets/{id}{query}")).await?.text) }
        };

        let html = page("").await?;
        assert!(html.contains("many/</a>"), "the folder is one row");
        assert!(html.contains("150 file(s)"));
        assert!(html.contains(">table.csv</a>"));
        assert!(
            !html.contains(">many/f000.txt</a>"),
            "files inside folders are not listed at the top"
        );
        assert!(
            html.contains("csv ✓ passed"),
            "the standards passed are stated"
        );

        let html = page("?folder=many").await?;
        assert!(html.contains(">many/f000.txt</a>") && html.contains(">many/f099.txt</a>"));
        assert!(
            !html.contains(">many/f100.txt</a>"),
            "a hundred files per page"
        );
        assert!(html.contains("Page 1 of 2"));
        let html = page("?folder=many&page=2").await?;
        assert!(html.contains(">many/f149.txt</a>") && !html.contains(">many/f000.txt</a>"));
        let html = page("?q=f14").await?;
        assert!(html.contains(">many/f140.txt</a>") && !html.contains(">many/f000.txt</a>"));
        Ok(())
    })
    .await
}
