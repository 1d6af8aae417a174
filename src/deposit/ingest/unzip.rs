//! Safe unpacking of an uploaded zip into staged files.
//!
//! Two passes: first the central directory is checked as a whole (paths,
//! entry types, duplicates, declared sizes and compression ratios) without
//! decompressing anything; then each file is streamed into the staging folder
//! while the real decompressed byte count is checked against the declared size,
//! so a zip whose headers lie cannot expand past the limits. All or nothing:
//! on any error every file staged so far is removed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use zip::read::ZipFile;
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::path::{DatasetPath, PathError};
use super::staging::{StagedFile, Staging};

const GIB: u64 = 1 << 30;
const READ_CHUNK: usize = 64 * 1024;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;

/// Limits on what a zip may expand to. Checked against the central directory
/// before extraction and again against the actual bytes during extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Sum of the uncompressed sizes of all files.
    pub max_total_uncompressed: u64,
    /// Entries in the central directory (files, folders, junk all count).
    pub max_entries: u64,
    /// Largest allowed uncompressed:compressed ratio, per entry and overall.
    pub max_ratio: u64,
    /// Largest uncompressed size of one file.
    pub max_entry_size: u64,
    /// The ratio limit applies only to entries (and archives) at least this
    /// large uncompressed; tiny files of repeated bytes legitimately compress
    /// far better than 1:200 and are harmless.
    pub ratio_min_size: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_total_uncompressed: 50 * GIB,
            max_entries: 100_000,
            max_ratio: 200,
            max_entry_size: 50 * GIB,
            ratio_min_size: 1 << 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedEntry {
    pub path: DatasetPath,
    pub staged: StagedFile,
}

/// Why a zip was refused. Every message but `Io` is meant for the depositor.
#[derive(Debug, thiserror::Error)]
pub enum UnzipError {
    #[error("the upload is not a readable zip file: {0}")]
    NotAZip(String),
    #[error("zip entry '{name}' is not a safe path: {source}")]
    UnsafePath {
        name: String,
        #[source]
        source: PathError,
    },
    #[error(
        "zip entry '{name}' is not a safe path: {source} (after adding the folder '{prefix}')"
    )]
    PrefixedPathInvalid {
        name: String,
        prefix: String,
        #[source]
        source: PathError,
    },
    #[error("zip entry '{name}' is a symbolic link; links are not accepted, please put the file itself in the zip")]
    Symlink { name: String },
    #[error("zip entry '{name}' is not a regular file (it is a device, pipe or socket)")]
    SpecialFile { name: String },
    #[error("zip entry '{name}' is encrypted; please upload a zip without a password")]
    Encrypted { name: String },
    #[error("zip entry '{name}' uses the compression method {method}, which is not supported; please use 'deflate' or no compression")]
    UnsupportedCompression { name: String, method: String },
    #[error("zip entry '{name}' appears more than once")]
    Duplicate { name: String },
    #[error("zip entries '{first}' and '{second}' differ only in upper/lower case; they would overwrite each other on many computers")]
    CaseDuplicate { first: String, second: String },
    #[error("'{name}' is both a file and a folder in the zip")]
    FileFolderConflict { name: String },
    #[error("the zip has {count} entries, more than the limit of {limit}")]
    TooManyEntries { count: u64, limit: u64 },
    #[error("the zip would expand to more than {} (limit)", format_bytes(*.limit))]
    TotalTooLarge { limit: u64 },
    #[error("zip entry '{name}' would expand to {}, more than the limit of {} per file", format_bytes(*.size), format_bytes(*.limit))]
    EntryTooLarge { name: String, size: u64, limit: u64 },
    #[error(
        "entry '{name}' compresses 1:{ratio}, above the 1:{limit} ratio limit; is this a zip bomb?"
    )]
    EntryRatio {
        name: String,
        ratio: u64,
        limit: u64,
    },
    #[error("the zip as a whole compresses 1:{ratio}, above the 1:{limit} ratio limit; is this a zip bomb?")]
    OverallRatio { ratio: u64, limit: u64 },
    #[error("zip entry '{name}' holds more data than its header declares ({declared} bytes); the zip is damaged or was crafted to get past size checks")]
    MoreDataThanDeclared { name: String, declared: u64 },
    #[error("zip entry '{name}' holds {actual} bytes but its header declares {declared}; the zip is damaged")]
    LessDataThanDeclared {
        name: String,
        declared: u64,
        actual: u64,
    },
    #[error("zip entry '{name}' could not be decompressed: {reason}; the zip is damaged")]
    Corrupt { name: String, reason: String },
    #[error(
        "the zip contains no files (only folders or system files such as __MACOSX or .DS_Store)"
    )]
    NoFiles,
    #[error("could not store the unpacked files: {0}")]
    Io(#[source] io::Error),
}

impl UnzipError {
    /// `false` only for server-side storage failures; everything else is a
    /// problem with the uploaded zip (answer 4xx, not 5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, UnzipError::Io(_))
    }
}

/// `1 GiB`, `1.5 MiB`, `512 bytes`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if (value - value.round()).abs() < 0.05 {
        format!("{} {unit}", value.round() as u64)
    } else {
        format!("{value:.1} {unit}")
    }
}

/// One file to extract, as planned from the central directory.
struct Planned {
    index: usize,
    name: String,
    path: DatasetPath,
    declared_size: u64,
}

/// Removes staged files on drop unless disarmed (all-or-nothing, also on panic).
struct Rollback(Vec<UnpackedEntry>);

impl Rollback {
    fn into_entries(mut self) -> Vec<UnpackedEntry> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        for entry in self.0.drain(..) {
            let _ = entry.staged.remove();
        }
    }
}

/// Unpacks every file of the zip at `zip_path` into `staging`, each under
/// `prefix/` if given. Blocking; run it in `spawn_blocking`.
pub fn unpack_zip(
    zip_path: &Path,
    staging: &Staging,
    prefix: Option<&DatasetPath>,
    limits: &UnpackLimits,
) -> Result<Vec<UnpackedEntry>, UnzipError> {
    let file = File::open(zip_path).map_err(UnzipError::Io)?;
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(not_a_zip)?;

    let plan = plan(&mut archive, prefix, limits)?;

    let mut done = Rollback(Vec::with_capacity(plan.len()));
    for item in plan {
        let staged = extract_one(&mut archive, &item, staging, limits)?;
        done.0.push(UnpackedEntry {
            path: item.path,
            staged,
        });
        crate::crashpoint::hit("unpack.after-entry");
    }
    // Entries are staged without an fsync each; one flush makes them all durable
    // before any is handed on.
    staging.sync_batch().map_err(UnzipError::Io)?;
    Ok(done.into_entries())
}

fn not_a_zip(e: ZipError) -> UnzipError {
    match e {
        ZipError::Io(io) => UnzipError::NotAZip(io.to_string()),
        other => UnzipError::NotAZip(other.to_string()),
    }
}

/// macOS metadata: anything under `__MACOSX/`, and `.DS_Store` files.
fn is_junk(name: &str) -> bool {
    let segments: Vec<&str> = name.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
    segments.first() == Some(&"__MACOSX") || segments.last() == Some(&".DS_Store")
}

/// First pass: central directory only, nothing is decompressed.
fn plan<R: Read + io::Seek>(
    archive: &mut ZipArchive<R>,
    prefix: Option<&DatasetPath>,
    limits: &UnpackLimits,
) -> Result<Vec<Planned>, UnzipError> {
    let count = archive.len() as u64;
    if count > limits.max_entries {
        return Err(UnzipError::TooManyEntries {
            count,
            limit: limits.max_entries,
        });
    }

    let mut plan = Vec::new();
    // case_key -> (entry name, normalised path) of the file that claimed it
    let mut files: HashMap<String, (String, String)> = HashMap::new();
    let mut folders: HashMap<String, String> = HashMap::new();
    let mut total: u64 = 0;
    let mut total_compressed: u64 = 0;

    for index in 0..archive.len() {
        let entry: ZipFile<'_, R> = archive.by_index_raw(index).map_err(not_a_zip)?;
        let name = entry.name().to_string();

        if is_junk(&name) {
            continue;
        }
        let file_type = entry.unix_mode().map(|m| m & S_IFMT).unwrap_or(0);
        if file_type == S_IFLNK {
            return Err(UnzipError::Symlink { name });
        }
        let is_dir = entry.is_dir() || (file_type == S_IFDIR && entry.size() == 0);
        if !is_dir && file_type != 0 && file_type != S_IFREG {
            return Err(UnzipError::SpecialFile { name });
        }
        if entry.encrypted() {
            return Err(UnzipError::Encrypted { name });
        }

        // Folders are validated (a crafted "../" folder is refused too) but not
        // extracted: the folder structure is kept through the file paths.
        let to_parse = if is_dir {
            name.trim_end_matches(['/', '\\'])
        } else {
            name.as_str()
        };
        let parsed = DatasetPath::parse(to_parse).map_err(|source| UnzipError::UnsafePath {
            name: name.clone(),
            source,
        })?;
        let path = match prefix {
            Some(p) => p
                .join(&parsed)
                .map_err(|source| UnzipError::PrefixedPathInvalid {
                    name: name.clone(),
                    prefix: p.to_string(),
                    source,
                })?,
            None => parsed,
        };
        if is_dir {
            continue;
        }

        match entry.compression() {
            CompressionMethod::Stored | CompressionMethod::Deflated => {}
            other => {
                return Err(UnzipError::UnsupportedCompression {
                    name,
                    method: format!("{other:?}"),
                })
            }
        }

        let key = path.case_key();
        if let Some((first_name, first_path)) = files.get(&key) {
            // Exact duplicates include spellings that normalise to the same
            // path (`a\b` and `a/b`, NFD and NFC).
            if first_path == path.as_str() {
                return Err(UnzipError::Duplicate { name });
            }
            return Err(UnzipError::CaseDuplicate {
                first: first_name.clone(),
                second: name,
            });
        }
        if folders.contains_key(&key) {
            return Err(UnzipError::FileFolderConflict {
                name: path.to_string(),
            });
        }
        for folder in path.ancestors() {
            let folder_key = folder.to_lowercase();
            if files.contains_key(&folder_key) {
                return Err(UnzipError::FileFolderConflict {
                    name: folder.to_string(),
                });
            }
            folders
                .entry(folder_key)
                .or_insert_with(|| folder.to_string());
        }
        files.insert(key, (name.clone(), path.to_string()));

        let size = entry.size();
        let compressed = entry.compressed_size();
        if size > limits.max_entry_size {
            return Err(UnzipError::EntryTooLarge {
                name,
                size,
                limit: limits.max_entry_size,
            });
        }
        total = total.saturating_add(size);
        total_compressed = total_compressed.saturating_add(compressed);
        if total > limits.max_total_uncompressed {
            return Err(UnzipError::TotalTooLarge {
                limit: limits.max_total_uncompressed,
            });
        }
        if exceeds_ratio(size, compressed, limits) {
            return Err(UnzipError::EntryRatio {
                name,
                ratio: size / compressed.max(1),
                limit: limits.max_ratio,
            });
        }

        plan.push(Planned {
            index,
            name,
            path,
            declared_size: size,
        });
    }

    if exceeds_ratio(total, total_compressed, limits) {
        return Err(UnzipError::OverallRatio {
            ratio: total / total_compressed.max(1),
            limit: limits.max_ratio,
        });
    }
    if plan.is_empty() {
        return Err(UnzipError::NoFiles);
    }
    Ok(plan)
}

fn exceeds_ratio(size: u64, compressed: u64, limits: &UnpackLimits) -> bool {
    size >= limits.ratio_min_size.max(1) && size > compressed.saturating_mul(limits.max_ratio)
}

/// Second pass for one file: stream it into staging, counting real bytes.
fn extract_one<R: Read + io::Seek>(
    archive: &mut ZipArchive<R>,
    item: &Planned,
    staging: &Staging,
    limits: &UnpackLimits,
) -> Result<StagedFile, UnzipError> {
    let corrupt = |reason: String| UnzipError::Corrupt {
        name: item.name.clone(),
        reason,
    };
    let entry = archive
        .by_index(item.index)
        .map_err(|e| corrupt(e.to_string()))?;

    // The declared size already passed every limit; refuse one byte more.
    let allowed = item.declared_size.min(limits.max_entry_size);
    let mut reader = entry.take(allowed.saturating_add(1));
    let mut writer = staging
        .create()
        .map_err(UnzipError::Io)?
        .with_limit(allowed);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut actual: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e.to_string())),
        };
        actual += n as u64;
        if actual > allowed {
            // `writer` is dropped here, which removes its temp file.
            return Err(UnzipError::MoreDataThanDeclared {
                name: item.name.clone(),
                declared: item.declared_size,
            });
        }
        writer.write_chunk(&buf[..n]).map_err(UnzipError::Io)?;
    }
    if actual != item.declared_size {
        return Err(UnzipError::LessDataThanDeclared {
            name: item.name.clone(),
            declared: item.declared_size,
            actual,
        });
    }
    writer.finish_batched().map_err(UnzipError::Io)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    use zip::ZipWriter;

    struct Env {
        _tmp: tempfile::TempDir,
        zip_path: std::path::PathBuf,
        staging: Staging,
    }

    impl Env {
        fn new() -> Env {
            let tmp = tempfile::tempdir().unwrap();
            let stage_dir = tmp.path().join("staging");
            fs::create_dir(&stage_dir).unwrap();
            Env {
                zip_path: tmp.path().join("upload.zip"),
                staging: Staging::new(stage_dir),
                _tmp: tmp,
            }
        }
        fn staged_count(&self) -> usize {
            fs::read_dir(self.staging.dir()).unwrap().count()
        }
        fn unpack(&self, limits: &UnpackLimits) -> Result<Vec<UnpackedEntry>, UnzipError> {
            unpack_zip(&self.zip_path, &self.staging, None, limits)
        }
        fn unpack_err(&self) -> UnzipError {
            let err = self.unpack(&UnpackLimits::default()).unwrap_err();
            assert_eq!(self.staged_count(), 0, "nothing may be left after {err}");
            err
        }
    }

    fn deflated() -> SimpleFileOptions {
        SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
    }

    /// Writes a zip of (name, content) files.
    fn write_zip(path: &Path, files: &[(&str, &[u8])]) {
        let mut w = ZipWriter::new(File::create(path).unwrap());
        for (name, content) in files {
            w.start_file(*name, deflated()).unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap();
    }

    fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
        haystack
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect()
    }
    const LOCAL_SIG: &[u8] = b"PK\x03\x04";
    const CENTRAL_SIG: &[u8] = b"PK\x01\x02";

    #[test]
    fn nested_folders_preserved() {
        let env = Env::new();
        let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
        w.add_directory("data/", deflated()).unwrap();
        w.add_directory("data/site A/", deflated()).unwrap();
        w.start_file("data/site A/2020.csv", deflated()).unwrap();
        w.write_all(b"t,v\n1,2\n").unwrap();
        w.start_file("data/site B/deep/x.json", deflated()).unwrap();
        w.write_all(b"{}").unwrap();
        w.start_file(
            "readme.txt",
            SimpleFileOptions::default().compression_method(CompressionMethod::Stored),
        )
        .unwrap();
        w.write_all(b"hello").unwrap();
        w.start_file("__MACOSX/data/._2020.csv", deflated())
            .unwrap();
        w.write_all(b"junk").unwrap();
        w.start_file("data/.DS_Store", deflated()).unwrap();
        w.write_all(b"junk").unwrap();
        w.finish().unwrap();

        let entries = env.unpack(&UnpackLimits::default()).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "data/site A/2020.csv",
                "data/site B/deep/x.json",
                "readme.txt"
            ]
        );
        assert_eq!(fs::read(&entries[0].staged.path).unwrap(), b"t,v\n1,2\n");
        assert_eq!(entries[0].staged.size, 8);
        assert_eq!(fs::read(&entries[2].staged.path).unwrap(), b"hello");
        assert_eq!(
            entries[2].staged.sha256_hex,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(env.staged_count(), 3);
    }

    #[test]
    fn prefix_is_applied() {
        let env = Env::new();
        write_zip(&env.zip_path, &[("a/b.txt", b"x")]);
        let prefix = DatasetPath::parse("raw/2024").unwrap();
        let entries = unpack_zip(
            &env.zip_path,
            &env.staging,
            Some(&prefix),
            &UnpackLimits::default(),
        )
        .unwrap();
        assert_eq!(entries[0].path.as_str(), "raw/2024/a/b.txt");
    }

    #[test]
    fn zip_slip_names_rejected() {
        for name in [
            "../../etc/passwd",
            "a/../../x",
            "..\\..\\evil.txt",
            "./a.txt",
        ] {
            let env = Env::new();
            write_zip(&env.zip_path, &[("ok.txt", b"fine"), (name, b"evil")]);
            let err = env.unpack_err();
            assert!(
                matches!(err, UnzipError::UnsafePath { .. }),
                "{name}: {err}"
            );
        }
        let env = Env::new();
        write_zip(&env.zip_path, &[("../../etc/passwd", b"evil")]);
        assert_eq!(
            env.unpack_err().to_string(),
            "zip entry '../../etc/passwd' is not a safe path: it contains '..'"
        );
    }

    #[test]
    fn absolute_names_rejected() {
        for name in ["/etc/passwd", "C:\\Windows\\x.dll", "\\\\server\\share\\x"] {
            let env = Env::new();
            write_zip(&env.zip_path, &[(name, b"evil")]);
            let err = env.unpack_err();
            assert!(
                matches!(err, UnzipError::UnsafePath { .. }),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn unsafe_folder_entry_rejected() {
        let env = Env::new();
        let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
        w.add_directory("../up/", deflated()).unwrap();
        w.start_file("ok.txt", deflated()).unwrap();
        w.finish().unwrap();
        assert!(matches!(env.unpack_err(), UnzipError::UnsafePath { .. }));
    }

    #[test]
    fn symlink_rejected() {
        let env = Env::new();
        let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
        w.start_file("ok.txt", deflated()).unwrap();
        w.write_all(b"fine").unwrap();
        w.add_symlink("link", "/etc/passwd", deflated()).unwrap();
        w.finish().unwrap();
        let err = env.unpack_err();
        assert!(
            matches!(err, UnzipError::Symlink { ref name } if name == "link"),
            "{err}"
        );
    }

    #[test]
    fn encrypted_rejected() {
        let env = Env::new();
        write_zip(&env.zip_path, &[("secret.txt", b"data")]);
        // Set the "encrypted" bit (general purpose flag bit 0) in both headers.
        let mut bytes = fs::read(&env.zip_path).unwrap();
        for at in find_all(&bytes, LOCAL_SIG) {
            bytes[at + 6] |= 1;
        }
        for at in find_all(&bytes, CENTRAL_SIG) {
            bytes[at + 8] |= 1;
        }
        fs::write(&env.zip_path, &bytes).unwrap();
        let err = env.unpack_err();
        assert!(matches!(err, UnzipError::Encrypted { .. }), "{err}");
    }

    #[test]
    fn duplicates_rejected() {
        let env = Env::new();
        // The zip writer refuses exact duplicates, so use two spellings that
        // normalise to the same path.
        write_zip(&env.zip_path, &[("a/b.txt", b"1"), ("a\\b.txt", b"2")]);
        let err = env.unpack_err();
        assert!(matches!(err, UnzipError::Duplicate { .. }), "{err}");

        let env = Env::new();
        write_zip(
            &env.zip_path,
            &[("caf\u{e9}.txt", b"1"), ("cafe\u{301}.txt", b"2")],
        );
        assert!(matches!(env.unpack_err(), UnzipError::Duplicate { .. }));

        let env = Env::new();
        write_zip(&env.zip_path, &[("Data/X.csv", b"1"), ("data/x.CSV", b"2")]);
        let err = env.unpack_err();
        assert!(matches!(err, UnzipError::CaseDuplicate { .. }), "{err}");
        assert!(err.to_string().contains("differ only in upper/lower case"));

        let env = Env::new();
        write_zip(&env.zip_path, &[("a", b"1"), ("A/b.txt", b"2")]);
        assert!(matches!(
            env.unpack_err(),
            UnzipError::FileFolderConflict { .. }
        ));
        let env = Env::new();
        write_zip(&env.zip_path, &[("a/b.txt", b"2"), ("a", b"1")]);
        assert!(matches!(
            env.unpack_err(),
            UnzipError::FileFolderConflict { .. }
        ));
    }

    #[test]
    fn entry_count_limit() {
        let env = Env::new();
        let files: Vec<(String, Vec<u8>)> =
            (0..11).map(|i| (format!("f{i}.txt"), vec![b'x'])).collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect();
        write_zip(&env.zip_path, &refs);
        let limits = UnpackLimits {
            max_entries: 10,
            ..UnpackLimits::default()
        };
        let err = env.unpack(&limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the zip has 11 entries, more than the limit of 10"
        );
        assert_eq!(env.staged_count(), 0);
        let ok = UnpackLimits {
            max_entries: 11,
            ..UnpackLimits::default()
        };
        assert_eq!(env.unpack(&ok).unwrap().len(), 11);
    }

    #[test]
    fn size_limits_from_central_directory() {
        let env = Env::new();
        write_zip(
            &env.zip_path,
            &[("a.txt", &[b'a'; 600]), ("b.txt", &[b'b'; 600])],
        );
        let limits = UnpackLimits {
            max_total_uncompressed: 1000,
            ..UnpackLimits::default()
        };
        let err = env.unpack(&limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the zip would expand to more than 1000 bytes (limit)"
        );
        let limits = UnpackLimits {
            max_entry_size: 500,
            ..UnpackLimits::default()
        };
        let err = env.unpack(&limits).unwrap_err();
        assert!(
            matches!(err, UnzipError::EntryTooLarge { size: 600, .. }),
            "{err}"
        );
        assert_eq!(env.staged_count(), 0);
        assert_eq!(
            UnzipError::TotalTooLarge { limit: 50 * GIB }.to_string(),
            "the zip would expand to more than 50 GiB (limit)"
        );
    }

    #[test]
    fn zip_bomb_ratio_limit() {
        // 200 MiB of zeros, streamed into a deflated entry at test time.
        let env = Env::new();
        let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
        w.start_file("zeros.bin", deflated().large_file(true))
            .unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..200 {
            w.write_all(&chunk).unwrap();
        }
        w.start_file("small.txt", deflated()).unwrap();
        w.write_all(b"innocent").unwrap();
        w.finish().unwrap();
        let zip_len = fs::metadata(&env.zip_path).unwrap().len();
        assert!(zip_len < 1 << 20, "bomb should be small, is {zip_len}");

        let err = env.unpack_err();
        match &err {
            UnzipError::EntryRatio { name, ratio, limit } => {
                assert_eq!(name, "zeros.bin");
                assert!(*ratio > 200, "{ratio}");
                assert_eq!(*limit, 200);
            }
            other => panic!("unexpected {other}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("entry 'zeros.bin' compresses 1:"), "{msg}");
        assert!(
            msg.ends_with("above the 1:200 ratio limit; is this a zip bomb?"),
            "{msg}"
        );
    }

    #[test]
    fn small_highly_compressible_files_are_fine() {
        let env = Env::new();
        write_zip(&env.zip_path, &[("zeros.csv", &[b'0'; 100_000])]);
        let entries = env.unpack(&UnpackLimits::default()).unwrap();
        assert_eq!(entries[0].staged.size, 100_000);
    }

    #[test]
    fn overall_ratio_limit() {
        // Each entry stays under the per-entry floor; together they pass it.
        let env = Env::new();
        let zeros = vec![0u8; 600_000];
        write_zip(&env.zip_path, &[("a.bin", &zeros), ("b.bin", &zeros)]);
        let err = env.unpack_err();
        assert!(
            matches!(err, UnzipError::OverallRatio { limit: 200, .. }),
            "{err}"
        );
    }

    /// Patches the declared uncompressed size (local header offset 22,
    /// central header offset 24) of the first entry.
    fn patch_uncompressed_size(path: &Path, new_size: u32) {
        let mut bytes = fs::read(path).unwrap();
        let le = new_size.to_le_bytes();
        let local = find_all(&bytes, LOCAL_SIG)[0];
        bytes[local + 22..local + 26].copy_from_slice(&le);
        let central = find_all(&bytes, CENTRAL_SIG)[0];
        bytes[central + 24..central + 28].copy_from_slice(&le);
        fs::write(path, &bytes).unwrap();
    }

    #[test]
    fn lying_header_more_data() {
        // 4 MiB of zeros compresses to ~4 KiB; the headers are patched to claim
        // 100 KiB, which passes every up-front check (ratio ~1:25).
        let env = Env::new();
        let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
        w.start_file("first.txt", deflated()).unwrap();
        w.write_all(b"fine").unwrap();
        w.start_file("liar.bin", deflated()).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..4 {
            w.write_all(&chunk).unwrap();
        }
        w.finish().unwrap();
        // Patch the second entry's declared uncompressed size in both headers.
        let mut bytes = fs::read(&env.zip_path).unwrap();
        let le = 100_000u32.to_le_bytes();
        let local = find_all(&bytes, LOCAL_SIG)[1];
        bytes[local + 22..local + 26].copy_from_slice(&le);
        let central = find_all(&bytes, CENTRAL_SIG)[1];
        bytes[central + 24..central + 28].copy_from_slice(&le);
        fs::write(&env.zip_path, &bytes).unwrap();

        let err = env.unpack_err();
        assert!(
            matches!(err, UnzipError::MoreDataThanDeclared { ref name, declared: 100_000 } if name == "liar.bin"),
            "{err}"
        );
        assert!(err
            .to_string()
            .contains("more data than its header declares"));
    }

    #[test]
    fn lying_header_less_data() {
        let env = Env::new();
        write_zip(&env.zip_path, &[("short.txt", b"only a few bytes")]);
        patch_uncompressed_size(&env.zip_path, 1000);
        let err = env.unpack_err();
        assert!(
            matches!(
                err,
                UnzipError::LessDataThanDeclared {
                    declared: 1000,
                    actual: 16,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn stored_entry_lying_header() {
        let env = Env::new();
        let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        w.start_file("s.bin", stored).unwrap();
        w.write_all(&[1u8; 5000]).unwrap();
        w.finish().unwrap();
        patch_uncompressed_size(&env.zip_path, 10);
        assert!(matches!(
            env.unpack_err(),
            UnzipError::MoreDataThanDeclared { declared: 10, .. }
        ));
    }

    #[test]
    fn all_or_nothing_on_late_corruption() {
        // Several good files, then one whose data is damaged (CRC mismatch):
        // the good ones, already staged, must be removed again.
        let env = Env::new();
        let mut files: Vec<(String, Vec<u8>)> = (0..5)
            .map(|i| (format!("good/{i}.txt"), format!("content {i}").into_bytes()))
            .collect();
        files.push(("bad.txt".to_string(), b"STORED-DATA-TO-DAMAGE".to_vec()));
        let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
        for (name, content) in &files {
            let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
            w.start_file(name.as_str(), opts).unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap();
        let mut bytes = fs::read(&env.zip_path).unwrap();
        let at = find_all(&bytes, b"STORED-DATA-TO-DAMAGE")[0];
        bytes[at] = b'X';
        fs::write(&env.zip_path, &bytes).unwrap();

        let err = env.unpack_err();
        assert!(
            matches!(err, UnzipError::Corrupt { ref name, .. } if name == "bad.txt"),
            "{err}"
        );
        assert!(err.is_client_error());
    }

    #[test]
    fn not_a_zip_and_empty_zip() {
        let env = Env::new();
        fs::write(&env.zip_path, b"this is not a zip").unwrap();
        assert!(matches!(env.unpack_err(), UnzipError::NotAZip(_)));

        let env = Env::new();
        let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
        w.add_directory("only-a-folder/", deflated()).unwrap();
        w.start_file("__MACOSX/._x", deflated()).unwrap();
        w.finish().unwrap();
        assert!(matches!(env.unpack_err(), UnzipError::NoFiles));
    }

    #[test]
    fn missing_staging_dir_is_server_error() {
        let env = Env::new();
        write_zip(&env.zip_path, &[("a.txt", b"x")]);
        let staging = Staging::new(env.zip_path.with_file_name("does-not-exist"));
        let err = unpack_zip(&env.zip_path, &staging, None, &UnpackLimits::default()).unwrap_err();
        assert!(matches!(err, UnzipError::Io(_)));
        assert!(!err.is_client_error());
    }

    #[test]
    fn byte_formatting() {
        assert_eq!(format_bytes(0), "0 bytes");
        assert_eq!(format_bytes(1023), "1023 bytes");
        assert_eq!(format_bytes(1024), "1 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(50 * GIB), "50 GiB");
        assert_eq!(format_bytes(u64::MAX), "16384 PiB");
    }
}
