use super::{
    is_doi, is_url, strip_doi_prefix, Check, Date, Metadata, RelatedIdentifier, Subject, Title,
    Types, MAX_DESCRIPTION_CHARS, MAX_LIST_LEN, MAX_STRING_CHARS, MAX_TITLE_CHARS,
};
use crate::deposit::metadata::ids::excerpt;
use crate::deposit::metadata::isodate::check_date_value;
use crate::deposit::metadata::vocab;

impl Check {
    pub(super) fn titles(&mut self, titles: &[Title]) {
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

    pub(super) fn descriptions(&mut self, m: &Metadata) {
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

    pub(super) fn subjects(&mut self, subjects: &[Subject]) {
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

    pub(super) fn types(&mut self, t: Option<&Types>) {
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

    pub(super) fn dates(&mut self, dates: &[Date]) {
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

    pub(super) fn related(&mut self, rels: &[RelatedIdentifier]) {
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

    pub(super) fn top_level(&mut self, m: &Metadata) {
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
