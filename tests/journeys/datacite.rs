//! DOIs registered with DataCite. A small DataCite-compatible REST API runs inside the
//! test on 127.0.0.1: it checks basic authentication (repository id and password), the
//! method and path, `Content-Type: application/vnd.api+json` and the JSON:API body
//! (`data.type` "dois", `attributes.doi`/`prefix`, `event`, `url`, the metadata as
//! base64 DataCite XML), follows DataCite's states (draft, findable, registered),
//! answers as DataCite does (201/200 with the record, 422 for bad bodies, 404 for an
//! unknown DOI, 405 for deleting a registered one) and records what it received. Every
//! DataCite XML it received is validated against the official 4.6 XSD.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::http::{header, StatusCode as ActixStatus};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::checkers::python;
use crate::support::wait::Check;
use crate::support::*;

const REPOSITORY: &str = "HOLDFAST.TEST";
const PASSWORD: &str = "correct horse battery staple";
const PREFIX: &str = "10.80000";
const JSONAPI: &str = "application/vnd.api+json";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// One request the fake DataCite received, with the status it answered.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    status: u16,
    body: Value,
}

impl Received {
    fn attributes(&self) -> &Value {
        &self.body["data"]["attributes"]
    }

    fn doi(&self) -> Option<&str> {
        self.attributes()["doi"].as_str()
    }

    fn event(&self) -> Option<&str> {
        self.attributes()["event"].as_str()
    }

    fn xml(&self) -> Option<String> {
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
struct FakeDatacite {
    store: Arc<Mutex<Store>>,
    url: String,
}

type Answer = (u16, Value);

fn error(status: u16, source: &str, title: &str) -> Answer {
    (
        status,
        json!({"errors": [{"status": status.to_string(), "source": source, "title": title}]}),
    )
}

impl FakeDatacite {
    async fn start() -> Result<FakeDatacite, Error> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        Self::start_on(listener)
    }

    fn start_on(listener: std::net::TcpListener) -> Result<FakeDatacite, Error> {
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

    fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    fn state_of(&self, doi: &str) -> Option<String> {
        self.lock().records.get(&doi.to_lowercase())?["state"]
            .as_str()
            .map(str::to_string)
    }

    fn record(&self, doi: &str) -> Option<Value> {
        self.lock().records.get(&doi.to_lowercase()).cloned()
    }

    fn xml_of(&self, doi: &str) -> String {
        self.record(doi)
            .and_then(|r| r["xml"].as_str().map(str::to_string))
            .and_then(|x| b64().decode(x).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Requests about one DOI (by path or body), in order.
    fn received_for(&self, doi: &str) -> Vec<Received> {
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
async fn app_with_datacite(backend: Backend, url: &str) -> Result<TestApp, Error> {
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

async fn api_get(app: &TestApp, token: Option<&str>, id: i64) -> Result<Value, Error> {
    let mut request = app.client().get(app.url(&format!("/api/datasets/{id}")));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    Ok(request.send().await?.json().await?)
}

async fn api_post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
) -> Result<(StatusCode, Value), Error> {
    let r = app
        .client()
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

async fn put_file(app: &TestApp, token: &str, id: i64, path: &str, bytes: &[u8]) -> TestResult {
    let r = app
        .client()
        .put(app.url(&format!("/api/datasets/{id}/files/{path}")))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await?;
    if r.status() != StatusCode::CREATED {
        return Err(format!("upload {path}: {}", r.status()).into());
    }
    Ok(())
}

/// Runs the due jobs (DOI registrations among them) until the dataset's API answer
/// satisfies `done`; returns that answer.
async fn wait_for_dataset(
    app: &TestApp,
    token: &str,
    id: i64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, Error> {
    app.run_jobs_until(what, || async {
        let body = api_get(app, Some(token), id).await?;
        Ok(if done(&body) {
            Check::Done(body)
        } else {
            Check::NotYet(body.to_string())
        })
    })
    .await
}

/// Runs the due jobs until the fake DataCite satisfies `done`.
async fn wait_for_datacite(
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
fn validate_all_xml(fake: &FakeDatacite) -> TestResult {
    let documents: Vec<String> = fake.received().iter().filter_map(Received::xml).collect();
    if documents.is_empty() {
        return Err("DataCite received no XML".into());
    }
    let python = python()?;
    let xsd = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/datacite/kernel-4.6/metadata.xsd"
    );
    let dir = tempfile::tempdir()?;
    let mut files = Vec::new();
    for (i, xml) in documents.iter().enumerate() {
        let file = dir.path().join(format!("sent-{i}.xml"));
        std::fs::write(&file, xml)?;
        files.push(file);
    }
    let script = "import sys, xmlschema\n\
        schema = xmlschema.XMLSchema(sys.argv[1])\n\
        bad = []\n\
        for f in sys.argv[2:]:\n\
        \x20   try:\n\
        \x20       schema.validate(f)\n\
        \x20   except Exception as e:\n\
        \x20       bad.append(f + ': ' + str(e))\n\
        print('\\n'.join(bad))\n\
        sys.exit(1 if bad else 0)\n";
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(xsd)
        .args(&files)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "DataCite XML sent to DataCite does not validate against the 4.6 XSD:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

fn has_relation(xml: &str, relation: &str, doi: &str) -> bool {
    xml.contains(&format!("relationType=\"{relation}\"")) && {
        // The relation and the DOI on one element.
        xml.lines().any(|l| {
            l.contains(&format!("relationType=\"{relation}\"")) && l.contains(&format!(">{doi}<"))
        })
    }
}

#[actix_web::test]
async fn the_fake_datacite_is_strict_like_datacite() -> TestResult {
    let fake = FakeDatacite::start().await?;
    let client = crate::helpers::fresh_client();
    let url = |p: &str| format!("{}{p}", fake.url);
    let body =
        json!({"data": {"type": "dois", "attributes": {"doi": "10.80000/abc", "prefix": PREFIX}}});
    let send = |method: reqwest::Method, path: &str, auth: (&str, &str), ct: &str, body: Value| {
        client
            .request(method, url(path))
            .basic_auth(auth.0, Some(auth.1))
            .header(reqwest::header::CONTENT_TYPE, ct)
            .body(body.to_string())
            .send()
    };
    let good = (REPOSITORY, PASSWORD);
    let r = send(
        reqwest::Method::POST,
        "/dois",
        (REPOSITORY, "wrong"),
        JSONAPI,
        body.clone(),
    )
    .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = send(
        reqwest::Method::POST,
        "/dois",
        good,
        "application/json",
        body.clone(),
    )
    .await?;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bad =
        json!({"data": {"type": "works", "attributes": {"doi": "10.80000/abc", "prefix": PREFIX}}});
    let r = send(reqwest::Method::POST, "/dois", good, JSONAPI, bad).await?;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other_prefix = json!({"data": {"type": "dois", "attributes": {"doi": "10.1234/abc", "prefix": "10.1234"}}});
    let r = send(reqwest::Method::POST, "/dois", good, JSONAPI, other_prefix).await?;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = send(
        reqwest::Method::PUT,
        "/dois/10.80000/abc",
        good,
        JSONAPI,
        body.clone(),
    )
    .await?;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "unknown DOI");
    let r = send(reqwest::Method::POST, "/dois", good, JSONAPI, body.clone()).await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await?;
    assert_eq!(created["data"]["attributes"]["state"], "draft");
    let r = send(reqwest::Method::POST, "/dois", good, JSONAPI, body.clone()).await?;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "taken");
    // Publishing needs a URL and metadata.
    let publish = json!({"data": {"type": "dois", "attributes": {"doi": "10.80000/abc", "prefix": PREFIX, "event": "publish"}}});
    let r = send(
        reqwest::Method::PUT,
        "/dois/10.80000/abc",
        good,
        JSONAPI,
        publish,
    )
    .await?;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fake.state_of("10.80000/abc").as_deref(), Some("draft"));
    let r = send(
        reqwest::Method::DELETE,
        "/dois/10.80000/abc",
        good,
        JSONAPI,
        Value::Null,
    )
    .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(fake.record("10.80000/abc").is_none());
    fake.set_down(true);
    let r = send(reqwest::Method::POST, "/dois", good, JSONAPI, body).await?;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

/// An archive registering with the fake DataCite, its people, and a draft with a file.
struct Registry {
    fake: FakeDatacite,
    app: TestApp,
    dep: String,
    cur: String,
    admin: String,
    id: i64,
}

async fn registry(backend: Backend) -> Result<Registry, Error> {
    let fake = FakeDatacite::start().await?;
    let app = app_with_datacite(backend, &fake.url).await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let admin = app.new_user("admin@archive.org", Role::Admin).await?.token;
    let id = app.api(&dep).create_draft("Soil respiration 2024").await?;
    put_file(&app, &dep, id, "notes.txt", b"first version").await?;
    Ok(Registry {
        fake,
        app,
        dep,
        cur,
        admin,
        id,
    })
}

#[actix_web::test]
async fn datacite_registers_reserves_versions_and_hides_dois() -> TestResult {
    // One archive per backend goes through the DOI's whole life, step by step.
    for backend in backends() {
        let r = registry(backend).await?;
        let on = |e: Error| format!("on {backend:?}: {e}");
        let v1_doi = a_reserved_doi_is_a_draft_at_datacite(&r)
            .await
            .map_err(on)?;
        let concept = publication_makes_both_dois_findable(&r, &v1_doi)
            .await
            .map_err(on)?;
        let v2_doi = a_second_version_gets_its_own_doi_and_relations(&r, &v1_doi, &concept)
            .await
            .map_err(on)?;
        deaccession_hides_every_doi(&r, [&concept, &v1_doi, &v2_doi])
            .await
            .map_err(on)?;
        let fake = &r.fake;
        // Nothing was refused along the way, and every XML sent is valid DataCite 4.6.
        let refused: Vec<String> = fake
            .received()
            .iter()
            .filter(|r| r.status >= 300)
            .map(|r| format!("{} {} → {} {}", r.method, r.path, r.status, r.body))
            .collect();
        assert!(refused.is_empty(), "DataCite refused: {refused:?}");
        validate_all_xml(fake).map_err(on)?;
    }
    Ok(())
}

/// The depositor reserves a DOI for the draft: a draft DOI at DataCite. The DOI.
async fn a_reserved_doi_is_a_draft_at_datacite(r: &Registry) -> Result<String, Error> {
    let Registry {
        fake,
        app,
        dep,
        cur,
        id,
        ..
    } = r;
    let id = *id;
    let (status, _) = api_post(app, cur, &format!("/api/datasets/{id}/doi"), json!({})).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the depositor reserves");
    let (status, body) = api_post(app, dep, &format!("/api/datasets/{id}/doi"), json!({})).await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v1_doi = body["doi"].as_str().ok_or("reserved doi")?.to_string();
    assert!(v1_doi.starts_with(&format!("{PREFIX}/")), "{v1_doi}");
    assert!(
        matches!(body["doi_state"].as_str(), Some("pending" | "draft")),
        "{body}"
    );
    let (status, again) = api_post(app, dep, &format!("/api/datasets/{id}/doi"), json!({})).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["doi"],
        v1_doi.as_str(),
        "reserving again keeps the DOI"
    );
    let drafted = wait_for_dataset(app, dep, id, "draft DOI at DataCite", |b| {
        b["doi_state"] == "draft" && b["doi_registration"].is_null()
    })
    .await?;
    assert_eq!(drafted["doi"], v1_doi.as_str());
    assert_eq!(fake.state_of(&v1_doi).as_deref(), Some("draft"));
    let first = fake.received_for(&v1_doi);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        (first[0].method.as_str(), first[0].path.as_str()),
        ("POST", "/dois")
    );
    assert_eq!(
        first[0].event(),
        None,
        "a draft is created without an event"
    );
    assert_eq!(first[0].attributes()["prefix"], PREFIX);

    // The draft page shows the reserved DOI.
    let browser = app.browser();
    browser
        .sign_in("pi@site.org", "a long enough password")
        .await?;
    let (_, page) = browser.get_text(&format!("/datasets/{id}")).await?;
    assert!(
        page.contains("Reserved DOI") && page.contains(&v1_doi),
        "{page}"
    );
    assert!(!page.contains("Reserve a DOI</button>"));

    Ok(v1_doi)
}

/// Publication does not wait on DataCite; the job then makes both DOIs findable. The
/// concept DOI.
async fn publication_makes_both_dois_findable(r: &Registry, v1_doi: &str) -> Result<String, Error> {
    let Registry {
        fake,
        app,
        dep,
        cur,
        id,
        ..
    } = r;
    let id = *id;
    let v1 = app.publish(&app.api(dep), &app.api(cur), id).await?;
    assert_eq!(v1["doi"], v1_doi, "the reserved DOI is the version's DOI");
    let concept = v1["concept_doi"].as_str().ok_or("concept doi")?.to_string();
    wait_for_dataset(app, cur, id, "findable after publication", |b| {
        b["doi_state"] == "findable"
            && b["concept_doi_state"] == "findable"
            && b["doi_registration"].is_null()
            && b["concept_doi_registration"].is_null()
    })
    .await?;
    assert_eq!(fake.state_of(v1_doi).as_deref(), Some("findable"));
    assert_eq!(fake.state_of(&concept).as_deref(), Some("findable"));
    let landing = app.url(&format!("/datasets/{id}"));
    assert_eq!(
        fake.record(v1_doi).map(|r| r["url"].clone()),
        Some(json!(format!("{landing}/versions/1")))
    );
    assert_eq!(
        fake.record(&concept).map(|r| r["url"].clone()),
        Some(json!(landing))
    );
    let publish = fake.received_for(v1_doi);
    let last = publish.last().ok_or("publication request")?;
    assert_eq!(last.method, "PUT", "the reserved draft is updated");
    assert_eq!(last.path, format!("/dois/{v1_doi}"));
    assert_eq!(last.event(), Some("publish"));
    let concept_create = fake.received_for(&concept);
    assert_eq!(
        concept_create
            .first()
            .map(|r| (r.method.as_str(), r.event())),
        Some(("POST", Some("publish")))
    );
    assert!(has_relation(&fake.xml_of(v1_doi), "IsVersionOf", &concept));
    assert!(has_relation(&fake.xml_of(&concept), "HasVersion", v1_doi));

    Ok(concept)
}

/// A second version: its own DOI with IsNewVersionOf; the concept DOI and version 1
/// are updated (HasVersion, IsPreviousVersionOf). The new DOI.
async fn a_second_version_gets_its_own_doi_and_relations(
    r: &Registry,
    v1_doi: &str,
    concept: &str,
) -> Result<String, Error> {
    let Registry {
        fake,
        app,
        dep,
        cur,
        id,
        ..
    } = r;
    let id = *id;
    let (status, body) =
        api_post(app, dep, &format!("/api/datasets/{id}/versions"), json!({})).await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    put_file(app, dep, id, "notes.txt", b"second version").await?;
    let v2 = app.publish(&app.api(dep), &app.api(cur), id).await?;
    let v2_doi = v2["doi"].as_str().ok_or("v2 doi")?.to_string();
    assert_ne!(v2_doi, v1_doi);
    assert_eq!(v2["concept_doi"], concept);
    wait_for_datacite(
        app,
        fake,
        "version 2 registered, concept and version 1 updated",
        |f| {
            f.state_of(&v2_doi).as_deref() == Some("findable")
                && has_relation(&f.xml_of(concept), "HasVersion", &v2_doi)
                && has_relation(&f.xml_of(v1_doi), "IsPreviousVersionOf", &v2_doi)
        },
    )
    .await?;
    let v2 = wait_for_dataset(app, cur, id, "version 2 findable", |b| {
        b["doi_state"] == "findable" && b["concept_doi_registration"].is_null()
    })
    .await?;
    assert_eq!(v2["version"], 2);
    let v2_xml = fake.xml_of(&v2_doi);
    assert!(has_relation(&v2_xml, "IsNewVersionOf", v1_doi), "{v2_xml}");
    assert!(has_relation(&v2_xml, "IsVersionOf", concept), "{v2_xml}");
    let concept_xml = fake.xml_of(concept);
    assert!(
        has_relation(&concept_xml, "HasVersion", v1_doi),
        "{concept_xml}"
    );
    assert!(
        concept_xml.contains("<version>2</version>"),
        "the concept DOI describes the latest version"
    );
    // The archive's own DataCite XML says the same as what DataCite was sent.
    for (n, relation, other) in [
        (2, "IsNewVersionOf", v1_doi),
        (1, "IsPreviousVersionOf", v2_doi.as_str()),
    ] {
        let served = app
            .client()
            .get(app.url(&format!("/datasets/{id}/versions/{n}/export/datacite-xml")))
            .send()
            .await?
            .text()
            .await?;
        assert!(has_relation(&served, relation, other), "{served}");
        assert!(has_relation(&served, "IsVersionOf", concept), "{served}");
    }
    let concept_update = fake.received_for(concept);
    let last = concept_update.last().ok_or("concept update")?;
    assert_eq!(
        (last.method.as_str(), last.event()),
        ("PUT", None),
        "a metadata update"
    );
    assert_eq!(fake.state_of(concept).as_deref(), Some("findable"));

    Ok(v2_doi)
}

/// Deaccession hides every DOI: registered, no longer findable.
async fn deaccession_hides_every_doi(r: &Registry, dois: [&str; 3]) -> TestResult {
    let Registry {
        fake,
        app,
        admin,
        id,
        ..
    } = r;
    let id = *id;
    let (status, body) = api_post(
        app,
        admin,
        &format!("/api/datasets/{id}/deaccession"),
        json!({"reason": "Consent for the site data was withdrawn."}),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for_datacite(app, fake, "all DOIs hidden", |f| {
        dois.iter()
            .all(|d| f.state_of(d).as_deref() == Some("registered"))
    })
    .await?;
    for d in dois {
        let hide = fake
            .received_for(d)
            .into_iter()
            .rev()
            .find(|r| r.event() == Some("hide"))
            .ok_or(format!("no hide for {d}"))?;
        assert_eq!(hide.method, "PUT");
        assert_eq!(hide.status, 200);
    }
    wait_for_dataset(app, admin, id, "registered after deaccession", |b| {
        b["doi_state"] == "registered"
    })
    .await?;

    Ok(())
}

#[actix_web::test]
async fn datacite_being_down_delays_registration_and_never_loses_it() -> TestResult {
    for_each_backend(down_journey).await
}

async fn down_journey(backend: Backend) -> TestResult {
    let fake = FakeDatacite::start().await?;
    fake.set_down(true);
    let app = app_with_datacite(backend, &fake.url).await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let id = app.api(&dep).create_draft("Stream chemistry").await?;
    put_file(&app, &dep, id, "chem.txt", b"ph 7.1").await?;

    // Published at once, though DataCite answers 503.
    let v1 = app.publish(&app.api(&dep), &app.api(&cur), id).await?;
    assert_eq!(v1["state"], "published");
    assert_ne!(v1["doi_state"], "findable");
    let doi = v1["doi"].as_str().ok_or("doi")?.to_string();
    let failing = wait_for_dataset(&app, &cur, id, "a failed attempt shows", |b| {
        b["doi_registration"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503"))
    })
    .await?;
    assert_eq!(failing["doi_state"], "pending", "{failing}");
    assert_eq!(failing["doi_registration"]["target_state"], "findable");
    assert!(failing["doi_registration"]["attempts"].as_i64() >= Some(1));

    // The dataset page says so: with the error to the depositor, without it to the public.
    let browser = app.browser();
    browser
        .sign_in("pi@site.org", "a long enough password")
        .await?;
    let (_, page) = browser.get_text(&format!("/datasets/{id}")).await?;
    assert!(page.contains("DOI registration pending"), "{page}");
    assert!(
        page.contains("last attempt failed") && page.contains("retrying"),
        "{page}"
    );
    assert!(page.contains("503"), "{page}");
    let public = app
        .client()
        .get(app.url(&format!("/datasets/{id}")))
        .send()
        .await?;
    assert_eq!(public.status(), StatusCode::OK);
    let public = public.text().await?;
    assert!(public.contains("DOI registration pending"), "{public}");
    assert!(!public.contains("503"), "errors are for insiders: {public}");
    let public_json = api_get(&app, None, id).await?;
    assert!(public_json["doi_registration"]["last_error"].is_null());

    // DataCite comes back: the retries register the DOIs.
    fake.set_down(false);
    wait_for_dataset(&app, &cur, id, "findable once DataCite is back", |b| {
        b["doi_state"] == "findable"
            && b["concept_doi_state"] == "findable"
            && b["doi_registration"].is_null()
            && b["concept_doi_registration"].is_null()
    })
    .await?;
    assert_eq!(fake.state_of(&doi).as_deref(), Some("findable"));
    let unavailable = fake.received().iter().filter(|r| r.status == 503).count();
    assert!(
        unavailable >= 2,
        "both DOIs were tried while DataCite was down"
    );
    let (_, page) = browser.get_text(&format!("/datasets/{id}")).await?;
    assert!(!page.contains("DOI registration pending"), "{page}");
    validate_all_xml(&fake)?;
    Ok(())
}

#[actix_web::test]
async fn datacite_not_listening_at_first_is_retried_until_it_is() -> TestResult {
    for_each_backend(not_listening_journey).await
}

async fn not_listening_journey(backend: Backend) -> TestResult {
    // A port nothing listens on yet.
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let app = app_with_datacite(backend, &format!("http://{addr}")).await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let id = app.api(&dep).create_draft("Snow depth").await?;
    put_file(&app, &dep, id, "snow.txt", b"1.2 m").await?;
    let v1 = app.publish(&app.api(&dep), &app.api(&cur), id).await?;
    assert_eq!(v1["state"], "published");
    let failing = wait_for_dataset(&app, &cur, id, "a refused connection shows", |b| {
        b["doi_registration"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("could not connect"))
    })
    .await?;
    assert_eq!(failing["doi_state"], "pending");

    let fake = FakeDatacite::start_on(std::net::TcpListener::bind(addr)?)?;
    wait_for_dataset(&app, &cur, id, "findable once DataCite listens", |b| {
        b["doi_state"] == "findable" && b["concept_doi_state"] == "findable"
    })
    .await?;
    let doi = v1["doi"].as_str().ok_or("doi")?;
    assert_eq!(fake.state_of(doi).as_deref(), Some("findable"));
    Ok(())
}

#[actix_web::test]
async fn a_draft_doi_is_deleted_at_datacite_a_registered_one_never() -> TestResult {
    for_each_backend(delete_journey).await
}

async fn delete_journey(backend: Backend) -> TestResult {
    let fake = FakeDatacite::start().await?;
    let app = app_with_datacite(backend, &fake.url).await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let id = app.api(&dep).create_draft("Abandoned plot").await?;
    put_file(&app, &dep, id, "plot.txt", b"plot 7").await?;
    let (status, body) =
        api_post(&app, &dep, &format!("/api/datasets/{id}/doi"), json!({})).await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let draft_doi = body["doi"].as_str().ok_or("doi")?.to_string();
    wait_for_datacite(&app, &fake, "draft created", |f| {
        f.state_of(&draft_doi).is_some()
    })
    .await?;

    // What deleting a draft dataset does with its reserved DOI.
    let settings = app.archive.settings.clone();
    let d = draft_doi.clone();
    app.archive
        .db
        .run(move |conn| holdfast::doi::registration::discard_draft(conn, &settings, &d))
        .await?;
    app.archive.wake_workers();
    wait_for_datacite(&app, &fake, "draft deleted", |f| {
        f.record(&draft_doi).is_none()
    })
    .await?;
    let delete = fake
        .received_for(&draft_doi)
        .into_iter()
        .find(|r| r.method == "DELETE")
        .ok_or("no DELETE")?;
    assert_eq!(delete.status, 204);
    let shown = api_get(&app, Some(&dep), id).await?;
    assert!(shown["doi"].is_null(), "{shown}");

    // Published, the dataset gets a new DOI, which is never deleted.
    let v1 = app.publish(&app.api(&dep), &app.api(&cur), id).await?;
    let doi = v1["doi"].as_str().ok_or("doi")?.to_string();
    assert_ne!(doi, draft_doi);
    wait_for_dataset(&app, &cur, id, "findable", |b| b["doi_state"] == "findable").await?;
    let settings = app.archive.settings.clone();
    let d = doi.clone();
    let refused = app
        .archive
        .db
        .run(move |conn| holdfast::doi::registration::discard_draft(conn, &settings, &d))
        .await;
    assert!(
        matches!(refused, Err(holdfast::error::DomainError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(fake.state_of(&doi).as_deref(), Some("findable"));
    assert!(
        fake.received()
            .iter()
            .filter(|r| r.method == "DELETE")
            .count()
            == 1
    );
    Ok(())
}

#[actix_web::test]
async fn the_local_registrar_reserves_a_draft_doi_from_the_draft_page() -> TestResult {
    on_each_backend(|app| async move {
        let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
        let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
        let id = app.api(&dep).create_draft("Leaf area index").await?;
        put_file(&app, &dep, id, "lai.txt", b"3.2").await?;
        let browser = app.browser();
        browser
            .sign_in("pi@site.org", "a long enough password")
            .await?;
        let page = format!("/datasets/{id}");
        let (_, html) = browser.get_text(&page).await?;
        assert!(html.contains("Reserve a DOI</button>"), "{html}");
        let r = browser
            .post_form(&page, &format!("/datasets/{id}/doi"), &[])
            .await?;
        expect_redirect(&r, &format!("/datasets/{id}?msg=doi_reserved"))?;
        let (_, html) = browser.get_text(&page).await?;
        let shown = api_get(&app, Some(&dep), id).await?;
        let doi = shown["doi"].as_str().ok_or("reserved doi")?.to_string();
        assert!(doi.starts_with("10.5072/"), "{doi}");
        assert!(
            html.contains("Reserved DOI") && html.contains(&doi) && html.contains("(draft:"),
            "{html}"
        );
        assert!(!html.contains("Reserve a DOI</button>"));
        // The local registrar holds it at once, as a draft that does not resolve yet.
        assert_eq!(shown["doi_state"], "draft");
        assert!(shown["doi_registration"].is_null());
        let r = app
            .client()
            .get(app.url(&format!("/doi/{doi}")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // Others cannot reserve on this draft.
        let (status, _) =
            api_post(&app, &cur, &format!("/api/datasets/{id}/doi"), json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Publication makes the reserved DOI findable at once.
        let v1 = app.publish(&app.api(&dep), &app.api(&cur), id).await?;
        assert_eq!(v1["doi"], doi.as_str());
        assert_eq!(v1["doi_state"], "findable");
        assert_eq!(v1["concept_doi_state"], "findable");
        assert!(v1["doi_registration"].is_null());
        let r = app
            .client()
            .get(app.url(&format!("/doi/{doi}")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FOUND);
        // A published dataset has nothing to reserve.
        let (status, _) =
            api_post(&app, &dep, &format!("/api/datasets/{id}/doi"), json!({})).await?;
        assert_eq!(status, StatusCode::CONFLICT);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn switching_to_datacite_registers_the_archives_dois_at_start() -> TestResult {
    for_each_backend(switch_journey).await
}

async fn switch_journey(backend: Backend) -> TestResult {
    use holdfast::config::{DataciteSettings, DoiProviderKind, Secret};
    let fake = FakeDatacite::start().await?;
    // An archive on the local registrar whose jobs run only when the test says so.
    let app = TestApp::builder()
        .settings(|args| args.doi_prefix = Some(PREFIX.into()))
        .spawn(backend)
        .await?;
    let dep = app.new_user("pi@site.org", Role::Depositor).await?.token;
    let cur = app.new_user("cur@archive.org", Role::Curator).await?.token;
    let id = app.api(&dep).create_draft("Long-term plots").await?;
    put_file(&app, &dep, id, "plots.txt", b"plot 1").await?;
    app.run_jobs().await?;
    let (status, body) =
        api_post(&app, &dep, &format!("/api/datasets/{id}/submit"), json!({})).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api_post(
        &app,
        &cur,
        &format!("/api/datasets/{id}/review"),
        json!({"decision": "accept"}),
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.run_jobs().await?;
    let local = api_get(&app, Some(&cur), id).await?;
    assert_eq!(local["state"], "published");
    assert_eq!(
        local["doi_state"], "findable",
        "the local registrar: at once"
    );
    let doi = local["doi"].as_str().ok_or("doi")?.to_string();
    let concept = local["concept_doi"].as_str().ok_or("concept")?.to_string();
    assert!(fake.received().is_empty());

    // The same archive started again with DataCite: its DOIs are registered there.
    let mut settings = (*app.archive.settings).clone();
    settings.doi_provider = DoiProviderKind::Datacite;
    settings.datacite = Some(DataciteSettings {
        url: fake.url.clone(),
        repository: REPOSITORY.into(),
        password: Secret::new(PASSWORD),
    });
    let restarted = holdfast::app::Archive::open(settings).await?;
    let statuses = {
        let s = restarted.settings.clone();
        restarted
            .db
            .run(move |conn| holdfast::doi::registration::statuses_of_dataset(conn, &s, id))
            .await?
    };
    assert!(
        statuses
            .iter()
            .all(|s| s.is_pending() && s.agency_state() == "pending"),
        "{statuses:?}"
    );
    holdfast::jobs::run_pending_now(&restarted).await?;
    assert_eq!(fake.state_of(&doi).as_deref(), Some("findable"));
    assert_eq!(fake.state_of(&concept).as_deref(), Some("findable"));
    let statuses = {
        let s = restarted.settings.clone();
        restarted
            .db
            .run(move |conn| holdfast::doi::registration::statuses_of_dataset(conn, &s, id))
            .await?
    };
    assert!(
        statuses
            .iter()
            .all(|s| !s.is_pending() && s.agency_state() == "findable"),
        "{statuses:?}"
    );
    validate_all_xml(&fake)?;
    Ok(())
}
