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
    let mut claims = Claims::default();
    let mut totals = Totals::default();
    for index in 0..archive.len() {
        let entry: ZipFile<'_, R> = archive.by_index_raw(index).map_err(not_a_zip)?;
        let name = entry.name().to_string();
        if is_junk(&name) {
            continue;
        }
        let is_dir = entry_is_dir(&entry, &name)?;
        let path = entry_path(&name, is_dir, prefix)?;
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
        claims.claim(&name, &path)?;
        let size = entry.size();
        totals.add(&name, size, entry.compressed_size(), limits)?;
        plan.push(Planned {
            index,
            name,
            path,
            declared_size: size,
        });
    }

    if exceeds_ratio(totals.size, totals.compressed, limits) {
        return Err(UnzipError::OverallRatio {
            ratio: totals.size / totals.compressed.max(1),
            limit: limits.max_ratio,
        });
    }
    if plan.is_empty() {
        return Err(UnzipError::NoFiles);
    }
    Ok(plan)
}

/// Whether an entry is a folder; a link, a special file or an encrypted entry is
/// refused.
fn entry_is_dir<R: Read>(entry: &ZipFile<'_, R>, name: &str) -> Result<bool, UnzipError> {
    let name = || name.to_string();
    let file_type = entry.unix_mode().map(|m| m & S_IFMT).unwrap_or(0);
    if file_type == S_IFLNK {
        return Err(UnzipError::Symlink { name: name() });
    }
    let is_dir = entry.is_dir() || (file_type == S_IFDIR && entry.size() == 0);
    if !is_dir && file_type != 0 && file_type != S_IFREG {
        return Err(UnzipError::SpecialFile { name: name() });
    }
    if entry.encrypted() {
        return Err(UnzipError::Encrypted { name: name() });
    }
    Ok(is_dir)
}

/// The dataset path of an entry, under `prefix`. Folders are validated too (a crafted
/// "../" folder is refused) but not extracted: the folder structure is kept through
/// the file paths.
fn entry_path(
    name: &str,
    is_dir: bool,
    prefix: Option<&DatasetPath>,
) -> Result<DatasetPath, UnzipError> {
    let to_parse = if is_dir {
        name.trim_end_matches(['/', '\\'])
    } else {
        name
    };
    let parsed = DatasetPath::parse(to_parse).map_err(|source| UnzipError::UnsafePath {
        name: name.to_string(),
        source,
    })?;
    match prefix {
        Some(p) => p
            .join(&parsed)
            .map_err(|source| UnzipError::PrefixedPathInvalid {
                name: name.to_string(),
                prefix: p.to_string(),
                source,
            }),
        None => Ok(parsed),
    }
}

/// The paths the entries so far claim, by case key: a second file at the same path
/// (also in another case or spelling) or a file where a folder is refuses the zip.
#[derive(Default)]
struct Claims {
    /// case key -> (entry name, normalised path) of the file that claimed it.
    files: HashMap<String, (String, String)>,
    folders: HashMap<String, String>,
}

impl Claims {
    fn claim(&mut self, name: &str, path: &DatasetPath) -> Result<(), UnzipError> {
        let key = path.case_key();
        if let Some((first_name, first_path)) = self.files.get(&key) {
            // Exact duplicates include spellings that normalise to the same
            // path (`a\b` and `a/b`, NFD and NFC).
            if first_path == path.as_str() {
                return Err(UnzipError::Duplicate {
                    name: name.to_string(),
                });
            }
            return Err(UnzipError::CaseDuplicate {
                first: first_name.clone(),
                second: name.to_string(),
            });
        }
        if self.folders.contains_key(&key) {
            return Err(UnzipError::FileFolderConflict {
                name: path.to_string(),
            });
        }
        for folder in path.ancestors() {
            let folder_key = folder.to_lowercase();
            if self.files.contains_key(&folder_key) {
                return Err(UnzipError::FileFolderConflict {
                    name: folder.to_string(),
                });
            }
            self.folders
                .entry(folder_key)
                .or_insert_with(|| folder.to_string());
        }
        self.files.insert(key, (name.to_string(), path.to_string()));
        Ok(())
    }
}

/// Declared sizes so far, held to the limits entry by entry.
#[derive(Default)]
struct Totals {
    size: u64,
    compressed: u64,
}

impl Totals {
    fn add(
        &mut self,
        name: &str,
        size: u64,
        compressed: u64,
        limits: &UnpackLimits,
    ) -> Result<(), UnzipError> {
        if size > limits.max_entry_size {
            return Err(UnzipError::EntryTooLarge {
                name: name.to_string(),
                size,
                limit: limits.max_entry_size,
            });
        }
        self.size = self.size.saturating_add(size);
        self.compressed = self.compressed.saturating_add(compressed);
        if self.size > limits.max_total_uncompressed {
            return Err(UnzipError::TotalTooLarge {
                limit: limits.max_total_uncompressed,
            });
        }
        if exceeds_ratio(size, compressed, limits) {
            return Err(UnzipError::EntryRatio {
                name: name.to_string(),
                ratio: size / compressed.max(1),
                limit: limits.max_ratio,
            });
        }
        Ok(())
    }
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
mod tests;
