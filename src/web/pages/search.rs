//! The search page: the same search as `GET /api/search`, with facet links that add or
//! remove a filter, and page links. Plain links and one GET form: no JavaScript.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::PageCtx;
use crate::app::Archive;
use crate::error::DomainError;
use crate::search::{self, Facet, SearchHit, SearchRequest, SearchResults, SortOrder};
use crate::web::auth::Viewer;
use crate::web::errors::{render, PageError};

/// The query string's pairs, in order (repeated names kept: `subject=a&subject=b`).
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, DomainError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|e| DomainError::BadRequest(format!("the query string is not valid: {e}")))
}

/// A link to the search page asking for `req`.
fn href(req: &SearchRequest) -> String {
    let pairs = req.to_pairs();
    if pairs.is_empty() {
        return "/search".to_string();
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) => format!("/search?{query}"),
        Err(_) => "/search".to_string(),
    }
}

struct FacetValueView {
    value: String,
    count: i64,
    selected: bool,
    /// Adds the value to the filters, or removes it when selected.
    toggle: String,
}

struct FacetView {
    key: &'static str,
    label: &'static str,
    values: Vec<FacetValueView>,
}

struct ActiveFilter {
    key: &'static str,
    label: &'static str,
    value: String,
    remove: String,
}

struct SortLink {
    label: &'static str,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    page: PageCtx,
    q: String,
    has_text: bool,
    total: i64,
    page_number: i64,
    page_count: i64,
    /// The page size when not the default, kept by the search form.
    per_page: Option<i64>,
    hits: Vec<SearchHit>,
    facets: Vec<FacetView>,
    active: Vec<ActiveFilter>,
    clear_filters: Option<String>,
    sorts: Vec<SortLink>,
    sort: &'static str,
    prev: Option<String>,
    next: Option<String>,
    first_shown: i64,
    last_shown: i64,
}

fn toggled(req: &SearchRequest, facet: Facet, value: &str) -> SearchRequest {
    let mut next = req.clone();
    next.page = 1;
    let values = next.filters.entry(facet).or_default();
    if let Some(i) = values.iter().position(|v| v == value) {
        values.remove(i);
        if values.is_empty() {
            next.filters.remove(&facet);
        }
    } else {
        values.push(value.to_string());
    }
    next
}

/// The facets with values, each value with the link that toggles it.
fn facet_views(req: &SearchRequest, results: &SearchResults) -> Vec<FacetView> {
    results
        .facets
        .0
        .iter()
        .filter(|(_, counts)| !counts.is_empty())
        .map(|(facet, counts)| FacetView {
            key: facet.key(),
            label: facet.label(),
            values: counts
                .iter()
                .map(|c| FacetValueView {
                    value: c.value.clone(),
                    count: c.count,
                    selected: req.is_selected(*facet, &c.value),
                    toggle: href(&toggled(req, *facet, &c.value)),
                })
                .collect(),
        })
        .collect()
}

/// The sort orders to switch to, when there is a text to rank by.
fn sort_links(req: &SearchRequest) -> Vec<SortLink> {
    if req.query.is_empty() {
        return Vec::new();
    }
    [SortOrder::Relevance, SortOrder::Newest]
        .into_iter()
        .map(|s| {
            let mut r = req.clone();
            r.sort = s;
            r.page = 1;
            SortLink {
                label: match s {
                    SortOrder::Relevance => "best match",
                    SortOrder::Newest => "newest",
                },
                href: href(&r),
                current: s == req.sort,
            }
        })
        .collect()
}

fn view(ctx: PageCtx, req: &SearchRequest, results: SearchResults) -> SearchPage {
    let facets = facet_views(req, &results);
    let active: Vec<ActiveFilter> = req
        .filters
        .iter()
        .flat_map(|(facet, values)| {
            values.iter().map(move |v| ActiveFilter {
                key: facet.key(),
                label: facet.label(),
                value: v.clone(),
                remove: href(&toggled(req, *facet, v)),
            })
        })
        .collect();
    let clear_filters = (!active.is_empty()).then(|| {
        let mut r = req.clone();
        r.filters.clear();
        r.page = 1;
        href(&r)
    });
    let sorts = sort_links(req);
    let page_count = results.page_count();
    let at = |n: i64| {
        let mut r = req.clone();
        r.page = n;
        href(&r)
    };
    let shown = results.results.len() as i64;
    SearchPage {
        page: ctx,
        q: req.text.clone(),
        has_text: !req.query.is_empty(),
        total: results.total,
        page_number: req.page,
        page_count,
        per_page: (req.per_page != search::DEFAULT_PER_PAGE).then_some(req.per_page),
        first_shown: if shown == 0 { 0 } else { req.offset() + 1 },
        last_shown: req.offset() + shown,
        hits: results.results,
        facets,
        active,
        clear_filters,
        sorts,
        sort: req.sort.as_str(),
        prev: (req.page > 1).then(|| at((req.page - 1).min(page_count))),
        next: (req.page < page_count).then(|| at(req.page + 1)),
    }
}

pub async fn page(
    req: HttpRequest,
    archive: web::Data<Archive>,
    viewer: Viewer,
) -> Result<HttpResponse, PageError> {
    let request = SearchRequest::from_pairs(&query_pairs(&req)?)?;
    let run = request.clone();
    let results = archive
        .db
        .run(move |conn| search::search(conn, &run))
        .await?;
    let ctx = PageCtx::new(&req, &archive, viewer.0);
    render(StatusCode::OK, &view(ctx, &request, results))
}
