//! The tag files of a BagIt 1.0 bag (RFC 8493): `bagit.txt`, `bag-info.txt`,
//! `manifest-sha256.txt` and `tagmanifest-sha256.txt`.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::io::{self, Write};

use super::PackageFile;

pub const MANIFEST: &str = "manifest-sha256.txt";
pub const TAG_MANIFEST: &str = "tagmanifest-sha256.txt";

/// What `bag-info.txt` says about the bag.
#[derive(Clone, Debug)]
pub struct BagInfo {
    /// The bag's folder name inside the zip, e.g. `dataset-12-v1`.
    pub name: String,
    /// The archive's name (`Source-Organization`).
    pub source_organization: String,
    /// The version's DOI (`External-Identifier`), once published.
    pub external_identifier: Option<String>,
    /// The version's title (`External-Description`).
    pub external_description: Option<String>,
    /// When the bag is made (`Bagging-Date`).
    pub bagging_date: NaiveDate,
}

/// `bagit.txt`: exactly these two lines (RFC 8493 §2.1.1).
pub fn declaration() -> &'static str {
    "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
}

/// A tag value on one line: bag-info.txt folds lines that start with whitespace, so any
/// line break in user text is collapsed rather than written.
fn one_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Human-readable size for `Bag-Size` (decimal units, e.g. `260.0 GB`).
pub fn bag_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl BagInfo {
    pub fn bag_info_txt(&self, files: &[PackageFile]) -> String {
        let octets: u64 = files.iter().map(|f| f.size).sum();
        let mut out = String::new();
        let mut line = |label: &str, value: &str| {
            let value = one_line(value);
            if !value.is_empty() {
                out.push_str(label);
                out.push_str(": ");
                out.push_str(&value);
                out.push('\n');
            }
        };
        line("Source-Organization", &self.source_organization);
        if let Some(id) = &self.external_identifier {
            line("External-Identifier", id);
        }
        if let Some(description) = &self.external_description {
            line("External-Description", description);
        }
        line(
            "Bagging-Date",
            &self.bagging_date.format("%Y-%m-%d").to_string(),
        );
        line("Payload-Oxum", &format!("{octets}.{}", files.len()));
        line("Bag-Size", &bag_size(octets));
        line(
            "Bag-Software-Agent",
            concat!("holdfast ", env!("CARGO_PKG_VERSION")),
        );
        out
    }
}

/// A manifest path: relative to the bag, under `data/`, with only CR, LF and `%`
/// percent-encoded (RFC 8493 §2.1.3).
pub fn manifest_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 5);
    out.push_str("data/");
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            other => out.push(other),
        }
    }
    out
}

/// Writes `manifest-sha256.txt` from the recorded digests; returns the manifest's own
/// sha256 for the tag manifest.
pub fn write_manifest(files: &[PackageFile], out: &mut impl Write) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut line = String::new();
    for file in files {
        line.clear();
        line.push_str(&file.sha256);
        line.push_str("  ");
        line.push_str(&manifest_path(&file.path));
        line.push('\n');
        hasher.update(line.as_bytes());
        out.write_all(line.as_bytes())?;
    }
    Ok(hex::encode(hasher.finalize()))
}

/// `tagmanifest-sha256.txt`: the digest of every other tag file.
#[derive(Default)]
pub struct TagManifest {
    lines: Vec<(String, &'static str)>,
}

impl TagManifest {
    pub fn add(&mut self, name: &'static str, body: &[u8]) {
        self.add_digest(name, hex::encode(Sha256::digest(body)));
    }

    pub fn add_digest(&mut self, name: &'static str, digest: String) {
        self.lines.push((digest, name));
    }

    pub fn render(&self) -> String {
        self.lines
            .iter()
            .map(|(digest, name)| format!("{digest}  {name}\n"))
            .collect()
    }
}
