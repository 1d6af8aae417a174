//! A dataset's public history says what happened to the published data and who acted
//! by role, never by address, and leaves out the work on the draft; its depositor and
//! the curators see all of it. What travels with the content (the OCFL inventory and
//! its event log) names people by name and an opaque identifier only.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::fixtures::FLUX_CSV;
use crate::support::*;

/// The events of the answer, as (type, agent, file) triples.
fn events_of(answer: &Value) -> Result<Vec<(String, String, String)>, Error> {
    let list = answer["events"].as_array().ok_or("events")?;
    Ok(list
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (text("event_type"), text("agent_name"), text("file_path"))
        })
        .collect())
}

#[actix_web::test]
async fn the_public_history_names_roles_and_leaves_out_the_draft() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let dep = app.api(&users.depositor.token);
        let id = dep.create_draft("Fluxes with a history").await?;
        dep.put_file(id, "data/flux.csv", FLUX_CSV).await?;
        dep.put_file(id, "data/private-draft.csv", b"a,b\n1,2\n")
            .await?;
        dep.delete_file(id, "data/private-draft.csv")
            .await?
            .expect(StatusCode::NO_CONTENT)?;
        let published = app
            .publish(&dep, &app.api(&users.curator.token), id)
            .await?;

        let path = format!("/api/datasets/{id}/events");
        let public = app.public_api().get(&path).await?;
        assert_eq!(public.status, StatusCode::OK);
        assert!(!public.text.contains('@'), "an address in {}", public.text);
        assert!(!public.text.contains("private-draft"), "{}", public.text);
        let events = events_of(&serde_json::from_str(&public.text)?)?;
        assert!(events.iter().any(|(kind, ..)| kind == "ingestion"));
        for (kind, agent, _) in &events {
            assert!(
                kind != "deletion" && kind != "validation",
                "{kind} is draft work"
            );
            assert!(
                ["depositor", "curator"].contains(&agent.as_str()) || agent.starts_with("holdfast"),
                "agent {agent:?}"
            );
        }

        let insider = events_of(&dep.get_ok(&path).await?)?;
        assert!(insider
            .iter()
            .any(|(kind, _, file)| kind == "deletion" && file == "data/private-draft.csv"));
        assert!(insider.iter().all(|(_, agent, _)| !agent.contains('@')));

        let object = format!("doi:{}", published["concept_doi"].as_str().ok_or("DOI")?);
        let root = app.ocfl_root().join(app.archive.ocfl.object_root(&object));
        let inventory = std::fs::read_to_string(root.join("inventory.json"))?;
        assert!(!inventory.contains('@'), "an address in the inventory");
        assert!(
            inventory.contains("urn:uuid:"),
            "an opaque agent identifier"
        );
        let log = std::fs::read_to_string(root.join("logs/premis-events.xml"))?;
        assert!(!log.contains('@') && !log.contains("private-draft"));
        Ok(())
    })
    .await
}
