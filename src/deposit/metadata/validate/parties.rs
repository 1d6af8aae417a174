use super::{
    Affiliation, Check, Creator, FundingReference, NameIdentifier, MAX_LIST_LEN,
    MAX_NESTED_LIST_LEN, MAX_STRING_CHARS, MAX_TITLE_CHARS,
};
use crate::deposit::metadata::ids::{excerpt, Orcid, RorId};
use crate::deposit::metadata::vocab;

impl Check {
    pub(super) fn creators(&mut self, creators: &[Creator]) {
        if creators.is_empty() {
            self.add("creators", "Add at least one creator (author)");
            return;
        }
        if !self.list_len("creators", "creators", creators.len(), MAX_LIST_LEN) {
            return;
        }
        for (i, c) in creators.iter().enumerate() {
            let p = format!("creators[{i}]");
            let name_ok = self.required(
                &format!("{p}.name"),
                "The creator name",
                &c.name,
                MAX_STRING_CHARS,
                "Enter the creator's name",
            );
            self.optional(
                &format!("{p}.givenName"),
                "The given name",
                &c.given_name,
                MAX_STRING_CHARS,
            );
            self.optional(
                &format!("{p}.familyName"),
                "The family name",
                &c.family_name,
                MAX_STRING_CHARS,
            );
            let name_type = c.name_type.as_deref().map(str::trim).unwrap_or("");
            if !name_type.is_empty() {
                self.in_vocab(
                    &format!("{p}.nameType"),
                    "name type",
                    name_type,
                    vocab::NAME_TYPE,
                );
            }
            if name_ok && name_type == "Personal" {
                self.personal_name(&p, c);
            }
            let ids_path = format!("{p}.nameIdentifiers");
            if self.list_len(
                &ids_path,
                "name identifiers",
                c.name_identifiers.len(),
                MAX_NESTED_LIST_LEN,
            ) {
                for (j, id) in c.name_identifiers.iter().enumerate() {
                    self.name_identifier(&format!("{ids_path}[{j}]"), id);
                }
            }
            let aff_path = format!("{p}.affiliation");
            if self.list_len(
                &aff_path,
                "affiliations",
                c.affiliation.len(),
                MAX_NESTED_LIST_LEN,
            ) {
                for (j, a) in c.affiliation.iter().enumerate() {
                    self.affiliation(&format!("{aff_path}[{j}]"), a);
                }
            }
        }
    }

    /// A person's name is "Family, Given" or comes with a family name.
    fn personal_name(&mut self, p: &str, c: &Creator) {
        let comma_form = c
            .name
            .split_once(',')
            .is_some_and(|(f, g)| !f.trim().is_empty() && !g.trim().is_empty());
        let has_family = c
            .family_name
            .as_deref()
            .is_some_and(|f| !f.trim().is_empty());
        if !comma_form && !has_family {
            self.add(
                format!("{p}.name"),
                format!(
                    "Write a person's name as \"Family, Given\" (e.g. \"Carberry, Josiah\"), \
                     or fill in the given and family names; got \"{}\"",
                    excerpt(&c.name)
                ),
            );
        }
    }

    fn name_identifier(&mut self, p: &str, id: &NameIdentifier) {
        let vpath = format!("{p}.nameIdentifier");
        let scheme = id.name_identifier_scheme.trim();
        if !self.required(
            &vpath,
            "The identifier",
            &id.name_identifier,
            MAX_STRING_CHARS,
            "Enter the identifier",
        ) {
            return;
        }
        if scheme.is_empty() {
            self.add(
                format!("{p}.nameIdentifierScheme"),
                "Say which kind of identifier this is (e.g. ORCID, ROR, ISNI)",
            );
        } else if scheme.eq_ignore_ascii_case(Orcid::SCHEME) {
            if let Err(e) = Orcid::parse(&id.name_identifier) {
                self.add(vpath, e.to_string());
            }
        } else if scheme.eq_ignore_ascii_case(RorId::SCHEME) {
            if let Err(e) = RorId::parse(&id.name_identifier) {
                self.add(vpath, e.to_string());
            }
        } else {
            self.length(
                &format!("{p}.nameIdentifierScheme"),
                "The identifier scheme",
                scheme,
                100,
            );
        }
        self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &id.scheme_uri);
    }

    fn affiliation(&mut self, p: &str, a: &Affiliation) {
        let has_id = a
            .affiliation_identifier
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty());
        let missing = if has_id {
            "Enter the name of the organisation as well as its identifier"
        } else {
            "Enter the affiliation's name"
        };
        self.required(
            &format!("{p}.name"),
            "The affiliation",
            &a.name,
            MAX_STRING_CHARS,
            missing,
        );
        if let Some(id) = a
            .affiliation_identifier
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            let ipath = format!("{p}.affiliationIdentifier");
            let scheme = a
                .affiliation_identifier_scheme
                .as_deref()
                .map(str::trim)
                .unwrap_or("");
            if scheme.eq_ignore_ascii_case(RorId::SCHEME) {
                if let Err(e) = RorId::parse(id) {
                    self.add(ipath, e.to_string());
                }
            } else if scheme.is_empty() {
                match RorId::parse(id) {
                    Ok(_) => {} // normalize() sets the scheme to ROR.
                    Err(_) => self.add(
                        format!("{p}.affiliationIdentifierScheme"),
                        "Say which kind of identifier the affiliation identifier is (e.g. ROR)",
                    ),
                }
            } else if self.length(&ipath, "The affiliation identifier", id, MAX_STRING_CHARS) {
                self.length(
                    &format!("{p}.affiliationIdentifierScheme"),
                    "The scheme",
                    scheme,
                    100,
                );
            }
        }
        self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &a.scheme_uri);
    }

    pub(super) fn funding(&mut self, refs: &[FundingReference]) {
        if !self.list_len(
            "fundingReferences",
            "funding references",
            refs.len(),
            MAX_LIST_LEN,
        ) {
            return;
        }
        for (i, f) in refs.iter().enumerate() {
            let p = format!("fundingReferences[{i}]");
            self.required(
                &format!("{p}.funderName"),
                "The funder name",
                &f.funder_name,
                MAX_STRING_CHARS,
                "Enter the funder's name",
            );
            if let Some(id) = f
                .funder_identifier
                .as_deref()
                .filter(|s| !s.trim().is_empty())
            {
                let tpath = format!("{p}.funderIdentifierType");
                let ipath = format!("{p}.funderIdentifier");
                let ty = f
                    .funder_identifier_type
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or("");
                if ty.is_empty() {
                    self.add(
                        tpath,
                        format!(
                            "Say which kind of identifier the funder identifier is ({})",
                            vocab::FUNDER_IDENTIFIER_TYPE.join(", ")
                        ),
                    );
                } else if self.in_vocab(
                    &tpath,
                    "funder identifier type",
                    ty,
                    vocab::FUNDER_IDENTIFIER_TYPE,
                ) && ty == "ROR"
                {
                    if let Err(e) = RorId::parse(id) {
                        self.add(ipath.clone(), e.to_string());
                    }
                }
                self.length(&ipath, "The funder identifier", id, 1_000);
            }
            self.optional_url(&format!("{p}.schemeUri"), "The scheme URI", &f.scheme_uri);
            self.optional(
                &format!("{p}.awardNumber"),
                "The award number",
                &f.award_number,
                1_000,
            );
            self.optional_url(&format!("{p}.awardUri"), "The award URL", &f.award_uri);
            self.optional(
                &format!("{p}.awardTitle"),
                "The award title",
                &f.award_title,
                MAX_TITLE_CHARS,
            );
        }
    }
}
