//! The validation report page of a dataset.

use actix_web::{web, HttpResponse};

use crate::app::Archive;
use crate::error::DomainError;
use crate::web::auth::SignedIn;
use crate::web::errors::PageError;

pub async fn report_page(
    _archive: web::Data<Archive>,
    _user: SignedIn,
    _path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    Err(DomainError::NotFound.into())
}
