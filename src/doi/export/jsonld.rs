//! schema.org `Dataset` JSON-LD for landing pages (what dataset search engines index).

use serde_json::{json, Map, Value};

use super::datacite::{bbox, point};
use super::names::{creator_ror_url, name_of, orcid_url, ror_url, Name};
use super::{type_map, PublishedRecord};
use crate::deposit::access::Access;
use crate::deposit::metadata::{Affiliation, Creator};

/// schema.org `Dataset` (or the type matching `resourceTypeGeneral`) for one version.
pub fn schema_org_jsonld(r: &PublishedRecord) -> Value {
    let m = r.metadata;
    let doi_url = r.doi_url();
    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_string(), v);
    };
    put("@context", json!("https://schema.org"));
    put(
        "@type",
        json!(type_map(r.resource_type_general()).schema_org),
    );
    put("@id", json!(doi_url));
    put("identifier", json!(doi_url));
    put("url", json!(r.landing_url));
    put("name", json!(r.title()));
    let alternate: Vec<&str> = m
        .titles
        .iter()
        .map(|t| t.title.trim())
        .filter(|t| !t.is_empty() && *t != r.title())
        .collect();
    if !alternate.is_empty() {
        put("alternateName", json!(alternate));
    }
    // `description` is required by dataset search; fall back to the title.
    put("description", json!(r.abstract_text().unwrap_or(r.title())));
    put(
        "creator",
        Value::Array(m.creators.iter().map(creator).collect()),
    );
    if let Some(url) = r.license_url() {
        put("license", json!(url));
    }
    let access = r.access_rights();
    put("isAccessibleForFree", json!(access.free));
    if let Some(conditions) = access.conditions {
        put("conditionsOfAccess", json!(conditions));
    }
    if let Access::Withdrawn { on, .. } = r.access {
        // A tombstone: search engines and harvesters learn the work is gone, and when.
        put("creativeWorkStatus", json!("Withdrawn"));
        put("expires", json!(on.format("%Y-%m-%d").to_string()));
    }
    let keywords = r.keywords();
    if !keywords.is_empty() {
        put("keywords", json!(keywords));
    }
    if let Some(t) = temporal_coverage(r) {
        put("temporalCoverage", json!(t));
    }
    let places: Vec<Value> = m.geo_locations.iter().filter_map(place).collect();
    if !places.is_empty() {
        put("spatialCoverage", Value::Array(places));
    }
    if let Some(l) = m.language.as_deref().filter(|l| !l.trim().is_empty()) {
        put("inLanguage", json!(l.trim()));
    }
    put("version", json!(r.version_label()));
    put("datePublished", json!(r.published_date()));
    put(
        "publisher",
        json!({ "@type": "Organization", "name": r.publisher_name() }),
    );
    if let Some(c) = r.concept_doi.filter(|c| !c.eq_ignore_ascii_case(r.doi)) {
        put("isPartOf", json!(super::doi_url(c)));
    }
    // Samples (IGSNs): the ones the dataset describes are what it is `about`; the ones
    // its data were measured on, what it `isBasedOn`.
    for (property, described) in [("about", true), ("isBasedOn", false)] {
        let samples: Vec<Value> = m
            .related_identifiers
            .iter()
            .filter(|x| x.related_identifier_type.eq_ignore_ascii_case("IGSN"))
            .filter(|x| x.relation_type.eq_ignore_ascii_case("Describes") == described)
            .filter_map(|x| crate::standards::rules::canonical_igsn(&x.related_identifier))
            .map(|i| {
                json!({
                    "@type": "Thing",
                    "@id": format!("https://igsn.org/{i}"),
                    "identifier": { "@type": "PropertyValue", "propertyID": "IGSN", "value": i },
                })
            })
            .collect();
        if !samples.is_empty() {
            put(property, Value::Array(samples));
        }
    }
    let funding: Vec<Value> = m
        .funding_references
        .iter()
        .filter(|f| !f.funder_name.trim().is_empty())
        .map(|f| {
            let mut funder = json!({ "@type": "Organization", "name": f.funder_name.trim() });
            if let Some(id) = f.funder_identifier.as_deref() {
                funder["identifier"] = json!(id);
            }
            let mut grant = json!({ "@type": "MonetaryGrant", "funder": funder });
            if let Some(n) = f.award_number.as_deref() {
                grant["identifier"] = json!(n);
            }
            if let Some(t) = f.award_title.as_deref() {
                grant["name"] = json!(t);
            }
            if let Some(u) = f.award_uri.as_deref() {
                grant["url"] = json!(u);
            }
            grant
        })
        .collect();
    if !funding.is_empty() {
        put("funding", Value::Array(funding));
    }
    // A withdrawn version's files answer 410: none is offered.
    let distribution: Vec<Value> = r
        .served_files()
        .iter()
        .map(|f| {
            let mut d = json!({
                "@type": "DataDownload",
                "name": f.path,
                "contentUrl": f.download_url,
                "contentSize": format!("{} B", f.size),
                "sha256": f.sha256,
            });
            if !f.media_type.trim().is_empty() {
                d["encodingFormat"] = json!(f.media_type.trim());
            }
            d
        })
        .collect();
    if !distribution.is_empty() {
        put("distribution", Value::Array(distribution));
    }
    if let Some(c) = r.catalog {
        put(
            "includedInDataCatalog",
            json!({ "@type": "DataCatalog", "name": c.name, "url": c.url }),
        );
    }
    Value::Object(o)
}

fn creator(c: &Creator) -> Value {
    let mut v = match name_of(c) {
        Name::Person { family, given } => {
            let full = match &given {
                Some(g) => format!("{g} {family}"),
                None => family.clone(),
            };
            let mut p = json!({ "@type": "Person", "name": full, "familyName": family });
            if let Some(g) = given {
                p["givenName"] = json!(g);
            }
            if let Some(orcid) = orcid_url(c) {
                p["@id"] = json!(orcid);
                p["identifier"] = json!(orcid);
            }
            p
        }
        Name::Literal(name) => {
            let person = c.name_type.as_deref() == Some("Personal");
            let kind = if person { "Person" } else { "Organization" };
            let mut p = json!({ "@type": kind, "name": name });
            let id = if person {
                orcid_url(c)
            } else {
                creator_ror_url(c)
            };
            if let Some(id) = id {
                p["@id"] = json!(id);
                p["identifier"] = json!(id);
            }
            p
        }
    };
    let affiliations: Vec<Value> = c
        .affiliation
        .iter()
        .filter(|a| !a.name.trim().is_empty())
        .map(affiliation)
        .collect();
    if !affiliations.is_empty() {
        v["affiliation"] = Value::Array(affiliations);
    }
    v
}

fn affiliation(a: &Affiliation) -> Value {
    let mut v = json!({ "@type": "Organization", "name": a.name.trim() });
    let ror = a
        .affiliation_identifier
        .as_deref()
        .and_then(|id| ror_url(a.affiliation_identifier_scheme.as_deref(), id));
    if let Some(ror) = ror {
        v["@id"] = json!(ror);
        v["identifier"] = json!(ror);
    }
    v
}

/// The `Coverage` date, else the `Collected` date (ISO 8601, ranges as `start/end`).
fn temporal_coverage(r: &PublishedRecord) -> Option<String> {
    let find = |t: &str| {
        r.metadata
            .dates
            .iter()
            .find(|d| d.date_type == t && !d.date.trim().is_empty())
            .map(|d| d.date.trim().to_string())
    };
    find("Coverage").or_else(|| find("Collected"))
}

fn place(g: &crate::deposit::metadata::GeoLocation) -> Option<Value> {
    let mut geo = Vec::new();
    if let Some((lat, lon)) = point(&g.geo_location_point) {
        geo.push(json!({ "@type": "GeoCoordinates", "latitude": lat, "longitude": lon }));
    }
    if let Some((w, e, s, n)) = bbox(&g.geo_location_box) {
        // schema.org box: "south west north east" (lower corner, then upper corner).
        geo.push(json!({ "@type": "GeoShape", "box": format!("{s} {w} {n} {e}") }));
    }
    let name = g
        .geo_location_place
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if geo.is_empty() && name.is_none() {
        return None;
    }
    let mut p = json!({ "@type": "Place" });
    if let Some(n) = name {
        p["name"] = json!(n);
    }
    match geo.len() {
        0 => {}
        1 => p["geo"] = geo.remove(0),
        _ => p["geo"] = Value::Array(geo),
    }
    Some(p)
}

/// The JSON-LD as text safe inside `<script type="application/ld+json">`: `<`, `>` and
/// `&` become `\u003c` etc., so "</script>" or "<!--" in a title cannot end the script
/// element, and U+2028/U+2029 are escaped for old JavaScript parsers. The result is
/// still the same JSON.
pub fn jsonld_script_text(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}
