//! What the user does in the crash journey, in order. Each step first looks whether it
//! already took effect (after a crash) and does it (again) only if not.

use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::process::Tokens;
use crate::support::wait::{self, check, Check};
use crate::support::{minimal_json, sha256_hex, zip_of, Error};

/// What the user does, in order. Each step first looks whether it already took effect
/// (after a crash) and does it (again) only if not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    CreateDraft,
    UploadBig,
    UploadZip,
    RemoveFile,
    Submit,
    Accept,
    NewVersion,
    UploadVersion2,
    Submit2,
    Accept2,
    Deaccession,
}

pub(super) const STEPS: &[Step] = &[
    Step::CreateDraft,
    Step::UploadBig,
    Step::UploadZip,
    Step::RemoveFile,
    Step::Submit,
    Step::Accept,
    Step::NewVersion,
    Step::UploadVersion2,
    Step::Submit2,
    Step::Accept2,
    Step::Deaccession,
];

const TITLE: &str = "Crash test dataset";

/// The journey's state as the test knows it: the dataset and the bytes it gave each path.
pub(super) struct Journey<'a> {
    pub(super) base: String,
    tokens: &'a Tokens,
    client: Client,
    id: Option<i64>,
    /// path -> sha256 of what the draft must hold once the steps so far took effect.
    draft: BTreeMap<String, String>,
}

/// Bytes of the big upload: several MB, so the body arrives in many chunks and is
/// copied into storage in more than one buffer.
pub(super) fn big_bytes(generation: u8) -> Vec<u8> {
    (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ generation)
        .collect()
}

pub(super) fn zip_entries() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("a.txt", b"first entry\n"),
        ("b/c.txt", b"second entry\n"),
        ("d.txt", b"third entry, removed later\n"),
    ]
}

/// An error that means the server is not (or no longer) answering.
fn is_transport(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_request() || e.is_body() || e.is_timeout() || e.is_decode()
}

pub(super) enum StepError {
    /// The server stopped answering: it may have been killed.
    Gone(String),
    Failed(String),
}

impl From<reqwest::Error> for StepError {
    fn from(e: reqwest::Error) -> StepError {
        if is_transport(&e) {
            StepError::Gone(e.to_string())
        } else {
            StepError::Failed(e.to_string())
        }
    }
}

impl From<Error> for StepError {
    fn from(e: Error) -> StepError {
        StepError::Failed(e.to_string())
    }
}

impl From<&str> for StepError {
    fn from(e: &str) -> StepError {
        StepError::Failed(e.to_string())
    }
}

impl From<String> for StepError {
    fn from(e: String) -> StepError {
        StepError::Failed(e)
    }
}

impl<'a> Journey<'a> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn id(&self) -> Result<i64, StepError> {
        self.id.ok_or_else(|| "no dataset yet".to_string().into())
    }

    async fn dataset(&self) -> Result<Value, StepError> {
        let id = self.id()?;
        let r = self
            .client
            .get(self.url(&format!("/api/datasets/{id}")))
            .bearer_auth(&self.tokens.depositor)
            .send()
            .await?;
        if r.status() != StatusCode::OK {
            return Err(format!("GET dataset: {}", r.status()).into());
        }
        Ok(r.json().await?)
    }

    /// The draft's files (path -> sha256). A file whose bytes differ from what the
    /// user sent for that path would be a half-written or mixed-up file: an error.
    async fn files(
        &self,
        allowed: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, StepError> {
        let view = self.dataset().await?;
        let mut out = BTreeMap::new();
        for f in view["files"].as_array().ok_or("no files in the dataset")? {
            let path = f["path"].as_str().ok_or("file without path")?.to_string();
            let sha = f["sha256"]
                .as_str()
                .ok_or("file without sha256")?
                .to_string();
            // Each path holds what the user last sent for it, or what they are sending.
            if allowed.get(&path) != Some(&sha) && self.draft.get(&path) != Some(&sha) {
                return Err(format!(
                    "draft file {path} has sha256 {sha}, which the user never uploaded there"
                )
                .into());
            }
            out.insert(path, sha);
        }
        Ok(out)
    }

    async fn state(&self) -> Result<String, StepError> {
        Ok(self.dataset().await?["state"]
            .as_str()
            .ok_or("no state")?
            .to_string())
    }

    async fn put(&self, path: &str, body: Vec<u8>) -> Result<(), StepError> {
        let id = self.id()?;
        let r = self
            .client
            .put(self.url(&format!("/api/datasets/{id}/files/{path}")))
            .bearer_auth(&self.tokens.depositor)
            .body(body)
            .send()
            .await?;
        if r.status() != StatusCode::CREATED {
            let status = r.status();
            return Err(format!("upload {path}: {status}: {}", r.text().await?).into());
        }
        Ok(())
    }

    /// Uploads `wanted` files unless the draft already holds them.
    async fn ensure_files(
        &mut self,
        wanted: BTreeMap<String, String>,
        upload: impl AsyncFnOnce(&Self) -> Result<(), StepError>,
    ) -> Result<(), StepError> {
        let have = self.files(&wanted).await?;
        let missing = wanted.iter().any(|(p, sha)| have.get(p) != Some(sha));
        if missing {
            upload(self).await?;
            let have = self.files(&wanted).await?;
            if let Some((p, _)) = wanted.iter().find(|(p, sha)| have.get(*p) != Some(sha)) {
                return Err(format!("{p} is not in the draft after its upload").into());
            }
        }
        self.draft.extend(wanted);
        Ok(())
    }

    async fn wait_checks(&self) -> Result<(), StepError> {
        let id = self.id()?;
        let url = self.url(&format!("/api/datasets/{id}/validation"));
        wait::poll("the data standards check", wait::PATIENCE, || async {
            let r = self
                .client
                .get(&url)
                .bearer_auth(&self.tokens.depositor)
                .send()
                .await?;
            let report: Value = r.json().await?;
            Ok::<_, StepError>(check(report["state"] != "checking", report))
        })
        .await
        .map(|_| ())
    }

    async fn post(
        &self,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<StatusCode, StepError> {
        let mut req = self.client.post(self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await?;
        let status = r.status();
        if !status.is_success() {
            return Err(format!("POST {path}: {status}: {}", r.text().await?).into());
        }
        Ok(status)
    }

    async fn submit(&self) -> Result<(), StepError> {
        let id = self.id()?;
        self.wait_checks().await?;
        if self.state().await? == "draft" {
            self.post(
                &format!("/api/datasets/{id}/submit"),
                &self.tokens.depositor,
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// Accepts unless the curator already did; then the publication must finish by
    /// itself, with no further action of anyone.
    async fn accept(&self, version: i64) -> Result<(), StepError> {
        let id = self.id()?;
        let state = self.state().await?;
        if state == "submitted" || state == "in_review" {
            self.wait_checks().await?;
            let status = self
                .post(
                    &format!("/api/datasets/{id}/review"),
                    &self.tokens.curator,
                    Some(serde_json::json!({"decision": "accept"})),
                )
                .await?;
            if status != StatusCode::ACCEPTED {
                return Err(format!("accept answered {status}").into());
            }
        }
        wait::poll(
            &format!("version {version} to be published"),
            wait::PATIENCE,
            || async {
                let view = self.dataset().await?;
                let done =
                    view["state"] == "published" && view["version"].as_i64() == Some(version);
                Ok::<_, StepError>(if done {
                    Check::Done(())
                } else {
                    Check::NotYet(format!("{} v{}", view["state"], view["version"]))
                })
            },
        )
        .await
    }

    pub(super) fn new(base: String, tokens: &'a Tokens) -> Result<Journey<'a>, Error> {
        Ok(Journey {
            base,
            tokens,
            client: crate::support::http_client()
                .timeout(Duration::from_secs(60))
                .build()?,
            id: None,
            draft: BTreeMap::new(),
        })
    }

    pub(super) async fn run(&mut self, step: Step) -> Result<(), StepError> {
        match step {
            Step::CreateDraft => self.create_draft().await,
            Step::UploadBig => {
                let body = big_bytes(0);
                let wanted = BTreeMap::from([("data/big.bin".to_string(), sha256_hex(&body))]);
                self.ensure_files(wanted, async move |j: &Self| {
                    j.put("data/big.bin", body).await
                })
                .await
            }
            Step::UploadZip => {
                let wanted: BTreeMap<String, String> = zip_entries()
                    .into_iter()
                    .map(|(p, b)| (p.to_string(), sha256_hex(b)))
                    .collect();
                let zip = zip_of(&zip_entries());
                self.ensure_files(wanted, async move |j: &Self| {
                    j.put("bundle.zip?unpack=true", zip).await
                })
                .await
            }
            Step::RemoveFile => self.remove_file("d.txt").await,
            Step::Submit | Step::Submit2 => self.submit().await,
            Step::Accept => self.accept(1).await,
            Step::NewVersion => self.new_version().await,
            Step::UploadVersion2 => {
                let big = big_bytes(7);
                let wanted = BTreeMap::from([
                    ("data/big.bin".to_string(), sha256_hex(&big)),
                    ("e.txt".to_string(), sha256_hex(b"new in version 2\n")),
                ]);
                self.ensure_files(wanted, async move |j: &Self| {
                    j.put("data/big.bin", big).await?;
                    j.put("e.txt", b"new in version 2\n".to_vec()).await
                })
                .await
            }
            Step::Accept2 => self.accept(2).await,
            Step::Deaccession => self.deaccession().await,
        }
    }

    /// After a crash the draft may exist already: the user finds it in their list.
    async fn create_draft(&mut self) -> Result<(), StepError> {
        let r = self
            .client
            .get(self.url("/api/datasets"))
            .bearer_auth(&self.tokens.depositor)
            .send()
            .await?;
        let list: Value = r.json().await?;
        let existing = list
            .as_array()
            .or_else(|| list["datasets"].as_array())
            .and_then(|l| l.iter().find_map(|d| d["id"].as_i64()));
        if let Some(id) = existing {
            self.id = Some(id);
            return Ok(());
        }
        let r = self
            .client
            .post(self.url("/api/datasets"))
            .bearer_auth(&self.tokens.depositor)
            .json(&minimal_json(TITLE))
            .send()
            .await?;
        if r.status() != StatusCode::CREATED {
            return Err(format!("create: {}", r.status()).into());
        }
        self.id = r.json::<Value>().await?["id"].as_i64();
        Ok(())
    }

    async fn remove_file(&mut self, path: &str) -> Result<(), StepError> {
        let id = self.id()?;
        let have = self.files(&BTreeMap::new()).await?;
        if have.contains_key(path) {
            let r = self
                .client
                .delete(self.url(&format!("/api/datasets/{id}/files/{path}")))
                .bearer_auth(&self.tokens.depositor)
                .send()
                .await?;
            if r.status() != StatusCode::NO_CONTENT {
                return Err(format!("delete: {}", r.status()).into());
            }
        }
        self.draft.remove(path);
        Ok(())
    }

    async fn new_version(&self) -> Result<(), StepError> {
        let id = self.id()?;
        let view = self.dataset().await?;
        if view["state"] == "published" {
            self.post(
                &format!("/api/datasets/{id}/versions"),
                &self.tokens.depositor,
                None,
            )
            .await?;
        }
        let view = self.dataset().await?;
        if view["state"] != "draft" || view["version"].as_i64() != Some(2) {
            return Err(
                format!("no version 2 draft: {} v{}", view["state"], view["version"]).into(),
            );
        }
        Ok(())
    }

    async fn deaccession(&self) -> Result<(), StepError> {
        let id = self.id()?;
        if self.state().await? == "published" {
            self.post(
                &format!("/api/datasets/{id}/deaccession"),
                &self.tokens.admin,
                Some(serde_json::json!({"reason": "crash test"})),
            )
            .await?;
        }
        let state = self.state().await?;
        if state != "deaccessioned" {
            return Err(format!("state {state} after deaccession").into());
        }
        Ok(())
    }
}
