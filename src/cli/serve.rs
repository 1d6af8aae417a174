//! `holdfast serve`, `holdfast worker` and `holdfast migrate`: running the archive.

use crate::app::Archive;
use crate::config::Settings;
use crate::web::Application;

/// The web server and, unless `no_worker`, the background job workers.
pub(super) async fn serve(settings: Settings, no_worker: bool) -> anyhow::Result<()> {
    let archive = Archive::open(settings).await?;
    let app = Application::build(archive.clone())?;
    let workers = if no_worker {
        0
    } else {
        archive.settings.workers
    };
    crate::jobs::Worker::spawn_all(&archive, workers);
    tracing::info!(
        url = %archive.settings.base_url,
        port = app.port(),
        workers,
        data_dir = %archive.settings.data_dir.display(),
        database = ?archive.db.backend(),
        mail = %archive.mailer.describe(),
        "holdfast is serving"
    );
    app.run_until_stopped().await?;
    Ok(())
}

/// Only the background job workers, until SIGINT or SIGTERM.
pub(super) async fn worker(settings: Settings) -> anyhow::Result<()> {
    let archive = Archive::open(settings).await?;
    let workers = archive.settings.workers.max(1);
    crate::jobs::Worker::spawn_all(&archive, workers);
    tracing::info!(
        workers,
        database = ?archive.db.backend(),
        "holdfast job workers are running (no web server)"
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    // A job cut short here keeps its lease; another worker takes it over when
    // the lease ends (every job is idempotent).
    tracing::info!("stopping the job workers");
    Ok(())
}

/// Migrations and the storage root, then exit.
pub(super) async fn migrate(settings: Settings) -> anyhow::Result<()> {
    Archive::open(settings).await?;
    eprintln!("database and storage are up to date");
    Ok(())
}
