//! Preservation storage: an object-store abstraction (`blob`) with its local-disk
//! store, the same over the `object_store` crate's cloud stores (`remote`; S3 in
//! `s3`), the OCFL 1.1 storage root and object logic on top of it (`ocfl`), and the
//! 0004 storage layout extension (`layout`).

pub mod blob;
pub mod layout;
pub mod ocfl;
pub mod remote;
pub mod s3;
pub mod stream;

#[cfg(test)]
mod tests;

pub use self::blob::{copy_to_file, BlobStore, ByteStream, LocalDiskStore, PutReceipt};
pub use self::layout::HashedNTupleLayout;
pub use self::ocfl::{
    CommittedVersion, ContentRef, FileSource, Inventory, NewFile, NewVersion, OcflRoot,
    RecoveryReport, User, Version,
};
pub use self::remote::ObjectStoreBlobs;
pub use self::s3::{IncompleteUpload, S3Settings, S3Store};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("invalid storage key: {0}")]
    InvalidKey(String),
    #[error("invalid logical path: {0}")]
    InvalidPath(String),
    /// Caller-supplied values that are neither keys nor paths (malformed
    /// digests, unknown `Existing` digests, bad byte ranges, empty ids).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("digest mismatch for {path}: expected {expected}, found {found}")]
    DigestMismatch {
        path: String,
        expected: String,
        found: String,
    },
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Lowercase hex sha256 of a byte slice.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
