//! The harness's former names, kept so journeys not yet moved to `crate::support` (and
//! journeys of other branches) still compile. New journeys use `crate::support`; see
//! docs/testing.md. The waits below run the due jobs themselves, so they also work on
//! an app without background workers.
// Nothing in this branch uses these names any more; other branches' journeys may.
#![allow(dead_code, unused_imports)]

pub use crate::support::*;

use holdfast::accounts::Role;
use holdfast::config::SettingsArgs;
use std::future::Future;

/// Former `on_each_backend`: background workers on, as journeys written for it expect.
pub async fn on_each_backend<F, Fut>(journey: F) -> TestResult
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = TestResult>,
{
    TestApp::builder()
        .background_workers(2)
        .on_each_backend(journey)
        .await
}

impl TestApp {
    /// Former constructor: background workers on.
    pub async fn spawn(backend: Backend) -> Result<TestApp, Error> {
        TestApp::builder()
            .background_workers(2)
            .spawn(backend)
            .await
    }

    /// Former constructor with adjusted settings: background workers on unless the
    /// adjustment sets `workers`.
    pub async fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut SettingsArgs) + Send + 'static,
    ) -> Result<TestApp, Error> {
        // Only `workers` is read before: the rest applies after the harness's own.
        let mut probe = SettingsArgs::default();
        let adjust = std::sync::Mutex::new(Some(adjust));
        if let Ok(mut slot) = adjust.lock() {
            if let Some(f) = slot.take() {
                f(&mut probe);
            }
        }
        let workers = probe.workers.unwrap_or(2);
        let probe = std::sync::Mutex::new(probe);
        TestApp::builder()
            .background_workers(workers)
            .settings(move |target| {
                if let Ok(mut given) = probe.lock() {
                    overlay(std::mem::take(&mut *given), target);
                }
            })
            .spawn(backend)
            .await
    }

    /// Creates an account; its password.
    pub async fn user(&self, email: &str, role: Role) -> Result<String, Error> {
        Ok(self.new_user(email, role).await?.password)
    }

    /// An API token for a new account with the given role.
    pub async fn token_for(&self, email: &str, role: Role) -> Result<String, Error> {
        Ok(self.new_user(email, role).await?.token)
    }

    /// Creates a draft with minimal metadata through the API; returns its id.
    pub async fn api_draft(&self, token: &str, title: &str) -> Result<i64, Error> {
        self.api(token).create_draft(title).await
    }

    /// Runs jobs until no data standards check of the dataset is queued or running.
    pub async fn settle_checks(&self, id: i64) -> TestResult {
        self.run_jobs_until("the data standards check", || async move {
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
            Ok(wait::check(!checking, checking))
        })
        .await
        .map(|_| ())
    }

    /// Runs jobs until an approved dataset's publication job has finished.
    pub async fn settle_publication(&self, id: i64) -> TestResult {
        self.run_jobs_until("the publication", || async move {
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
            Ok(wait::check(state != "approved", state))
        })
        .await
        .map(|_| ())
    }

    /// Runs jobs until the dataset's data standards check has finished; the report.
    pub async fn wait_for_checks(&self, token: &str, id: i64) -> Result<serde_json::Value, Error> {
        let api = self.api(token);
        self.run_jobs_until("the data standards check", || async {
            let report = api.validation(id).await?;
            Ok(wait::check(report["state"] != "checking", report))
        })
        .await
    }

    /// Submits a draft and accepts it through the API; the published dataset's JSON.
    pub async fn api_publish(
        &self,
        depositor: &str,
        curator: &str,
        id: i64,
    ) -> Result<serde_json::Value, Error> {
        self.wait_for_checks(depositor, id).await?;
        self.publish(&self.api(depositor), &self.api(curator), id)
            .await
    }

    /// Runs jobs until an approved dataset is published; its JSON.
    pub async fn wait_published(&self, token: &str, id: i64) -> Result<serde_json::Value, Error> {
        let api = self.api(token);
        self.run_jobs_until("the publication", || async {
            let body = api.dataset(id).await?;
            Ok(wait::check(body["state"] == "published", body))
        })
        .await
    }
}

/// Puts what an old-style adjustment set over the harness's own settings.
fn overlay(given: SettingsArgs, to: &mut SettingsArgs) {
    let base = std::mem::take(to);
    *to = SettingsArgs {
        bind: given.bind.or(base.bind),
        base_url: given.base_url.or(base.base_url),
        data_dir: given.data_dir.or(base.data_dir),
        database_url: given.database_url.or(base.database_url),
        db_pool_size: given.db_pool_size.or(base.db_pool_size),
        job_backoff_ms: given.job_backoff_ms.or(base.job_backoff_ms),
        workers: given.workers.or(base.workers),
        ..given
    };
}
