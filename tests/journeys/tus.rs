//! Resumable uploads with a real tus client (tuspy): a connection cut part way, a
//! resume from the server's offset, a restart in the middle, a completion cut short by
//! a crash, the deposit page's uploader, and two nodes sharing one upload. The
//! protocol's edges are in tus_protocol.rs.

use crate::support::tus::*;
use crate::support::wait::{self, check};
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use std::io::Write;

const PASSWORD: &str = "a long enough password";

/// Downloads a draft file as its depositor in the browser, byte for byte.
async fn download(app: &TestApp, email: &str, id: i64, path: &str) -> Result<Vec<u8>, Error> {
    let browser = app.browser();
    browser.sign_in(email, PASSWORD).await?;
    let r = browser.get(&format!("/datasets/{id}/files/{path}")).await?;
    if r.status() != StatusCode::OK {
        return Err(format!("download of {path}: {}", r.status()).into());
    }
    Ok(r.bytes().await?.to_vec())
}

#[actix_web::test]
async fn tuspy_resumes_after_the_connection_is_cut() -> TestResult {
    on_each_backend(|app| async move {
        let email = "tus@example.org";
        let token = app.new_user(email, Role::Depositor).await?.token;
        let id = app.api(&token).create_draft("Resumable").await?;
        let bytes = content(4 * CHUNK + 12_345);
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("big.bin");
        std::fs::write(&file, &bytes)?;

        // Cut inside the third PATCH body (two whole chunks and headers before it).
        let proxy = cutting_proxy(addr_of(&app)?, 2 * CHUNK + 100_000)?;
        let out = tuspy(serde_json::json!({
            "mode": "interrupt",
            "token": token,
            "file": file,
            "chunk": CHUNK,
            "proxy": format!("http://{proxy}"),
            "direct": app.base,
            // The cut request may still be committing when the resume asks for the
            // offset (a loaded machine): on 409 the client asks again, as tus says.
            "retries": 3,
            "metadata": {"dataset": id.to_string(), "path": "data/big.bin"},
        }))
        .await?;
        assert_eq!(out["cut"], true, "{out}");
        let resumed_from = out["resumed_from"].as_u64().ok_or("resumed_from")?;
        assert!(
            resumed_from >= 2 * CHUNK as u64 && resumed_from < bytes.len() as u64,
            "resumed from {resumed_from}: {out}"
        );
        assert_eq!(out["final"].as_u64(), Some(bytes.len() as u64), "{out}");

        let f = listed(&app, &token, id, "data/big.bin").await?;
        assert_eq!(f["sha256"], sha256_hex(&bytes));
        assert_eq!(f["size"].as_u64(), Some(bytes.len() as u64));
        assert!(download(&app, email, id, "data/big.bin").await? == bytes);
        // The draft's checks were queued, as for any upload, and they finish.
        app.run_jobs().await?;
        let report = app.api(&token).validation(id).await?;
        assert_ne!(report["state"], "checking");

        // A HEAD after completion still answers (a client that lost the last answer).
        let url = out["url"].as_str().ok_or("url")?;
        let r = app
            .client()
            .head(url)
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()["Upload-Offset"].to_str()?,
            bytes.len().to_string()
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn an_upload_resumes_after_a_restart() -> TestResult {
    on_each_backend(|app| async move {
        let email = "restart@example.org";
        let token = app.new_user(email, Role::Depositor).await?.token;
        let id = app.api(&token).create_draft("Restarted").await?;
        let bytes = content(3 * CHUNK + 777);
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("series.bin");
        std::fs::write(&file, &bytes)?;
        let metadata = serde_json::json!({
            "dataset": id.to_string(),
            "path": "series.bin",
            "sha256": sha256_hex(&bytes),
        });
        // Half way (not on a 64-byte block boundary), with Upload-Checksum per chunk.
        let stop_at = CHUNK + 1001;
        let first = tuspy(serde_json::json!({
            "mode": "start", "token": token, "file": file, "chunk": CHUNK,
            "direct": app.base, "metadata": metadata, "stop_at": stop_at,
        }))
        .await?;
        assert_eq!(first["offset"].as_u64(), Some(stop_at as u64), "{first}");

        let second = app.restarted().await?;
        let path = first["url"]
            .as_str()
            .ok_or("url")?
            .trim_start_matches(&app.base)
            .to_string();
        let out = tuspy(serde_json::json!({
            "mode": "resume", "token": token, "file": file, "chunk": CHUNK,
            "direct": second.base, "metadata": metadata, "url": second.url(&path),
        }))
        .await?;
        assert_eq!(out["resumed_from"].as_u64(), Some(stop_at as u64), "{out}");
        assert_eq!(out["final"].as_u64(), Some(bytes.len() as u64), "{out}");
        let f = listed(&second, &token, id, "series.bin").await?;
        assert_eq!(f["sha256"], sha256_hex(&bytes));
        assert!(download(&second, email, id, "series.bin").await? == bytes);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_completion_cut_short_by_a_crash_is_finished_later() -> TestResult {
    on_each_backend(|app| async move {
        use diesel::prelude::*;
        use holdfast::db::schema::tus_uploads;
        let email = "crash@example.org";
        let token = app.new_user(email, Role::Depositor).await?.token;
        let id = app.api(&token).create_draft("Crashed").await?;
        let meta = format!("dataset {},path {}", b64(&id.to_string()), b64("crash.bin"));
        let upload = create(&app, &token, 5, &meta).await?;
        let r = patch(&app, &token, &upload, 0, b"abc", None).await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);

        // As if the last PATCH was fsynced and committed, and the process died after
        // renaming the bytes into staging, before recording them in the draft.
        let uid = upload.rsplit('/').next().ok_or("upload id")?.to_string();
        let bin = bin_file(&app, &upload);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&bin)?
            .write_all(b"de")?;
        let mut state = holdfast::deposit::tus::ResumableSha256::new();
        state.update(b"abcde");
        let row = uid.clone();
        app.archive
            .db
            .run(move |conn| {
                diesel::update(tus_uploads::table.find(row))
                    .set((
                        tus_uploads::upload_offset.eq(5i64),
                        tus_uploads::hash_state.eq(state.to_bytes()),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        let blob = app.data_dir.join("staging").join(format!("{uid}.blob"));
        std::fs::rename(&bin, &blob)?;
        // Old enough for the start-up sweep of blobs no draft refers to.
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&blob)?
            .set_modified(two_hours_ago)?;

        let second = app.restarted().await?;
        let r = head(&second, &token, &upload).await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(offset_of(&r), Some(5));
        let f = listed(&second, &token, id, "crash.bin").await?;
        assert_eq!(f["sha256"], sha256_hex(b"abcde"));
        assert!(download(&second, email, id, "crash.bin").await? == b"abcde");
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn the_deposit_page_uploads_with_its_session_and_csrf_token() -> TestResult {
    on_each_backend(|app| async move {
        let email = "page@example.org";
        let token = app.new_user(email, Role::Depositor).await?.token;
        let id = app.api(&token).create_draft("From the page").await?;
        let browser = app.browser();
        browser.sign_in(email, PASSWORD).await?;
        let csrf = browser.csrf(&format!("/datasets/{id}")).await?;
        let meta = format!(
            "dataset {},filename {},folder {}",
            b64(&id.to_string()),
            b64("page.txt"),
            b64("raw")
        );
        let post = |with_csrf: bool| {
            let mut req = browser
                .client
                .post(format!("{}/api/uploads", browser.base))
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", "4")
                .header("Upload-Metadata", meta.clone());
            if with_csrf {
                req = req.header("X-CSRF-Token", csrf.clone());
            }
            req.send()
        };
        // The session alone is not enough: a cross-site page could send that.
        assert_eq!(post(false).await?.status(), StatusCode::FORBIDDEN);
        let r = post(true).await?;
        assert_eq!(r.status(), StatusCode::CREATED);
        let upload = location(&r).ok_or("Location")?;
        let r = browser
            .client
            .patch(format!("{}{upload}", browser.base))
            .header("Tus-Resumable", "1.0.0")
            .header("X-CSRF-Token", csrf.clone())
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .body("page")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let f = listed(&app, &token, id, "raw/page.txt").await?;
        assert_eq!(f["sha256"], sha256_hex(b"page"));
        // The page offers the resumable uploader to browsers with JavaScript.
        let (_, html) = browser.get_text(&format!("/datasets/{id}")).await?;
        assert!(
            html.contains("/static/tus.min.js"),
            "no tus script on the page"
        );
        for script in ["/static/tus.min.js", "/static/upload.js"] {
            let js = browser.get(script).await?;
            assert_eq!(js.status(), StatusCode::OK, "{script}");
            assert!(js.text().await?.contains("tus"), "{script}");
        }
        Ok(())
    })
    .await
}

/// Waits until a request on some node holds the upload's lease (is writing its bytes).
async fn wait_for_writer(app: &TestApp, upload: &str) -> TestResult {
    let key = upload.rsplit('/').next().unwrap_or_default().to_string();
    wait::eventually("the first node's PATCH to take the upload's lease", || {
        let k = key.clone();
        async {
            let writer = app
                .archive
                .db
                .run(move |conn| {
                    use diesel::prelude::*;
                    use holdfast::db::schema::tus_uploads;
                    Ok(tus_uploads::table
                        .find(&k)
                        .select(tus_uploads::writer)
                        .first::<Option<String>>(conn)?)
                })
                .await?;
            Ok(check(writer.is_some(), writer))
        }
    })
    .await
    .map(|_| ())
}

/// A PATCH from offset 0 whose body is sent as the test pushes chunks into the sender.
fn streaming_patch(
    app: &TestApp,
    token: &str,
    upload: &str,
) -> (
    tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let rx = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    let req = patching(app, token, upload, 0).body(reqwest::Body::wrap_stream(rx));
    (tx, tokio::spawn(async move { req.send().await }))
}

/// Two nodes on one database and staging folder: a request still writing on one node
/// holds the upload's lease, so the other node's HEAD waits and reports the offset it
/// commits, and the other node's PATCH neither writes meanwhile nor goes through.
#[actix_web::test]
async fn a_request_writing_on_one_node_holds_off_the_other_node() -> TestResult {
    on_each_backend(|app| async move {
        let token = app
            .new_user("lease@example.org", Role::Depositor)
            .await?
            .token;
        let id = app.api(&token).create_draft("Two nodes").await?;
        let bytes = content(2000);
        let upload = create(&app, &token, bytes.len(), &upload_metadata(id, "two.bin")).await?;
        // Another node: its own process state (locks), the same database and folders.
        let other = app.restarted().await?;

        let (tx, writing) = streaming_patch(&app, &token, &upload);
        tx.send(bytes[..1000].to_vec())?;
        wait_for_writer(&app, &upload).await?;
        let asking = tokio::spawn(heading(&other, &token, &upload).send());
        let competing = patching(&other, &token, &upload, 0).body(b"x".repeat(2000));
        let competing = tokio::spawn(competing.send());
        tx.send(bytes[1000..].to_vec())?;
        drop(tx);
        let r = writing.await??;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(offset_of(&r), Some(2000));
        let r = asking.await??;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            offset_of(&r),
            Some(2000),
            "the other node waited for the writer"
        );
        let r = competing.await??;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{}", r.text().await?);
        let f = listed(&other, &token, id, "two.bin").await?;
        assert_eq!(f["sha256"], sha256_hex(&bytes));
        Ok(())
    })
    .await
}
