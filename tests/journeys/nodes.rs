//! Several holdfast processes on one database behave as one archive: two web-only nodes
//! (`serve --no-worker`) and one `holdfast worker` take a dataset from deposit to
//! publication, the requests alternating between the nodes. First on one data folder
//! and local disk; then as separate machines would run: each process with a data folder
//! of its own, one S3 store (SeaweedFS), one database and one shared folder
//! (HOLDFAST_SHARED_DIR) for staged uploads, with a browser session and a resumable
//! upload that move from one node to the other.

use crate::helpers::*;
use reqwest::StatusCode;
use std::path::Path;
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

fn holdfast(data_dir: &Path, database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_holdfast"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOLDFAST_DATA_DIR", data_dir)
        .env("HOLDFAST_DATABASE_URL", database_url)
        .env("HOLDFAST_JOB_BACKOFF_MS", "200")
        .env("HOLDFAST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_node(data_dir: &Path, database_url: &str) -> Result<(Process, String), Error> {
    start_node_with(data_dir, database_url, &[]).await
}

async fn start_node_with(
    data_dir: &Path,
    database_url: &str,
    env: &[(&str, String)],
) -> Result<(Process, String), Error> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let child = holdfast(data_dir, database_url)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("HOLDFAST_BIND", format!("127.0.0.1:{port}"))
        // Every node names the same public URL, as behind a load balancer.
        .env("HOLDFAST_BASE_URL", "http://archive.test")
        .args(["serve", "--no-worker"])
        .stdout(Stdio::null())
        .spawn()?;
    let node = Process(child);
    let client = crate::helpers::fresh_client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status() == StatusCode::OK {
                return Ok((node, base));
            }
        }
        if Instant::now() > deadline {
            return Err("a node did not start within a minute".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn cli(data_dir: &Path, database_url: &str, args: &[&str]) -> Result<String, Error> {
    cli_with(data_dir, database_url, &[], args)
}

fn cli_with(
    data_dir: &Path,
    database_url: &str,
    env: &[(&str, String)],
    args: &[&str],
) -> Result<String, Error> {
    let out = holdfast(data_dir, database_url)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "holdfast {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

#[actix_web::test]
async fn two_web_nodes_and_a_worker_process_publish_a_dataset_together() -> TestResult {
    for backend in backends() {
        run(backend)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

async fn run(backend: Backend) -> TestResult {
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("data");
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", data_dir.join("holdfast.db").display()),
        Backend::Postgres => fresh_postgres_schema()?,
    };
    cli(&data_dir, &database_url, &["migrate"])?;
    for (email, role) in [
        ("pi@example.org", "depositor"),
        ("cura@example.org", "curator"),
    ] {
        cli(
            &data_dir,
            &database_url,
            &[
                "user", "add", "--email", email, "--name", "Someone", "--role", role,
            ],
        )?;
    }
    let depositor = cli(
        &data_dir,
        &database_url,
        &["token", "create", "--email", "pi@example.org"],
    )?;
    let curator = cli(
        &data_dir,
        &database_url,
        &["token", "create", "--email", "cura@example.org"],
    )?;
    let (_a, a) = start_node(&data_dir, &database_url).await?;
    let (_b, b) = start_node(&data_dir, &database_url).await?;
    let _worker = Process(
        holdfast(&data_dir, &database_url)
            .arg("worker")
            .stdout(Stdio::null())
            .spawn()?,
    );
    let client = crate::helpers::fresh_client();

    let r = client
        .post(format!("{a}/api/datasets"))
        .bearer_auth(&depositor)
        .json(&minimal_json("Made on two nodes"))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<serde_json::Value>().await?["id"]
        .as_i64()
        .ok_or("no id")?;
    let bytes = b"time,flux\n2019-01-01T00:00,1.5\n".to_vec();
    let r = client
        .put(format!("{b}/api/datasets/{id}/files/data/flux.csv"))
        .bearer_auth(&depositor)
        .body(bytes.clone())
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    // The worker process runs the check; either node reports it.
    let deadline = Instant::now() + Duration::from_secs(60);
    for round in 0.. {
        let node = if round % 2 == 0 { &a } else { &b };
        let report: serde_json::Value = client
            .get(format!("{node}/api/datasets/{id}/validation"))
            .bearer_auth(&depositor)
            .send()
            .await?
            .json()
            .await?;
        if report["state"] == "done" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the worker did not check the draft: {report}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = client
        .post(format!("{a}/api/datasets/{id}/submit"))
        .bearer_auth(&depositor)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await?);
    let r = client
        .post(format!("{b}/api/datasets/{id}/review"))
        .bearer_auth(&curator)
        .json(&serde_json::json!({"decision": "accept"}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body: serde_json::Value = client
            .get(format!("{a}/api/datasets/{id}"))
            .bearer_auth(&curator)
            .send()
            .await?
            .json()
            .await?;
        if body["state"] == "published" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the worker did not publish: {body}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for node in [&a, &b] {
        let r = client
            .get(format!("{node}/datasets/{id}/files/data/flux.csv"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await?.as_ref(), &bytes[..]);
    }
    validate_ocfl_root(&data_dir.join("ocfl"))?;
    Ok(())
}

#[actix_web::test]
async fn nodes_with_their_own_folders_share_one_database_s3_store_and_staging() -> TestResult {
    let weed = crate::s3::Weed::start().await?;
    for backend in backends() {
        let prefix = format!("nodes-{backend:?}").to_ascii_lowercase();
        on_s3(&weed, backend, &prefix)
            .await
            .map_err(|e| format!("on {backend:?} and S3: {e}"))?;
    }
    Ok(())
}

/// Waits until the draft's data standards check is done; returns the report.
async fn checked(
    client: &reqwest::Client,
    nodes: [&str; 2],
    token: &str,
    id: i64,
) -> Result<serde_json::Value, Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for round in 0.. {
        let report: serde_json::Value = client
            .get(format!("{}/api/datasets/{id}/validation", nodes[round % 2]))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if report["state"] == "done" {
            return Ok(report);
        }
        if Instant::now() > deadline {
            return Err(format!("the worker did not check the draft: {report}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!("the loop returns")
}

async fn on_s3(weed: &crate::s3::Weed, backend: Backend, prefix: &str) -> TestResult {
    use crate::s3::{ACCESS_KEY, BUCKET, PART, SECRET_KEY};
    let dir = tempfile::tempdir()?;
    let shared = dir.path().join("shared");
    let database_url = match backend {
        Backend::Sqlite => format!(
            "sqlite://{}",
            dir.path().join("db").join("holdfast.db").display()
        ),
        Backend::Postgres => fresh_postgres_schema()?,
    };
    if backend == Backend::Sqlite {
        std::fs::create_dir_all(dir.path().join("db"))?;
    }
    let env: Vec<(&str, String)> = vec![
        ("HOLDFAST_SHARED_DIR", shared.display().to_string()),
        ("HOLDFAST_STORAGE_URL", format!("s3://{BUCKET}/{prefix}")),
        ("HOLDFAST_S3_ENDPOINT", weed.endpoint.clone()),
        ("HOLDFAST_S3_ACCESS_KEY", ACCESS_KEY.into()),
        ("HOLDFAST_S3_SECRET_KEY", SECRET_KEY.into()),
        ("HOLDFAST_S3_PART_SIZE", PART.to_string()),
    ];
    // Every process has a data folder of its own, as on separate machines.
    let folder = |name: &str| dir.path().join(name);
    let admin = folder("admin");
    cli_with(&admin, &database_url, &env, &["migrate"])?;
    let password = cli_with(
        &admin,
        &database_url,
        &env,
        &[
            "user",
            "add",
            "--email",
            "pi@example.org",
            "--name",
            "A PI",
            "--role",
            "depositor",
        ],
    )?;
    cli_with(
        &admin,
        &database_url,
        &env,
        &[
            "user",
            "add",
            "--email",
            "cura@example.org",
            "--name",
            "A Curator",
            "--role",
            "curator",
        ],
    )?;
    let depositor = cli_with(
        &admin,
        &database_url,
        &env,
        &["token", "create", "--email", "pi@example.org"],
    )?;
    let curator = cli_with(
        &admin,
        &database_url,
        &env,
        &["token", "create", "--email", "cura@example.org"],
    )?;
    let (_a, a) = start_node_with(&folder("node-a"), &database_url, &env).await?;
    let (_b, b) = start_node_with(&folder("node-b"), &database_url, &env).await?;
    let _worker = Process(
        holdfast(&folder("worker"), &database_url)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("worker")
            .stdout(Stdio::null())
            .spawn()?,
    );
    let client = crate::helpers::fresh_client();

    // A browser signs in on node A; node B knows the session and takes a form
    // with the CSRF token node A's page gave.
    let cookies = crate::helpers::http_client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let on_a = Browser {
        client: cookies.clone(),
        base: a.clone(),
    };
    on_a.sign_in("pi@example.org", &password).await?;
    let on_b = Browser {
        client: cookies.clone(),
        base: b.clone(),
    };
    let (status, mine) = on_b.get_text("/datasets/mine").await?;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let csrf = on_a.csrf("/datasets/new").await?;
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend(minimal_form("Made on two machines"));
    let r = cookies
        .post(format!("{b}/datasets"))
        .form(&form)
        .send()
        .await?;
    let id: i64 = expect_redirect_prefix(&r, "/datasets/")?
        .trim_start_matches("/datasets/")
        .parse()?;

    // A resumable upload starts on node A, the connection is cut, and it is finished
    // on node B from the offset node B reports.
    let bytes = crate::tus::content(4 * crate::tus::CHUNK + 12_345);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &bytes)?;
    let a_addr: std::net::SocketAddr = a.trim_start_matches("http://").parse()?;
    let proxy = crate::tus::cutting_proxy(a_addr, 2 * crate::tus::CHUNK + 100_000)?;
    let out = crate::tus::tuspy(serde_json::json!({
        "mode": "interrupt",
        "token": depositor,
        "file": file,
        "chunk": crate::tus::CHUNK,
        "proxy": format!("http://{proxy}"),
        "direct": b,
        "retries": 2,
        "metadata": {"dataset": id.to_string(), "path": "data/big.bin", "sha256": sha256_hex(&bytes)},
    }))
    .await?;
    assert_eq!(out["cut"], true, "{out}");
    let resumed_from = out["resumed_from"].as_u64().ok_or("resumed_from")?;
    assert!(
        resumed_from > 0 && resumed_from < bytes.len() as u64,
        "node B resumed from {resumed_from}: {out}"
    );
    assert_eq!(out["final"].as_u64(), Some(bytes.len() as u64), "{out}");
    let small = b"time,flux\n2019-01-01T00:00,1.5\n".to_vec();
    let r = client
        .put(format!("{a}/api/datasets/{id}/files/data/flux.csv"))
        .bearer_auth(&depositor)
        .body(small.clone())
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let files: serde_json::Value = client
        .get(format!("{b}/api/datasets/{id}"))
        .bearer_auth(&depositor)
        .send()
        .await?
        .json()
        .await?;
    let big = files
        .as_array()
        .or_else(|| files["files"].as_array())
        .and_then(|fs| fs.iter().find(|f| f["path"] == "data/big.bin"))
        .ok_or_else(|| format!("data/big.bin not in the draft: {files}"))?;
    assert_eq!(big["sha256"], sha256_hex(&bytes), "{big}");

    // The worker process checks and publishes; the nodes alternate.
    checked(&client, [&a, &b], &depositor, id).await?;
    let r = client
        .post(format!("{b}/api/datasets/{id}/submit"))
        .bearer_auth(&depositor)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await?);
    let r = client
        .post(format!("{a}/api/datasets/{id}/review"))
        .bearer_auth(&curator)
        .json(&serde_json::json!({"decision": "accept"}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body: serde_json::Value = client
            .get(format!("{b}/api/datasets/{id}"))
            .bearer_auth(&curator)
            .send()
            .await?
            .json()
            .await?;
        if body["state"] == "published" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the worker did not publish: {body}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for node in [&a, &b] {
        let r = client
            .get(format!("{node}/datasets/{id}/files/data/big.bin"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            sha256_hex(&r.bytes().await?),
            sha256_hex(&bytes),
            "from {node}"
        );
        let r = client
            .get(format!("{node}/datasets/{id}/files/data/big.bin"))
            .header(reqwest::header::RANGE, "bytes=1000-1999")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.bytes().await?.as_ref(), &bytes[1000..2000]);
    }

    // Scheduled work is queued once for the whole cluster, however many processes
    // started: one fixity sweep waits or runs.
    let db = holdfast::db::Db::connect(&database_url, 2)?;
    let sweeps = db
        .run(|conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::jobs;
            Ok(jobs::table
                .filter(jobs::kind.eq("fixity-sweep"))
                .filter(jobs::state.eq_any(["queued", "running"]))
                .count()
                .get_result::<i64>(conn)?)
        })
        .await?;
    assert_eq!(sweeps, 1, "fixity sweeps queued or running");

    // Nothing went to the nodes' own folders; the root copied back is valid OCFL.
    for name in ["node-a", "node-b", "worker"] {
        assert!(
            !folder(name).join("ocfl").exists(),
            "{name} has an OCFL root"
        );
        assert!(
            !folder(name).join("staging").exists(),
            "{name} staged locally"
        );
    }
    let store = holdfast::storage::S3Store::new(crate::s3::settings(&weed.endpoint, prefix)?)?;
    let copy = tempfile::tempdir()?;
    crate::s3::copy_to_disk(&store, copy.path()).await?;
    validate_ocfl_root(copy.path())?;
    Ok(())
}
