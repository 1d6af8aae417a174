//! Resumable uploads with a real tus client (tuspy): a connection cut part way, a
//! resume from the server's offset, a restart in the middle, and the protocol's edges
//! (checksum mismatch, termination, expiry, another user's upload, bad metadata).

use crate::support::checkers::python;
use crate::support::wait::{self, check};
use crate::support::*;
use base64::Engine;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) const CHUNK: usize = 256 * 1024;
const PASSWORD: &str = "a long enough password";

/// Uploads with tuspy. Modes: `interrupt` (through a proxy that cuts the connection,
/// then resume directly from the server's offset), `start` (stop at `stop_at`) and
/// `resume` (an existing upload URL, to the end). Prints what happened as JSON.
const CLIENT: &str = r#"
import hashlib, json, sys
from tusclient import client
from tusclient.uploader import Uploader

# tuspy checksums with sha1 unless told; this server offers sha256.
Uploader.CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)

args = json.loads(sys.argv[1])
headers = {"Authorization": "Bearer " + args["token"]}

def uploader(base, url=None, **kw):
    c = client.TusClient(base + "/api/uploads", headers=headers)
    return c.uploader(file_path=args["file"], url=url, chunk_size=args["chunk"],
                      metadata=args["metadata"], **kw)

out = {}
mode = args["mode"]
if mode == "interrupt":
    up = uploader(args["proxy"])
    try:
        up.upload()
        out["cut"] = False
    except Exception as e:
        out["cut"] = True
        out["error"] = str(e)
    out["url"] = up.url.replace(args["proxy"], args["direct"])
    # A client that meets 409 asks for the offset again (HEAD) and goes on, as the tus
    # protocol says: a request another node was still receiving may commit after the
    # first HEAD answered.
    resumed = uploader(args["direct"], url=out["url"], retries=args.get("retries", 0),
                       retry_delay=0)
    out["resumed_from"] = resumed.offset
    resumed.upload()
    out["final"] = resumed.offset
elif mode == "start":
    up = uploader(args["direct"], upload_checksum=True)
    up.upload(stop_at=args["stop_at"])
    out["url"] = up.url
    out["offset"] = up.offset
elif mode == "resume":
    up = uploader(args["direct"], url=args["url"], upload_checksum=True)
    out["resumed_from"] = up.offset
    up.upload()
    out["final"] = up.offset
print(json.dumps(out))
"#;

/// Runs the tuspy script off the test's thread (the proxy and server keep running).
pub(crate) async fn tuspy(args: serde_json::Value) -> Result<serde_json::Value, Error> {
    let python = python()?;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .args(["-c", CLIENT, &args.to_string()])
            .output()
            .map_err(|e| format!("cannot run {python}: {e}"))
    })
    .await??;
    if !out.status.success() {
        return Err(format!(
            "the tuspy client failed ({}); is tuspy installed (scripts/test-tools.txt)?\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// A TCP proxy to `target` that forwards `budget` bytes from clients, then cuts every
/// connection, as a network failure part way through an upload would.
pub(crate) fn cutting_proxy(target: SocketAddr, budget: usize) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let left = Arc::new(AtomicUsize::new(budget));
    std::thread::spawn(move || {
        for inbound in listener.incoming() {
            let Ok(inbound) = inbound else { break };
            let Ok(outbound) = TcpStream::connect(target) else {
                break;
            };
            let left = left.clone();
            let (Ok(mut from_client), Ok(mut to_client)) =
                (inbound.try_clone(), inbound.try_clone())
            else {
                break;
            };
            let (Ok(mut to_server), Ok(mut from_server)) =
                (outbound.try_clone(), outbound.try_clone())
            else {
                break;
            };
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = inbound.shutdown(Shutdown::Both);
            });
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = from_client.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let take = n.min(left.load(Ordering::SeqCst));
                    left.fetch_sub(take, Ordering::SeqCst);
                    if take > 0 && to_server.write_all(&buf[..take]).is_err() {
                        break;
                    }
                    if take < n {
                        break;
                    }
                }
                let _ = outbound.shutdown(Shutdown::Both);
                let _ = from_client.shutdown(Shutdown::Both);
            });
        }
    });
    Ok(addr)
}

/// Deterministic bytes that are not a repeating pattern.
pub(crate) fn content(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn addr_of(app: &TestApp) -> Result<SocketAddr, Error> {
    Ok(app.base.trim_start_matches("http://").parse()?)
}

/// The draft's file at `path` as the API lists it.
async fn listed(
    app: &TestApp,
    token: &str,
    id: i64,
    path: &str,
) -> Result<serde_json::Value, Error> {
    let shown: serde_json::Value = app
        .client()
        .get(app.url(&format!("/api/datasets/{id}")))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    shown["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["path"] == path).cloned())
        .ok_or_else(|| format!("the draft does not list {path}: {shown}").into())
}

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

/// Creates an upload with reqwest; returns its path.
async fn create(
    app: &TestApp,
    token: &str,
    length: usize,
    metadata: &str,
) -> Result<String, Error> {
    let r = app
        .client()
        .post(app.url("/api/uploads"))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", metadata)
        .send()
        .await?;
    if r.status() != StatusCode::CREATED {
        let status = r.status();
        return Err(format!("create: {status}: {}", r.text().await?).into());
    }
    assert_eq!(r.headers()["Tus-Resumable"], "1.0.0");
    assert!(r.headers().contains_key("Upload-Expires"));
    location(&r).ok_or_else(|| "no Location".into())
}

async fn patch(
    app: &TestApp,
    token: &str,
    upload: &str,
    offset: usize,
    body: &[u8],
    checksum: Option<&[u8]>,
) -> Result<reqwest::Response, Error> {
    let mut req = app
        .client()
        .patch(app.url(upload))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
        .body(body.to_vec());
    if let Some(of) = checksum {
        use sha2::Digest;
        let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(of));
        req = req.header("Upload-Checksum", format!("sha256 {digest}"));
    }
    Ok(req.send().await?)
}

async fn head(app: &TestApp, token: &str, upload: &str) -> Result<reqwest::Response, Error> {
    Ok(app
        .client()
        .head(app.url(upload))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await?)
}

fn offset_of(r: &reqwest::Response) -> Option<u64> {
    r.headers()
        .get("Upload-Offset")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn bin_file(app: &TestApp, upload: &str) -> std::path::PathBuf {
    let id = upload.rsplit('/').next().unwrap_or_default();
    app.data_dir
        .join("staging")
        .join("tus")
        .join(format!("{id}.bin"))
}

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
            let r = client
                .post(app.url("/api/uploads"))
                .bearer_auth(&token)
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", "10")
                .header("Upload-Metadata", metadata)
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let error = r.json::<serde_json::Value>().await?["error"].to_string();
            assert!(error.contains(needle), "{error}");
        }
        // Too large for the archive; without Tus-Resumable.
        let r = client
            .post(app.url("/api/uploads"))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header(
                "Upload-Length",
                (app.archive.settings.max_upload_bytes + 1).to_string(),
            )
            .header("Upload-Metadata", &meta)
            .send()
            .await?;
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
        let r = client
            .post(app.url("/api/uploads"))
            .bearer_auth(&other)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "3")
            .header("Upload-Metadata", &meta)
            .send()
            .await?;
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
        let client = app.client();
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
        let r = client
            .delete(app.url(&upload))
            .bearer_auth(&other)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await?;
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
        let client = app.client();
        // Termination removes the bytes and the upload.
        let upload = create(&app, &token, 6, &meta).await?;
        let r = patch(&app, &token, &upload, 0, b"abc", None).await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(bin_file(&app, &upload).exists());
        let r = client
            .delete(app.url(&upload))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await?;
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
        let client = app.client();
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
        let r = client
            .post(app.url("/api/uploads"))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "5")
            .header(
                "Upload-Metadata",
                format!("dataset {dataset},path {}", b64("one.txt")),
            )
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
        let r = client
            .post(app.url("/api/uploads"))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "3")
            .header("Upload-Metadata", &meta)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert!(r.text().await?.contains("submitted"));
        let r = patch(&app, &token, &pending, 0, b"0123456789", None).await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(offset_of(&head(&app, &token, &pending).await?), Some(0));
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
        let meta = format!("dataset {},path {}", b64(&id.to_string()), b64("two.bin"));
        let upload = create(&app, &token, bytes.len(), &meta).await?;
        // Another node: its own process state (locks), the same database and folders.
        let other = app.restarted().await?;

        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let rx = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
        });
        let writing = {
            let req = app
                .client()
                .patch(app.url(&upload))
                .bearer_auth(&token)
                .header("Tus-Resumable", "1.0.0")
                .header("Content-Type", "application/offset+octet-stream")
                .header("Upload-Offset", "0")
                .body(reqwest::Body::wrap_stream(rx));
            tokio::spawn(async move { req.send().await })
        };
        tx.send(bytes[..1000].to_vec())?;
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
        .await?;
        let asking = {
            let req = other
                .client()
                .head(other.url(&upload))
                .bearer_auth(&token)
                .header("Tus-Resumable", "1.0.0");
            tokio::spawn(async move { req.send().await })
        };
        let competing = {
            let req = other
                .client()
                .patch(other.url(&upload))
                .bearer_auth(&token)
                .header("Tus-Resumable", "1.0.0")
                .header("Content-Type", "application/offset+octet-stream")
                .header("Upload-Offset", "0")
                .body(b"x".repeat(2000));
            tokio::spawn(async move { req.send().await })
        };
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
