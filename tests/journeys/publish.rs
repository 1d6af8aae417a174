//! The whole path: deposit, submit, a curator accepts, the public downloads.

use crate::helpers::*;
use holdfast::accounts::Role;
use reqwest::{header, StatusCode};

#[actix_web::test]
async fn a_deposit_is_accepted_published_in_ocfl_and_downloaded_byte_for_byte() -> TestResult {
    on_each_backend(|app| async move {
        let depositor = app.browser();
        depositor
            .sign_up("Jane Doe", "jane@example.org", "a fine password")
            .await?;
        let id = depositor
            .create_dataset(&minimal_form("Harvard Forest fluxes 2019"))
            .await?;

        // A larger file goes through many chunks of the streaming path.
        let big: Vec<u8> = (0..24 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let csv = b"TIMESTAMP,FC\n201901010000,1.5\n".to_vec();
        let zip = zip_of(&[
            ("met/ta.csv", b"TA\n12.5\n"),
            ("met/readme.txt", b"air temperature"),
        ]);
        depositor
            .upload(
                id,
                "",
                false,
                vec![
                    ("big.bin".into(), big.clone()),
                    ("fluxes.csv".into(), csv.clone()),
                ],
            )
            .await?;
        depositor
            .upload(
                id,
                "data/nested/deeper",
                false,
                vec![("copy.csv".into(), csv.clone())],
            )
            .await?;
        let r = depositor
            .upload(id, "", true, vec![("aux.zip".into(), zip)])
            .await?;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);

        app.settle_checks(id).await?;
        let r = depositor
            .post_form(
                &format!("/datasets/{id}"),
                &format!("/datasets/{id}/submit"),
                &[],
            )
            .await?;
        expect_redirect(&r, &format!("/datasets/{id}?msg=submitted"))?;
        // Submitted drafts cannot be changed.
        let r = depositor
            .upload(id, "", false, vec![("late.csv".into(), csv.clone())])
            .await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);

        // Before publication the public sees nothing.
        assert_eq!(
            app.client()
                .get(app.url(&format!("/datasets/{id}")))
                .send()
                .await?
                .status(),
            StatusCode::NOT_FOUND
        );

        let curator_pw = app.user("cura@example.org", Role::Curator).await?;
        let curator = app.browser();
        curator.sign_in("cura@example.org", &curator_pw).await?;
        let (status, queue) = curator.get_text("/curation").await?;
        assert_eq!(status, StatusCode::OK);
        assert!(
            queue.contains("Harvard Forest fluxes 2019"),
            "queue lists the submission"
        );
        let r = curator
            .post_form(
                &format!("/datasets/{id}"),
                &format!("/datasets/{id}/review"),
                &[("decision", "accept")],
            )
            .await?;
        expect_redirect(&r, &format!("/datasets/{id}?msg=approved"))?;
        let (_, page) = curator.get_text(&format!("/datasets/{id}")).await?;
        assert!(
            page.contains("publishing") || page.contains("DOI:"),
            "the page shows the publication's progress"
        );
        app.settle_publication(id).await?;

        // The public landing page.
        let public = app.client();
        let r = public
            .get(app.url(&format!("/datasets/{id}")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await?;
        let doi = regex::Regex::new(r#"id="doi">(10\.5072/[^<]+)<"#)?
            .captures(&html)
            .ok_or("no DOI on the landing page")?[1]
            .to_string();
        let suffix = doi.trim_start_matches("10.5072/");
        assert!(
            holdfast::doi::suffix_is_valid(suffix),
            "DOI suffix {suffix} carries a valid check character"
        );
        for expected in [
            "Harvard Forest fluxes 2019",
            "Doe, Jane",
            "Half-hourly fluxes",
            "Creative Commons Attribution 4.0",
            "Cite as",
            "(Version 1) [Data set]",
            "data/nested/deeper/copy.csv",
            "met/ta.csv",
            &sha256_hex(&big),
        ] {
            assert!(html.contains(expected), "landing page shows {expected}");
        }
        assert!(
            html.contains(&format!("https://doi.org/{doi}")),
            "citation has the DOI"
        );
        assert!(
            !html.contains("Accept and publish"),
            "no review controls for the public"
        );

        // Downloads are byte-identical, with length and digest headers.
        let r = public
            .get(app.url(&format!("/datasets/{id}/files/big.bin")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_LENGTH],
            big.len().to_string().as_str()
        );
        let digest = r
            .headers()
            .get("content-digest")
            .ok_or("no Content-Digest")?
            .to_str()?
            .to_string();
        use base64::Engine;
        let expected_b64 =
            base64::engine::general_purpose::STANDARD.encode(hex::decode(sha256_hex(&big))?);
        assert_eq!(digest, format!("sha-256=:{expected_b64}:"));
        assert!(
            r.bytes().await?.as_ref() == big.as_slice(),
            "big.bin is byte-identical"
        );
        for (path, bytes) in [
            ("fluxes.csv", &csv[..]),
            ("data/nested/deeper/copy.csv", &csv[..]),
            ("met/ta.csv", b"TA\n12.5\n"),
        ] {
            let got = public
                .get(app.url(&format!("/datasets/{id}/files/{path}")))
                .send()
                .await?
                .bytes()
                .await?;
            assert_eq!(got.as_ref(), bytes, "{path}");
        }

        // Range requests.
        let r = public
            .get(app.url(&format!("/datasets/{id}/files/big.bin")))
            .header(header::RANGE, "bytes=1000-1999")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            r.headers()[header::CONTENT_RANGE],
            format!("bytes 1000-1999/{}", big.len()).as_str()
        );
        assert_eq!(r.bytes().await?.as_ref(), &big[1000..2000]);
        let r = public
            .get(app.url(&format!("/datasets/{id}/files/big.bin")))
            .header(header::RANGE, "bytes=-10")
            .send()
            .await?;
        assert_eq!(r.bytes().await?.as_ref(), &big[big.len() - 10..]);
        let r = public
            .get(app.url(&format!("/datasets/{id}/files/big.bin")))
            .header(header::RANGE, format!("bytes={}-", big.len()))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        let r = public
            .head(app.url(&format!("/datasets/{id}/files/fluxes.csv")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_LENGTH],
            csv.len().to_string().as_str()
        );

        // The OCFL root: layout 0004, each object valid by ocfl-py, content deduplicated.
        let root = app.ocfl_root();
        assert_eq!(
            std::fs::read_to_string(root.join("0=ocfl_1.1"))?,
            "ocfl_1.1\n"
        );
        let layout: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("ocfl_layout.json"))?)?;
        assert_eq!(layout["extension"], "0004-hashed-n-tuple-storage-layout");
        validate_ocfl_root(&root)?;
        let object = root.join(
            app.archive
                .ocfl
                .object_root(&format!("doi:{}", concept_doi(&app, id).await?)),
        );
        let inventory: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(object.join("inventory.json"))?)?;
        assert_eq!(inventory["digestAlgorithm"], "sha256");
        assert_eq!(inventory["head"], "v1");
        assert_eq!(
            inventory["manifest"][sha256_hex(&csv)]
                .as_array()
                .map(|a| a.len()),
            Some(1),
            "identical files stored once"
        );
        assert_eq!(
            inventory["versions"]["v1"]["state"][sha256_hex(&csv)]
                .as_array()
                .map(|a| a.len()),
            Some(2)
        );

        // Staging is empty again: published bytes live only in OCFL.
        let left = std::fs::read_dir(app.data_dir.join("staging"))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".blob"))
            .count();
        assert_eq!(left, 0);

        // My datasets shows it as published, with its DOI.
        let (_, mine) = depositor.get_text("/datasets/mine").await?;
        assert!(mine.contains("state-published") && mine.contains(&doi));
        Ok(())
    })
    .await
}

async fn concept_doi(app: &TestApp, id: i64) -> Result<String, Box<dyn std::error::Error>> {
    Ok(app
        .archive
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::datasets;
            Ok(datasets::table
                .find(id)
                .select(datasets::concept_doi.assume_not_null())
                .first::<String>(conn)?)
        })
        .await?)
}

#[actix_web::test]
async fn only_curators_accept_and_only_submitted_datasets() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.token_for("dep@example.org", Role::Depositor).await?;
        let cur = app.token_for("cur@example.org", Role::Curator).await?;
        let client = app.client();
        let id = app.api_draft(&dep, "Review rules").await?;

        // Nothing to submit yet.
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(&dep)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        client
            .put(app.url(&format!("/api/datasets/{id}/files/a.txt")))
            .bearer_auth(&dep)
            .body("a")
            .send()
            .await?;

        // A draft cannot be accepted.
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/review")))
            .bearer_auth(&cur)
            .json(&serde_json::json!({"decision": "accept"}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);

        app.settle_checks(id).await?;
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(&dep)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<serde_json::Value>().await?["state"], "submitted");

        // The depositor cannot accept their own dataset.
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/review")))
            .bearer_auth(&dep)
            .json(&serde_json::json!({"decision": "accept"}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/review")))
            .bearer_auth(&cur)
            .json(&serde_json::json!({"decision": "maybe"}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let r = client
            .post(app.url(&format!("/api/datasets/{id}/review")))
            .bearer_auth(&cur)
            .json(&serde_json::json!({"decision": "accept"}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let json: serde_json::Value = r.json().await?;
        assert!(json["state"] == "approved" || json["state"] == "published");
        let json = app.wait_published(&cur, id).await?;
        assert_eq!(json["state"], "published");
        assert!(json["doi"]
            .as_str()
            .is_some_and(|d| d.starts_with("10.5072/")));

        // Accepting twice is refused; the version is not written twice.
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/review")))
            .bearer_auth(&cur)
            .json(&serde_json::json!({"decision": "accept"}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        validate_ocfl_root(&app.ocfl_root())?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn an_interrupted_publication_finishes_on_the_next_attempt() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.token_for("dep@example.org", Role::Depositor).await?;
        let cur = app.token_for("cur@example.org", Role::Curator).await?;
        let client = app.client();
        let id = app.api_draft(&dep, "Interrupted").await?;
        client
            .put(app.url(&format!("/api/datasets/{id}/files/a.txt")))
            .bearer_auth(&dep)
            .body("alpha")
            .send()
            .await?;
        app.settle_checks(id).await?;
        client
            .post(app.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(&dep)
            .send()
            .await?;

        // Simulate a crash after the OCFL commit and before the database commit: write
        // the version to storage ourselves, as accept would, and leave the database as is.
        let object_id = {
            // The concept DOI is reserved by the first attempt; reserve it the same way.
            let prefix = app.archive.settings.doi_prefix.clone();
            let base = app.archive.settings.base_url.clone();
            app.archive
                .db
                .run(move |conn| {
                    use diesel::prelude::*;
                    use holdfast::db::schema::datasets;
                    let doi = holdfast::doi::reserve(
                        conn,
                        &prefix,
                        id,
                        None,
                        &format!("{base}/datasets/{id}"),
                    )?;
                    diesel::update(datasets::table.find(id))
                        .set((
                            datasets::concept_doi.eq(&doi),
                            datasets::ocfl_object_id.eq(format!("doi:{doi}")),
                        ))
                        .execute(conn)?;
                    Ok(format!("doi:{doi}"))
                })
                .await?
        };
        let staged = app
            .archive
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::version_files;
                Ok(version_files::table
                    .select(version_files::staged_name.assume_not_null())
                    .first::<String>(conn)?)
            })
            .await?;
        app.archive
            .ocfl
            .commit_version(
                &object_id,
                holdfast::storage::NewVersion {
                    created: chrono::Utc::now(),
                    message: "first attempt".into(),
                    user_name: "curator".into(),
                    user_address: None,
                    files: vec![holdfast::storage::NewFile {
                        logical_path: "a.txt".into(),
                        sha256: sha256_hex(b"alpha"),
                        source: holdfast::storage::FileSource::Local(
                            app.archive.staged_blob_path(&staged)?,
                        ),
                    }],
                },
            )
            .await?;

        // ...and the crash came between replacing the root inventory and its sidecar.
        let object_dir = app
            .ocfl_root()
            .join(app.archive.ocfl.object_root(&object_id));
        std::fs::remove_file(object_dir.join("inventory.json.sha256"))?;

        // The curator tries again: the publication completes without a second version.
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/review")))
            .bearer_auth(&cur)
            .json(&serde_json::json!({"decision": "accept"}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", r.text().await?);
        app.wait_published(&cur, id).await?;
        let inventory = app
            .archive
            .ocfl
            .inventory(&object_id)
            .await?
            .ok_or("no inventory")?;
        assert_eq!(inventory.head, "v1");
        let got = client
            .get(app.url(&format!("/datasets/{id}/files/a.txt")))
            .send()
            .await?
            .bytes()
            .await?;
        assert_eq!(got.as_ref(), b"alpha");
        validate_ocfl_root(&app.ocfl_root())?;
        Ok(())
    })
    .await
}
