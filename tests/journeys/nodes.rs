//! Several holdfast processes on one database behave as one archive: two web-only nodes
//! (`serve --no-worker`) and one `holdfast worker` take a dataset from deposit to
//! publication, the requests alternating between the nodes.

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
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let child = holdfast(data_dir, database_url)
        .env("HOLDFAST_BIND", format!("127.0.0.1:{port}"))
        // Every node names the same public URL, as behind a load balancer.
        .env("HOLDFAST_BASE_URL", "http://archive.test")
        .args(["serve", "--no-worker"])
        .stdout(Stdio::null())
        .spawn()?;
    let node = Process(child);
    let client = reqwest::Client::new();
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
    let out = holdfast(data_dir, database_url).args(args).output()?;
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
    let client = reqwest::Client::new();

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
