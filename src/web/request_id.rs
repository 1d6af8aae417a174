//! Request ids: every request gets one, so a user can quote it and an operator can find
//! every log line of that request (the access line included).
//!
//! The id is taken from an incoming `X-Request-Id` when that is a short, safe token (a
//! proxy in front may have set it), else made here. It is echoed in the `X-Request-Id`
//! response header, carried by the `request` span that every log line of the request is
//! written in, and read by the error answers (`web::errors`) through [`current`].

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";
/// Longer incoming ids are replaced: an id is for quoting, not for carrying data.
const MAX_LEN: usize = 64;
/// The access log's target, so it can be filtered (`HOLDFAST_LOG=info,holdfast::access=warn`).
pub const ACCESS_TARGET: &str = "holdfast::access";

/// The id of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The incoming id when it is safe to log and show, else a new one.
    pub fn from_incoming(value: Option<&str>) -> RequestId {
        value
            .and_then(sanitize)
            .map(RequestId)
            .unwrap_or_else(RequestId::generate)
    }

    fn generate() -> RequestId {
        RequestId(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An incoming id is kept only as a short token of ASCII letters, digits, `-`, `_` and
/// `.`: it is written into logs, headers and pages as it is.
pub fn sanitize(value: &str) -> Option<String> {
    let value = value.trim();
    let safe = !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    safe.then(|| value.to_string())
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being answered (None outside a request).
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.0.clone()).ok()
}

/// The middleware: assigns the id, runs the request in its span, answers errors that
/// reach it from inner middleware inside that span, sets the header and writes the
/// access line when the body is done.
pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<AccessLogged>, actix_web::Error> {
    let id = RequestId::from_incoming(req.headers().get(HEADER).and_then(|v| v.to_str().ok()));
    req.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("request", request_id = %id.as_str());
    let access = AccessLine {
        peer: req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "-".into()),
        line: format!(
            "{} {} {:?}",
            req.method(),
            req.uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/"),
            req.version()
        ),
        started: Instant::now(),
    };
    let answered = CURRENT
        .scope(id.clone(), next.call(req))
        .instrument(span.clone())
        .await;
    let mut res = match answered {
        Ok(res) => res,
        // An error from a middleware (a handler's error is already a response). The
        // request went down with it, so the answer is made here, with the id, and
        // handed on as an error that answers with it.
        Err(e) => {
            let mut response =
                CURRENT.sync_scope(id.clone(), || span.in_scope(|| e.error_response()));
            set_header(response.headers_mut(), &id);
            let status = response.status().as_u16();
            span.in_scope(|| access.write(status, 0));
            return Err(
                actix_web::error::InternalError::from_response(e.to_string(), response).into(),
            );
        }
    };
    set_header(res.headers_mut(), &id);
    let status = res.status().as_u16();
    Ok(res.map_body(move |_, body| AccessLogged {
        body: body.boxed(),
        span,
        access,
        status,
        bytes: 0,
    }))
}

fn set_header(headers: &mut actix_web::http::header::HeaderMap, id: &RequestId) {
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        headers.insert(HeaderName::from_static(HEADER), value);
    }
}

struct AccessLine {
    peer: String,
    line: String,
    started: Instant,
}

impl AccessLine {
    /// Writes the access line (in the caller's span).
    fn write(&self, status: u16, bytes: u64) {
        let AccessLine {
            peer,
            line,
            started,
        } = self;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            target: ACCESS_TARGET,
            "{peer} \"{line}\" {status} {bytes} {ms:.3}ms"
        );
    }
}

/// A response body that writes the access line, in the request's span, once it is
/// sent or dropped (so the line has the bytes really sent and the whole duration).
pub struct AccessLogged {
    body: BoxBody,
    span: tracing::Span,
    access: AccessLine,
    status: u16,
    bytes: u64,
}

impl MessageBody for AccessLogged {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.bytes += chunk.len() as u64;
        }
        polled
    }
}

impl Drop for AccessLogged {
    fn drop(&mut self) {
        self.span
            .in_scope(|| self.access.write(self.status, self.bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_incoming_ids_are_kept() {
        assert_eq!(sanitize("abc-123_X.y").as_deref(), Some("abc-123_X.y"));
        assert_eq!(
            sanitize(" 5f0c2b1e-8a7d-4e3f-9b2a-1c0d3e4f5a6b ").as_deref(),
            Some("5f0c2b1e-8a7d-4e3f-9b2a-1c0d3e4f5a6b")
        );
        let longest = "a".repeat(MAX_LEN);
        assert_eq!(sanitize(&longest), Some(longest.clone()));
    }

    #[test]
    fn unsafe_incoming_ids_are_replaced() {
        for bad in [
            "",
            "   ",
            "<script>alert(1)</script>",
            "a b",
            "line\nbreak",
            "quote\"d",
            "semi;colon",
            "ünïcode",
            "path/../x",
            &"a".repeat(MAX_LEN + 1),
        ] {
            assert_eq!(sanitize(bad), None, "{bad:?}");
            let id = RequestId::from_incoming(Some(bad));
            assert_eq!(id.as_str().len(), 32, "{bad:?} gives a new id");
            assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(
            RequestId::from_incoming(None),
            RequestId::from_incoming(None),
            "every request gets its own"
        );
    }

    #[test]
    fn the_current_id_is_known_inside_a_request_only() {
        assert_eq!(current(), None);
        let id = RequestId::from_incoming(Some("quote-me"));
        let seen = CURRENT.sync_scope(id, current);
        assert_eq!(seen.as_deref(), Some("quote-me"));
    }
}
