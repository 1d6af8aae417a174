//! One page of a dataset's files as the landing page shows them: the folder being
//! browsed, its subfolders (with file counts and sizes), and its files, filtered by a
//! text and paged, so datasets of many thousands of files stay readable.

use std::collections::BTreeMap;

use super::model::FileRow;

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

/// Builds the listing of `folder`. With a filter, files anywhere below the folder whose
/// path contains the text (case-insensitive) are listed, and subfolders are not. A
/// dataset that fits on one page is listed flat, every file with its full path.
pub fn list(files: &[FileRow], folder: &str, filter: &str, page: usize) -> Listing {
    let folder = folder.trim_matches('/').to_string();
    let flat = folder.is_empty() && files.len() <= PAGE_SIZE;
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let filter = filter.trim().to_string();
    let needle = filter.to_lowercase();
    let mut subfolders: BTreeMap<String, Subfolder> = BTreeMap::new();
    let mut direct: Vec<&FileRow> = Vec::new();
    for f in files {
        let Some(rest) = f.path.strip_prefix(&prefix) else {
            continue;
        };
        if flat || !needle.is_empty() {
            if f.path.to_lowercase().contains(&needle) {
                direct.push(f);
            }
            continue;
        }
        match rest.split_once('/') {
            Some((name, _)) => {
                let entry = subfolders
                    .entry(name.to_string())
                    .or_insert_with(|| Subfolder {
                        path: format!("{prefix}{name}"),
                        name: name.to_string(),
                        files: 0,
                        bytes: 0,
                    });
                entry.files += 1;
                entry.bytes += f.size;
            }
            None => direct.push(f),
        }
    }
    let matching = direct.len();
    let pages = matching.div_ceil(PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let files = direct
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .cloned()
        .collect();
    let mut breadcrumbs = vec![("all files".to_string(), String::new())];
    let mut path = String::new();
    for segment in folder.split('/').filter(|s| !s.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(segment);
        breadcrumbs.push((segment.to_string(), path.clone()));
    }
    Listing {
        folder,
        breadcrumbs,
        subfolders: subfolders.into_values().collect(),
        files,
        matching,
        page,
        pages,
        filter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: i64) -> FileRow {
        FileRow {
            id: 0,
            version_id: 0,
            path: path.into(),
            case_key: path.to_lowercase(),
            size,
            sha256: String::new(),
            media_type: "text/csv".into(),
            staged_name: None,
            content_path: None,
            created_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn folders_are_summarised_and_files_paged() {
        let mut files = vec![
            file("README.md", 5),
            file("data/2020/a.csv", 10),
            file("data/2020/b.csv", 20),
            file("data/2021/c.csv", 1),
        ];
        for i in 0..250 {
            files.push(file(&format!("many/f{i:03}.csv"), 1));
        }
        let small = list(&files[..4], "", "", 1);
        assert_eq!(small.files.len(), 4, "one page: flat");
        assert!(small.subfolders.is_empty());
        let top = list(&files, "", "", 1);
        assert_eq!(top.files.len(), 1);
        assert_eq!(
            top.subfolders
                .iter()
                .map(|s| (s.name.as_str(), s.files, s.bytes))
                .collect::<Vec<_>>(),
            [("data", 3, 31), ("many", 250, 250)]
        );
        let data = list(&files, "/data/", "", 1);
        assert_eq!(data.folder, "data");
        assert_eq!(data.subfolders.len(), 2);
        assert_eq!(data.breadcrumbs.last().map(|b| b.1.as_str()), Some("data"));
        let many = list(&files, "many", "", 3);
        assert_eq!(
            (many.page, many.pages, many.files.len(), many.matching),
            (3, 3, 50, 250)
        );
        assert_eq!(many.files[0].path, "many/f200.csv");
        let past_end = list(&files, "many", "", 99);
        assert_eq!(past_end.page, 3);
    }

    #[test]
    fn a_filter_searches_below_the_folder() {
        let files = vec![
            file("data/2020/A.csv", 1),
            file("data/2021/b.csv", 1),
            file("other/a.csv", 1),
        ];
        let found = list(&files, "data", "a.CSV", 1);
        assert!(found.subfolders.is_empty());
        assert_eq!(
            found
                .files
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>(),
            ["data/2020/A.csv"]
        );
        assert!(list(&files, "nowhere", "", 1).files.is_empty());
    }
}
