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

use std::fmt;

use serde::{Deserialize, Serialize};

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

/// One problem with the metadata, for showing next to a field.
///
/// `field` is a DataCite-style path such as `creators[1].nameIdentifiers[0].nameIdentifier`
/// (from [`validate`]) or a form input name such as `creators[1].orcid` (from the form
/// functions); `""` means the record as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}
