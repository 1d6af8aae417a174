//! The tus protocol's edges, request by request: discovery, refused creations,
//! per-chunk checksums, offsets and owners, termination and expiry, the whole-file
//! digest, creation-with-upload, and a submitted draft.

use crate::support::tus::*;
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;

/// A depositor's draft, another depositor, and the metadata of an upload into it.
struct Edges {
    token: String,
    other: String,
    id: i64,
    /// The draft's id, base64 as tus metadata has it.
    dataset: String,
    meta: String,
}

async fn edges(app: &TestApp) -> Result<Edges, Error> {
    let token = app
        .new_user("edge@example.org", Role::Depositor)
        .await?
        .token;
    let other = app
        .new_user("other@example.org", Role::Depositor)
        .await?
        .token;
    let id = app.api(&token).create_draft("Edges").await?;
    let dataset = b64(&id.to_string());
    let meta = format!("dataset {dataset},path {}", b64("a.bin"));
    Ok(Edges {
        token,
        other,
        id,
        dataset,
        meta,
    })
}

/// OPTIONS tells the extensions; bad metadata, too large, no Tus-Resumable and
/// someone else's draft are refused and create nothing.
#[actix_web::test]
async fn discovery_names_the_extensions_and_bad_creations_are_refused() -> TestResult {
    on_each_backend(|app| async move {
        let Edges {
            token,
            other,
            dataset,
            meta,
            ..
        } = edges(&app).await?;
        let client = app.client();
        // Discovery.
        let r = client
            .request(reqwest::Method::OPTIONS, app.url("/api/uploads"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let ext = r.headers()["Tus-Extension"].to_str()?;
        for e in [
            "creation",
            "creation-with-upload",
            "termination",
            "expiration",
            "checksum",
        ] {
            assert!(ext.split(',').any(|x| x == e), "{ext}");
        }
        assert_eq!(r.headers()["Tus-Checksum-Algorithm"], "sha256");
        assert_eq!(
            r.headers()["Tus-Max-Size"].to_str()?,
            app.archive.settings.max_upload_bytes.to_string()
        );

        // Bad metadata: a clear 400, nothing created.
        for (metadata, needle) in [
            (format!("dataset {dataset}"), "'path'"),
            (
                format!("dataset {dataset},path {}", b64("../etc")),
                "../etc",
            ),
        ] {
            let r = creation(&app, &token, 10, &metadata).send().await?;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let error = r.json::<serde_json::Value>().await?["error"].to_string();
            assert!(error.contains(needle), "{error}");
        }
        // Too large for the archive; without Tus-Resumable.
        let too_large = app.archive.settings.max_upload_bytes + 1;
        let r = creation(&app, &token, too_large, &meta).send().await?;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let r = client
            .post(app.url("/api/uploads"))
            .bearer_auth(&token)
            .header("Upload-Length", "3")
            .header("Upload-Metadata", &meta)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
        // Someone else's draft is not found.
        let r = creation(&app, &other, 3, &meta).send().await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        Ok(())
    })
    .await
}

/// A checksum mismatch discards the chunk; wrong offsets, other users and too many
/// bytes are refused.
#[actix_web::test]
async fn each_chunk_is_checked_and_only_the_owner_touches_an_upload() -> TestResult {
    on_each_backend(|app| async move {
        let Edges {
            token, other, meta, ..
        } = edges(&app).await?;
        // Checksum mismatch: 460, the chunk is discarded; the right one is kept.
        let upload = create(&app, &token, 6, &meta).await?;
        let r = patch(&app, &token, &upload, 0, b"abc", Some(b"abd")).await?;
        assert_eq!(r.status().as_u16(), 460);
        assert_eq!(offset_of(&head(&app, &token, &upload).await?), Some(0));
        let r = patch(&app, &token, &upload, 0, b"abc", Some(b"abc")).await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(offset_of(&r), Some(3));
        // A wrong offset is a conflict; another user's upload id is not found.
        let r = patch(&app, &token, &upload, 1, b"def", None).await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(
            head(&app, &other, &upload).await?.status(),
            StatusCode::NOT_FOUND
        );
        let r = patch(&app, &other, &upload, 3, b"def", None).await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = terminate(&app, &other, &upload).await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // More than Upload-Length is refused and changes nothing.
        let r = patch(&app, &token, &upload, 3, b"defg", None).await?;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(offset_of(&head(&app, &token, &upload).await?), Some(3));

        Ok(())
    })
    .await
}

/// DELETE removes an upload and its bytes; the sweep removes abandoned ones.
#[actix_web::test]
async fn termination_and_expiry_remove_an_uploads_bytes() -> TestResult {
    on_each_backend(|app| async move {
        let Edges { token, meta, .. } = edges(&app).await?;
        // Termination removes the bytes and the upload.
        let upload = create(&app, &token, 6, &meta).await?;
        let r = patch(&app, &token, &upload, 0, b"abc", None).await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(bin_file(&app, &upload).exists());
        let r = terminate(&app, &token, &upload).await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(!bin_file(&app, &upload).exists());
        assert_eq!(
            head(&app, &token, &upload).await?.status(),
            StatusCode::NOT_FOUND
        );

        // Expiry: an abandoned upload is removed with its bytes by the sweep.
        let abandoned = create(&app, &token, 10, &meta).await?;
        let r = patch(&app, &token, &abandoned, 0, b"01234", None).await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(r.headers().contains_key("Upload-Expires"));
        assert!(bin_file(&app, &abandoned).exists());
        let now = chrono::Utc::now().naive_utc();
        // Not yet expired: the sweep keeps it.
        holdfast::deposit::tus::sweep_expired(&app.archive.uploads(), now).await?;
        assert!(bin_file(&app, &abandoned).exists());
        let later = now + chrono::Duration::hours(25);
        let removed = holdfast::deposit::tus::sweep_expired(&app.archive.uploads(), later).await?;
        assert_eq!(removed, 1);
        assert!(!bin_file(&app, &abandoned).exists());
        assert_eq!(
            head(&app, &token, &abandoned).await?.status(),
            StatusCode::NOT_FOUND
        );

        Ok(())
    })
    .await
}

/// The whole-file digest of the metadata is checked; a POST may carry the bytes.
#[actix_web::test]
async fn a_wrong_whole_file_digest_stores_nothing_and_creation_with_upload_works() -> TestResult {
    on_each_backend(|app| async move {
        let Edges {
            token, id, dataset, ..
        } = edges(&app).await?;
        // A whole-file digest in the metadata that does not match stores nothing.
        let wrong = format!(
            "dataset {dataset},path {},sha256 {}",
            b64("wrong.bin"),
            b64(&sha256_hex(b"something else"))
        );
        let upload = create(&app, &token, 3, &wrong).await?;
        let r = patch(&app, &token, &upload, 0, b"xyz", None).await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await?.contains("nothing was stored"));
        assert!(listed(&app, &token, id, "wrong.bin").await.is_err());
        assert_eq!(
            head(&app, &token, &upload).await?.status(),
            StatusCode::NOT_FOUND
        );
        let blobs = std::fs::read_dir(app.data_dir.join("staging"))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".blob"))
            .count();
        assert_eq!(blobs, 0, "a refused upload left its bytes in staging");

        // creation-with-upload: the POST's body is the first (here the only) chunk.
        let r = creation(&app, &token, 5, &upload_metadata(id, "one.txt"))
            .header("Content-Type", "application/offset+octet-stream")
            .body("hello")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(offset_of(&r), Some(5));
        let f = listed(&app, &token, id, "one.txt").await?;
        assert_eq!(f["sha256"], sha256_hex(b"hello"));

        Ok(())
    })
    .await
}

/// Once submitted, a draft takes no new upload and no more bytes of one under way.
#[actix_web::test]
async fn a_submitted_draft_refuses_new_and_unfinished_uploads() -> TestResult {
    on_each_backend(|app| async move {
        let Edges {
            token, id, meta, ..
        } = edges(&app).await?;
        let client = app.client();
        // A submitted dataset refuses new uploads, and more bytes for one under way.
        app.api(&token).put_file(id, "one.txt", b"hello").await?;
        let pending = create(&app, &token, 10, &meta).await?;
        app.run_jobs().await?;
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(&token)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await?);
        let r = creation(&app, &token, 3, &meta).send().await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert!(r.text().await?.contains("submitted"));
        let r = patch(&app, &token, &pending, 0, b"0123456789", None).await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(offset_of(&head(&app, &token, &pending).await?), Some(0));
        Ok(())
    })
    .await
}
