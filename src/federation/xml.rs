//! Writing OAI-PMH responses: the envelope, headers, and the `oai_dc` and
//! `oai_datacite` payloads of a published record.

use std::io;

use chrono::NaiveDateTime;

use super::oai::{format_datestamp, Format, OaiError, GRANULARITY};
use super::records::{Header, Set};
use crate::doi::export::{datacite_xml, doi_url, rights_url, PublishedRecord};
use crate::xml::Xml;

const OAI_NS: &str = "http://www.openarchives.org/OAI/2.0/";
const OAI_SCHEMA: &str =
    "http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const DC_NS: &str = "http://purl.org/dc/elements/1.1/";

/// What Identify says about the repository.
pub struct Identity<'a> {
    pub name: &'a str,
    pub base_url: &'a str,
    pub admin_email: &'a str,
    pub earliest: NaiveDateTime,
    /// The domain in identifiers, when it is one the oai-identifier scheme accepts.
    pub repository_identifier: Option<&'a str>,
    pub sample_identifier: String,
}

/// A record's metadata, ready to write.
pub struct Payload<'a> {
    pub record: &'a PublishedRecord<'a>,
    /// oai_datacite's `datacentreSymbol`.
    pub datacentre: &'a str,
}

/// The envelope: `responseDate`, `request` (its attributes only when the arguments
/// were understood) and then `body`.
pub fn document(
    now: NaiveDateTime,
    base_url: &str,
    echo: Option<&[(String, String)]>,
    body: impl FnOnce(&mut Xml) -> io::Result<()>,
) -> Vec<u8> {
    let write = || -> io::Result<Vec<u8>> {
        let mut x = Xml::document()?;
        x.open(
            "OAI-PMH",
            &[
                ("xmlns", Some(OAI_NS)),
                ("xmlns:xsi", Some(XSI_NS)),
                ("xsi:schemaLocation", Some(OAI_SCHEMA)),
            ],
        )?;
        x.leaf("responseDate", &[], &format_datestamp(now))?;
        let attrs: Vec<(&str, Option<&str>)> = echo
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_str())))
            .collect();
        x.leaf("request", &attrs, base_url)?;
        body(&mut x)?;
        x.close("OAI-PMH")?;
        Ok(x.into_bytes())
    };
    // Writing into memory does not fail; an empty body would be refused by any client.
    write().unwrap_or_default()
}

pub fn errors(x: &mut Xml, errors: &[OaiError]) -> io::Result<()> {
    for e in errors {
        x.leaf("error", &[("code", Some(e.code.as_str()))], &e.message)?;
    }
    Ok(())
}

pub fn identify(x: &mut Xml, id: &Identity) -> io::Result<()> {
    x.open("Identify", &[])?;
    x.leaf("repositoryName", &[], id.name)?;
    x.leaf("baseURL", &[], id.base_url)?;
    x.leaf("protocolVersion", &[], "2.0")?;
    x.leaf("adminEmail", &[], id.admin_email)?;
    x.leaf("earliestDatestamp", &[], &format_datestamp(id.earliest))?;
    x.leaf("deletedRecord", &[], "persistent")?;
    x.leaf("granularity", &[], GRANULARITY)?;
    if let Some(repository) = id.repository_identifier {
        x.open("description", &[])?;
        x.open(
            "oai-identifier",
            &[
                ("xmlns", Some("http://www.openarchives.org/OAI/2.0/oai-identifier")),
                (
                    "xsi:schemaLocation",
                    Some("http://www.openarchives.org/OAI/2.0/oai-identifier http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"),
                ),
            ],
        )?;
        x.leaf("scheme", &[], "oai")?;
        x.leaf("repositoryIdentifier", &[], repository)?;
        x.leaf("delimiter", &[], ":")?;
        x.leaf("sampleIdentifier", &[], &id.sample_identifier)?;
        x.close("oai-identifier")?;
        x.close("description")?;
    }
    x.close("Identify")
}

pub fn metadata_formats(x: &mut Xml) -> io::Result<()> {
    x.open("ListMetadataFormats", &[])?;
    for f in Format::ALL {
        x.open("metadataFormat", &[])?;
        x.leaf("metadataPrefix", &[], f.prefix())?;
        x.leaf("schema", &[], f.schema())?;
        x.leaf("metadataNamespace", &[], f.namespace())?;
        x.close("metadataFormat")?;
    }
    x.close("ListMetadataFormats")
}

pub fn sets(x: &mut Xml, sets: &[Set]) -> io::Result<()> {
    x.open("ListSets", &[])?;
    for s in sets {
        x.open("set", &[])?;
        x.leaf("setSpec", &[], &s.spec)?;
        x.leaf("setName", &[], &s.name)?;
        x.close("set")?;
    }
    x.close("ListSets")
}

pub fn header(x: &mut Xml, identifier: &str, h: &Header) -> io::Result<()> {
    let status = h.row.deleted.then_some("deleted");
    x.open("header", &[("status", status)])?;
    x.leaf("identifier", &[], identifier)?;
    x.leaf("datestamp", &[], &format_datestamp(h.row.datestamp))?;
    for s in &h.sets {
        x.leaf("setSpec", &[], s)?;
    }
    x.close("header")
}

/// One `record`: its header, and its metadata unless it is deleted.
pub fn record(
    x: &mut Xml,
    identifier: &str,
    h: &Header,
    format: Format,
    payload: Option<&Payload>,
) -> io::Result<()> {
    x.open("record", &[])?;
    header(x, identifier, h)?;
    if let (false, Some(p)) = (h.row.deleted, payload) {
        x.open("metadata", &[])?;
        match format {
            Format::OaiDc => oai_dc(x, p.record)?,
            Format::OaiDatacite => {
                x.open(
                    "oai_datacite",
                    &[
                        ("xmlns", Some(Format::OaiDatacite.namespace())),
                        (
                            "xsi:schemaLocation",
                            Some("http://schema.datacite.org/oai/oai-1.1/ http://schema.datacite.org/oai/oai-1.1/oai.xsd"),
                        ),
                    ],
                )?;
                // oai_datacite 1.1 has these three (1.0's isReferenceQuality is gone).
                x.leaf("schemaVersion", &[], "4.6")?;
                x.leaf("datacentreSymbol", &[], p.datacentre)?;
                x.open("payload", &[])?;
                x.raw(&resource(p.record))?;
                x.close("payload")?;
                x.close("oai_datacite")?;
            }
            Format::Datacite => x.raw(&resource(p.record))?,
        }
        x.close("metadata")?;
    }
    x.close("record")
}

/// The DataCite document without its XML declaration, to sit inside another.
fn resource(r: &PublishedRecord) -> String {
    let doc = datacite_xml(r);
    match doc.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, body)| body.trim().to_string())
            .unwrap_or_default(),
        None => doc,
    }
}

/// `resumptionToken`: the next page's token, or empty on the page that completes the
/// list (the spec requires the empty element there).
pub fn resumption(
    x: &mut Xml,
    token: Option<&str>,
    complete_size: i64,
    cursor: u64,
) -> io::Result<()> {
    let size = complete_size.to_string();
    let cursor = cursor.to_string();
    x.leaf(
        "resumptionToken",
        &[("completeListSize", Some(&size)), ("cursor", Some(&cursor))],
        token.unwrap_or(""),
    )
}

fn nonblank(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

/// Unqualified Dublin Core of a published record.
fn oai_dc(x: &mut Xml, r: &PublishedRecord) -> io::Result<()> {
    x.open(
        "oai_dc:dc",
        &[
            ("xmlns:oai_dc", Some(Format::OaiDc.namespace())),
            ("xmlns:dc", Some(DC_NS)),
            ("xmlns:xsi", Some(XSI_NS)),
            (
                "xsi:schemaLocation",
                Some("http://www.openarchives.org/OAI/2.0/oai_dc/ http://www.openarchives.org/OAI/2.0/oai_dc.xsd"),
            ),
        ],
    )?;
    let m = r.metadata;
    for t in m.titles.iter().filter_map(|t| nonblank(&t.title)) {
        x.leaf("dc:title", &[], t)?;
    }
    for c in &m.creators {
        let name = nonblank(&c.name).map(str::to_string).or_else(|| {
            let family = c.family_name.as_deref().and_then(nonblank)?;
            Some(match c.given_name.as_deref().and_then(nonblank) {
                Some(given) => format!("{family}, {given}"),
                None => family.to_string(),
            })
        });
        if let Some(name) = name {
            x.leaf("dc:creator", &[], &name)?;
        }
    }
    for s in r.keywords() {
        x.leaf("dc:subject", &[], s)?;
    }
    for d in m
        .descriptions
        .iter()
        .filter_map(|d| nonblank(&d.description))
    {
        x.leaf("dc:description", &[], d)?;
    }
    x.leaf("dc:publisher", &[], r.publisher_name())?;
    x.leaf("dc:date", &[], &r.published_date())?;
    x.leaf("dc:type", &[], r.resource_type_general())?;
    for t in r.media_types() {
        x.leaf("dc:format", &[], t)?;
    }
    x.leaf("dc:identifier", &[], &r.doi_url())?;
    x.leaf("dc:identifier", &[], r.landing_url)?;
    if let Some(language) = m.language.as_deref().and_then(nonblank) {
        x.leaf("dc:language", &[], language)?;
    }
    for rel in &m.related_identifiers {
        let Some(value) = nonblank(&rel.related_identifier) else {
            continue;
        };
        let value = match rel.related_identifier_type.as_str() {
            "DOI" => doi_url(value),
            "URL" => value.to_string(),
            other => format!("{}:{value}", other.to_ascii_lowercase()),
        };
        x.leaf("dc:relation", &[], &value)?;
    }
    for version in r.has_versions {
        x.leaf("dc:relation", &[], &doi_url(version))?;
    }
    for place in m
        .geo_locations
        .iter()
        .filter_map(|g| g.geo_location_place.as_deref().and_then(nonblank))
    {
        x.leaf("dc:coverage", &[], place)?;
    }
    // Each license by name (or SPDX id) and by URL.
    for rights in r.licenses() {
        let name = rights
            .rights
            .as_deref()
            .or(rights.rights_identifier.as_deref());
        if let Some(name) = name.and_then(nonblank) {
            x.leaf("dc:rights", &[], name)?;
        }
        if let Some(url) = rights_url(rights) {
            x.leaf("dc:rights", &[], &url)?;
        }
    }
    // Access as OpenAIRE's guidelines ask (oai_dc: the info:eu-repo term).
    x.leaf("dc:rights", &[], r.access_rights().uri)?;
    x.close("oai_dc:dc")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deposit::access::Access;
    use crate::deposit::metadata::{Metadata, Title};
    use crate::federation::records::RecordRow;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").expect("test time")
    }

    fn written(body: impl FnOnce(&mut Xml) -> io::Result<()>) -> String {
        let bytes = document(at("2026-12-02T10:00:00Z"), "https://a.org/oai", None, body);
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn deleted_records_have_no_metadata_and_text_is_escaped() {
        let metadata = Metadata {
            titles: vec![Title {
                title: "Fluxes <2019> & more\u{1}".into(),
                ..Title::default()
            }],
            ..Metadata::default()
        };
        let record = PublishedRecord {
            metadata: &metadata,
            doi: "10.5072/abcd-efgh",
            concept_doi: None,
            previous_doi: None,
            next_doi: None,
            has_versions: &[],
            version: 1,
            published: at("2026-12-01T09:00:00Z"),
            publisher: "Archive",
            landing_url: "https://a.org/datasets/1",
            files: &[],
            catalog: None,
            access: &Access::Open,
        };
        let payload = Payload {
            record: &record,
            datacentre: "ARCHIVE",
        };
        let mut header = Header {
            row: RecordRow {
                dataset_id: 1,
                datestamp: at("2026-12-01T09:00:00Z"),
                deleted: false,
            },
            sets: vec!["type:Dataset".into()],
        };
        let live = written(|x| record_of(x, &header, &payload));
        assert!(
            live.contains("<request>https://a.org/oai</request>"),
            "{live}"
        );
        assert!(
            live.contains("<dc:title>Fluxes &lt;2019&gt; &amp; more</dc:title>"),
            "{live}"
        );
        assert!(live.contains("<datestamp>2026-12-01T09:00:00Z</datestamp>"));
        assert!(live.contains("<setSpec>type:Dataset</setSpec>"));
        header.row.deleted = true;
        let gone = written(|x| record_of(x, &header, &payload));
        assert!(gone.contains(r#"<header status="deleted">"#), "{gone}");
        assert!(!gone.contains("<metadata>"), "{gone}");
        let last = written(|x| resumption(x, None, 5, 4));
        assert!(
            last.contains(r#"<resumptionToken completeListSize="5" cursor="4"/>"#),
            "{last}"
        );
    }

    fn record_of(x: &mut Xml, h: &Header, p: &Payload) -> io::Result<()> {
        record(x, "oai:a.org:dataset/1", h, Format::OaiDc, Some(p))
    }
}
