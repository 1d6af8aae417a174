//! Ingest of deposited files: safe dataset paths, streaming staging of uploads
//! (hashing, size limits, Content-Digest checks) and safe zip unpacking.
//!
//! Everything here is blocking I/O (async handlers call it via `spawn_blocking`), but
//! for `blobs`, the async side of the staging folder.

mod blobs;
pub mod path;
pub mod staging;
pub mod unzip;

pub use self::path::{encode_path, media_type, DatasetPath, PathError};
pub use self::staging::{
    verify_content_digest, DigestError, StagedFile, Staging, StagingWriter, TooLarge,
};
pub use self::unzip::{unpack_zip, UnpackLimits, UnpackedEntry, UnzipError};
