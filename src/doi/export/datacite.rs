//! DataCite Metadata Schema 4.6: the XML document (for DataCite's `xml` attribute, OAI-PMH
//! `oai_datacite` and content negotiation) and the REST API's JSON `attributes`.

use std::io;

use serde_json::{json, Map, Value};

use super::names::{display_name, name_of, Name};
use super::{type_map, PublishedRecord};
use crate::deposit::access::Access;
use crate::deposit::metadata::{vocab, Date, GeoLocationBox, GeoLocationPoint, RelatedIdentifier};
use crate::xml::Xml;

const NAMESPACE: &str = "http://datacite.org/schema/kernel-4";
/// `xsi:schemaLocation` of every document we write.
pub const DATACITE_SCHEMA_LOCATION: &str =
    "http://datacite.org/schema/kernel-4 https://schema.datacite.org/meta/kernel-4.6/metadata.xsd";

/// DataCite 4.6 XML for one published version.
pub fn datacite_xml(r: &PublishedRecord) -> String {
    match write_resource(r) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        // Writing into a Vec cannot fail; an empty string would fail any validation loudly.
        Err(_) => String::new(),
    }
}

/// `xs:language`; a malformed tag would invalidate the whole document, so it is dropped.
fn lang(tag: &Option<String>) -> Option<&str> {
    let t = tag.as_deref()?.trim();
    let mut parts = t.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    (first_ok && rest_ok).then_some(t)
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn coord(v: Option<f64>, limit: f64) -> Option<f64> {
    v.filter(|x| x.is_finite() && (-limit..=limit).contains(x))
}

/// A point with both coordinates in range: (latitude, longitude).
pub(super) fn point(p: &Option<GeoLocationPoint>) -> Option<(f64, f64)> {
    let p = p.as_ref()?;
    Some((
        coord(p.point_latitude, 90.0)?,
        coord(p.point_longitude, 180.0)?,
    ))
}

/// A box with all four bounds in range: (west, east, south, north).
pub(super) fn bbox(b: &Option<GeoLocationBox>) -> Option<(f64, f64, f64, f64)> {
    let b = b.as_ref()?;
    Some((
        coord(b.west_bound_longitude, 180.0)?,
        coord(b.east_bound_longitude, 180.0)?,
        coord(b.south_bound_latitude, 90.0)?,
        coord(b.north_bound_latitude, 90.0)?,
    ))
}

/// The metadata's dates with a known type, plus `Issued` (the publication date) unless given.
fn dates(r: &PublishedRecord) -> Vec<Date> {
    let mut out: Vec<Date> = r
        .metadata
        .dates
        .iter()
        .filter(|d| !blank(&d.date) && vocab::contains(vocab::DATE_TYPE, &d.date_type))
        .cloned()
        .collect();
    if !out.iter().any(|d| d.date_type == "Issued") {
        out.push(Date {
            date: r.published_date(),
            date_type: "Issued".to_string(),
            date_information: None,
        });
    }
    // DataCite's marker of a withdrawn resource (kernel 4.4+): the date, and the reason
    // in dateInformation.
    if let Access::Withdrawn { reason, on } = r.access {
        out.retain(|d| d.date_type != "Withdrawn");
        out.push(Date {
            date: on.format("%Y-%m-%d").to_string(),
            date_type: "Withdrawn".to_string(),
            date_information: Some(reason.clone()).filter(|r| !r.is_empty()),
        });
    }
    out
}

/// The metadata's related identifiers with known types, plus the version links.
fn related(r: &PublishedRecord) -> Vec<RelatedIdentifier> {
    let mut out: Vec<RelatedIdentifier> = r
        .metadata
        .related_identifiers
        .iter()
        .filter(|x| {
            !blank(&x.related_identifier)
                && vocab::contains(vocab::RELATED_IDENTIFIER_TYPE, &x.related_identifier_type)
                && vocab::contains(vocab::RELATION_TYPE, &x.relation_type)
        })
        .cloned()
        .map(|mut x| {
            if x.resource_type_general
                .as_deref()
                .is_some_and(|t| !vocab::contains(vocab::RESOURCE_TYPE_GENERAL, t))
            {
                x.resource_type_general = None;
            }
            x
        })
        .collect();
    for link in r.version_links() {
        out.push(RelatedIdentifier {
            related_identifier: link.doi,
            related_identifier_type: "DOI".to_string(),
            relation_type: link.relation.to_string(),
            resource_type_general: Some(r.resource_type_general().to_string()),
            ..RelatedIdentifier::default()
        });
    }
    out
}

fn sizes(r: &PublishedRecord) -> Vec<String> {
    if r.files.is_empty() {
        return Vec::new();
    }
    let n = r.files.len();
    vec![
        format!("{} bytes", r.total_bytes()),
        format!("{n} file{}", if n == 1 { "" } else { "s" }),
    ]
}

fn write_resource(r: &PublishedRecord) -> io::Result<Vec<u8>> {
    let m = r.metadata;
    let mut x = Xml::document()?;
    x.open(
        "resource",
        &[
            ("xmlns", Some(NAMESPACE)),
            (
                "xmlns:xsi",
                Some("http://www.w3.org/2001/XMLSchema-instance"),
            ),
            ("xsi:schemaLocation", Some(DATACITE_SCHEMA_LOCATION)),
        ],
    )?;
    x.leaf("identifier", &[("identifierType", Some("DOI"))], r.doi)?;

    // Mandatory: at least one creator; a record without any gets DataCite's ":unav".
    x.open("creators", &[])?;
    if m.creators.is_empty() {
        x.open("creator", &[])?;
        x.leaf("creatorName", &[], ":unav")?;
        x.close("creator")?;
    }
    for c in &m.creators {
        x.open("creator", &[])?;
        let name_type = c
            .name_type
            .as_deref()
            .filter(|t| vocab::contains(vocab::NAME_TYPE, t));
        x.leaf("creatorName", &[("nameType", name_type)], &display_name(c))?;
        if let Name::Person { family, given } = name_of(c) {
            if let Some(given) = given {
                x.leaf("givenName", &[], &given)?;
            }
            x.leaf("familyName", &[], &family)?;
        }
        for n in &c.name_identifiers {
            if blank(&n.name_identifier) || blank(&n.name_identifier_scheme) {
                continue;
            }
            x.leaf(
                "nameIdentifier",
                &[
                    (
                        "nameIdentifierScheme",
                        Some(n.name_identifier_scheme.as_str()),
                    ),
                    ("schemeURI", n.scheme_uri.as_deref()),
                ],
                &n.name_identifier,
            )?;
        }
        for a in c.affiliation.iter().filter(|a| !blank(&a.name)) {
            x.leaf(
                "affiliation",
                &[
                    ("affiliationIdentifier", a.affiliation_identifier.as_deref()),
                    (
                        "affiliationIdentifierScheme",
                        a.affiliation_identifier_scheme.as_deref(),
                    ),
                    ("schemeURI", a.scheme_uri.as_deref()),
                ],
                &a.name,
            )?;
        }
        x.close("creator")?;
    }
    x.close("creators")?;

    x.open("titles", &[])?;
    let titles: Vec<_> = m.titles.iter().filter(|t| !blank(&t.title)).collect();
    if titles.is_empty() {
        x.leaf("title", &[], ":unav")?;
    }
    for t in titles {
        let title_type = t
            .title_type
            .as_deref()
            .filter(|v| vocab::contains(vocab::TITLE_TYPE, v));
        x.leaf(
            "title",
            &[("titleType", title_type), ("xml:lang", lang(&t.lang))],
            &t.title,
        )?;
    }
    x.close("titles")?;

    let publisher = m.publisher.as_ref().filter(|p| !blank(&p.name));
    x.leaf(
        "publisher",
        &[
            (
                "publisherIdentifier",
                publisher.and_then(|p| p.publisher_identifier.as_deref()),
            ),
            (
                "publisherIdentifierScheme",
                publisher.and_then(|p| p.publisher_identifier_scheme.as_deref()),
            ),
            ("schemeURI", publisher.and_then(|p| p.scheme_uri.as_deref())),
            ("xml:lang", publisher.and_then(|p| lang(&p.lang))),
        ],
        non_empty(r.publisher_name()),
    )?;
    x.leaf("publicationYear", &[], &format!("{:04}", r.year()))?;
    let resource_type = m.types.as_ref().and_then(|t| t.resource_type.as_deref());
    x.leaf(
        "resourceType",
        &[("resourceTypeGeneral", Some(r.resource_type_general()))],
        resource_type.unwrap_or(""),
    )?;

    let subjects: Vec<_> = m.subjects.iter().filter(|s| !blank(&s.subject)).collect();
    x.list("subjects", &subjects, |x, s| {
        x.leaf(
            "subject",
            &[
                ("subjectScheme", s.subject_scheme.as_deref()),
                ("schemeURI", s.scheme_uri.as_deref()),
                ("valueURI", s.value_uri.as_deref()),
                ("classificationCode", s.classification_code.as_deref()),
                ("xml:lang", lang(&s.lang)),
            ],
            &s.subject,
        )
    })?;

    x.list("dates", &dates(r), |x, d| {
        x.leaf(
            "date",
            &[
                ("dateType", Some(d.date_type.as_str())),
                ("dateInformation", d.date_information.as_deref()),
            ],
            &d.date,
        )
    })?;
    if let Some(l) = lang(&m.language) {
        x.leaf("language", &[], l)?;
    }
    let landing: Vec<&str> = [r.landing_url].into_iter().filter(|u| !blank(u)).collect();
    x.list("alternateIdentifiers", &landing, |x, url| {
        x.leaf(
            "alternateIdentifier",
            &[("alternateIdentifierType", Some("URL"))],
            url,
        )
    })?;
    x.list("relatedIdentifiers", &related(r), |x, ri| {
        x.leaf(
            "relatedIdentifier",
            &[
                (
                    "relatedIdentifierType",
                    Some(ri.related_identifier_type.as_str()),
                ),
                ("relationType", Some(ri.relation_type.as_str())),
                ("resourceTypeGeneral", ri.resource_type_general.as_deref()),
                (
                    "relatedMetadataScheme",
                    ri.related_metadata_scheme.as_deref(),
                ),
                ("schemeURI", ri.scheme_uri.as_deref()),
                ("schemeType", ri.scheme_type.as_deref()),
            ],
            &ri.related_identifier,
        )
    })?;
    x.list("sizes", &sizes(r), |x, s| x.leaf("size", &[], s))?;
    x.list("formats", &r.media_types(), |x, f| x.leaf("format", &[], f))?;
    x.leaf("version", &[], &r.version_label())?;

    x.list("rightsList", &r.rights_list(), |x, rt| {
        x.leaf(
            "rights",
            &[
                ("rightsURI", rt.rights_uri.as_deref()),
                ("rightsIdentifier", rt.rights_identifier.as_deref()),
                (
                    "rightsIdentifierScheme",
                    rt.rights_identifier_scheme.as_deref(),
                ),
                ("schemeURI", rt.scheme_uri.as_deref()),
                ("xml:lang", lang(&rt.lang)),
            ],
            rt.rights.as_deref().unwrap_or(""),
        )
    })?;

    let descriptions: Vec<_> = m
        .descriptions
        .iter()
        .filter(|d| {
            !blank(&d.description) && vocab::contains(vocab::DESCRIPTION_TYPE, &d.description_type)
        })
        .collect();
    x.list("descriptions", &descriptions, |x, d| {
        x.leaf(
            "description",
            &[
                ("descriptionType", Some(d.description_type.as_str())),
                ("xml:lang", lang(&d.lang)),
            ],
            &d.description,
        )
    })?;

    let geo: Vec<_> = m
        .geo_locations
        .iter()
        .filter(|g| {
            g.geo_location_place.as_deref().is_some_and(|p| !blank(p))
                || point(&g.geo_location_point).is_some()
                || bbox(&g.geo_location_box).is_some()
        })
        .collect();
    x.list("geoLocations", &geo, |x, g| {
        x.open("geoLocation", &[])?;
        if let Some(place) = g.geo_location_place.as_deref().filter(|p| !blank(p)) {
            x.leaf("geoLocationPlace", &[], place)?;
        }
        if let Some((lat, lon)) = point(&g.geo_location_point) {
            x.open("geoLocationPoint", &[])?;
            x.leaf("pointLongitude", &[], &lon.to_string())?;
            x.leaf("pointLatitude", &[], &lat.to_string())?;
            x.close("geoLocationPoint")?;
        }
        if let Some((w, e, s, n)) = bbox(&g.geo_location_box) {
            x.open("geoLocationBox", &[])?;
            x.leaf("westBoundLongitude", &[], &w.to_string())?;
            x.leaf("eastBoundLongitude", &[], &e.to_string())?;
            x.leaf("southBoundLatitude", &[], &s.to_string())?;
            x.leaf("northBoundLatitude", &[], &n.to_string())?;
            x.close("geoLocationBox")?;
        }
        x.close("geoLocation")
    })?;

    let funding: Vec<_> = m
        .funding_references
        .iter()
        .filter(|f| !blank(&f.funder_name))
        .collect();
    x.list("fundingReferences", &funding, |x, f| {
        x.open("fundingReference", &[])?;
        x.leaf("funderName", &[], &f.funder_name)?;
        if let Some(id) = f.funder_identifier.as_deref().filter(|i| !blank(i)) {
            // The type is required by the schema; an unstated one is "Other".
            let id_type = f
                .funder_identifier_type
                .as_deref()
                .filter(|t| vocab::contains(vocab::FUNDER_IDENTIFIER_TYPE, t))
                .unwrap_or("Other");
            x.leaf(
                "funderIdentifier",
                &[
                    ("funderIdentifierType", Some(id_type)),
                    ("schemeURI", f.scheme_uri.as_deref()),
                ],
                id,
            )?;
        }
        if let Some(number) = f.award_number.as_deref().filter(|a| !blank(a)) {
            x.leaf(
                "awardNumber",
                &[("awardURI", f.award_uri.as_deref())],
                number,
            )?;
        }
        if let Some(title) = f.award_title.as_deref().filter(|a| !blank(a)) {
            x.leaf("awardTitle", &[], title)?;
        }
        x.close("fundingReference")
    })?;

    x.close("resource")?;
    let mut out = x.into_bytes();
    out.push(b'\n');
    Ok(out)
}

/// DataCite's placeholder for a mandatory value that is missing.
fn non_empty(s: &str) -> &str {
    if blank(s) {
        ":unav"
    } else {
        s
    }
}

/// DataCite REST API `attributes` for one published version (what `POST /dois` takes
/// and `GET /dois/{doi}` returns), in the same shape as the deposit metadata.
pub fn datacite_json(r: &PublishedRecord) -> Value {
    let m = r.metadata;
    // The deposit metadata already uses DataCite's attribute names; start from it.
    let mut attrs = match serde_json::to_value(m) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let (prefix, suffix) = r.doi.split_once('/').unwrap_or((r.doi, ""));
    let types = type_map(r.resource_type_general());
    let mut type_obj = json!({
        "resourceTypeGeneral": r.resource_type_general(),
        "schemaOrg": types.schema_org,
        "citeproc": types.citeproc,
        "bibtex": types.bibtex,
        "ris": types.ris,
    });
    if let Some(rt) = m
        .types
        .as_ref()
        .and_then(|t| t.resource_type.as_deref())
        .filter(|s| !blank(s))
    {
        type_obj["resourceType"] = json!(rt);
    }
    let publisher = match m.publisher.as_ref().filter(|p| !blank(&p.name)) {
        Some(p) => serde_json::to_value(p).unwrap_or_else(|_| json!(p.name)),
        None => json!(r.publisher_name()),
    };
    let creators: Vec<Value> = m
        .creators
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or_else(|_| json!({}));
            v["name"] = json!(display_name(c));
            if let Name::Person { family, given } = name_of(c) {
                v["familyName"] = json!(family);
                if let Some(g) = given {
                    v["givenName"] = json!(g);
                }
            }
            v
        })
        .collect();

    let set = |attrs: &mut Map<String, Value>, k: &str, v: Value| {
        attrs.insert(k.to_string(), v);
    };
    set(&mut attrs, "doi", json!(r.doi));
    set(&mut attrs, "prefix", json!(prefix));
    set(&mut attrs, "suffix", json!(suffix));
    set(&mut attrs, "url", json!(r.landing_url));
    set(
        &mut attrs,
        "identifiers",
        json!([{ "identifier": r.landing_url, "identifierType": "URL" }]),
    );
    set(&mut attrs, "types", type_obj);
    set(&mut attrs, "creators", json!(creators));
    set(&mut attrs, "publisher", publisher);
    set(&mut attrs, "publicationYear", json!(r.year()));
    set(&mut attrs, "dates", json!(dates(r)));
    set(&mut attrs, "relatedIdentifiers", json!(related(r)));
    set(&mut attrs, "sizes", json!(sizes(r)));
    set(&mut attrs, "formats", json!(r.media_types()));
    set(&mut attrs, "version", json!(r.version_label()));
    set(&mut attrs, "rightsList", json!(r.rights_list()));
    set(&mut attrs, "schemaVersion", json!(NAMESPACE));
    if !attrs.contains_key("titles") {
        set(&mut attrs, "titles", json!([{ "title": ":unav" }]));
    }
    Value::Object(attrs)
}
