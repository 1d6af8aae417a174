//! Federation between real holdfast processes, each with its own data folder and
//! database: an origin publishes datasets, its admin registers a partner; a replica
//! (`replicate add` + `replicate run`) pulls a byte-identical, rocfl-valid copy, reports
//! signed receipts that the origin shows, follows a second version and a deaccession;
//! and a second replica pulling through a proxy that flips a byte of one file in
//! transit retries that file, reports it and never stores it.

use crate::helpers::*;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

/// Kills the process when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One archive: its data folder and database.
struct Node {
    data_dir: PathBuf,
    database_url: String,
}

impl Node {
    fn new(root: &Path, name: &str, backend: Backend) -> Result<Node, Error> {
        let data_dir = root.join(name);
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", data_dir.join("holdfast.db").display()),
            Backend::Postgres => fresh_postgres_schema()?,
        };
        let node = Node {
            data_dir,
            database_url,
        };
        node.cli(&["migrate"])?;
        Ok(node)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_holdfast"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOLDFAST_DATA_DIR", &self.data_dir)
            .env("HOLDFAST_DATABASE_URL", &self.database_url)
            .env("HOLDFAST_JOB_BACKOFF_MS", "200")
            .env("HOLDFAST_LOG", "warn")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a command; its stdout, or an error with its stderr.
    fn cli(&self, args: &[&str]) -> Result<String, Error> {
        let out = self.command().args(args).output()?;
        if !out.status.success() {
            return Err(format!(
                "holdfast {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    /// Runs a command expected to fail; its stdout and stderr.
    fn cli_failing(&self, args: &[&str]) -> Result<String, Error> {
        let out = self.command().args(args).output()?;
        if out.status.success() {
            return Err(format!(
                "holdfast {args:?} succeeded: {}",
                String::from_utf8_lossy(&out.stdout)
            )
            .into());
        }
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    async fn serve(&self) -> Result<(Process, String), Error> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let child = self
            .command()
            .env("HOLDFAST_BIND", format!("127.0.0.1:{port}"))
            .env("HOLDFAST_BASE_URL", &base)
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()?;
        let server = Process(child);
        let client = crate::helpers::fresh_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
                if r.status() == StatusCode::OK {
                    return Ok((server, base));
                }
            }
            if Instant::now() > deadline {
                return Err("the origin did not start within a minute".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The replica root of source 1 (the first source a node adds).
    fn replica_root(&self) -> PathBuf {
        self.data_dir.join("replicas").join("1")
    }
}

struct Tokens {
    depositor: String,
    curator: String,
    admin: String,
}

fn accounts(origin: &Node) -> Result<Tokens, Error> {
    let mut tokens = Vec::new();
    for (email, role) in [
        ("pi@example.org", "depositor"),
        ("cura@example.org", "curator"),
        ("adm@example.org", "admin"),
    ] {
        origin.cli(&[
            "user", "add", "--email", email, "--name", "Someone", "--role", role,
        ])?;
        tokens.push(origin.cli(&["token", "create", "--email", email])?);
    }
    Ok(Tokens {
        depositor: tokens[0].clone(),
        curator: tokens[1].clone(),
        admin: tokens[2].clone(),
    })
}

async fn wait_for(
    client: &Client,
    url: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if done(&body) {
            return Ok(body);
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not get there: {body}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Uploads files into a draft and takes it through review to publication.
async fn publish(
    client: &Client,
    base: &str,
    t: &Tokens,
    id: i64,
    files: &[(&str, &[u8])],
) -> TestResult {
    for (path, bytes) in files {
        let r = client
            .put(format!(
                "{base}/api/datasets/{id}/files/{}",
                path.replace(' ', "%20").replace('#', "%23")
            ))
            .bearer_auth(&t.depositor)
            .body(bytes.to_vec())
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await?);
    }
    wait_for(
        client,
        &format!("{base}/api/datasets/{id}/validation"),
        &t.depositor,
        |r| r["state"] != "checking",
    )
    .await?;
    let r = client
        .post(format!("{base}/api/datasets/{id}/submit"))
        .bearer_auth(&t.depositor)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await?);
    let r = client
        .post(format!("{base}/api/datasets/{id}/review"))
        .bearer_auth(&t.curator)
        .json(&json!({"decision": "accept"}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", r.text().await?);
    wait_for(
        client,
        &format!("{base}/api/datasets/{id}"),
        &t.curator,
        |d| d["state"] == "published",
    )
    .await?;
    Ok(())
}

async fn new_dataset(client: &Client, base: &str, t: &Tokens, title: &str) -> Result<i64, Error> {
    let r = client
        .post(format!("{base}/api/datasets"))
        .bearer_auth(&t.depositor)
        .json(&minimal_json(title))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    Ok(r.json::<Value>().await?["id"].as_i64().ok_or("no id")?)
}

/// Every file of an OCFL object but its `logs/` (free-form, not versioned, each
/// archive's own), by relative path, with its bytes.
fn object_files(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut all = tree(dir)?;
    all.retain(|path, _| !path.starts_with("logs/"));
    Ok(all)
}

/// Every file under a folder, by relative path, with its bytes.
fn tree(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), Error> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path.strip_prefix(root)?.to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

/// The object folder of a dataset's OCFL object under a storage root (layout 0004).
fn object_dir(root: &Path, object_id: &str) -> PathBuf {
    let h = sha256_hex(object_id.as_bytes());
    root.join(&h[0..3]).join(&h[3..6]).join(&h[6..9]).join(&h)
}

fn rocfl_validate(root: &Path) -> TestResult {
    let rocfl = std::env::var("HOLDFAST_ROCFL")
        .map_err(|_| "HOLDFAST_ROCFL is not set: run the tests with scripts/test")?;
    let out = Command::new(rocfl)
        .arg("-r")
        .arg(root)
        .arg("validate")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "rocfl says {} is invalid: {}{}",
            root.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

async fn object_id_of(client: &Client, base: &str, id: i64) -> Result<String, Error> {
    let inventory: Value = client
        .get(format!("{base}/federation/objects/{id}/inventory.json"))
        .send()
        .await?
        .json()
        .await?;
    Ok(inventory["id"].as_str().ok_or("no id")?.to_string())
}

/// An HTTP proxy to `target` that flips the first byte of every response whose path
/// contains `marker`, and logs those paths.
const CORRUPTING_PROXY: &str = r#"
import http.server, socketserver, sys, urllib.request, urllib.error
target, marker, log = sys.argv[1], sys.argv[2], sys.argv[3]
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
opener = urllib.request.build_opener(NoRedirect)
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def forward(self, body=None):
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "content-length", "accept-encoding")}
        request = urllib.request.Request(target + self.path, data=body, headers=headers, method=self.command)
        try:
            response = opener.open(request)
        except urllib.error.HTTPError as e:
            response = e
        data = response.read()
        if marker in self.path and self.command == "GET" and data:
            data = bytes([data[0] ^ 1]) + data[1:]
            with open(log, "a") as f:
                f.write(self.path + "\n")
        self.send_response(response.status)
        for k, v in response.headers.items():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
    def do_GET(self):
        self.forward()
    def do_HEAD(self):
        self.forward()
    def do_POST(self):
        self.forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

fn start_proxy(
    work: &Path,
    target: &str,
    marker: &str,
) -> Result<(Process, String, PathBuf), Error> {
    let python = std::env::var("HOLDFAST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = work.join("corrupting_proxy.py");
    std::fs::write(&script, CORRUPTING_PROXY)?;
    let log = work.join("corrupted.log");
    let mut child = Command::new(python)
        .arg(&script)
        .arg(target)
        .arg(marker)
        .arg(&log)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no proxy stdout")?;
    let proxy = Process(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let port: u16 = line.trim().parse()?;
    Ok((proxy, format!("http://127.0.0.1:{port}"), log))
}

#[actix_web::test]
async fn a_replica_pulls_a_verified_byte_identical_copy_and_keeps_it_current() -> TestResult {
    for backend in backends() {
        run(backend)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

async fn run(backend: Backend) -> TestResult {
    let work = tempfile::tempdir()?;
    let origin = Node::new(work.path(), "origin", backend)?;
    let tokens = accounts(&origin)?;
    let (_server, base) = origin.serve().await?;
    let client = crate::helpers::fresh_client();

    // The origin publishes two datasets; a third stays a draft.
    let flux = new_dataset(&client, &base, &tokens, "Tower fluxes").await?;
    let flux_v1: Vec<(&str, &[u8])> = vec![
        ("data/flux.csv", b"time,flux\n2019-01-01T00:00,1.5\n"),
        ("site notes #1.txt", b"Site notes.\n"),
    ];
    publish(&client, &base, &tokens, flux, &flux_v1).await?;
    let soil = new_dataset(&client, &base, &tokens, "Soil moisture").await?;
    publish(
        &client,
        &base,
        &tokens,
        soil,
        &[("soil.csv", b"depth,theta\n10,0.31\n")],
    )
    .await?;
    let draft = new_dataset(&client, &base, &tokens, "Not yet").await?;

    // Partner access: a registered partner's token opens the federation endpoints; a
    // token this archive does not know is refused everywhere, while the public needs
    // none.
    let partner_token = origin.cli(&[
        "partner",
        "add",
        "--name",
        "replica-b",
        "--url",
        "http://replica-b.test",
    ])?;
    assert!(partner_token.starts_with("hfp_"), "{partner_token}");
    let bad = "hfp_not-a-token-of-this-archive";
    let inventory_url = format!("{base}/federation/objects/{flux}/inventory.json");
    for url in [
        format!("{base}/.well-known/resourcesync"),
        format!("{base}/resourcesync/changelist.xml"),
        format!("{base}/resourcesync/resourcelist.xml"),
        format!("{base}/oai?verb=Identify"),
        inventory_url.clone(),
        format!("{base}/datasets/{flux}/files/site%20notes%20%231.txt"),
    ] {
        let public = client.get(&url).send().await?;
        assert_eq!(public.status(), StatusCode::OK, "public {url}");
        let partner = client.get(&url).bearer_auth(&partner_token).send().await?;
        assert_eq!(partner.status(), StatusCode::OK, "partner {url}");
        let refused = client.get(&url).bearer_auth(bad).send().await?;
        assert_eq!(
            refused.status(),
            StatusCode::UNAUTHORIZED,
            "bad token {url}"
        );
        assert!(refused.headers().contains_key("www-authenticate"));
    }
    // The deposit model has no published-but-restricted datasets: both audiences see
    // the same published records, and drafts are listed to neither.
    let public_list = client
        .get(format!("{base}/resourcesync/resourcelist.xml"))
        .send()
        .await?
        .text()
        .await?;
    let partner_list = client
        .get(format!("{base}/resourcesync/resourcelist.xml"))
        .bearer_auth(&partner_token)
        .send()
        .await?
        .text()
        .await?;
    let locs = |xml: &str| -> Vec<String> {
        xml.split("<loc>")
            .skip(1)
            .filter_map(|s| s.split("</loc>").next().map(str::to_string))
            .collect()
    };
    assert_eq!(locs(&public_list), locs(&partner_list));
    assert_eq!(locs(&public_list).len(), 3, "{public_list}");
    assert!(public_list.contains(&format!(
        r#"<rs:ln rel="describedby" href="{base}/federation/objects/{flux}/v1/inventory.json""#
    )));
    // Object files: only those of published versions, ranges work.
    for (path, status) in [
        (format!("{flux}/0=ocfl_object_1.1"), StatusCode::OK),
        (format!("{flux}/v1/inventory.json.sha256"), StatusCode::OK),
        (format!("{flux}/v2/inventory.json"), StatusCode::NOT_FOUND),
        (format!("{flux}/logs/x"), StatusCode::NOT_FOUND),
        (format!("{flux}/v1/content/../../x"), StatusCode::NOT_FOUND),
        (format!("{draft}/inventory.json"), StatusCode::NOT_FOUND),
        ("999999/inventory.json".to_string(), StatusCode::NOT_FOUND),
    ] {
        let r = client
            .get(format!("{base}/federation/objects/{path}"))
            .send()
            .await?;
        assert_eq!(r.status(), status, "{path}");
    }
    let r = client
        .get(format!(
            "{base}/federation/objects/{flux}/v1/content/data/flux.csv"
        ))
        .header("Range", "bytes=5-8")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.bytes().await?[..], b"flux");

    // The replica: two commands and one `replicate add`, then a pull now.
    let replica = Node::new(work.path(), "replica", backend)?;
    let refused = replica.cli_failing(&["replicate", "add", "--source", &base, "--token", bad])?;
    assert!(refused.contains("refused the token"), "{refused}");
    let unknown = replica.cli_failing(&["replicate", "add", "--source", "http://127.0.0.1:9"])?;
    assert!(unknown.contains("ResourceSync"), "{unknown}");
    replica.cli(&[
        "replicate",
        "add",
        "--source",
        &base,
        "--token",
        &partner_token,
    ])?;
    let out = replica.cli(&["replicate", "run"])?;
    assert!(out.contains("2 version(s) added"), "{out}");
    assert!(
        out.contains("2 receipt(s) sent") && out.contains("0 failure(s)"),
        "{out}"
    );

    let origin_root = origin.data_dir.join("ocfl");
    let replica_root = replica.replica_root();
    let flux_object = object_id_of(&client, &base, flux).await?;
    let soil_object = object_id_of(&client, &base, soil).await?;
    let same_objects = |objects: &[&str]| -> TestResult {
        for object in objects {
            let a = object_files(&object_dir(&origin_root, object))?;
            let b = object_files(&object_dir(&replica_root, object))?;
            assert!(a.contains_key("inventory.json"), "{a:?}");
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{object}: the same files"
            );
            for (path, bytes) in &a {
                assert!(b[path] == *bytes, "{object} {path} differs");
            }
        }
        Ok(())
    };
    same_objects(&[&flux_object, &soil_object])?;
    rocfl_validate(&replica_root)?;
    // A second pull finds nothing new.
    let again = replica.cli(&["replicate", "run"])?;
    assert!(again.contains("0 version(s) added, 0 file(s)"), "{again}");

    // Receipts: the origin shows which partner holds which version, and when.
    let v1_digest = sha256_hex(&std::fs::read(
        object_dir(&origin_root, &flux_object).join("v1/inventory.json"),
    )?);
    let copies: Value = client
        .get(format!("{base}/api/datasets/{flux}/copies"))
        .send()
        .await?
        .json()
        .await?;
    let list = copies["copies"].as_array().ok_or("no copies")?;
    assert_eq!(list.len(), 1, "{copies}");
    assert_eq!(list[0]["partner"], "replica-b");
    assert_eq!(list[0]["ocfl_version"], 1);
    assert_eq!(list[0]["version"], 1);
    assert_eq!(list[0]["inventory_digest"], v1_digest.as_str());
    assert!(list[0]["received_at"].is_string() && list[0]["last_verified_at"].is_string());
    let shown: Value = client
        .get(format!("{base}/api/datasets/{flux}"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(shown["copies"], copies["copies"]);
    let page = client
        .get(format!("{base}/datasets/{flux}"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        page.contains("Copies at partner archives") && page.contains("replica-b"),
        "the landing page lists the copy"
    );
    assert!(page.contains(&v1_digest));

    // A receipt must be signed with the partner's token and match the origin's digest.
    let forged = json!({
        "object_id": flux_object, "version": 1, "inventory_digest": v1_digest,
        "held_at": "2026-12-03T10:00:00Z", "signature": "00".repeat(32),
    });
    let r = client
        .post(format!("{base}/api/federation/receipts"))
        .bearer_auth(&partner_token)
        .json(&forged)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{}", r.text().await?);
    let wrong = holdfast::federation::receipts::sign(
        &partner_token,
        &flux_object,
        1,
        &"ab".repeat(32),
        chrono::Utc::now(),
    );
    let r = client
        .post(format!("{base}/api/federation/receipts"))
        .bearer_auth(&partner_token)
        .json(&wrong)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CONFLICT, "{}", r.text().await?);
    let r = client
        .post(format!("{base}/api/federation/receipts"))
        .bearer_auth(bad)
        .json(&wrong)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A second version propagates: only its new file is fetched.
    let r = client
        .post(format!("{base}/api/datasets/{flux}/versions"))
        .bearer_auth(&tokens.depositor)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await?);
    let added: &[u8] = b"chamber,flux\n1,0.2\n";
    publish(&client, &base, &tokens, flux, &[("chambers.csv", added)]).await?;
    let out = replica.cli(&["replicate", "run"])?;
    assert!(
        out.contains("1 version(s) added, 1 file(s), 19 bytes"),
        "{out}"
    );
    same_objects(&[&flux_object, &soil_object])?;
    rocfl_validate(&replica_root)?;
    let copies: Value = client
        .get(format!("{base}/api/datasets/{flux}/copies"))
        .send()
        .await?
        .json()
        .await?;
    let versions: Vec<i64> = copies["copies"]
        .as_array()
        .ok_or("no copies")?
        .iter()
        .filter_map(|c| c["ocfl_version"].as_i64())
        .collect();
    assert_eq!(versions, vec![2, 1], "{copies}");

    // A deaccession propagates: the replica withdraws its copy and keeps the bytes dark.
    let r = client
        .post(format!("{base}/api/datasets/{soil}/deaccession"))
        .bearer_auth(&tokens.admin)
        .json(&json!({"reason": "Consent was withdrawn."}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await?);
    let r = client
        .get(format!("{base}/federation/objects/{soil}/inventory.json"))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::GONE);
    let out = replica.cli(&["replicate", "run"])?;
    assert!(out.contains("1 withdrawn"), "{out}");
    let listed = replica.cli(&["replicate", "list"])?;
    assert!(
        listed.contains("2 version(s) held, 1 withdrawn") && listed.contains("(ok)"),
        "{listed}"
    );
    assert!(object_dir(&replica_root, &soil_object)
        .join("inventory.json")
        .is_file());

    // The replica's own worker keeps it current: a third version arrives by itself.
    let r = client
        .post(format!("{base}/api/datasets/{flux}/versions"))
        .bearer_auth(&tokens.depositor)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await?);
    publish(
        &client,
        &base,
        &tokens,
        flux,
        &[("chambers.csv", b"chamber,flux\n1,0.2\n2,0.4\n")],
    )
    .await?;
    {
        let _worker = Process(
            replica
                .command()
                .env("HOLDFAST_REPLICATION_INTERVAL_SECS", "1")
                .arg("worker")
                .stdout(Stdio::null())
                .spawn()?,
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let listed = replica.cli(&["replicate", "list"])?;
            if listed.contains("3 version(s) held, 1 withdrawn") {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the worker did not pull the third version: {listed}").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    same_objects(&[&flux_object, &soil_object])?;
    rocfl_validate(&replica_root)?;

    // What an interrupted pull leaves (a root inventory without its sidecar, content of
    // a version never committed) is cleaned up by the next pull.
    let flux_dir = object_dir(&replica_root, &flux_object);
    std::fs::remove_file(flux_dir.join("inventory.json.sha256"))?;
    std::fs::create_dir_all(flux_dir.join("v4/content"))?;
    std::fs::write(flux_dir.join("v4/content/half.bin"), b"half")?;
    let out = replica.cli(&["replicate", "run"])?;
    assert!(out.contains("0 failure(s)"), "{out}");
    same_objects(&[&flux_object, &soil_object])?;
    rocfl_validate(&replica_root)?;

    // A byte flipped in transit: a second replica pulls through a corrupting proxy. The
    // damaged file is retried, reported, and never stored; the rest arrives intact.
    let bad_set = new_dataset(&client, &base, &tokens, "Chamber data").await?;
    publish(
        &client,
        &base,
        &tokens,
        bad_set,
        &[
            ("corrupt-me.csv", b"a,b\n1,2\n"),
            ("fine.csv", b"c,d\n3,4\n"),
        ],
    )
    .await?;
    let (_proxy, proxy_url, corrupted_log) = start_proxy(work.path(), &base, "corrupt-me.csv")?;
    let second = Node::new(work.path(), "replica2", backend)?;
    second.cli(&["replicate", "add", "--source", &proxy_url])?;
    let out = second.cli_failing(&["replicate", "run"])?;
    assert!(
        out.contains("corrupt-me.csv failed verification 3 times") && out.contains("sha-256"),
        "{out}"
    );
    assert!(
        out.contains("nothing that failed verification was stored"),
        "{out}"
    );
    let attempts = std::fs::read_to_string(&corrupted_log)?
        .lines()
        .filter(|l| l.contains("/content/corrupt-me.csv"))
        .count();
    assert_eq!(attempts, 3, "the file was tried three times");
    let second_root = second.replica_root();
    let stored = tree(&second.data_dir)?;
    let (original, flipped): (&[u8], &[u8]) = (b"a,b\n1,2\n", b"`,b\n1,2\n");
    assert!(
        !stored
            .iter()
            .any(|(k, v)| k.contains("corrupt-me.csv") || v == original || v == flipped),
        "the damaged file is nowhere, not even half-way: {:?}",
        stored.keys().collect::<Vec<_>>()
    );
    let bad_object = object_id_of(&client, &base, bad_set).await?;
    assert!(!object_dir(&second_root, &bad_object)
        .join("inventory.json")
        .exists());
    // Everything else came through the proxy intact and valid.
    let a = object_files(&object_dir(&origin_root, &flux_object))?;
    let b = object_files(&object_dir(&second_root, &flux_object))?;
    assert_eq!(a, b);
    rocfl_validate(&second_root)?;
    let listed = second.cli(&["replicate", "list"])?;
    assert!(
        listed.contains("(failed)")
            && listed.contains("error: ")
            && listed.contains("corrupt-me.csv"),
        "{listed}"
    );
    // The failure is a PREMIS replication event on the replica.
    let db = holdfast::db::Db::connect(&second.database_url, 1)?;
    let failures: Vec<String> = db
        .run(|conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::premis_events;
            Ok(premis_events::table
                .filter(premis_events::event_type.eq("replication"))
                .filter(premis_events::outcome.eq("failure"))
                .select(premis_events::outcome_detail)
                .load::<String>(conn)?)
        })
        .await?;
    assert!(
        failures.iter().any(|f| f.contains("corrupt-me.csv")),
        "{failures:?}"
    );
    Ok(())
}
