//! Validation of [`Metadata`] for deposit. Collects every problem, each with a
//! DataCite-style path (`creators[1].nameIdentifiers[0].nameIdentifier`).
//!
//! Run [`super::normalize`] first: validation accepts the forms `normalize`
//! rewrites (bare ORCID/ROR ids, DOI URLs, lowercase SPDX ids, rights given by
//! id or URL only) but otherwise checks the record as it is.

use super::ids::{excerpt, Orcid, RorId};
use super::isodate::check_date_value;
use super::model::*;
use super::vocab;
use super::FieldError;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Longest description (abstract, methods, ...), in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// Longest value of any other text field, in characters.
pub const MAX_STRING_CHARS: usize = 10_000;
/// Most entries in a top-level list (`creators`, `subjects`, ...).
pub const MAX_LIST_LEN: usize = 1_000;
/// Most entries in a nested list (a creator's `nameIdentifiers` / `affiliation`).
pub const MAX_NESTED_LIST_LEN: usize = 100;
/// At most this many errors are reported, then one final error with field `""`.
pub const MAX_ERRORS: usize = 500;

/// Validate deposit metadata, returning all problems found.
pub fn validate(m: &Metadata) -> Result<(), Vec<FieldError>> {
    let mut c = Check::default();
    c.titles(&m.titles);
    c.creators(&m.creators);
    c.descriptions(m);
    c.subjects(&m.subjects);
    c.types(m.types.as_ref());
    c.rights(&m.rights_list);
    c.funding(&m.funding_references);
    c.geo(&m.geo_locations);
    c.dates(&m.dates);
    c.related(&m.related_identifiers);
    c.top_level(m);
    if c.errors.is_empty() {
        Ok(())
    } else {
        if c.errors.len() > MAX_ERRORS {
            c.errors.truncate(MAX_ERRORS);
            c.errors.push(FieldError::new(
                "",
                format!("More than {MAX_ERRORS} problems were found; fix these and check again"),
            ));
        }
        Err(c.errors)
    }
}

#[derive(Default)]
struct Check {
    errors: Vec<FieldError>,
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn fmt_count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Does `s` look like a web address (the check DataCite's own server applies)?
pub(super) fn is_url(s: &str) -> bool {
    let s = s.trim();
    ["https://", "http://", "ftp://"]
        .iter()
        .any(|p| s.len() > p.len() && s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
        && !s.chars().any(char::is_whitespace)
}

/// Strip `https://doi.org/`, `http://dx.doi.org/`, `doi:` from a DOI.
pub(super) fn strip_doi_prefix(s: &str) -> &str {
    let t = s.trim();
    for p in [
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "doi:",
    ] {
        if t.len() >= p.len() && t.is_char_boundary(p.len()) && t[..p.len()].eq_ignore_ascii_case(p)
        {
            return t[p.len()..].trim_start();
        }
    }
    t
}

/// `10.<4-9 digits>/<suffix without spaces>`.
pub(super) fn is_doi(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("10.") else {
        return false;
    };
    let Some((registrant, suffix)) = rest.split_once('/') else {
        return false;
    };
    let reg_ok =
        (4..=9).contains(&registrant.len()) && registrant.bytes().all(|b| b.is_ascii_digit());
    reg_ok && !suffix.is_empty() && !suffix.chars().any(char::is_whitespace)
}

/// A light BCP 47 check: `en`, `de-CH`, `zh-Hant-TW`.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Check {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        if self.errors.len() <= MAX_ERRORS {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// Length check; true when within `max`.
    fn length(&mut self, path: &str, label: &str, value: &str, max: usize) -> bool {
        // Cheap upper bound first: a UTF-8 char is at least one byte.
        if value.len() <= max {
            return true;
        }
        let n = chars(value);
        if n > max {
            self.add(
                path,
                format!(
                    "{label} is too long ({} characters); shorten it to at most {} characters",
                    fmt_count(n),
                    fmt_count(max)
                ),
            );
            return false;
        }
        true
    }

    /// Non-empty and within `max`; true when both hold.
    fn required(
        &mut self,
        path: &str,
        label: &str,
        value: &str,
        max: usize,
        missing: &str,
    ) -> bool {
        if value.trim().is_empty() {
            self.add(path, missing);
            return false;
        }
        self.length(path, label, value, max)
    }

    fn optional(&mut self, path: &str, label: &str, value: &Option<String>, max: usize) {
        if let Some(v) = value {
            self.length(path, label, v, max);
        }
    }

    fn optional_url(&mut self, path: &str, label: &str, value: &Option<String>) {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            if self.length(path, label, v, MAX_STRING_CHARS) && !is_url(v) {
                self.add(
                    path,
                    format!(
                        "{label} \"{}\" is not a web address; it must start with https:// (or http://)",
                        excerpt(v)
                    ),
                );
            }
        }
    }

    /// Value must be in `list`; `label` names the property for the message.
    fn in_vocab(&mut self, path: &str, label: &str, value: &str, list: &[&'static str]) -> bool {
        if vocab::contains(list, value.trim()) {
            return true;
        }
        let msg = match vocab::canonical(list, value.trim()) {
            Some(canon) => format!("{label} \"{}\" must be written \"{canon}\"", excerpt(value)),
            None => format!(
                "\"{}\" is not a valid {label}; choose one of: {}",
                excerpt(value),
                list.join(", ")
            ),
        };
        self.add(path, msg);
        false
    }

    fn required_vocab(&mut self, path: &str, label: &str, value: &str, list: &[&'static str]) {
        if value.trim().is_empty() {
            self.add(path, format!("Choose a {label}"));
        } else {
            self.in_vocab(path, label, value, list);
        }
    }

    fn list_len(&mut self, path: &str, label: &str, len: usize, max: usize) -> bool {
        if len > max {
            self.add(
                path,
                format!(
                    "Too many {label} ({}); at most {} are allowed",
                    fmt_count(len),
                    fmt_count(max)
                ),
            );
            return false;
        }
        true
    }

    fn titles(&mut self, titles: &[Title]) {
        if titles.is_empty() {
            self.add("titles", "Enter a title");
            return;
        }
        if !self.list_len("titles", "titles", titles.len(), MAX_LIST_LEN) {
            return;
        }
        for (i, t) in titles.iter().enumerate() {
            let p = format!("titles[{i}]");
            self.required(
                &format!("{p}.title"),
                "The title",
                &t.title,
                MAX_TITLE_CHARS,
                "Enter a title",
            );
            if let Some(tt) = t.title_type.as_deref().filter(|s| !s.trim().is_empty()) {
                self.in_vocab(
                    &format!("{p}.titleType"),
                    "title type",
                    tt,
                    vocab::TITLE_TYPE,
                );
            }
            self.language(&format!("{p}.lang"), &t.lang);
        }
    }

    fn language(&mut self, path: &str, lang: &Option<String>) {
        if let Some(l) = lang.as_deref().filter(|s| !s.trim().is_empty()) {
            if !is_language_tag(l.trim()) {
                self.add(
                    path,
                    format!(
                        "\"{}\" is not a language code; use a code such as en, de or fr-CA",
                        excerpt(l)
                    ),
                );
            }
        }
    }

    fn creators(&mut self, creators: &[Creator]) {
        if creators.is_empty() {
            self.add("creators", "Add at least one creator (author)");
            return;
        }
        if !self.list_len("creators", "creators", creators.len(), MAX_LIST_LEN) {
            return;
        }
        for (i, c) in creators.iter().enumerate() {
            let p = format!("creators[{i}]");
            let name_ok = self.required(
                &format!("{p}.name"),
                "The creator name",
                &c.name,
                MAX_STRING_CHARS,
                "Enter the creator's name",
            );
            self.optional(
                &format!("{p}.givenName"),
                "The given name",
                &c.given_name,
                MAX_STRING_CHARS,
            );
            self.optional(
                &format!("{p}.familyName"),
                "The family name",
                &c.family_name,
                MAX_STRING_CHARS,
            );
            let name_type = c.name_type.as_deref().map(str::trim).unwrap_or("");
            if !name_type.is_empty() {
                self.in_vocab(
                    &format!("{p}.nameType"),
                    "name type",
                    name_type,
                    vocab::NAME_TYPE,
                );
            }
            if name_ok && name_type == "Personal" {
                let comma_form = c
                    .name
                    .split_once(',')
                    .is_some_and(|(f, g)| !f.trim().is_empty() && !g.trim().is_empty());
                let has_family = c
                    .family_name
                    .as_deref()
                    .is_some_and(|f| !f.trim().is_empty());
                if !comma_form && !has_family {
                    self.add(
                        format!("{p}.name"),
                        format!(
                            "Write a person's name as \"Family, Given\" (e.g. \"Carberry, Josiah\"), \
                             or fill in the given and family names; got \"{}\"",
                            excerpt(&c.name)
                        ),
                    );
                }
            }
            let ids_path = format!("{p}.nameIdentifiers");
            if self.list_len(
                &ids_path,
                "name identifiers",
                c.name_identifiers.len(),
                MAX_NESTED_LIST_LEN,
            ) {
                for (j, id) in c.name_identifiers.iter().enumerate() {
                    self.name_identifier(&format!("{ids_path}[{j}]"), id);
                }
            }
            let aff_path = format!("{p}.affiliation");
            if self.list_len(
                &aff_path,
                "affiliations",
                c.affiliation.len(),
                MAX_NESTED_LIST_LEN,
            ) {
                for (j, a) in c.affiliation.iter().enumerate() {
                    self.affiliation(&format!("{aff_path}[{j}]"), a);
                }
            }
        }
    }

    fn name_identifier(&mut self, p: &str, id: &NameIdentifier) {
        let vpath = format!("{p}.nameIdentifier");
        let scheme = id.name_identifier_scheme.trim();
        if !self.required(
            &vpath,
            "The identifier",
            &id.name_identifier,
            MAX_STRING_CHARS,
            "Enter the identifier",
        ) {
            return;
        }
        if scheme.is_empty() {
            self.add(
                format!("{p}.nameIdentifierScheme"),
                "Say which kind of identifier this is (e.g. ORCID, ROR, ISNI)",
            );
        } else if scheme.eq_ignore_ascii_case(Orcid::SCHEME) {
            if let Err(e) = Orcid::parse(&id.name_identifier) {
                self.add(vpath, e.to_string());
            }
        } else if scheme.eq_ignore_ascii_case(RorId::SCHEME) {
            if let Err(e) = RorId::parse(&id.name_identifier) {
                self.add(vpath, e.to_string());
            }
        } else {
            self.length(
                &format!("{p}.nameIdentifierScheme"),
                "The identifier scheme",
                scheme,
                100,
            );
        }
        self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &id.scheme_uri);
    }

    fn affiliation(&mut self, p: &str, a: &Affiliation) {
        let has_id = a
            .affiliation_identifier
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty());
        let missing = if has_id {
            "Enter the name of the organisation as well as its identifier"
        } else {
            "Enter the affiliation's name"
        };
        self.required(
            &format!("{p}.name"),
            "The affiliation",
            &a.name,
            MAX_STRING_CHARS,
            missing,
        );
        if let Some(id) = a
            .affiliation_identifier
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            let ipath = format!("{p}.affiliationIdentifier");
            let scheme = a
                .affiliation_identifier_scheme
                .as_deref()
                .map(str::trim)
                .unwrap_or("");
            if scheme.eq_ignore_ascii_case(RorId::SCHEME) {
                if let Err(e) = RorId::parse(id) {
                    self.add(ipath, e.to_string());
                }
            } else if scheme.is_empty() {
                match RorId::parse(id) {
                    Ok(_) => {} // normalize() sets the scheme to ROR.
                    Err(_) => self.add(
                        format!("{p}.affiliationIdentifierScheme"),
                        "Say which kind of identifier the affiliation identifier is (e.g. ROR)",
                    ),
                }
            } else if self.length(&ipath, "The affiliation identifier", id, MAX_STRING_CHARS) {
                self.length(
                    &format!("{p}.affiliationIdentifierScheme"),
                    "The scheme",
                    scheme,
                    100,
                );
            }
        }
        self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &a.scheme_uri);
    }

    fn descriptions(&mut self, m: &Metadata) {
        let ds = &m.descriptions;
        if !self.list_len("descriptions", "descriptions", ds.len(), MAX_LIST_LEN) {
            return;
        }
        for (i, d) in ds.iter().enumerate() {
            let p = format!("descriptions[{i}]");
            let label = if d.description_type.trim() == "Abstract" {
                "The abstract"
            } else {
                "The description"
            };
            self.required(
                &format!("{p}.description"),
                label,
                &d.description,
                MAX_DESCRIPTION_CHARS,
                "Enter the description text (or remove this description)",
            );
            self.required_vocab(
                &format!("{p}.descriptionType"),
                "description type",
                &d.description_type,
                vocab::DESCRIPTION_TYPE,
            );
            self.language(&format!("{p}.lang"), &d.lang);
        }
        // Every record needs an abstract: landing pages, citations and search use it.
        let has_abstract = ds
            .iter()
            .any(|d| d.description_type.trim() == "Abstract" && !d.description.trim().is_empty());
        if !has_abstract {
            self.add(
                "descriptions",
                "Add an abstract: a short description of the dataset",
            );
        }
    }

    fn subjects(&mut self, subjects: &[Subject]) {
        if !self.list_len("subjects", "keywords", subjects.len(), MAX_LIST_LEN) {
            return;
        }
        for (i, s) in subjects.iter().enumerate() {
            let p = format!("subjects[{i}]");
            self.required(
                &format!("{p}.subject"),
                "The keyword",
                &s.subject,
                1_000,
                "Enter the keyword (or remove it)",
            );
            self.optional(
                &format!("{p}.subjectScheme"),
                "The subject scheme",
                &s.subject_scheme,
                1_000,
            );
            self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &s.scheme_uri);
            self.optional_url(&format!("{p}.valueUri"), "The value URI", &s.value_uri);
            self.optional(
                &format!("{p}.classificationCode"),
                "The classification code",
                &s.classification_code,
                1_000,
            );
            self.language(&format!("{p}.lang"), &s.lang);
        }
    }

    fn types(&mut self, t: Option<&Types>) {
        let Some(t) = t else {
            self.add(
                "types.resourceTypeGeneral",
                "Choose a resource type (e.g. Dataset)",
            );
            return;
        };
        if t.resource_type_general.trim().is_empty() {
            self.add(
                "types.resourceTypeGeneral",
                "Choose a resource type (e.g. Dataset)",
            );
        } else {
            self.in_vocab(
                "types.resourceTypeGeneral",
                "resource type",
                &t.resource_type_general,
                vocab::RESOURCE_TYPE_GENERAL,
            );
        }
        self.optional(
            "types.resourceType",
            "The resource type description",
            &t.resource_type,
            1_000,
        );
    }

    fn rights(&mut self, rights: &[Rights]) {
        if !self.list_len(
            "rightsList",
            "rights statements",
            rights.len(),
            MAX_LIST_LEN,
        ) {
            return;
        }
        let offered = || {
            vocab::LICENSES
                .iter()
                .map(|l| l.spdx_id)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut licenses: Vec<&'static str> = Vec::new();
        for (i, r) in rights.iter().enumerate() {
            let p = format!("rightsList[{i}]");
            self.optional(
                &format!("{p}.rights"),
                "The rights statement",
                &r.rights,
                MAX_STRING_CHARS,
            );
            self.optional_url(&format!("{p}.rightsUri"), "The license URL", &r.rights_uri);
            self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &r.scheme_uri);
            self.language(&format!("{p}.lang"), &r.lang);
            let by_url = r.rights_uri.as_deref().and_then(vocab::license_by_url);
            match r.rights_identifier.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(id) => match vocab::license(id) {
                    Some(l) => {
                        licenses.push(l.spdx_id);
                        if let Some(u) = by_url.filter(|u| u.spdx_id != l.spdx_id) {
                            self.add(
                                format!("{p}.rightsUri"),
                                format!(
                                    "The license URL is for {} but the license chosen is {}; fix one of them",
                                    u.spdx_id, l.spdx_id
                                ),
                            );
                        }
                    }
                    None => self.add(
                        format!("{p}.rightsIdentifier"),
                        format!(
                            "\"{}\" is not one of the licenses this archive offers; choose one of: {}",
                            excerpt(id),
                            offered()
                        ),
                    ),
                },
                None => match by_url {
                    Some(l) => licenses.push(l.spdx_id),
                    None => {
                        if r.rights.as_deref().is_none_or(|s| s.trim().is_empty())
                            && r.rights_uri.as_deref().is_none_or(|s| s.trim().is_empty())
                        {
                            self.add(
                                format!("{p}.rightsIdentifier"),
                                "This rights entry is empty; choose a license or remove it",
                            );
                        }
                    }
                },
            }
            if let Some(s) = r
                .rights_identifier_scheme
                .as_deref()
                .filter(|s| !s.trim().is_empty())
            {
                if !s.trim().eq_ignore_ascii_case(vocab::SPDX_SCHEME) {
                    self.add(
                        format!("{p}.rightsIdentifierScheme"),
                        format!("License identifiers must be SPDX ids; rightsIdentifierScheme must be \"SPDX\", not \"{}\"", excerpt(s)),
                    );
                }
            }
        }
        match licenses.len() {
            0 if self
                .errors
                .iter()
                .all(|e| !e.field.starts_with("rightsList[")) =>
            {
                self.add(
                    "rightsList",
                    format!("Choose a license for the data (one of: {})", offered()),
                )
            }
            0 | 1 => {}
            _ => self.add(
                "rightsList",
                format!("Choose only one license; found {}", licenses.join(", ")),
            ),
        }
    }

    fn funding(&mut self, refs: &[FundingReference]) {
        if !self.list_len(
            "fundingReferences",
            "funding references",
            refs.len(),
            MAX_LIST_LEN,
        ) {
            return;
        }
        for (i, f) in refs.iter().enumerate() {
            let p = format!("fundingReferences[{i}]");
            self.required(
                &format!("{p}.funderName"),
                "The funder name",
                &f.funder_name,
                MAX_STRING_CHARS,
                "Enter the funder's name",
            );
            if let Some(id) = f
                .funder_identifier
                .as_deref()
                .filter(|s| !s.trim().is_empty())
            {
                let tpath = format!("{p}.funderIdentifierType");
                let ipath = format!("{p}.funderIdentifier");
                let ty = f
                    .funder_identifier_type
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or("");
                if ty.is_empty() {
                    self.add(
                        tpath,
                        format!(
                            "Say which kind of identifier the funder identifier is ({})",
                            vocab::FUNDER_IDENTIFIER_TYPE.join(", ")
                        ),
                    );
                } else if self.in_vocab(
                    &tpath,
                    "funder identifier type",
                    ty,
                    vocab::FUNDER_IDENTIFIER_TYPE,
                ) && ty == "ROR"
                {
                    if let Err(e) = RorId::parse(id) {
                        self.add(ipath.clone(), e.to_string());
                    }
                }
                self.length(&ipath, "The funder identifier", id, 1_000);
            }
            self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &f.scheme_uri);
            self.optional(
                &format!("{p}.awardNumber"),
                "The award number",
                &f.award_number,
                1_000,
            );
            self.optional_url(&format!("{p}.awardUri"), "The award URL", &f.award_uri);
            self.optional(
                &format!("{p}.awardTitle"),
                "The award title",
                &f.award_title,
                MAX_TITLE_CHARS,
            );
        }
    }

    fn coord(
        &mut self,
        path: &str,
        label: &str,
        v: Option<f64>,
        limit: f64,
        missing: &str,
    ) -> Option<f64> {
        match v {
            None => {
                self.add(path, missing);
                None
            }
            Some(x) if !x.is_finite() || x < -limit || x > limit => {
                self.add(
                    path,
                    format!("{label} must be between -{limit} and {limit}; got {x}"),
                );
                None
            }
            Some(x) => Some(x),
        }
    }

    fn geo(&mut self, geos: &[GeoLocation]) {
        if !self.list_len("geoLocations", "locations", geos.len(), MAX_LIST_LEN) {
            return;
        }
        for (i, g) in geos.iter().enumerate() {
            let p = format!("geoLocations[{i}]");
            let has_place = g
                .geo_location_place
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty());
            self.optional(
                &format!("{p}.geoLocationPlace"),
                "The place name",
                &g.geo_location_place,
                MAX_STRING_CHARS,
            );
            if !has_place && g.geo_location_point.is_none() && g.geo_location_box.is_none() {
                self.add(p.clone(), "Give a place name, a point (latitude and longitude) or a bounding box for this location");
            }
            if let Some(pt) = &g.geo_location_point {
                let pp = format!("{p}.geoLocationPoint");
                self.coord(
                    &format!("{pp}.pointLatitude"),
                    "Latitude",
                    pt.point_latitude,
                    90.0,
                    "Enter the point's latitude",
                );
                self.coord(
                    &format!("{pp}.pointLongitude"),
                    "Longitude",
                    pt.point_longitude,
                    180.0,
                    "Enter the point's longitude",
                );
            }
            if let Some(b) = &g.geo_location_box {
                let bp = format!("{p}.geoLocationBox");
                self.coord(
                    &format!("{bp}.westBoundLongitude"),
                    "West bound longitude",
                    b.west_bound_longitude,
                    180.0,
                    "Enter the box's west bound longitude",
                );
                self.coord(
                    &format!("{bp}.eastBoundLongitude"),
                    "East bound longitude",
                    b.east_bound_longitude,
                    180.0,
                    "Enter the box's east bound longitude",
                );
                let s = self.coord(
                    &format!("{bp}.southBoundLatitude"),
                    "South bound latitude",
                    b.south_bound_latitude,
                    90.0,
                    "Enter the box's south bound latitude",
                );
                let n = self.coord(
                    &format!("{bp}.northBoundLatitude"),
                    "North bound latitude",
                    b.north_bound_latitude,
                    90.0,
                    "Enter the box's north bound latitude",
                );
                if let (Some(s), Some(n)) = (s, n) {
                    if s > n {
                        self.add(
                            format!("{bp}.southBoundLatitude"),
                            format!("The south bound latitude ({s}) is north of the north bound latitude ({n}); swap them"),
                        );
                    }
                }
                // west > east is allowed: the box crosses the antimeridian.
            }
        }
    }

    fn dates(&mut self, dates: &[Date]) {
        if !self.list_len("dates", "dates", dates.len(), MAX_LIST_LEN) {
            return;
        }
        for (i, d) in dates.iter().enumerate() {
            let p = format!("dates[{i}]");
            if self.length(&format!("{p}.date"), "The date", &d.date, 100) {
                if let Err(msg) = check_date_value(&d.date) {
                    self.add(format!("{p}.date"), msg);
                }
            }
            self.required_vocab(
                &format!("{p}.dateType"),
                "date type",
                &d.date_type,
                vocab::DATE_TYPE,
            );
            self.optional(
                &format!("{p}.dateInformation"),
                "The date information",
                &d.date_information,
                MAX_STRING_CHARS,
            );
        }
    }

    fn related(&mut self, rels: &[RelatedIdentifier]) {
        if !self.list_len(
            "relatedIdentifiers",
            "related identifiers",
            rels.len(),
            MAX_LIST_LEN,
        ) {
            return;
        }
        for (i, r) in rels.iter().enumerate() {
            let p = format!("relatedIdentifiers[{i}]");
            let ipath = format!("{p}.relatedIdentifier");
            let id_ok = self.required(
                &ipath,
                "The related identifier",
                &r.related_identifier,
                2_000,
                "Enter the related identifier",
            );
            let ty = r.related_identifier_type.trim();
            self.required_vocab(
                &format!("{p}.relatedIdentifierType"),
                "identifier type",
                ty,
                vocab::RELATED_IDENTIFIER_TYPE,
            );
            self.required_vocab(
                &format!("{p}.relationType"),
                "relation type",
                &r.relation_type,
                vocab::RELATION_TYPE,
            );
            if let Some(rtg) = r
                .resource_type_general
                .as_deref()
                .filter(|s| !s.trim().is_empty())
            {
                self.in_vocab(
                    &format!("{p}.resourceTypeGeneral"),
                    "resource type",
                    rtg,
                    vocab::RESOURCE_TYPE_GENERAL,
                );
            }
            if id_ok {
                let id = r.related_identifier.trim();
                if ty == "DOI" && !is_doi(strip_doi_prefix(id)) {
                    self.add(
                        ipath,
                        format!(
                            "\"{}\" is not a DOI; a DOI looks like 10.1234/abc-def",
                            excerpt(id)
                        ),
                    );
                } else if ty == "URL" && !is_url(id) {
                    self.add(
                        ipath,
                        format!(
                            "\"{}\" is not a web address; it must start with https:// (or http://)",
                            excerpt(id)
                        ),
                    );
                }
            }
            self.optional(
                &format!("{p}.relatedMetadataScheme"),
                "The metadata scheme",
                &r.related_metadata_scheme,
                1_000,
            );
            self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &r.scheme_uri);
            self.optional(
                &format!("{p}.schemeType"),
                "The scheme type",
                &r.scheme_type,
                1_000,
            );
        }
    }

    fn top_level(&mut self, m: &Metadata) {
        self.language("language", &m.language);
        if let Some(l) = &m.language {
            self.length("language", "The language code", l, 100);
        }
        self.optional("version", "The version", &m.version, 1_000);
        if let Some(y) = m.publication_year {
            if !(1000..=9999).contains(&y) {
                self.add(
                    "publicationYear",
                    format!("The publication year must have four digits; got {y}"),
                );
            }
        }
        if let Some(p) = &m.publisher {
            self.required(
                "publisher",
                "The publisher",
                &p.name,
                MAX_STRING_CHARS,
                "Enter the publisher's name",
            );
            self.optional_url("publisher.schemeUri", "The scheme URI", &p.scheme_uri);
            self.optional(
                "publisher.publisherIdentifier",
                "The publisher identifier",
                &p.publisher_identifier,
                1_000,
            );
        }
    }
}
