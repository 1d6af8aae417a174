//! The JSON API under /api. Metadata uses DataCite's JSON attribute names, flattened
//! beside the archive's own fields (`id`, `state`, `doi`, `files`, `links`), as
//! DataCite's own REST API does.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::accounts::{access, User};
use crate::app::Archive;
use crate::curation;
use crate::deposit::ingest::verify_content_digest;
use crate::deposit::metadata::Metadata;
use crate::deposit::model::{DatasetSummary, DatasetView, FileRow};
use crate::deposit::{service, uploads};
use crate::doi::registration;
use crate::error::DomainError;
use crate::mail;
use crate::preservation::events;
use crate::tickets;
use crate::usage;
use crate::web::auth::{read_body, ApiCaller};
use crate::web::errors::ApiError;
use crate::web::pages::datasets::encode_path;

const JSON_LIMIT: usize = 1024 * 1024;

fn links(archive: &Archive, id: i64) -> Value {
    let base = &archive.settings.base_url;
    json!({
        "self": format!("{base}/api/datasets/{id}"),
        "landing_page": format!("{base}/datasets/{id}"),
        "files": format!("{base}/api/datasets/{id}/files/"),
        "validation": format!("{base}/api/datasets/{id}/validation"),
        "tickets": format!("{base}/api/datasets/{id}/tickets"),
    })
}

#[derive(Serialize)]
struct FileJson<'a> {
    path: &'a str,
    size: i64,
    sha256: &'a str,
    media_type: &'a str,
    download: String,
}

fn file_json<'a>(archive: &Archive, id: i64, f: &'a FileRow) -> FileJson<'a> {
    FileJson {
        path: &f.path,
        size: f.size,
        sha256: &f.sha256,
        media_type: &f.media_type,
        download: format!(
            "{}/datasets/{id}/files/{}",
            archive.settings.base_url,
            encode_path(&f.path)
        ),
    }
}

fn dataset_json(archive: &Archive, view: &DatasetView) -> Result<Value, DomainError> {
    let id = view.dataset.id;
    let mut out = match serde_json::to_value(&view.metadata).map_err(DomainError::internal)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    out.insert("id".into(), json!(id));
    out.insert("state".into(), json!(view.state));
    out.insert("version".into(), json!(view.version.number));
    let published = view.is_published_version();
    // A draft's DOI is one the depositor reserved (only they and curators see drafts).
    out.insert("doi".into(), json!(view.version.doi));
    out.insert(
        "concept_doi".into(),
        json!(view.dataset.concept_doi.as_ref().filter(|_| published)),
    );
    out.insert(
        "published_at".into(),
        json!(view.version.published_at.map(|t| t.and_utc().to_rfc3339())),
    );
    out.insert(
        "created_at".into(),
        json!(view.dataset.created_at.and_utc().to_rfc3339()),
    );
    out.insert(
        "updated_at".into(),
        json!(view.dataset.updated_at.and_utc().to_rfc3339()),
    );
    let files: Vec<FileJson> = view
        .files
        .iter()
        .map(|f| file_json(archive, id, f))
        .collect();
    out.insert(
        "files".into(),
        serde_json::to_value(files).map_err(DomainError::internal)?,
    );
    let claimed: Vec<String> = serde_json::from_str(&view.version.standards).unwrap_or_default();
    out.insert("standards".into(), json!(claimed));
    if let Some(reason) = &view.dataset.deaccession_reason {
        out.insert("deaccession_reason".into(), json!(reason));
    }
    let mut links = links(archive, id);
    if let Value::Object(map) = &mut links {
        let base = &archive.settings.base_url;
        let version = format!("{base}/datasets/{id}/versions/{}", view.version.number);
        if published {
            map.insert("linkset".into(), json!(format!("{version}/linkset")));
        }
        if view.has_files() {
            map.insert(
                "download_zip".into(),
                json!(format!("{version}/download?format=zip")),
            );
            map.insert(
                "download_bagit".into(),
                json!(format!("{version}/download?format=bagit")),
            );
        }
    }
    out.insert("links".into(), links);
    Ok(Value::Object(out))
}

/// `null` when the agency holds what the archive asks for; else what is under way.
fn registration_json(status: Option<&registration::DoiStatus>, insider: bool) -> Value {
    let Some(status) = status.filter(|s| s.is_pending()) else {
        return Value::Null;
    };
    let job = status.registration.as_ref();
    json!({
        "target_state": status.state,
        "state": job.map(|j| j.job_state.as_str()).unwrap_or("queued"),
        "attempts": job.map(|j| j.attempts).unwrap_or(0),
        "last_error": job.and_then(|j| j.last_error.as_ref()).filter(|_| insider),
        "next_attempt_at": job
            .and_then(|j| j.next_attempt_at)
            .map(|t| t.and_utc().to_rfc3339()),
    })
}

async fn view_json(archive: &Archive, viewer: Option<User>, id: i64) -> Result<Value, ApiError> {
    view_json_with(archive, viewer, id, true).await
}

/// The dataset's JSON; `with_files: false` leaves out its file list (`file_count` and
/// `file_bytes` stay), for clients polling a large dataset.
async fn view_json_with(
    archive: &Archive,
    viewer: Option<User>,
    id: i64,
    with_files: bool,
) -> Result<Value, ApiError> {
    let viewer_for_status = viewer.clone();
    let settings = archive.settings.clone();
    let (view, versions, doi_status, concept_status, counts, publishing, copies) = archive
        .db
        .run(move |conn| {
            let view = if with_files {
                service::load_view(conn, viewer.as_ref(), id, None)?
            } else {
                service::load_landing_view(conn, viewer.as_ref(), id, None)?
            };
            let copies = crate::federation::receipts::copies_of(conn, id)?;
            // The publication job's progress (phase, files done of total), while it runs.
            let publishing = if view.access(viewer.as_ref()).may_see_publication_progress() {
                crate::publish::publish_progress(conn, id)?
            } else {
                None
            };
            let versions = service::published_versions(conn, id)?;
            let doi_status = match &view.version.doi {
                Some(d) => registration::status(conn, &settings, d)?,
                None => None,
            };
            let concept_status = match &view.dataset.concept_doi {
                Some(d) if view.is_published_version() => registration::status(conn, &settings, d)?,
                _ => None,
            };
            // Counts that cannot be read are reported as null, never as an error.
            let counts = usage::usage_of(conn, id)
                .map_err(|e| tracing::warn!(error = %e, "usage counts could not be read"))
                .ok();
            Ok((
                view,
                versions,
                doi_status,
                concept_status,
                counts,
                publishing,
                copies,
            ))
        })
        .await?;
    let insider = view.access(viewer_for_status.as_ref()).may_see_drafts();
    let mut body = dataset_json(archive, &view)?;
    body["file_count"] = json!(view.file_count);
    body["file_bytes"] = json!(view.file_bytes);
    if !with_files {
        if let Value::Object(map) = &mut body {
            map.remove("files");
        }
    }
    // The DOI's state at the registration agency ("pending" until it holds it), and
    // the registration still under way, if any (its errors for insiders only).
    body["doi_state"] = json!(doi_status.as_ref().map(|s| s.agency_state()));
    body["doi_registration"] = registration_json(doi_status.as_ref(), insider);
    body["concept_doi_state"] = json!(concept_status.as_ref().map(|s| s.agency_state()));
    body["concept_doi_registration"] = registration_json(concept_status.as_ref(), insider);
    body["versions"] = json!(versions
        .iter()
        .map(|v| json!({
            "version": v.number,
            "doi": v.doi,
            "published_at": v.published_at.map(|t| t.and_utc().to_rfc3339()),
        }))
        .collect::<Vec<_>>());
    if let Value::Object(map) = &mut body {
        map.insert("usage".into(), usage_json(counts.as_ref()));
        map.insert(
            "publishing".into(),
            serde_json::to_value(&publishing).map_err(DomainError::internal)?,
        );
        // Replicas partner archives reported holding (also /api/datasets/{id}/copies).
        map.insert("copies".into(), json!(copies));
    }
    Ok(body)
}

/// `{"views", "downloads", "versions": [{"version", "views", "downloads"}]}`: views of the
/// landing pages and downloads, once per visitor per dataset per hour, robots left out.
fn usage_json(counts: Option<&usage::Usage>) -> Value {
    match counts {
        Some(u) => json!({
            "views": u.total.views,
            "downloads": u.total.downloads,
            "versions": u.versions.iter().map(|(n, c)| json!({
                "version": n,
                "views": c.views,
                "downloads": c.downloads,
            })).collect::<Vec<_>>(),
        }),
        None => Value::Null,
    }
}

/// Parses a metadata document; a body that is not DataCite-shaped JSON is a 422 with
/// the parser's own words about where it went wrong.
fn parse_metadata(body: &[u8]) -> Result<Metadata, DomainError> {
    serde_json::from_slice(body).map_err(|e| {
        DomainError::invalid(
            "body",
            format!("the body is not valid DataCite metadata JSON: {e}"),
        )
    })
}

pub async fn create(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let body = read_body(payload, JSON_LIMIT, "request body").await?;
    let metadata = parse_metadata(&body)?;
    let owner = user.clone();
    let id = archive
        .db
        .run(move |conn| service::create(conn, &owner, metadata))
        .await?;
    let body = view_json(&archive, Some(user), id).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/datasets/{id}")))
        .json(body))
}

pub async fn list_mine(
    archive: web::Data<Archive>,
    caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let list: Vec<DatasetSummary> = archive
        .db
        .run(move |conn| service::list_owned(conn, user.id))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "datasets": list })))
}

/// `GET /api/search`: published datasets only, for anyone (no token needed). The
/// parameters and the answer are described in docs/user-guide.md, "Search".
pub async fn search(
    req: HttpRequest,
    archive: web::Data<Archive>,
) -> Result<HttpResponse, ApiError> {
    let pairs = crate::web::pages::search::query_pairs(&req)?;
    let request = crate::search::SearchRequest::from_pairs(&pairs)?;
    let results = archive
        .db
        .run(move |conn| crate::search::search(conn, &request))
        .await?;
    Ok(HttpResponse::Ok().json(results))
}

#[derive(Deserialize)]
pub struct ShowQuery {
    /// `false` leaves the file list out.
    files: Option<bool>,
}

pub async fn show(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, ApiError> {
    let with_files = query.files.unwrap_or(true);
    let body = view_json_with(&archive, caller.0, path.into_inner(), with_files).await?;
    Ok(HttpResponse::Ok().json(body))
}

pub async fn update(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let body = read_body(payload, JSON_LIMIT, "request body").await?;
    let metadata = parse_metadata(&body)?;
    let actor = user.clone();
    archive
        .db
        .run(move |conn| service::update_metadata(conn, &actor, id, metadata))
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(view_json(&archive, Some(user), id).await?))
}

#[derive(Deserialize)]
pub struct UploadQuery {
    unpack: Option<bool>,
}

/// Streams the raw body into the draft at `path`. With `Content-Digest: sha-256=:…:`
/// the bytes must match or nothing is stored.
pub async fn put_file(
    req: HttpRequest,
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<(i64, String)>,
    query: web::Query<UploadQuery>,
    payload: web::Payload,
    limits: web::Data<crate::web::limits::Limits>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let _uploading = match limits.upload(user.id) {
        Ok(permit) => permit,
        Err(busy) => return Ok(busy.response()),
    };
    let (id, raw_path) = path.into_inner();
    let dataset_path = uploads::parse_path(&raw_path)?;
    let actor = user.clone();
    archive
        .db
        .run(move |conn| service::editable_draft(conn, &actor, id).map(|_| ()))
        .await?;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > archive.settings.max_upload_bytes {
            return Err(DomainError::PayloadTooLarge(format!(
                "the file is {len} bytes; this archive accepts at most {} bytes per file",
                archive.settings.max_upload_bytes
            ))
            .into());
        }
    }
    let expected_digest = req
        .headers()
        .get("Content-Digest")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| DomainError::BadRequest("Content-Digest is not readable text".into()))?;
    let staged = archive
        .staging
        .stage_stream(payload, archive.settings.max_upload_bytes)
        .await?;
    if let Some(header_value) = expected_digest {
        let mut raw = [0u8; 32];
        let checked = hex::decode_to_slice(&staged.sha256_hex, &mut raw)
            .map_err(DomainError::internal)
            .and_then(|()| {
                verify_content_digest(&header_value, &raw)
                    .map_err(|e| DomainError::invalid("Content-Digest", e.to_string()))
            });
        if let Err(e) = checked {
            archive.staging.discard([&staged]).await;
            return Err(e.into());
        }
    }
    let unpack = query.unpack.unwrap_or(false);
    if unpack && !dataset_path.as_str().to_lowercase().ends_with(".zip") {
        archive.staging.discard([&staged]).await;
        return Err(DomainError::invalid("unpack", "only a .zip file can be unpacked").into());
    }
    let files = uploads::add_uploads(
        &archive.uploads(),
        &user,
        id,
        vec![uploads::Upload {
            path: dataset_path,
            staged,
            unpack,
        }],
    )
    .await?;
    let list: Vec<FileJson> = files.iter().map(|f| file_json(&archive, id, f)).collect();
    let body = if unpack {
        json!({ "files": list })
    } else {
        match list.into_iter().next() {
            Some(one) => serde_json::to_value(one).map_err(DomainError::internal)?,
            None => return Err(DomainError::internal("stored file missing").into()),
        }
    };
    Ok(HttpResponse::build(StatusCode::CREATED).json(body))
}

pub async fn delete_file(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let (id, raw_path) = path.into_inner();
    let dataset_path = uploads::parse_path(&raw_path)?;
    uploads::remove_file(&archive.uploads(), &user, id, dataset_path).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn submit(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let actor = user.clone();
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| curation::submit(conn, &settings, &actor, id))
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(view_json(&archive, Some(user), id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    decision: String,
    #[serde(default)]
    comment: Option<String>,
}

/// `{"decision": "request_changes" | "accept", "comment": "..."}` (curators). Accept
/// answers 202: the dataset is approved and publishes in the background; its `state`
/// turns `published` once the DOI is findable.
pub async fn review(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let body = read_body(payload, 64 * 1024, "request body").await?;
    let review: ReviewBody = serde_json::from_slice(&body).map_err(|e| {
        DomainError::invalid(
            "body",
            format!("expected {{\"decision\": \"accept\" | \"request_changes\", \"comment\": \"...\"}}: {e}"),
        )
    })?;
    let comment = review.comment.unwrap_or_default();
    let status = match review.decision.as_str() {
        "accept" => {
            curation::accept(&archive.db, archive.jobs.waker(), &user, id, &comment).await?;
            StatusCode::ACCEPTED
        }
        "request_changes" => {
            let (curator, settings) = (user.clone(), archive.settings.clone());
            archive
                .db
                .run(move |conn| curation::request_changes(conn, &settings, &curator, id, &comment))
                .await?;
            archive.wake_workers();
            StatusCode::OK
        }
        other => {
            return Err(DomainError::invalid(
                "decision",
                format!(
                    "'{other}' is not a decision this archive knows; use accept or request_changes"
                ),
            )
            .into())
        }
    };
    Ok(HttpResponse::build(status).json(view_json(&archive, Some(user), id).await?))
}

/// A curator claims a submission (optional: a decision claims it on the way).
pub async fn claim(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let curator = user.clone();
    archive
        .db
        .run(move |conn| curation::claim(conn, &curator, id))
        .await?;
    Ok(HttpResponse::Ok().json(view_json(&archive, Some(user), id).await?))
}

/// Opens the next version of a published dataset as a draft → 201.
pub async fn new_version(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let owner = user.clone();
    archive
        .db
        .run(move |conn| service::new_version(conn, &owner, id))
        .await?;
    crate::crashpoint::hit("new-version.after-commit");
    archive.wake_workers();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/datasets/{id}")))
        .json(view_json(&archive, Some(user), id).await?))
}

/// The depositor reserves a DOI for their draft → 201 with the dataset (200 when it
/// already had one). The DOI is a draft until the dataset is published.
pub async fn reserve_doi(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let (actor, settings) = (user.clone(), archive.settings.clone());
    let (_, created) = archive
        .db
        .run(move |conn| registration::reserve_for_draft(conn, &settings, &actor, id))
        .await?;
    archive.wake_workers();
    let body = view_json(&archive, Some(user), id).await?;
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeaccessionBody {
    reason: String,
}

/// `{"reason": "..."}` (admins): withdraws a published dataset.
pub async fn deaccession(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let body = read_body(payload, 64 * 1024, "request body").await?;
    let wanted: DeaccessionBody = serde_json::from_slice(&body).map_err(|e| {
        DomainError::invalid("body", format!("expected {{\"reason\": \"...\"}}: {e}"))
    })?;
    let admin = user.clone();
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| crate::publish::deaccession(conn, &settings, &admin, id, &wanted.reason))
        .await?;
    crate::crashpoint::hit("deaccession.after-commit");
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(view_json(&archive, Some(user), id).await?))
}

#[derive(Deserialize)]
pub struct QueueQuery {
    state: Option<String>,
    assignee: Option<String>,
}

/// The review queue as JSON (curators): `?state=submitted&assignee=me|none|ID`.
pub async fn curation_queue(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    access::require_curator(&user, "work the review queue")?;
    let filter = curation::QueueFilter::parse(
        query.state.as_deref().unwrap_or(""),
        query.assignee.as_deref().unwrap_or(""),
        user.id,
    )?;
    let entries = archive
        .db
        .run(move |conn| curation::queue(conn, &filter, 1000))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "datasets": entries })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StandardsBody {
    standards: Vec<String>,
}

/// Sets the standards the dataset claims: `{"standards": ["essdive-flmd", ...]}`.
pub async fn set_standards(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let body = read_body(payload, 64 * 1024, "request body").await?;
    let wanted: StandardsBody = serde_json::from_slice(&body).map_err(|e| {
        DomainError::invalid(
            "body",
            format!("expected {{\"standards\": [\"name\", ...]}}: {e}"),
        )
    })?;
    let known: Vec<String> = archive
        .standards
        .standards
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let saved = archive
        .db
        .run(move |conn| service::set_claimed_standards(conn, &user, id, &wanted.standards, &known))
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(json!({ "standards": saved })))
}

/// The latest validation report of the dataset's current version, with the state of
/// the checks (`checking` while a run is queued or running) and each finding's ticket
/// item state (open, waived, fixed).
pub async fn validation(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let report = archive
        .db
        .run(move |conn| crate::qa::validation::report_for(conn, &user, id))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

pub async fn dataset_tickets(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let list = archive
        .db
        .run(move |conn| {
            let list = tickets::of_dataset(conn, &user, id)?;
            let items = tickets::items_of_dataset(conn, id)?;
            Ok(list
                .into_iter()
                .map(|t| {
                    let own: Vec<Value> = items
                        .iter()
                        .filter(|i| i.ticket_id == t.ticket.id)
                        .map(item_json)
                        .collect();
                    let mut v = json!(t);
                    v["items"] = Value::Array(own);
                    v
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "tickets": list })))
}

fn item_json(item: &tickets::ItemRow) -> Value {
    let mut v = json!(item);
    v["blocking"] = json!(item.is_blocking());
    v["findings"] = item.findings_json();
    v
}

fn ticket_detail_json(d: &tickets::TicketDetail) -> Value {
    let mut v = json!(d);
    v["items"] = Value::Array(d.items.iter().map(item_json).collect());
    v
}

pub async fn ticket(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let d = archive
        .db
        .run(move |conn| tickets::detail(conn, &user, id))
        .await?;
    Ok(HttpResponse::Ok().json(ticket_detail_json(&d)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    body: String,
}

/// Adds a comment: `{"body": "..."}`. Answers with the whole ticket.
pub async fn ticket_comment(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let id = path.into_inner();
    let body = read_body(payload, 256 * 1024, "request body").await?;
    let comment: CommentBody = serde_json::from_slice(&body).map_err(|e| {
        DomainError::invalid("body", format!("expected {{\"body\": \"...\"}}: {e}"))
    })?;
    let settings = archive.settings.clone();
    let d = archive
        .db
        .run(move |conn| {
            tickets::comment(conn, &settings, &user, id, &comment.body, None)?;
            tickets::detail(conn, &user, id)
        })
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Created().json(ticket_detail_json(&d)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiveBody {
    reason: String,
}

/// Waives an item: `{"reason": "..."}` (curators). Answers with the item.
pub async fn waive_item(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<(i64, i64)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let (id, item) = path.into_inner();
    let body = read_body(payload, 256 * 1024, "request body").await?;
    let waive: WaiveBody = serde_json::from_slice(&body).map_err(|e| {
        DomainError::invalid("body", format!("expected {{\"reason\": \"...\"}}: {e}"))
    })?;
    let settings = archive.settings.clone();
    let row = archive
        .db
        .run(move |conn| tickets::waive(conn, &settings, &user, id, item, &waive.reason))
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(item_json(&row)))
}

/// `GET /api/profile/notifications`: `{"ticket": true, "comment": true, ...}`, one key
/// per notification kind, true when the caller gets those emails.
pub async fn notifications(
    archive: web::Data<Archive>,
    caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let current = archive
        .db
        .run(move |conn| mail::prefs::load(conn, user.id))
        .await?;
    Ok(HttpResponse::Ok().json(mail::prefs::to_json(&current)))
}

/// `PUT /api/profile/notifications`: sets the kinds named in the body (others keep
/// their setting) and answers with all of them.
pub async fn set_notifications(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = caller.required()?;
    let body = read_body(payload, JSON_LIMIT, "request body").await?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| DomainError::invalid("body", format!("the body is not valid JSON: {e}")))?;
    let changes = mail::prefs::parse_json(&value)?;
    let current = archive
        .db
        .transaction(move |conn| {
            mail::prefs::set(conn, user.id, &changes)?;
            mail::prefs::load(conn, user.id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(mail::prefs::to_json(&current)))
}

/// Every stored file of the dataset with its full fixity history (each check: when,
/// outcome, expected and found digest and size), and unexpected files the audits found.
/// Visible to whoever may see the dataset.
pub async fn fixity(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let viewer = caller.0;
    let id = path.into_inner();
    let (object_id, report) = archive
        .db
        .run(move |conn| {
            let view = service::load_landing_view(conn, viewer.as_ref(), id, None)?;
            Ok((
                view.dataset.ocfl_object_id.clone(),
                crate::fixity::report::of_dataset(conn, id)?,
            ))
        })
        .await?;
    let damaged = report.files.iter().filter(|f| f.state == "damaged").count();
    Ok(HttpResponse::Ok().json(json!({
        "dataset_id": id,
        "object_id": object_id,
        "damaged": damaged,
        "files": report.files,
        "unexpected": report.unexpected,
    })))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    format: Option<String>,
}

/// The dataset's PREMIS event history: JSON, or PREMIS 3 XML with `?format=premis`.
/// Its depositor and curators see every event; others the public history
/// (`events::history_for`).
pub async fn events(
    archive: web::Data<Archive>,
    caller: ApiCaller,
    path: web::Path<i64>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let viewer = caller.0;
    let id = path.into_inner();
    let (object_id, list) = archive
        .db
        .run(move |conn| {
            let view = service::load_landing_view(conn, viewer.as_ref(), id, None)?;
            let published: Vec<i32> = service::published_versions(conn, id)?
                .iter()
                .map(|v| v.number)
                .collect();
            let reader = if view.access(viewer.as_ref()).may_see_drafts() {
                events::Reader::Insider
            } else {
                events::Reader::Public {
                    owner_id: view.dataset.owner_id,
                    published_versions: &published,
                }
            };
            let list = events::history_for(events::of_dataset(conn, id)?, reader);
            let object_id = view
                .dataset
                .ocfl_object_id
                .clone()
                .unwrap_or_else(|| format!("dataset:{id}"));
            Ok((object_id, list))
        })
        .await?;
    match query.format.as_deref() {
        Some("premis") | Some("xml") => Ok(HttpResponse::Ok()
            .content_type("application/xml; charset=utf-8")
            .body(events::premis_xml(&object_id, &list)?)),
        None | Some("json") => Ok(HttpResponse::Ok().json(json!({ "events": list }))),
        Some(other) => Err(DomainError::BadRequest(format!(
            "unknown format '{other}'; use json or premis"
        ))
        .into()),
    }
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(DomainError::NotFound.into())
}
