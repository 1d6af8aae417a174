//! Mapping between [`Metadata`] and a plain HTML form (no JavaScript needed).
//!
//! Input names mirror the DataCite paths: `titles[0].title`, `creators[2].orcid`,
//! `geoLocations[0].pointLatitude`, ... (see [`LISTS`] and [`SINGLE_FIELDS`]).
//! Rows whose content fields are all blank are dropped and the remaining rows are
//! renumbered from 0, both in the [`FormState`] used to re-render the page and in
//! the [`Metadata`], so error field names match the re-rendered inputs.
//!
//! The form covers a subset of the model. [`to_form`] shows, per creator, the first
//! ORCID, the first ROR name identifier and the first affiliation; subjects lose
//! their scheme/URI; only the first license is shown; titles/descriptions lose `lang`;
//! geoLocation/related identifier extras, `publisher` and `publicationYear` are not
//! on the form. Saving the form replaces those with what the form holds.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{excerpt, Orcid, RorId};
use super::model::*;
use super::normalize::normalize;
use super::validate::validate;
use super::{vocab, FieldError};

/// Most rows accepted per repeated group (creators, dates, ...).
pub const MAX_FORM_ROWS: usize = 200;

/// A repeated group of inputs, `list[i].field`.
pub struct ListSpec {
    pub name: &'static str,
    pub fields: &'static [&'static str],
    /// Inputs (usually `<select>`s with a preselected value) that do not make a
    /// row non-blank on their own.
    pub selectors: &'static [&'static str],
}

/// The repeated groups of the form.
pub const LISTS: &[ListSpec] = &[
    ListSpec {
        name: "titles",
        fields: &["title", "titleType"],
        selectors: &["titleType"],
    },
    ListSpec {
        name: "creators",
        fields: &[
            "name",
            "nameType",
            "givenName",
            "familyName",
            "orcid",
            "ror",
            "affiliation",
            "affiliationRor",
        ],
        selectors: &["nameType"],
    },
    ListSpec {
        name: "descriptions",
        fields: &["description", "descriptionType"],
        selectors: &["descriptionType"],
    },
    ListSpec {
        name: "fundingReferences",
        fields: &[
            "funderName",
            "funderIdentifier",
            "funderIdentifierType",
            "awardNumber",
            "awardUri",
            "awardTitle",
        ],
        selectors: &["funderIdentifierType"],
    },
    ListSpec {
        name: "dates",
        fields: &["date", "dateType", "dateInformation"],
        selectors: &["dateType"],
    },
    ListSpec {
        name: "geoLocations",
        fields: &[
            "place",
            "pointLatitude",
            "pointLongitude",
            "westBoundLongitude",
            "eastBoundLongitude",
            "southBoundLatitude",
            "northBoundLatitude",
        ],
        selectors: &[],
    },
    ListSpec {
        name: "relatedIdentifiers",
        fields: &[
            "relatedIdentifier",
            "relatedIdentifierType",
            "relationType",
            "resourceTypeGeneral",
        ],
        selectors: &[
            "relatedIdentifierType",
            "relationType",
            "resourceTypeGeneral",
        ],
    },
];

/// Inputs that occur once. `subjects` is one text field of comma- or
/// newline-separated keywords; `license` is an SPDX id.
pub const SINGLE_FIELDS: &[&str] = &[
    "subjects",
    "types.resourceTypeGeneral",
    "types.resourceType",
    "license",
    "language",
    "version",
];

/// Names the caller normally strips; ignored if present.
const IGNORED: &[&str] = &["csrf_token", "action"];

/// What the depositor typed, keyed by input name, for re-rendering the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormState {
    values: BTreeMap<String, String>,
}

enum Key {
    Single(&'static str),
    Row(&'static ListSpec, usize, &'static str),
    Ignored,
}

enum KeyError {
    Unknown,
    TooManyRows(&'static str),
}

fn parse_key(k: &str) -> Result<Key, KeyError> {
    if IGNORED.contains(&k) {
        return Ok(Key::Ignored);
    }
    if let Some(s) = SINGLE_FIELDS.iter().find(|s| **s == k) {
        return Ok(Key::Single(s));
    }
    let (list, rest) = k.split_once('[').ok_or(KeyError::Unknown)?;
    let spec = LISTS
        .iter()
        .find(|l| l.name == list)
        .ok_or(KeyError::Unknown)?;
    let (idx, field) = rest.split_once("].").ok_or(KeyError::Unknown)?;
    let field = spec
        .fields
        .iter()
        .find(|f| **f == field)
        .ok_or(KeyError::Unknown)?;
    if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeyError::Unknown);
    }
    let idx = idx.trim_start_matches('0');
    if idx.len() > 6 {
        return Err(KeyError::TooManyRows(spec.name));
    }
    let i: usize = if idx.is_empty() {
        0
    } else {
        idx.parse().map_err(|_| KeyError::Unknown)?
    };
    if i >= MAX_FORM_ROWS {
        return Err(KeyError::TooManyRows(spec.name));
    }
    Ok(Key::Row(spec, i, field))
}

impl FormState {
    /// [`FormState::parse`] without the errors.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        Self::parse(pairs).0
    }

    /// Read submitted name/value pairs: drops blank rows and renumbers the rest;
    /// reports unknown input names and too many rows. A repeated name keeps the
    /// last value.
    pub fn parse(pairs: &[(String, String)]) -> (Self, Vec<FieldError>) {
        let mut errors = Vec::new();
        let mut single = BTreeMap::new();
        // list name -> original index -> field -> value
        let mut rows: BTreeMap<&'static str, BTreeMap<usize, BTreeMap<&'static str, &str>>> =
            BTreeMap::new();
        let mut too_many: BTreeSet<&'static str> = BTreeSet::new();
        for (k, v) in pairs {
            match parse_key(k) {
                Ok(Key::Ignored) => {}
                Ok(Key::Single(name)) => {
                    single.insert(name.to_string(), v.clone());
                }
                Ok(Key::Row(spec, i, field)) => {
                    rows.entry(spec.name)
                        .or_default()
                        .entry(i)
                        .or_default()
                        .insert(field, v.as_str());
                }
                Err(KeyError::Unknown) => {
                    let name = excerpt(k);
                    errors.push(FieldError::new(
                        name.clone(),
                        format!("The form sent an unknown field \"{name}\""),
                    ));
                }
                Err(KeyError::TooManyRows(list)) => {
                    if too_many.insert(list) {
                        errors.push(FieldError::new(
                            list,
                            format!(
                                "Too many rows for {list}: the form takes at most {MAX_FORM_ROWS}"
                            ),
                        ));
                    }
                }
            }
        }
        let mut values = single;
        for spec in LISTS {
            let Some(list_rows) = rows.get(spec.name) else {
                continue;
            };
            let kept = list_rows.values().filter(|row| {
                row.iter()
                    .any(|(f, v)| !spec.selectors.contains(f) && !v.trim().is_empty())
            });
            for (new_i, row) in kept.enumerate() {
                for (f, v) in row {
                    values.insert(format!("{}[{new_i}].{f}", spec.name), (*v).to_string());
                }
            }
        }
        (FormState { values }, errors)
    }

    /// The value of an input (`""` if absent).
    pub fn get(&self, field: &str) -> &str {
        self.values.get(field).map(String::as_str).unwrap_or("")
    }

    /// Set an input's value.
    pub fn set(&mut self, field: impl Into<String>, value: impl Into<String>) {
        self.values.insert(field.into(), value.into());
    }

    /// All inputs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of rows present for a repeated group, e.g. `row_count("creators")`
    /// (a trailing `[` is allowed). Templates typically render this many rows plus
    /// a few blank ones.
    pub fn row_count(&self, prefix: &str) -> usize {
        let prefix = prefix.strip_suffix('[').unwrap_or(prefix);
        let start = format!("{prefix}[");
        self.values
            .range(start.clone()..)
            .take_while(|(k, _)| k.starts_with(&start))
            .filter_map(|(k, _)| k[start.len()..].split_once(']'))
            .filter_map(|(i, _)| i.parse::<usize>().ok())
            .map(|i| i + 1)
            .max()
            .unwrap_or(0)
    }

    fn opt(&self, field: &str) -> Option<String> {
        let v = self.get(field);
        if v.trim().is_empty() {
            None
        } else {
            Some(v.to_string())
        }
    }

    fn number(&self, field: &str, label: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
        let v = self.get(field);
        if v.trim().is_empty() {
            return None;
        }
        match super::model::parse_decimal(v) {
            Some(x) => Some(x),
            None => {
                errors.push(FieldError::new(
                    field,
                    format!(
                        "{label} must be a number in decimal degrees, such as 37.875 or -122.25; got \"{}\"",
                        excerpt(v)
                    ),
                ));
                None
            }
        }
    }

    /// Build metadata from the form values. Errors are only those the form itself
    /// causes (unparsable numbers); run [`normalize`] and [`validate`] afterwards, or
    /// use [`check_form`].
    pub fn to_metadata(&self) -> (Metadata, Vec<FieldError>) {
        let mut errors = Vec::new();
        let mut m = Metadata::default();
        let rows = |list: &str| 0..self.row_count(list);

        for i in rows("titles") {
            let p = |f: &str| format!("titles[{i}].{f}");
            m.titles.push(Title {
                title: self.get(&p("title")).to_string(),
                title_type: self.opt(&p("titleType")),
                lang: None,
            });
        }
        for i in rows("creators") {
            let p = |f: &str| format!("creators[{i}].{f}");
            let mut c = Creator {
                name: self.get(&p("name")).to_string(),
                name_type: self.opt(&p("nameType")),
                given_name: self.opt(&p("givenName")),
                family_name: self.opt(&p("familyName")),
                ..Creator::default()
            };
            if let Some(orcid) = self.opt(&p("orcid")) {
                c.name_identifiers.push(NameIdentifier {
                    name_identifier: orcid,
                    name_identifier_scheme: Orcid::SCHEME.into(),
                    scheme_uri: Some(Orcid::SCHEME_URI.into()),
                });
            }
            if let Some(ror) = self.opt(&p("ror")) {
                c.name_identifiers.push(NameIdentifier {
                    name_identifier: ror,
                    name_identifier_scheme: RorId::SCHEME.into(),
                    scheme_uri: Some(RorId::SCHEME_URI.into()),
                });
            }
            let aff_name = self.opt(&p("affiliation"));
            let aff_ror = self.opt(&p("affiliationRor"));
            if aff_name.is_some() || aff_ror.is_some() {
                let has_ror = aff_ror.is_some();
                c.affiliation.push(Affiliation {
                    name: aff_name.unwrap_or_default(),
                    affiliation_identifier: aff_ror,
                    affiliation_identifier_scheme: has_ror.then(|| RorId::SCHEME.into()),
                    scheme_uri: has_ror.then(|| RorId::SCHEME_URI.into()),
                });
            }
            m.creators.push(c);
        }
        for i in rows("descriptions") {
            let p = |f: &str| format!("descriptions[{i}].{f}");
            m.descriptions.push(Description {
                description: self.get(&p("description")).to_string(),
                description_type: self
                    .opt(&p("descriptionType"))
                    .unwrap_or_else(|| "Abstract".into()),
                lang: None,
            });
        }
        m.subjects = split_keywords(self.get("subjects"))
            .into_iter()
            .map(|s| Subject {
                subject: s,
                ..Subject::default()
            })
            .collect();
        let rtg = self.get("types.resourceTypeGeneral");
        let rt = self.opt("types.resourceType");
        if !rtg.trim().is_empty() || rt.is_some() {
            m.types = Some(Types {
                resource_type_general: rtg.to_string(),
                resource_type: rt,
            });
        }
        if let Some(l) = self.opt("license") {
            m.rights_list.push(Rights {
                rights_identifier: Some(l),
                rights_identifier_scheme: Some(vocab::SPDX_SCHEME.into()),
                ..Rights::default()
            });
        }
        for i in rows("fundingReferences") {
            let p = |f: &str| format!("fundingReferences[{i}].{f}");
            m.funding_references.push(FundingReference {
                funder_name: self.get(&p("funderName")).to_string(),
                funder_identifier: self.opt(&p("funderIdentifier")),
                funder_identifier_type: self.opt(&p("funderIdentifierType")),
                scheme_uri: None,
                award_number: self.opt(&p("awardNumber")),
                award_uri: self.opt(&p("awardUri")),
                award_title: self.opt(&p("awardTitle")),
            });
        }
        for i in rows("dates") {
            let p = |f: &str| format!("dates[{i}].{f}");
            m.dates.push(Date {
                date: self.get(&p("date")).to_string(),
                date_type: self.get(&p("dateType")).to_string(),
                date_information: self.opt(&p("dateInformation")),
            });
        }
        for i in rows("geoLocations") {
            let p = |f: &str| format!("geoLocations[{i}].{f}");
            let filled = |f: &str| !self.get(&p(f)).trim().is_empty();
            let mut g = GeoLocation {
                geo_location_place: self.opt(&p("place")),
                ..GeoLocation::default()
            };
            if filled("pointLatitude") || filled("pointLongitude") {
                g.geo_location_point = Some(GeoLocationPoint {
                    point_latitude: self.number(&p("pointLatitude"), "Latitude", &mut errors),
                    point_longitude: self.number(&p("pointLongitude"), "Longitude", &mut errors),
                });
            }
            let bounds = [
                "westBoundLongitude",
                "eastBoundLongitude",
                "southBoundLatitude",
                "northBoundLatitude",
            ];
            if bounds.iter().any(|f| filled(f)) {
                g.geo_location_box = Some(GeoLocationBox {
                    west_bound_longitude: self.number(
                        &p(bounds[0]),
                        "West bound longitude",
                        &mut errors,
                    ),
                    east_bound_longitude: self.number(
                        &p(bounds[1]),
                        "East bound longitude",
                        &mut errors,
                    ),
                    south_bound_latitude: self.number(
                        &p(bounds[2]),
                        "South bound latitude",
                        &mut errors,
                    ),
                    north_bound_latitude: self.number(
                        &p(bounds[3]),
                        "North bound latitude",
                        &mut errors,
                    ),
                });
            }
            m.geo_locations.push(g);
        }
        for i in rows("relatedIdentifiers") {
            let p = |f: &str| format!("relatedIdentifiers[{i}].{f}");
            m.related_identifiers.push(RelatedIdentifier {
                related_identifier: self.get(&p("relatedIdentifier")).to_string(),
                related_identifier_type: self.get(&p("relatedIdentifierType")).to_string(),
                relation_type: self.get(&p("relationType")).to_string(),
                resource_type_general: self.opt(&p("resourceTypeGeneral")),
                ..RelatedIdentifier::default()
            });
        }
        m.language = self.opt("language");
        m.version = self.opt("version");
        (m, errors)
    }
}

/// Keywords from the `subjects` text field: one per line and separated by commas,
/// mixed as a person types them; a keyword that holds a comma is written in double
/// quotes (`"Soils, tropical"`), as in a CSV row, which is how each line is read.
fn split_keywords(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut row = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(line.as_bytes());
        let mut record = csv::StringRecord::new();
        match row.read_record(&mut record) {
            Ok(true) => out.extend(record.iter().map(str::to_string)),
            // An unbalanced quote: the line's comma-separated pieces as typed.
            Ok(false) | Err(_) => out.extend(line.split(',').map(|s| s.trim().to_string())),
        }
    }
    out.retain(|k| !k.is_empty());
    out
}

/// A keyword as [`split_keywords`] reads it back: quoted when it holds a comma or a
/// quote.
fn keyword_for_form(keyword: &str) -> String {
    if keyword.contains([',', '"']) {
        format!("\"{}\"", keyword.replace('"', "\"\""))
    } else {
        keyword.to_string()
    }
}

/// Parse submitted form pairs into metadata. Blank rows are dropped; errors are
/// those of the form itself (unknown inputs, too many rows, unparsable numbers),
/// named by form input. The metadata is not normalised or validated: see
/// [`check_form`] for the whole round.
pub fn from_form(pairs: &[(String, String)]) -> (Metadata, Vec<FieldError>) {
    let (state, mut errors) = FormState::parse(pairs);
    let (m, more) = state.to_metadata();
    errors.extend(more);
    (m, errors)
}

/// The result of [`check_form`].
#[derive(Debug, Clone, PartialEq)]
pub struct FormOutcome {
    /// Normalised metadata (store it when `errors` is empty; drafts may store it anyway).
    pub metadata: Metadata,
    /// What was typed (blank rows dropped), for re-rendering.
    pub state: FormState,
    /// Form and validation errors, named by form input where the form has one.
    pub errors: Vec<FieldError>,
}

/// Parse, normalise and validate a submitted form. Validation errors are renamed to
/// form input names; a validation error on an input that already has a form error
/// (e.g. "must be a number") is left out.
pub fn check_form(pairs: &[(String, String)]) -> FormOutcome {
    let (state, mut errors) = FormState::parse(pairs);
    let (mut metadata, more) = state.to_metadata();
    errors.extend(more);
    normalize(&mut metadata);
    if let Err(found) = validate(&metadata) {
        let form_fields: BTreeSet<String> = errors.iter().map(|e| e.field.clone()).collect();
        for e in found {
            let field = field_for(Some(&metadata), &e.field);
            if !form_fields.contains(&field) {
                errors.push(FieldError::new(field, e.message));
            }
        }
    }
    FormOutcome {
        metadata,
        state,
        errors,
    }
}

/// Form values for editing existing metadata (see the module docs for what the form
/// does not show).
pub fn to_form(m: &Metadata) -> FormState {
    let mut s = FormState::default();
    let mut set = |k: String, v: Option<&str>| {
        if let Some(v) = v {
            s.values.insert(k, v.to_string());
        }
    };
    for (i, t) in m.titles.iter().enumerate() {
        set(format!("titles[{i}].title"), Some(&t.title));
        set(format!("titles[{i}].titleType"), t.title_type.as_deref());
    }
    for (i, c) in m.creators.iter().enumerate() {
        let p = |f: &str| format!("creators[{i}].{f}");
        set(p("name"), Some(&c.name));
        set(p("nameType"), c.name_type.as_deref());
        set(p("givenName"), c.given_name.as_deref());
        set(p("familyName"), c.family_name.as_deref());
        let by_scheme = |scheme: &str| {
            c.name_identifiers
                .iter()
                .find(|n| n.name_identifier_scheme.eq_ignore_ascii_case(scheme))
                .map(|n| n.name_identifier.as_str())
        };
        set(p("orcid"), by_scheme(Orcid::SCHEME));
        set(p("ror"), by_scheme(RorId::SCHEME));
        if let Some(a) = c.affiliation.first() {
            set(p("affiliation"), Some(&a.name));
            set(p("affiliationRor"), a.affiliation_identifier.as_deref());
        }
    }
    for (i, d) in m.descriptions.iter().enumerate() {
        set(
            format!("descriptions[{i}].description"),
            Some(&d.description),
        );
        set(
            format!("descriptions[{i}].descriptionType"),
            Some(&d.description_type),
        );
    }
    if !m.subjects.is_empty() {
        let text = m
            .subjects
            .iter()
            .map(|s| keyword_for_form(&s.subject))
            .collect::<Vec<_>>()
            .join("\n");
        set("subjects".into(), Some(&text));
    }
    if let Some(t) = &m.types {
        set(
            "types.resourceTypeGeneral".into(),
            Some(&t.resource_type_general),
        );
        set("types.resourceType".into(), t.resource_type.as_deref());
    }
    let license = m.rights_list.iter().find_map(|r| {
        match r
            .rights_identifier
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(id) => Some(vocab::license(id).map_or(id, |l| l.spdx_id)),
            None => r
                .rights_uri
                .as_deref()
                .and_then(vocab::license_by_url)
                .map(|l| l.spdx_id),
        }
    });
    set("license".into(), license);
    for (i, f) in m.funding_references.iter().enumerate() {
        let p = |x: &str| format!("fundingReferences[{i}].{x}");
        set(p("funderName"), Some(&f.funder_name));
        set(p("funderIdentifier"), f.funder_identifier.as_deref());
        set(
            p("funderIdentifierType"),
            f.funder_identifier_type.as_deref(),
        );
        set(p("awardNumber"), f.award_number.as_deref());
        set(p("awardUri"), f.award_uri.as_deref());
        set(p("awardTitle"), f.award_title.as_deref());
    }
    for (i, d) in m.dates.iter().enumerate() {
        set(format!("dates[{i}].date"), Some(&d.date));
        set(format!("dates[{i}].dateType"), Some(&d.date_type));
        set(
            format!("dates[{i}].dateInformation"),
            d.date_information.as_deref(),
        );
    }
    for (i, g) in m.geo_locations.iter().enumerate() {
        let p = |x: &str| format!("geoLocations[{i}].{x}");
        set(
            p("place"),
            Some(g.geo_location_place.as_deref().unwrap_or("")),
        );
        let num = |v: Option<f64>| v.map(|x| x.to_string());
        if let Some(pt) = &g.geo_location_point {
            set(p("pointLatitude"), num(pt.point_latitude).as_deref());
            set(p("pointLongitude"), num(pt.point_longitude).as_deref());
        }
        if let Some(b) = &g.geo_location_box {
            set(
                p("westBoundLongitude"),
                num(b.west_bound_longitude).as_deref(),
            );
            set(
                p("eastBoundLongitude"),
                num(b.east_bound_longitude).as_deref(),
            );
            set(
                p("southBoundLatitude"),
                num(b.south_bound_latitude).as_deref(),
            );
            set(
                p("northBoundLatitude"),
                num(b.north_bound_latitude).as_deref(),
            );
        }
    }
    for (i, r) in m.related_identifiers.iter().enumerate() {
        let p = |x: &str| format!("relatedIdentifiers[{i}].{x}");
        set(p("relatedIdentifier"), Some(&r.related_identifier));
        set(p("relatedIdentifierType"), Some(&r.related_identifier_type));
        set(p("relationType"), Some(&r.relation_type));
        set(p("resourceTypeGeneral"), r.resource_type_general.as_deref());
    }
    set("language".into(), m.language.as_deref());
    set("version".into(), m.version.as_deref());
    s
}

/// The form input that shows the field named by a [`validate`] error path, e.g.
/// `creators[0].nameIdentifiers[0].nameIdentifier` → `creators[0].orcid`,
/// `geoLocations[1].geoLocationBox.northBoundLatitude` →
/// `geoLocations[1].northBoundLatitude`, `rightsList` → `license`. Paths with no
/// form input (e.g. `publisher`) are returned unchanged. Without the metadata at
/// hand a creator's name identifier maps to its `orcid` input ([`check_form`] also
/// maps ROR name identifiers to `ror`).
pub fn form_field_for(error_path: &str) -> String {
    field_for(None, error_path)
}

type Seg<'a> = (&'a str, Option<usize>);

fn segments(path: &str) -> Vec<Seg<'_>> {
    path.split('.')
        .map(
            |seg| match seg.strip_suffix(']').and_then(|s| s.split_once('[')) {
                Some((name, idx)) => (name, idx.parse().ok()),
                None => (seg, None),
            },
        )
        .collect()
}

fn field_for(m: Option<&Metadata>, path: &str) -> String {
    let segs = segments(path);
    let Some(&(head, idx)) = segs.first() else {
        return path.to_string();
    };
    let rest = &segs[1..];
    let i = idx.unwrap_or(0);
    let row = |f: &str| format!("{head}[{i}].{f}");
    let same_or = |known: &[&str], default: &str| -> String {
        match rest {
            [(f, None)] if known.contains(f) => row(f),
            _ => row(default),
        }
    };
    match head {
        "titles" => same_or(&["title", "titleType"], "title"),
        "creators" => match rest {
            [("nameIdentifiers", j), ..] => {
                let is_ror = m
                    .and_then(|m| m.creators.get(i))
                    .and_then(|c| c.name_identifiers.get(j.unwrap_or(0)))
                    .is_some_and(|n| n.name_identifier_scheme.eq_ignore_ascii_case(RorId::SCHEME));
                row(if is_ror { "ror" } else { "orcid" })
            }
            [("affiliation", _), ("affiliationIdentifier" | "affiliationIdentifierScheme" | "schemeUri", _)] => {
                row("affiliationRor")
            }
            [("affiliation", _), ..] => row("affiliation"),
            _ => same_or(&["name", "nameType", "givenName", "familyName"], "name"),
        },
        "descriptions" => same_or(&["description", "descriptionType"], "description"),
        "subjects" => "subjects".into(),
        "types" => match rest {
            [("resourceType", _)] => "types.resourceType".into(),
            _ => "types.resourceTypeGeneral".into(),
        },
        "rightsList" => "license".into(),
        "fundingReferences" => match rest {
            [("schemeUri", _)] => row("funderIdentifier"),
            _ => same_or(
                &[
                    "funderName",
                    "funderIdentifier",
                    "funderIdentifierType",
                    "awardNumber",
                    "awardUri",
                    "awardTitle",
                ],
                "funderName",
            ),
        },
        "dates" => same_or(&["date", "dateType", "dateInformation"], "date"),
        "geoLocations" => match rest {
            [("geoLocationPoint", _), (f @ ("pointLatitude" | "pointLongitude"), _)] => row(f),
            [("geoLocationPoint", _)] => row("pointLatitude"),
            [("geoLocationBox", _), (
                f @ ("westBoundLongitude" | "eastBoundLongitude" | "southBoundLatitude"
                | "northBoundLatitude"),
                _,
            )] => row(f),
            [("geoLocationBox", _)] => row("westBoundLongitude"),
            _ => row("place"),
        },
        "relatedIdentifiers" => same_or(
            &[
                "relatedIdentifier",
                "relatedIdentifierType",
                "relationType",
                "resourceTypeGeneral",
            ],
            "relatedIdentifier",
        ),
        _ => path.to_string(),
    }
}
