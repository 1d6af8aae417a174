//! OCFL storage layout extension `0004-hashed-n-tuple-storage-layout`.
//! Chosen because DOIs and other ids contain `/` and `:`; hashing gives
//! safe, evenly spread object roots for any id.

use serde::{Deserialize, Serialize};

use super::StorageError;

pub const EXTENSION_NAME: &str = "0004-hashed-n-tuple-storage-layout";

/// The extension's `config.json` (field names as the extension defines them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashedNTupleConfig {
    pub extension_name: String,
    #[serde(default = "default_algorithm")]
    pub digest_algorithm: String,
    #[serde(default = "default_three")]
    pub tuple_size: usize,
    #[serde(default = "default_three")]
    pub number_of_tuples: usize,
    #[serde(default)]
    pub short_object_root: bool,
}

fn default_algorithm() -> String {
    "sha256".to_owned()
}

fn default_three() -> usize {
    3
}

/// sha256-based 0004 layout. Only sha256 is supported; it is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashedNTupleLayout {
    tuple_size: usize,
    number_of_tuples: usize,
    short_object_root: bool,
}

impl Default for HashedNTupleLayout {
    fn default() -> Self {
        Self {
            tuple_size: 3,
            number_of_tuples: 3,
            short_object_root: false,
        }
    }
}

/// Hex length of a sha256 digest.
const DIGEST_HEX_LEN: usize = 64;

impl HashedNTupleLayout {
    /// Builds a layout, enforcing the extension's parameter constraints.
    pub fn new(
        tuple_size: usize,
        number_of_tuples: usize,
        short_object_root: bool,
    ) -> Result<Self, StorageError> {
        let bad = |why: &str| Err(StorageError::InvalidInput(format!("0004 layout: {why}")));
        if (tuple_size == 0) != (number_of_tuples == 0) {
            return bad("tupleSize and numberOfTuples must both be 0 or both non-zero");
        }
        let used = tuple_size * number_of_tuples;
        if used > DIGEST_HEX_LEN {
            return bad("tupleSize * numberOfTuples exceeds the digest length");
        }
        if short_object_root && used == DIGEST_HEX_LEN {
            return bad("shortObjectRoot needs a remainder of the digest");
        }
        Ok(Self {
            tuple_size,
            number_of_tuples,
            short_object_root,
        })
    }

    pub fn from_config(config: &HashedNTupleConfig) -> Result<Self, StorageError> {
        if config.extension_name != EXTENSION_NAME {
            return Err(StorageError::InvalidInput(format!(
                "config is for {}, not {EXTENSION_NAME}",
                config.extension_name
            )));
        }
        if config.digest_algorithm != "sha256" {
            return Err(StorageError::InvalidInput(format!(
                "0004 layout with {} is not supported",
                config.digest_algorithm
            )));
        }
        Self::new(
            config.tuple_size,
            config.number_of_tuples,
            config.short_object_root,
        )
    }

    pub fn config(&self) -> HashedNTupleConfig {
        HashedNTupleConfig {
            extension_name: EXTENSION_NAME.to_owned(),
            digest_algorithm: default_algorithm(),
            tuple_size: self.tuple_size,
            number_of_tuples: self.number_of_tuples,
            short_object_root: self.short_object_root,
        }
    }

    /// Object root path (relative to the storage root) for `object_id`.
    pub fn object_root(&self, object_id: &str) -> String {
        let digest = super::sha256_hex(object_id.as_bytes());
        let used = self.tuple_size * self.number_of_tuples;
        let mut parts: Vec<&str> = (0..self.number_of_tuples)
            .map(|i| &digest[i * self.tuple_size..(i + 1) * self.tuple_size])
            .collect();
        parts.push(if self.short_object_root {
            &digest[used..]
        } else {
            &digest
        });
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        let l = HashedNTupleLayout::default();
        assert_eq!(
            l.object_root("object-01"),
            "3c0/ff4/240/3c0ff4240c1e116dba14c7627f2319b58aa3d77606d0d90dfc6161608ac987d4"
        );
        assert_eq!(
            l.object_root("..hor/rib:le-$id"),
            "487/326/d8c/487326d8c2a3c0b885e23da1469b4d6671fd4e76978924b4443e9e3c316cda6d"
        );
    }

    #[test]
    fn short_root_and_flat() {
        let l = HashedNTupleLayout::new(3, 3, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            l.object_root("object-01"),
            "3c0/ff4/240/c1e116dba14c7627f2319b58aa3d77606d0d90dfc6161608ac987d4"
        );
        let flat = HashedNTupleLayout::new(0, 0, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            flat.object_root("object-01"),
            "3c0ff4240c1e116dba14c7627f2319b58aa3d77606d0d90dfc6161608ac987d4"
        );
    }

    #[test]
    fn rejects_bad_params() {
        assert!(HashedNTupleLayout::new(0, 3, false).is_err());
        assert!(HashedNTupleLayout::new(33, 2, false).is_err());
        assert!(HashedNTupleLayout::new(32, 2, true).is_err());
    }

    #[test]
    fn config_round_trip() {
        let c = HashedNTupleLayout::default().config();
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"extensionName":"0004-hashed-n-tuple-storage-layout","digestAlgorithm":"sha256","tupleSize":3,"numberOfTuples":3,"shortObjectRoot":false}"#
        );
    }
}
