//! [`normalize`]: tidy metadata before validation and storage.

use super::ids::{Orcid, RorId};
use super::model::*;
use super::validate::strip_doi_prefix;
use super::vocab;

/// Tidy `m` in place:
/// * trims every string; blank optional strings become `None`;
/// * controlled values get DataCite's spelling (`dataset` → `Dataset`);
/// * ORCID and ROR ids become `https://orcid.org/…` / `https://ror.org/…` with
///   scheme and `schemeUri` filled (only ids that parse are rewritten);
/// * Personal creators: fills `name` ("Family, Given") from given/family names, or
///   given/family names from a "Family, Given" name;
/// * licenses: fills `rights`, `rightsUri`, `rightsIdentifierScheme`, `schemeUri`
///   (and the canonical SPDX id) from the license list when the id or URL is known;
/// * DOIs in `relatedIdentifiers` lose `https://doi.org/` / `doi:` prefixes;
/// * a `funderIdentifierType` without a `funderIdentifier` is dropped.
///
/// Never removes list entries, so validation paths still match the input.
pub fn normalize(m: &mut Metadata) {
    for t in &mut m.titles {
        trim(&mut t.title);
        opt(&mut t.title_type);
        canon(&mut t.title_type, vocab::TITLE_TYPE);
        opt(&mut t.lang);
    }
    for c in &mut m.creators {
        creator(c);
    }
    for d in &mut m.descriptions {
        trim(&mut d.description);
        trim(&mut d.description_type);
        canon_req(&mut d.description_type, vocab::DESCRIPTION_TYPE);
        opt(&mut d.lang);
    }
    for s in &mut m.subjects {
        trim(&mut s.subject);
        for o in [
            &mut s.subject_scheme,
            &mut s.scheme_uri,
            &mut s.value_uri,
            &mut s.classification_code,
            &mut s.lang,
        ] {
            opt(o);
        }
    }
    if let Some(t) = &mut m.types {
        trim(&mut t.resource_type_general);
        canon_req(&mut t.resource_type_general, vocab::RESOURCE_TYPE_GENERAL);
        opt(&mut t.resource_type);
    }
    for r in &mut m.rights_list {
        rights(r);
    }
    for f in &mut m.funding_references {
        trim(&mut f.funder_name);
        for o in [
            &mut f.funder_identifier,
            &mut f.funder_identifier_type,
            &mut f.scheme_uri,
            &mut f.award_number,
            &mut f.award_uri,
            &mut f.award_title,
        ] {
            opt(o);
        }
        canon(&mut f.funder_identifier_type, vocab::FUNDER_IDENTIFIER_TYPE);
        if f.funder_identifier.is_none() {
            f.funder_identifier_type = None;
        }
        if f.funder_identifier_type.as_deref() == Some(RorId::SCHEME) {
            if let Some(r) = f
                .funder_identifier
                .as_deref()
                .and_then(|s| RorId::parse(s).ok())
            {
                f.funder_identifier = Some(r.url());
            }
        }
    }
    for g in &mut m.geo_locations {
        opt(&mut g.geo_location_place);
    }
    for d in &mut m.dates {
        trim(&mut d.date);
        trim(&mut d.date_type);
        canon_req(&mut d.date_type, vocab::DATE_TYPE);
        opt(&mut d.date_information);
    }
    for r in &mut m.related_identifiers {
        trim(&mut r.related_identifier);
        trim(&mut r.related_identifier_type);
        trim(&mut r.relation_type);
        canon_req(
            &mut r.related_identifier_type,
            vocab::RELATED_IDENTIFIER_TYPE,
        );
        canon_req(&mut r.relation_type, vocab::RELATION_TYPE);
        for o in [
            &mut r.resource_type_general,
            &mut r.related_metadata_scheme,
            &mut r.scheme_uri,
            &mut r.scheme_type,
        ] {
            opt(o);
        }
        canon(&mut r.resource_type_general, vocab::RESOURCE_TYPE_GENERAL);
        if r.related_identifier_type == "DOI" {
            let bare = strip_doi_prefix(&r.related_identifier).to_string();
            r.related_identifier = bare;
        }
    }
    opt(&mut m.language);
    opt(&mut m.version);
    if let Some(p) = &mut m.publisher {
        trim(&mut p.name);
        for o in [
            &mut p.publisher_identifier,
            &mut p.publisher_identifier_scheme,
            &mut p.scheme_uri,
            &mut p.lang,
        ] {
            opt(o);
        }
    }
}

fn creator(c: &mut Creator) {
    trim(&mut c.name);
    opt(&mut c.name_type);
    canon(&mut c.name_type, vocab::NAME_TYPE);
    opt(&mut c.given_name);
    opt(&mut c.family_name);
    if c.name_type.as_deref() == Some("Personal") {
        if c.name.is_empty() {
            if let Some(family) = &c.family_name {
                c.name = match &c.given_name {
                    Some(given) => format!("{family}, {given}"),
                    None => family.clone(),
                };
            }
        } else if c.given_name.is_none() && c.family_name.is_none() {
            if let Some((family, given)) = c.name.split_once(',') {
                let (family, given) = (family.trim(), given.trim());
                if !family.is_empty() && !given.is_empty() {
                    c.family_name = Some(family.to_string());
                    c.given_name = Some(given.to_string());
                }
            }
        }
    }
    for id in &mut c.name_identifiers {
        trim(&mut id.name_identifier);
        trim(&mut id.name_identifier_scheme);
        opt(&mut id.scheme_uri);
        let scheme = id.name_identifier_scheme.clone();
        let is = |s: &str| scheme.eq_ignore_ascii_case(s) || scheme.is_empty();
        if is(Orcid::SCHEME) {
            if let Ok(o) = Orcid::parse(&id.name_identifier) {
                id.name_identifier = o.url();
                id.name_identifier_scheme = Orcid::SCHEME.into();
                id.scheme_uri = Some(Orcid::SCHEME_URI.into());
                continue;
            }
        }
        if is(RorId::SCHEME) {
            if let Ok(r) = RorId::parse(&id.name_identifier) {
                id.name_identifier = r.url();
                id.name_identifier_scheme = RorId::SCHEME.into();
                id.scheme_uri = Some(RorId::SCHEME_URI.into());
            }
        }
    }
    for a in &mut c.affiliation {
        trim(&mut a.name);
        opt(&mut a.affiliation_identifier);
        opt(&mut a.affiliation_identifier_scheme);
        opt(&mut a.scheme_uri);
        let scheme_ok = a
            .affiliation_identifier_scheme
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(RorId::SCHEME));
        if scheme_ok {
            if let Some(r) = a
                .affiliation_identifier
                .as_deref()
                .and_then(|s| RorId::parse(s).ok())
            {
                a.affiliation_identifier = Some(r.url());
                a.affiliation_identifier_scheme = Some(RorId::SCHEME.into());
                a.scheme_uri = Some(RorId::SCHEME_URI.into());
            }
        }
    }
}

fn rights(r: &mut Rights) {
    for o in [
        &mut r.rights,
        &mut r.rights_uri,
        &mut r.rights_identifier,
        &mut r.rights_identifier_scheme,
        &mut r.scheme_uri,
        &mut r.lang,
    ] {
        opt(o);
    }
    let license = match &r.rights_identifier {
        Some(id) => vocab::license(id),
        None => r.rights_uri.as_deref().and_then(vocab::license_by_url),
    };
    if let Some(l) = license {
        r.rights_identifier = Some(l.spdx_id.into());
        r.rights_identifier_scheme = Some(vocab::SPDX_SCHEME.into());
        r.scheme_uri = Some(vocab::SPDX_SCHEME_URI.into());
        r.rights.get_or_insert_with(|| l.name.into());
        r.rights_uri.get_or_insert_with(|| l.url.into());
    }
}

fn trim(s: &mut String) {
    let t = s.trim();
    if t.len() != s.len() {
        *s = t.to_string();
    }
}

fn opt(o: &mut Option<String>) {
    if let Some(s) = o {
        trim(s);
        if s.is_empty() {
            *o = None;
        }
    }
}

fn canon(o: &mut Option<String>, list: &[&'static str]) {
    if let Some(s) = o {
        canon_req(s, list);
    }
}

fn canon_req(s: &mut String, list: &[&'static str]) {
    if let Some(c) = vocab::canonical(list, s) {
        if c != s {
            *s = c.to_string();
        }
    }
}
