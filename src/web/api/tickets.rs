//! Quality assurance: a dataset's validation report and tickets, a ticket, comments,
//! and waiving an item.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::Archive;
use crate::tickets::{self, ItemRow, TicketDetail, TicketSummary};
use crate::web::auth::ApiUser;
use crate::web::errors::ApiError;
use crate::web::extract::{ApiJson, JsonBody};

/// The latest validation report of the dataset's current version, with the state of
/// the checks (`checking` while a run is queued or running) and each finding's ticket
/// item state (open, waived, fixed).
pub async fn validation(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let report = archive
        .db
        .run(move |conn| crate::qa::validation::report_for(conn, &user, id))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// An item with whether it blocks publication and its findings as JSON (a map: the
/// stored findings text gives way to the parsed findings).
fn item_json(item: &ItemRow) -> Value {
    let mut v = json!(item);
    v["blocking"] = json!(item.is_blocking());
    v["findings"] = item.findings_json();
    v
}

fn ticket_detail_json(d: &TicketDetail) -> Value {
    let mut v = json!(d);
    v["items"] = Value::Array(d.items.iter().map(item_json).collect());
    v
}

/// A ticket of the dataset's list, with its items.
#[derive(Serialize)]
struct TicketWithItems {
    #[serde(flatten)]
    ticket: TicketSummary,
    items: Vec<Value>,
}

#[derive(Serialize)]
struct TicketList {
    tickets: Vec<TicketWithItems>,
}

pub async fn dataset_tickets(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (list, items) = archive
        .db
        .run(move |conn| {
            let list = tickets::of_dataset(conn, &user, id)?;
            Ok((list, tickets::items_of_dataset(conn, id)?))
        })
        .await?;
    let tickets = list
        .into_iter()
        .map(|ticket| {
            let items = items
                .iter()
                .filter(|i| i.ticket_id == ticket.ticket.id)
                .map(item_json)
                .collect();
            TicketWithItems { ticket, items }
        })
        .collect();
    Ok(HttpResponse::Ok().json(TicketList { tickets }))
}

pub async fn ticket(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let d = archive
        .db
        .run(move |conn| tickets::detail(conn, &user, id))
        .await?;
    Ok(HttpResponse::Ok().json(ticket_detail_json(&d)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    body: String,
}

impl JsonBody for CommentBody {
    const LIMIT: usize = 256 * 1024;
    const EXPECTED: &'static str = "expected {\"body\": \"...\"}";
}

/// Adds a comment: `{"body": "..."}`. Answers with the whole ticket.
pub async fn ticket_comment(
    archive: web::Data<Archive>,
    path: web::Path<i64>,
    ApiUser(user): ApiUser,
    ApiJson(comment): ApiJson<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
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
pub struct WaiveBody {
    reason: String,
}

impl JsonBody for WaiveBody {
    const LIMIT: usize = 256 * 1024;
    const EXPECTED: &'static str = "expected {\"reason\": \"...\"}";
}

/// Waives an item: `{"reason": "..."}` (curators). Answers with the item.
pub async fn waive_item(
    archive: web::Data<Archive>,
    path: web::Path<(i64, i64)>,
    ApiUser(user): ApiUser,
    ApiJson(waive): ApiJson<WaiveBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, item) = path.into_inner();
    let settings = archive.settings.clone();
    let row = archive
        .db
        .run(move |conn| tickets::waive(conn, &settings, &user, id, item, &waive.reason))
        .await?;
    archive.wake_workers();
    Ok(HttpResponse::Ok().json(item_json(&row)))
}
