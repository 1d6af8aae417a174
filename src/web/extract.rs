//! Typed request bodies: a page's form (`CsrfForm<T>`, its CSRF token checked once,
//! here), an API's JSON document (`ApiJson<T>`), and the bounded readers both use.
//!
//! Declare these last in a handler's arguments, after the path, the query and the
//! caller's identity (`SignedIn`, `ApiUser`): a path that does not parse or a visitor
//! who must sign in is answered before the body is read, as it was when handlers read
//! bodies themselves.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use super::auth::{verify_csrf, CSRF_FIELD};
use super::errors::{ApiError, PageError};
use crate::error::DomainError;

/// The default limit of a page's form: names, labels, a reason or a short comment.
pub const SMALL_FORM: usize = 16 * 1024;

/// Limit of the short text fields of multipart forms (tokens, folder names).
pub const SMALL_FIELD: usize = 4096;

/// Reads a request body of at most `limit` bytes into memory (forms and JSON only;
/// file uploads stream instead).
pub async fn read_body<S, E>(
    payload: S,
    limit: usize,
    what: &str,
) -> Result<web::Bytes, DomainError>
where
    S: Stream<Item = Result<web::Bytes, E>>,
    E: std::fmt::Display,
{
    let mut payload = std::pin::pin!(payload);
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| DomainError::BadRequest(format!("reading the {what}: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(DomainError::PayloadTooLarge(format!(
                "the {what} is larger than {} KiB; shorten the longest fields",
                limit / 1024
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// An URL-encoded form of at most `LIMIT` bytes whose CSRF token matched this browser's
/// cookie, its other fields read into `T`. A field the form does not send is refused
/// by serde unless `T` gives it a default (`#[serde(default)]` on the struct).
pub struct CsrfForm<T, const LIMIT: usize = SMALL_FORM>(pub T);

/// A form that carries nothing but its CSRF token (a button).
pub type CsrfOnly<const LIMIT: usize = 4096> = CsrfForm<serde::de::IgnoredAny, LIMIT>;

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for CsrfForm<T, LIMIT> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let body = read_body(payload, LIMIT, "form").await?;
            Ok(CsrfForm(decode_form(&req, &body)?))
        })
    }
}

/// The order of refusals: a body that is not a form (400), then a forged or missing
/// token (403), then fields `T` cannot take (400).
fn decode_form<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, DomainError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        DomainError::BadRequest(format!("the form could not be read: {e}"))
    };
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| unreadable(&e))?;
    let submitted = pairs
        .iter()
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.as_str());
    verify_csrf(req, submitted)?;
    let fields: Vec<(String, String)> =
        pairs.into_iter().filter(|(k, _)| k != CSRF_FIELD).collect();
    // serde refuses a struct field sent twice; a browser never does, and a repeated
    // field counts once, with its first value, as it always has here.
    fields_into::<T>(&fields)
        .or_else(|e| match first_values(&fields) {
            firsts if firsts.len() < fields.len() => fields_into::<T>(&firsts),
            _ => Err(e),
        })
        .map_err(|e| unreadable(&e))
}

fn fields_into<T: DeserializeOwned>(fields: &[(String, String)]) -> Result<T, String> {
    let encoded = serde_urlencoded::to_string(fields).map_err(|e| e.to_string())?;
    serde_urlencoded::from_str(&encoded).map_err(|e| e.to_string())
}

fn first_values(fields: &[(String, String)]) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    fields
        .iter()
        .filter(|(k, _)| seen.insert(k.as_str()))
        .cloned()
        .collect()
}

/// A JSON request body the API reads into a type: how large it may be and what to tell
/// a client whose body does not fit.
pub trait JsonBody: DeserializeOwned + 'static {
    const LIMIT: usize = 64 * 1024;
    /// The start of the 422's message; serde's words about where it went wrong follow.
    const EXPECTED: &'static str;
}

/// A JSON body read into `T`: too large is 413, not `T`'s shape is 422 on the field
/// `body`, in the API's one error shape.
pub struct ApiJson<T>(pub T);

impl<T: JsonBody> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(_: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let payload = payload.take();
        Box::pin(async move {
            let body = read_body(payload, T::LIMIT, "request body").await?;
            let value = serde_json::from_slice(&body)
                .map_err(|e| DomainError::invalid("body", format!("{}: {e}", T::EXPECTED)))?;
            Ok(ApiJson(value))
        })
    }
}

/// Any JSON document (its meaning is checked by the domain).
impl JsonBody for serde_json::Value {
    const LIMIT: usize = 1024 * 1024;
    const EXPECTED: &'static str = "the body is not valid JSON";
}

/// A metadata document; not DataCite-shaped JSON is a 422 with the parser's own words.
impl JsonBody for crate::deposit::metadata::Metadata {
    const LIMIT: usize = 1024 * 1024;
    const EXPECTED: &'static str = "the body is not valid DataCite metadata JSON";
}

/// Reads a text field of a multipart form, refusing more than `limit` bytes.
pub async fn read_text_field(
    part: &mut actix_multipart::Field,
    limit: usize,
) -> Result<String, DomainError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = part.next().await {
        let chunk = chunk.map_err(|e| DomainError::BadRequest(format!("reading the form: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(DomainError::PayloadTooLarge(format!(
                "a text field of the form is longer than {} KiB",
                limit / 1024
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| DomainError::BadRequest("a form field is not valid UTF-8".into()))
}

/// A multipart form's CSRF check: its first field must be the token, so a forged
/// request is refused before any byte of a file is stored. `what` names the form in the
/// message about a part that cannot be read ("upload", "form").
pub async fn csrf_first(
    req: &HttpRequest,
    multipart: &mut actix_multipart::Multipart,
    what: &str,
) -> Result<(), DomainError> {
    let submitted = match multipart.next().await {
        None => None,
        Some(item) => {
            let mut part =
                item.map_err(|e| DomainError::BadRequest(format!("reading the {what}: {e}")))?;
            if part.name() == Some(CSRF_FIELD) {
                Some(read_text_field(&mut part, SMALL_FIELD).await?)
            } else {
                None
            }
        }
    };
    verify_csrf(req, submitted.as_deref())
}

/// One part of a multipart form: the part, its field name, and the file name the
/// browser gave for a file field.
pub struct FormPart {
    pub part: actix_multipart::Field,
    pub name: String,
    pub filename: Option<String>,
}

/// The form's next part, or None at its end; `what` names the form as in [`csrf_first`].
pub async fn next_part(
    multipart: &mut actix_multipart::Multipart,
    what: &str,
) -> Result<Option<FormPart>, DomainError> {
    let Some(item) = multipart.next().await else {
        return Ok(None);
    };
    let part = item.map_err(|e| DomainError::BadRequest(format!("reading the {what}: {e}")))?;
    let name = part.name().unwrap_or("").to_string();
    let filename = part
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .map(str::to_string);
    Ok(Some(FormPart {
        part,
        name,
        filename,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::cookie::Cookie;
    use actix_web::test::TestRequest;

    const TOKEN: &str = "a-csrf-token-of-this-browser-0123";

    #[derive(serde::Deserialize, Debug, Default, PartialEq)]
    #[serde(default)]
    struct Comment {
        body: String,
        reason: String,
    }

    fn browser() -> HttpRequest {
        TestRequest::default()
            .cookie(Cookie::new(crate::web::auth::CSRF_COOKIE, TOKEN))
            .to_http_request()
    }

    #[test]
    fn a_form_with_this_browsers_token_reads_into_its_struct() {
        let body = format!("csrf_token={TOKEN}&body=hello+there&unknown=x");
        let form: Comment = decode_form(&browser(), body.as_bytes()).expect("read");
        assert_eq!(form.body, "hello there");
        assert_eq!(form.reason, "", "a field not sent takes its default");
    }

    #[test]
    fn a_repeated_field_counts_once_with_its_first_value() {
        let body = format!("csrf_token={TOKEN}&body=first&body=second");
        let form: Comment = decode_form(&browser(), body.as_bytes()).expect("read");
        assert_eq!(form.body, "first");
        let all: Vec<(String, String)> = decode_form(&browser(), body.as_bytes()).expect("read");
        assert_eq!(all.len(), 2, "a list of fields keeps every value");
    }

    #[test]
    fn a_forged_or_missing_token_is_refused_before_the_fields_are_read() {
        for body in [
            "csrf_token=forged-forged-forged-forged&body=x",
            "body=x",
            "",
        ] {
            let refused = decode_form::<Comment>(&browser(), body.as_bytes());
            assert!(
                matches!(&refused, Err(DomainError::Forbidden(m)) if m.contains("this form has expired")),
                "{body:?}: {refused:?}"
            );
        }
        let no_cookie = TestRequest::default().to_http_request();
        let body = format!("csrf_token={TOKEN}");
        assert!(matches!(
            decode_form::<Comment>(&no_cookie, body.as_bytes()),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn fields_the_struct_cannot_take_are_a_bad_request_after_the_token_check() {
        #[derive(serde::Deserialize, Debug)]
        struct Count {
            #[allow(dead_code)]
            n: i64,
        }
        let body = format!("csrf_token={TOKEN}&n=many");
        let refused = decode_form::<Count>(&browser(), body.as_bytes());
        assert!(
            matches!(&refused, Err(DomainError::BadRequest(m)) if m.starts_with("the form could not be read")),
            "{refused:?}"
        );
        let forged = decode_form::<Count>(&browser(), b"csrf_token=forged-forged-forged&n=many");
        assert!(
            matches!(forged, Err(DomainError::Forbidden(_))),
            "{forged:?}"
        );
    }
}
