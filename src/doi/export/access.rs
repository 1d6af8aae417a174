//! Access-rights statements of a version, from its [`Access`] state: schema.org
//! `isAccessibleForFree` / `conditionsOfAccess`, and the OpenAIRE / DataCite rights entry
//! from the `info:eu-repo/semantics` access-rights vocabulary (what OpenAIRE's guidelines
//! for data archives require and Zenodo emits).

use crate::deposit::access::Access;

/// The vocabulary's prefix: a rights entry whose URI starts with it states access.
pub const EU_REPO_ACCESS: &str = "info:eu-repo/semantics/";

/// How one access state is said to machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRights {
    /// schema.org `isAccessibleForFree`: can anyone download the files now, freely?
    pub free: bool,
    /// `info:eu-repo/semantics/openAccess` and its siblings.
    pub uri: &'static str,
    /// The rights entry's text.
    pub label: &'static str,
    /// schema.org `conditionsOfAccess`, when access is not open.
    pub conditions: Option<String>,
}

pub fn access_rights(access: &Access) -> AccessRights {
    match access {
        Access::Open => AccessRights {
            free: true,
            uri: "info:eu-repo/semantics/openAccess",
            label: "Open Access",
            conditions: None,
        },
        Access::Embargoed { until } => AccessRights {
            free: false,
            uri: "info:eu-repo/semantics/embargoedAccess",
            label: "Embargoed Access",
            conditions: Some(format!(
                "The files are under embargo until {}; the metadata is open.",
                until.format("%Y-%m-%d")
            )),
        },
        Access::Restricted { conditions } => AccessRights {
            free: false,
            uri: "info:eu-repo/semantics/restrictedAccess",
            label: "Restricted Access",
            conditions: Some(conditions.trim().to_string()),
        },
        Access::Withdrawn { reason, .. } => AccessRights {
            free: false,
            uri: "info:eu-repo/semantics/closedAccess",
            label: "Closed Access",
            conditions: Some(if reason.is_empty() {
                "This dataset was withdrawn; its files are no longer available.".to_string()
            } else {
                format!("This dataset was withdrawn ({reason}); its files are no longer available.")
            }),
        },
    }
}

/// Whether a depositor's rights entry states access in the eu-repo vocabulary (the
/// archive states access itself, from the dataset's state, so such entries are dropped).
pub fn is_access_statement(rights_uri: Option<&str>) -> bool {
    rights_uri.is_some_and(|u| u.trim().starts_with(EU_REPO_ACCESS))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::{datacite_json, datacite_xml, schema_org_jsonld, PublishedRecord};
    use super::*;
    use crate::deposit::metadata::{Metadata, Rights};

    fn with_access<T>(access: &Access, f: impl FnOnce(&PublishedRecord) -> T) -> T {
        let metadata = Metadata {
            rights_list: vec![
                Rights {
                    rights_identifier: Some("CC-BY-4.0".into()),
                    ..Rights::default()
                },
                // A depositor's own access statement gives way to the archive's.
                Rights {
                    rights_uri: Some("info:eu-repo/semantics/closedAccess".into()),
                    ..Rights::default()
                },
            ],
            ..Metadata::default()
        };
        let published = NaiveDate::from_ymd_opt(2026, 5, 4)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .expect("a date");
        f(&PublishedRecord {
            metadata: &metadata,
            doi: "10.5555/acce-ss01",
            concept_doi: None,
            previous_doi: None,
            next_doi: None,
            has_versions: &[],
            version: 1,
            published,
            publisher: "Archive",
            landing_url: "https://archive.example/datasets/1",
            files: &[],
            catalog: None,
            access,
        })
    }

    #[test]
    fn an_open_record_says_so_in_every_export() {
        with_access(&Access::Open, |r| {
            let ld = schema_org_jsonld(r);
            assert_eq!(ld["isAccessibleForFree"], true);
            assert!(ld.get("conditionsOfAccess").is_none());
            assert_eq!(
                ld["license"],
                "https://creativecommons.org/licenses/by/4.0/legalcode"
            );
            let xml = datacite_xml(r);
            assert!(
                xml.contains(
                    r#"<rights rightsURI="info:eu-repo/semantics/openAccess">Open Access</rights>"#
                ),
                "{xml}"
            );
            assert!(!xml.contains("closedAccess"), "{xml}");
            let rights = datacite_json(r)["rightsList"].clone();
            assert_eq!(rights.as_array().map(Vec::len), Some(2), "{rights}");
            assert_eq!(rights[1]["rightsUri"], "info:eu-repo/semantics/openAccess");
        });
    }

    #[test]
    fn states_that_are_not_open_state_their_conditions() {
        let until = NaiveDate::from_ymd_opt(2027, 1, 31).expect("a date");
        for (access, uri, condition) in [
            (Access::Embargoed { until }, "embargoedAccess", "2027-01-31"),
            (
                Access::Restricted {
                    conditions: "Ask the site PI.".into(),
                },
                "restrictedAccess",
                "Ask the site PI.",
            ),
            (
                Access::Withdrawn {
                    reason: "duplicate".into(),
                    on: until,
                },
                "closedAccess",
                "withdrawn (duplicate)",
            ),
        ] {
            with_access(&access, |r| {
                let ld = schema_org_jsonld(r);
                assert_eq!(ld["isAccessibleForFree"], false);
                let conditions = ld["conditionsOfAccess"].as_str().unwrap_or("");
                assert!(conditions.contains(condition), "{conditions}");
                let xml = datacite_xml(r);
                assert!(
                    xml.contains(&format!("rightsURI=\"{EU_REPO_ACCESS}{uri}\"")),
                    "{xml}"
                );
            });
        }
    }
}
