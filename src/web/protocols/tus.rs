//! The tus 1.0 resumable upload protocol at `/api/uploads` (core, creation,
//! creation-with-upload, termination, expiration, checksum with sha256). The rules live
//! in `deposit::tus`; this file reads and writes the protocol's headers.
//!
//! Callers are API clients with a bearer token, or the deposit page's script with the
//! browser session; the script repeats the CSRF token in an `X-CSRF-Token` header,
//! which a cross-site page cannot read or send.

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use base64::Engine as _;
use chrono::NaiveDateTime;
use std::fmt;

use crate::accounts::{tokens, User};
use crate::app::Archive;
use crate::deposit::tus::{self, PatchError, PatchRequest};
use crate::error::DomainError;
use crate::web::auth;
use crate::web::errors::{public_message, status_of};

const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
const OFFSET_STREAM: &str = "application/offset+octet-stream";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/uploads", web::method(Method::OPTIONS).to(options))
        .route("/uploads", web::post().to(create))
        .route("/uploads/{id}", web::method(Method::OPTIONS).to(options))
        // tus asks HEAD; `super::head` routes it here as GET.
        .route("/uploads/{id}", web::get().to(head))
        .route("/uploads/{id}", web::patch().to(patch))
        .route("/uploads/{id}", web::delete().to(terminate));
}

/// A tus answer that went wrong: JSON `{"error": ...}` like the rest of the API, with
/// the protocol's headers and status codes (412, 415, 460) where tus has its own.
#[derive(Debug)]
pub enum TusError {
    Domain(DomainError),
    ChecksumMismatch(String),
    UnsupportedVersion,
    WrongContentType,
}

impl fmt::Display for TusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl From<DomainError> for TusError {
    fn from(e: DomainError) -> Self {
        TusError::Domain(e)
    }
}

impl From<PatchError> for TusError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::Domain(e) => TusError::Domain(e),
            PatchError::ChecksumMismatch(m) => TusError::ChecksumMismatch(m),
        }
    }
}

impl TusError {
    fn message(&self) -> String {
        match self {
            TusError::Domain(e) => public_message(e),
            TusError::ChecksumMismatch(m) => m.clone(),
            TusError::UnsupportedVersion => {
                format!("this server speaks tus {TUS_VERSION}; send Tus-Resumable: {TUS_VERSION}")
            }
            TusError::WrongContentType => {
                format!("a PATCH body must be sent as Content-Type: {OFFSET_STREAM}")
            }
        }
    }
}

impl ResponseError for TusError {
    fn status_code(&self) -> StatusCode {
        match self {
            TusError::Domain(e) => status_of(e),
            TusError::ChecksumMismatch(_) => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
            }
            TusError::UnsupportedVersion => StatusCode::PRECONDITION_FAILED,
            TusError::WrongContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header(("Tus-Resumable", TUS_VERSION))
            .insert_header(("Tus-Version", TUS_VERSION));
        if let TusError::Domain(DomainError::Invalid(fields)) = self {
            return response.json(serde_json::json!({
                "error": "some fields need attention", "fields": fields
            }));
        }
        if matches!(self, TusError::Domain(DomainError::Unauthorized(_))) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"holdfast\""));
        }
        response.json(serde_json::json!({ "error": self.message() }))
    }
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Result<Option<&'a str>, DomainError> {
    req.headers()
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| DomainError::BadRequest(format!("{name} is not readable text")))
        })
        .transpose()
}

fn header_u64(req: &HttpRequest, name: &str) -> Result<Option<u64>, DomainError> {
    header_str(req, name)?
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                DomainError::BadRequest(format!("{name} must be a whole number of bytes"))
            })
        })
        .transpose()
}

fn check_version(req: &HttpRequest) -> Result<(), TusError> {
    match header_str(req, "Tus-Resumable")? {
        Some(v) if v.trim() == TUS_VERSION => Ok(()),
        _ => Err(TusError::UnsupportedVersion),
    }
}

/// A bearer token, or the browser session with its CSRF token in `X-CSRF-Token`.
async fn caller(req: &HttpRequest, archive: &Archive) -> Result<User, TusError> {
    if let Some(token) = auth::bearer_token(req) {
        return archive
            .db
            .run(move |conn| tokens::authenticate(conn, &token))
            .await?
            .ok_or_else(|| {
                DomainError::Unauthorized("the bearer token is not valid or was revoked".into())
                    .into()
            });
    }
    let user = auth::user_from_session(req).await?.ok_or_else(|| {
        DomainError::Unauthorized(
            "send an API token: Authorization: Bearer <token> (create one on your profile page)"
                .into(),
        )
    })?;
    auth::verify_csrf(req, header_str(req, CSRF_HEADER)?)?;
    Ok(user)
}

/// An HTTP date, as `Upload-Expires` is written.
fn http_date(t: NaiveDateTime) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn tus_response(status: StatusCode) -> HttpResponseBuilder {
    let mut r = HttpResponse::build(status);
    r.insert_header(("Tus-Resumable", TUS_VERSION))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    r
}

/// A refusal from [`crate::web::limits`], with the header every tus answer carries.
fn tus_busy(mut busy: HttpResponse) -> HttpResponse {
    busy.headers_mut().insert(
        header::HeaderName::from_static("tus-resumable"),
        header::HeaderValue::from_static(TUS_VERSION),
    );
    busy
}

fn checksum_of(req: &HttpRequest) -> Result<Option<[u8; 32]>, DomainError> {
    let Some(value) = header_str(req, "Upload-Checksum")? else {
        return Ok(None);
    };
    let (algorithm, b64) = value.trim().split_once(' ').ok_or_else(|| {
        DomainError::BadRequest("Upload-Checksum must be 'sha256 <base64 digest>'".into())
    })?;
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(DomainError::BadRequest(format!(
            "Upload-Checksum algorithm '{algorithm}' is not supported; use sha256"
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| DomainError::BadRequest("the Upload-Checksum digest is not base64".into()))?;
    let digest: [u8; 32] = bytes.try_into().map_err(|_| {
        DomainError::BadRequest("a sha256 Upload-Checksum digest is 32 bytes".into())
    })?;
    Ok(Some(digest))
}

fn patch_request(req: &HttpRequest, offset: u64) -> Result<PatchRequest, TusError> {
    Ok(PatchRequest {
        offset,
        checksum: checksum_of(req)?,
        content_length: header_u64(req, header::CONTENT_LENGTH.as_str())?,
    })
}

fn is_offset_stream(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_STREAM))
}

pub async fn options(archive: web::Data<Archive>) -> HttpResponse {
    tus_response(StatusCode::NO_CONTENT)
        .insert_header(("Tus-Version", TUS_VERSION))
        .insert_header(("Tus-Extension", EXTENSIONS))
        .insert_header((
            "Tus-Max-Size",
            archive.settings.max_upload_bytes.to_string(),
        ))
        .insert_header(("Tus-Checksum-Algorithm", "sha256"))
        .finish()
}

/// Creation (and creation-with-upload): `Upload-Length` and `Upload-Metadata` with
/// `dataset` and `path` name the file; a body, if any, is the first chunk.
pub async fn create(
    req: HttpRequest,
    archive: web::Data<Archive>,
    payload: web::Payload,
    limits: web::Data<crate::web::limits::Limits>,
) -> Result<HttpResponse, TusError> {
    check_version(&req)?;
    let user = caller(&req, &archive).await?;
    let _uploading = match limits.upload(user.id) {
        Ok(permit) => permit,
        Err(busy) => return Ok(tus_busy(busy.response())),
    };
    if req.headers().contains_key("Upload-Defer-Length") {
        return Err(DomainError::BadRequest(
            "Upload-Defer-Length is not supported; send Upload-Length".into(),
        )
        .into());
    }
    let length = header_u64(&req, "Upload-Length")?.ok_or_else(|| {
        DomainError::BadRequest("Upload-Length (the file's size in bytes) is missing".into())
    })?;
    let raw_metadata = header_str(&req, "Upload-Metadata")?;
    let target = tus::parse_target(raw_metadata)?;
    let row = tus::create(
        &archive.uploads(),
        &user,
        target,
        length,
        raw_metadata.unwrap_or_default().to_string(),
    )
    .await?;
    let location = format!("/api/uploads/{}", row.id);
    let has_body = header_u64(&req, header::CONTENT_LENGTH.as_str())?.is_some_and(|n| n > 0)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let (offset, expires) = if length == 0 || (is_offset_stream(&req) && has_body) {
        let done = tus::patch(
            &archive.uploads(),
            &user,
            &row.id,
            patch_request(&req, 0)?,
            payload,
        )
        .await?;
        (done.offset, (!done.completed).then_some(done.expires_at))
    } else {
        (0, Some(row.expires_at))
    };
    let mut r = tus_response(StatusCode::CREATED);
    r.insert_header((header::LOCATION, location))
        .insert_header(("Upload-Offset", offset.to_string()));
    if let Some(t) = expires {
        r.insert_header(("Upload-Expires", http_date(t)));
    }
    Ok(r.finish())
}

pub async fn head(
    req: HttpRequest,
    archive: web::Data<Archive>,
    path: web::Path<String>,
) -> Result<HttpResponse, TusError> {
    check_version(&req)?;
    let user = caller(&req, &archive).await?;
    let row = tus::status(&archive.uploads(), &user, &path).await?;
    let mut r = tus_response(StatusCode::OK);
    r.insert_header(("Upload-Offset", row.offset().to_string()))
        .insert_header(("Upload-Length", row.length().to_string()));
    if !row.metadata.is_empty() {
        r.insert_header(("Upload-Metadata", row.metadata.clone()));
    }
    if row.completed_at.is_none() {
        r.insert_header(("Upload-Expires", http_date(row.expires_at)));
    }
    Ok(r.finish())
}

pub async fn patch(
    req: HttpRequest,
    archive: web::Data<Archive>,
    path: web::Path<String>,
    payload: web::Payload,
    limits: web::Data<crate::web::limits::Limits>,
) -> Result<HttpResponse, TusError> {
    check_version(&req)?;
    if !is_offset_stream(&req) {
        return Err(TusError::WrongContentType);
    }
    let offset = header_u64(&req, "Upload-Offset")?.ok_or_else(|| {
        DomainError::BadRequest("Upload-Offset is missing; ask with HEAD where to go on".into())
    })?;
    let request = patch_request(&req, offset)?;
    let user = caller(&req, &archive).await?;
    let _uploading = match limits.upload(user.id) {
        Ok(permit) => permit,
        Err(busy) => return Ok(tus_busy(busy.response())),
    };
    let done = tus::patch(&archive.uploads(), &user, &path, request, payload).await?;
    let mut r = tus_response(StatusCode::NO_CONTENT);
    r.insert_header(("Upload-Offset", done.offset.to_string()));
    if !done.completed {
        r.insert_header(("Upload-Expires", http_date(done.expires_at)));
    }
    Ok(r.finish())
}

pub async fn terminate(
    req: HttpRequest,
    archive: web::Data<Archive>,
    path: web::Path<String>,
) -> Result<HttpResponse, TusError> {
    check_version(&req)?;
    let user = caller(&req, &archive).await?;
    tus::terminate(&archive.uploads(), &user, &path).await?;
    Ok(tus_response(StatusCode::NO_CONTENT).finish())
}

fn static_file(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// tus-js-client's browser build, vendored (no CDN); its license is served beside it.
pub async fn client_js() -> HttpResponse {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../../static/tus.min.js"),
    )
}

pub async fn client_license() -> HttpResponse {
    static_file(
        "text/plain; charset=utf-8",
        include_str!("../../../static/tus-js-client.LICENSE"),
    )
}

/// The deposit page's script that sends large files through tus.
pub async fn upload_js() -> HttpResponse {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../../static/upload.js"),
    )
}
