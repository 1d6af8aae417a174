//! Keeping the server answering whatever clients do: caps on concurrent whole-version
//! downloads (per client address and in total) and uploads (per account), and an idle
//! timeout on request bodies. Settings in [`crate::config::LimitSettings`].

use actix_http::error::PayloadError;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::HttpMessage as _;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::LimitSettings;

/// Seconds a refused client is asked to wait before it tries again.
const RETRY_AFTER_SECS: u64 = 10;

/// The gates of one server, shared by its workers (registered as app data).
pub struct Limits {
    downloads: Gate<IpAddr>,
    uploads: Gate<i64>,
    body_idle_timeout: Duration,
}

impl Limits {
    pub fn new(settings: &LimitSettings) -> Limits {
        Limits {
            downloads: Gate::new(
                settings.downloads_max_total,
                settings.downloads_max_per_address,
            ),
            uploads: Gate::new(usize::MAX, settings.uploads_max_per_account),
            body_idle_timeout: settings.body_idle_timeout,
        }
    }

    /// A place among the whole-version downloads for the client of `req`, or the 503
    /// to answer. The permit must live as long as the response body.
    pub fn download(&self, req: &HttpRequest) -> Result<Permit, Refused> {
        let address = client_address(req);
        self.downloads.enter(address).map_err(|full| {
            let why = match full {
                Full::Total => "the archive is serving as many whole-version downloads as it can",
                Full::PerKey => "you already have as many whole-version downloads running as one address may",
            };
            Refused {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!("{why}; please try again in a few seconds (single files can be downloaded meanwhile)."),
            }
        })
    }

    /// A place among the uploads of account `user_id`, or the 429 to answer.
    pub fn upload(&self, user_id: i64) -> Result<Permit, Refused> {
        self.uploads.enter(user_id).map_err(|_| {
            Refused {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: "this account already sends as many uploads at once as it may; please wait for one to finish and try again.".into(),
            }
        })
    }
}

/// The address a request came from (the socket's peer; a proxy in front of the archive
/// is one address, so its own limits apply there).
fn client_address(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// A refusal that tells the client when to come back.
pub struct Refused {
    status: StatusCode,
    message: String,
}

impl Refused {
    pub fn response(self) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("text/plain; charset=utf-8")
            .body(self.message)
    }
}

enum Full {
    Total,
    PerKey,
}

/// Counts who is inside, per key and in total.
struct Gate<K> {
    max_total: usize,
    max_per_key: usize,
    inside: Arc<Mutex<Inside<K>>>,
}

struct Inside<K> {
    total: usize,
    by_key: HashMap<K, usize>,
}

impl<K: Hash + Eq + Copy + Send + 'static> Gate<K> {
    fn new(max_total: usize, max_per_key: usize) -> Gate<K> {
        Gate {
            max_total,
            max_per_key,
            inside: Arc::new(Mutex::new(Inside {
                total: 0,
                by_key: HashMap::new(),
            })),
        }
    }

    fn enter(&self, key: K) -> Result<Permit, Full> {
        let mut inside = self.inside.lock().unwrap_or_else(|e| e.into_inner());
        if inside.total >= self.max_total {
            return Err(Full::Total);
        }
        let mine = inside.by_key.entry(key).or_insert(0);
        if *mine >= self.max_per_key {
            return Err(Full::PerKey);
        }
        *mine += 1;
        inside.total += 1;
        let gate = self.inside.clone();
        Ok(Permit {
            leave: Some(Box::new(move || {
                let mut inside = gate.lock().unwrap_or_else(|e| e.into_inner());
                inside.total -= 1;
                if let Some(n) = inside.by_key.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        inside.by_key.remove(&key);
                    }
                }
            })),
        })
    }
}

/// A place behind a gate, given back when dropped.
pub struct Permit {
    leave: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(leave) = self.leave.take() {
            leave();
        }
    }
}

impl Permit {
    /// Keeps the permit for as long as `body` is being sent.
    pub fn hold_during<S>(self, body: S) -> impl Stream<Item = S::Item>
    where
        S: Stream,
    {
        body.map(move |item| {
            let _held = &self;
            item
        })
    }
}

/// Middleware: a request body that sends nothing for the idle timeout ends in an error,
/// so the handler reading it gives up (and discards what it staged) instead of waiting.
pub async fn idle_body_timeout(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(limits) = req.app_data::<web::Data<Limits>>() {
        let idle = limits.body_idle_timeout;
        let payload = req.take_payload();
        req.set_payload(Payload::Stream {
            // Fused: body readers (multipart) may poll again after the end.
            payload: Box::pin(with_idle_timeout(payload, idle).fuse()),
        });
    }
    next.call(req).await
}

fn with_idle_timeout<S>(body: S, idle: Duration) -> impl Stream<Item = Result<Bytes, PayloadError>>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    futures_util::stream::unfold(Some(body), move |body| async move {
        let mut body = body?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(item)) => Some((item, Some(body))),
            Ok(None) => None,
            Err(_) => Some((
                Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the request body sent nothing for {} s", idle.as_secs()),
                ))),
                None,
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_counts_per_key_and_in_total_and_frees_on_drop() {
        let gate = Gate::new(3, 2);
        let a1 = gate.enter(1).ok();
        let a2 = gate.enter(1).ok();
        assert!(a1.is_some() && a2.is_some());
        assert!(matches!(gate.enter(1), Err(Full::PerKey)));
        let b1 = gate.enter(2).ok();
        assert!(b1.is_some());
        assert!(matches!(gate.enter(3), Err(Full::Total)));
        drop(a1);
        assert!(gate.enter(1).is_ok(), "a dropped permit frees its place");
        drop((a2, b1));
        let inside = gate.inside.lock().expect("lock");
        assert_eq!(inside.total, 0);
        assert!(inside.by_key.is_empty());
    }

    #[actix_web::test]
    async fn a_silent_body_ends_in_an_error() {
        let silent = futures_util::stream::pending::<Result<Bytes, PayloadError>>();
        let mut body = Box::pin(with_idle_timeout(silent, Duration::from_millis(10)));
        assert!(matches!(body.next().await, Some(Err(PayloadError::Io(_)))));
        assert!(body.next().await.is_none());
    }
}
