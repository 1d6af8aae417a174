//! The whole path: deposit, submit, a curator accepts, the public downloads.

use crate::support::fixtures::FLUX_CSV;
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::{header, Method, StatusCode};

/// A submission made through the forms: a large file (many chunks of the streaming
/// path), a table, the same table in a nested folder, and an unpacked zip.
struct Deposit {
    id: i64,
    big: Vec<u8>,
    depositor: Browser,
}

async fn deposit_through_the_forms(app: &TestApp) -> Result<Deposit, Error> {
    let depositor = app.browser();
    depositor
        .sign_up("Jane Doe", "jane@example.org", "a fine password")
        .await?;
    let id = depositor
        .create_dataset(&minimal_form("Harvard Forest fluxes 2019"))
        .await?;
    let big: Vec<u8> = (0..24 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let zip = zip_of(&[
        ("met/ta.csv", b"TA\n12.5\n"),
        ("met/readme.txt", b"air temperature"),
    ]);
    let files = vec![
        ("big.bin".into(), big.clone()),
        ("fluxes.csv".into(), FLUX_CSV.to_vec()),
    ];
    depositor.upload(id, "", false, files).await?;
    let copy = vec![("copy.csv".into(), FLUX_CSV.to_vec())];
    depositor
        .upload(id, "data/nested/deeper", false, copy)
        .await?;
    let r = depositor
        .upload(id, "", true, vec![("aux.zip".into(), zip)])
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_jobs().await?;
    let page = format!("/datasets/{id}");
    let r = depositor
        .post_form(&page, &format!("{page}/submit"), &[])
        .await?;
    expect_redirect(&r, &format!("{page}?msg=submitted"))?;
    Ok(Deposit { id, big, depositor })
}

/// A curator, signed in.
async fn curator(app: &TestApp) -> Result<Browser, Error> {
    app.signed_in(&app.new_user("cura@example.org", Role::Curator).await?)
        .await
}

/// A curator accepts through the review form; the curator's browser.
async fn accept_through_the_form(app: &TestApp, id: i64) -> Result<Browser, Error> {
    accept(&curator(app).await?, id).await
}

async fn accept(curator: &Browser, id: i64) -> Result<Browser, Error> {
    let page = format!("/datasets/{id}");
    let r = curator
        .post_form(&page, &format!("{page}/review"), &[("decision", "accept")])
        .await?;
    expect_redirect(&r, &format!("{page}?msg=approved"))?;
    Ok(curator.clone())
}

#[actix_web::test]
async fn a_submission_is_locked_hidden_and_queued_for_a_curator() -> TestResult {
    on_each_backend(|app| async move {
        let Deposit { id, depositor, .. } = deposit_through_the_forms(&app).await?;
        // Submitted drafts cannot be changed.
        let late = vec![("late.csv".into(), FLUX_CSV.to_vec())];
        assert_eq!(
            depositor.upload(id, "", false, late).await?.status(),
            StatusCode::CONFLICT
        );
        // Before publication the public sees nothing.
        let public = app.public_api().get(&format!("/datasets/{id}")).await?;
        assert_eq!(public.status, StatusCode::NOT_FOUND);

        let curator = curator(&app).await?;
        let queue = curator.page("/curation").await?;
        assert!(
            queue.contains("Harvard Forest fluxes 2019"),
            "queue lists the submission"
        );
        accept(&curator, id).await?;
        let page = curator.page(&format!("/datasets/{id}")).await?;
        assert!(
            page.contains("publishing") || page.contains("DOI:"),
            "the page shows the publication's progress"
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn the_landing_page_shows_the_doi_citation_and_files() -> TestResult {
    on_each_backend(|app| async move {
        let Deposit { id, big, depositor } = deposit_through_the_forms(&app).await?;
        accept_through_the_form(&app, id).await?;
        app.run_jobs().await?;
        let html = app.browser().page(&format!("/datasets/{id}")).await?;
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
        // My datasets shows it as published, with its DOI.
        let mine = depositor.page("/datasets/mine").await?;
        assert!(mine.contains("state-published") && mine.contains(&doi));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn downloads_are_byte_identical_whole_and_by_range() -> TestResult {
    on_each_backend(|app| async move {
        let Deposit { id, big, .. } = deposit_through_the_forms(&app).await?;
        accept_through_the_form(&app, id).await?;
        app.run_jobs().await?;
        let public = app.public_api();
        let file =
            |path: &str| public.request(Method::GET, &format!("/datasets/{id}/files/{path}"));

        let r = public.send(file("big.bin")).await?;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers[header::CONTENT_LENGTH],
            big.len().to_string().as_str()
        );
        use base64::Engine;
        let expected_b64 =
            base64::engine::general_purpose::STANDARD.encode(hex::decode(sha256_hex(&big))?);
        let digest = r
            .headers
            .get("content-digest")
            .ok_or("no Content-Digest")?
            .to_str()?;
        assert_eq!(digest, format!("sha-256=:{expected_b64}:"));
        assert!(
            public.download(id, "big.bin").await? == big,
            "big.bin is byte-identical"
        );
        for (path, bytes) in [
            ("fluxes.csv", FLUX_CSV),
            ("data/nested/deeper/copy.csv", FLUX_CSV),
            ("met/ta.csv", b"TA\n12.5\n"),
        ] {
            assert_eq!(public.download(id, path).await?, bytes, "{path}");
        }

        let ranged = |range: String| file("big.bin").header(header::RANGE, range).send();
        let r = ranged("bytes=1000-1999".into()).await?;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            r.headers()[header::CONTENT_RANGE],
            format!("bytes 1000-1999/{}", big.len()).as_str()
        );
        assert_eq!(r.bytes().await?.as_ref(), &big[1000..2000]);
        let r = ranged("bytes=-10".into()).await?;
        assert_eq!(r.bytes().await?.as_ref(), &big[big.len() - 10..]);
        let r = ranged(format!("bytes={}-", big.len())).await?;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        let r = public
            .send(public.request(Method::HEAD, &format!("/datasets/{id}/files/fluxes.csv")))
            .await?;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers[header::CONTENT_LENGTH],
            FLUX_CSV.len().to_string().as_str()
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn published_bytes_live_once_in_a_valid_ocfl_root() -> TestResult {
    on_each_backend(|app| async move {
        let Deposit { id, .. } = deposit_through_the_forms(&app).await?;
        accept_through_the_form(&app, id).await?;
        app.run_jobs().await?;
        // Layout 0004, each object valid by ocfl-py, content deduplicated.
        let root = app.ocfl_root();
        assert_eq!(
            std::fs::read_to_string(root.join("0=ocfl_1.1"))?,
            "ocfl_1.1\n"
        );
        let layout: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("ocfl_layout.json"))?)?;
        assert_eq!(layout["extension"], "0004-hashed-n-tuple-storage-layout");
        validate_ocfl_root(&root)?;
        let concept = app.public_api().dataset(id).await?["concept_doi"]
            .as_str()
            .ok_or("no concept DOI")?
            .to_string();
        let object = root.join(app.archive.ocfl.object_root(&format!("doi:{concept}")));
        let inventory: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(object.join("inventory.json"))?)?;
        assert_eq!(inventory["digestAlgorithm"], "sha256");
        assert_eq!(inventory["head"], "v1");
        let csv = sha256_hex(FLUX_CSV);
        let stored = inventory["manifest"][&csv].as_array().map(|a| a.len());
        assert_eq!(stored, Some(1), "identical files stored once");
        assert_eq!(
            inventory["versions"]["v1"]["state"][&csv]
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
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn only_curators_accept_and_only_submitted_datasets() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let (dep, cur) = (
            app.api(&users.depositor.token),
            app.api(&users.curator.token),
        );
        let id = dep.create_draft("Review rules").await?;
        let submit = format!("/api/datasets/{id}/submit");

        // Nothing to submit yet; a draft cannot be accepted.
        let r = dep.post(&submit, &serde_json::json!({})).await?;
        assert_eq!(r.status, StatusCode::CONFLICT);
        dep.put_file(id, "a.txt", b"a").await?;
        assert_eq!(
            cur.review(id, "accept", None).await?.status,
            StatusCode::CONFLICT
        );

        app.run_jobs().await?;
        assert_eq!(dep.submit(id).await?["state"], "submitted");
        // The depositor cannot accept their own dataset; decisions are from a list.
        assert_eq!(
            dep.review(id, "accept", None).await?.status,
            StatusCode::FORBIDDEN
        );
        let r = cur.review(id, "maybe", None).await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

        let json = cur.accept(id).await?;
        assert!(json["state"] == "approved" || json["state"] == "published");
        app.run_jobs().await?;
        let json = cur.dataset(id).await?;
        assert_eq!(json["state"], "published");
        assert!(json["doi"]
            .as_str()
            .is_some_and(|d| d.starts_with("10.5072/")));

        // Accepting twice is refused; the version is not written twice.
        assert_eq!(
            cur.review(id, "accept", None).await?.status,
            StatusCode::CONFLICT
        );
        validate_ocfl_root(&app.ocfl_root())?;
        Ok(())
    })
    .await
}

/// What a publication that crashed after its OCFL commit left: the concept DOI
/// reserved, the version written to storage as accept would, the database not yet
/// switched, and the root inventory's sidecar missing (the crash came between them).
/// The OCFL object's id.
async fn crash_after_the_ocfl_commit(app: &TestApp, id: i64) -> Result<String, Error> {
    let prefix = app.archive.settings.doi_prefix.clone();
    let base = app.archive.settings.base_url.clone();
    let (object_id, staged) = app
        .archive
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::{datasets, version_files};
            let doi =
                holdfast::doi::reserve(conn, &prefix, id, None, &format!("{base}/datasets/{id}"))?;
            diesel::update(datasets::table.find(id))
                .set((
                    datasets::concept_doi.eq(&doi),
                    datasets::ocfl_object_id.eq(format!("doi:{doi}")),
                ))
                .execute(conn)?;
            let staged = version_files::table
                .select(version_files::staged_name.assume_not_null())
                .first::<String>(conn)?;
            Ok((format!("doi:{doi}"), staged))
        })
        .await?;
    let file = holdfast::storage::NewFile {
        logical_path: "a.txt".into(),
        sha256: sha256_hex(b"alpha"),
        source: holdfast::storage::FileSource::Local(app.archive.staged_blob_path(&staged)?),
    };
    let version = holdfast::storage::NewVersion {
        created: chrono::Utc::now(),
        message: "first attempt".into(),
        user_name: "curator".into(),
        user_address: None,
        files: vec![file],
    };
    app.archive.ocfl.commit_version(&object_id, version).await?;
    let object_dir = app
        .ocfl_root()
        .join(app.archive.ocfl.object_root(&object_id));
    std::fs::remove_file(object_dir.join("inventory.json.sha256"))?;
    Ok(object_id)
}

#[actix_web::test]
async fn an_interrupted_publication_finishes_on_the_next_attempt() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let (dep, cur) = (
            app.api(&users.depositor.token),
            app.api(&users.curator.token),
        );
        let id = dep.create_draft("Interrupted").await?;
        dep.put_file(id, "a.txt", b"alpha").await?;
        app.run_jobs().await?;
        dep.submit(id).await?;
        let object_id = crash_after_the_ocfl_commit(&app, id).await?;

        // The curator tries again: the publication completes without a second version.
        cur.accept(id).await?;
        app.run_jobs().await?;
        assert_eq!(cur.dataset(id).await?["state"], "published");
        let inventory = app
            .archive
            .ocfl
            .inventory(&object_id)
            .await?
            .ok_or("no inventory")?;
        assert_eq!(inventory.head, "v1");
        assert_eq!(app.public_api().download(id, "a.txt").await?, b"alpha");
        validate_ocfl_root(&app.ocfl_root())?;
        Ok(())
    })
    .await
}
