//! The JSON API: create, read, upload with Content-Digest, delete, submit, review.

use crate::helpers::*;
use base64::Engine;
use holdfast::accounts::Role;
use reqwest::StatusCode;

#[actix_web::test]
async fn the_api_creates_uploads_and_publishes() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.token_for("dep@example.org", Role::Depositor).await?;
        let cur = app.token_for("cur@example.org", Role::Curator).await?;
        let client = app.client();

        // Without a token: 401 with a hint.
        let r = client
            .post(app.url("/api/datasets"))
            .json(&minimal_json("x"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.json::<serde_json::Value>().await?["error"]
            .as_str()
            .is_some_and(|e| e.contains("Bearer")));

        let r = client
            .post(app.url("/api/datasets"))
            .bearer_auth(&dep)
            .json(&minimal_json("API dataset"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED);
        let created: serde_json::Value = r.json().await?;
        let id = created["id"].as_i64().ok_or("no id")?;
        assert_eq!(created["state"], "draft");
        assert!(created["links"]["self"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("/api/datasets/{id}"))));
        assert!(created["links"]["landing_page"].as_str().is_some());

        // Upload with a matching Content-Digest.
        let body = b"TIMESTAMP,FC\n201901010000,1.5\n".to_vec();
        let digest =
            base64::engine::general_purpose::STANDARD.encode(hex::decode(sha256_hex(&body))?);
        let r = client
            .put(app.url(&format!("/api/datasets/{id}/files/data/fluxes%202019.csv")))
            .bearer_auth(&dep)
            .header("Content-Digest", format!("sha-256=:{digest}:"))
            .body(body.clone())
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED);
        let file: serde_json::Value = r.json().await?;
        assert_eq!(file["path"], "data/fluxes 2019.csv");
        assert_eq!(file["size"], body.len());
        assert_eq!(file["sha256"], sha256_hex(&body));

        // A mismatching Content-Digest stores nothing.
        let wrong = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        let r = client
            .put(app.url(&format!("/api/datasets/{id}/files/bad.csv")))
            .bearer_auth(&dep)
            .header("Content-Digest", format!("sha-256=:{wrong}:"))
            .body("other bytes")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let err: serde_json::Value = r.json().await?;
        assert_eq!(err["fields"][0]["field"], "Content-Digest");
        let r = client
            .put(app.url(&format!("/api/datasets/{id}/files/bad2.csv")))
            .bearer_auth(&dep)
            .header("Content-Digest", "sha-256=not base64")
            .body("x")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Unpack a zip through the API.
        let zip = zip_of(&[("a/b/c.txt", b"c"), ("d.txt", b"d")]);
        let r = client
            .put(app.url(&format!(
                "/api/datasets/{id}/files/extra/bundle.zip?unpack=true"
            )))
            .bearer_auth(&dep)
            .body(zip)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED);
        let unpacked: serde_json::Value = r.json().await?;
        let paths: Vec<&str> = unpacked["files"]
            .as_array()
            .ok_or("files")?
            .iter()
            .filter_map(|f| f["path"].as_str())
            .collect();
        assert_eq!(paths, vec!["extra/a/b/c.txt", "extra/d.txt"]);

        // Delete one.
        let r = client
            .delete(app.url(&format!("/api/datasets/{id}/files/extra/d.txt")))
            .bearer_auth(&dep)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = client
            .delete(app.url(&format!("/api/datasets/{id}/files/extra/d.txt")))
            .bearer_auth(&dep)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let shown: serde_json::Value = client
            .get(app.url(&format!("/api/datasets/{id}")))
            .bearer_auth(&dep)
            .send()
            .await?
            .json()
            .await?;
        let paths: Vec<&str> = shown["files"]
            .as_array()
            .ok_or("files")?
            .iter()
            .filter_map(|f| f["path"].as_str())
            .collect();
        assert_eq!(paths, vec!["data/fluxes 2019.csv", "extra/a/b/c.txt"]);
        assert_eq!(shown["files"][0]["media_type"], "text/csv");
        assert!(shown["doi"].is_null());
        assert_eq!(shown["titles"][0]["title"], "API dataset");

        // Update the metadata.
        let r = client
            .put(app.url(&format!("/api/datasets/{id}")))
            .bearer_auth(&dep)
            .json(&minimal_json("API dataset, renamed"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<serde_json::Value>().await?["titles"][0]["title"],
            "API dataset, renamed"
        );

        app.settle_checks(id).await?;
        client
            .post(app.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(&dep)
            .send()
            .await?;
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/review")))
            .bearer_auth(&cur)
            .json(&serde_json::json!({"decision": "accept", "comment": "looks good"}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        app.wait_published(&cur, id).await?;
        let history = app
            .archive
            .db
            .run(move |conn| holdfast::deposit::service::transitions(conn, id))
            .await?;
        assert!(
            history
                .iter()
                .any(|t| t.row.to_state == "approved" && t.row.comment.ends_with(": looks good")),
            "the curator's comment is kept in the history"
        );

        let published: serde_json::Value = client
            .get(app.url(&format!("/api/datasets/{id}")))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(published["state"], "published");
        assert!(published["doi"]
            .as_str()
            .is_some_and(|d| d.starts_with("10.5072/")));
        assert_eq!(published["publisher"], "holdfast");
        assert!(published["publicationYear"].as_i64().is_some());
        let download = published["files"][0]["download"]
            .as_str()
            .ok_or("download link")?
            .to_string();
        assert_eq!(
            client.get(download).send().await?.bytes().await?.as_ref(),
            body.as_slice()
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn invalid_metadata_gets_one_entry_per_bad_field() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.token_for("dep@example.org", Role::Depositor).await?;
        let client = app.client();
        let bad = serde_json::json!({
            "titles": [{"title": ""}],
            "creators": [{"name": "Doe, Jane", "nameIdentifiers": [{"nameIdentifier": "0000-0002-1825-0098", "nameIdentifierScheme": "ORCID"}]}],
            "types": {"resourceTypeGeneral": "Spreadsheet"},
            "rightsList": [{"rightsIdentifier": "not-a-license"}],
            "geoLocations": [{"geoLocationPoint": {"pointLatitude": 95, "pointLongitude": 10}}]
        });
        let r = client.post(app.url("/api/datasets")).bearer_auth(&dep).json(&bad).send().await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: serde_json::Value = r.json().await?;
        let fields: Vec<String> = body["fields"].as_array().ok_or("fields")?.iter().filter_map(|f| f["field"].as_str().map(str::to_string)).collect();
        for expected in ["titles[0].title", "creators[0].nameIdentifiers[0].nameIdentifier", "types.resourceTypeGeneral", "geoLocations[0].geoLocationPoint.pointLatitude"] {
            assert!(fields.iter().any(|f| f == expected), "{expected} reported in {fields:?}");
        }
        assert!(fields.iter().any(|f| f.starts_with("rightsList")), "license reported in {fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("descriptions")), "missing abstract reported in {fields:?}");
        assert!(body["fields"].as_array().ok_or("fields")?.iter().all(|f| f["message"].as_str().is_some_and(|m| !m.is_empty())));

        // Not JSON, or unknown attributes: 422 as well, with the parser's words.
        let r = client.post(app.url("/api/datasets")).bearer_auth(&dep).header("content-type", "application/json").body("{not json").send().await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let mut unknown = minimal_json("x");
        unknown["colour"] = serde_json::json!("blue");
        let r = client.post(app.url("/api/datasets")).bearer_auth(&dep).json(&unknown).send().await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await?.contains("colour"));

        // Nothing was created.
        let list: serde_json::Value = client.get(app.url("/api/datasets")).bearer_auth(&dep).send().await?.json().await?;
        assert_eq!(list["datasets"].as_array().map(|a| a.len()), Some(0));
        Ok(())
    })
    .await
}
