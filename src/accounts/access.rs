//! Who may do what with a dataset: the one home of the access rule.
//!
//! Pages, the API, downloads, tickets and the federation routes all ask [`Access`]:
//! `Access::of(viewer, &facts)` relates a viewer (or nobody) to one dataset, and its
//! methods answer each question the code asks ("may see this draft", "may edit",
//! "may download this version", …), as a yes/no for showing a button, or as a
//! `check_…` that refuses with the status the archive answers. The rule today:
//!
//! - A published version is public; everything unpublished (drafts, the history, the
//!   QA tickets and reports, registration errors) is for the dataset's depositor and
//!   curators (admins are curators too). Anyone else is told "not found", so the ids
//!   of other people's drafts reveal nothing.
//! - Only the depositor changes a draft, submits it and opens a new version; curators
//!   review; admins deaccession. Someone who may see the draft but not change it is
//!   refused (403); someone who may not see it gets "not found" (404).
//! - A deaccessioned dataset's files are gone for everyone (410); its landing page is
//!   a tombstone except for curators.
//!
//! The facts are plain data (the deposit module fills them from its rows), so this
//! module depends on no domain. Team members, project curators, embargoes and
//! restricted files extend [`DatasetFacts`] and the relation computed in
//! [`Access::of`]; callers keep asking the same questions.

use super::{Role, User};
use crate::error::DomainError;

/// Where a dataset is in its life, as far as access is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// A draft, or sent back with changes requested: its depositor edits it.
    Editable,
    /// Submitted, or in review: curators decide.
    InReview,
    /// Approved; the publication job is running.
    Publishing,
    Published,
    /// Withdrawn by an admin: a tombstone stays, the files are no longer served.
    Deaccessioned,
}

/// What the access rule needs to know about a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetFacts {
    pub owner_id: i64,
    pub stage: Stage,
    /// Why it was deaccessioned (shown when its files are refused).
    pub deaccession_reason: Option<String>,
}

/// One viewer's standing towards one dataset, and the answers that follow from it.
#[derive(Clone, Debug)]
pub struct Access {
    owner: bool,
    curator: bool,
    admin: bool,
    stage: Stage,
    deaccession_reason: Option<String>,
}

impl Access {
    /// `viewer` is the signed-in person (session or API token), or None for anybody.
    /// A partner node pulling replicas is anybody here: every published file is open.
    pub fn of(viewer: Option<&User>, dataset: &DatasetFacts) -> Access {
        Access {
            owner: viewer.is_some_and(|u| u.id == dataset.owner_id),
            curator: may_curate(viewer),
            admin: is_admin(viewer),
            stage: dataset.stage,
            deaccession_reason: dataset.deaccession_reason.clone(),
        }
    }

    /// The dataset's unpublished versions and their files, its history, QA panel and
    /// DOI registration errors, and every one of its preservation events.
    pub fn may_see_drafts(&self) -> bool {
        self.owner || self.curator
    }

    /// A version: public once published, else as [`Access::may_see_drafts`].
    pub fn may_see_version(&self, published: bool) -> bool {
        published || self.may_see_drafts()
    }

    /// Refuses an unseen version as "not found".
    pub fn check_see_version(&self, published: bool) -> Result<(), DomainError> {
        if self.may_see_version(published) {
            Ok(())
        } else {
            Err(DomainError::NotFound)
        }
    }

    /// A deaccessioned dataset's page is its tombstone, except for curators (who see
    /// what was withdrawn).
    pub fn sees_tombstone(&self) -> bool {
        self.stage == Stage::Deaccessioned && !self.curator
    }

    /// QA tickets, their attachments and the validation report.
    pub fn may_see_tickets(&self) -> bool {
        self.may_see_drafts()
    }

    /// Refuses the tickets and reports of a dataset as "not found".
    pub fn check_see_tickets(&self) -> Result<(), DomainError> {
        if self.may_see_tickets() {
            Ok(())
        } else {
            Err(DomainError::NotFound)
        }
    }

    /// The publication job's progress, while it runs.
    pub fn may_see_publication_progress(&self) -> bool {
        self.may_see_drafts() && self.stage == Stage::Publishing
    }

    /// Partners' copies and the replication policy of the dataset.
    pub fn may_see_replication(&self) -> bool {
        self.curator
    }

    /// A file of a version, or the whole version as a zip or a bag.
    pub fn may_download(&self, version_published: bool) -> bool {
        self.may_see_version(version_published) && self.stage != Stage::Deaccessioned
    }

    /// Refuses a download: "not found" for an unseen version, "gone" once deaccessioned.
    pub fn check_download(&self, version_published: bool) -> Result<(), DomainError> {
        self.check_see_version(version_published)?;
        if self.stage == Stage::Deaccessioned {
            return Err(DomainError::Gone(format!(
                "this dataset was deaccessioned ({}); its files are no longer served",
                self.deaccession_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            )));
        }
        Ok(())
    }

    /// Change the metadata and files of the version shown (and reserve its DOI).
    pub fn may_edit(&self, version_published: bool) -> bool {
        self.owner && self.stage == Stage::Editable && !version_published
    }

    /// Hand the draft to the curators: whoever may edit it.
    pub fn may_submit(&self, version_published: bool) -> bool {
        self.may_edit(version_published)
    }

    /// Open the next version of a published dataset.
    pub fn may_open_version(&self) -> bool {
        self.owner && self.stage == Stage::Published
    }

    /// Claim, send back or accept a submission.
    pub fn may_review(&self) -> bool {
        self.curator && self.stage == Stage::InReview
    }

    /// Withdraw a published dataset.
    pub fn may_deaccession(&self) -> bool {
        self.admin && self.stage == Stage::Published
    }

    /// Refuses what only the depositor does (`action`, e.g. "change it"): "not found"
    /// for whoever may not see the draft, 403 for curators. Whether the dataset's
    /// stage allows it is the caller's to say (a 409 with the reason).
    pub fn check_depositor(&self, action: &str) -> Result<(), DomainError> {
        if !self.may_see_drafts() {
            return Err(DomainError::NotFound);
        }
        if !self.owner {
            return Err(DomainError::Forbidden(format!(
                "only the depositor of this dataset can {action}"
            )));
        }
        Ok(())
    }
}

/// Curators and admins review submissions, work the queues and see every draft.
pub fn may_curate(viewer: Option<&User>) -> bool {
    viewer.is_some_and(|u| u.role.can_curate())
}

/// Admins manage accounts and deaccession datasets.
pub fn is_admin(viewer: Option<&User>) -> bool {
    viewer.is_some_and(|u| u.role == Role::Admin)
}

/// Refuses a non-curator: "only curators and admins can `action`" (403).
pub fn require_curator(user: &User, action: &str) -> Result<(), DomainError> {
    if may_curate(Some(user)) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(format!(
            "only curators and admins can {action}"
        )))
    }
}

/// Four eyes: a curator does not review their own deposit while `others` (curators or
/// admins besides them) could, unless the archive turned the rule off.
pub fn check_reviewer_is_not_depositor(
    reviewer: &User,
    owner_id: i64,
    others: i64,
    four_eyes: bool,
) -> Result<(), DomainError> {
    if four_eyes && reviewer.id == owner_id && others > 0 {
        Err(DomainError::Forbidden(
            "you deposited this dataset, so another curator reviews it (four eyes); ask one of them to claim it"
                .into(),
        ))
    } else {
        Ok(())
    }
}

/// Refuses a non-admin: "only admins can `action`" (403).
pub fn require_admin(user: &User, action: &str) -> Result<(), DomainError> {
    if is_admin(Some(user)) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(format!("only admins can {action}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            email: format!("u{id}@example.org"),
            name: format!("User {id}"),
            role,
            created_at: chrono::NaiveDateTime::default(),
        }
    }

    fn facts(stage: Stage) -> DatasetFacts {
        DatasetFacts {
            owner_id: 1,
            stage,
            deaccession_reason: Some("withdrawn at the authors' request".into()),
        }
    }

    #[test]
    fn drafts_are_for_the_depositor_and_curators_only() {
        let draft = facts(Stage::Editable);
        let owner = user(1, Role::Depositor);
        let stranger = user(2, Role::Depositor);
        let curator = user(3, Role::Curator);
        let admin = user(4, Role::Admin);
        assert!(!Access::of(None, &draft).may_see_drafts());
        assert!(!Access::of(Some(&stranger), &draft).may_see_drafts());
        for insider in [&owner, &curator, &admin] {
            assert!(Access::of(Some(insider), &draft).may_see_drafts());
        }
        assert!(matches!(
            Access::of(Some(&stranger), &draft).check_see_version(false),
            Err(DomainError::NotFound)
        ));
        assert!(Access::of(None, &draft).check_see_version(true).is_ok());
    }

    #[test]
    fn only_the_depositor_changes_and_only_while_editable() {
        let owner = user(1, Role::Depositor);
        let curator = user(3, Role::Curator);
        let draft = facts(Stage::Editable);
        assert!(Access::of(Some(&owner), &draft).may_edit(false));
        assert!(!Access::of(Some(&owner), &draft).may_edit(true));
        assert!(!Access::of(Some(&owner), &facts(Stage::InReview)).may_submit(false));
        assert!(!Access::of(Some(&curator), &draft).may_edit(false));
        assert!(matches!(
            Access::of(Some(&curator), &draft).check_depositor("change it"),
            Err(DomainError::Forbidden(m)) if m == "only the depositor of this dataset can change it"
        ));
        assert!(matches!(
            Access::of(None, &draft).check_depositor("change it"),
            Err(DomainError::NotFound)
        ));
        assert!(Access::of(Some(&owner), &facts(Stage::Published)).may_open_version());
        assert!(!Access::of(Some(&owner), &draft).may_open_version());
    }

    #[test]
    fn curators_review_and_admins_deaccession() {
        let owner = user(1, Role::Depositor);
        let curator = user(3, Role::Curator);
        let admin = user(4, Role::Admin);
        let in_review = facts(Stage::InReview);
        assert!(Access::of(Some(&curator), &in_review).may_review());
        assert!(Access::of(Some(&admin), &in_review).may_review());
        assert!(!Access::of(Some(&owner), &in_review).may_review());
        assert!(!Access::of(Some(&curator), &facts(Stage::Editable)).may_review());
        let published = facts(Stage::Published);
        assert!(Access::of(Some(&admin), &published).may_deaccession());
        assert!(!Access::of(Some(&curator), &published).may_deaccession());
        assert!(require_curator(&owner, "review submissions").is_err());
        assert!(require_curator(&admin, "review submissions").is_ok());
        assert!(require_admin(&curator, "deaccession a dataset").is_err());
    }

    #[test]
    fn nobody_reviews_their_own_deposit_while_someone_else_can() {
        let curator = user(3, Role::Curator);
        assert!(check_reviewer_is_not_depositor(&curator, 3, 1, true).is_err());
        assert!(
            check_reviewer_is_not_depositor(&curator, 3, 0, true).is_ok(),
            "alone"
        );
        assert!(
            check_reviewer_is_not_depositor(&curator, 3, 1, false).is_ok(),
            "turned off"
        );
        assert!(
            check_reviewer_is_not_depositor(&curator, 1, 1, true).is_ok(),
            "another's"
        );
    }

    #[test]
    fn a_deaccessioned_dataset_serves_no_file_to_anyone() {
        let gone = facts(Stage::Deaccessioned);
        for viewer in [
            None,
            Some(user(1, Role::Depositor)),
            Some(user(3, Role::Curator)),
        ] {
            let access = Access::of(viewer.as_ref(), &gone);
            assert!(!access.may_download(true));
            assert!(matches!(
                access.check_download(true),
                Err(DomainError::Gone(m)) if m.contains("at the authors' request")
            ));
        }
        assert!(Access::of(None, &gone).sees_tombstone());
        assert!(!Access::of(Some(&user(3, Role::Curator)), &gone).sees_tombstone());
        assert!(Access::of(None, &facts(Stage::Published)).may_download(true));
    }
}
