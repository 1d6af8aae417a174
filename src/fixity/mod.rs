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

pub use audit::Kind;
pub use files::NewStoredFile;
