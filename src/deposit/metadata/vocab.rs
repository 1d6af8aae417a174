//! Controlled vocabularies: DataCite 4.6 lists and the archive's license list.

// The DataCite lists below are the rows of tests/data/datacite/datacite_controlled_lists_4.4-4.7.csv
// (DataCite Metadata Schema controlled lists) with in_4.6 = Y, in CSV order; the test
// `datacite_lists_match_the_schema_table` below keeps them equal to that table.

/// DataCite 4.6 `resourceTypeGeneral` (32 values).
pub const RESOURCE_TYPE_GENERAL: &[&str] = &[
    "Audiovisual",
    "Book",
    "BookChapter",
    "Collection",
    "ComputationalNotebook",
    "ConferencePaper",
    "ConferenceProceeding",
    "DataPaper",
    "Dataset",
    "Dissertation",
    "Event",
    "Image",
    "InteractiveResource",
    "Journal",
    "JournalArticle",
    "Model",
    "OutputManagementPlan",
    "PeerReview",
    "PhysicalObject",
    "Preprint",
    "Report",
    "Service",
    "Software",
    "Sound",
    "Standard",
    "Text",
    "Workflow",
    "Other",
    "Instrument",
    "StudyRegistration",
    "Award",
    "Project",
];

/// DataCite 4.6 `dateType` (12 values).
pub const DATE_TYPE: &[&str] = &[
    "Accepted",
    "Available",
    "Collected",
    "Copyrighted",
    "Created",
    "Issued",
    "Other",
    "Submitted",
    "Updated",
    "Valid",
    "Withdrawn",
    "Coverage",
];

/// DataCite 4.6 `relatedIdentifierType` (21 values).
pub const RELATED_IDENTIFIER_TYPE: &[&str] = &[
    "ARK", "arXiv", "bibcode", "DOI", "EAN13", "EISSN", "Handle", "IGSN", "ISBN", "ISSN", "ISTC",
    "LISSN", "LSID", "PMID", "PURL", "UPC", "URL", "URN", "w3id", "CSTR", "RRID",
];

/// DataCite 4.6 `relationType` (38 values).
pub const RELATION_TYPE: &[&str] = &[
    "IsCitedBy",
    "Cites",
    "IsSupplementTo",
    "IsSupplementedBy",
    "IsContinuedBy",
    "Continues",
    "IsNewVersionOf",
    "IsPreviousVersionOf",
    "IsPartOf",
    "HasPart",
    "IsPublishedIn",
    "IsReferencedBy",
    "References",
    "IsDocumentedBy",
    "Documents",
    "IsCompiledBy",
    "Compiles",
    "IsVariantFormOf",
    "IsOriginalFormOf",
    "IsIdenticalTo",
    "HasMetadata",
    "IsMetadataFor",
    "Reviews",
    "IsReviewedBy",
    "IsDerivedFrom",
    "IsSourceOf",
    "Describes",
    "IsDescribedBy",
    "HasVersion",
    "IsVersionOf",
    "Requires",
    "IsRequiredBy",
    "Obsoletes",
    "IsObsoletedBy",
    "Collects",
    "IsCollectedBy",
    "HasTranslation",
    "IsTranslationOf",
];

/// DataCite 4.6 `funderIdentifierType` (5 values).
pub const FUNDER_IDENTIFIER_TYPE: &[&str] = &["ISNI", "GRID", "ROR", "Crossref Funder ID", "Other"];

/// DataCite 4.6 `titleType` (4 values).
pub const TITLE_TYPE: &[&str] = &["AlternativeTitle", "Subtitle", "TranslatedTitle", "Other"];

/// DataCite 4.6 `descriptionType` (6 values).
pub const DESCRIPTION_TYPE: &[&str] = &[
    "Abstract",
    "Methods",
    "SeriesInformation",
    "TableOfContents",
    "TechnicalInfo",
    "Other",
];

/// DataCite 4.6 `nameType` (2 values).
pub const NAME_TYPE: &[&str] = &["Organizational", "Personal"];

/// DataCite 4.6 `contributorType` (22 values).
pub const CONTRIBUTOR_TYPE: &[&str] = &[
    "ContactPerson",
    "DataCollector",
    "DataCurator",
    "DataManager",
    "Distributor",
    "Editor",
    "HostingInstitution",
    "Other",
    "Producer",
    "ProjectLeader",
    "ProjectManager",
    "ProjectMember",
    "RegistrationAgency",
    "RegistrationAuthority",
    "RelatedPerson",
    "ResearchGroup",
    "RightsHolder",
    "Researcher",
    "Sponsor",
    "Supervisor",
    "WorkPackageLeader",
    "Translator",
];
/// Is `value` one of `list` (exact, case-sensitive match as DataCite requires)?
pub fn contains(list: &[&str], value: &str) -> bool {
    list.contains(&value)
}

/// The canonical spelling of `value` in `list`, matched case-insensitively
/// (so `"dataset"` gives `Some("Dataset")`).
pub fn canonical(list: &[&'static str], value: &str) -> Option<&'static str> {
    list.iter().copied().find(|v| v.eq_ignore_ascii_case(value))
}

/// `schemeUri` for SPDX license identifiers in `rightsList`.
pub const SPDX_SCHEME_URI: &str = "https://spdx.org/licenses/";
/// `rightsIdentifierScheme` for SPDX license identifiers.
pub const SPDX_SCHEME: &str = "SPDX";

/// A license a depositor may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct License {
    /// SPDX license identifier (canonical case), used as `rightsIdentifier`.
    pub spdx_id: &'static str,
    /// Human-readable SPDX name, used as `rights`.
    pub name: &'static str,
    /// Canonical license text URL, used as `rightsUri`.
    pub url: &'static str,
}

/// Licenses accepted for deposits (SPDX ids and names from spdx.org/licenses;
/// URLs are the licensors' canonical legal texts).
pub const LICENSES: &[License] = &[
    License {
        spdx_id: "CC-BY-4.0",
        name: "Creative Commons Attribution 4.0 International",
        url: "https://creativecommons.org/licenses/by/4.0/legalcode",
    },
    License {
        spdx_id: "CC-BY-SA-4.0",
        name: "Creative Commons Attribution Share Alike 4.0 International",
        url: "https://creativecommons.org/licenses/by-sa/4.0/legalcode",
    },
    License {
        spdx_id: "CC-BY-NC-4.0",
        name: "Creative Commons Attribution Non Commercial 4.0 International",
        url: "https://creativecommons.org/licenses/by-nc/4.0/legalcode",
    },
    License {
        spdx_id: "CC-BY-NC-SA-4.0",
        name: "Creative Commons Attribution Non Commercial Share Alike 4.0 International",
        url: "https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode",
    },
    License {
        spdx_id: "CC-BY-ND-4.0",
        name: "Creative Commons Attribution No Derivatives 4.0 International",
        url: "https://creativecommons.org/licenses/by-nd/4.0/legalcode",
    },
    License {
        spdx_id: "CC-BY-NC-ND-4.0",
        name: "Creative Commons Attribution Non Commercial No Derivatives 4.0 International",
        url: "https://creativecommons.org/licenses/by-nc-nd/4.0/legalcode",
    },
    License {
        spdx_id: "CC0-1.0",
        name: "Creative Commons Zero v1.0 Universal",
        url: "https://creativecommons.org/publicdomain/zero/1.0/legalcode",
    },
    License {
        spdx_id: "CC-BY-3.0",
        name: "Creative Commons Attribution 3.0 Unported",
        url: "https://creativecommons.org/licenses/by/3.0/legalcode",
    },
    License {
        spdx_id: "ODbL-1.0",
        name: "Open Data Commons Open Database License v1.0",
        url: "https://opendatacommons.org/licenses/odbl/1-0/",
    },
    License {
        spdx_id: "ODC-By-1.0",
        name: "Open Data Commons Attribution License v1.0",
        url: "https://opendatacommons.org/licenses/by/1-0/",
    },
    License {
        spdx_id: "PDDL-1.0",
        name: "Open Data Commons Public Domain Dedication & License 1.0",
        url: "https://opendatacommons.org/licenses/pddl/1-0/",
    },
    License {
        spdx_id: "MIT",
        name: "MIT License",
        url: "https://opensource.org/licenses/MIT",
    },
    License {
        spdx_id: "Apache-2.0",
        name: "Apache License 2.0",
        url: "https://www.apache.org/licenses/LICENSE-2.0",
    },
    License {
        spdx_id: "BSD-3-Clause",
        name: "BSD 3-Clause \"New\" or \"Revised\" License",
        url: "https://opensource.org/licenses/BSD-3-Clause",
    },
    License {
        spdx_id: "GPL-3.0-or-later",
        name: "GNU General Public License v3.0 or later",
        url: "https://www.gnu.org/licenses/gpl-3.0.html",
    },
];

/// Find a license by SPDX id, case-insensitively (DataCite stores e.g. `cc-by-4.0`).
pub fn license(spdx_id: &str) -> Option<&'static License> {
    let id = spdx_id.trim();
    LICENSES.iter().find(|l| l.spdx_id.eq_ignore_ascii_case(id))
}

/// Find a license by its URL, ignoring `http`/`https`, `www.`, a trailing
/// `legalcode`/`.html`/`/` and case, so the common variants of
/// `https://creativecommons.org/licenses/by/4.0/` match too.
pub fn license_by_url(url: &str) -> Option<&'static License> {
    let key = url_key(url);
    if key.is_empty() {
        return None;
    }
    LICENSES.iter().find(|l| url_key(l.url) == key)
}

fn url_key(url: &str) -> String {
    let mut s = url.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
        }
    }
    if let Some(rest) = s.strip_prefix("www.") {
        s = rest.to_string();
    }
    loop {
        let before = s.len();
        for suffix in ["/", "legalcode", ".html", "-standalone", ".txt"] {
            if let Some(rest) = s.strip_suffix(suffix) {
                s = rest.to_string();
            }
        }
        if s.len() == before {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_sizes_match_datacite_4_6() {
        assert_eq!(RESOURCE_TYPE_GENERAL.len(), 32);
        assert_eq!(RELATION_TYPE.len(), 38);
        assert_eq!(RELATED_IDENTIFIER_TYPE.len(), 21);
        assert_eq!(DATE_TYPE.len(), 12);
        assert_eq!(FUNDER_IDENTIFIER_TYPE.len(), 5);
        assert_eq!(TITLE_TYPE.len(), 4);
        assert_eq!(DESCRIPTION_TYPE.len(), 6);
        assert_eq!(NAME_TYPE.len(), 2);
        assert!(contains(RESOURCE_TYPE_GENERAL, "Award"));
        assert!(!contains(RESOURCE_TYPE_GENERAL, "Poster")); // 4.7 only
        assert!(contains(DATE_TYPE, "Coverage"));
    }

    #[test]
    fn canonical_case() {
        assert_eq!(canonical(RESOURCE_TYPE_GENERAL, "dataset"), Some("Dataset"));
        assert_eq!(canonical(RELATED_IDENTIFIER_TYPE, "ARXIV"), Some("arXiv"));
        assert_eq!(canonical(DATE_TYPE, "Someday"), None);
    }

    #[test]
    fn license_lookup() {
        assert_eq!(license("cc-by-4.0").map(|l| l.spdx_id), Some("CC-BY-4.0"));
        assert!(license("CC-BY-2.0").is_none());
        assert_eq!(
            license_by_url("http://creativecommons.org/licenses/by/4.0/").map(|l| l.spdx_id),
            Some("CC-BY-4.0")
        );
        assert_eq!(
            license_by_url("https://www.gnu.org/licenses/gpl-3.0.html").map(|l| l.spdx_id),
            Some("GPL-3.0-or-later")
        );
        assert!(license_by_url("").is_none());
        for l in LICENSES {
            assert_eq!(license_by_url(l.url), Some(l));
        }
    }

    /// Each list is exactly the table's rows for DataCite 4.6, in the table's order.
    #[test]
    fn datacite_lists_match_the_schema_table() {
        let table = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/datacite/datacite_controlled_lists_4.4-4.7.csv"
        );
        let mut reader = csv::Reader::from_path(table).expect("controlled lists table");
        let mut in_46: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for row in reader.records() {
            let row = row.expect("row");
            if &row[4] == "Y" {
                in_46
                    .entry(row[0].to_string())
                    .or_default()
                    .push(row[1].to_string());
            }
        }
        for (list, ours) in [
            ("resourceTypeGeneral", RESOURCE_TYPE_GENERAL),
            ("dateType", DATE_TYPE),
            ("relatedIdentifierType", RELATED_IDENTIFIER_TYPE),
            ("relationType", RELATION_TYPE),
            ("funderIdentifierType", FUNDER_IDENTIFIER_TYPE),
            ("titleType", TITLE_TYPE),
            ("descriptionType", DESCRIPTION_TYPE),
            ("nameType", NAME_TYPE),
            ("contributorType", CONTRIBUTOR_TYPE),
        ] {
            assert_eq!(in_46[list], ours, "{list}");
        }
    }
}
