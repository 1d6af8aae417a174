//! Bad input gets a clear error and changes nothing.

use crate::support::wait::{self, check};
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;

async fn dataset_count(app: &TestApp) -> Result<i64, Error> {
    Ok(app
        .archive
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::datasets;
            Ok(datasets::table.count().get_result::<i64>(conn)?)
        })
        .await?)
}

async fn file_count(app: &TestApp) -> Result<i64, Error> {
    Ok(app
        .archive
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::version_files;
            Ok(version_files::table.count().get_result::<i64>(conn)?)
        })
        .await?)
}

fn staged_blobs(app: &TestApp) -> usize {
    std::fs::read_dir(app.data_dir.join("staging"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with(".health"))
                .count()
        })
        .unwrap_or(0)
}

#[actix_web::test]
async fn forged_or_missing_csrf_tokens_are_refused_and_change_nothing() -> TestResult {
    on_each_backend(|app| async move {
        let browser = app
            .signed_in(&app.new_user("jane@example.org", Role::Depositor).await?)
            .await?;
        let id = browser.create_dataset(&minimal_form("CSRF target")).await?;

        let mut forged: Vec<(&str, &str)> =
            vec![("csrf_token", "forged-token-forged-token-forged")];
        forged.extend(minimal_form("Forged"));
        let r = browser
            .client
            .post(app.url("/datasets"))
            .form(&forged)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await?.contains("did not come from this site"));
        let r = browser
            .client
            .post(app.url("/datasets"))
            .form(&minimal_form("Missing"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(dataset_count(&app).await?, 1);

        // Multipart upload: a forged token is refused before any byte is stored.
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", "forged-token-forged-token-forged")
            .part(
                "files",
                reqwest::multipart::Part::bytes(vec![1u8; 1000]).file_name("x.bin"),
            );
        let r = browser
            .client
            .post(app.url(&format!("/datasets/{id}/files")))
            .multipart(form)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let form = reqwest::multipart::Form::new().part(
            "files",
            reqwest::multipart::Part::bytes(vec![1u8; 1000]).file_name("x.bin"),
        );
        let r = browser
            .client
            .post(app.url(&format!("/datasets/{id}/files")))
            .multipart(form)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(file_count(&app).await?, 0);
        assert_eq!(staged_blobs(&app), 0);

        // Sign-out and submit are forms too.
        let r = browser
            .client
            .post(app.url(&format!("/datasets/{id}/submit")))
            .form(&[("csrf_token", "nope-nope-nope-nope-nope")])
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = browser.client.post(app.url("/signout")).send().await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            browser.get("/datasets/mine").await?.status(),
            StatusCode::OK,
            "still signed in"
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn unsafe_paths_are_refused_with_a_clear_error() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app
            .new_user("dep@example.org", Role::Depositor)
            .await?
            .token;
        let client = app.client();
        let id = app.api(&dep).create_draft("Paths").await?;
        for bad in [
            "..%2F..%2Fetc%2Fpasswd",
            "a/../../b",
            "a%00b",
            "a%0Ab",
            "a//b",
            "%2Fabs",
            "C:%5Cwin.txt",
            "dir/",
        ] {
            let r = client
                .put(app.url(&format!("/api/datasets/{id}/files/{bad}")))
                .bearer_auth(&dep)
                .body("x")
                .send()
                .await?;
            assert!(
                r.status() == StatusCode::UNPROCESSABLE_ENTITY
                    || r.status() == StatusCode::NOT_FOUND,
                "{bad}: {}",
                r.status()
            );
            if r.status() == StatusCode::UNPROCESSABLE_ENTITY {
                let body: serde_json::Value = r.json().await?;
                assert_eq!(body["fields"][0]["field"], "path", "{bad}");
            }
        }
        assert_eq!(file_count(&app).await?, 0);
        assert_eq!(staged_blobs(&app), 0);

        // A file where a folder is, a folder where a file is, and case-only twins.
        client
            .put(app.url(&format!("/api/datasets/{id}/files/data/a.csv")))
            .bearer_auth(&dep)
            .body("1")
            .send()
            .await?;
        for clash in ["data", "data/a.csv/b.csv", "DATA/A.csv"] {
            let r = client
                .put(app.url(&format!("/api/datasets/{id}/files/{clash}")))
                .bearer_auth(&dep)
                .body("2")
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{clash}");
        }
        assert_eq!(file_count(&app).await?, 1);
        assert_eq!(staged_blobs(&app), 1);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn zip_slip_and_zip_bombs_are_refused_and_store_nothing() -> TestResult {
    let limited = TestApp::builder().settings(|s| {
        s.unzip_max_bytes = Some(5 * 1024 * 1024);
        s.unzip_max_entries = Some(10);
    });
    limited
        .on_each_backend(|app| async move {
            let dep = app
                .new_user("dep@example.org", Role::Depositor)
                .await?
                .token;
            let client = app.client();
            let id = app.api(&dep).create_draft("Zips").await?;
            let put_zip = |zip: Vec<u8>| {
                client
                    .put(app.url(&format!("/api/datasets/{id}/files/up.zip?unpack=true")))
                    .bearer_auth(&dep)
                    .body(zip)
                    .send()
            };

            let slip = zip_of(&[("ok.txt", b"fine"), ("../../etc/passwd", b"root")]);
            let r = put_zip(slip).await?;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert!(r.text().await?.contains(".."));

            let zeros = vec![0u8; 20 * 1024 * 1024];
            let bomb = zip_of(&[("zeros.bin", &zeros)]);
            let r = put_zip(bomb).await?;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
            let text = r.text().await?;
            assert!(text.contains("limit") || text.contains("ratio"), "{text}");

            let many: Vec<(String, Vec<u8>)> = (0..11)
                .map(|i| (format!("f{i}.txt"), b"x".to_vec()))
                .collect();
            let entries: Vec<(&str, &[u8])> = many
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect();
            let r = put_zip(zip_of(&entries)).await?;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

            let r = put_zip(b"this is not a zip".to_vec()).await?;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

            assert_eq!(file_count(&app).await?, 0);
            assert_eq!(staged_blobs(&app), 0, "no staged bytes left behind");
            Ok(())
        })
        .await
}

#[actix_web::test]
async fn oversized_forms_and_uploads_are_refused_clearly() -> TestResult {
    let limited = TestApp::builder().settings(|s| s.max_upload_bytes = Some(1024 * 1024));
    limited
        .on_each_backend(|app| async move {
            let browser = app
                .signed_in(&app.new_user("jane@example.org", Role::Depositor).await?)
                .await?;
            let huge = "x".repeat(10 * 1024 * 1024);
            let mut fields = minimal_form("Huge");
            fields.push(("descriptions[0].description", &huge));
            let r = browser
                .post_form("/datasets/new", "/datasets", &fields)
                .await?;
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert!(r.text().await?.contains("larger than"));
            assert_eq!(dataset_count(&app).await?, 0);

            // A long but acceptable form field still gets a field error, not a crash.
            let long_title = "t".repeat(5000);
            let r = browser
                .post_form("/datasets/new", "/datasets", &minimal_form(&long_title))
                .await?;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

            let dep = app
                .new_user("dep@example.org", Role::Depositor)
                .await?
                .token;
            let client = app.client();
            let id = app.api(&dep).create_draft("Limits").await?;
            let r = client
                .put(app.url(&format!("/api/datasets/{id}/files/big.bin")))
                .bearer_auth(&dep)
                .body(vec![0u8; 2 * 1024 * 1024])
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            // Without a Content-Length the limit is enforced while streaming.
            let stream = futures_util::stream::iter(
                (0..40).map(|_| Ok::<_, std::io::Error>(vec![7u8; 64 * 1024])),
            );
            let r = client
                .put(app.url(&format!("/api/datasets/{id}/files/big2.bin")))
                .bearer_auth(&dep)
                .body(reqwest::Body::wrap_stream(stream))
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(file_count(&app).await?, 0);
            assert_eq!(staged_blobs(&app), 0);
            Ok(())
        })
        .await
}

#[actix_web::test]
async fn unknown_and_malformed_ids_are_not_found() -> TestResult {
    on_each_backend(|app| async move {
        let client = app.client();
        for path in [
            "/datasets/999999",
            "/datasets/abc",
            "/datasets/1/files/x",
            "/datasets/-1/versions/1",
        ] {
            assert_eq!(
                client.get(app.url(path)).send().await?.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        for path in ["/api/datasets/999999", "/api/datasets/abc", "/api/nothing"] {
            let r = client.get(app.url(path)).send().await?;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(r.json::<serde_json::Value>().await?["error"].is_string());
        }
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn an_interrupted_upload_leaves_no_file_and_no_row() -> TestResult {
    use tokio::io::AsyncWriteExt;
    on_each_backend(|app| async move {
        let dep = app.new_user("dep@example.org", Role::Depositor).await?.token;
        let api = app.api(&dep);
        let id = api.create_draft("Interrupted upload").await?;

        // Announce 8 MB, send 1 MB, then drop the connection.
        let addr = app.base.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&addr).await?;
        let head = format!(
            "PUT /api/datasets/{id}/files/cut.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {dep}\r\nContent-Length: {}\r\n\r\n",
            8 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&vec![42u8; 1024 * 1024]).await?;
        stream.flush().await?;
        // Only once the server is writing the upload does its clean-up prove anything.
        wait::eventually("the upload to reach staging", || async {
            Ok(check(staged_blobs(&app) > 0, staged_blobs(&app)))
        })
        .await?;
        drop(stream);

        // The server notices the dropped connection and cleans up.
        wait::eventually("no partial upload left in staging", || async {
            Ok(check(staged_blobs(&app) == 0, staged_blobs(&app)))
        })
        .await?;
        assert_eq!(file_count(&app).await?, 0, "no row for the interrupted file");

        // The same upload, complete, works afterwards.
        api.put_file(id, "cut.bin", &vec![42u8; 8 * 1024 * 1024]).await?;
        Ok(())
    })
    .await
}

/// Files people upload (a page with a script, an SVG) are saved, never shown or run as a
/// page of the archive: every answer that carries them is an attachment, with no type
/// guessing and a sandbox, for the depositor's draft and for the public alike.
#[actix_web::test]
async fn uploaded_pages_and_images_are_never_run_as_the_archives_own() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let page = b"<html><script>fetch('/profile')</script></html>".as_slice();
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".as_slice();
        let files = [("page.html", page), ("logo.svg", svg)];
        let published = app.published(&users, "Pages", &files).await?;
        let id = published["id"].as_i64().ok_or("id")?;
        let owner = app.signed_in(&users.depositor).await?;
        for (who, client) in [("a reader", app.client()), ("the depositor", owner.client)] {
            for (name, bytes) in files {
                let r = client
                    .get(app.url(&format!("/datasets/{id}/files/{name}")))
                    .send()
                    .await?;
                assert_eq!(r.status(), StatusCode::OK, "{who}: {name}");
                let header = |h: &str| {
                    r.headers()
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                assert!(
                    header("content-disposition").starts_with("attachment;"),
                    "{name}"
                );
                assert_eq!(
                    header("content-security-policy"),
                    "sandbox",
                    "{who}: {name}"
                );
                assert_eq!(header("x-content-type-options"), "nosniff");
                assert_eq!(
                    r.bytes().await?.as_ref(),
                    bytes,
                    "the bytes are kept as they are"
                );
            }
        }
        Ok(())
    })
    .await
}
