use super::{Check, Rights, MAX_LIST_LEN, MAX_STRING_CHARS};
use crate::deposit::metadata::ids::excerpt;
use crate::deposit::metadata::vocab;

impl Check {
    pub(super) fn rights(&mut self, rights: &[Rights]) {
        if !self.list_len(
            "rightsList",
            "rights statements",
            rights.len(),
            MAX_LIST_LEN,
        ) {
            return;
        }
        let mut licenses: Vec<&'static str> = Vec::new();
        for (i, r) in rights.iter().enumerate() {
            if let Some(license) = self.rights_entry(i, r) {
                licenses.push(license);
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
                    format!(
                        "Choose a license for the data (one of: {})",
                        offered_licenses()
                    ),
                )
            }
            0 | 1 => {}
            _ => self.add(
                "rightsList",
                format!("Choose only one license; found {}", licenses.join(", ")),
            ),
        }
    }

    /// One rights entry; returns the SPDX id of the license it names, if any.
    fn rights_entry(&mut self, i: usize, r: &Rights) -> Option<&'static str> {
        let mut license = None;
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
        match r
            .rights_identifier
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(id) => match vocab::license(id) {
                Some(l) => {
                    license = Some(l.spdx_id);
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
                        offered_licenses()
                    ),
                ),
            },
            None => match by_url {
                Some(l) => license = Some(l.spdx_id),
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
        license
    }
}

/// The SPDX ids of the licenses this archive offers, for messages.
fn offered_licenses() -> String {
    vocab::LICENSES
        .iter()
        .map(|l| l.spdx_id)
        .collect::<Vec<_>>()
        .join(", ")
}
