//! [`TestApp`]: the real server, in this process, on a fresh database and data folder.
//!
//! ```ignore
//! let app = TestApp::builder().settings(|s| s.site_name = Some("Flux".into())).spawn(backend).await?;
//! TestApp::builder().on_each_backend(|app| async move { ... }).await
//! ```
//! Jobs (checks, publication, mail) run when the journey calls [`TestApp::run_jobs`]:
//! no background worker runs unless the builder asks for some with
//! [`Builder::background_workers`], so a journey never waits on a clock.

use diesel::{Connection, RunQueryDsl};
use holdfast::accounts::Role;
use holdfast::app::Archive;
use holdfast::config::{Settings, SettingsArgs};
use holdfast::web::Application;
use rand::Rng;
use reqwest::{redirect, Client};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use super::api::Api;
use super::browser::Browser;
use super::users::{User, Users};
use super::wait::{self, Check};
use super::{Error, TestResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends every journey runs on: SQLite, and PostgreSQL when
/// `HOLDFAST_TEST_DATABASE_URL` names a database.
pub fn backends() -> Vec<Backend> {
    let mut list = vec![Backend::Sqlite];
    if std::env::var("HOLDFAST_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        list.push(Backend::Postgres);
    }
    list
}

/// Runs a journey once per backend, each time on a fresh archive of the default builder.
pub async fn on_each_backend<F, Fut>(journey: F) -> TestResult
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = TestResult>,
{
    TestApp::builder().on_each_backend(journey).await
}

/// Runs `journey` once per backend, naming the backend in a failure: for journeys that
/// start the real binary rather than a [`TestApp`].
pub async fn for_each_backend<F, Fut>(journey: F) -> TestResult
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = TestResult>,
{
    for backend in backends() {
        journey(backend)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

fn random_suffix() -> String {
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| (b'a' + rng.gen_range(0..26)) as char)
        .collect()
}

/// A PostgreSQL URL whose connections use a new, empty schema of their own.
pub fn fresh_postgres_schema() -> Result<String, Error> {
    let base = std::env::var("HOLDFAST_TEST_DATABASE_URL")?;
    let schema = format!("t_{}", random_suffix());
    let mut conn = diesel::PgConnection::establish(&base)?;
    diesel::sql_query(format!("CREATE SCHEMA {schema}")).execute(&mut conn)?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}options=-csearch_path%3D{schema}"))
}

type Adjust = Arc<dyn Fn(&mut SettingsArgs) + Send + Sync>;

/// How a [`TestApp`] is made: settings adjusted, background workers or none.
#[derive(Clone, Default)]
pub struct Builder {
    adjust: Vec<Adjust>,
    workers: usize,
}

impl Builder {
    /// Adjusts the settings (after the harness's own: bind, base URL, data folder,
    /// database, quick retries).
    pub fn settings(mut self, adjust: impl Fn(&mut SettingsArgs) + Send + Sync + 'static) -> Self {
        self.adjust.push(Arc::new(adjust));
        self
    }

    /// Runs `count` job workers in the background, as `holdfast serve` does; for
    /// journeys about the workers themselves. Others call [`TestApp::run_jobs`].
    pub fn background_workers(mut self, count: usize) -> Self {
        self.workers = count;
        self
    }

    /// Starts the server on a free port, on a fresh database and data folder.
    pub async fn spawn(&self, backend: Backend) -> Result<TestApp, Error> {
        let dir = Arc::new(tempfile::tempdir()?);
        let data_dir = dir.path().join("data");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_schema()?),
        };
        self.spawn_on(backend, dir, data_dir, database_url).await
    }

    async fn spawn_on(
        &self,
        backend: Backend,
        dir: Arc<tempfile::TempDir>,
        data_dir: PathBuf,
        database_url: Option<String>,
    ) -> Result<TestApp, Error> {
        holdfast::cli::init_logging("warn");
        // The listener is bound here and handed to the server: no port race.
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
            workers: Some(self.workers),
            ..Default::default()
        };
        for adjust in &self.adjust {
            adjust(&mut args);
        }
        let settings = Settings::load(&args)?;
        let archive = Archive::open(settings).await?;
        let app = Application::from_listener(archive.clone(), listener)?;
        holdfast::jobs::Worker::spawn_all(&archive, self.workers);
        let base = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        Ok(TestApp {
            base,
            archive,
            data_dir,
            backend,
            builder: self.clone(),
            dir,
        })
    }

    /// Runs a journey once per backend, each time on a fresh archive; an error names
    /// the backend it happened on.
    pub async fn on_each_backend<F, Fut>(&self, journey: F) -> TestResult
    where
        F: Fn(TestApp) -> Fut,
        Fut: Future<Output = TestResult>,
    {
        for backend in backends() {
            let app = self.spawn(backend).await?;
            if let Err(e) = journey(app).await {
                return Err(format!("on {backend:?}: {e}").into());
            }
        }
        Ok(())
    }
}

pub struct TestApp {
    pub base: String,
    pub archive: Archive,
    pub data_dir: PathBuf,
    pub backend: Backend,
    builder: Builder,
    dir: Arc<tempfile::TempDir>,
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The folder the archive's data folder sits in (deleted with the last app on it).
    pub fn work_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Another server on the same data folder and database, started as after a restart
    /// (or as another node behind the same URL): its start-up work runs again.
    pub async fn restarted(&self) -> Result<TestApp, Error> {
        let database_url = Some(self.archive.settings.database_url.clone());
        self.builder
            .spawn_on(
                self.backend,
                self.dir.clone(),
                self.data_dir.clone(),
                database_url,
            )
            .await
    }

    pub fn ocfl_root(&self) -> PathBuf {
        self.data_dir.join("ocfl")
    }

    /// A browser: keeps cookies, does not follow redirects (journeys look at them).
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A browser signed in as `user`.
    pub async fn signed_in(&self, user: &User) -> Result<Browser, Error> {
        let browser = self.browser();
        browser.sign_in(&user.email, &user.password).await?;
        Ok(browser)
    }

    /// A plain HTTP client (no redirects followed).
    pub fn client(&self) -> Client {
        Client::builder()
            .redirect(redirect::Policy::none())
            .pool_idle_timeout(super::IDLE_CONNECTION)
            .build()
            .expect("client builds")
    }

    /// The JSON API as the holder of `token`.
    pub fn api(&self, token: &str) -> Api {
        Api::new(&self.base, Some(token))
    }

    /// The JSON API without a token (what anybody may do).
    pub fn public_api(&self) -> Api {
        Api::new(&self.base, None)
    }

    /// A depositor, a curator and an admin, each with a password and an API token.
    pub async fn users(&self) -> Result<Users, Error> {
        Ok(Users {
            depositor: self.new_user("dep@example.org", Role::Depositor).await?,
            curator: self.new_user("cur@example.org", Role::Curator).await?,
            admin: self.new_user("admin@example.org", Role::Admin).await?,
        })
    }

    /// An account of `role`, with a password and an API token.
    pub async fn new_user(&self, email: &str, role: Role) -> Result<User, Error> {
        let (email, password) = (email.to_string(), User::PASSWORD.to_string());
        let (e, p) = (email.clone(), password.clone());
        let (id, token) = self
            .archive
            .db
            .run(move |conn| {
                let user = holdfast::accounts::users::create(conn, &e, "Test Person", role, &p)?;
                let token = holdfast::accounts::tokens::create(conn, user.id, "test")?;
                Ok((user.id, token))
            })
            .await?;
        Ok(User {
            id,
            email,
            password,
            token,
            role,
        })
    }

    /// Runs every job that is due now (checks, publications, mail, DOI registrations)
    /// in this task, until none is left; how many ran.
    pub async fn run_jobs(&self) -> Result<usize, Error> {
        Ok(holdfast::jobs::run_pending_now(&self.archive).await?)
    }

    /// Runs due jobs until `probe` reports done: for jobs that retry after a backoff
    /// (a server that was down), which come due only later. Bounded by
    /// [`wait::PATIENCE`].
    pub async fn run_jobs_until<T, F, Fut>(&self, what: &str, mut probe: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Check<T>, Error>>,
    {
        wait::eventually(what, || {
            let ran = self.run_jobs();
            let looked = probe();
            async move {
                ran.await?;
                looked.await
            }
        })
        .await
    }

    /// Jobs that failed, wait for a retry or are not done yet, with their errors (for failure
    /// messages).
    pub async fn job_troubles(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .archive
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::jobs;
                Ok(jobs::table
                    .filter(jobs::last_error.is_not_null().or(jobs::state.ne("done")))
                    .select((jobs::kind, jobs::state, jobs::run_after, jobs::last_error))
                    .load::<(String, String, chrono::NaiveDateTime, Option<String>)>(conn)?)
            })
            .await?
            .into_iter()
            .map(|(kind, state, due, error)| {
                format!("{kind} ({state}, due {due}): {}", error.unwrap_or_default())
            })
            .collect())
    }

    /// Takes a draft to publication: runs its checks, the depositor submits, the
    /// curator accepts, the publication job runs. The published dataset's JSON.
    pub async fn publish(
        &self,
        depositor: &Api,
        curator: &Api,
        id: i64,
    ) -> Result<serde_json::Value, Error> {
        self.run_jobs().await?;
        depositor.submit(id).await?;
        curator.accept(id).await?;
        // A background worker, when the app has some, may hold the publication job
        // while run_jobs finds nothing due: wait for the state, not for run_jobs.
        let published = self
            .run_jobs_until("the publication", || async {
                let dataset = curator.dataset(id).await?;
                Ok(wait::check(dataset["state"] == "published", dataset))
            })
            .await;
        match published {
            Ok(dataset) => Ok(dataset),
            Err(e) => Err(format!(
                "dataset {id} is not published after its jobs ran: {e}; jobs: {:?}",
                self.job_troubles().await?
            )
            .into()),
        }
    }

    /// A new draft with minimal metadata and `files`, published by `users`; its JSON.
    pub async fn published(
        &self,
        users: &Users,
        title: &str,
        files: &[(&str, &[u8])],
    ) -> Result<serde_json::Value, Error> {
        let depositor = self.api(&users.depositor.token);
        let id = depositor.create_draft(title).await?;
        for (path, bytes) in files {
            depositor.put_file(id, path, bytes).await?;
        }
        self.publish(&depositor, &self.api(&users.curator.token), id)
            .await
    }
}
