//! Limits that keep the server answering whatever clients do: concurrent whole-version
//! downloads, concurrent uploads, and how long a request body may stay silent.

use clap::Args;
use std::time::Duration;

/// The flags and environment variables of [`LimitSettings`].
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Whole-version downloads (zip, BagIt) served at once, from all clients together;
    /// past it a download is answered 503 with Retry-After [default: 64].
    #[arg(long, env = "HOLDFAST_DOWNLOADS_MAX_TOTAL", global = true)]
    pub downloads_max_total: Option<usize>,
    /// Whole-version downloads served at once to one client address [default: 4].
    #[arg(long, env = "HOLDFAST_DOWNLOADS_MAX_PER_ADDRESS", global = true)]
    pub downloads_max_per_address: Option<usize>,
    /// Uploads (form, API PUT, tus PATCH) one account may send at once; past it an
    /// upload is answered 429 with Retry-After [default: 8].
    #[arg(long, env = "HOLDFAST_UPLOADS_MAX_PER_ACCOUNT", global = true)]
    pub uploads_max_per_account: Option<usize>,
    /// Seconds a request body may send nothing before it is dropped; an upload then
    /// keeps nothing (a tus upload keeps what it received, to resume) [default: 60].
    #[arg(long, env = "HOLDFAST_BODY_IDLE_TIMEOUT_SECS", global = true)]
    pub body_idle_timeout_secs: Option<u64>,
}

/// The same in the config file.
#[derive(serde::Deserialize, Debug, Default, Clone)]
pub struct LimitFile {
    pub downloads_max_total: Option<usize>,
    pub downloads_max_per_address: Option<usize>,
    pub uploads_max_per_account: Option<usize>,
    pub body_idle_timeout_secs: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct LimitSettings {
    pub downloads_max_total: usize,
    pub downloads_max_per_address: usize,
    pub uploads_max_per_account: usize,
    pub body_idle_timeout: Duration,
}

impl LimitSettings {
    pub fn pick(args: &LimitArgs, file: LimitFile) -> LimitSettings {
        LimitSettings {
            downloads_max_total: args
                .downloads_max_total
                .or(file.downloads_max_total)
                .unwrap_or(64)
                .max(1),
            downloads_max_per_address: args
                .downloads_max_per_address
                .or(file.downloads_max_per_address)
                .unwrap_or(4)
                .max(1),
            uploads_max_per_account: args
                .uploads_max_per_account
                .or(file.uploads_max_per_account)
                .unwrap_or(8)
                .max(1),
            body_idle_timeout: Duration::from_secs(
                args.body_idle_timeout_secs
                    .or(file.body_idle_timeout_secs)
                    .unwrap_or(60)
                    .max(1),
            ),
        }
    }
}
