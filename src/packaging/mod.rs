//! Whole-version packages: every file of a dataset version in one zip, or as a BagIt 1.0
//! bag (RFC 8493) inside a zip, streamed while it is built.
//!
//! Nothing is staged: a thread of its own writes the zip with zip's streaming writer (data
//! descriptors, so nothing is ever rewritten) into a bounded channel that the response
//! body reads. Files are copied one at a time from storage in 128 KiB chunks and stored
//! uncompressed (data files are often compressed already, and storing keeps the CPU for
//! CRC-32 only), with zip64 structures where sizes, offsets or the entry count need them.
//! Memory is the channel's few chunks plus the central directory's one small record per
//! entry, whatever the size of the files. A client that goes away stops the thread at
//! its next chunk.
//!
//! A bag's manifest comes from the digests recorded at ingest, so no file is read twice.

mod bagit;

use bytes::{Bytes, BytesMut};
use chrono::{Datelike, NaiveDateTime, Timelike};
use futures_util::StreamExt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use zip_stream::write::SimpleFileOptions;
use zip_stream::{CompressionMethod, DateTime, ZipWriter};

use crate::storage::{BlobStore, ByteStream};

pub use self::bagit::{bag_size, BagInfo};

/// Size of the chunks handed to the response, and of file reads.
const CHUNK: usize = 128 * 1024;
/// Chunks that may wait between the zip writer and the network (256 KiB): what a
/// client that stops reading holds, besides the chunk being written.
const QUEUED_CHUNKS: usize = 2;

/// Where the bytes of one file are.
#[derive(Clone, Debug)]
pub enum Source {
    /// A key in the object store (a published version's OCFL content).
    Stored(String),
    /// A local file (a draft's staged upload).
    Local(PathBuf),
}

/// One file of the version, as recorded in the database.
#[derive(Clone, Debug)]
pub struct PackageFile {
    /// Path inside the dataset, e.g. `data/site A/2020.csv` (already validated).
    pub path: String,
    pub size: u64,
    /// Lowercase hex sha256 recorded when the file was ingested.
    pub sha256: String,
    pub source: Source,
}

/// What to build.
#[derive(Clone, Debug)]
pub enum Package {
    /// The files at their dataset paths.
    Zip,
    /// A BagIt 1.0 bag named `info.name`: tag files, then the files under `data/`.
    Bag(BagInfo),
}

/// Streams the package of `files`. Errors after the first byte (a missing or changed
/// stored file) end the stream with an error, so the client sees a broken transfer
/// rather than a complete-looking archive.
pub fn stream(
    store: Arc<dyn BlobStore>,
    files: Vec<PackageFile>,
    package: Package,
    modified: NaiveDateTime,
) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(QUEUED_CHUNKS);
    let handle = tokio::runtime::Handle::current();
    let errors = tx.clone();
    // A thread of its own, not one of the runtime's blocking threads: those also run
    // the database calls, and a client that stops reading parks this thread. The web
    // layer caps how many packages are built at once.
    let thread = std::thread::Builder::new()
        .name("package".into())
        .spawn(move || {
            let out = ChannelWriter {
                tx,
                buf: BytesMut::with_capacity(CHUNK),
            };
            let source = Reader {
                handle,
                store: store.as_ref(),
            };
            if let Err(e) = write_package(out, &source, &files, &package, modified) {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    tracing::debug!("a package download ended early: the client went away");
                } else {
                    tracing::error!(error = %e, "building a package failed part way");
                    let _ = errors.blocking_send(Err(e));
                }
            }
        });
    if let Err(e) = thread {
        tracing::error!(error = %e, "no thread to build a package");
        return futures_util::stream::once(async move { Err(e) }).boxed();
    }
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// Hands the zip's bytes to the response in chunks; fails with `BrokenPipe` once the
/// response is gone.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: BytesMut,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Reads files from the object store (or local disk) on the packaging thread.
struct Reader<'a> {
    handle: tokio::runtime::Handle,
    store: &'a dyn BlobStore,
}

impl Reader<'_> {
    /// Copies the file into `out`, checking it has exactly the recorded size.
    fn copy(&self, file: &PackageFile, out: &mut impl Write) -> io::Result<()> {
        let copied = match &file.source {
            Source::Local(path) => copy_local(path, file.size, out)?,
            Source::Stored(key) => match self.store.local_path(key) {
                Some(path) => copy_local(&path, file.size, out)?,
                None => self.copy_stored(key, file.size, out)?,
            },
        };
        if copied != file.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} should have {} bytes but storage gave {copied}{}",
                    file.path,
                    file.size,
                    if copied > file.size { " or more" } else { "" }
                ),
            ));
        }
        Ok(())
    }

    /// Streams an object from a store that is not on local disk.
    fn copy_stored(&self, key: &str, size: u64, out: &mut impl Write) -> io::Result<u64> {
        let mut body = self
            .handle
            .block_on(self.store.get_range(key, None))
            .map_err(|e| io::Error::other(format!("opening {key}: {e}")))?;
        let mut total = 0u64;
        while let Some(chunk) = self.handle.block_on(body.next()) {
            let chunk = chunk?;
            total += chunk.len() as u64;
            if total > size {
                break; // the caller reports the mismatch; no need to read on
            }
            out.write_all(&chunk)?;
        }
        Ok(total)
    }
}

/// Copies a local file; stops once it is longer than `size`. Returns the bytes read.
fn copy_local(path: &std::path::Path, size: u64, out: &mut impl Write) -> io::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if total > size {
            return Ok(total);
        }
        out.write_all(&buf[..n])?;
    }
}

/// A zip timestamp (local time without zone, 2-second steps, 1980–2107).
fn zip_time(t: NaiveDateTime) -> DateTime {
    let fit = |v: u32| u8::try_from(v).unwrap_or(0);
    u16::try_from(t.year())
        .ok()
        .and_then(|year| {
            DateTime::from_date_and_time(
                year,
                fit(t.month()),
                fit(t.day()),
                fit(t.hour()),
                fit(t.minute()),
                fit(t.second()),
            )
            .ok()
        })
        .unwrap_or_default()
}

fn write_package(
    out: ChannelWriter,
    reader: &Reader<'_>,
    files: &[PackageFile],
    package: &Package,
    modified: NaiveDateTime,
) -> io::Result<()> {
    let mut zip = ZipWriter::new_stream(out);
    let stamp = zip_time(modified);
    let options = |size: u64| {
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(stamp)
            .unix_permissions(0o644)
            .large_file(size >= u64::from(u32::MAX))
    };
    let payload_prefix = match package {
        Package::Zip => String::new(),
        Package::Bag(info) => {
            let name = &info.name;
            let mut tags = bagit::TagManifest::default();
            let bagit_txt = bagit::declaration();
            let bag_info = info.bag_info_txt(files);
            for (file, body) in [
                ("bagit.txt", bagit_txt.as_bytes()),
                ("bag-info.txt", bag_info.as_bytes()),
            ] {
                zip.start_file(format!("{name}/{file}"), options(body.len() as u64))?;
                zip.write_all(body)?;
                tags.add(file, body);
            }
            // The manifest is written line by line while it is hashed, so a version of
            // many files never holds it whole.
            zip.start_file(format!("{name}/{}", bagit::MANIFEST), options(0))?;
            let digest = bagit::write_manifest(files, &mut zip)?;
            tags.add_digest(bagit::MANIFEST, digest);
            let tag_manifest = tags.render();
            zip.start_file(
                format!("{name}/{}", bagit::TAG_MANIFEST),
                options(tag_manifest.len() as u64),
            )?;
            zip.write_all(tag_manifest.as_bytes())?;
            format!("{name}/data/")
        }
    };
    for file in files {
        zip.start_file(format!("{payload_prefix}{}", file.path), options(file.size))?;
        reader.copy(file, &mut zip)?;
    }
    let mut out = zip.finish()?.into_inner();
    out.flush()
}

#[cfg(test)]
mod tests;
