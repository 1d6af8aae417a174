//! Hostile anonymous clients cannot stop the archive: many whole-version downloads that
//! are never read, and uploads that stop sending, while health probes and a depositor's
//! requests keep being answered. Past the caps, clients are told to come back later
//! (503 or 429 with Retry-After) instead of hanging; silent bodies are dropped after the
//! idle timeout and leave nothing staged, except a tus upload, which keeps what arrived.
//!
//! The real binary serves here, with small limits. Every client is on 127.0.0.0/8, the
//! counts are bounded, and the only timing asserted is that answers come at all.

use crate::support::api::publish_on;
use crate::support::process::Process;
use crate::support::wait::check;
use crate::support::*;
use base64::Engine as _;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// Stalled downloads from the first address; the second address adds the rest up to
/// the total.
const PER_ADDRESS: usize = 150;
const TOTAL: usize = 200;
const UPLOADS_PER_ACCOUNT: usize = 2;
/// Long enough that a zip of it cannot fit in the socket buffers of a stalled client.
const BIG: usize = 16 << 20;
/// "Does not hang": far above any answer time, far below a hung server's.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A connection from `from` with a tiny receive buffer, so the server cannot push a
/// whole package into the kernel and be done with it.
fn connect(server: SocketAddr, from: IpAddr) -> Result<TcpStream, Error> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(4096)?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    socket.connect_timeout(&server.into(), ANSWER_WITHIN)?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(ANSWER_WITHIN))?;
    stream.set_write_timeout(Some(ANSWER_WITHIN))?;
    Ok(stream)
}

/// Sends `head` and reads the answer's status line and headers, nothing more.
fn request_head(stream: &mut TcpStream, head: &str) -> Result<(u16, String), Error> {
    stream.write_all(head.as_bytes())?;
    read_head(stream)
}

fn read_head(stream: &mut TcpStream) -> Result<(u16, String), Error> {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(format!(
                "closed before the head: {:?}",
                String::from_utf8_lossy(&seen)
            )
            .into());
        }
        seen.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&seen).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {text:?}"))?;
    Ok((status, text.to_ascii_lowercase()))
}

fn zip_request(id: i64) -> String {
    format!("GET /datasets/{id}/versions/1/download?format=zip HTTP/1.1\r\nHost: x\r\n\r\n")
}

/// Staged files and folders of the archive, by name.
fn staged(data_dir: &Path) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    let mut stack = vec![data_dir.join("staging")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                names.push(entry.path().display().to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// The probes and the depositor's request that must keep being answered.
async fn still_answering(server: &Process, pi: &Api, id: i64) -> Result<(), Error> {
    let client = reqwest::Client::builder().timeout(ANSWER_WITHIN).build()?;
    let health = client.get(server.base() + "/healthz").send().await?;
    assert_eq!(health.status(), reqwest::StatusCode::OK, "/healthz answers");
    let mine = pi.dataset(id).await?;
    assert_eq!(mine["id"], id, "a signed-in request is answered: {mine}");
    Ok(())
}

#[actix_web::test]
async fn slow_and_silent_clients_do_not_stop_the_archive() -> TestResult {
    for_each_backend(run).await
}

/// The archive under attack: the real binary with small limits, a published dataset
/// with one large file, and a depositor.
struct Scene {
    _dir: tempfile::TempDir,
    home: Home,
    server: Process,
    depositor: String,
    pi: Api,
    id: i64,
    big: Vec<u8>,
    addr: SocketAddr,
}

async fn scene(backend: Backend) -> Result<Scene, Error> {
    let dir = tempfile::tempdir()?;
    let home = Home::new(dir.path(), "data", backend)?
        .with("HOLDFAST_DOWNLOADS_MAX_TOTAL", TOTAL.to_string())
        .with(
            "HOLDFAST_DOWNLOADS_MAX_PER_ADDRESS",
            PER_ADDRESS.to_string(),
        )
        .with(
            "HOLDFAST_UPLOADS_MAX_PER_ACCOUNT",
            UPLOADS_PER_ACCOUNT.to_string(),
        )
        .with("HOLDFAST_BODY_IDLE_TIMEOUT_SECS", "5");
    let tokens = home.accounts()?;
    let server = home.serve().await?;
    let (pi, curator) = (
        Api::new(&server.base(), Some(&tokens.depositor)),
        Api::new(&server.base(), Some(&tokens.curator)),
    );
    let big: Vec<u8> = (0..BIG).map(|i| (i * 7 % 251) as u8).collect();
    let id = pi.create_draft("Readers who never read").await?;
    publish_on(&pi, &curator, id, &[("big.bin", &big)]).await?;
    let addr: SocketAddr = server.base().trim_start_matches("http://").parse()?;
    Ok(Scene {
        _dir: dir,
        home,
        server,
        depositor: tokens.depositor,
        pi,
        id,
        big,
        addr,
    })
}

async fn run(backend: Backend) -> TestResult {
    let s = scene(backend).await?;
    let stalled = downloads_that_are_never_read_stop_at_the_caps(&s).await?;
    silent_uploads_stop_at_the_cap_and_leave_nothing(&s).await?;
    a_stalled_tus_patch_keeps_what_arrived(&s).await?;
    // The readers go away: their places are free again.
    drop(stalled);
    let zip = eventually(
        "a whole-version download after the readers left",
        || async {
            let r = reqwest::Client::new()
                .get(format!(
                    "{}/datasets/{}/versions/1/download?format=zip",
                    s.server.base(),
                    s.id
                ))
                .send()
                .await?;
            let status = r.status();
            let length = r.bytes().await?.len();
            Ok(check(status == reqwest::StatusCode::OK, (status, length)))
        },
    )
    .await?;
    assert!(zip.1 > BIG, "the whole package arrives: {zip:?}");
    still_answering(&s.server, &s.pi, s.id).await?;
    Ok(())
}

/// Whole-version downloads that are never read, up to both caps; the archive keeps
/// answering, and the next ones are told to come back. Returns the stalled readers.
async fn downloads_that_are_never_read_stop_at_the_caps(
    s: &Scene,
) -> Result<Vec<TcpStream>, Error> {
    let mut stalled = Vec::new();
    for n in 0..TOTAL {
        let from = loopback(if n < PER_ADDRESS { 1 } else { 2 });
        let mut stream = connect(s.addr, from)?;
        let (status, head) = request_head(&mut stream, &zip_request(s.id))?;
        assert_eq!(status, 200, "download {n} starts: {head}");
        stalled.push(stream);
    }
    still_answering(&s.server, &s.pi, s.id).await?;
    // A single file is not a whole-version download: it is still served, whole.
    assert_eq!(s.pi.download(s.id, "big.bin").await?, s.big);
    // One more from the first address is over its cap; one from a third, over the total.
    for (from, why) in [(1, "per address"), (3, "in total")] {
        let mut stream = connect(s.addr, loopback(from))?;
        let (status, head) = request_head(&mut stream, &zip_request(s.id))?;
        assert_eq!(status, 503, "over the cap {why}: {head}");
        assert!(head.contains("retry-after:"), "{head}");
    }
    Ok(stalled)
}

/// Uploads that stop sending, up to the account's cap, then one more (429); the idle
/// timeout drops the silent ones and nothing of them stays staged.
async fn silent_uploads_stop_at_the_cap_and_leave_nothing(s: &Scene) -> TestResult {
    let draft = s.pi.create_draft("Uploads that stop").await?;
    let before = staged(&s.home.data_dir)?;
    let put = |path: &str| {
        format!(
            "PUT /api/datasets/{draft}/files/{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 1000000\r\n\r\n0123456789",
            s.depositor
        )
    };
    let mut silent = Vec::new();
    for n in 0..UPLOADS_PER_ACCOUNT {
        let mut stream = connect(s.addr, loopback(1))?;
        stream.write_all(put(&format!("silent-{n}.bin")).as_bytes())?;
        silent.push(stream);
    }
    // Both are inside once their staging files exist.
    let expected = before.len() + UPLOADS_PER_ACCOUNT;
    eventually("the silent uploads to start", || async {
        let now = staged(&s.home.data_dir)?;
        Ok(check(now.len() >= expected, now))
    })
    .await?;
    let mut refused = connect(s.addr, loopback(1))?;
    let (status, head) = request_head(&mut refused, &put("one-too-many.bin"))?;
    assert_eq!(status, 429, "over the account's upload cap: {head}");
    assert!(head.contains("retry-after:"), "{head}");
    still_answering(&s.server, &s.pi, s.id).await?;
    for mut stream in silent {
        let (status, head) = read_head(&mut stream)?;
        assert_eq!(status, 400, "a silent upload is dropped: {head}");
    }
    assert_eq!(
        staged(&s.home.data_dir)?,
        before,
        "nothing of the silent uploads is staged"
    );
    Ok(())
}

/// A tus PATCH that stops sending keeps what arrived, so the client can resume.
async fn a_stalled_tus_patch_keeps_what_arrived(s: &Scene) -> TestResult {
    let draft = s.pi.create_draft("An upload to resume").await?;
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let created = reqwest::Client::new()
        .post(s.server.base() + "/api/uploads")
        .bearer_auth(&s.depositor)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "1000")
        .header(
            "Upload-Metadata",
            format!(
                "dataset {},path {}",
                b64(&draft.to_string()),
                b64("resumed.bin")
            ),
        )
        .send()
        .await?;
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let location = created.headers()["location"].to_str()?.to_string();
    let mut patch = connect(s.addr, loopback(1))?;
    let (status, head) = request_head(
        &mut patch,
        &format!(
            "PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 1000\r\n\r\n0123456789",
            s.depositor
        ),
    )?;
    assert_eq!(
        status, 204,
        "the stalled PATCH ends with what it received: {head}"
    );
    assert!(head.contains("upload-offset: 10\r\n"), "{head}");
    Ok(())
}
