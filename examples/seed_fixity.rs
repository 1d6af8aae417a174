//! Fills an archive with published datasets and their stored bytes for
//! `scripts/bench fixity`.
//!
//! Each dataset is created through the deposit domain, its files (random bytes, so
//! nothing can take shortcuts on them) committed as OCFL version v1 with
//! `OcflRoot::commit_version` (copied, re-hashed and fsynced like a publication's),
//! listed as the version's files, switched to published directly in the database (no
//! HTTP, no curation, no DOI registrations), and put in the fixity register as a
//! publication registers them. Several datasets are committed at once: seeding 100,000
//! small files is bound by fsync, not by the CPU.
//!
//!     cargo run --release --example seed_fixity -- --files 100000 --bytes 4096 \
//!         --per-dataset 1000   (HOLDFAST_* settings)

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use diesel::prelude::*;
use futures_util::{StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::Digest as _;

use holdfast::accounts::{users, Role};
use holdfast::app::Archive;
use holdfast::config::{Settings, SettingsArgs};
use holdfast::db::schema::{dataset_versions, datasets, version_files};
use holdfast::deposit::metadata::{Creator, Description, Metadata, Rights, Title, Types};
use holdfast::deposit::service;
use holdfast::error::DomainError;
use holdfast::fixity::{Kind, NewStoredFile};
use holdfast::storage::ocfl::{FileSource, NewFile, NewVersion};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    settings: SettingsArgs,
    /// How many files to store in all.
    #[arg(long)]
    files: usize,
    /// Size of each file in bytes.
    #[arg(long)]
    bytes: u64,
    /// Files per dataset (the last dataset may have fewer).
    #[arg(long, default_value_t = 1000)]
    per_dataset: usize,
    /// Datasets committed at the same time.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Random seed (the same seed gives the same bytes).
    #[arg(long, default_value_t = 5)]
    seed: u64,
}

fn metadata(n: usize) -> Metadata {
    Metadata {
        titles: vec![Title {
            title: format!("Fixity benchmark dataset {n}"),
            ..Default::default()
        }],
        creators: vec![Creator {
            name: "Bench, Seed".into(),
            name_type: Some("Personal".into()),
            ..Default::default()
        }],
        descriptions: vec![Description {
            description: "Random bytes stored to measure fixity audits.".into(),
            description_type: "Abstract".into(),
            ..Default::default()
        }],
        types: Some(Types {
            resource_type_general: "Dataset".into(),
            ..Default::default()
        }),
        rights_list: vec![Rights {
            rights_identifier: Some("CC0-1.0".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Writes `count` random files of `bytes` bytes under `dir`; returns (logical path,
/// source path, sha256).
fn write_sources(
    dir: &std::path::Path,
    first: usize,
    count: usize,
    bytes: u64,
    seed: u64,
) -> std::io::Result<Vec<(String, PathBuf, String)>> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut rng = StdRng::seed_from_u64(seed ^ first as u64);
    let mut buf = vec![0u8; (bytes as usize).min(1 << 20)];
    let mut out = Vec::with_capacity(count);
    for i in first..first + count {
        let logical = format!("data/file-{i:07}.bin");
        let path = dir.join(format!("file-{i:07}.bin"));
        let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut hasher = sha2::Sha256::new();
        let mut left = bytes;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            rng.fill_bytes(&mut buf[..n]);
            hasher.update(&buf[..n]);
            f.write_all(&buf[..n])?;
            left -= n as u64;
        }
        f.flush()?;
        out.push((logical, path, hex::encode(hasher.finalize())));
    }
    Ok(out)
}

/// One dataset: create, commit its files, publish and register.
async fn seed_dataset(
    archive: Arc<Archive>,
    owner: holdfast::accounts::users::User,
    args: Arc<Args>,
    n: usize,
) -> anyhow::Result<usize> {
    let first = n * args.per_dataset;
    let count = args.per_dataset.min(args.files - first);
    let sources_dir = archive.settings.data_dir.join(format!("seed-sources-{n}"));
    let (bytes, seed, dir) = (args.bytes, args.seed, sources_dir.clone());
    let sources =
        tokio::task::spawn_blocking(move || write_sources(&dir, first, count, bytes, seed))
            .await??;
    let id = archive
        .db
        .transaction(move |conn| service::create(conn, &owner, metadata(n)))
        .await?;
    let doi = format!("10.5072/bench-fixity-{id}");
    let object_id = format!("doi:{doi}");
    let committed = archive
        .ocfl
        .commit_version(
            &object_id,
            NewVersion {
                created: Utc::now(),
                message: "benchmark seed".into(),
                user_name: "Bench Seed".into(),
                user_address: None,
                files: sources
                    .iter()
                    .map(|(logical, path, sha)| NewFile {
                        logical_path: logical.clone(),
                        sha256: sha.clone(),
                        source: FileSource::Local(path.clone()),
                    })
                    .collect(),
            },
        )
        .await?;
    let (inventory_sha256, inventory_size) = archive
        .ocfl
        .inventory_digest(&object_id)
        .await?
        .context("the committed object has no inventory")?;
    tokio::fs::remove_dir_all(&sources_dir).await?;
    let version_inventory = format!("v{}/inventory.json", committed.version);
    let ocfl_version = i32::try_from(committed.version)?;
    let inventory_size = i64::try_from(inventory_size)?;
    let size = i64::try_from(args.bytes)?;
    archive
        .db
        .transaction(move |conn| {
            let now = Utc::now().naive_utc();
            let version_id: i64 = dataset_versions::table
                .filter(dataset_versions::dataset_id.eq(id))
                .select(dataset_versions::id)
                .first(conn)?;
            let content: Vec<String> = sources
                .iter()
                .map(|(logical, _, _)| format!("v{ocfl_version}/content/{logical}"))
                .collect();
            for (chunk, paths) in sources.chunks(500).zip(content.chunks(500)) {
                let rows: Vec<_> = chunk
                    .iter()
                    .zip(paths)
                    .map(|((logical, _, sha), content_path)| {
                        (
                            version_files::version_id.eq(version_id),
                            version_files::path.eq(logical),
                            version_files::case_key.eq(logical.to_lowercase()),
                            version_files::size.eq(size),
                            version_files::sha256.eq(sha),
                            version_files::media_type.eq("application/octet-stream"),
                            version_files::content_path.eq(Some(content_path)),
                            version_files::created_at.eq(now),
                            version_files::folder.eq(service::folder_of(logical)),
                        )
                    })
                    .collect();
                holdfast::insert_batch!(conn, holdfast::db::schema::version_files, rows)?;
            }
            let mut folders = service::FolderChanges::new();
            for (logical, _, _) in &sources {
                service::note_folder_change(&mut folders, logical, 1, size);
            }
            service::apply_folder_changes(conn, version_id, &folders)?;
            diesel::update(dataset_versions::table.find(version_id))
                .set((
                    dataset_versions::published_at.eq(now),
                    dataset_versions::doi.eq(&doi),
                    dataset_versions::ocfl_version.eq(ocfl_version),
                ))
                .execute(conn)?;
            diesel::update(datasets::table.find(id))
                .set((
                    datasets::state.eq("published"),
                    datasets::concept_doi.eq(format!("{doi}-c")),
                    datasets::ocfl_object_id.eq(&object_id),
                ))
                .execute(conn)?;
            let mut rows: Vec<NewStoredFile> = sources
                .iter()
                .zip(&content)
                .map(|((_, _, sha), content_path)| NewStoredFile {
                    kind: Kind::Content,
                    content_path,
                    sha256: sha,
                    size,
                })
                .collect();
            for path in ["inventory.json", version_inventory.as_str()] {
                rows.push(NewStoredFile {
                    kind: Kind::Inventory,
                    content_path: path,
                    sha256: &inventory_sha256,
                    size: inventory_size,
                });
            }
            holdfast::fixity::files::register(conn, id, &object_id, &rows)?;
            Ok::<(), DomainError>(())
        })
        .await?;
    Ok(count)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.per_dataset > 0, "--per-dataset must be at least 1");
    let settings = Settings::load(&args.settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let archive = Arc::new(Archive::open(settings).await?);
        let email = "bench-seed@example.org";
        let owner = archive
            .db
            .run(move |conn| match users::find_by_email(conn, email)? {
                Some(u) => Ok(u),
                None => users::create(
                    conn,
                    email,
                    "Bench Seed",
                    Role::Depositor,
                    "a bench password only",
                ),
            })
            .await?;
        let started = std::time::Instant::now();
        let datasets = args.files.div_ceil(args.per_dataset);
        let parallel = args.parallel.max(1);
        let args = Arc::new(args);
        let mut done = 0;
        let mut seeded = futures_util::stream::iter(0..datasets)
            .map(|n| seed_dataset(archive.clone(), owner.clone(), args.clone(), n))
            .buffer_unordered(parallel);
        while let Some(count) = seeded.try_next().await? {
            done += count;
            eprint!("\rseeded {done}/{} files", args.files);
        }
        eprintln!(
            "\rseeded {} files of {} bytes in {datasets} published dataset(s) in {:.1} s",
            args.files,
            args.bytes,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })
}
