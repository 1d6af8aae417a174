//! Ingest of deposited files: safe dataset paths, streaming staging of uploads
//! (hashing, size limits, Content-Digest checks) and safe zip unpacking.
//!
//! Everything here is blocking I/O; async handlers call it via `spawn_blocking`.

pub mod path;
pub mod staging;
pub mod unzip;

pub use self::path::{media_type, DatasetPath, PathError};
pub use self::staging::{
    verify_content_digest, DigestError, StagedFile, Staging, StagingWriter, TooLarge,
};
pub use self::unzip::{unpack_zip, UnpackLimits, UnpackedEntry, UnzipError};
