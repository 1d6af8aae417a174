//! Settings, loaded once into one typed struct.
//!
//! Layers, later wins: built-in defaults, the TOML config file (`--config` or
//! `HOLDFAST_CONFIG`), `HOLDFAST_*` environment variables, command-line flags. Clap
//! reads the last two; the file fills whatever they left unset.

mod limits;
mod oai;
pub mod smtp;

use clap::Args;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub use self::limits::{LimitArgs, LimitSettings};
pub use crate::secret::Secret;

/// Sitemaps (ResourceSync's documents) allow 50,000 URLs per document: the largest page
/// size the ResourceSync settings accept.
pub const SITEMAP_LIMIT: usize = 50_000;

/// Options shared by every command that opens the archive (serve, user, token, ...).
#[derive(Args, Debug, Clone, Default)]
pub struct SettingsArgs {
    /// TOML file with any of the settings below (keys in snake_case, e.g. `bind = "0.0.0.0:8080"`).
    #[arg(long, env = "HOLDFAST_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address and port the web server listens on [default: 127.0.0.1:8080].
    #[arg(long, env = "HOLDFAST_BIND", global = true)]
    pub bind: Option<String>,
    /// Folder for all data: the SQLite database, the OCFL storage root, staging and mail [default: ./holdfast-data].
    #[arg(long, env = "HOLDFAST_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Folder for what every node of a cluster must see alike: staged uploads (resumable
    /// tus uploads included) and ticket attachments. With several `holdfast serve` nodes,
    /// point them all at one shared filesystem (NFS, CephFS, ...) here [default: DATA_DIR].
    #[arg(long, env = "HOLDFAST_SHARED_DIR", global = true)]
    pub shared_dir: Option<PathBuf>,
    /// Database URL: `sqlite://PATH` or `postgres://user@host/db` [default: sqlite://DATA_DIR/holdfast.db].
    #[arg(long, env = "HOLDFAST_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Public URL of this archive, used in links, DOIs' landing pages and mail [default: http://BIND].
    #[arg(long, env = "HOLDFAST_BASE_URL", global = true)]
    pub base_url: Option<String>,
    /// Largest single upload in bytes [default: 107374182400 (100 GiB)].
    #[arg(long, env = "HOLDFAST_MAX_UPLOAD_BYTES", global = true)]
    pub max_upload_bytes: Option<u64>,
    /// Hours a resumable (tus) upload is kept after its last received bytes; an
    /// abandoned upload is then removed with its bytes [default: 24].
    #[arg(long, env = "HOLDFAST_UPLOAD_EXPIRY_HOURS", global = true)]
    pub upload_expiry_hours: Option<u64>,
    /// Most bytes a zip may expand to when unpacked [default: 53687091200 (50 GiB)].
    #[arg(long, env = "HOLDFAST_UNZIP_MAX_BYTES", global = true)]
    pub unzip_max_bytes: Option<u64>,
    /// Most entries a zip may hold when unpacked [default: 100000].
    #[arg(long, env = "HOLDFAST_UNZIP_MAX_ENTRIES", global = true)]
    pub unzip_max_entries: Option<u64>,
    /// Highest compression ratio (uncompressed/compressed) accepted when unpacking [default: 200].
    #[arg(long, env = "HOLDFAST_UNZIP_MAX_RATIO", global = true)]
    pub unzip_max_ratio: Option<u64>,
    /// Refuse two files in a dataset whose paths differ only by letter case, so the dataset
    /// can be downloaded onto case-insensitive file systems (Windows, macOS) [default: true].
    #[arg(long, env = "HOLDFAST_CASE_INSENSITIVE_PATHS", global = true)]
    pub case_insensitive_paths: Option<bool>,
    /// DOI prefix new DOIs are minted under; with DataCite, the repository's prefix [default: 10.5072].
    #[arg(long, env = "HOLDFAST_DOI_PREFIX", global = true)]
    pub doi_prefix: Option<String>,
    /// Who registers DOIs: `local` (this archive's own table; findable at once) or
    /// `datacite` (DataCite's REST API, through the job queue) [default: local].
    #[arg(long, env = "HOLDFAST_DOI_PROVIDER", global = true)]
    pub doi_provider: Option<String>,
    /// DataCite REST API base URL: https://api.test.datacite.org (test) or
    /// https://api.datacite.org (production) [default: https://api.test.datacite.org].
    #[arg(long, env = "HOLDFAST_DATACITE_URL", global = true)]
    pub datacite_url: Option<String>,
    /// DataCite repository id (the user name of the REST API's basic authentication).
    #[arg(long, env = "HOLDFAST_DATACITE_REPOSITORY", global = true)]
    pub datacite_repository: Option<String>,
    /// DataCite repository password; prefer the environment variable to the flag.
    #[arg(
        long,
        env = "HOLDFAST_DATACITE_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub datacite_password: Option<String>,
    /// Name of the archive, shown on pages and used as the DataCite publisher [default: holdfast].
    #[arg(long, env = "HOLDFAST_SITE_NAME", global = true)]
    pub site_name: Option<String>,
    /// Whether anyone may create an account on the sign-up page [default: true].
    #[arg(long, env = "HOLDFAST_OPEN_SIGNUP", global = true)]
    pub open_signup: Option<bool>,
    /// Four eyes: nobody reviews (claims, sends back or approves) their own deposit while
    /// the archive has another curator or admin; turn off for a one-person archive [default: true].
    #[arg(long, env = "HOLDFAST_FOUR_EYES", global = true)]
    pub four_eyes: Option<bool>,
    /// Database connection pool size [default: 16].
    #[arg(long, env = "HOLDFAST_DB_POOL_SIZE", global = true)]
    pub db_pool_size: Option<u32>,
    /// Failed sign-ins allowed per account and client address within 15 minutes before sign-in is paused; four times as many per address, twenty times per account [default: 5].
    #[arg(long, env = "HOLDFAST_SIGNIN_MAX_FAILURES", global = true)]
    pub signin_max_failures: Option<u32>,
    /// Background job workers this process runs (validation, mail); 0 runs none, for a
    /// web-only node [default: 2].
    #[arg(long, env = "HOLDFAST_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// First retry delay of a failed job in milliseconds; it doubles per attempt, up to an hour [default: 5000].
    #[arg(long, env = "HOLDFAST_JOB_BACKOFF_MS", global = true)]
    pub job_backoff_ms: Option<u64>,
    /// Folder of standard files overriding the built-in ones [default: ./schemas if present].
    #[arg(long, env = "HOLDFAST_SCHEMAS_DIR", global = true)]
    pub schemas_dir: Option<PathBuf>,
    /// Mail server: `smtp://host:port`, `smtp://user:pass@host:587?tls=starttls` or
    /// `smtps://user:pass@host:465` [default: none; messages are written as .eml files under DATA_DIR/mail].
    #[arg(long, env = "HOLDFAST_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,
    /// Sender address of notifications [default: holdfast@localhost].
    #[arg(long, env = "HOLDFAST_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// Fixity audits: every stored file is re-read and re-hashed within this many days,
    /// least recently checked first, the work spread over the cycle [default: 30].
    #[arg(long, env = "HOLDFAST_FIXITY_CYCLE_DAYS", global = true)]
    pub fixity_cycle_days: Option<f64>,
    /// Most bytes per second the scheduled audit reads, so serving stays fast; 0 = no
    /// limit [default: 52428800 (50 MiB/s)].
    #[arg(long, env = "HOLDFAST_FIXITY_MAX_BYTES_PER_SEC", global = true)]
    pub fixity_max_bytes_per_sec: Option<u64>,
    /// Threads the scheduled audit hashes with; 0 = every core [default: 1].
    #[arg(long, env = "HOLDFAST_FIXITY_THREADS", global = true)]
    pub fixity_threads: Option<usize>,
    /// Seconds between two scheduled audit sweeps [default: 60].
    #[arg(long, env = "HOLDFAST_FIXITY_INTERVAL_SECS", global = true)]
    pub fixity_interval_secs: Option<u64>,
    /// Repair damaged files from a good copy as soon as an audit finds them [default: true].
    #[arg(long, env = "HOLDFAST_FIXITY_AUTO_REPAIR", global = true)]
    pub fixity_auto_repair: Option<bool>,
    /// Replica audits: each partner's copy of each object is challenged (a sample of its
    /// files re-read and hashed with fresh nonces) once within this many seconds [default: 86400].
    #[arg(long, env = "HOLDFAST_CHALLENGE_INTERVAL_SECS", global = true)]
    pub challenge_interval_secs: Option<u64>,
    /// Files sampled per challenged copy, 1 to 64 [default: 4].
    #[arg(long, env = "HOLDFAST_CHALLENGE_SAMPLE", global = true)]
    pub challenge_sample: Option<usize>,
    /// Replication policy: good copies outside this archive each published dataset's
    /// latest version should have; 0 turns the policy off [default: 2].
    #[arg(long, env = "HOLDFAST_REPLICATION_MIN_COPIES", global = true)]
    pub replication_min_copies: Option<u32>,
    /// Hours a dataset may stay below the replication policy before an alert ticket
    /// opens (0 = at once) [default: 24].
    #[arg(long, env = "HOLDFAST_REPLICATION_ALERT_HOURS", global = true)]
    pub replication_alert_hours: Option<f64>,
    /// Replication: seconds between two scheduled pulls of every source [default: 3600].
    #[arg(long, env = "HOLDFAST_REPLICATION_INTERVAL_SECS", global = true)]
    pub replication_interval_secs: Option<u64>,
    /// Replication: files downloaded at once from a source [default: 4].
    #[arg(long, env = "HOLDFAST_REPLICATION_PARALLEL", global = true)]
    pub replication_parallel: Option<usize>,
    /// OAI-PMH: records per ListRecords/ListIdentifiers page.
    #[arg(long, env = "HOLDFAST_OAI_PAGE_SIZE", global = true)]
    pub oai_page_size: Option<usize>,
    /// OAI-PMH Identify's adminEmail (needs a domain with a dot); default: the
    /// mail-from address if it has one, else holdfast@ the base URL's host.
    #[arg(long, env = "HOLDFAST_OAI_ADMIN_EMAIL", global = true)]
    pub oai_admin_email: Option<String>,
    /// ResourceSync: entries per resource list or change list before it is paged with
    /// a sitemap index (the sitemap limit, 50,000, by default).
    #[arg(long, env = "HOLDFAST_RESOURCESYNC_PAGE_SIZE", global = true)]
    pub resourcesync_page_size: Option<usize>,
    /// Where the OCFL storage root lives: unset for local disk under DATA_DIR/ocfl, or
    /// `s3://bucket/prefix` for S3-compatible object storage.
    #[arg(long, env = "HOLDFAST_STORAGE_URL", global = true)]
    pub storage_url: Option<String>,
    /// S3 endpoint, e.g. http://127.0.0.1:8333 [default: https://s3.REGION.amazonaws.com].
    #[arg(long, env = "HOLDFAST_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// S3 region used in request signatures [default: us-east-1].
    #[arg(long, env = "HOLDFAST_S3_REGION", global = true)]
    pub s3_region: Option<String>,
    /// S3 access key id.
    #[arg(long, env = "HOLDFAST_S3_ACCESS_KEY", global = true)]
    pub s3_access_key: Option<String>,
    /// S3 secret key; prefer the environment variable to the flag.
    #[arg(
        long,
        env = "HOLDFAST_S3_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    pub s3_secret_key: Option<String>,
    /// Part size of S3 multipart uploads in bytes, at least 5 MiB [default: 16777216].
    #[arg(long, env = "HOLDFAST_S3_PART_SIZE", global = true)]
    pub s3_part_size: Option<u64>,
    /// Bearer token Prometheus sends to scrape `/metrics`; without it (and without
    /// METRICS_BIND) `/metrics` is not served.
    #[arg(
        long,
        env = "HOLDFAST_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<String>,
    /// A separate address serving only `/metrics`, without a token (an address only the
    /// monitoring network reaches, e.g. 10.0.0.5:9464).
    #[arg(long, env = "HOLDFAST_METRICS_BIND", global = true)]
    pub metrics_bind: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The same settings as read from a config file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    data_dir: Option<PathBuf>,
    shared_dir: Option<PathBuf>,
    database_url: Option<String>,
    base_url: Option<String>,
    max_upload_bytes: Option<u64>,
    upload_expiry_hours: Option<u64>,
    unzip_max_bytes: Option<u64>,
    unzip_max_entries: Option<u64>,
    unzip_max_ratio: Option<u64>,
    case_insensitive_paths: Option<bool>,
    doi_prefix: Option<String>,
    doi_provider: Option<String>,
    datacite_url: Option<String>,
    datacite_repository: Option<String>,
    datacite_password: Option<String>,
    site_name: Option<String>,
    open_signup: Option<bool>,
    four_eyes: Option<bool>,
    db_pool_size: Option<u32>,
    signin_max_failures: Option<u32>,
    workers: Option<usize>,
    job_backoff_ms: Option<u64>,
    schemas_dir: Option<PathBuf>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    fixity_cycle_days: Option<f64>,
    fixity_max_bytes_per_sec: Option<u64>,
    fixity_threads: Option<usize>,
    fixity_interval_secs: Option<u64>,
    fixity_auto_repair: Option<bool>,
    challenge_interval_secs: Option<u64>,
    challenge_sample: Option<usize>,
    replication_min_copies: Option<u32>,
    replication_alert_hours: Option<f64>,
    oai_page_size: Option<usize>,
    downloads_max_total: Option<usize>,
    downloads_max_per_address: Option<usize>,
    uploads_max_per_account: Option<usize>,
    body_idle_timeout_secs: Option<u64>,
    oai_admin_email: Option<String>,
    resourcesync_page_size: Option<usize>,
    replication_interval_secs: Option<u64>,
    replication_parallel: Option<usize>,
    storage_url: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_access_key: Option<String>,
    s3_secret_key: Option<String>,
    s3_part_size: Option<u64>,
    metrics_token: Option<String>,
    metrics_bind: Option<String>,
}

/// Who registers this archive's DOIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoiProviderKind {
    /// The archive's own table is the registry: states change there at once.
    Local,
    /// DataCite's REST API, called from `register-doi` jobs.
    Datacite,
}

impl DoiProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DoiProviderKind::Local => "local",
            DoiProviderKind::Datacite => "datacite",
        }
    }
}

/// How to reach DataCite's REST API.
#[derive(Debug, Clone)]
pub struct DataciteSettings {
    /// Base URL without a trailing slash, e.g. `https://api.test.datacite.org`.
    pub url: String,
    /// Repository id, e.g. `EXAMPLE.ARCHIVE`.
    pub repository: String,
    pub password: Secret,
}

pub const DATACITE_TEST_URL: &str = "https://api.test.datacite.org";

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub data_dir: PathBuf,
    /// Staging and attachments: shared by all nodes of a cluster (default: data_dir).
    pub shared_dir: PathBuf,
    pub database_url: String,
    pub base_url: String,
    pub max_upload_bytes: u64,
    /// Lifetime of an unfinished resumable upload since its last PATCH.
    pub upload_expiry_hours: u64,
    pub unzip_max_bytes: u64,
    pub unzip_max_entries: u64,
    pub unzip_max_ratio: u64,
    pub case_insensitive_paths: bool,
    pub doi_prefix: String,
    pub doi_provider: DoiProviderKind,
    /// Set when `doi_provider` is DataCite.
    pub datacite: Option<DataciteSettings>,
    pub site_name: String,
    pub open_signup: bool,
    /// Nobody reviews their own deposit while someone else can.
    pub four_eyes: bool,
    pub db_pool_size: u32,
    pub signin_max_failures: u32,
    pub workers: usize,
    pub job_backoff_ms: u64,
    pub schemas_dir: Option<PathBuf>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub oai_page_size: usize,
    pub oai_admin_email: String,
    pub resourcesync_page_size: usize,
    pub fixity: FixitySettings,
    pub replication: ReplicationSettings,
    /// How often the scheduled pull of replication sources runs.
    pub replication_interval: std::time::Duration,
    /// Files a pull downloads at once.
    pub replication_parallel: usize,
    /// Set when the OCFL root is on S3-compatible storage (HOLDFAST_STORAGE_URL).
    pub s3: Option<crate::storage::S3Settings>,
    /// Who may read `/metrics` on the main address (see [`SettingsArgs::metrics_token`]).
    pub metrics_token: Option<Secret>,
    /// A separate, token-free address for `/metrics`.
    pub metrics_bind: Option<String>,
    pub limits: LimitSettings,
}

/// How the scheduled fixity audit runs (see src/fixity).
#[derive(Debug, Clone)]
pub struct FixitySettings {
    /// Every stored file is verified within this period.
    pub cycle: chrono::Duration,
    /// Byte rate limit of the scheduled audit; None = unlimited.
    pub max_bytes_per_sec: Option<u64>,
    /// Hashing threads of the scheduled audit (at least 1).
    pub threads: usize,
    /// Time between two sweeps.
    pub interval: std::time::Duration,
    pub auto_repair: bool,
}

/// Replica audits and the replication policy (see src/federation/challenge.rs, policy.rs).
#[derive(Debug, Clone)]
pub struct ReplicationSettings {
    /// Each copy is challenged once within this period.
    pub challenge_interval: std::time::Duration,
    /// Files sampled per challenged copy.
    pub challenge_sample: usize,
    /// Good copies outside the origin a published dataset should have (0: no policy).
    pub min_copies: u32,
    /// How long a dataset may stay below the policy before its alert ticket opens.
    pub alert_after: chrono::Duration,
}

/// Most files one challenge may name (a replica refuses more).
pub const MAX_CHALLENGE_SAMPLE: usize = 64;

impl Settings {
    pub fn load(args: &SettingsArgs) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let bind = pick(args.bind.clone(), file.bind, "127.0.0.1:8080".into());
        let data_dir = pick(args.data_dir.clone(), file.data_dir, "holdfast-data".into());
        let shared_dir = args
            .shared_dir
            .clone()
            .or(file.shared_dir)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| data_dir.clone());
        let default_db = format!("sqlite://{}", data_dir.join("holdfast.db").display());
        let database_url = pick(args.database_url.clone(), file.database_url, default_db);
        let base_url = pick(
            args.base_url.clone(),
            file.base_url,
            format!("http://{bind}"),
        )
        .trim_end_matches('/')
        .to_string();
        let doi_prefix = pick(args.doi_prefix.clone(), file.doi_prefix, "10.5072".into());
        if !is_doi_prefix(&doi_prefix) {
            anyhow::bail!("HOLDFAST_DOI_PREFIX '{doi_prefix}' is not a DOI prefix like 10.5072");
        }
        let provider_name = pick(args.doi_provider.clone(), file.doi_provider, "local".into());
        let doi_provider = match provider_name.trim().to_ascii_lowercase().as_str() {
            "local" => DoiProviderKind::Local,
            "datacite" => DoiProviderKind::Datacite,
            other => anyhow::bail!(
                "HOLDFAST_DOI_PROVIDER '{other}' is not a DOI provider; use local or datacite"
            ),
        };
        let datacite = match doi_provider {
            DoiProviderKind::Local => None,
            DoiProviderKind::Datacite => Some(datacite_settings(
                args.datacite_url.clone().or(file.datacite_url),
                args.datacite_repository
                    .clone()
                    .or(file.datacite_repository),
                args.datacite_password.clone().or(file.datacite_password),
            )?),
        };
        let smtp_url = args
            .smtp_url
            .clone()
            .or(file.smtp_url)
            .filter(|u| !u.trim().is_empty());
        let mail_from = pick(
            args.mail_from.clone(),
            file.mail_from,
            "holdfast@localhost".into(),
        );
        smtp::validate_settings(smtp_url.as_deref(), &mail_from).map_err(|e| anyhow::anyhow!(e))?;
        let oai_admin_email = oai::admin_email(
            args.oai_admin_email
                .as_deref()
                .or(file.oai_admin_email.as_deref()),
            &mail_from,
            &base_url,
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        let cycle_days = pick(args.fixity_cycle_days, file.fixity_cycle_days, 30.0);
        if !(cycle_days.is_finite() && cycle_days > 0.0 && cycle_days <= 36_500.0) {
            anyhow::bail!(
                "HOLDFAST_FIXITY_CYCLE_DAYS '{cycle_days}' must be a number of days above 0"
            );
        }
        let fixity_cycle = chrono::Duration::milliseconds((cycle_days * 86_400_000.0) as i64);
        let alert_hours = pick(
            args.replication_alert_hours,
            file.replication_alert_hours,
            24.0,
        );
        if !(alert_hours.is_finite() && (0.0..=876_000.0).contains(&alert_hours)) {
            anyhow::bail!(
                "HOLDFAST_REPLICATION_ALERT_HOURS '{alert_hours}' must be a number of hours, 0 or more"
            );
        }
        let challenge_sample = pick(args.challenge_sample, file.challenge_sample, 4);
        if !(1..=MAX_CHALLENGE_SAMPLE).contains(&challenge_sample) {
            anyhow::bail!(
                "HOLDFAST_CHALLENGE_SAMPLE '{challenge_sample}' must be 1 to {MAX_CHALLENGE_SAMPLE} files"
            );
        }
        let s3 = match args
            .storage_url
            .clone()
            .or(file.storage_url)
            .filter(|u| !u.trim().is_empty())
        {
            None => None,
            Some(url) => Some(
                crate::storage::S3Settings::new(
                    &url,
                    args.s3_endpoint.clone().or(file.s3_endpoint),
                    args.s3_region.clone().or(file.s3_region),
                    args.s3_access_key.clone().or(file.s3_access_key),
                    args.s3_secret_key.clone().or(file.s3_secret_key),
                    args.s3_part_size.or(file.s3_part_size),
                )
                .map_err(|e| anyhow::anyhow!(e))?,
            ),
        };
        Ok(Settings {
            bind,
            data_dir,
            shared_dir,
            database_url,
            base_url,
            max_upload_bytes: pick(args.max_upload_bytes, file.max_upload_bytes, 100 << 30),
            upload_expiry_hours: pick(args.upload_expiry_hours, file.upload_expiry_hours, 24)
                .max(1),
            unzip_max_bytes: pick(args.unzip_max_bytes, file.unzip_max_bytes, 50 << 30),
            unzip_max_entries: pick(args.unzip_max_entries, file.unzip_max_entries, 100_000),
            unzip_max_ratio: pick(args.unzip_max_ratio, file.unzip_max_ratio, 200),
            case_insensitive_paths: pick(
                args.case_insensitive_paths,
                file.case_insensitive_paths,
                true,
            ),
            doi_prefix,
            doi_provider,
            datacite,
            site_name: pick(args.site_name.clone(), file.site_name, "holdfast".into()),
            open_signup: pick(args.open_signup, file.open_signup, true),
            four_eyes: pick(args.four_eyes, file.four_eyes, true),
            db_pool_size: pick(args.db_pool_size, file.db_pool_size, 16).max(2),
            signin_max_failures: pick(args.signin_max_failures, file.signin_max_failures, 5).max(1),
            workers: pick(args.workers, file.workers, 2),
            job_backoff_ms: pick(args.job_backoff_ms, file.job_backoff_ms, 5000).max(1),
            schemas_dir: args.schemas_dir.clone().or(file.schemas_dir),
            smtp_url,
            oai_page_size: pick(args.oai_page_size, file.oai_page_size, 100).clamp(1, 1000),
            resourcesync_page_size: pick(
                args.resourcesync_page_size,
                file.resourcesync_page_size,
                SITEMAP_LIMIT,
            )
            .clamp(1, SITEMAP_LIMIT),
            oai_admin_email,
            mail_from,
            fixity: FixitySettings {
                cycle: fixity_cycle,
                max_bytes_per_sec: Some(pick(
                    args.fixity_max_bytes_per_sec,
                    file.fixity_max_bytes_per_sec,
                    50 << 20,
                ))
                .filter(|r| *r > 0),
                threads: match pick(args.fixity_threads, file.fixity_threads, 1) {
                    0 => all_cores(),
                    n => n,
                },
                interval: std::time::Duration::from_secs(
                    pick(args.fixity_interval_secs, file.fixity_interval_secs, 60).max(1),
                ),
                auto_repair: pick(args.fixity_auto_repair, file.fixity_auto_repair, true),
            },
            replication: ReplicationSettings {
                challenge_interval: std::time::Duration::from_secs(
                    pick(
                        args.challenge_interval_secs,
                        file.challenge_interval_secs,
                        86_400,
                    )
                    .max(1),
                ),
                challenge_sample,
                min_copies: pick(args.replication_min_copies, file.replication_min_copies, 2),
                alert_after: chrono::Duration::milliseconds((alert_hours * 3_600_000.0) as i64),
            },
            replication_interval: std::time::Duration::from_secs(
                pick(
                    args.replication_interval_secs,
                    file.replication_interval_secs,
                    3600,
                )
                .max(1),
            ),
            replication_parallel: pick(args.replication_parallel, file.replication_parallel, 4)
                .clamp(1, 64),
            s3,
            metrics_token: args
                .metrics_token
                .clone()
                .or(file.metrics_token)
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            metrics_bind: args
                .metrics_bind
                .clone()
                .or(file.metrics_bind)
                .filter(|b| !b.is_empty()),
            limits: LimitSettings::pick(
                &args.limits,
                limits::LimitFile {
                    downloads_max_total: file.downloads_max_total,
                    downloads_max_per_address: file.downloads_max_per_address,
                    uploads_max_per_account: file.uploads_max_per_account,
                    body_idle_timeout_secs: file.body_idle_timeout_secs,
                },
            ),
        })
    }

    pub fn ocfl_dir(&self) -> PathBuf {
        self.data_dir.join("ocfl")
    }

    /// Temporary copies of stored objects (validation and repair on a remote store).
    pub fn temp_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    /// Replicas of other archives on local disk: one OCFL root per source.
    pub fn replicas_dir(&self) -> PathBuf {
        self.data_dir.join("replicas")
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.shared_dir.join("staging")
    }

    /// Where mail goes as .eml files when no SMTP server is configured.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// Comment attachments on tickets.
    pub fn attachments_dir(&self) -> PathBuf {
        self.shared_dir.join("attachments")
    }

    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

/// The number of cores this process may use.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn pick<T>(flag_or_env: Option<T>, file: Option<T>, default: T) -> T {
    flag_or_env.or(file).unwrap_or(default)
}

/// DataCite needs a repository id and password; the URL defaults to the test API.
fn datacite_settings(
    url: Option<String>,
    repository: Option<String>,
    password: Option<String>,
) -> anyhow::Result<DataciteSettings> {
    let url = url
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DATACITE_TEST_URL.into())
        .trim()
        .trim_end_matches('/')
        .to_string();
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.contains(char::is_whitespace)
    {
        anyhow::bail!(
            "HOLDFAST_DATACITE_URL '{url}' is not an http(s) URL like {DATACITE_TEST_URL}"
        );
    }
    let repository = repository
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "HOLDFAST_DOI_PROVIDER=datacite needs HOLDFAST_DATACITE_REPOSITORY (the repository id, e.g. EXAMPLE.ARCHIVE)"
            )
        })?;
    if repository.contains(':') {
        anyhow::bail!("HOLDFAST_DATACITE_REPOSITORY '{repository}' cannot contain ':'");
    }
    let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
        anyhow::anyhow!("HOLDFAST_DOI_PROVIDER=datacite needs HOLDFAST_DATACITE_PASSWORD")
    })?;
    Ok(DataciteSettings {
        url,
        repository,
        password: Secret::new(password),
    })
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("config file {} is not valid: {e}", path.display()))
}

fn is_doi_prefix(prefix: &str) -> bool {
    let Some(rest) = prefix.strip_prefix("10.") else {
        return false;
    };
    !rest.is_empty()
        && rest
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_flags_win_over_file() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("holdfast.toml");
        std::fs::write(
            &file,
            "bind = \"0.0.0.0:9000\"\nsite_name = \"Flux Archive\"\n",
        )?;
        let args = SettingsArgs {
            config: Some(file),
            bind: Some("127.0.0.1:7000".into()),
            ..Default::default()
        };
        let s = Settings::load(&args)?;
        assert_eq!(s.bind, "127.0.0.1:7000");
        assert_eq!(s.site_name, "Flux Archive");
        assert_eq!(s.base_url, "http://127.0.0.1:7000");
        assert_eq!(s.doi_prefix, "10.5072");
        assert!(s.database_url.starts_with("sqlite://"));
        Ok(())
    }

    #[test]
    fn unknown_file_keys_and_bad_prefix_are_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "bnid = \"x\"\n")?;
        let args = SettingsArgs {
            config: Some(file),
            ..Default::default()
        };
        assert!(Settings::load(&args).is_err());
        let args = SettingsArgs {
            doi_prefix: Some("11.5072".into()),
            ..Default::default()
        };
        assert!(Settings::load(&args).is_err());
        Ok(())
    }

    #[test]
    fn datacite_needs_its_credentials_and_hides_the_password() -> anyhow::Result<()> {
        let s = Settings::load(&SettingsArgs::default())?;
        assert_eq!(s.doi_provider, DoiProviderKind::Local);
        assert!(s.datacite.is_none());
        let mut args = SettingsArgs {
            doi_provider: Some("datacite".into()),
            datacite_repository: Some("EXAMPLE.ARCHIVE".into()),
            ..Default::default()
        };
        assert!(Settings::load(&args).is_err(), "a password is required");
        args.datacite_password = Some("s3cret-pass".into());
        let s = Settings::load(&args)?;
        assert_eq!(s.doi_provider, DoiProviderKind::Datacite);
        let dc = s
            .datacite
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("datacite settings"))?;
        assert_eq!(dc.url, DATACITE_TEST_URL);
        assert_eq!(dc.password.expose(), "s3cret-pass");
        assert!(!format!("{s:?}").contains("s3cret-pass"));
        args.datacite_url = Some("ftp://example.org".into());
        assert!(Settings::load(&args).is_err());
        args.datacite_url = Some("https://api.datacite.org/".into());
        assert_eq!(
            Settings::load(&args)?.datacite.map(|d| d.url).as_deref(),
            Some("https://api.datacite.org")
        );
        args.doi_provider = Some("crossref".into());
        assert!(Settings::load(&args).is_err());
        Ok(())
    }
}
