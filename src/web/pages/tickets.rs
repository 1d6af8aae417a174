//! QA ticket pages: a ticket with its items and thread, "my tickets", the curators'
//! ticket queue, and opening a ticket by hand.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{PageCtx, ReasonForm};
use crate::accounts::{access, users, User};
use crate::app::Archive;
use crate::error::{DomainError, ErrorContext};
use crate::tickets::{
    self, linkify, Attachment, Segment, TicketDetail, TicketState, TicketSummary,
};
use crate::web::auth::SignedIn;
use crate::web::errors::{redirect, render, PageError};
use crate::web::extract::{csrf_first, next_part, read_text_field, CsrfForm, CsrfOnly, FormPart};

/// Largest file attached to a comment (a screenshot, a corrected sample).
pub const ATTACHMENT_MAX_BYTES: u64 = 25 * 1024 * 1024;
/// Room for the longest comment (20,000 characters of up to 4 bytes).
const COMMENT_FIELD_LIMIT: usize = tickets::MAX_TEXT * 4;

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    page: PageCtx,
    d: TicketDetail,
    curators: Vec<User>,
    message: Option<String>,
}

impl TicketPage {
    fn segments(&self, text: &str) -> Vec<Segment> {
        linkify(text)
    }

    fn findings_of(&self, item: &tickets::ItemRow) -> Vec<FindingLine> {
        FindingLine::from_json(&item.findings_json())
    }

    fn is_assignee(&self, id: &i64) -> bool {
        self.d.ticket.assignee_id == Some(*id)
    }

    fn due_value(&self) -> String {
        self.d
            .ticket
            .due_date
            .map(|d| d.to_string())
            .unwrap_or_default()
    }
}

/// One finding of an item, as the ticket page lists it.
pub struct FindingLine {
    pub row: String,
    pub column: String,
    pub message: String,
    pub value: String,
}

impl FindingLine {
    fn from_json(v: &serde_json::Value) -> Vec<FindingLine> {
        let text = |f: &serde_json::Value, k: &str| match &f[k] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        v.as_array()
            .map(|list| {
                list.iter()
                    .take(20)
                    .map(|f| FindingLine {
                        row: text(f, "row"),
                        column: text(f, "column"),
                        message: text(f, "message"),
                        value: text(f, "value"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(serde::Deserialize)]
pub struct MsgQuery {
    msg: Option<String>,
}

fn flash(code: Option<&str>) -> Option<String> {
    match code? {
        "commented" => Some("Comment added.".into()),
        "waived" => Some("Item waived.".into()),
        "unwaived" => Some("Waiver withdrawn.".into()),
        "assigned" => Some("Assignment saved.".into()),
        "due" => Some("Due date saved.".into()),
        "closed" => Some("Ticket closed.".into()),
        "reopened" => Some("Ticket reopened.".into()),
        "opened" => Some("Ticket opened; the depositor was told.".into()),
        _ => None,
    }
}

pub async fn show(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    query: web::Query<MsgQuery>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let viewer = user.0.clone();
    let (d, curators) = archive
        .db
        .run(move |conn| {
            let d = tickets::detail(conn, &viewer, id)?;
            let curators = if access::may_curate(Some(&viewer)) {
                users::curators(conn)?
            } else {
                Vec::new()
            };
            Ok((d, curators))
        })
        .await?;
    render(
        StatusCode::OK,
        &TicketPage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            d,
            curators,
            message: flash(query.msg.as_deref()),
        },
    )
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct TicketListPage {
    page: PageCtx,
    heading: String,
    tickets: Vec<TicketSummary>,
    /// The curators' queue shows filters and the sort switcher.
    queue: Option<QueueFilters>,
}

pub struct QueueFilters {
    pub state: String,
    pub sort: String,
    pub assignee: String,
    pub curators: Vec<User>,
}

impl QueueFilters {
    /// Whether the filter `key` currently has `value`.
    pub fn is(&self, key: &str, value: &str) -> bool {
        match key {
            "state" => self.state == value,
            "sort" => self.sort == value,
            _ => self.assignee == value,
        }
    }

    /// The queue's URL with one parameter changed, keeping the others.
    pub fn link(&self, key: &str, value: &str) -> String {
        let pick = |k: &str, current: &str| {
            if k == key {
                value.to_string()
            } else {
                current.to_string()
            }
        };
        let pairs = [
            ("state", pick("state", &self.state)),
            ("sort", pick("sort", &self.sort)),
            ("assignee", pick("assignee", &self.assignee)),
        ];
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        format!("/curation/tickets?{query}")
    }
}

pub async fn mine(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
) -> Result<HttpResponse, PageError> {
    let viewer = user.0.clone();
    let list = archive
        .db
        .run(move |conn| tickets::mine(conn, &viewer))
        .await?;
    render(
        StatusCode::OK,
        &TicketListPage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            heading: "My tickets".into(),
            tickets: list,
            queue: None,
        },
    )
}

#[derive(serde::Deserialize, Default)]
pub struct QueueParams {
    state: Option<String>,
    sort: Option<String>,
    /// A curator's id, "none" for unassigned, empty for anyone.
    assignee: Option<String>,
    kind: Option<String>,
}

pub async fn queue(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    params: web::Query<QueueParams>,
) -> Result<HttpResponse, PageError> {
    let params = params.into_inner();
    let assignee_text = params.assignee.clone().unwrap_or_default();
    let assignee = match assignee_text.as_str() {
        "" => None,
        "none" => Some(0),
        other => Some(other.parse::<i64>().map_err(|_| {
            DomainError::BadRequest("assignee must be a curator's id or none".into())
        })?),
    };
    let state_text = params.state.clone().unwrap_or_else(|| "open".into());
    let q = tickets::QueueQuery {
        state: tickets::QueueQuery::state_filter(&state_text),
        sort: params.sort.clone().unwrap_or_else(|| "age".into()),
        assignee,
        kind: params.kind.clone().filter(|k| !k.is_empty()),
        limit: 500,
    };
    let viewer = user.0.clone();
    let query = q.clone();
    let (list, curators) = archive
        .db
        .run(move |conn| {
            Ok((
                tickets::queue(conn, &viewer, &query)?,
                users::curators(conn)?,
            ))
        })
        .await?;
    render(
        StatusCode::OK,
        &TicketListPage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            heading: "Ticket queue".into(),
            tickets: list,
            queue: Some(QueueFilters {
                state: state_text,
                sort: q.sort,
                assignee: assignee_text,
                curators,
            }),
        },
    )
}

/// Comment form: csrf_token first, then body, then an optional attachment (multipart so
/// a file can come along; the token is checked before any byte of a file is stored).
pub async fn comment(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    mut multipart: Multipart,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let viewer = user.0.clone();
    // Refuse early (404) before reading a file for a ticket the user cannot see.
    archive
        .db
        .run(move |conn| tickets::load_for(conn, &viewer, id).map(|_| ()))
        .await?;
    csrf_first(&req, &mut multipart, "form").await?;
    let mut body = String::new();
    let mut staged = None;
    let mut attachment_name = String::new();
    let read: Result<(), DomainError> = async {
        while let Some(FormPart {
            mut part,
            name,
            filename,
        }) = next_part(&mut multipart, "form").await?
        {
            match (name.as_str(), filename) {
                ("body", None) => body = read_text_field(&mut part, COMMENT_FIELD_LIMIT).await?,
                ("attachment", Some(filename)) => {
                    if filename.is_empty() || staged.is_some() {
                        continue; // no file chosen
                    }
                    attachment_name = attachment_file_name(&filename)?;
                    staged = Some(
                        archive
                            .staging
                            .stage_stream(&mut part, ATTACHMENT_MAX_BYTES)
                            .await?,
                    );
                }
                _ => {
                    return Err(DomainError::BadRequest(format!(
                        "unexpected form field '{name}'"
                    )))
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = read {
        archive.staging.discard(staged.iter()).await;
        return Err(e.into());
    }
    let attachment = match &staged {
        Some(file) => Some(keep_attachment(&archive, file, attachment_name).await?),
        None => None,
    };
    let kept_blob = attachment.as_ref().map(|a| a.blob.clone());
    let viewer = user.0.clone();
    let settings = archive.settings.clone();
    let outcome = archive
        .db
        .run(move |conn| tickets::comment(conn, &settings, &viewer, id, &body, attachment))
        .await;
    if outcome.is_err() {
        if let Some(blob) = kept_blob {
            remove_attachment_blob(&archive, &blob).await;
        }
    }
    outcome?;
    archive.wake_workers();
    Ok(redirect(&format!("/tickets/{id}?msg=commented#thread")))
}

/// The name shown for an attachment: the browser's file name without folders, checked
/// like a dataset file name.
fn attachment_file_name(filename: &str) -> Result<String, DomainError> {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let parsed = crate::deposit::uploads::parse_path(base)?;
    Ok(parsed.as_str().to_string())
}

/// Moves a staged upload into the attachments folder under a random name.
async fn keep_attachment(
    archive: &Archive,
    file: &crate::deposit::ingest::StagedFile,
    name: String,
) -> Result<Attachment, DomainError> {
    let dir = archive.settings.attachments_dir();
    let blob = format!("{}.bin", crate::accounts::sessions::random_secret());
    let target = dir.join(&blob);
    let source = file.path.clone();
    let moved = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        std::fs::rename(&source, &target)
    })
    .await
    .context("the attachment move task")?;
    if let Err(e) = moved {
        archive.staging.discard([file]).await;
        return Err(DomainError::internal(format!("keeping an attachment: {e}")));
    }
    Ok(Attachment {
        name,
        blob,
        size: i64::try_from(file.size).map_err(DomainError::internal)?,
        sha256: file.sha256_hex.clone(),
    })
}

fn attachment_path(archive: &Archive, blob: &str) -> Result<std::path::PathBuf, DomainError> {
    let safe = blob.ends_with(".bin")
        && blob
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    if !safe {
        return Err(DomainError::internal(format!(
            "bad attachment name {blob:?}"
        )));
    }
    Ok(archive.settings.attachments_dir().join(blob))
}

async fn remove_attachment_blob(archive: &Archive, blob: &str) {
    if let Ok(path) = attachment_path(archive, blob) {
        let _ = tokio::fs::remove_file(path).await;
    }
}

/// Serves a comment's attachment to those who can see the ticket, always as a download.
pub async fn attachment(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, PageError> {
    let (ticket_id, event_id) = path.into_inner();
    let viewer = user.0;
    let event = archive
        .db
        .run(move |conn| tickets::attachment(conn, &viewer, ticket_id, event_id))
        .await?;
    let blob = event.attachment_blob.unwrap_or_default();
    let file = attachment_path(&archive, &blob)?;
    // Streamed, like dataset files: a client that does not read holds one chunk.
    let reading =
        |e: std::io::Error| DomainError::internal(format!("reading attachment {blob}: {e}"));
    let opened = tokio::fs::File::open(&file).await.map_err(reading)?;
    let size = opened.metadata().await.map_err(reading)?.len();
    let bytes = actix_web::body::SizedStream::new(
        size,
        tokio_util::io::ReaderStream::with_capacity(opened, 64 * 1024),
    );
    let name = event.attachment_name.unwrap_or_else(|| "attachment".into());
    let encoded = percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC);
    let mut response = HttpResponse::Ok();
    response
        .content_type("application/octet-stream")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename*=UTF-8''{encoded}"),
        ));
    crate::web::user_content(&mut response);
    Ok(response.body(bytes))
}

/// The limit of a ticket's forms: room for a long title and body.
const TICKET_FORM: usize = 128 * 1024;

pub async fn waive(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<(i64, i64)>,
    CsrfForm(ReasonForm { reason }): CsrfForm<ReasonForm, TICKET_FORM>,
) -> Result<HttpResponse, PageError> {
    let (id, item) = path.into_inner();
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| tickets::waive(conn, &settings, &user.0, id, item, &reason))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/tickets/{id}?msg=waived")))
}

pub async fn unwaive(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<(i64, i64)>,
    _: CsrfOnly<TICKET_FORM>,
) -> Result<HttpResponse, PageError> {
    let (id, item) = path.into_inner();
    archive
        .db
        .run(move |conn| tickets::unwaive(conn, &user.0, id, item))
        .await?;
    Ok(redirect(&format!("/tickets/{id}?msg=unwaived")))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct AssignForm {
    /// A curator's id, or empty for nobody.
    assignee: String,
}

pub async fn assign(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<AssignForm, TICKET_FORM>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let assignee = match form.assignee.as_str() {
        "" => None,
        text => Some(
            text.parse::<i64>()
                .map_err(|_| DomainError::invalid("assignee", "choose a curator"))?,
        ),
    };
    archive
        .db
        .run(move |conn| tickets::assign(conn, &user.0, id, assignee))
        .await?;
    Ok(redirect(&format!("/tickets/{id}?msg=assigned")))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DueForm {
    due_date: String,
}

pub async fn due(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<DueForm, TICKET_FORM>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let due = tickets::parse_due(&form.due_date)?;
    archive
        .db
        .run(move |conn| tickets::set_due(conn, &user.0, id, due))
        .await?;
    Ok(redirect(&format!("/tickets/{id}?msg=due")))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct StateForm {
    state: String,
}

pub async fn set_state(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<StateForm, TICKET_FORM>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let state: TicketState = form
        .state
        .parse()
        .map_err(|_| DomainError::invalid("state", "use open or closed"))?;
    archive
        .db
        .run(move |conn| tickets::set_state(conn, &user.0, id, state))
        .await?;
    let flash = match state {
        TicketState::Open => "reopened",
        TicketState::Closed => "closed",
    };
    Ok(redirect(&format!("/tickets/{id}?msg={flash}")))
}

#[derive(Template)]
#[template(path = "ticket_new.html")]
struct NewTicketPage {
    page: PageCtx,
    dataset_id: i64,
    title: String,
    body: String,
    errors: super::FormErrors,
}

pub async fn new_form(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    access::require_curator(&user.0, "open tickets by hand")?;
    render(
        StatusCode::OK,
        &NewTicketPage {
            page: PageCtx::new(&req, &archive, Some(user.0)),
            dataset_id: path.into_inner(),
            title: String::new(),
            body: String::new(),
            errors: Default::default(),
        },
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct NewTicketForm {
    title: String,
    body: String,
}

pub async fn open(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<NewTicketForm, TICKET_FORM>,
) -> Result<HttpResponse, PageError> {
    let dataset_id = path.into_inner();
    let NewTicketForm { title, body } = form;
    let actor = user.0.clone();
    let settings = archive.settings.clone();
    let (t, b) = (title.clone(), body.clone());
    match archive
        .db
        .run(move |conn| tickets::open_manual(conn, &settings, &actor, dataset_id, &t, &b))
        .await
    {
        Ok(id) => {
            archive.wake_workers();
            Ok(redirect(&format!("/tickets/{id}?msg=opened")))
        }
        Err(DomainError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewTicketPage {
                page: PageCtx::new(&req, &archive, Some(user.0)),
                dataset_id,
                title,
                body,
                errors: super::FormErrors(errors),
            },
        ),
        Err(other) => Err(other.into()),
    }
}
