//! The JSON API under /api, one module per resource. Metadata uses DataCite's JSON
//! attribute names, flattened beside the archive's own fields (`id`, `state`, `doi`,
//! `files`, `links`), as DataCite's own REST API does (`dataset_json`).

pub mod dataset_json;
pub mod datasets;
pub mod files;
pub mod preservation;
pub mod profile;
pub mod review;
pub mod tickets;

use super::errors::ApiError;
use crate::error::DomainError;

pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(DomainError::NotFound.into())
}
