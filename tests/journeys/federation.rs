//! Federation between real holdfast processes, each with its own data folder and
//! database: an origin publishes datasets, its admin registers a partner; a replica
//! (`replicate add` + `replicate run`) pulls a byte-identical, rocfl-valid copy, reports
//! signed receipts that the origin shows, follows a second version and a deaccession;
//! and a second replica pulling through a proxy that flips a byte of one file in
//! transit retries that file, reports it and never stores it.

use crate::support::api::publish_on;
use crate::support::checkers::{python, validate_ocfl_root_with_rocfl as rocfl_validate};
use crate::support::process::{Home, Process, Tokens};
use crate::support::wait::{self, check, Check};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The origin archive, serving, with two published datasets (flux, soil) and a draft.
struct Origin {
    work: tempfile::TempDir,
    home: Home,
    _server: Process,
    tokens: Tokens,
    base: String,
    flux: i64,
    soil: i64,
    draft: i64,
}

const FLUX_V1: &[(&str, &[u8])] = &[
    ("data/flux.csv", b"time,flux\n2019-01-01T00:00,1.5\n"),
    ("site notes #1.txt", b"Site notes.\n"),
];

impl Origin {
    async fn start(backend: Backend) -> Result<Origin, Error> {
        let work = tempfile::tempdir()?;
        let home = Home::new(work.path(), "origin", backend)?;
        let tokens = home.accounts()?;
        let server = home.serve().await?;
        let base = server.base();
        let (dep, cur) = (
            Api::new(&base, Some(&tokens.depositor)),
            Api::new(&base, Some(&tokens.curator)),
        );
        let flux = dep.create_draft("Tower fluxes").await?;
        publish_on(&dep, &cur, flux, FLUX_V1).await?;
        let soil = dep.create_draft("Soil moisture").await?;
        publish_on(&dep, &cur, soil, &[("soil.csv", b"depth,theta\n10,0.31\n")]).await?;
        let draft = dep.create_draft("Not yet").await?;
        Ok(Origin {
            work,
            home,
            _server: server,
            tokens,
            base,
            flux,
            soil,
            draft,
        })
    }

    fn api(&self, token: &str) -> Api {
        Api::new(&self.base, Some(token))
    }

    /// Registers a partner; its token.
    fn partner(&self) -> Result<String, Error> {
        self.home.cli(&[
            "partner",
            "add",
            "--name",
            "replica-b",
            "--url",
            "http://replica-b.test",
        ])
    }

    /// A replica archive of this origin, pulled once with the partner's token.
    fn replica(&self, backend: Backend, partner_token: &str) -> Result<Home, Error> {
        let replica = Home::new(self.work.path(), "replica", backend)?;
        replica.cli(&["migrate"])?;
        replica.cli(&[
            "replicate",
            "add",
            "--source",
            &self.base,
            "--token",
            partner_token,
        ])?;
        let out = replica.cli(&["replicate", "run"])?;
        assert!(out.contains("2 version(s) added"), "{out}");
        assert!(
            out.contains("2 receipt(s) sent") && out.contains("0 failure(s)"),
            "{out}"
        );
        Ok(replica)
    }

    async fn object_id(&self, id: i64) -> Result<String, Error> {
        let inventory = Api::new(&self.base, None)
            .get_ok(&format!("/federation/objects/{id}/inventory.json"))
            .await?;
        Ok(inventory["id"].as_str().ok_or("no id")?.to_string())
    }

    /// Every object file of the origin is in `replica_root`, byte for byte.
    async fn same_objects(&self, replica_root: &Path) -> TestResult {
        for id in [self.flux, self.soil] {
            let object = self.object_id(id).await?;
            let a = object_files(&object_dir(&self.home.data_dir.join("ocfl"), &object))?;
            let b = object_files(&object_dir(replica_root, &object))?;
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
    }

    /// Opens a new version of `id` and publishes it with `files`.
    async fn new_version(&self, id: i64, files: &[(&str, &[u8])]) -> TestResult {
        let dep = self.api(&self.tokens.depositor);
        dep.post(&format!("/api/datasets/{id}/versions"), &json!({}))
            .await?
            .expect(StatusCode::CREATED)?;
        publish_on(&dep, &self.api(&self.tokens.curator), id, files).await?;
        Ok(())
    }
}

/// The replica root of source 1 (the first source a node adds).
fn replica_root(replica: &Home) -> PathBuf {
    replica.data_dir.join("replicas").join("1")
}

/// Runs a journey on each backend.
async fn on_each<F, Fut>(journey: F) -> TestResult
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = TestResult>,
{
    for_each_backend(journey).await
}

const BAD_TOKEN: &str = "hfp_not-a-token-of-this-archive";

/// Object files: only those of published versions are served; ranges work.
async fn object_files_of_published_versions_only(origin: &Origin) -> TestResult {
    let (base, flux, client) = (&origin.base, origin.flux, fresh_client());
    let draft = origin.draft;
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
    Ok(())
}

#[actix_web::test]
async fn partners_and_the_public_reach_the_federation_endpoints_and_strangers_do_not() -> TestResult
{
    on_each(|backend| async move {
        let origin = Origin::start(backend).await?;
        let (base, flux, client) = (&origin.base, origin.flux, fresh_client());
        let partner_token = origin.partner()?;
        assert!(partner_token.starts_with("hfp_"), "{partner_token}");
        for url in [
            format!("{base}/.well-known/resourcesync"),
            format!("{base}/resourcesync/changelist.xml"),
            format!("{base}/resourcesync/resourcelist.xml"),
            format!("{base}/oai?verb=Identify"),
            format!("{base}/federation/objects/{flux}/inventory.json"),
            format!("{base}/datasets/{flux}/files/site%20notes%20%231.txt"),
        ] {
            assert_eq!(
                client.get(&url).send().await?.status(),
                StatusCode::OK,
                "public {url}"
            );
            let partner = client.get(&url).bearer_auth(&partner_token).send().await?;
            assert_eq!(partner.status(), StatusCode::OK, "partner {url}");
            let refused = client.get(&url).bearer_auth(BAD_TOKEN).send().await?;
            assert_eq!(
                refused.status(),
                StatusCode::UNAUTHORIZED,
                "bad token {url}"
            );
            assert!(refused.headers().contains_key("www-authenticate"));
        }
        // The deposit model has no published-but-restricted datasets: both audiences see
        // the same published records, and drafts are listed to neither.
        let list = format!("{base}/resourcesync/resourcelist.xml");
        let public_list = client.get(&list).send().await?.text().await?;
        let partner_list = client
            .get(&list)
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
        object_files_of_published_versions_only(&origin).await?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_replica_pulls_a_verified_byte_identical_copy() -> TestResult {
    on_each(|backend| async move {
        let origin = Origin::start(backend).await?;
        let partner_token = origin.partner()?;
        // A refused token and a source that is no archive are refused clearly.
        let replica = Home::new(origin.work.path(), "refusing", backend)?;
        replica.cli(&["migrate"])?;
        let refused = replica.cli_failing(&[
            "replicate",
            "add",
            "--source",
            &origin.base,
            "--token",
            BAD_TOKEN,
        ])?;
        assert!(refused.contains("refused the token"), "{refused}");
        let unknown =
            replica.cli_failing(&["replicate", "add", "--source", "http://127.0.0.1:9"])?;
        assert!(unknown.contains("ResourceSync"), "{unknown}");

        // Two commands and one `replicate add`, then a pull now.
        let replica = origin.replica(backend, &partner_token)?;
        origin.same_objects(&replica_root(&replica)).await?;
        rocfl_validate(&replica_root(&replica))?;
        // A second pull finds nothing new.
        let again = replica.cli(&["replicate", "run"])?;
        assert!(again.contains("0 version(s) added, 0 file(s)"), "{again}");
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn the_origin_shows_signed_receipts_and_refuses_forged_ones() -> TestResult {
    on_each(|backend| async move {
        let origin = Origin::start(backend).await?;
        let partner_token = origin.partner()?;
        origin.replica(backend, &partner_token)?;
        let (base, flux, client) = (&origin.base, origin.flux, fresh_client());
        let flux_object = origin.object_id(flux).await?;
        let origin_root = origin.home.data_dir.join("ocfl");
        let v1_digest = sha256_hex(&std::fs::read(
            object_dir(&origin_root, &flux_object).join("v1/inventory.json"),
        )?);
        let public = Api::new(base, None);
        let copies = public
            .get_ok(&format!("/api/datasets/{flux}/copies"))
            .await?;
        let list = copies["copies"].as_array().ok_or("no copies")?;
        assert_eq!(list.len(), 1, "{copies}");
        assert_eq!(list[0]["partner"], "replica-b");
        assert_eq!(list[0]["ocfl_version"], 1);
        assert_eq!(list[0]["version"], 1);
        assert_eq!(list[0]["inventory_digest"], v1_digest.as_str());
        assert!(list[0]["received_at"].is_string() && list[0]["last_verified_at"].is_string());
        assert_eq!(public.dataset(flux).await?["copies"], copies["copies"]);
        let page = public.get(&format!("/datasets/{flux}")).await?.text;
        assert!(
            page.contains("Copies at partner archives") && page.contains("replica-b"),
            "the landing page lists the copy"
        );
        assert!(page.contains(&v1_digest));

        // A receipt must be signed with the partner's token and match the origin's digest.
        let receipts = format!("{base}/api/federation/receipts");
        let forged = json!({
            "object_id": flux_object, "version": 1, "inventory_digest": v1_digest,
            "held_at": "2026-12-03T10:00:00Z", "signature": "00".repeat(32),
        });
        let r = client
            .post(&receipts)
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
            .post(&receipts)
            .bearer_auth(&partner_token)
            .json(&wrong)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{}", r.text().await?);
        let r = client
            .post(&receipts)
            .bearer_auth(BAD_TOKEN)
            .json(&wrong)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn new_versions_and_deaccessions_follow_to_the_replica() -> TestResult {
    on_each(|backend| async move {
        let origin = Origin::start(backend).await?;
        let replica = origin.replica(backend, &origin.partner()?)?;
        let (root, flux, soil) = (replica_root(&replica), origin.flux, origin.soil);
        // A second version propagates: only its new file is fetched.
        origin
            .new_version(flux, &[("chambers.csv", b"chamber,flux\n1,0.2\n")])
            .await?;
        let out = replica.cli(&["replicate", "run"])?;
        assert!(
            out.contains("1 version(s) added, 1 file(s), 19 bytes"),
            "{out}"
        );
        origin.same_objects(&root).await?;
        rocfl_validate(&root)?;
        let copies = Api::new(&origin.base, None)
            .get_ok(&format!("/api/datasets/{flux}/copies"))
            .await?;
        let versions: Vec<i64> = copies["copies"]
            .as_array()
            .ok_or("no copies")?
            .iter()
            .filter_map(|c| c["ocfl_version"].as_i64())
            .collect();
        assert_eq!(versions, vec![2, 1], "{copies}");

        // A deaccession propagates: the replica withdraws its copy and keeps the bytes dark.
        let soil_object = origin.object_id(soil).await?;
        let admin = origin.api(&origin.tokens.admin);
        admin
            .post(
                &format!("/api/datasets/{soil}/deaccession"),
                &json!({"reason": "Consent was withdrawn."}),
            )
            .await?
            .expect(StatusCode::OK)?;
        let gone = Api::new(&origin.base, None)
            .get(&format!("/federation/objects/{soil}/inventory.json"))
            .await?;
        assert_eq!(gone.status, StatusCode::GONE);
        let out = replica.cli(&["replicate", "run"])?;
        assert!(out.contains("1 withdrawn"), "{out}");
        let listed = replica.cli(&["replicate", "list"])?;
        assert!(
            listed.contains("2 version(s) held, 1 withdrawn") && listed.contains("(ok)"),
            "{listed}"
        );
        assert!(object_dir(&root, &soil_object)
            .join("inventory.json")
            .is_file());
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn the_replicas_own_worker_keeps_it_current_and_cleans_up_an_interrupted_pull() -> TestResult
{
    on_each(|backend| async move {
        let origin = Origin::start(backend).await?;
        let replica = origin.replica(backend, &origin.partner()?)?;
        let root = replica_root(&replica);
        origin
            .new_version(
                origin.flux,
                &[("chambers.csv", b"chamber,flux\n1,0.2\n2,0.4\n")],
            )
            .await?;
        {
            let _worker = replica
                .clone()
                .with("HOLDFAST_REPLICATION_INTERVAL_SECS", "1")
                .spawn(&["worker"])?;
            wait::eventually("the replica's worker to pull the new version", || async {
                let listed = replica.cli(&["replicate", "list"])?;
                Ok(check(listed.contains("3 version(s) held"), listed))
            })
            .await?;
        }
        origin.same_objects(&root).await?;
        rocfl_validate(&root)?;

        // What an interrupted pull leaves (a root inventory without its sidecar, content
        // of a version never committed) is cleaned up by the next pull.
        let flux_dir = object_dir(&root, &origin.object_id(origin.flux).await?);
        std::fs::remove_file(flux_dir.join("inventory.json.sha256"))?;
        std::fs::create_dir_all(flux_dir.join("v3/content"))?;
        std::fs::write(flux_dir.join("v3/content/half.bin"), b"half")?;
        let out = replica.cli(&["replicate", "run"])?;
        assert!(out.contains("0 failure(s)"), "{out}");
        origin.same_objects(&root).await?;
        rocfl_validate(&root)?;
        Ok(())
    })
    .await
}

/// The details of the failed PREMIS replication events of an archive.
async fn replication_failures(home: &Home) -> Result<Vec<String>, Error> {
    let db = holdfast::db::Db::connect(&home.database_url, 1)?;
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
    Ok(failures)
}

#[actix_web::test]
async fn a_byte_flipped_in_transit_is_retried_reported_and_never_stored() -> TestResult {
    on_each(|backend| async move {
        let origin = Origin::start(backend).await?;
        let (dep, cur) = (
            origin.api(&origin.tokens.depositor),
            origin.api(&origin.tokens.curator),
        );
        let bad_set = dep.create_draft("Chamber data").await?;
        publish_on(
            &dep,
            &cur,
            bad_set,
            &[
                ("corrupt-me.csv", b"a,b\n1,2\n"),
                ("fine.csv", b"c,d\n3,4\n"),
            ],
        )
        .await?;
        let (_proxy, proxy_url, corrupted_log) =
            start_proxy(origin.work.path(), &origin.base, "corrupt-me.csv").await?;
        let second = Home::new(origin.work.path(), "replica2", backend)?;
        second.cli(&["migrate"])?;
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
        let stored = tree(&second.data_dir)?;
        let (original, flipped): (&[u8], &[u8]) = (b"a,b\n1,2\n", b"`,b\n1,2\n");
        assert!(
            !stored
                .iter()
                .any(|(k, v)| k.contains("corrupt-me.csv") || v == original || v == flipped),
            "the damaged file is nowhere, not even half-way: {:?}",
            stored.keys().collect::<Vec<_>>()
        );
        let root = replica_root(&second);
        assert!(!object_dir(&root, &origin.object_id(bad_set).await?)
            .join("inventory.json")
            .exists());
        // Everything else came through the proxy intact and valid.
        origin.same_objects(&root).await?;
        rocfl_validate(&root)?;
        let listed = second.cli(&["replicate", "list"])?;
        assert!(
            listed.contains("(failed)")
                && listed.contains("error: ")
                && listed.contains("corrupt-me.csv"),
            "{listed}"
        );
        // The failure is a PREMIS replication event on the replica.
        let failures = replication_failures(&second).await?;
        assert!(
            failures.iter().any(|f| f.contains("corrupt-me.csv")),
            "{failures:?}"
        );
        Ok(())
    })
    .await
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

/// Starts the corrupting proxy; it prints its port first.
async fn start_proxy(
    work: &Path,
    target: &str,
    marker: &str,
) -> Result<(Process, String, PathBuf), Error> {
    let script = work.join("corrupting_proxy.py");
    std::fs::write(&script, CORRUPTING_PROXY)?;
    let log = work.join("corrupted.log");
    let mut cmd = Command::new(python()?);
    cmd.arg(&script).arg(target).arg(marker).arg(&log);
    let proxy = Process::spawn(cmd, &work.join("proxy.log"), None)?;
    let port: u16 = wait::eventually("the proxy to print its port", || async {
        let text = proxy.log_text();
        Ok(
            match text.lines().next().and_then(|l| l.trim().parse().ok()) {
                Some(port) if text.contains('\n') => Check::Done(port),
                _ => Check::NotYet(text),
            },
        )
    })
    .await?;
    Ok((proxy, format!("http://127.0.0.1:{port}"), log))
}
