//! Fixity: proving that every stored byte is still the byte that was ingested.
//!
//! - `files`: the register of stored content files and inventories, filled at
//!   publication, with each one's fixity state.
//! - `audit`: re-reads and re-hashes stored files on worker threads under a byte-rate
//!   limit, checks inventories against their sidecars, finds unexpected files.
//! - `record`: the history of every check, PREMIS events, alert tickets and mail.
//! - `run`: the scheduled sweep (least recently checked first, spread over the cycle)
//!   and passes asked for from the command line.
//! - `repair`: restores damaged files from good copies; quarantines unexpected ones.
//! - `report`: what pages and the API show.

pub mod audit;
pub mod files;
pub mod record;
pub mod repair;
pub mod report;
pub mod run;

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::deposit::ingest::Staging;
use crate::jobs::Waker;
use crate::storage::{BlobStore, OcflRoot};

pub use audit::Kind;
pub use files::NewStoredFile;
pub use repair::{PartnerCopies, PartnerCopy, RepairDataset};
pub use run::FixitySweep;

/// What audits and repairs run with, handed in by the composition root.
#[derive(Clone)]
pub struct Fixity {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub store: Arc<dyn BlobStore>,
    pub ocfl: Arc<OcflRoot>,
    /// Drafts' staged uploads: a source of good copies for repairs.
    pub staging: Arc<Staging>,
    pub waker: Waker,
    /// Partners' replicas: the last source of good copies for repairs.
    pub partners: Arc<dyn PartnerCopies>,
}
