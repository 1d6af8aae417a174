//! Which code runs a job of each kind: built once by the composition root, which hands
//! each job type the context it runs with. The queue itself knows no job type.

use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::Job;
use crate::error::DomainError;

type Handler = Box<
    dyn Fn(&str) -> Result<BoxFuture<'static, Result<(), DomainError>>, DomainError> + Send + Sync,
>;

/// Job kinds and how to run each.
#[derive(Default)]
pub struct Registry {
    handlers: BTreeMap<&'static str, Handler>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Runs jobs of type `J` with `context`.
    ///
    /// # Panics
    /// When a kind is registered twice: two job types sharing a `KIND` is a programming
    /// error that must stop the start, not mix two payloads in one kind.
    pub fn add<J: Job>(&mut self, context: Arc<J::Context>) -> &mut Registry {
        let handler: Handler = Box::new(move |payload: &str| {
            let job: J = serde_json::from_str(payload).map_err(|e| {
                DomainError::internal(format!("{} payload {payload:?}: {e}", J::KIND))
            })?;
            let context = context.clone();
            Ok(Box::pin(async move { job.run(&context).await }))
        });
        let previous = self.handlers.insert(J::KIND, handler);
        assert!(previous.is_none(), "job kind {} registered twice", J::KIND);
        self
    }

    /// The kinds this registry runs.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }

    /// Runs one job's payload with the code registered for its kind.
    pub async fn run(&self, kind: &str, payload: &str) -> Result<(), DomainError> {
        let handler = self
            .handlers
            .get(kind)
            .ok_or_else(|| DomainError::internal(format!("unknown job kind {kind:?}")))?;
        handler(payload)?.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Add {
        n: i64,
    }

    impl Job for Add {
        const KIND: &'static str = "test-add";
        const MAX_ATTEMPTS: i32 = 1;
        type Context = AtomicI64;

        async fn run(self, total: &AtomicI64) -> Result<(), DomainError> {
            total.fetch_add(self.n, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_payload_runs_with_its_kinds_context() {
        let total = Arc::new(AtomicI64::new(0));
        let mut registry = Registry::new();
        registry.add::<Add>(total.clone());
        assert_eq!(registry.kinds().collect::<Vec<_>>(), ["test-add"]);
        registry.run("test-add", r#"{"n": 5}"#).await.expect("runs");
        assert_eq!(total.load(Ordering::SeqCst), 5);
        assert!(registry.run("test-add", "{}").await.is_err(), "bad payload");
        assert!(registry.run("nope", "{}").await.is_err(), "unknown kind");
    }
}
