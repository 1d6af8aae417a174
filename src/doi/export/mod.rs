//! Every export of one published dataset version: DataCite XML and JSON, schema.org
//! JSON-LD, BibTeX, RIS, CSL-JSON and formatted citations (APA, Chicago, Harvard).
//!
//! Pure functions of a [`PublishedRecord`]: no database and no web types, so the landing
//! page, DOI content negotiation, OAI-PMH and the DataCite client all share one mapping.
//! The record's metadata is expected to be normalised and validated already; the
//! exporters still skip values that would make an output invalid (an unknown controlled
//! value, a coordinate out of range) instead of emitting a broken document.

mod access;
mod citation;
pub(crate) mod datacite;
mod jsonld;
mod meta;
mod names;
pub mod signposting;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use chrono::{Datelike, NaiveDateTime};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::deposit::access::Access;
use crate::deposit::metadata::{vocab, Metadata, Rights};

pub use self::access::{access_rights, AccessRights, EU_REPO_ACCESS};
pub use self::citation::{apa, bibtex, chicago, cite, csl_json, harvard, ris, CitationStyle};
pub use self::datacite::{datacite_json, datacite_xml, DATACITE_SCHEMA_LOCATION};
pub use self::jsonld::{jsonld_script_text, schema_org_jsonld};
pub use self::meta::{meta_tags, MetaTag};

/// One file of the published version, as downstream users download it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// Path inside the dataset, e.g. `data/fluxes.csv`.
    pub path: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
    pub media_type: String,
    /// Absolute URL that serves the bytes.
    pub download_url: String,
}

/// The archive's catalogue, for schema.org `includedInDataCatalog`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catalog<'a> {
    pub name: &'a str,
    pub url: &'a str,
}

/// One published dataset version and what the archive knows about it beyond its metadata.
#[derive(Debug, Clone)]
pub struct PublishedRecord<'a> {
    pub metadata: &'a Metadata,
    /// This version's DOI, bare (`10.1234/abcd-efgh`).
    pub doi: &'a str,
    /// The concept DOI that always resolves to the latest version.
    pub concept_doi: Option<&'a str>,
    /// DOI of the version this one replaces (`IsNewVersionOf`).
    pub previous_doi: Option<&'a str>,
    /// DOI of the version that replaced this one (`IsPreviousVersionOf`).
    pub next_doi: Option<&'a str>,
    /// For a concept DOI's record: the DOIs of its versions (`HasVersion`).
    pub has_versions: &'a [String],
    /// The archive's version number (1, 2, ...).
    pub version: i32,
    /// When this version was published, UTC.
    pub published: NaiveDateTime,
    /// The archive's name, used when the metadata carries no publisher.
    pub publisher: &'a str,
    /// Absolute URL of this version's landing page.
    pub landing_url: &'a str,
    pub files: &'a [ExportFile],
    pub catalog: Option<Catalog<'a>>,
    /// Who may read the files: every access-rights statement is made from it.
    pub access: &'a Access,
}

/// Characters escaped in a DOI placed in a URL path (DOI Handbook and RFC 3986):
/// a DOI may legally contain `#`, `?`, `%`, spaces or braces, which would change the URL.
const DOI_URL: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `https://doi.org/…` for a bare DOI.
pub fn doi_url(doi: &str) -> String {
    format!(
        "https://doi.org/{}",
        utf8_percent_encode(doi.trim(), DOI_URL)
    )
}

/// A DOI relation of this version to another version of the same dataset.
pub(crate) struct VersionLink {
    pub doi: String,
    pub relation: &'static str,
}

impl PublishedRecord<'_> {
    pub fn doi_url(&self) -> String {
        doi_url(self.doi)
    }

    /// The main title: the first without a `titleType`, else the first at all.
    pub fn title(&self) -> &str {
        let titles = &self.metadata.titles;
        titles
            .iter()
            .find(|t| t.title_type.is_none() && !t.title.trim().is_empty())
            .or_else(|| titles.iter().find(|t| !t.title.trim().is_empty()))
            .map(|t| t.title.trim())
            .unwrap_or("")
    }

    pub fn publisher_name(&self) -> &str {
        self.metadata
            .publisher
            .as_ref()
            .map(|p| p.name.trim())
            .filter(|n| !n.is_empty())
            .unwrap_or(self.publisher)
    }

    /// The metadata's `publicationYear` (set by the archive at publication), else the
    /// year of `published`.
    pub fn year(&self) -> i32 {
        self.metadata
            .publication_year
            .unwrap_or_else(|| self.published.year())
    }

    /// The depositor's version label when given (e.g. `2.1`), else the archive's number.
    pub fn version_label(&self) -> String {
        match self.metadata.version.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => self.version.to_string(),
        }
    }

    /// `Dataset` unless the metadata names another known `resourceTypeGeneral`.
    pub fn resource_type_general(&self) -> &str {
        self.metadata
            .types
            .as_ref()
            .map(|t| t.resource_type_general.as_str())
            .filter(|t| vocab::contains(vocab::RESOURCE_TYPE_GENERAL, t))
            .unwrap_or("Dataset")
    }

    /// The abstract, else the first description.
    pub fn abstract_text(&self) -> Option<&str> {
        let ds = &self.metadata.descriptions;
        ds.iter()
            .find(|d| d.description_type == "Abstract" && !d.description.trim().is_empty())
            .or_else(|| ds.iter().find(|d| !d.description.trim().is_empty()))
            .map(|d| d.description.trim())
    }

    pub fn keywords(&self) -> Vec<&str> {
        self.metadata
            .subjects
            .iter()
            .map(|s| s.subject.trim())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The files a reader can download: none once the dataset is withdrawn.
    pub fn served_files(&self) -> &[ExportFile] {
        if self.access.is_withdrawn() {
            &[]
        } else {
            self.files
        }
    }

    /// How the exports state access to the files.
    pub fn access_rights(&self) -> AccessRights {
        access_rights(self.access)
    }

    /// The depositor's rights entries (licenses), without any access statement: the
    /// archive states access itself, from [`Self::access`].
    pub fn licenses(&self) -> impl Iterator<Item = &Rights> {
        self.metadata
            .rights_list
            .iter()
            .filter(|r| !access::is_access_statement(r.rights_uri.as_deref()))
    }

    /// The rights entries DataCite gets: the licenses, then the access statement.
    pub fn rights_list(&self) -> Vec<Rights> {
        let access = self.access_rights();
        let mut list: Vec<Rights> = self.licenses().cloned().collect();
        list.push(Rights {
            rights: Some(access.label.to_string()),
            rights_uri: Some(access.uri.to_string()),
            ..Rights::default()
        });
        list
    }

    /// The first license that names a URL (directly or through its SPDX id).
    pub fn license_url(&self) -> Option<Cow<'_, str>> {
        self.licenses().find_map(rights_url)
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Distinct media types of the files, sorted.
    pub fn media_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = self
            .files
            .iter()
            .map(|f| f.media_type.trim())
            .filter(|t| !t.is_empty())
            .collect();
        types.sort_unstable();
        types.dedup();
        types
    }

    /// `YYYY-MM-DD` of publication.
    pub fn published_date(&self) -> String {
        self.published.format("%Y-%m-%d").to_string()
    }

    /// Relations to the concept DOI and neighbouring versions, or from a concept DOI to
    /// its versions (DataCite's versioning pattern), that the depositor's metadata does
    /// not already state.
    pub(crate) fn version_links(&self) -> Vec<VersionLink> {
        let mut candidates = vec![
            (self.concept_doi, "IsVersionOf"),
            (self.previous_doi, "IsNewVersionOf"),
            (self.next_doi, "IsPreviousVersionOf"),
        ];
        candidates.extend(
            self.has_versions
                .iter()
                .map(|v| (Some(v.as_str()), "HasVersion")),
        );
        candidates
            .into_iter()
            .filter_map(|(doi, relation)| {
                let doi = doi?.trim();
                let stated = self.metadata.related_identifiers.iter().any(|r| {
                    r.relation_type == relation && r.related_identifier.eq_ignore_ascii_case(doi)
                });
                (!doi.is_empty() && !doi.eq_ignore_ascii_case(self.doi) && !stated).then(|| {
                    VersionLink {
                        doi: doi.to_string(),
                        relation,
                    }
                })
            })
            .collect()
    }
}

/// A license URL from `rightsUri`, else from a known SPDX id.
pub(crate) fn rights_url(r: &Rights) -> Option<Cow<'_, str>> {
    if let Some(uri) = r.rights_uri.as_deref().map(str::trim) {
        if !uri.is_empty() {
            return Some(Cow::Borrowed(uri));
        }
    }
    let id = r.rights_identifier.as_deref()?.trim();
    vocab::license(id)
        .map(|l| Cow::Borrowed(l.url))
        .or_else(|| (!id.is_empty()).then(|| Cow::Owned(format!("{}{id}", vocab::SPDX_SCHEME_URI))))
}

/// How a `resourceTypeGeneral` is typed in other vocabularies, as DataCite maps it
/// (citeproc, BibTeX, RIS, schema.org).
pub(crate) struct TypeMap {
    pub citeproc: &'static str,
    pub bibtex: &'static str,
    pub ris: &'static str,
    pub schema_org: &'static str,
    /// The bracketed description in APA / Harvard references.
    pub label: &'static str,
}

pub(crate) fn type_map(resource_type_general: &str) -> TypeMap {
    let (citeproc, bibtex, ris, schema_org, label) = match resource_type_general {
        "Dataset" => ("dataset", "misc", "DATA", "Dataset", "Data set"),
        "Collection" => ("dataset", "misc", "DATA", "Collection", "Collection"),
        "Software" | "ComputationalNotebook" => (
            "software",
            "misc",
            "COMP",
            "SoftwareSourceCode",
            "Computer software",
        ),
        "Image" => ("graphic", "misc", "FIGURE", "ImageObject", "Image"),
        "Audiovisual" => ("motion_picture", "misc", "MPCT", "MediaObject", "Video"),
        "Sound" => ("song", "misc", "SOUND", "AudioObject", "Audio"),
        "Text" | "Report" => ("report", "techreport", "RPRT", "Report", "Report"),
        "JournalArticle" | "DataPaper" => (
            "article-journal",
            "article",
            "JOUR",
            "ScholarlyArticle",
            "Article",
        ),
        "Model" => ("dataset", "misc", "DATA", "Dataset", "Model"),
        _ => ("article", "misc", "GEN", "CreativeWork", "Other"),
    };
    TypeMap {
        citeproc,
        bibtex,
        ris,
        schema_org,
        label,
    }
}

/// Collapses runs of whitespace (including newlines) to one space, for one-line formats.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
