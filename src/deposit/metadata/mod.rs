//! Deposit metadata for holdfast: a DataCite 4.6 (REST API JSON) shaped model,
//! controlled vocabularies, normalisation, validation with per-field errors, and
//! mapping to and from a plain HTML form.
//!
//! Typical use:
//! * JSON API: `let mut m = Metadata::from_json(body)?; normalize(&mut m); validate(&m)`.
//! * HTML form: `let out = check_form(&pairs);` then re-render `out.state` with
//!   `out.errors` (field names are form input names), or store `out.metadata`.
//! * Editing a draft: `to_form(&metadata)` gives the values for the form.

pub mod form;
pub mod ids;
mod isodate;
pub mod model;
mod normalize;
pub mod validate;
pub mod vocab;

#[cfg(test)]
mod tests;

pub use self::form::{
    check_form, form_field_for, from_form, to_form, FormOutcome, FormState, MAX_FORM_ROWS,
};
pub use self::ids::{Orcid, OrcidError, RorError, RorId};
pub use self::model::{
    Affiliation, Creator, Date, Description, FundingReference, GeoLocation, GeoLocationBox,
    GeoLocationPoint, JsonError, Metadata, NameIdentifier, Publisher, RelatedIdentifier, Rights,
    Subject, Title, Types,
};
pub use self::normalize::normalize;
pub use self::validate::validate;

pub use crate::error::FieldError;
