//! The `<meta>` tags of a published landing page, for the readers that do not read
//! JSON-LD: Google Scholar's Highwire Press tags (`citation_*`), Dublin Core (`DC.*`),
//! and Open Graph (`og:*`) for link previews. Made from the same record as every export.

use super::names::inverted_name;
use super::PublishedRecord;

/// One `<meta>`: `property` for Open Graph, `name` for the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaTag {
    pub attribute: &'static str,
    pub key: &'static str,
    pub content: String,
}

fn tag(key: &'static str, content: impl Into<String>) -> MetaTag {
    let attribute = if key.starts_with("og:") {
        "property"
    } else {
        "name"
    };
    MetaTag {
        attribute,
        key,
        content: content.into(),
    }
}

/// The tags of the record's landing page, in the order readers expect them.
pub fn meta_tags(r: &PublishedRecord) -> Vec<MetaTag> {
    let mut tags = vec![tag("citation_title", r.title())];
    // Highwire's form: "Family, Given".
    let authors: Vec<String> = r.metadata.creators.iter().map(inverted_name).collect();
    tags.extend(authors.iter().map(|a| tag("citation_author", a.clone())));
    let date = r.published.format("%Y/%m/%d").to_string();
    tags.extend([
        tag("citation_publication_date", date),
        tag("citation_doi", r.doi),
        tag("citation_publisher", r.publisher_name()),
    ]);
    let keywords = r.keywords();
    if !keywords.is_empty() {
        tags.push(tag("citation_keywords", keywords.join("; ")));
    }
    tags.push(tag("DC.title", r.title()));
    tags.extend(authors.iter().map(|a| tag("DC.creator", a.clone())));
    tags.extend([
        tag("DC.identifier", r.doi_url()),
        tag("DC.date", r.published_date()),
        tag("DC.publisher", r.publisher_name()),
        tag("DC.type", r.resource_type_general().to_string()),
    ]);
    if let Some(license) = r.license_url() {
        tags.push(tag("DC.rights", license.into_owned()));
    }
    let description = r.abstract_text().unwrap_or(r.title());
    tags.push(tag("DC.description", description));
    tags.extend([
        tag("og:type", "website"),
        tag("og:title", r.title()),
        tag("og:description", description),
        tag("og:url", r.landing_url),
        tag("og:site_name", r.publisher),
    ]);
    tags
}
