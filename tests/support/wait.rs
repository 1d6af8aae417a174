//! The one bounded polling loop, for work that another process does (a `holdfast worker`
//! process, a replica's pull, a child server starting, an SMTP server receiving). Work
//! of this process never needs it: [`crate::support::TestApp::run_jobs`] runs it now.

use std::future::Future;
use std::time::{Duration, Instant};

use super::Error;

/// How long anything another process does may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);
const FIRST_STEP: Duration = Duration::from_millis(20);
const LONGEST_STEP: Duration = Duration::from_millis(250);

/// What one look found: done (with what the caller wants), or not yet (with what was
/// seen, for the failure message).
pub enum Check<T> {
    Done(T),
    NotYet(String),
}

/// Looks with `probe` until it reports done, for at most [`PATIENCE`]; fails with `what`
/// was awaited and what the last look saw.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, Error>>,
{
    eventually_within(what, PATIENCE, probe).await
}

/// [`eventually`] with its own deadline.
pub async fn eventually_within<T, F, Fut>(
    what: &str,
    within: Duration,
    probe: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, Error>>,
{
    poll(what, within, probe).await
}

/// [`eventually_within`] for probes with an error type of their own (a journey that
/// tells a server that went away from a step that failed).
pub async fn poll<T, E, F, Fut>(what: &str, within: Duration, mut probe: F) -> Result<T, E>
where
    E: From<String>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, E>>,
{
    let deadline = Instant::now() + within;
    let mut step = FIRST_STEP;
    loop {
        match probe().await? {
            Check::Done(value) => return Ok(value),
            Check::NotYet(seen) => {
                if Instant::now() >= deadline {
                    return Err(
                        format!("waited {within:?} for {what}; the last look saw: {seen}").into(),
                    );
                }
                tokio::time::sleep(step).await;
                step = (step * 2).min(LONGEST_STEP);
            }
        }
    }
}

/// [`Check::Done`] when `done`, else [`Check::NotYet`] with `seen`.
pub fn check<T: std::fmt::Debug>(done: bool, seen: T) -> Check<T> {
    if done {
        Check::Done(seen)
    } else {
        Check::NotYet(format!("{seen:?}"))
    }
}

/// Waits for the clock to reach the next second (a timestamp of one-second granularity,
/// such as an OAI-PMH datestamp, must differ from the last one).
pub async fn next_second() {
    let now = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() == now {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
