use super::*;
use crate::storage::LocalDiskStore;
use bytes::Bytes;
use std::io::{Cursor, Read};

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn when() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
        .and_then(|d| d.and_hms_opt(10, 30, 0))
        .expect("valid time")
}

async fn collect(stream: ByteStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// A store with the given files; returns it and the package's file list.
async fn store_with(
    dir: &std::path::Path,
    files: &[(&str, &[u8])],
) -> (Arc<dyn BlobStore>, Vec<PackageFile>) {
    let store: Arc<dyn BlobStore> = Arc::new(LocalDiskStore::new(dir).expect("store"));
    let mut list = Vec::new();
    for (i, (path, bytes)) in files.iter().enumerate() {
        let key = format!("obj/v1/content/{i}");
        store
            .put_bytes(&key, Bytes::copy_from_slice(bytes))
            .await
            .expect("put");
        list.push(PackageFile {
            path: path.to_string(),
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            source: Source::Stored(key),
        });
    }
    (store, list)
}

fn read_entries(zip_bytes: Vec<u8>) -> Vec<(String, Vec<u8>, zip::CompressionMethod)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes)).expect("a readable zip");
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let mut body = Vec::new();
        entry.read_to_end(&mut body).expect("entry body");
        out.push((entry.name().to_string(), body, entry.compression()));
    }
    out
}

const FILES: &[(&str, &[u8])] = &[
    ("README.txt", b"read me\n"),
    ("data/2019/fluxes.csv", b"TIMESTAMP,FC\n201901010000,1.5\n"),
    ("data/site A/12:00 100%.csv", b"x\n"),
    ("docs/Übersicht.md", b"# \xc3\x9cbersicht\n"),
    ("empty.dat", b""),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_holds_every_file_at_its_path_uncompressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, files) = store_with(dir.path(), FILES).await;
    let bytes = collect(stream(store, files, Package::Zip, when()))
        .await
        .expect("the zip streams");
    let entries = read_entries(bytes);
    assert_eq!(entries.len(), FILES.len());
    for ((name, body, method), (path, expected)) in entries.iter().zip(FILES) {
        assert_eq!(name, path, "names and folders are kept as they are");
        assert_eq!(body.as_slice(), *expected);
        assert_eq!(*method, zip::CompressionMethod::Stored);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bag_has_its_tag_files_and_a_manifest_from_the_stored_digests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, files) = store_with(dir.path(), FILES).await;
    let info = BagInfo {
        name: "dataset-7-v2".into(),
        source_organization: "Example Flux Archive".into(),
        external_identifier: Some("10.5072/abcd-1234".into()),
        external_description: Some("Fluxes\nof 2019".into()),
        bagging_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date"),
    };
    let bytes = collect(stream(store, files.clone(), Package::Bag(info), when()))
        .await
        .expect("the bag streams");
    let entries = read_entries(bytes);
    let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        &names[..4],
        &[
            "dataset-7-v2/bagit.txt",
            "dataset-7-v2/bag-info.txt",
            "dataset-7-v2/manifest-sha256.txt",
            "dataset-7-v2/tagmanifest-sha256.txt",
        ]
    );
    assert!(names.contains(&"dataset-7-v2/data/data/site A/12:00 100%.csv"));
    let text = |name: &str| {
        let (_, body, _) = entries
            .iter()
            .find(|(n, _, _)| n == &format!("dataset-7-v2/{name}"))
            .expect("tag file present");
        String::from_utf8(body.clone()).expect("utf-8")
    };
    assert_eq!(
        text("bagit.txt"),
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    );
    let info = text("bag-info.txt");
    for line in [
        "Source-Organization: Example Flux Archive\n",
        "External-Identifier: 10.5072/abcd-1234\n",
        "External-Description: Fluxes of 2019\n",
        "Bagging-Date: 2026-11-23\n",
        "Payload-Oxum: 53.5\n",
        "Bag-Size: 53 bytes\n",
    ] {
        assert!(info.contains(line), "{line:?} in {info}");
    }
    let manifest = text("manifest-sha256.txt");
    assert!(manifest.contains(&format!(
        "{}  data/data/site A/12:00 100%25.csv\n",
        sha256_hex(b"x\n")
    )));
    assert_eq!(manifest.lines().count(), FILES.len());
    let tags = text("tagmanifest-sha256.txt");
    for name in ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"] {
        let digest = sha256_hex(text(name).as_bytes());
        assert!(tags.contains(&format!("{digest}  {name}\n")), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_changed_size_breaks_the_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, mut files) = store_with(dir.path(), FILES).await;
    files[1].size += 1;
    let outcome = collect(stream(store.clone(), files.clone(), Package::Zip, when())).await;
    assert!(
        outcome.is_err(),
        "a short file is an error, not a quiet zip"
    );
    files[1].size -= 2;
    let outcome = collect(stream(store, files, Package::Zip, when())).await;
    assert!(outcome.is_err(), "a long file is an error too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_entries_than_a_plain_zip_holds_use_zip64() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").expect("write");
    let store: Arc<dyn BlobStore> =
        Arc::new(LocalDiskStore::new(dir.path().join("store")).expect("store"));
    let count = 100_000;
    let files: Vec<PackageFile> = (0..count)
        .map(|i| PackageFile {
            path: format!("d{}/f{i}.txt", i % 100),
            size: 0,
            sha256: sha256_hex(b""),
            source: Source::Local(empty.clone()),
        })
        .collect();
    let bytes = collect(stream(store, files, Package::Zip, when()))
        .await
        .expect("streams");
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip64 end record read");
    assert_eq!(archive.len(), count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_stops_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = vec![7u8; 8 * 1024 * 1024];
    let (store, files) = store_with(dir.path(), &[("big.bin", &big)]).await;
    let mut s = stream(store, files, Package::Zip, when());
    let first = s.next().await.expect("a first chunk").expect("ok");
    assert!(!first.is_empty());
    drop(s); // the writer thread sees the closed channel and ends
}

#[test]
fn manifest_paths_encode_only_cr_lf_and_percent() {
    assert_eq!(bagit::manifest_path("a b/100%.csv"), "data/a b/100%25.csv");
    assert_eq!(bagit::manifest_path("x\ny\rz"), "data/x%0Ay%0Dz");
    assert_eq!(bagit::manifest_path("Übersicht.md"), "data/Übersicht.md");
    assert_eq!(bag_size(999), "999 bytes");
    assert_eq!(bag_size(1_500_000), "1.5 MB");
}
