//! A draft's pages: the metadata form (new and edit), and the draft's actions (upload
//! and remove files, claim standards, reserve a DOI, submit).

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::borrow::Borrow;

use super::{FormErrors, PageCtx};
use crate::accounts::User;
use crate::app::Archive;
use crate::deposit::metadata::{self, form::FormState, vocab};
use crate::deposit::{service, uploads};
use crate::doi::registration;
use crate::error::{DomainError, FieldError};
use crate::web::auth::SignedIn;
use crate::web::errors::{redirect, render, PageError};
use crate::web::extract::{
    csrf_first, next_part, read_text_field, CsrfForm, CsrfOnly, FormPart, SMALL_FIELD,
};

/// Metadata forms are small; 512 KiB leaves room for long abstracts and many creators.
const METADATA_FORM_LIMIT: usize = 512 * 1024;

/// The metadata form's values and errors, in the shape the template asks for them.
pub struct MetadataForm {
    state: FormState,
    errors: FormErrors,
}

impl MetadataForm {
    /// `errors` must already name form fields (see `form_errors`).
    fn new(state: FormState, errors: Vec<FieldError>) -> Self {
        MetadataForm {
            state,
            errors: FormErrors(errors),
        }
    }

    /// Row indexes to show for a list: the filled ones plus `spare` empty ones.
    pub fn rows(&self, list: &str, spare: usize) -> Vec<usize> {
        (0..self.state.row_count(list) + spare).collect()
    }

    pub fn v(&self, list: &str, i: impl Borrow<usize>, name: &str) -> &str {
        self.state.get(&format!("{list}[{}].{name}", i.borrow()))
    }

    pub fn s(&self, name: &str) -> &str {
        self.state.get(name)
    }

    pub fn e(&self, list: &str, i: impl Borrow<usize>, name: &str) -> Option<&str> {
        self.errors.get(&format!("{list}[{}].{name}", i.borrow()))
    }

    pub fn se(&self, name: &str) -> Option<&str> {
        self.errors.get(name)
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn all_errors(&self) -> &[FieldError] {
        &self.errors.0
    }

    pub fn resource_types(&self) -> &'static [&'static str] {
        vocab::RESOURCE_TYPE_GENERAL
    }

    pub fn date_types(&self) -> &'static [&'static str] {
        vocab::DATE_TYPE
    }

    pub fn related_identifier_types(&self) -> &'static [&'static str] {
        vocab::RELATED_IDENTIFIER_TYPE
    }

    pub fn relation_types(&self) -> &'static [&'static str] {
        vocab::RELATION_TYPE
    }

    pub fn funder_identifier_types(&self) -> &'static [&'static str] {
        vocab::FUNDER_IDENTIFIER_TYPE
    }

    pub fn licenses(&self) -> &'static [vocab::License] {
        vocab::LICENSES
    }
}

#[derive(Template)]
#[template(path = "dataset_form.html")]
struct DatasetFormPage {
    page: PageCtx,
    /// None while creating a new dataset.
    dataset_id: Option<i64>,
    form: MetadataForm,
}

fn form_page(
    req: &HttpRequest,
    archive: &Archive,
    user: User,
    dataset_id: Option<i64>,
    form: MetadataForm,
) -> Result<HttpResponse, PageError> {
    let status = if form.has_errors() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &DatasetFormPage {
            page: PageCtx::new(req, archive, Some(user)),
            dataset_id,
            form,
        },
    )
}

pub async fn new_form(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
) -> Result<HttpResponse, PageError> {
    let mut state = FormState::default();
    // Start the first creator with the depositor's name: the common case.
    state.set("creators[0].name", &user.0.name);
    state.set("creators[0].nameType", "Personal");
    state.set("types.resourceTypeGeneral", "Dataset");
    state.set("license", "CC-BY-4.0");
    form_page(
        &req,
        &archive,
        user.0,
        None,
        MetadataForm::new(state, Vec::new()),
    )
}

/// The metadata form's fields in order (lists are numbered: `creators[0].name`).
type MetadataFields = CsrfForm<Vec<(String, String)>, METADATA_FORM_LIMIT>;

pub async fn create(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    CsrfForm(pairs): MetadataFields,
) -> Result<HttpResponse, PageError> {
    let outcome = metadata::check_form(&pairs);
    let mut errors = outcome.errors;
    if errors.is_empty() {
        let owner = user.0.clone();
        let parsed = outcome.metadata;
        match archive
            .db
            .run(move |conn| service::create(conn, &owner, parsed))
            .await
        {
            Ok(id) => return Ok(redirect(&format!("/datasets/{id}"))),
            Err(DomainError::Invalid(fields)) => errors.extend(form_errors(fields)),
            Err(other) => return Err(other.into()),
        }
    }
    form_page(
        &req,
        &archive,
        user.0,
        None,
        MetadataForm::new(outcome.state, errors),
    )
}

/// Renames errors found on stored metadata (DataCite paths) to the form's field names.
fn form_errors(fields: Vec<FieldError>) -> impl Iterator<Item = FieldError> {
    fields
        .into_iter()
        .map(|e| FieldError::new(metadata::form::form_field_for(&e.field), e.message))
}

pub async fn edit_form(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let actor = user.0.clone();
    let metadata = archive
        .db
        .run(move |conn| {
            let (_, version) = service::editable_draft(conn, &actor, id)?;
            service::parse_stored_metadata(&version.metadata)
        })
        .await?;
    let state = metadata::form::to_form(&metadata);
    form_page(
        &req,
        &archive,
        user.0,
        Some(id),
        MetadataForm::new(state, Vec::new()),
    )
}

pub async fn update(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(pairs): MetadataFields,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let outcome = metadata::check_form(&pairs);
    let mut errors = outcome.errors;
    if errors.is_empty() {
        let actor = user.0.clone();
        let parsed = outcome.metadata;
        match archive
            .db
            .run(move |conn| service::update_metadata(conn, &actor, id, parsed))
            .await
        {
            Ok(()) => {
                archive.wake_workers();
                return Ok(redirect(&format!("/datasets/{id}")));
            }
            Err(DomainError::Invalid(fields)) => errors.extend(form_errors(fields)),
            Err(other) => return Err(other.into()),
        }
    }
    form_page(
        &req,
        &archive,
        user.0,
        Some(id),
        MetadataForm::new(outcome.state, errors),
    )
}

/// Saves the standards the depositor says the dataset follows (checkboxes `standards`).
pub async fn set_standards(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let claimed: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "standards")
        .map(|(_, v)| v.clone())
        .collect();
    let known: Vec<String> = archive
        .standards
        .standards
        .iter()
        .map(|s| s.name.clone())
        .collect();
    archive
        .db
        .run(move |conn| service::set_claimed_standards(conn, &user.0, id, &claimed, &known))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/datasets/{id}?msg=standards")))
}

/// Form upload: several files at once, optionally into a folder, zips optionally
/// unpacked. Fields must come in the form's order: csrf_token first, then folder and
/// unpack, then the files; a request whose first field is not a valid token is refused
/// before any byte is stored.
pub async fn upload(
    req: HttpRequest,
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    mut multipart: Multipart,
    limits: web::Data<crate::web::limits::Limits>,
) -> Result<HttpResponse, PageError> {
    let _uploading = match limits.upload(user.0.id) {
        Ok(permit) => permit,
        Err(busy) => return Ok(busy.response()),
    };
    let id = path.into_inner();
    let actor = user.0.clone();
    archive
        .db
        .run(move |conn| service::editable_draft(conn, &actor, id).map(|_| ()))
        .await?;
    csrf_first(&req, &mut multipart, "upload").await?;
    let mut folder = String::new();
    let mut unpack = false;
    let mut received = Vec::new();
    let result: Result<(), DomainError> = async {
        while let Some(FormPart {
            mut part,
            name,
            filename,
        }) = next_part(&mut multipart, "upload").await?
        {
            match (name.as_str(), filename) {
                ("folder", None) => folder = read_text_field(&mut part, SMALL_FIELD).await?,
                ("unpack", None) => {
                    unpack = !read_text_field(&mut part, SMALL_FIELD).await?.is_empty()
                }
                ("files", Some(filename)) => {
                    if filename.is_empty() {
                        continue; // the browser sends an empty part when no file was chosen
                    }
                    let dataset_path =
                        uploads::parse_path(&uploads::join_folder(&folder, &filename))?;
                    let staged = archive
                        .staging
                        .stage_stream(&mut part, archive.settings.max_upload_bytes)
                        .await?;
                    let is_zip = dataset_path.as_str().to_lowercase().ends_with(".zip");
                    received.push(uploads::Upload {
                        path: dataset_path,
                        staged,
                        unpack: unpack && is_zip,
                    });
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
    if let Err(e) = result {
        archive
            .staging
            .discard(received.iter().map(|u| &u.staged))
            .await;
        return Err(e.into());
    }
    uploads::add_uploads(&archive.uploads(), &user.0, id, received).await?;
    Ok(redirect(&format!("/datasets/{id}?msg=uploaded")))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct FileForm {
    /// The file's path in the dataset.
    path: String,
}

pub async fn remove_file(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<FileForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let file_path = uploads::parse_path(&form.path)?;
    uploads::remove_file(&archive.uploads(), &user.0, id, file_path).await?;
    Ok(redirect(&format!("/datasets/{id}?msg=removed")))
}

/// The depositor reserves a DOI for the draft (the draft page's button).
pub async fn reserve_doi(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    _: CsrfOnly,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| registration::reserve_for_draft(conn, &settings, &user.0, id))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/datasets/{id}?msg=doi_reserved")))
}

pub async fn submit(
    archive: web::Data<Archive>,
    user: SignedIn,
    path: web::Path<i64>,
    _: CsrfOnly,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let actor = user.0;
    let settings = archive.settings.clone();
    archive
        .db
        .run(move |conn| crate::curation::submit(conn, &settings, &actor, id))
        .await?;
    archive.wake_workers();
    Ok(redirect(&format!("/datasets/{id}?msg=submitted")))
}
