//! One page of a dataset's files as the landing page shows them: the folder being
//! browsed, its subfolders (with file counts and sizes), and its files, filtered by a
//! text and paged, so datasets of many thousands of files stay readable.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::model::FileRow;
use super::service::escape_like;
use crate::db::{AnyConnection, MultiBackend};
use crate::error::DomainError;

/// Files shown per page.
pub const PAGE_SIZE: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subfolder {
    /// Its full path, e.g. `data/2020`.
    pub path: String,
    /// Its last segment, e.g. `2020`.
    pub name: String,
    pub files: usize,
    pub bytes: i64,
}

#[derive(Clone, Debug)]
pub struct Listing {
    /// The folder browsed ("" for the top), normalised without slashes at the ends.
    pub folder: String,
    /// (label, folder path) from the top down to the current folder.
    pub breadcrumbs: Vec<(String, String)>,
    pub subfolders: Vec<Subfolder>,
    pub files: Vec<FileRow>,
    /// Files directly in this folder matching the filter, over all pages.
    pub matching: usize,
    /// 1-based.
    pub page: usize,
    pub pages: usize,
    pub filter: String,
}

/// Loads the listing of `folder` from the database, one page of rows at a time: the
/// folder's own files are paged in SQL, and the folders below it are summed from the
/// version's folder totals (one row per folder, not per file), so a page costs about the same in a
/// dataset of a hundred files or of a hundred thousand. With a filter, files anywhere
/// below the folder whose path contains the text (case-insensitive) are listed, and
/// subfolders are not. A dataset that fits on one page is listed flat, every file with
/// its full path.
pub fn load(
    conn: &mut AnyConnection,
    version_id: i64,
    folder: &str,
    filter: &str,
    page: usize,
) -> Result<Listing, DomainError> {
    use crate::db::schema::version_files as vf;
    let folder = folder.trim_matches('/').to_string();
    let filter = filter.trim().to_string();
    let needle = filter.to_lowercase();
    let total: i64 = vf::table
        .filter(vf::version_id.eq(version_id))
        .count()
        .get_result(conn)?;
    let flat = folder.is_empty() && total <= PAGE_SIZE as i64;
    let below_pattern = format!("{}/%", escape_like(&folder));
    let text_pattern = format!("%{}%", escape_like(&needle));
    // The files listed: this folder's own, or (flat or filtered) every file below it.
    let selected = || {
        let mut q = vf::table
            .filter(vf::version_id.eq(version_id))
            .into_boxed::<MultiBackend>();
        if flat || !needle.is_empty() {
            if !folder.is_empty() {
                q = q.filter(vf::path.like(below_pattern.clone()).escape('\\'));
            }
            if !needle.is_empty() {
                q = q.filter(vf::case_key.like(text_pattern.clone()).escape('\\'));
            }
        } else {
            q = q.filter(vf::folder.eq(folder.clone()));
        }
        q
    };
    let matching: i64 = selected().count().get_result(conn)?;
    let matching = usize::try_from(matching).map_err(DomainError::internal)?;
    let pages = matching.div_ceil(PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let files: Vec<FileRow> = selected()
        .order(vf::path.asc())
        .offset(((page - 1) * PAGE_SIZE) as i64)
        .limit(PAGE_SIZE as i64)
        .select(FileRow::as_select())
        .load(conn)?;
    let subfolders = if flat || !needle.is_empty() {
        Vec::new()
    } else {
        use crate::db::schema::version_folders as folders;
        let mine = folders::table
            .filter(folders::version_id.eq(version_id))
            .select((folders::folder, folders::files, folders::bytes));
        let rows: Vec<(String, i64, i64)> = if folder.is_empty() {
            mine.filter(folders::folder.ne("")).load(conn)?
        } else {
            mine.filter(folders::folder.like(below_pattern.clone()).escape('\\'))
                .load(conn)?
        };
        summarise_subfolders(&folder, rows)
    };
    Ok(Listing {
        breadcrumbs: breadcrumbs(&folder),
        folder,
        subfolders,
        files,
        matching,
        page,
        pages,
        filter,
    })
}

/// Rolls per-folder totals (folder path, files, bytes) up into the direct subfolders of
/// `folder`, each counting every file below it.
fn summarise_subfolders(folder: &str, rows: Vec<(String, i64, i64)>) -> Vec<Subfolder> {
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let mut subfolders: BTreeMap<String, Subfolder> = BTreeMap::new();
    for (path, files, bytes) in rows {
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let name = rest.split('/').next().unwrap_or(rest);
        if name.is_empty() {
            continue;
        }
        let entry = subfolders
            .entry(name.to_string())
            .or_insert_with(|| Subfolder {
                path: format!("{prefix}{name}"),
                name: name.to_string(),
                files: 0,
                bytes: 0,
            });
        entry.files += usize::try_from(files).unwrap_or(0);
        entry.bytes += bytes;
    }
    subfolders.into_values().collect()
}

/// (label, folder path) from the top down to `folder`.
fn breadcrumbs(folder: &str) -> Vec<(String, String)> {
    let mut crumbs = vec![("all files".to_string(), String::new())];
    let mut path = String::new();
    for segment in folder.split('/').filter(|s| !s.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(segment);
        crumbs.push((segment.to_string(), path.clone()));
    }
    crumbs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_below_are_summed_into_direct_subfolders() {
        let rows = vec![
            ("data/2020".to_string(), 2, 30),
            ("data/2020/raw".to_string(), 3, 3),
            ("data/2021".to_string(), 1, 1),
            ("many".to_string(), 250, 250),
        ];
        let top = summarise_subfolders("", rows.clone());
        assert_eq!(
            top.iter()
                .map(|s| (s.path.as_str(), s.name.as_str(), s.files, s.bytes))
                .collect::<Vec<_>>(),
            [("data", "data", 6, 34), ("many", "many", 250, 250)]
        );
        let data = summarise_subfolders("data", rows);
        assert_eq!(
            data.iter()
                .map(|s| (s.path.as_str(), s.files, s.bytes))
                .collect::<Vec<_>>(),
            [("data/2020", 5, 33), ("data/2021", 1, 1)]
        );
    }

    #[test]
    fn breadcrumbs_lead_from_the_top() {
        assert_eq!(
            breadcrumbs("data/2020"),
            [
                ("all files".to_string(), String::new()),
                ("data".to_string(), "data".to_string()),
                ("2020".to_string(), "data/2020".to_string())
            ]
        );
    }
}
