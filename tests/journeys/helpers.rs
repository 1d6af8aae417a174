use diesel::{Connection, RunQueryDsl};
use holdfast::app::Archive;
use holdfast::config::{Settings, SettingsArgs};
use holdfast::web::Application;
use rand::Rng;
use reqwest::{header, redirect, Client, Response, StatusCode};
use std::future::Future;
use std::path::{Path, PathBuf};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends every journey runs on.
pub fn backends() -> Vec<Backend> {
    let mut list = vec![Backend::Sqlite];
    if std::env::var("HOLDFAST_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        list.push(Backend::Postgres);
    }
    list
}

/// Runs a journey once per backend, each time on a fresh archive.
pub async fn on_each_backend<F, Fut>(journey: F) -> TestResult
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = TestResult>,
{
    for backend in backends() {
        let app = TestApp::spawn(backend).await?;
        let label = format!("{backend:?}");
        if let Err(e) = journey(app).await {
            return Err(format!("on {label}: {e}").into());
        }
    }
    Ok(())
}

/// How long test clients keep an idle connection. A journey that blocks its thread on
/// an external checker for longer than the server's keep-alive (5 s) would otherwise
/// reuse a connection the server closed meanwhile ("error sending request").
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// An HTTP client builder for journeys: idle connections are dropped before the
/// server's keep-alive ends (see `POOL_IDLE`).
pub fn http_client() -> reqwest::ClientBuilder {
    Client::builder().pool_idle_timeout(POOL_IDLE)
}

/// A plain HTTP client for journeys (see `http_client`).
pub fn fresh_client() -> Client {
    http_client().build().expect("client builds")
}

pub struct TestApp {
    pub base: String,
    pub archive: Archive,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

fn random_suffix() -> String {
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| (b'a' + rng.gen_range(0..26)) as char)
        .collect()
}

/// A PostgreSQL URL whose connections use a new, empty schema of their own.
pub fn fresh_postgres_schema() -> Result<String, Box<dyn std::error::Error>> {
    let base = std::env::var("HOLDFAST_TEST_DATABASE_URL")?;
    let schema = format!("t_{}", random_suffix());
    let mut conn = diesel::PgConnection::establish(&base)?;
    diesel::sql_query(format!("CREATE SCHEMA {schema}")).execute(&mut conn)?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}options=-csearch_path%3D{schema}"))
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Result<TestApp, Box<dyn std::error::Error>> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut SettingsArgs),
    ) -> Result<TestApp, Box<dyn std::error::Error>> {
        holdfast::cli::init_logging("warn");
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("data");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_schema()?),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let bound = listener.local_addr()?;
        let mut args = SettingsArgs {
            bind: Some(bound.to_string()),
            base_url: Some(format!("http://{bound}")),
            data_dir: Some(data_dir.clone()),
            database_url,
            db_pool_size: Some(4),
            // Retries come quickly so tests of "down for a while" finish fast.
            job_backoff_ms: Some(200),
            ..Default::default()
        };
        adjust(&mut args);
        let settings = Settings::load(&args)?;
        let archive = Archive::open(settings).await?;
        let app = Application::from_listener(archive.clone(), listener)?;
        holdfast::jobs::Worker::spawn_all(&archive, archive.settings.workers);
        let base = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        Ok(TestApp {
            base,
            archive,
            data_dir,
            _dir: dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser: keeps cookies, does not follow redirects (tests look at them).
    pub fn browser(&self) -> Browser {
        Browser {
            client: http_client()
                .cookie_store(true)
                .redirect(redirect::Policy::none())
                .build()
                .expect("client builds"),
            base: self.base.clone(),
        }
    }

    /// A plain HTTP client for the API and public downloads.
    pub fn client(&self) -> Client {
        http_client()
            .redirect(redirect::Policy::none())
            .build()
            .expect("client builds")
    }

    /// Creates an account directly in the database.
    pub async fn user(
        &self,
        email: &str,
        role: holdfast::accounts::Role,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let email = email.to_string();
        let password = "a long enough password".to_string();
        let p = password.clone();
        self.archive
            .db
            .run(move |conn| {
                holdfast::accounts::users::create(conn, &email, "Test Person", role, &p).map(|_| ())
            })
            .await?;
        Ok(password)
    }

    /// An API token for a new account with the given role.
    pub async fn token_for(
        &self,
        email: &str,
        role: holdfast::accounts::Role,
    ) -> Result<String, Box<dyn std::error::Error>> {
        self.user(email, role).await?;
        let email = email.to_string();
        Ok(self
            .archive
            .db
            .run(move |conn| {
                let u = holdfast::accounts::users::find_by_email(conn, &email)?
                    .ok_or(holdfast::error::DomainError::NotFound)?;
                holdfast::accounts::tokens::create(conn, u.id, "test")
            })
            .await?)
    }

    /// Creates a draft with minimal metadata through the API; returns its id.
    pub async fn api_draft(
        &self,
        token: &str,
        title: &str,
    ) -> Result<i64, Box<dyn std::error::Error>> {
        let r = self
            .client()
            .post(self.url("/api/datasets"))
            .bearer_auth(token)
            .json(&minimal_json(title))
            .send()
            .await?;
        if r.status() != StatusCode::CREATED {
            return Err(format!("creating a draft: {}", r.status()).into());
        }
        r.json::<serde_json::Value>().await?["id"]
            .as_i64()
            .ok_or_else(|| "no id in the answer".into())
    }

    /// Waits until no data standards check of the dataset is queued or running (for
    /// journeys that act through the browser and hold no API token).
    pub async fn settle_checks(&self, id: i64) -> TestResult {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let checking = self
                .archive
                .db
                .run(move |conn| {
                    use diesel::prelude::*;
                    use holdfast::db::schema::dataset_versions;
                    let versions: Vec<i64> = dataset_versions::table
                        .filter(dataset_versions::dataset_id.eq(id))
                        .select(dataset_versions::id)
                        .load(conn)?;
                    for v in versions {
                        if holdfast::qa::validation::is_checking(conn, v)? {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                })
                .await?;
            if !checking {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err("the data standards check did not finish within a minute".into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until an approved dataset's publication job has finished (for browser
    /// journeys that hold no API token).
    pub async fn settle_publication(&self, id: i64) -> TestResult {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let state = self
                .archive
                .db
                .run(move |conn| {
                    use diesel::prelude::*;
                    use holdfast::db::schema::datasets;
                    Ok(datasets::table
                        .find(id)
                        .select(datasets::state)
                        .first::<String>(conn)?)
                })
                .await?;
            if state != "approved" {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err("the publication did not finish within a minute".into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until the dataset's data standards check has finished (the report's state
    /// is no longer "checking"); returns the report.
    pub async fn wait_for_checks(
        &self,
        token: &str,
        id: i64,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let r = self
                .client()
                .get(self.url(&format!("/api/datasets/{id}/validation")))
                .bearer_auth(token)
                .send()
                .await?;
            if r.status() != StatusCode::OK {
                return Err(format!("validation report: {}", r.status()).into());
            }
            let report: serde_json::Value = r.json().await?;
            if report["state"] != "checking" {
                return Ok(report);
            }
            if std::time::Instant::now() > deadline {
                return Err("the data standards check did not finish within a minute".into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Submits a draft (depositor's token) and accepts it (curator's token) through the
    /// API; returns the published dataset's JSON.
    pub async fn api_publish(
        &self,
        depositor: &str,
        curator: &str,
        id: i64,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let client = self.client();
        self.wait_for_checks(depositor, id).await?;
        let r = client
            .post(self.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(depositor)
            .send()
            .await?;
        if r.status() != StatusCode::OK {
            let status = r.status();
            return Err(format!("submit: {status}: {}", r.text().await?).into());
        }
        let r = client
            .post(self.url(&format!("/api/datasets/{id}/review")))
            .bearer_auth(curator)
            .json(&serde_json::json!({"decision": "accept"}))
            .send()
            .await?;
        if r.status() != StatusCode::ACCEPTED {
            let status = r.status();
            return Err(format!("accept: {status}: {}", r.text().await?).into());
        }
        self.wait_published(curator, id).await
    }

    /// Waits until an approved dataset is published (the publication job ran); returns
    /// its JSON.
    pub async fn wait_published(
        &self,
        token: &str,
        id: i64,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let body: serde_json::Value = self
                .client()
                .get(self.url(&format!("/api/datasets/{id}")))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            if body["state"] == "published" {
                return Ok(body);
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("not published within a minute: {body}").into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub fn ocfl_root(&self) -> PathBuf {
        self.data_dir.join("ocfl")
    }
}

pub struct Browser {
    pub client: Client,
    pub base: String,
}

pub fn csrf_in(html: &str) -> Option<String> {
    let re = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#).ok()?;
    re.captures(html).map(|c| c[1].to_string())
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Result<Response> {
        self.client
            .get(format!("{}{}", self.base, path))
            .send()
            .await
    }

    pub async fn get_text(
        &self,
        path: &str,
    ) -> Result<(StatusCode, String), Box<dyn std::error::Error>> {
        let r = self.get(path).await?;
        let status = r.status();
        Ok((status, r.text().await?))
    }

    /// Fetches the page to get a CSRF token, as a browser showing the form would.
    pub async fn csrf(&self, page: &str) -> Result<String, Box<dyn std::error::Error>> {
        let (_, html) = self.get_text(page).await?;
        csrf_in(&html).ok_or_else(|| format!("no csrf token on {page}").into())
    }

    /// Submits a form with the page's CSRF token.
    pub async fn post_form(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Result<Response, Box<dyn std::error::Error>> {
        let token = self.csrf(page).await?;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        Ok(self
            .client
            .post(format!("{}{}", self.base, action))
            .form(&all)
            .send()
            .await?)
    }

    pub async fn sign_up(&self, name: &str, email: &str, password: &str) -> TestResult {
        let r = self
            .post_form(
                "/signup",
                "/signup",
                &[("name", name), ("email", email), ("password", password)],
            )
            .await?;
        expect_redirect(&r, "/datasets/mine")?;
        Ok(())
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> TestResult {
        let r = self
            .post_form(
                "/signin",
                "/signin",
                &[("email", email), ("password", password)],
            )
            .await?;
        expect_redirect(&r, "/datasets/mine")?;
        Ok(())
    }

    /// Creates a dataset through the form; returns its id.
    pub async fn create_dataset(
        &self,
        fields: &[(&str, &str)],
    ) -> Result<i64, Box<dyn std::error::Error>> {
        let r = self.post_form("/datasets/new", "/datasets", fields).await?;
        let location = expect_redirect_prefix(&r, "/datasets/")?;
        Ok(location.trim_start_matches("/datasets/").parse()?)
    }

    /// Uploads files through the multipart form of a draft page.
    pub async fn upload(
        &self,
        dataset_id: i64,
        folder: &str,
        unpack: bool,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Response, Box<dyn std::error::Error>> {
        let token = self.csrf(&format!("/datasets/{dataset_id}")).await?;
        let mut form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .text("folder", folder.to_string());
        if unpack {
            form = form.text("unpack", "1");
        }
        for (name, bytes) in files {
            form = form.part(
                "files",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        }
        Ok(self
            .client
            .post(format!("{}/datasets/{dataset_id}/files", self.base))
            .multipart(form)
            .send()
            .await?)
    }
}

pub fn location(r: &Response) -> Option<String> {
    r.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub fn expect_redirect(r: &Response, to: &str) -> TestResult {
    if r.status() != StatusCode::SEE_OTHER || location(r).as_deref() != Some(to) {
        return Err(format!(
            "expected 303 to {to}, got {} to {:?}",
            r.status(),
            location(r)
        )
        .into());
    }
    Ok(())
}

pub fn expect_redirect_prefix(
    r: &Response,
    prefix: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    match location(r) {
        Some(l) if r.status() == StatusCode::SEE_OTHER && l.starts_with(prefix) => Ok(l),
        other => Err(format!("expected 303 to {prefix}…, got {} to {other:?}", r.status()).into()),
    }
}

/// The minimal valid metadata form.
pub fn minimal_form(title: &str) -> Vec<(&str, &str)> {
    vec![
        ("titles[0].title", title),
        ("creators[0].name", "Doe, Jane"),
        ("creators[0].nameType", "Personal"),
        (
            "descriptions[0].description",
            "Half-hourly fluxes of CO2, water and energy.",
        ),
        ("types.resourceTypeGeneral", "Dataset"),
        ("license", "CC-BY-4.0"),
    ]
}

/// Minimal valid metadata as DataCite JSON.
pub fn minimal_json(title: &str) -> serde_json::Value {
    serde_json::json!({
        "titles": [{"title": title}],
        "creators": [{"name": "Doe, Jane", "nameType": "Personal"}],
        "descriptions": [{"description": "Fluxes.", "descriptionType": "Abstract"}],
        "types": {"resourceTypeGeneral": "Dataset"},
        "rightsList": [{"rightsIdentifier": "CC-BY-4.0"}]
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Runs ocfl-py's validator on every object of an OCFL root; fails when it is not
/// installed (scripts/test installs it) or when any object is invalid.
pub fn validate_ocfl_root(root: &Path) -> TestResult {
    let validator = std::env::var("HOLDFAST_OCFL_VALIDATE")
        .map_err(|_| "HOLDFAST_OCFL_VALIDATE is not set: run the tests with scripts/test")?;
    let mut objects = Vec::new();
    find_objects(root, &mut objects)?;
    if objects.is_empty() {
        return Err(format!("no OCFL object under {}", root.display()).into());
    }
    for object in objects {
        let out = std::process::Command::new(&validator)
            .arg(&object)
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || text.contains("[E") {
            return Err(format!(
                "ocfl-validate.py says {} is invalid:\n{text}",
                object.display()
            )
            .into());
        }
    }
    Ok(())
}

fn find_objects(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if dir.join("0=ocfl_object_1.1").exists() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            find_objects(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// Builds a zip in memory from (name, bytes) pairs.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts: zip::write::SimpleFileOptions = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, opts).expect("zip entry");
            w.write_all(bytes).expect("zip write");
        }
        w.finish().expect("zip finish");
    }
    buf.into_inner()
}
