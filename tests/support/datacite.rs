//! A DataCite REST API double for the DOI journeys, on 127.0.0.1 in the test's process.
//! It checks basic authentication (repository id and password), the method and path,
//! `Content-Type: application/vnd.api+json` and the JSON:API body (`data.type` "dois",
//! `attributes.doi`/`prefix`, `event`, `url`, the metadata as base64 DataCite XML),
//! follows DataCite's states (draft, findable, registered), answers as DataCite does
//! (201/200 with the record, 422 for bad bodies, 404 for an unknown DOI, 405 for
//! deleting a registered one), can be down (503), and records what it received.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::http::{header, StatusCode as ActixStatus};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};

use super::app::{Backend, TestApp};
use super::checkers::validate_datacite_xml_all;
use super::wait::Check;
use super::{Error, TestResult};

pub const REPOSITORY: &str = "HOLDFAST.TEST";
pub const PASSWORD: &str = "correct horse battery staple";
pub const PREFIX: &str = "10.80000";
pub const JSONAPI: &str = "application/vnd.api+json";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// One request the fake DataCite received, with the status it answered.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub body: Value,
}

impl Received {
    pub fn attributes(&self) -> &Value {
        &self.body["data"]["attributes"]
    }

    pub fn doi(&self) -> Option<&str> {
        self.attributes()["doi"].as_str()
    }

    pub fn event(&self) -> Option<&str> {
        self.attributes()["event"].as_str()
    }

    pub fn xml(&self) -> Option<String> {
        let encoded = self.attributes()["xml"].as_str()?;
        let bytes = b64().decode(encoded).ok()?;
        String::from_utf8(bytes).ok()
    }
}

#[derive(Default)]
struct Store {
    /// DOI (lower case) → its attributes: doi, prefix, suffix, state, url, xml.
    records: BTreeMap<String, Value>,
    received: Vec<Received>,
    /// Answer every request with 503, as DataCite does during maintenance.
    down: bool,
}

/// A DataCite REST API double.
#[derive(Clone)]
pub struct FakeDatacite {
    store: Arc<Mutex<Store>>,
    pub url: String,
}

type Answer = (u16, Value);

fn error(status: u16, source: &str, title: &str) -> Answer {
    (
        status,
        json!({"errors": [{"status": status.to_string(), "source": source, "title": title}]}),
    )
}

impl FakeDatacite {
    pub async fn start() -> Result<FakeDatacite, Error> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        Self::start_on(listener)
    }

    pub fn start_on(listener: std::net::TcpListener) -> Result<FakeDatacite, Error> {
        let url = format!("http://{}", listener.local_addr()?);
        let fake = FakeDatacite {
            store: Arc::new(Mutex::new(Store::default())),
            url,
        };
        let data = web::Data::new(fake.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .default_service(web::to(handle))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)?
        .run();
        actix_web::rt::spawn(server);
        Ok(fake)
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    pub fn state_of(&self, doi: &str) -> Option<String> {
        self.lock().records.get(&doi.to_lowercase())?["state"]
            .as_str()
            .map(str::to_string)
    }

    pub fn record(&self, doi: &str) -> Option<Value> {
        self.lock().records.get(&doi.to_lowercase()).cloned()
    }

    pub fn xml_of(&self, doi: &str) -> String {
        self.record(doi)
            .and_then(|r| r["xml"].as_str().map(str::to_string))
            .and_then(|x| b64().decode(x).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Requests about one DOI (by path or body), in order.
    pub fn received_for(&self, doi: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.doi() == Some(doi) || r.path == format!("/dois/{doi}"))
            .collect()
    }

    fn answer(&self, req: &HttpRequest, body: &[u8]) -> Answer {
        let mut store = self.lock();
        if store.down {
            return error(503, "", "Service Unavailable: down for maintenance");
        }
        let expected = format!("Basic {}", b64().encode(format!("{REPOSITORY}:{PASSWORD}")));
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if auth != Some(expected.as_str()) {
            return error(401, "", "Bad credentials.");
        }
        let method = req.method().as_str();
        let path = req.path();
        let doi_in_path = path.strip_prefix("/dois/").map(str::to_lowercase);
        match (method, path, doi_in_path) {
            ("POST", "/dois", None) => {
                let attrs = match checked_body(req, body, None) {
                    Ok(a) => a,
                    Err(e) => return e,
                };
                let doi = attrs["doi"].as_str().unwrap_or_default().to_lowercase();
                if store.records.contains_key(&doi) {
                    return error(422, "doi", "This DOI has already been taken");
                }
                write(&mut store.records, &doi, None, &attrs, 201)
            }
            ("PUT", _, Some(doi)) => {
                let attrs = match checked_body(req, body, Some(&doi)) {
                    Ok(a) => a,
                    Err(e) => return e,
                };
                let Some(existing) = store.records.get(&doi).cloned() else {
                    return error(404, "", "The resource you are looking for doesn't exist.");
                };
                write(&mut store.records, &doi, Some(existing), &attrs, 200)
            }
            ("DELETE", _, Some(doi)) => match store.records.get(&doi) {
                None => error(404, "", "The resource you are looking for doesn't exist."),
                Some(r) if r["state"] != "draft" => error(
                    405,
                    "",
                    "Method not allowed: only draft DOIs can be deleted",
                ),
                Some(_) => {
                    store.records.remove(&doi);
                    (204, Value::Null)
                }
            },
            ("GET", _, Some(doi)) => match store.records.get(&doi) {
                None => error(404, "", "The resource you are looking for doesn't exist."),
                Some(r) => (
                    200,
                    json!({"data": {"id": doi, "type": "dois", "attributes": r}}),
                ),
            },
            _ => error(404, "", "No route"),
        }
    }
}

/// Checks a create or update request; answers its attributes or DataCite's error.
fn checked_body(req: &HttpRequest, body: &[u8], path_doi: Option<&str>) -> Result<Value, Answer> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.split(';').next().map(str::trim) != Some(JSONAPI) {
        return Err(error(
            415,
            "",
            "The content type is not recognized. Use application/vnd.api+json",
        ));
    }
    let doc: Value =
        serde_json::from_slice(body).map_err(|_| error(422, "", "The body is not valid JSON"))?;
    if doc["data"]["type"] != "dois" {
        return Err(error(422, "type", "data.type must be \"dois\""));
    }
    let attrs = &doc["data"]["attributes"];
    if !attrs.is_object() {
        return Err(error(422, "attributes", "data.attributes is missing"));
    }
    let Some(doi) = attrs["doi"].as_str().map(str::to_lowercase) else {
        return Err(error(422, "doi", "Can't be blank"));
    };
    let Some(prefix) = attrs["prefix"].as_str() else {
        return Err(error(422, "prefix", "Can't be blank"));
    };
    if prefix != PREFIX || !doi.starts_with(&format!("{prefix}/")) {
        return Err(error(
            422,
            "prefix",
            "This prefix is not assigned to the repository",
        ));
    }
    if let Some(p) = path_doi {
        if p != doi {
            return Err(error(422, "doi", "The DOI in the path and the body differ"));
        }
    }
    if let Some(event) = attrs.get("event") {
        if !matches!(event.as_str(), Some("publish" | "register" | "hide")) {
            return Err(error(422, "event", "Unknown event"));
        }
    }
    if let Some(url) = attrs.get("url") {
        let ok = url
            .as_str()
            .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"));
        if !ok {
            return Err(error(422, "url", "Is not a valid URL"));
        }
    }
    if let Some(xml) = attrs.get("xml") {
        let text = xml
            .as_str()
            .and_then(|x| b64().decode(x).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| error(422, "xml", "Is not base64-encoded UTF-8"))?;
        let identifier = format!("<identifier identifierType=\"DOI\">{doi}</identifier>");
        if !text.contains("<resource") || !text.to_lowercase().contains(&identifier.to_lowercase())
        {
            return Err(error(422, "xml", "The metadata does not describe this DOI"));
        }
    }
    Ok(attrs.clone())
}

/// Applies a valid create (existing: None) or update to the records, as DataCite's state
/// machine allows.
fn write(
    records: &mut BTreeMap<String, Value>,
    doi: &str,
    existing: Option<Value>,
    attrs: &Value,
    status: u16,
) -> Answer {
    let mut record = existing.unwrap_or_else(|| {
        let (prefix, suffix) = doi.split_once('/').unwrap_or((doi, ""));
        json!({"doi": doi, "prefix": prefix, "suffix": suffix, "state": "draft"})
    });
    for key in ["url", "xml"] {
        if let Some(v) = attrs.get(key) {
            record[key] = v.clone();
        }
    }
    let from = record["state"].as_str().unwrap_or("draft").to_string();
    let to = match (attrs["event"].as_str(), from.as_str()) {
        (None, s) => s.to_string(),
        (Some("publish"), "draft" | "registered") => "findable".into(),
        (Some("register"), "draft") => "registered".into(),
        (Some("hide"), "findable") => "registered".into(),
        (Some(e), s) => {
            return error(422, "event", &format!("Cannot {e} a {s} DOI"));
        }
    };
    if to != "draft" {
        if record["url"].as_str().is_none() {
            return error(422, "url", "Can't be blank");
        }
        if record["xml"].as_str().is_none() {
            return error(
                422,
                "metadata",
                "A findable DOI needs creators, titles, publisher, publicationYear and types",
            );
        }
    }
    record["state"] = json!(to);
    records.insert(doi.to_string(), record.clone());
    (
        status,
        json!({"data": {"id": doi, "type": "dois", "attributes": record}}),
    )
}

async fn handle(req: HttpRequest, body: web::Bytes, fake: web::Data<FakeDatacite>) -> HttpResponse {
    let (status, answer) = fake.answer(&req, &body);
    let parsed = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    fake.lock().received.push(Received {
        method: req.method().to_string(),
        path: req.path().to_string(),
        status,
        body: parsed,
    });
    let status = ActixStatus::from_u16(status).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
    if answer.is_null() {
        return HttpResponse::build(status).finish();
    }
    HttpResponse::build(status)
        .content_type(JSONAPI)
        .body(answer.to_string())
}

/// A TestApp registering DOIs with the DataCite at `url`.
pub async fn app_with_datacite(backend: Backend, url: &str) -> Result<TestApp, Error> {
    let url = url.to_string();
    TestApp::builder()
        .settings(move |args| {
            args.doi_provider = Some("datacite".into());
            args.datacite_url = Some(url.clone());
            args.datacite_repository = Some(REPOSITORY.into());
            args.datacite_password = Some(PASSWORD.into());
            args.doi_prefix = Some(PREFIX.into());
        })
        .spawn(backend)
        .await
}

/// Runs the due jobs (DOI registrations among them) until the dataset's API answer,
/// as the holder of `token` sees it, satisfies `done`; returns that answer.
pub async fn wait_for_dataset(
    app: &TestApp,
    token: &str,
    id: i64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, Error> {
    let api = app.api(token);
    app.run_jobs_until(what, || async {
        let body = api.dataset(id).await?;
        Ok(if done(&body) {
            Check::Done(body)
        } else {
            Check::NotYet(body.to_string())
        })
    })
    .await
}

/// Runs the due jobs until the fake DataCite satisfies `done`.
pub async fn wait_for_datacite(
    app: &TestApp,
    fake: &FakeDatacite,
    what: &str,
    done: impl Fn(&FakeDatacite) -> bool,
) -> TestResult {
    app.run_jobs_until(what, || async {
        if done(fake) {
            return Ok(Check::Done(()));
        }
        let seen: Vec<String> = fake
            .received()
            .iter()
            .map(|r| format!("{} {} → {}", r.method, r.path, r.status))
            .collect();
        Ok(Check::NotYet(format!("DataCite saw {seen:?}")))
    })
    .await
}

/// Validates every DataCite XML document DataCite received against the official 4.6
/// XSD (one Python run for all of them).
pub fn validate_all_xml(fake: &FakeDatacite) -> TestResult {
    let documents: Vec<String> = fake.received().iter().filter_map(Received::xml).collect();
    if documents.is_empty() {
        return Err("DataCite received no XML".into());
    }
    validate_datacite_xml_all(&documents)
        .map_err(|e| format!("DataCite XML sent to DataCite: {e}").into())
}

/// Whether `xml` relates to `doi` with `relation`, on one element.
pub fn has_relation(xml: &str, relation: &str, doi: &str) -> bool {
    xml.lines().any(|l| {
        l.contains(&format!("relationType=\"{relation}\"")) && l.contains(&format!(">{doi}<"))
    })
}
