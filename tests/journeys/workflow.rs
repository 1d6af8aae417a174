//! The review workflow: submit, request changes, fix and resubmit, claim, approve and
//! publish in the background; a second version with its own DOI; deaccession.

use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let r = app
        .client()
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn put_file(app: &TestApp, token: &str, id: i64, path: &str, bytes: &[u8]) -> TestResult {
    let r = app
        .client()
        .put(app.url(&format!("/api/datasets/{id}/files/{path}")))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await?;
    if r.status() != StatusCode::CREATED {
        return Err(format!("upload {path}: {}", r.status()).into());
    }
    Ok(())
}

#[actix_web::test]
async fn submit_request_changes_resubmit_approve_version_and_deaccession() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.token_for("pi@site.org", Role::Depositor).await?;
        let cur = app.token_for("cur@archive.org", Role::Curator).await?;
        let admin = app.token_for("admin@archive.org", Role::Admin).await?;
        let id = app.api_draft(&dep, "Leaf litter decomposition").await?;
        put_file(&app, &dep, id, "notes.txt", b"first draft").await?;
        app.wait_for_checks(&dep, id).await?;

        // Illegal transitions are refused with a clear message.
        let (status, body) = post(
            &app,
            &cur,
            &format!("/api/datasets/{id}/review"),
            json!({"decision": "request_changes", "comment": "x"}),
        )
        .await?;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"].as_str().unwrap_or("").contains("draft"));

        let (status, _) =
            post(&app, &dep, &format!("/api/datasets/{id}/submit"), json!({})).await?;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = post(&app, &dep, &format!("/api/datasets/{id}/claim"), json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "depositors cannot claim");
        let (status, body) =
            post(&app, &cur, &format!("/api/datasets/{id}/claim"), json!({})).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["state"], "in_review");

        // The queue shows it with its assignee.
        let r = app
            .client()
            .get(app.url("/api/curation/queue?assignee=me"))
            .bearer_auth(&cur)
            .send()
            .await?;
        let queue: Value = r.json().await?;
        let entry = queue["datasets"]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["dataset"]["id"] == id))
            .ok_or("queued")?;
        assert!(entry["assignee_name"].as_str().is_some());
        assert_eq!(entry["blocking_items"], 0);

        // Changes requested need a comment; the draft reopens with the request on top.
        let (status, _) = post(
            &app,
            &cur,
            &format!("/api/datasets/{id}/review"),
            json!({"decision": "request_changes", "comment": " "}),
        )
        .await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, body) = post(
            &app,
            &cur,
            &format!("/api/datasets/{id}/review"),
            json!({"decision": "request_changes", "comment": "Please add the sampling protocol."}),
        )
        .await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "changes_requested");
        let outbox: Vec<(String, String)> = app
            .archive
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::outbox;
                Ok(outbox::table
                    .select((outbox::to_address, outbox::subject))
                    .load(conn)?)
            })
            .await?;
        assert!(
            outbox
                .iter()
                .any(|(to, subject)| to == "pi@site.org" && subject.contains("Changes requested")),
            "the depositor is told: {outbox:?}"
        );

        // The depositor fixes and resubmits.
        put_file(&app, &dep, id, "protocol.txt", b"sampling protocol").await?;
        app.wait_for_checks(&dep, id).await?;
        let (status, body) =
            post(&app, &dep, &format!("/api/datasets/{id}/submit"), json!({})).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "submitted");

        // Approval (claiming on the way) publishes through the job queue.
        let (status, body) = post(
            &app,
            &cur,
            &format!("/api/datasets/{id}/review"),
            json!({"decision": "accept", "comment": "Thanks"}),
        )
        .await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let v1 = app.wait_published(&cur, id).await?;
        assert_eq!(v1["version"], 1);
        assert_eq!(v1["doi_state"], "findable");
        let v1_doi = v1["doi"].as_str().ok_or("doi")?.to_string();
        let concept = v1["concept_doi"].as_str().ok_or("concept doi")?.to_string();
        assert_ne!(v1_doi, concept);
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

        // A second version: files carried over, its own DOI, the concept DOI follows it.
        let (status, body) = post(
            &app,
            &cur,
            &format!("/api/datasets/{id}/versions"),
            json!({}),
        )
        .await?;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "only the depositor opens versions: {body}"
        );
        let (status, body) = post(
            &app,
            &dep,
            &format!("/api/datasets/{id}/versions"),
            json!({}),
        )
        .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["state"], "draft");
        assert_eq!(body["version"], 2);
        assert_eq!(
            body["files"].as_array().map(Vec::len),
            Some(2),
            "files carried over"
        );
        // The public still sees version 1.
        let public: Value = app
            .client()
            .get(app.url(&format!("/api/datasets/{id}")))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(public["version"], 1);
        put_file(&app, &dep, id, "notes.txt", b"second version").await?;
        let v2 = app.api_publish(&dep, &cur, id).await?;
        assert_eq!(v2["version"], 2);
        let v2_doi = v2["doi"].as_str().ok_or("doi")?.to_string();
        assert_ne!(v2_doi, v1_doi);
        assert_eq!(v2["concept_doi"], concept.as_str());
        assert_eq!(v2["versions"].as_array().map(Vec::len), Some(2));
        let old = app
            .client()
            .get(app.url(&format!("/datasets/{id}/versions/1/files/notes.txt")))
            .send()
            .await?;
        assert_eq!(old.bytes().await?.as_ref(), b"first draft");
        let new = app
            .client()
            .get(app.url(&format!("/datasets/{id}/files/notes.txt")))
            .send()
            .await?;
        assert_eq!(new.bytes().await?.as_ref(), b"second version");
        let protocol = app
            .client()
            .get(app.url(&format!("/datasets/{id}/files/protocol.txt")))
            .send()
            .await?;
        assert_eq!(protocol.bytes().await?.as_ref(), b"sampling protocol");
        validate_ocfl_root(&app.ocfl_root())?;

        // Deaccession: admins only, with a reason; a tombstone stays, files are gone.
        let (status, _) = post(
            &app,
            &cur,
            &format!("/api/datasets/{id}/deaccession"),
            json!({"reason": "x"}),
        )
        .await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = post(
            &app,
            &admin,
            &format!("/api/datasets/{id}/deaccession"),
            json!({"reason": "Consent for the site data was withdrawn."}),
        )
        .await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "deaccessioned");
        assert_eq!(body["doi_state"], "registered");
        let page = app
            .client()
            .get(app.url(&format!("/datasets/{id}")))
            .send()
            .await?;
        assert_eq!(page.status(), StatusCode::GONE);
        let html = page.text().await?;
        assert!(html.contains("Consent for the site data was withdrawn."));
        let file = app
            .client()
            .get(app.url(&format!("/datasets/{id}/files/notes.txt")))
            .send()
            .await?;
        assert_eq!(file.status(), StatusCode::GONE);
        // The DOI still resolves (to the tombstone).
        let r = app
            .client()
            .get(app.url(&format!("/doi/{concept}")))
            .send()
            .await?;
        assert!(r.status().is_redirection(), "{}", r.status());

        // The event history reads as an account of what happened, and travels with the
        // content in the OCFL object's logs.
        let r = app
            .client()
            .get(app.url(&format!("/api/datasets/{id}/events")))
            .bearer_auth(&admin)
            .send()
            .await?;
        let events: Value = r.json().await?;
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
        assert!(last["agent_name"]
            .as_str()
            .unwrap_or("")
            .contains("admin@archive.org"));
        let r = app
            .client()
            .get(app.url(&format!("/api/datasets/{id}/events?format=premis")))
            .bearer_auth(&admin)
            .send()
            .await?;
        let xml = r.text().await?;
        assert!(
            xml.contains("<premis xmlns=\"http://www.loc.gov/premis/v3\"")
                && xml.contains("<eventType")
        );
        let object_id = format!("doi:{concept}");
        let log = app
            .ocfl_root()
            .join(app.archive.ocfl.object_root(&object_id))
            .join("logs/premis-events.xml");
        let log = std::fs::read_to_string(&log)?;
        assert!(log.contains("ingestion"));
        validate_ocfl_root(&app.ocfl_root())?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn landing_pages_browse_folders_page_files_and_state_the_standards_passed() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.token_for("pi@site.org", Role::Depositor).await?;
        let cur = app.token_for("cur@archive.org", Role::Curator).await?;
        let id = app.api_draft(&dep, "Many small files").await?;
        let names: Vec<String> = (0..150).map(|i| format!("many/f{i:03}.txt")).collect();
        let entries: Vec<(&str, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), b"x".as_slice()))
            .collect();
        let r = app
            .client()
            .put(app.url(&format!("/api/datasets/{id}/files/bundle.zip?unpack=true")))
            .bearer_auth(&dep)
            .body(zip_of(&entries))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED);
        put_file(&app, &dep, id, "table.csv", b"site,depth_cm\nA,1.5\n").await?;
        app.api_publish(&dep, &cur, id).await?;

        let html = app
            .client()
            .get(app.url(&format!("/datasets/{id}")))
            .send()
            .await?
            .text()
            .await?;
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

        let html = app
            .client()
            .get(app.url(&format!("/datasets/{id}?folder=many")))
            .send()
            .await?
            .text()
            .await?;
        assert!(html.contains(">many/f000.txt</a>") && html.contains(">many/f099.txt</a>"));
        assert!(
            !html.contains(">many/f100.txt</a>"),
            "a hundred files per page"
        );
        assert!(html.contains("Page 1 of 2"));
        let html = app
            .client()
            .get(app.url(&format!("/datasets/{id}?folder=many&page=2")))
            .send()
            .await?
            .text()
            .await?;
        assert!(html.contains(">many/f149.txt</a>") && !html.contains(">many/f000.txt</a>"));
        let html = app
            .client()
            .get(app.url(&format!("/datasets/{id}?q=f14")))
            .send()
            .await?
            .text()
            .await?;
        assert!(html.contains(">many/f140.txt</a>") && !html.contains(">many/f000.txt</a>"));
        Ok(())
    })
    .await
}
