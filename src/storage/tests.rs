//! Integration tests of the storage module against local disk, checked with
//! the external ocfl-py validator (path in HOLDFAST_OCFL_VALIDATE).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use futures_util::TryStreamExt;

use super::blob::validate_key;
use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    base: PathBuf,
    store: Arc<LocalDiskStore>,
    ocfl: OcflRoot,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().to_path_buf();
        let store = Arc::new(LocalDiskStore::new(base.join("root")).expect("store"));
        let ocfl = OcflRoot::new(store.clone());
        ocfl.init().await.expect("init");
        Self {
            _dir: dir,
            base,
            store,
            ocfl,
        }
    }

    fn root_dir(&self) -> PathBuf {
        self.base.join("root")
    }

    fn object_dir(&self, id: &str) -> PathBuf {
        self.root_dir().join(self.ocfl.object_root(id))
    }

    /// Writes an upload file outside the store; returns its path and sha256.
    fn upload(&self, name: &str, content: &[u8]) -> (PathBuf, String) {
        let dir = self.base.join("uploads");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write upload");
        (path, sha256_hex(content))
    }

    fn local(&self, logical: &str, content: &[u8]) -> NewFile {
        let name = format!("{:x}", rand::random::<u64>());
        let (path, sha256) = self.upload(&name, content);
        NewFile {
            logical_path: logical.to_owned(),
            sha256,
            source: FileSource::Local(path),
        }
    }
}

fn existing(logical: &str, content: &[u8]) -> NewFile {
    NewFile {
        logical_path: logical.to_owned(),
        sha256: sha256_hex(content),
        source: FileSource::Existing,
    }
}

fn new_version(message: &str, files: Vec<NewFile>) -> NewVersion {
    NewVersion {
        created: Utc
            .with_ymd_and_hms(2024, 5, 6, 7, 8, 9)
            .single()
            .expect("date"),
        message: message.to_owned(),
        user_name: "Holdfast Test".to_owned(),
        user_address: Some("mailto:test@example.org".to_owned()),
        files,
    }
}

/// Runs ocfl-validate.py; returns (valid, output). A missing validator fails
/// the test: the external check must never be silently skipped.
fn run_validator(path: &Path) -> (bool, String) {
    let validator = std::env::var("HOLDFAST_OCFL_VALIDATE")
        .expect("HOLDFAST_OCFL_VALIDATE must point to ocfl-validate.py");
    assert!(
        Path::new(&validator).is_file(),
        "HOLDFAST_OCFL_VALIDATE={validator} does not exist"
    );
    let out = std::process::Command::new(&validator)
        .arg(path)
        .output()
        .expect("run validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let has_error = text.lines().any(|l| l.starts_with("[E"));
    (
        out.status.success() && !has_error && text.contains("is VALID"),
        text,
    )
}

fn assert_valid(path: &Path) {
    let (ok, text) = run_validator(path);
    assert!(ok, "validator rejected {}:\n{text}", path.display());
    // Only the expected sha256 warning is tolerated.
    for line in text.lines().filter(|l| l.starts_with("[W")) {
        assert!(line.starts_with("[W004]"), "unexpected warning: {line}");
    }
}

/// ocfl-py 2.1 cannot validate storage roots using the 0004 layout (it
/// reports E071 "unknown layout" and stops), so the root-level rules that
/// matter here are checked directly: no empty directories anywhere (E073) and
/// no stray files in the hierarchy (E072/E084), i.e. every top-level
/// directory other than `extensions` leads only to object roots.
fn assert_root_structure(root: &Path) {
    fn walk(dir: &Path, in_object: bool) {
        let entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry"))
            .collect();
        assert!(!entries.is_empty(), "empty directory {}", dir.display());
        let is_object = in_object || dir.join("0=ocfl_object_1.1").is_file();
        for e in entries {
            let ft = e.file_type().expect("file type");
            assert!(!ft.is_symlink(), "link {}", e.path().display());
            if ft.is_dir() {
                walk(&e.path(), is_object);
            } else {
                assert!(is_object, "stray file in hierarchy: {}", e.path().display());
            }
        }
    }
    assert_eq!(
        std::fs::read(root.join("0=ocfl_1.1")).expect("declaration"),
        b"ocfl_1.1\n"
    );
    for e in std::fs::read_dir(root).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_type().expect("file type").is_dir() && e.file_name() != "extensions" {
            walk(&e.path(), false);
        }
    }
}

async fn read_all(
    store: &LocalDiskStore,
    key: &str,
    range: Option<std::ops::Range<u64>>,
) -> Vec<u8> {
    let chunks: Vec<Bytes> = store
        .get_range(key, range)
        .await
        .expect("get_range")
        .try_collect()
        .await
        .expect("stream");
    chunks.concat()
}

#[test]
fn key_validation() {
    for bad in ["../x", "/abs", "a//b", "a/./b", "a/..", "", "a/", "a\\b"] {
        assert!(
            matches!(validate_key(bad), Err(StorageError::InvalidKey(_))),
            "{bad:?} accepted"
        );
    }
    for good in [
        "a",
        "a/b.txt",
        "3c0/ff4/v1/content/site A/ü.csv",
        "..hidden",
    ] {
        assert!(validate_key(good).is_ok(), "{good:?} rejected");
    }
}

#[tokio::test]
async fn store_rejects_escaping_keys() {
    let f = Fixture::new().await;
    for bad in ["../x", "/abs", "a//b"] {
        let r = f.store.put_bytes(bad, Bytes::from_static(b"x")).await;
        assert!(matches!(r, Err(StorageError::InvalidKey(_))), "{bad:?}");
        assert!(matches!(
            f.store.get_bytes(bad).await,
            Err(StorageError::InvalidKey(_))
        ));
        assert!(matches!(
            f.store.delete(bad).await,
            Err(StorageError::InvalidKey(_))
        ));
        assert!(f.store.local_path(bad).is_none());
    }
    assert!(!f.base.join("x").exists());
}

#[tokio::test]
async fn blob_basics_and_ranges() {
    let f = Fixture::new().await;
    let content: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let (src, sha) = f.upload("big.bin", &content);
    let receipt = f
        .store
        .put_file("x/y/big.bin", &src, Some(&sha))
        .await
        .expect("put_file");
    assert_eq!(receipt.size, content.len() as u64);
    assert_eq!(receipt.sha256, sha);
    assert_eq!(
        f.store.size("x/y/big.bin").await.expect("size"),
        Some(700_000)
    );
    assert_eq!(f.store.size("x/y/nope").await.expect("size"), None);

    assert_eq!(read_all(&f.store, "x/y/big.bin", None).await, content);
    for r in [
        0..0,
        0..1,
        10..20,
        262_143..262_145,
        100_000..700_000,
        699_999..700_000,
    ] {
        assert_eq!(
            read_all(&f.store, "x/y/big.bin", Some(r.clone())).await,
            content[r.start as usize..r.end as usize],
            "range {r:?}"
        );
    }
    assert!(matches!(
        f.store.get_range("x/y/big.bin", Some(5..700_001)).await,
        Err(StorageError::InvalidInput(_))
    ));
    assert!(matches!(
        f.store.get_range("x/y/none", None).await,
        Err(StorageError::NotFound)
    ));

    // A wrong expected digest leaves nothing under the key nor in the temp dir.
    let r = f
        .store
        .put_file("x/z.bin", &src, Some(&"0".repeat(64)))
        .await;
    assert!(matches!(r, Err(StorageError::DigestMismatch { .. })));
    assert_eq!(f.store.size("x/z.bin").await.expect("size"), None);
    let tmp = f.base.join("root.tmp");
    assert_eq!(std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0), 0);

    f.store
        .put_bytes("x/small", Bytes::from_static(b"one"))
        .await
        .expect("put");
    f.store
        .put_bytes("x/small", Bytes::from_static(b"two"))
        .await
        .expect("replace");
    assert_eq!(
        f.store.get_bytes("x/small").await.expect("get").as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(
        f.store.list("x/").await.expect("list"),
        vec!["x/small".to_owned(), "x/y/big.bin".to_owned()]
    );
    assert_eq!(
        f.store.list("x/y").await.expect("list"),
        vec!["x/y/big.bin".to_owned()]
    );

    f.store.delete("x/y/big.bin").await.expect("delete");
    f.store
        .delete("x/y/big.bin")
        .await
        .expect("delete is idempotent");
    assert!(!f.root_dir().join("x/y").exists(), "empty dir left behind");
    assert!(f.root_dir().join("x").exists());
    f.store.check_writable().await.expect("writable");
    assert_eq!(
        f.store.local_path("x/small"),
        Some(f.root_dir().join("x/small"))
    );
}

#[tokio::test]
async fn init_is_idempotent_and_refuses_other_layouts() {
    let f = Fixture::new().await;
    f.ocfl.init().await.expect("second init");
    assert_eq!(
        std::fs::read(f.root_dir().join("0=ocfl_1.1")).expect("decl"),
        b"ocfl_1.1\n"
    );
    let other = OcflRoot::with_layout(
        f.store.clone(),
        HashedNTupleLayout::new(2, 4, false).expect("layout"),
    );
    assert!(matches!(other.init().await, Err(StorageError::Conflict(_))));

    let f2 = Fixture::new().await;
    f2.store
        .put_bytes(
            "ocfl_layout.json",
            Bytes::from_static(
                br#"{"extension":"0002-flat-direct-storage-layout","description":"x"}"#,
            ),
        )
        .await
        .expect("put");
    f2.store.delete("0=ocfl_1.1").await.expect("delete");
    f2.store
        .delete("extensions/0004-hashed-n-tuple-storage-layout/config.json")
        .await
        .expect("delete");
    assert!(matches!(
        f2.ocfl.init().await,
        Err(StorageError::Conflict(_))
    ));
}

#[tokio::test]
async fn commit_versions_dedup_and_validate() {
    let f = Fixture::new().await;
    let id = "doi:10.5072/FK2-example-01";
    let csv = b"year,value\n2020,1\n".as_slice();
    let readme = b"# Readme\n".as_slice();
    let unicode = "Ünïcödé ✓ data.txt".as_bytes();
    let v1 = f
        .ocfl
        .commit_version(
            id,
            new_version(
                "Initial deposit",
                vec![
                    f.local("data/site A/2020.csv", csv),
                    f.local("README.md", readme),
                    f.local("data/Ünïcödé ✓.txt", unicode),
                ],
            ),
        )
        .await
        .expect("commit v1");
    assert_eq!(v1.version, 1);
    assert_eq!(v1.object_root, f.ocfl.object_root(id));
    assert!(v1.object_root.starts_with("9bb/a20/693/9bba2069"));
    assert_valid(&f.object_dir(id));

    let new_file = b"new content".as_slice();
    let v2 = f
        .ocfl
        .commit_version(
            id,
            new_version(
                "Revision",
                vec![
                    existing("README.md", readme),
                    f.local("data/new.bin", new_file),
                    // Same bytes as the v1 CSV under a new name: no copy.
                    f.local("copy/of the csv.csv", csv),
                    // Duplicate content within this version: one copy only.
                    f.local("data/new-again.bin", new_file),
                ],
            ),
        )
        .await
        .expect("commit v2");
    assert_eq!(v2.version, 2);

    let inv = f
        .ocfl
        .inventory(id)
        .await
        .expect("inventory")
        .expect("exists");
    assert_eq!(inv.head, "v2");
    assert_eq!(inv.id, id);
    assert_eq!(inv.inventory_type, "https://ocfl.io/1.1/spec/#inventory");
    assert_eq!(inv.manifest.len(), 4, "{:?}", inv.manifest);
    assert_eq!(
        inv.manifest[&sha256_hex(csv)],
        vec!["v1/content/data/site A/2020.csv".to_owned()]
    );
    assert_eq!(
        inv.manifest[&sha256_hex(new_file)],
        vec!["v2/content/data/new.bin".to_owned()]
    );
    let state2 = &inv.versions["v2"].state;
    assert_eq!(
        state2[&sha256_hex(new_file)],
        vec!["data/new-again.bin".to_owned(), "data/new.bin".to_owned()]
    );
    assert_eq!(
        state2[&sha256_hex(csv)],
        vec!["copy/of the csv.csv".to_owned()]
    );
    assert!(
        !state2.contains_key(&sha256_hex(unicode)),
        "removed file still in state"
    );
    assert_eq!(inv.versions["v1"].state.len(), 3);

    let obj = f.object_dir(id);
    assert!(
        !obj.join("v2/content/copy").exists(),
        "deduplicated content was copied"
    );
    assert!(!obj.join("v2/content/data/new-again.bin").exists());
    // Sidecars: exact format and the root inventory equals the v2 copy.
    let root_inv = std::fs::read(obj.join("inventory.json")).expect("inv");
    assert_eq!(
        root_inv,
        std::fs::read(obj.join("v2/inventory.json")).expect("v2 inv")
    );
    let sidecar = std::fs::read_to_string(obj.join("inventory.json.sha256")).expect("sidecar");
    assert_eq!(
        sidecar,
        format!("{}  inventory.json\n", sha256_hex(&root_inv))
    );
    assert_eq!(v2.inventory_sha256, sha256_hex(&root_inv));
    let text = String::from_utf8(root_inv).expect("utf8");
    assert!(
        text.contains("\"created\": \"2024-05-06T07:08:09Z\""),
        "{text}"
    );

    let c = f
        .ocfl
        .content_key(id, 2, "copy/of the csv.csv")
        .await
        .expect("content_key")
        .expect("found");
    assert_eq!(
        c.key,
        format!("{}/v1/content/data/site A/2020.csv", v2.object_root)
    );
    assert_eq!(c.size, Some(csv.len() as u64));
    assert_eq!(read_all(&f.store, &c.key, None).await, csv);
    assert!(f
        .ocfl
        .content_key(id, 2, "data/Ünïcödé ✓.txt")
        .await
        .expect("ck")
        .is_none());
    assert!(f
        .ocfl
        .content_key(id, 1, "data/Ünïcödé ✓.txt")
        .await
        .expect("ck")
        .is_some());
    assert!(f
        .ocfl
        .content_key(id, 3, "README.md")
        .await
        .expect("ck")
        .is_none());

    // An empty version is allowed and writes no content directory.
    let v3 = f
        .ocfl
        .commit_version(id, new_version("Withdraw all files", vec![]))
        .await
        .expect("empty v3");
    assert_eq!(v3.version, 3);
    assert!(!obj.join("v3/content").exists());

    assert_valid(&obj);
    assert_root_structure(&f.root_dir());
}

#[tokio::test]
async fn version_numbers_past_nine_sort_numerically() {
    let f = Fixture::new().await;
    let id = "urn:example:many";
    for i in 1..=11u32 {
        let file = f.local(&format!("f{i}.txt"), format!("content {i}").as_bytes());
        let c = f
            .ocfl
            .commit_version(id, new_version("step", vec![file]))
            .await
            .expect("commit");
        assert_eq!(c.version, i);
    }
    let inv = f.ocfl.inventory(id).await.expect("inv").expect("exists");
    assert_eq!(inv.head, "v11");
    assert_valid(&f.object_dir(id));
}

#[tokio::test]
async fn rejects_bad_paths_and_unknown_digests() {
    let f = Fixture::new().await;
    let id = "urn:example:paths";
    let cases: Vec<Vec<NewFile>> = vec![
        vec![f.local("a", b"1"), f.local("a/b", b"2")],
        vec![f.local("a", b"1"), f.local("a", b"2")],
        vec![f.local("../etc/passwd", b"1")],
        vec![f.local("/abs", b"1")],
        vec![f.local("trailing/", b"1")],
        vec![f.local("a//b", b"1")],
        vec![f.local("a/./b", b"1")],
    ];
    for files in cases {
        let names: Vec<String> = files.iter().map(|f| f.logical_path.clone()).collect();
        let r = f.ocfl.commit_version(id, new_version("bad", files)).await;
        assert!(
            matches!(r, Err(StorageError::InvalidPath(_))),
            "{names:?}: {r:?}"
        );
    }
    let r = f
        .ocfl
        .commit_version(id, new_version("bad", vec![existing("x", b"never stored")]))
        .await;
    assert!(matches!(r, Err(StorageError::InvalidInput(_))), "{r:?}");
    assert!(f.ocfl.inventory(id).await.expect("inv").is_none());
    assert!(!f.object_dir(id).exists(), "failed commits left files");
}

#[tokio::test]
async fn digest_mismatch_commits_nothing() {
    let f = Fixture::new().await;
    let id = "urn:example:mismatch";
    f.ocfl
        .commit_version(id, new_version("v1", vec![f.local("a.txt", b"a")]))
        .await
        .expect("v1");
    let before = std::fs::read(f.object_dir(id).join("inventory.json")).expect("inv");

    let mut lying = f.local("c.txt", b"actual bytes");
    lying.sha256 = sha256_hex(b"claimed bytes");
    let r = f
        .ocfl
        .commit_version(
            id,
            new_version(
                "v2",
                vec![f.local("b.txt", b"good file copied first"), lying],
            ),
        )
        .await;
    match r {
        Err(StorageError::DigestMismatch {
            path,
            expected,
            found,
        }) => {
            assert_eq!(path, "c.txt");
            assert_eq!(expected, sha256_hex(b"claimed bytes"));
            assert_eq!(found, sha256_hex(b"actual bytes"));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    let after = std::fs::read(f.object_dir(id).join("inventory.json")).expect("inv");
    assert_eq!(before, after);
    assert!(!f.object_dir(id).join("v2").exists(), "v2 left behind");
    assert_valid(&f.object_dir(id));

    // Same for a brand-new object: no declaration or v1 left behind.
    let mut lying = f.local("c.txt", b"actual bytes");
    lying.sha256 = sha256_hex(b"claimed bytes");
    let r = f
        .ocfl
        .commit_version("urn:example:new", new_version("v1", vec![lying]))
        .await;
    assert!(matches!(r, Err(StorageError::DigestMismatch { .. })));
    assert!(!f.object_dir("urn:example:new").exists());
}

#[tokio::test]
async fn validator_detects_corruption() {
    let f = Fixture::new().await;
    let id = "urn:example:corrupt";
    f.ocfl
        .commit_version(
            id,
            new_version("v1", vec![f.local("a.txt", b"precious bytes")]),
        )
        .await
        .expect("v1");
    let obj = f.object_dir(id);
    assert_valid(&obj);
    let content = obj.join("v1/content/a.txt");
    let mut bytes = std::fs::read(&content).expect("read");
    bytes[0] ^= 0x01;
    std::fs::write(&content, bytes).expect("corrupt");
    let (ok, text) = run_validator(&obj);
    assert!(!ok, "validator accepted a corrupted object:\n{text}");
    assert!(text.contains("[E092"), "{text}");
}

#[tokio::test]
async fn recover_after_crash_before_root_inventory() {
    let f = Fixture::new().await;
    let id = "urn:example:crash1";
    f.ocfl
        .commit_version(id, new_version("v1", vec![f.local("a.txt", b"a")]))
        .await
        .expect("v1");
    let root = f.ocfl.object_root(id);
    // Crash state: v2 content and v2 inventory written, root inventory not.
    let (src, sha) = f.upload("b", b"b");
    f.store
        .put_file(&format!("{root}/v2/content/b.txt"), &src, Some(&sha))
        .await
        .expect("put");
    f.store
        .put_bytes(
            &format!("{root}/v2/inventory.json"),
            Bytes::from_static(b"{}"),
        )
        .await
        .expect("put");
    let (ok, _) = run_validator(&f.object_dir(id));
    assert!(!ok, "crash state should not validate");
    // A new commit refuses to overwrite a version that has an inventory.
    let r = f
        .ocfl
        .commit_version(id, new_version("v2", vec![f.local("c.txt", b"c")]))
        .await;
    assert!(matches!(r, Err(StorageError::Conflict(_))), "{r:?}");

    let report = f.ocfl.recover_object(id).await.expect("recover");
    assert_eq!(report.head, Some(1));
    assert_eq!(report.restored_from, None);
    assert_eq!(report.removed.len(), 2, "{report:?}");
    assert_valid(&f.object_dir(id));
    assert!(!f.ocfl.recover_object(id).await.expect("again").changed());

    // Content-only leftovers are cleaned by the next commit itself.
    f.store
        .put_file(&format!("{root}/v2/content/stale.txt"), &src, None)
        .await
        .expect("put");
    let c = f
        .ocfl
        .commit_version(id, new_version("v2", vec![f.local("c.txt", b"c")]))
        .await
        .expect("commit after crash");
    assert_eq!(c.version, 2);
    assert!(!f.object_dir(id).join("v2/content/stale.txt").exists());
    assert_valid(&f.object_dir(id));
}

#[tokio::test]
async fn recover_after_crash_before_root_sidecar() {
    let f = Fixture::new().await;
    let id = "urn:example:crash2";
    f.ocfl
        .commit_version(id, new_version("v1", vec![f.local("a.txt", b"a")]))
        .await
        .expect("v1");
    let obj = f.object_dir(id);
    let v1_sidecar = std::fs::read(obj.join("inventory.json.sha256")).expect("sidecar");
    f.ocfl
        .commit_version(id, new_version("v2", vec![f.local("b.txt", b"b")]))
        .await
        .expect("v2");
    // Crash state: root inventory is v2's, the sidecar still v1's.
    std::fs::write(obj.join("inventory.json.sha256"), v1_sidecar).expect("write");
    assert!(matches!(
        f.ocfl.inventory(id).await,
        Err(StorageError::Corrupt(_))
    ));

    let report = f.ocfl.recover_object(id).await.expect("recover");
    assert_eq!(report.restored_from, Some(2));
    assert_eq!(report.head, Some(2));
    assert!(report.removed.is_empty());
    assert_eq!(
        f.ocfl
            .inventory(id)
            .await
            .expect("inv")
            .expect("exists")
            .head,
        "v2"
    );
    assert_valid(&obj);

    // Root inventory lost entirely: restored from the newest version copy.
    std::fs::remove_file(obj.join("inventory.json")).expect("rm");
    let report = f.ocfl.recover_object(id).await.expect("recover");
    assert_eq!(report.restored_from, Some(2));
    assert_valid(&obj);
}

#[tokio::test]
async fn recover_removes_never_committed_object() {
    let f = Fixture::new().await;
    let id = "urn:example:crash3";
    let root = f.ocfl.object_root(id);
    let (src, sha) = f.upload("a", b"a");
    f.store
        .put_bytes(
            &format!("{root}/0=ocfl_object_1.1"),
            Bytes::from_static(b"ocfl_object_1.1\n"),
        )
        .await
        .expect("put");
    f.store
        .put_file(&format!("{root}/v1/content/a.txt"), &src, Some(&sha))
        .await
        .expect("put");
    let report = f.ocfl.recover_object(id).await.expect("recover");
    assert_eq!(report.head, None);
    assert_eq!(report.removed.len(), 2);
    assert!(!f.object_dir(id).exists());
    assert_root_structure(&f.root_dir());
}

#[tokio::test]
async fn concurrent_commits_are_serialized() {
    let f = Arc::new(Fixture::new().await);
    let id = "urn:example:concurrent";
    let mut tasks = Vec::new();
    for i in 0..6u32 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let file = f.local(&format!("file-{i}.txt"), format!("data {i}").as_bytes());
            f.ocfl
                .commit_version(id, new_version("parallel", vec![file]))
                .await
                .map(|c| c.version)
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.expect("join").expect("commit"));
    }
    versions.sort();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6]);
    assert_valid(&f.object_dir(id));
}

#[tokio::test]
async fn a_moved_file_is_verified_before_it_appears_and_its_source_is_gone() {
    let fx = Fixture::new().await;
    let source = fx.base.join("download.part");
    std::fs::write(&source, b"replica bytes").expect("write");
    let digest = super::sha256_hex(b"replica bytes");
    let wrong = super::sha256_hex(b"other bytes");
    // A wrong digest: nothing under the key, and the source is removed.
    let refused = fx
        .store
        .put_file_moving("x/y.bin", &source, Some(&wrong))
        .await;
    assert!(matches!(refused, Err(StorageError::DigestMismatch { .. })));
    assert!(!source.exists());
    assert_eq!(fx.store.size("x/y.bin").await.expect("size"), None);
    // The right one: moved into place.
    std::fs::write(&source, b"replica bytes").expect("write");
    let receipt = fx
        .store
        .put_file_moving("x/y.bin", &source, Some(&digest))
        .await
        .expect("moved");
    assert_eq!(receipt.size, 13);
    assert_eq!(receipt.sha256, digest);
    assert!(!source.exists());
    assert_eq!(
        std::fs::read(fx.root_dir().join("x/y.bin")).expect("read"),
        b"replica bytes"
    );
}
