//! Dataset-relative file paths, parsed once at the boundary.
//!
//! A [`DatasetPath`] can only be built through [`DatasetPath::parse`], so any
//! value of this type is known to be a safe, relative, NFC-normalised path with
//! `/` separators. Nothing downstream needs to re-check it.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Longest allowed single path segment, in bytes (UTF-8, after NFC).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Longest allowed whole path, in bytes (UTF-8, after NFC).
pub const MAX_PATH_BYTES: usize = 1024;
/// Most segments (folders plus the file name) a path may have.
pub const MAX_DEPTH: usize = 32;

/// Why a path was refused. Messages complete a sentence such as
/// "zip entry 'x' is not a safe path: ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("it is empty")]
    Empty,
    #[error("it is an absolute path (starts with '/' or '\\'); use a path relative to the dataset, like 'data/file.csv'")]
    Absolute,
    #[error("it starts with a Windows drive letter ('{0}:'); use a path relative to the dataset, like 'data/file.csv'")]
    DriveLetter(char),
    #[error("it contains '..'")]
    ParentSegment,
    #[error("it contains a '.' segment")]
    CurrentSegment,
    #[error("it contains an empty folder name ('//')")]
    EmptySegment,
    #[error("it ends with '/', so it names a folder, not a file")]
    TrailingSlash,
    #[error("it contains a control character ({})", describe_char(*.0))]
    ControlChar(char),
    #[error("it contains a bidirectional text control ({}), which can make a name display as something it is not (a file ending '.exe' shown as ending '.pdf')", describe_char(*.0))]
    BidiControl(char),
    #[error("the name '{segment}' is {len} bytes long; the limit is {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong { segment: String, len: usize },
    #[error("it is {len} bytes long; the limit is {MAX_PATH_BYTES} bytes")]
    TooLong { len: usize },
    #[error("it is {depth} levels deep; the limit is {MAX_DEPTH}")]
    TooDeep { depth: usize },
}

/// Unicode's explicit bidirectional formatting characters (embeddings, overrides,
/// isolates and the directional marks): invisible, and able to reorder how the rest of
/// a name is shown.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn describe_char(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// A validated, normalised path of a file inside a dataset, e.g. `data/site A/2020.csv`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DatasetPath(String);

impl DatasetPath {
    /// Parses a user-supplied path. `\` is treated as `/`, Unicode is NFC-normalised.
    pub fn parse(raw: &str) -> Result<DatasetPath, PathError> {
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        // Control characters are checked on the raw input, before normalisation
        // could hide anything (NFC never produces control characters anyway).
        if let Some(c) = raw.chars().find(|c| c.is_control()) {
            return Err(PathError::ControlChar(c));
        }
        if let Some(c) = raw.chars().find(|c| is_bidi_control(*c)) {
            return Err(PathError::BidiControl(c));
        }
        let s: String = raw.replace('\\', "/").nfc().collect();

        if s.starts_with('/') {
            return Err(PathError::Absolute);
        }
        let mut chars = s.chars();
        if let (Some(letter), Some(':')) = (chars.next(), chars.next()) {
            if letter.is_ascii_alphabetic() {
                return Err(PathError::DriveLetter(letter.to_ascii_uppercase()));
            }
        }
        if s.ends_with('/') {
            return Err(PathError::TrailingSlash);
        }

        let mut depth = 0usize;
        for segment in s.split('/') {
            depth += 1;
            match segment {
                "" => return Err(PathError::EmptySegment),
                "." => return Err(PathError::CurrentSegment),
                ".." => return Err(PathError::ParentSegment),
                _ => {}
            }
            if segment.len() > MAX_SEGMENT_BYTES {
                return Err(PathError::SegmentTooLong {
                    segment: abbreviate(segment),
                    len: segment.len(),
                });
            }
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong { len: s.len() });
        }
        if depth > MAX_DEPTH {
            return Err(PathError::TooDeep { depth });
        }
        Ok(DatasetPath(s))
    }

    /// `prefix/self`, re-checked against the length and depth limits.
    pub fn join(&self, child: &DatasetPath) -> Result<DatasetPath, PathError> {
        DatasetPath::parse(&format!("{}/{}", self.0, child.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The folder part (`data/site A` for `data/site A/2020.csv`), or `""` at the top level.
    pub fn folder(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[..i],
            None => "",
        }
    }

    /// The last segment (`2020.csv` for `data/site A/2020.csv`).
    pub fn file_name(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// Key for detecting two paths that differ only by letter case.
    pub fn case_key(&self) -> String {
        self.0.to_lowercase()
    }

    /// Every ancestor folder, outermost first (`a`, `a/b` for `a/b/c.txt`).
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(move |(i, _)| &self.0[..i])
    }
}

/// Shortens an over-long segment for an error message (on a char boundary).
fn abbreviate(segment: &str) -> String {
    const KEEP: usize = 40;
    if segment.chars().count() <= KEEP {
        return segment.to_string();
    }
    let mut out: String = segment.chars().take(KEEP).collect();
    out.push('…');
    out
}

impl fmt::Display for DatasetPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DatasetPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<DatasetPath> for String {
    fn from(p: DatasetPath) -> String {
        p.0
    }
}

impl TryFrom<String> for DatasetPath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DatasetPath::parse(&s)
    }
}

impl std::str::FromStr for DatasetPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetPath::parse(s)
    }
}

/// Media type for a dataset file, from its extension.
pub fn media_type(path: &DatasetPath) -> String {
    let name = path.file_name();
    let ext = match name.rfind('.') {
        Some(i) if i > 0 => name[i + 1..].to_ascii_lowercase(),
        _ => String::new(),
    };
    match ext.as_str() {
        "csv" => return "text/csv".to_string(),
        "json" => return "application/json".to_string(),
        "nc" => return "application/x-netcdf".to_string(),
        "" => return "application/octet-stream".to_string(),
        _ => {}
    }
    mime_guess::from_ext(&ext)
        .first()
        .map(|m| m.essence_str().to_string())
        .unwrap_or_else(|| "application/octet-stream".to_string())
}

/// Characters a URL path segment carries as they are (RFC 3986 unreserved).
const URL_PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes each segment of a dataset path for a URL: the one encoding of file
/// links on landing pages, in the API, exports, ResourceSync and DOI metadata.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|seg| percent_encoding::utf8_percent_encode(seg, URL_PATH_SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ok(s: &str) -> DatasetPath {
        DatasetPath::parse(s).unwrap()
    }
    fn err(s: &str) -> PathError {
        DatasetPath::parse(s).unwrap_err()
    }

    #[test]
    fn good_paths() {
        assert_eq!(ok("data/site A/2020.csv").as_str(), "data/site A/2020.csv");
        assert_eq!(ok("readme.md").as_str(), "readme.md");
        assert_eq!(ok("data\\sub\\x.csv").as_str(), "data/sub/x.csv");
        assert_eq!(ok("...").as_str(), "...");
        assert_eq!(ok(".hidden/..x").as_str(), ".hidden/..x");
        assert_eq!(ok("CON/aux.txt").as_str(), "CON/aux.txt"); // Windows names allowed
        assert_eq!(ok("ab:c.txt").as_str(), "ab:c.txt"); // only X: at the start is a drive
        assert_eq!(ok("日本語/データ.csv").as_str(), "日本語/データ.csv");
    }

    #[test]
    fn nfc_normalisation() {
        let decomposed = ok("caf\u{65}\u{301}.csv");
        let composed = ok("caf\u{e9}.csv");
        assert_eq!(decomposed, composed);
        assert_eq!(decomposed.as_str(), "café.csv");
        assert_eq!(ok("e\u{301}").as_str(), "é");
    }

    #[test]
    fn bad_paths() {
        assert_eq!(err(""), PathError::Empty);
        assert_eq!(err("/etc/passwd"), PathError::Absolute);
        assert_eq!(err("\\\\server\\share\\x"), PathError::Absolute);
        assert_eq!(err("\\x"), PathError::Absolute);
        assert_eq!(err("C:\\x"), PathError::DriveLetter('C'));
        assert_eq!(err("c:x"), PathError::DriveLetter('C'));
        assert_eq!(err("../../etc/passwd"), PathError::ParentSegment);
        assert_eq!(err("a/../b"), PathError::ParentSegment);
        assert_eq!(err("a\\..\\b"), PathError::ParentSegment);
        assert_eq!(err("a/.."), PathError::ParentSegment);
        assert_eq!(err("./a"), PathError::CurrentSegment);
        assert_eq!(err("a/./b"), PathError::CurrentSegment);
        assert_eq!(err("a//b"), PathError::EmptySegment);
        assert_eq!(err("a/"), PathError::TrailingSlash);
        assert_eq!(err("a\\"), PathError::TrailingSlash);
        assert_eq!(err("a\0b"), PathError::ControlChar('\0'));
        assert_eq!(err("a\nb"), PathError::ControlChar('\n'));
        assert_eq!(err("a\tb"), PathError::ControlChar('\t'));
        assert_eq!(err("a\u{7f}b"), PathError::ControlChar('\u{7f}'));
        assert_eq!(err("a\u{85}b"), PathError::ControlChar('\u{85}'));
        assert_eq!(err("a\u{9b}b"), PathError::ControlChar('\u{9b}'));
        assert_eq!(
            err("report\u{202E}fdp.exe"),
            PathError::BidiControl('\u{202E}')
        );
        assert_eq!(err("a\u{2067}b"), PathError::BidiControl('\u{2067}'));
        assert_eq!(err("a\u{200F}b"), PathError::BidiControl('\u{200F}'));
    }

    #[test]
    fn limits() {
        let seg255 = "x".repeat(255);
        assert!(DatasetPath::parse(&seg255).is_ok());
        let seg256 = "x".repeat(256);
        assert!(matches!(
            err(&seg256),
            PathError::SegmentTooLong { len: 256, .. }
        ));
        // 128 two-byte chars = 256 bytes: limit is in bytes.
        assert!(matches!(
            err(&"é".repeat(128)),
            PathError::SegmentTooLong { len: 256, .. }
        ));

        let seg = "y".repeat(200);
        let long = [seg.as_str(); 6].join("/"); // 1205 bytes
        assert_eq!(err(&long), PathError::TooLong { len: 1205 });
        let ok_long = [seg.as_str(); 5].join("/"); // 1004 bytes
        assert!(DatasetPath::parse(&ok_long).is_ok());

        let deep32 = vec!["d"; 32].join("/");
        assert!(DatasetPath::parse(&deep32).is_ok());
        let deep33 = vec!["d"; 33].join("/");
        assert_eq!(err(&deep33), PathError::TooDeep { depth: 33 });
    }

    #[test]
    fn messages_are_readable() {
        assert_eq!(err("../x").to_string(), "it contains '..'");
        assert_eq!(
            err("a\u{7}b").to_string(),
            "it contains a control character (U+0007)"
        );
        let msg = err(&"z".repeat(300)).to_string();
        assert!(msg.contains("300 bytes long"), "{msg}");
        assert!(msg.contains('…'), "{msg}");
    }

    #[test]
    fn accessors() {
        let p = ok("data/site A/2020.csv");
        assert_eq!(p.folder(), "data/site A");
        assert_eq!(p.file_name(), "2020.csv");
        assert_eq!(p.to_string(), "data/site A/2020.csv");
        assert_eq!(
            p.ancestors().collect::<Vec<_>>(),
            vec!["data", "data/site A"]
        );
        let top = ok("x.csv");
        assert_eq!(top.folder(), "");
        assert_eq!(top.file_name(), "x.csv");
        assert_eq!(top.ancestors().count(), 0);
        assert_eq!(ok("Data/X.CSV").case_key(), ok("data/x.csv").case_key());
        assert_eq!(ok("ÉTÉ.csv").case_key(), ok("été.csv").case_key());
        assert_eq!(
            ok("pre/fix").join(&ok("a/b.txt")).unwrap().as_str(),
            "pre/fix/a/b.txt"
        );
    }

    #[test]
    fn serde_as_string() {
        let p = ok("data/x.csv");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"data/x.csv\"");
        let back: DatasetPath = serde_json::from_str("\"data\\\\x.csv\"").unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<DatasetPath>("\"../x\"").is_err());
    }

    #[test]
    fn media_types() {
        assert_eq!(media_type(&ok("a/b.csv")), "text/csv");
        assert_eq!(media_type(&ok("a/b.CSV")), "text/csv");
        assert_eq!(media_type(&ok("b.json")), "application/json");
        assert_eq!(media_type(&ok("b.nc")), "application/x-netcdf");
        assert_eq!(media_type(&ok("b.png")), "image/png");
        assert_eq!(media_type(&ok("b.unknownext")), "application/octet-stream");
        assert_eq!(media_type(&ok("Makefile")), "application/octet-stream");
        assert_eq!(media_type(&ok(".bashrc")), "application/octet-stream");
    }

    #[test]
    fn url_paths_encode_each_segment() {
        assert_eq!(encode_path("data/a b.csv"), "data/a%20b.csv");
        assert_eq!(encode_path("x~y_z-1.2"), "x~y_z-1.2");
        assert_eq!(encode_path("ü/%x?#.txt"), "%C3%BC/%25x%3F%23.txt");
    }
}
