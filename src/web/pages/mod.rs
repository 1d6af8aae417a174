//! HTML pages. Each handler parses the request, calls the domain, renders a template.

pub mod accounts;
pub mod admin;
pub mod curation;
pub mod datasets;
pub mod deposit;
pub mod downloads;
pub mod exports;
pub mod home;
pub mod reports;
pub mod samples;
pub mod search;
pub mod sitemap;
pub mod tickets;
pub mod tombstone;

use actix_web::HttpRequest;

use super::auth::csrf_token;
use crate::accounts::{access, User};
use crate::app::Archive;

/// What every page's layout needs.
pub struct PageCtx {
    pub user: Option<User>,
    pub csrf: String,
    pub site_name: String,
}

impl PageCtx {
    pub fn new(req: &HttpRequest, archive: &Archive, user: Option<User>) -> PageCtx {
        PageCtx {
            user,
            csrf: csrf_token(req),
            site_name: archive.settings.site_name.clone(),
        }
    }

    pub fn is_curator(&self) -> bool {
        access::may_curate(self.user.as_ref())
    }

    pub fn is_admin(&self) -> bool {
        access::is_admin(self.user.as_ref())
    }
}

/// A form with a reason (deaccession, waiving a ticket item).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ReasonForm {
    pub reason: String,
}

/// Errors of a form, looked up by field name from templates.
#[derive(Default)]
pub struct FormErrors(pub Vec<crate::error::FieldError>);

impl FormErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Counts a view or a download of a published version (GET requests only; robots and
/// repeat visits are filtered by the recorder). Never fails the request.
pub fn count_usage(
    req: &HttpRequest,
    archive: &Archive,
    dataset_id: i64,
    version: i32,
    kind: crate::usage::Kind,
) {
    if req.method() != actix_web::http::Method::GET || crate::web::head::is_head(req) {
        return;
    }
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    archive.usage.record(crate::usage::Hit {
        dataset_id,
        version,
        kind,
        client: super::auth::client_ip(req),
        user_agent,
        at: chrono::Utc::now().naive_utc(),
    });
}

/// "1 view · 3 downloads".
pub fn usage_text(counts: &crate::usage::Counts) -> String {
    let plural = |n: i64, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    format!(
        "{} · {}",
        plural(counts.views, "view"),
        plural(counts.downloads, "download")
    )
}

/// Human-readable size: 1.5 MB, 20 GB (decimal units, as file managers show).
pub fn human_size(bytes: &i64) -> String {
    let b = *bytes as f64;
    const UNITS: [&str; 6] = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    if b < 1000.0 {
        return format!("{bytes} bytes");
    }
    let mut value = b;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
