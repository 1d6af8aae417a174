//! A typed client for the JSON API calls journeys make. Each call that has one right
//! answer checks its status and fails with the body when it is another; the raw calls
//! ([`Api::get`], [`Api::post`], …) return an [`ApiAnswer`] for journeys that look at
//! refusals.

use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use super::fixtures::{minimal_json, url_path};
use super::wait::{self, check};
use super::Error;

/// An answer: status, headers and the body (JSON, or `Value::Null` with the text kept).
#[derive(Debug)]
pub struct ApiAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl ApiAnswer {
    async fn read(r: reqwest::Response) -> Result<ApiAnswer, Error> {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(ApiAnswer {
            status,
            headers,
            body,
            text,
        })
    }

    /// The body, when the status is `status`; else an error with both.
    pub fn expect(self, status: StatusCode) -> Result<Value, Error> {
        if self.status != status {
            return Err(format!("expected {status}, got {}: {}", self.status, self.text).into());
        }
        Ok(self.body)
    }

    /// The `error` message of a refusal.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// The fields a 422 names.
    pub fn fields(&self) -> Vec<String> {
        self.body["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The API as one caller (a token, or nobody).
#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(base: &str, token: Option<&str>) -> Api {
        Api {
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(super::IDLE_CONNECTION)
                .build()
                .expect("client builds"),
            base: base.to_string(),
            token: token.map(str::to_string),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with the caller's token, for what the typed calls do not cover.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let r = self.client.request(method, self.url(path));
        match &self.token {
            Some(token) => r.bearer_auth(token),
            None => r,
        }
    }

    pub async fn send(&self, request: RequestBuilder) -> Result<ApiAnswer, Error> {
        ApiAnswer::read(request.send().await?).await
    }

    pub async fn get(&self, path: &str) -> Result<ApiAnswer, Error> {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<ApiAnswer, Error> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<ApiAnswer, Error> {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<ApiAnswer, Error> {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// A GET that must answer 200; its JSON.
    pub async fn get_ok(&self, path: &str) -> Result<Value, Error> {
        self.get(path)
            .await?
            .expect(StatusCode::OK)
            .map_err(|e| format!("GET {path}: {e}").into())
    }

    /// Creates a dataset from DataCite JSON; its JSON (201).
    pub async fn create_dataset(&self, metadata: &Value) -> Result<Value, Error> {
        self.post("/api/datasets", metadata)
            .await?
            .expect(StatusCode::CREATED)
            .map_err(|e| format!("creating a dataset: {e}").into())
    }

    /// Creates a draft with minimal metadata; its id.
    pub async fn create_draft(&self, title: &str) -> Result<i64, Error> {
        let created = self.create_dataset(&minimal_json(title)).await?;
        created["id"]
            .as_i64()
            .ok_or_else(|| format!("no id in {created}").into())
    }

    pub async fn dataset(&self, id: i64) -> Result<Value, Error> {
        self.get_ok(&format!("/api/datasets/{id}")).await
    }

    /// Replaces a draft's metadata; the dataset's JSON (200).
    pub async fn update_metadata(&self, id: i64, metadata: &Value) -> Result<Value, Error> {
        self.put(&format!("/api/datasets/{id}"), metadata)
            .await?
            .expect(StatusCode::OK)
    }

    /// Uploads (or replaces) a file of a draft: PUT of the raw bytes; the file's JSON
    /// (201). `path` is the dataset path, encoded here.
    pub async fn put_file(&self, id: i64, path: &str, bytes: &[u8]) -> Result<Value, Error> {
        self.put_file_answer(id, path, bytes)
            .await?
            .expect(StatusCode::CREATED)
            .map_err(|e| format!("uploading {path}: {e}").into())
    }

    /// [`Api::put_file`] for journeys that look at a refusal.
    pub async fn put_file_answer(
        &self,
        id: i64,
        path: &str,
        bytes: &[u8],
    ) -> Result<ApiAnswer, Error> {
        let at = format!("/api/datasets/{id}/files/{}", url_path(path));
        self.send(self.request(Method::PUT, &at).body(bytes.to_vec()))
            .await
    }

    pub async fn delete_file(&self, id: i64, path: &str) -> Result<ApiAnswer, Error> {
        self.delete(&format!("/api/datasets/{id}/files/{}", url_path(path)))
            .await
    }

    /// The draft's validation report.
    pub async fn validation(&self, id: i64) -> Result<Value, Error> {
        self.get_ok(&format!("/api/datasets/{id}/validation")).await
    }

    /// Submits a draft for review (200); the dataset's JSON.
    pub async fn submit(&self, id: i64) -> Result<Value, Error> {
        self.post(&format!("/api/datasets/{id}/submit"), &json!({}))
            .await?
            .expect(StatusCode::OK)
            .map_err(|e| format!("submitting {id}: {e}").into())
    }

    /// A curator takes a submission (200); the dataset's JSON.
    pub async fn claim(&self, id: i64) -> Result<Value, Error> {
        self.post(&format!("/api/datasets/{id}/claim"), &json!({}))
            .await?
            .expect(StatusCode::OK)
    }

    /// A review decision (`accept`, `request_changes`), with an optional comment.
    pub async fn review(
        &self,
        id: i64,
        decision: &str,
        comment: Option<&str>,
    ) -> Result<ApiAnswer, Error> {
        let mut body = json!({ "decision": decision });
        if let Some(comment) = comment {
            body["comment"] = json!(comment);
        }
        self.post(&format!("/api/datasets/{id}/review"), &body)
            .await
    }

    /// Accepts a submission (202: the publication job is queued).
    pub async fn accept(&self, id: i64) -> Result<Value, Error> {
        self.review(id, "accept", None)
            .await?
            .expect(StatusCode::ACCEPTED)
            .map_err(|e| format!("accepting {id}: {e}").into())
    }

    /// Search results for a query string (`q=…&page=…`).
    pub async fn search(&self, query: &str) -> Result<Value, Error> {
        self.get_ok(&format!("/api/search?{query}")).await
    }

    /// A file of a dataset's latest version, as downloaded from its public link.
    pub async fn download(&self, id: i64, path: &str) -> Result<Vec<u8>, Error> {
        let at = format!("/datasets/{id}/files/{}", url_path(path));
        let r = self.request(Method::GET, &at).send().await?;
        if r.status() != StatusCode::OK {
            return Err(format!("GET {at}: {}", r.status()).into());
        }
        Ok(r.bytes().await?.to_vec())
    }
}

/// Calls on a server that another process runs (its own worker does the jobs): the
/// waits are bounded polls.
impl Api {
    /// Waits until the draft's data standards check finished; the report.
    pub async fn checked(&self, id: i64) -> Result<Value, Error> {
        wait::eventually(&format!("the check of dataset {id}"), || async {
            let report = self.validation(id).await?;
            Ok(check(report["state"] != "checking", report))
        })
        .await
    }

    /// Waits until an accepted dataset is published; its JSON.
    pub async fn published(&self, id: i64) -> Result<Value, Error> {
        wait::eventually(&format!("the publication of dataset {id}"), || async {
            let dataset = self.dataset(id).await?;
            Ok(check(dataset["state"] == "published", dataset))
        })
        .await
    }
}

/// Uploads `files` into a draft on another process's server and takes it through
/// review to publication; the published dataset's JSON.
pub async fn publish_on(
    depositor: &Api,
    curator: &Api,
    id: i64,
    files: &[(&str, &[u8])],
) -> Result<Value, Error> {
    for (path, bytes) in files {
        depositor.put_file(id, path, bytes).await?;
    }
    depositor.checked(id).await?;
    depositor.submit(id).await?;
    curator.accept(id).await?;
    curator.published(id).await
}
