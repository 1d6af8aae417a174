//! Replica audits between two real holdfast processes, each with its own data folder and
//! database: the origin publishes, the replica pulls; the origin challenges the copy
//! (nonces, sha256 of the replica's stored bytes) and it passes; a file damaged at the
//! origin is found by the fixity audit and repaired from the replica, verified; then the
//! replica loses a file and alters another, its challenge fails, the dataset falls below
//! the replication policy, pages warn and an alert ticket opens. PREMIS events on both.

use crate::helpers::*;
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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

/// One archive: its folder, database and address.
struct Node {
    data_dir: PathBuf,
    database_url: String,
    port: u16,
    env: Vec<(&'static str, String)>,
}

impl Node {
    fn new(root: &Path, name: &str, backend: Backend) -> Result<Node, Error> {
        let data_dir = root.join(name);
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", data_dir.join("holdfast.db").display()),
            Backend::Postgres => fresh_postgres_schema()?,
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(Node {
            data_dir,
            database_url,
            port,
            env: Vec::new(),
        })
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_holdfast"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOLDFAST_DATA_DIR", &self.data_dir)
            .env("HOLDFAST_DATABASE_URL", &self.database_url)
            .env("HOLDFAST_BIND", format!("127.0.0.1:{}", self.port))
            .env("HOLDFAST_BASE_URL", self.base())
            .env("HOLDFAST_JOB_BACKOFF_MS", "200")
            .env("HOLDFAST_LOG", "warn")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Result<Output, Error> {
        Ok(self.command().args(args).output()?)
    }

    /// A command that must succeed; its standard output.
    fn cli(&self, args: &[&str]) -> Result<String, Error> {
        let out = self.run(args)?;
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

    async fn serve(&self) -> Result<Process, Error> {
        let child = self.command().arg("serve").stdout(Stdio::null()).spawn()?;
        let node = Process(child);
        let client = crate::helpers::fresh_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", self.base())).send().await {
                if r.status() == StatusCode::OK {
                    return Ok(node);
                }
            }
            if Instant::now() > deadline {
                return Err("a node did not start within a minute".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Every file under `dir` whose path ends with `suffix`.
fn files_ending(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            files_ending(&path, suffix, out)?;
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
    Ok(())
}

/// Where a node keeps bytes: a folder on disk, or a key prefix on S3.
enum Storage {
    Disk(PathBuf),
    S3(holdfast::storage::S3Store),
}

impl Storage {
    /// The one key ending with `suffix`.
    async fn find(&self, suffix: &str) -> Result<String, Error> {
        use holdfast::storage::BlobStore;
        let keys: Vec<String> = match self {
            Storage::Disk(root) => {
                let mut found = Vec::new();
                files_ending(root, suffix, &mut found)?;
                found
                    .iter()
                    .map(|p| Ok(p.strip_prefix(root)?.to_string_lossy().to_string()))
                    .collect::<Result<_, Error>>()?
            }
            Storage::S3(store) => store
                .list("")
                .await?
                .into_iter()
                .filter(|k| k.ends_with(suffix))
                .collect(),
        };
        match keys.as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("expected one key ending {suffix}, found {other:?}").into()),
        }
    }

    async fn write(&self, key: &str, bytes: &[u8]) -> TestResult {
        use holdfast::storage::BlobStore;
        match self {
            Storage::Disk(root) => std::fs::write(root.join(key), bytes)?,
            Storage::S3(store) => {
                store
                    .put_bytes(key, bytes::Bytes::copy_from_slice(bytes))
                    .await?
            }
        }
        Ok(())
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, Error> {
        use holdfast::storage::BlobStore;
        Ok(match self {
            Storage::Disk(root) => std::fs::read(root.join(key))?,
            Storage::S3(store) => store.get_bytes(key).await?.ok_or("missing")?.to_vec(),
        })
    }

    async fn delete(&self, key: &str) -> TestResult {
        use holdfast::storage::BlobStore;
        match self {
            Storage::Disk(root) => std::fs::remove_file(root.join(key))?,
            Storage::S3(store) => store.delete(key).await?,
        }
        Ok(())
    }
}

async fn json(r: reqwest::Response) -> Result<serde_json::Value, Error> {
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        return Err(format!("{status}: {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}

/// Deposits, checks, submits and accepts a dataset through the origin's API; waits for
/// the publication. Returns the dataset id.
async fn publish(
    base: &str,
    depositor: &str,
    curator: &str,
    files: &[(&str, &[u8])],
) -> Result<i64, Error> {
    let client = crate::helpers::fresh_client();
    let created = json(
        client
            .post(format!("{base}/api/datasets"))
            .bearer_auth(depositor)
            .json(&minimal_json("Fluxes kept in two places"))
            .send()
            .await?,
    )
    .await?;
    let id = created["id"].as_i64().ok_or("no id")?;
    for (path, bytes) in files {
        let r = client
            .put(format!("{base}/api/datasets/{id}/files/{path}"))
            .bearer_auth(depositor)
            .body(bytes.to_vec())
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED, "upload {path}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = json(
            client
                .get(format!("{base}/api/datasets/{id}/validation"))
                .bearer_auth(depositor)
                .send()
                .await?,
        )
        .await?;
        if report["state"] == "done" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the check did not finish: {report}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    json(
        client
            .post(format!("{base}/api/datasets/{id}/submit"))
            .bearer_auth(depositor)
            .send()
            .await?,
    )
    .await?;
    json(
        client
            .post(format!("{base}/api/datasets/{id}/review"))
            .bearer_auth(curator)
            .json(&serde_json::json!({"decision": "accept"}))
            .send()
            .await?,
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = json(
            client
                .get(format!("{base}/api/datasets/{id}"))
                .bearer_auth(curator)
                .send()
                .await?,
        )
        .await?;
        if body["state"] == "published" {
            return Ok(id);
        }
        if Instant::now() > deadline {
            return Err(format!("not published within a minute: {body}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn replicas(base: &str, curator: &str, id: i64) -> Result<serde_json::Value, Error> {
    json(
        crate::helpers::fresh_client()
            .get(format!("{base}/api/datasets/{id}/replicas"))
            .bearer_auth(curator)
            .send()
            .await?,
    )
    .await
}

/// (event type, outcome, detail, outcome detail, agent) of the PREMIS events in a
/// node's database, dataset or not.
async fn premis_events(
    node: &Node,
) -> Result<Vec<(String, String, String, String, String)>, Error> {
    let url = node.database_url.clone();
    let db = tokio::task::spawn_blocking(move || holdfast::db::Db::connect(&url, 2)).await??;
    Ok(db
        .run(|conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::premis_events as e;
            Ok(e::table
                .order(e::id.asc())
                .select((
                    e::event_type,
                    e::outcome,
                    e::detail,
                    e::outcome_detail,
                    e::agent_name,
                ))
                .load::<(String, String, String, String, String)>(conn)?)
        })
        .await?)
}

#[actix_web::test]
async fn the_origin_challenges_its_replica_and_repairs_from_it() -> TestResult {
    for backend in backends() {
        run(backend, None)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

/// The same with both archives on S3 (SeaweedFS): challenges and repairs stream through
/// the store.
#[actix_web::test]
async fn challenges_and_repairs_work_with_both_archives_on_s3() -> TestResult {
    let weed = crate::s3::Weed::start().await?;
    run(Backend::Sqlite, Some(&weed))
        .await
        .map_err(|e| format!("on S3: {e}").into())
}

fn s3_env(weed: &crate::s3::Weed, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "HOLDFAST_STORAGE_URL",
            format!("s3://{}/{prefix}", crate::s3::BUCKET),
        ),
        ("HOLDFAST_S3_ENDPOINT", weed.endpoint.clone()),
        ("HOLDFAST_S3_ACCESS_KEY", crate::s3::ACCESS_KEY.into()),
        ("HOLDFAST_S3_SECRET_KEY", crate::s3::SECRET_KEY.into()),
    ]
}

async fn run(backend: Backend, s3: Option<&crate::s3::Weed>) -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut origin = Node::new(dir.path(), "origin", backend)?;
    let mut replica = Node::new(dir.path(), "replica", backend)?;
    // Each run on S3 takes prefixes of its own.
    let tag = origin.port;
    let (origin_store, replica_store) = match s3 {
        None => (
            Storage::Disk(origin.data_dir.join("ocfl")),
            Storage::Disk(replica.data_dir.join("replicas")),
        ),
        Some(weed) => (
            Storage::S3(holdfast::storage::S3Store::new(crate::s3::settings(
                &weed.endpoint,
                &format!("origin{tag}"),
            )?)?),
            // A replica's root per source sits beside its own root: PREFIX-replicas/ID.
            Storage::S3(holdfast::storage::S3Store::new(crate::s3::settings(
                &weed.endpoint,
                &format!("replica{tag}-replicas"),
            )?)?),
        ),
    };
    origin.env = vec![
        ("HOLDFAST_REPLICATION_MIN_COPIES", "1".into()),
        // Below the policy opens the alert at once.
        ("HOLDFAST_REPLICATION_ALERT_HOURS", "0".into()),
        // Every file of the copy is challenged, so a lost one is always in the sample.
        ("HOLDFAST_CHALLENGE_SAMPLE", "64".into()),
        ("HOLDFAST_FIXITY_AUTO_REPAIR", "false".into()),
        // The scheduled round runs every second too, beside the command line's.
        ("HOLDFAST_CHALLENGE_INTERVAL_SECS", "1".into()),
    ];
    // The replica's server only answers; pulls run from its command line here.
    replica.env = vec![("HOLDFAST_WORKERS", "0".into())];
    if let Some(weed) = s3 {
        origin.env.extend(s3_env(weed, &format!("origin{tag}")));
        replica.env.extend(s3_env(weed, &format!("replica{tag}")));
    }
    origin.cli(&["migrate"])?;
    replica.cli(&["migrate"])?;
    for (email, role) in [
        ("pi@example.org", "depositor"),
        ("cura@example.org", "curator"),
    ] {
        origin.cli(&[
            "user", "add", "--email", email, "--name", "Someone", "--role", role,
        ])?;
    }
    let depositor = origin.cli(&["token", "create", "--email", "pi@example.org"])?;
    let curator = origin.cli(&["token", "create", "--email", "cura@example.org"])?;
    let partner_token = origin.cli(&[
        "partner",
        "add",
        "--name",
        "replica-b",
        "--url",
        &replica.base(),
    ])?;
    let _origin = origin.serve().await?;
    let _replica = replica.serve().await?;

    let flux = b"time,flux\n2019-01-01T00:00,1.5\n2019-01-01T00:30,1.7\n".to_vec();
    let notes = b"Sensor moved on 2019-01-01.\n".to_vec();
    let meta = b"site,lat,lon\nUS-Ha1,42.5,-72.2\n".to_vec();
    let id = publish(
        &origin.base(),
        &depositor,
        &curator,
        &[
            ("data/flux.csv", &flux),
            ("notes.txt", &notes),
            ("data/site.csv", &meta),
        ],
    )
    .await?;
    // Without a copy the dataset is below the policy.
    origin.cli(&["replicate", "challenge"])?;
    let r = replicas(&origin.base(), &curator, id).await?;
    assert_eq!(r["below_policy"], true, "{r}");
    assert_eq!(r["good_copies"], 0);

    replica.cli(&[
        "replicate",
        "add",
        "--source",
        &origin.base(),
        "--token",
        &partner_token,
    ])?;
    replica.cli(&["replicate", "run"])?;
    let r = replicas(&origin.base(), &curator, id).await?;
    assert_eq!(r["copies"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["copies"][0]["partner"], "replica-b");
    // The receipt alone lifts the dataset above the policy (min 1) and closes the alert.
    assert_eq!(r["below_policy"], false, "{r}");
    assert_eq!(r["alerted_at"], serde_json::Value::Null);

    // A challenge of the pulled copy passes, and lifts the dataset above the policy.
    let out = origin.cli(&["replicate", "challenge", "--partner", "replica-b"])?;
    assert!(out.contains("passed"), "{out}");
    let unknown = origin.run(&["replicate", "challenge", "--partner", "nobody"])?;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no active partner"));
    let r = replicas(&origin.base(), &curator, id).await?;
    assert_eq!(r["copies"][0]["last_outcome"], "passed", "{r}");
    assert!(r["copies"][0]["last_verified_at"].is_string());
    assert_eq!(r["below_policy"], false);
    assert_eq!(r["good_copies"], 1);
    let challenges = r["challenges"].as_array().ok_or("challenges")?;
    assert_eq!(challenges[0]["files"], 3, "every content file sampled");
    assert_eq!(challenges[0]["outcome"], "passed");
    // The scheduled round challenges the copy by itself as well.
    let latest = challenges[0]["challenged_at"].clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = replicas(&origin.base(), &curator, id).await?;
        if r["challenges"][0]["challenged_at"] != latest {
            assert_eq!(r["challenges"][0]["outcome"], "passed", "{r}");
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("no scheduled challenge within a minute: {r}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A signed request is required; an unsigned or wrongly signed one changes nothing.
    let body = serde_json::json!({
        "object_id": "doi:10.5072/none", "version": 1,
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "files": [{"content_path": "v1/content/data/flux.csv", "nonce": "ab".repeat(32)}]
    });
    let client = crate::helpers::fresh_client();
    let r = client
        .post(format!("{}/api/federation/challenges", replica.base()))
        .json(&body)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client
        .post(format!("{}/api/federation/challenges", replica.base()))
        .header(
            "x-holdfast-signature",
            format!("hmac-sha256={}", "00".repeat(32)),
        )
        .json(&body)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Signed, but not a challenge of the right shape: a clear 4xx.
    let key = holdfast::federation::signing::key_of_token(&partner_token);
    let bad = br#"{"object_id":"doi:10.5072/none","version":1,"files":[]}"#;
    let r = client
        .post(format!("{}/api/federation/challenges", replica.base()))
        .header(
            "x-holdfast-signature",
            holdfast::federation::signing::sign(&key, bad),
        )
        .body(bad.to_vec())
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", r.text().await?);

    // The origin's copy of flux.csv is damaged: the audit finds it, the repair restores
    // it from the replica (the only other copy of these bytes), verified.
    let origin_flux = origin_store.find("v1/content/data/flux.csv").await?;
    origin_store
        .write(&origin_flux, b"time,flux\n2019-01-01T00:00,9.9\n")
        .await?;
    let audit = origin.run(&["fixity", "run", "--all"])?;
    assert!(!audit.status.success(), "the audit reports the damage");
    assert!(String::from_utf8_lossy(&audit.stdout).contains("data/flux.csv"));
    let repaired = origin.cli(&["fixity", "repair"])?;
    assert!(
        repaired.contains("repaired") && repaired.contains("replica held by partner replica-b"),
        "{repaired}"
    );
    assert_eq!(
        origin_store.read(&origin_flux).await?,
        flux,
        "the origin's bytes are back"
    );
    let r = client
        .get(format!(
            "{}/datasets/{id}/files/data/flux.csv",
            origin.base()
        ))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await?.as_ref(), &flux[..]);
    origin.cli(&["fixity", "run", "--all"])?;
    let events = premis_events(&origin).await?;
    assert!(
        events.iter().any(|(t, o, _, d, _)| t == "recovery"
            && o == "success"
            && d.contains("replica held by partner replica-b")),
        "a recovery event names the replica: {events:?}"
    );
    assert!(
        events.iter().any(|(t, o, d, _, a)| t == "fixity check"
            && o == "success"
            && d.contains("held by partner replica-b")
            && a == "replica-b"),
        "the passed challenge is an event with the partner as agent: {events:?}"
    );
    if s3.is_none() {
        validate_ocfl_root(&origin.data_dir.join("ocfl"))?;
    }

    // The replica loses one file and another changes: the challenge fails.
    let lost = replica_store.find("v1/content/notes.txt").await?;
    replica_store.delete(&lost).await?;
    let altered = replica_store.find("v1/content/data/site.csv").await?;
    replica_store
        .write(&altered, b"site,lat,lon\nUS-Ha1,42.5,-72.3\n")
        .await?;
    let failed = origin.run(&["replicate", "challenge"])?;
    let text = String::from_utf8_lossy(&failed.stdout).to_string();
    assert!(
        !failed.status.success(),
        "a failed copy fails the command: {text}"
    );
    assert!(text.contains("failed"), "{text}");
    assert!(text.contains("notes.txt: missing"), "{text}");
    assert!(text.contains("data/site.csv: sha256(nonce"), "{text}");
    let r = replicas(&origin.base(), &curator, id).await?;
    assert_eq!(r["copies"][0]["last_outcome"], "failed", "{r}");
    assert_eq!(r["copies"][0]["counts"], false);
    assert_eq!(r["below_policy"], true);
    assert!(r["alerted_at"].is_string(), "the alert was raised: {r}");
    let tickets = json(
        client
            .get(format!("{}/api/datasets/{id}/tickets", origin.base()))
            .bearer_auth(&curator)
            .send()
            .await?,
    )
    .await?;
    let text = tickets.to_string();
    assert!(
        text.contains("replication-below-policy") || text.contains("Replication alert"),
        "an alert ticket is open: {text}"
    );
    // A copy that failed is no source for repairs.
    origin_store.write(&origin_flux, b"damaged again").await?;
    let _ = origin.run(&["fixity", "run", "--all"])?;
    let not = origin.run(&["fixity", "repair"])?;
    assert!(!not.status.success(), "no good copy is left");
    origin_store.write(&origin_flux, &flux).await?;
    origin.cli(&["fixity", "run", "--all"])?;

    // Pages: the admin preservation page lists the dataset, its page warns a curator.
    let password = origin.cli(&[
        "user",
        "add",
        "--email",
        "admin@example.org",
        "--name",
        "Admin",
        "--role",
        "admin",
    ])?;
    let browser = Browser {
        client: crate::helpers::http_client()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        base: origin.base(),
    };
    browser.sign_in("admin@example.org", &password).await?;
    let (status, html) = browser.get_text("/admin/preservation").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 dataset(s) below policy"), "{html}");
    assert!(html.contains(&format!("/datasets/{id}\"")), "{html}");
    let (_, html) = browser.get_text(&format!("/datasets/{id}")).await?;
    assert!(html.contains("id=\"replication-warning\""), "{html}");
    assert!(html.contains("replica-b"));
    // Visitors see neither.
    let html = client
        .get(format!("{}/datasets/{id}", origin.base()))
        .send()
        .await?
        .text()
        .await?;
    assert!(!html.contains("replication-warning"));

    // The replica recorded every challenge it answered.
    let events = premis_events(&replica).await?;
    let answered: Vec<_> = events
        .iter()
        .filter(|(t, _, d, _, _)| t == "fixity check" && d.starts_with("Challenge from"))
        .collect();
    assert!(
        answered.iter().any(|(_, o, _, _, _)| o == "success"),
        "{events:?}"
    );
    assert!(
        answered
            .iter()
            .any(|(_, o, _, d, _)| o == "failure" && d.contains("notes.txt missing")),
        "{events:?}"
    );
    Ok(())
}
