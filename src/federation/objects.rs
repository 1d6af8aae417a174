//! The OCFL object files of published datasets, for replicas (origin side):
//! `/federation/objects/{dataset_id}/{path}` serves `0=ocfl_object_1.1`, the root
//! `inventory.json` and its sidecar, and each published version's `vN/inventory.json`,
//! sidecar and `vN/content/…` files, exactly as stored, so a replica that copies them
//! holds an object byte-identical to this archive's (same inventory digests).
//!
//! Objects are named by dataset id rather than by OCFL id (a DOI, with `/` and `:`), so
//! URLs stay plain; the inventory gives the OCFL id. Only files of published versions
//! are served, with the same access rules as the dataset's own downloads; a
//! deaccessioned dataset's object is gone (410), and a file a fixity audit found damaged
//! is withheld (503) until it is repaired.

use diesel::prelude::*;

use super::Audience;
use crate::accounts::Access;
use crate::db::schema::{dataset_versions, datasets};
use crate::db::AnyConnection;
use crate::deposit::model::DatasetRow;
use crate::error::DomainError;
use crate::storage::ocfl::parse_version_dir;

/// The path of object files under the base URL.
pub const OBJECTS_PATH: &str = "/federation/objects";

/// The URL of one file of a dataset's object (each path segment percent-encoded).
pub fn file_url(base_url: &str, dataset_id: i64, path: &str) -> String {
    format!(
        "{}{OBJECTS_PATH}/{dataset_id}/{}",
        base_url.trim_end_matches('/'),
        super::resourcesync::encode_path(path)
    )
}

/// What a path inside an object is, if it is one the object may serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectPath {
    Declaration,
    RootInventory,
    RootSidecar,
    VersionInventory(u32),
    VersionSidecar(u32),
    Content(u32),
}

impl ObjectPath {
    /// Reads a path relative to the object root; None for anything an OCFL object of
    /// ours does not hold (logs, extensions, dot segments, other names).
    pub fn parse(path: &str) -> Option<ObjectPath> {
        if crate::storage::blob::validate_key(path).is_err() {
            return None;
        }
        match path {
            "0=ocfl_object_1.1" => return Some(ObjectPath::Declaration),
            "inventory.json" => return Some(ObjectPath::RootInventory),
            "inventory.json.sha256" => return Some(ObjectPath::RootSidecar),
            _ => {}
        }
        let (dir, rest) = path.split_once('/')?;
        let n = parse_version_dir(dir)?;
        match rest {
            "inventory.json" => Some(ObjectPath::VersionInventory(n)),
            "inventory.json.sha256" => Some(ObjectPath::VersionSidecar(n)),
            _ => {
                let file = rest.strip_prefix("content/")?;
                (!file.is_empty()).then_some(ObjectPath::Content(n))
            }
        }
    }

    /// The version the file belongs to (None for the object-level files).
    pub fn version(self) -> Option<u32> {
        match self {
            ObjectPath::VersionInventory(n)
            | ObjectPath::VersionSidecar(n)
            | ObjectPath::Content(n) => Some(n),
            _ => None,
        }
    }
}

/// A file an audience may fetch: the OCFL object it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub object_id: String,
    pub path: String,
}

/// Checks that `audience` may read `path` of dataset `dataset_id`'s object and says which
/// object it is in. NotFound for unknown datasets, drafts never published, paths that
/// are not object files and versions not published; Gone once deaccessioned.
pub fn locate(
    conn: &mut AnyConnection,
    _audience: Audience,
    dataset_id: i64,
    path: &str,
) -> Result<Located, DomainError> {
    let kind = ObjectPath::parse(path).ok_or(DomainError::NotFound)?;
    let dataset: DatasetRow = datasets::table
        .find(dataset_id)
        .select(DatasetRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound)?;
    let object_id = dataset
        .ocfl_object_id
        .clone()
        .ok_or(DomainError::NotFound)?;
    let newest_published: Option<i32> = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .filter(dataset_versions::published_at.is_not_null())
        .select(diesel::dsl::max(dataset_versions::ocfl_version))
        .first(conn)?;
    let newest = newest_published
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(DomainError::NotFound)?;
    // The object's files are the published versions' downloads, under the one access
    // rule; a partner is anybody there (see `Audience`): every published file is open.
    Access::of(None, &dataset.access_facts()?).check_download(true)?;
    if kind.version().is_some_and(|n| n > newest) {
        return Err(DomainError::NotFound);
    }
    let damaged = crate::fixity::files::damaged_among(conn, &object_id, &[path])?;
    if let Some(d) = damaged.first() {
        return Err(DomainError::Unavailable(format!(
            "the stored copy of {path} failed its fixity audit on {} ({}): it is not served until it is repaired",
            crate::fixity::record::iso(d.last_checked_at),
            d.last_outcome
        )));
    }
    Ok(Located {
        object_id,
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls_encode_each_segment() {
        assert_eq!(
            file_url("http://o.test/", 7, "v1/content/a b/c#d?.csv"),
            "http://o.test/federation/objects/7/v1/content/a%20b/c%23d%3F.csv"
        );
    }

    #[test]
    fn only_object_files_are_paths() {
        assert_eq!(
            ObjectPath::parse("0=ocfl_object_1.1"),
            Some(ObjectPath::Declaration)
        );
        assert_eq!(
            ObjectPath::parse("inventory.json"),
            Some(ObjectPath::RootInventory)
        );
        assert_eq!(
            ObjectPath::parse("inventory.json.sha256"),
            Some(ObjectPath::RootSidecar)
        );
        assert_eq!(
            ObjectPath::parse("v2/inventory.json"),
            Some(ObjectPath::VersionInventory(2))
        );
        assert_eq!(
            ObjectPath::parse("v12/inventory.json.sha256"),
            Some(ObjectPath::VersionSidecar(12))
        );
        assert_eq!(
            ObjectPath::parse("v1/content/data/a b.csv"),
            Some(ObjectPath::Content(1))
        );
        for bad in [
            "",
            "logs/x",
            "extensions/e/config.json",
            "v1/content/",
            "v1/content/../../x",
            "v1/other.txt",
            "v0/content/a",
            "vx/content/a",
            "../inventory.json",
            "/inventory.json",
            "v1//content/a",
        ] {
            assert_eq!(ObjectPath::parse(bad), None, "{bad}");
        }
    }
}
