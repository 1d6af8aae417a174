//! Resumable uploads (tus 1.0) for journeys: the tuspy client (`tuspy`), a proxy that
//! cuts connections part way (`cutting_proxy`), and the protocol's requests over reqwest
//! (`creation`, `create`, `patch`, `head`) for journeys about its edges.

use base64::Engine;
use reqwest::{RequestBuilder, StatusCode};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::app::TestApp;
use super::browser::location;
use super::checkers::python;
use super::Error;

pub const CHUNK: usize = 256 * 1024;

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
pub async fn tuspy(args: serde_json::Value) -> Result<serde_json::Value, Error> {
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
pub fn cutting_proxy(target: SocketAddr, budget: usize) -> std::io::Result<SocketAddr> {
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
pub fn content(len: usize) -> Vec<u8> {
    super::fixtures::noise(len, 0x9e37_79b9_7f4a_7c15)
}

/// Base64, as tus metadata values are written.
pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Upload metadata for a file `path` of the draft `id`.
pub fn upload_metadata(id: i64, path: &str) -> String {
    format!("dataset {},path {}", b64(&id.to_string()), b64(path))
}

/// The address the app listens on (for a proxy in front of it).
pub fn addr_of(app: &TestApp) -> Result<SocketAddr, Error> {
    Ok(app.base.trim_start_matches("http://").parse()?)
}

/// A creation request (POST /api/uploads) with `Tus-Resumable`, the length and metadata.
pub fn creation(app: &TestApp, token: &str, length: u64, metadata: &str) -> RequestBuilder {
    app.client()
        .post(app.url("/api/uploads"))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", metadata)
}

/// Creates an upload; returns its path.
pub async fn create(
    app: &TestApp,
    token: &str,
    length: usize,
    metadata: &str,
) -> Result<String, Error> {
    let r = creation(app, token, length as u64, metadata).send().await?;
    if r.status() != StatusCode::CREATED {
        let status = r.status();
        return Err(format!("create: {status}: {}", r.text().await?).into());
    }
    assert_eq!(r.headers()["Tus-Resumable"], "1.0.0");
    assert!(r.headers().contains_key("Upload-Expires"));
    location(&r).ok_or_else(|| "no Location".into())
}

/// A PATCH of the upload at `upload` (on `app`) from `offset`, without its body.
pub fn patching(app: &TestApp, token: &str, upload: &str, offset: usize) -> RequestBuilder {
    app.client()
        .patch(app.url(upload))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
}

/// Sends `body` from `offset`, with an `Upload-Checksum` of `checksum` when given.
pub async fn patch(
    app: &TestApp,
    token: &str,
    upload: &str,
    offset: usize,
    body: &[u8],
    checksum: Option<&[u8]>,
) -> Result<reqwest::Response, Error> {
    let mut req = patching(app, token, upload, offset).body(body.to_vec());
    if let Some(of) = checksum {
        use sha2::Digest;
        let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(of));
        req = req.header("Upload-Checksum", format!("sha256 {digest}"));
    }
    Ok(req.send().await?)
}

/// A HEAD request for the upload's offset.
pub fn heading(app: &TestApp, token: &str, upload: &str) -> RequestBuilder {
    app.client()
        .head(app.url(upload))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
}

pub async fn head(app: &TestApp, token: &str, upload: &str) -> Result<reqwest::Response, Error> {
    Ok(heading(app, token, upload).send().await?)
}

/// Terminates an upload (DELETE).
pub async fn terminate(
    app: &TestApp,
    token: &str,
    upload: &str,
) -> Result<reqwest::Response, Error> {
    Ok(app
        .client()
        .delete(app.url(upload))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await?)
}

/// The `Upload-Offset` an answer reports.
pub fn offset_of(r: &reqwest::Response) -> Option<u64> {
    r.headers()
        .get("Upload-Offset")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Where the bytes of an upload under way are kept.
pub fn bin_file(app: &TestApp, upload: &str) -> std::path::PathBuf {
    let id = upload.rsplit('/').next().unwrap_or_default();
    app.data_dir
        .join("staging")
        .join("tus")
        .join(format!("{id}.bin"))
}

/// The draft's file at `path` as the API lists it to the holder of `token`.
pub async fn listed(
    app: &TestApp,
    token: &str,
    id: i64,
    path: &str,
) -> Result<serde_json::Value, Error> {
    let shown = app.api(token).dataset(id).await?;
    shown["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["path"] == path).cloned())
        .ok_or_else(|| format!("the draft does not list {path}: {shown}").into())
}
