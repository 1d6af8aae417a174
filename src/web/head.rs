//! HEAD on every GET route, by one mechanism: a HEAD request is routed as GET (so the
//! route table lists GET only) and its answer keeps the GET answer's status and headers
//! but sends no body. FAIR Signposting clients, link checkers and harvesters ask HEAD
//! first; a route needs nothing to answer it.
//!
//! The body is dropped unread, so a HEAD on a whole-version zip does not build the
//! zip; the connection still says the GET answer's length (actix writes Content-Length
//! from the body's declared size, and writes no body bytes for a HEAD request).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest};

/// Marks a request that came as HEAD (its method reads GET once routed).
#[derive(Clone, Copy)]
struct AskedHead;

/// Whether the client asked HEAD: a handler that does work only a body needs (opening a
/// file, counting a view) skips it.
pub fn is_head(req: &HttpRequest) -> bool {
    req.method() == Method::HEAD || req.extensions().get::<AskedHead>().is_some()
}

/// The middleware (`App::wrap(from_fn(head_as_get))`).
pub async fn head_as_get<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, NoBody>>, actix_web::Error> {
    if req.method() != Method::HEAD {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    req.extensions_mut().insert(AskedHead);
    req.head_mut().method = Method::GET;
    let res = next.call(req).await?;
    Ok(res.map_body(|_, body| EitherBody::right(NoBody(body.size()))))
}

/// A body of the given declared size that yields no bytes: what a HEAD answer carries.
pub struct NoBody(BodySize);

impl MessageBody for NoBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        self.0
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(None)
    }
}
