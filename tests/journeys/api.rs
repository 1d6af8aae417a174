//! The JSON API: create, read, upload with Content-Digest, delete, submit, review.

use crate::support::fixtures::FLUX_CSV;
use crate::support::*;
use base64::Engine;
use reqwest::{Method, StatusCode};

fn content_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes));
    format!("sha-256=:{digest}:")
}

#[actix_web::test]
async fn a_token_is_needed_and_a_new_draft_links_to_itself() -> TestResult {
    on_each_backend(|app| async move {
        let r = app
            .public_api()
            .post("/api/datasets", &minimal_json("x"))
            .await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.error().contains("Bearer"), "a hint: {}", r.text);

        let users = app.users().await?;
        let created = app
            .api(&users.depositor.token)
            .create_dataset(&minimal_json("API dataset"))
            .await?;
        let id = created["id"].as_i64().ok_or("no id")?;
        assert_eq!(created["state"], "draft");
        assert!(created["links"]["self"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("/api/datasets/{id}"))));
        assert!(created["links"]["landing_page"].as_str().is_some());
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn an_upload_is_stored_only_when_its_content_digest_matches() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let dep = app.api(&users.depositor.token);
        let id = dep.create_draft("API dataset").await?;
        let put = |path: &str, digest: String, body: &'static [u8]| {
            dep.send(
                dep.request(Method::PUT, &format!("/api/datasets/{id}/files/{path}"))
                    .header("Content-Digest", digest)
                    .body(body),
            )
        };

        let file = put("data/fluxes%202019.csv", content_digest(FLUX_CSV), FLUX_CSV)
            .await?
            .expect(StatusCode::CREATED)?;
        assert_eq!(file["path"], "data/fluxes 2019.csv");
        assert_eq!(file["size"], FLUX_CSV.len());
        assert_eq!(file["sha256"], sha256_hex(FLUX_CSV));

        // A mismatching or malformed Content-Digest stores nothing.
        let wrong = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        let r = put("bad.csv", format!("sha-256=:{wrong}:"), b"other bytes").await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["fields"][0]["field"], "Content-Digest");
        let r = put("bad2.csv", "sha-256=not base64".into(), b"x").await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let paths: Vec<String> = dep.dataset(id).await?["files"]
            .as_array()
            .ok_or("files")?
            .iter()
            .filter_map(|f| f["path"].as_str().map(str::to_string))
            .collect();
        assert_eq!(paths, vec!["data/fluxes 2019.csv"]);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_zip_is_unpacked_into_a_folder_and_a_file_deleted() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let dep = app.api(&users.depositor.token);
        let id = dep.create_draft("API dataset").await?;
        dep.put_file(id, "data/fluxes 2019.csv", FLUX_CSV).await?;

        let zip = zip_of(&[("a/b/c.txt", b"c"), ("d.txt", b"d")]);
        let unpacked = dep
            .send(
                dep.request(
                    Method::PUT,
                    &format!("/api/datasets/{id}/files/extra/bundle.zip?unpack=true"),
                )
                .body(zip),
            )
            .await?
            .expect(StatusCode::CREATED)?;
        let paths: Vec<&str> = unpacked["files"]
            .as_array()
            .ok_or("files")?
            .iter()
            .filter_map(|f| f["path"].as_str())
            .collect();
        assert_eq!(paths, vec!["extra/a/b/c.txt", "extra/d.txt"]);

        assert_eq!(
            dep.delete_file(id, "extra/d.txt").await?.status,
            StatusCode::NO_CONTENT
        );
        let again = dep.delete_file(id, "extra/d.txt").await?;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);

        let shown = dep.dataset(id).await?;
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
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_renamed_draft_is_accepted_with_a_comment_and_downloaded() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let (dep, cur) = (
            app.api(&users.depositor.token),
            app.api(&users.curator.token),
        );
        let id = dep.create_draft("API dataset").await?;
        dep.put_file(id, "data/fluxes 2019.csv", FLUX_CSV).await?;
        let renamed = dep
            .update_metadata(id, &minimal_json("API dataset, renamed"))
            .await?;
        assert_eq!(renamed["titles"][0]["title"], "API dataset, renamed");

        app.run_jobs().await?;
        dep.submit(id).await?;
        let r = cur.review(id, "accept", Some("looks good")).await?;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        app.run_jobs().await?;
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

        let published = app.public_api().dataset(id).await?;
        assert_eq!(published["state"], "published");
        assert!(published["doi"]
            .as_str()
            .is_some_and(|d| d.starts_with("10.5072/")));
        assert_eq!(published["publisher"], "holdfast");
        assert!(published["publicationYear"].as_i64().is_some());
        let download = published["files"][0]["download"]
            .as_str()
            .ok_or("download link")?;
        let bytes = app.client().get(download).send().await?.bytes().await?;
        assert_eq!(bytes.as_ref(), FLUX_CSV);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn invalid_metadata_gets_one_entry_per_bad_field() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let dep = app.api(&users.depositor.token);
        let bad = serde_json::json!({
            "titles": [{"title": ""}],
            "creators": [{"name": "Doe, Jane", "nameIdentifiers": [{"nameIdentifier": "0000-0002-1825-0098", "nameIdentifierScheme": "ORCID"}]}],
            "types": {"resourceTypeGeneral": "Spreadsheet"},
            "rightsList": [{"rightsIdentifier": "not-a-license"}],
            "geoLocations": [{"geoLocationPoint": {"pointLatitude": 95, "pointLongitude": 10}}]
        });
        let r = dep.post("/api/datasets", &bad).await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields = r.fields();
        for expected in ["titles[0].title", "creators[0].nameIdentifiers[0].nameIdentifier", "types.resourceTypeGeneral", "geoLocations[0].geoLocationPoint.pointLatitude"] {
            assert!(fields.iter().any(|f| f == expected), "{expected} reported in {fields:?}");
        }
        assert!(fields.iter().any(|f| f.starts_with("rightsList")), "license reported in {fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("descriptions")), "missing abstract reported in {fields:?}");
        assert!(r.body["fields"].as_array().ok_or("fields")?.iter().all(|f| f["message"].as_str().is_some_and(|m| !m.is_empty())));

        // Not JSON, or unknown attributes: 422 as well, with the parser's words.
        let r = dep
            .send(dep.request(Method::POST, "/api/datasets").header("content-type", "application/json").body("{not json"))
            .await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut unknown = minimal_json("x");
        unknown["colour"] = serde_json::json!("blue");
        let r = dep.post("/api/datasets", &unknown).await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text.contains("colour"));

        // Nothing was created.
        let list = dep.get_ok("/api/datasets").await?;
        assert_eq!(list["datasets"].as_array().map(|a| a.len()), Some(0));
        Ok(())
    })
    .await
}
