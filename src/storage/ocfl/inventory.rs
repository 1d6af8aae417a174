use super::{DIGEST_ALGORITHM, INVENTORY, INVENTORY_TYPE};
use crate::storage::StorageError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// An OCFL inventory. Unknown top-level keys are rejected (E102).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inventory {
    pub id: String,
    #[serde(rename = "type")]
    pub inventory_type: String,
    pub digest_algorithm: String,
    pub head: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_directory: Option<String>,
    /// digest -> content paths (relative to the object root).
    pub manifest: BTreeMap<String, Vec<String>>,
    /// "vN" -> version block. Lexical key order ("v10" < "v2") is fine for
    /// JSON; use [`Inventory::head_number`] / [`parse_version_dir`] for order.
    pub versions: BTreeMap<String, Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixity: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    #[serde(with = "rfc3339_seconds")]
    pub created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// digest -> logical paths.
    pub state: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `created` is written as RFC 3339 UTC to whole seconds with `Z` (E049);
/// any RFC 3339 offset is accepted on read.
mod rfc3339_seconds {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&dt.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|dt| dt.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a version directory name (`v1`, `v0003`) into its number.
pub fn parse_version_dir(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

impl Inventory {
    pub(super) fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            inventory_type: INVENTORY_TYPE.to_owned(),
            digest_algorithm: DIGEST_ALGORITHM.to_owned(),
            head: String::new(),
            content_directory: None,
            manifest: BTreeMap::new(),
            versions: BTreeMap::new(),
            fixity: None,
        }
    }

    pub fn head_number(&self) -> Result<u32, StorageError> {
        parse_version_dir(&self.head)
            .ok_or_else(|| StorageError::Corrupt(format!("bad head {:?}", self.head)))
    }

    /// The version block numbered `n`, whatever its zero-padding.
    pub fn version(&self, n: u32) -> Option<&Version> {
        self.versions
            .iter()
            .find(|(k, _)| parse_version_dir(k) == Some(n))
            .map(|(_, v)| v)
    }

    /// Logical path -> digest for version `n` (empty when there is no such version).
    pub fn logical_state(&self, n: u32) -> BTreeMap<String, String> {
        self.version(n)
            .map(|v| {
                v.state
                    .iter()
                    .flat_map(|(digest, paths)| {
                        paths.iter().map(move |p| (p.clone(), digest.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Digest -> the content path its bytes are stored at (the first, if several).
    pub fn content_paths(&self) -> BTreeMap<String, String> {
        self.manifest
            .iter()
            .filter_map(|(digest, paths)| paths.first().map(|p| (digest.clone(), p.clone())))
            .collect()
    }

    /// Deterministic serialization (sorted maps, fixed field order, pretty).
    pub fn to_bytes(&self) -> Result<Vec<u8>, StorageError> {
        let mut bytes = Vec::new();
        self.write_to(&mut bytes)?;
        Ok(bytes)
    }

    /// [`Inventory::to_bytes`] written straight into `out`, byte for byte the same.
    pub fn write_to<W: Write>(&self, mut out: W) -> Result<(), StorageError> {
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        Ok(())
    }

    /// Writes the inventory to a temporary file while hashing it, so an inventory of a
    /// hundred thousand files is never held whole in memory. Returns the file with the
    /// bytes' sha256 and size.
    pub(super) fn write_temp(&self) -> Result<(tempfile::TempPath, String, u64), StorageError> {
        let file = tempfile::NamedTempFile::new()?;
        let mut hashed = Hashed::new(std::io::BufWriter::new(file));
        self.write_to(&mut hashed)?;
        let (buffered, digest, size) = hashed.finish();
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        Ok((file.into_temp_path(), digest, size))
    }
}

/// A reader or writer that hashes (sha256) and counts the bytes passing through.
pub(super) struct Hashed<T> {
    pub(super) inner: T,
    pub(super) hasher: sha2::Sha256,
    pub(super) size: u64,
}

impl<T> Hashed<T> {
    pub(super) fn new(inner: T) -> Self {
        use sha2::Digest as _;
        Hashed {
            inner,
            hasher: sha2::Sha256::new(),
            size: 0,
        }
    }

    pub(super) fn finish(self) -> (T, String, u64) {
        use sha2::Digest as _;
        (self.inner, hex::encode(self.hasher.finalize()), self.size)
    }
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Parses an inventory from `reader` with serde (no intermediate `Value` or `String`),
/// hashing the bytes as they are read; returns it with their sha256 and size.
pub(super) fn read_inventory<R: Read>(
    reader: R,
) -> Result<(Inventory, String, u64), serde_json::Error> {
    let mut hashed = Hashed::new(std::io::BufReader::with_capacity(1 << 16, reader));
    let inventory: Inventory = serde_json::from_reader(&mut hashed)?;
    // from_reader has read to the end (trailing whitespace allowed): the digest covers
    // the whole file.
    let (_, digest, size) = hashed.finish();
    Ok((inventory, digest, size))
}

/// The sidecar of an inventory with this digest: `<hex>  inventory.json`.
pub fn sidecar_body(digest: &str) -> String {
    format!("{digest}  {INVENTORY}\n")
}

/// The digest in a sidecar, if it has the form `<hex><whitespace>inventory.json`.
pub fn parse_sidecar(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.split_whitespace();
    let digest = parts.next()?;
    (parts.next()? == INVENTORY && parts.next().is_none()).then(|| digest.to_ascii_lowercase())
}

pub(super) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
