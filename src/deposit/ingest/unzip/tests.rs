use super::*;
use std::fs;
use std::io::Write;
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

struct Env {
    _tmp: tempfile::TempDir,
    zip_path: std::path::PathBuf,
    staging: Staging,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let stage_dir = tmp.path().join("staging");
        fs::create_dir(&stage_dir).unwrap();
        Env {
            zip_path: tmp.path().join("upload.zip"),
            staging: Staging::new(stage_dir),
            _tmp: tmp,
        }
    }
    fn staged_count(&self) -> usize {
        fs::read_dir(self.staging.dir()).unwrap().count()
    }
    fn unpack(&self, limits: &UnpackLimits) -> Result<Vec<UnpackedEntry>, UnzipError> {
        unpack_zip(&self.zip_path, &self.staging, None, limits)
    }
    fn unpack_err(&self) -> UnzipError {
        let err = self.unpack(&UnpackLimits::default()).unwrap_err();
        assert_eq!(self.staged_count(), 0, "nothing may be left after {err}");
        err
    }
}

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

/// Writes a zip of (name, content) files.
fn write_zip(path: &Path, files: &[(&str, &[u8])]) {
    let mut w = ZipWriter::new(File::create(path).unwrap());
    for (name, content) in files {
        w.start_file(*name, deflated()).unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap();
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}
const LOCAL_SIG: &[u8] = b"PK\x03\x04";
const CENTRAL_SIG: &[u8] = b"PK\x01\x02";

#[test]
fn nested_folders_preserved() {
    let env = Env::new();
    let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
    w.add_directory("data/", deflated()).unwrap();
    w.add_directory("data/site A/", deflated()).unwrap();
    w.start_file("data/site A/2020.csv", deflated()).unwrap();
    w.write_all(b"t,v\n1,2\n").unwrap();
    w.start_file("data/site B/deep/x.json", deflated()).unwrap();
    w.write_all(b"{}").unwrap();
    w.start_file(
        "readme.txt",
        SimpleFileOptions::default().compression_method(CompressionMethod::Stored),
    )
    .unwrap();
    w.write_all(b"hello").unwrap();
    w.start_file("__MACOSX/data/._2020.csv", deflated())
        .unwrap();
    w.write_all(b"junk").unwrap();
    w.start_file("data/.DS_Store", deflated()).unwrap();
    w.write_all(b"junk").unwrap();
    w.finish().unwrap();

    let entries = env.unpack(&UnpackLimits::default()).unwrap();
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "data/site A/2020.csv",
            "data/site B/deep/x.json",
            "readme.txt"
        ]
    );
    assert_eq!(fs::read(&entries[0].staged.path).unwrap(), b"t,v\n1,2\n");
    assert_eq!(entries[0].staged.size, 8);
    assert_eq!(fs::read(&entries[2].staged.path).unwrap(), b"hello");
    assert_eq!(
        entries[2].staged.sha256_hex,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(env.staged_count(), 3);
}

#[test]
fn prefix_is_applied() {
    let env = Env::new();
    write_zip(&env.zip_path, &[("a/b.txt", b"x")]);
    let prefix = DatasetPath::parse("raw/2024").unwrap();
    let entries = unpack_zip(
        &env.zip_path,
        &env.staging,
        Some(&prefix),
        &UnpackLimits::default(),
    )
    .unwrap();
    assert_eq!(entries[0].path.as_str(), "raw/2024/a/b.txt");
}

#[test]
fn zip_slip_names_rejected() {
    for name in [
        "../../etc/passwd",
        "a/../../x",
        "..\\..\\evil.txt",
        "./a.txt",
    ] {
        let env = Env::new();
        write_zip(&env.zip_path, &[("ok.txt", b"fine"), (name, b"evil")]);
        let err = env.unpack_err();
        assert!(
            matches!(err, UnzipError::UnsafePath { .. }),
            "{name}: {err}"
        );
    }
    let env = Env::new();
    write_zip(&env.zip_path, &[("../../etc/passwd", b"evil")]);
    assert_eq!(
        env.unpack_err().to_string(),
        "zip entry '../../etc/passwd' is not a safe path: it contains '..'"
    );
}

#[test]
fn absolute_names_rejected() {
    for name in ["/etc/passwd", "C:\\Windows\\x.dll", "\\\\server\\share\\x"] {
        let env = Env::new();
        write_zip(&env.zip_path, &[(name, b"evil")]);
        let err = env.unpack_err();
        assert!(
            matches!(err, UnzipError::UnsafePath { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn unsafe_folder_entry_rejected() {
    let env = Env::new();
    let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
    w.add_directory("../up/", deflated()).unwrap();
    w.start_file("ok.txt", deflated()).unwrap();
    w.finish().unwrap();
    assert!(matches!(env.unpack_err(), UnzipError::UnsafePath { .. }));
}

#[test]
fn symlink_rejected() {
    let env = Env::new();
    let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
    w.start_file("ok.txt", deflated()).unwrap();
    w.write_all(b"fine").unwrap();
    w.add_symlink("link", "/etc/passwd", deflated()).unwrap();
    w.finish().unwrap();
    let err = env.unpack_err();
    assert!(
        matches!(err, UnzipError::Symlink { ref name } if name == "link"),
        "{err}"
    );
}

#[test]
fn encrypted_rejected() {
    let env = Env::new();
    write_zip(&env.zip_path, &[("secret.txt", b"data")]);
    // Set the "encrypted" bit (general purpose flag bit 0) in both headers.
    let mut bytes = fs::read(&env.zip_path).unwrap();
    for at in find_all(&bytes, LOCAL_SIG) {
        bytes[at + 6] |= 1;
    }
    for at in find_all(&bytes, CENTRAL_SIG) {
        bytes[at + 8] |= 1;
    }
    fs::write(&env.zip_path, &bytes).unwrap();
    let err = env.unpack_err();
    assert!(matches!(err, UnzipError::Encrypted { .. }), "{err}");
}

#[test]
fn duplicates_rejected() {
    let env = Env::new();
    // The zip writer refuses exact duplicates, so use two spellings that
    // normalise to the same path.
    write_zip(&env.zip_path, &[("a/b.txt", b"1"), ("a\\b.txt", b"2")]);
    let err = env.unpack_err();
    assert!(matches!(err, UnzipError::Duplicate { .. }), "{err}");

    let env = Env::new();
    write_zip(
        &env.zip_path,
        &[("caf\u{e9}.txt", b"1"), ("cafe\u{301}.txt", b"2")],
    );
    assert!(matches!(env.unpack_err(), UnzipError::Duplicate { .. }));

    let env = Env::new();
    write_zip(&env.zip_path, &[("Data/X.csv", b"1"), ("data/x.CSV", b"2")]);
    let err = env.unpack_err();
    assert!(matches!(err, UnzipError::CaseDuplicate { .. }), "{err}");
    assert!(err.to_string().contains("differ only in upper/lower case"));

    let env = Env::new();
    write_zip(&env.zip_path, &[("a", b"1"), ("A/b.txt", b"2")]);
    assert!(matches!(
        env.unpack_err(),
        UnzipError::FileFolderConflict { .. }
    ));
    let env = Env::new();
    write_zip(&env.zip_path, &[("a/b.txt", b"2"), ("a", b"1")]);
    assert!(matches!(
        env.unpack_err(),
        UnzipError::FileFolderConflict { .. }
    ));
}

#[test]
fn entry_count_limit() {
    let env = Env::new();
    let files: Vec<(String, Vec<u8>)> =
        (0..11).map(|i| (format!("f{i}.txt"), vec![b'x'])).collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    write_zip(&env.zip_path, &refs);
    let limits = UnpackLimits {
        max_entries: 10,
        ..UnpackLimits::default()
    };
    let err = env.unpack(&limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the zip has 11 entries, more than the limit of 10"
    );
    assert_eq!(env.staged_count(), 0);
    let ok = UnpackLimits {
        max_entries: 11,
        ..UnpackLimits::default()
    };
    assert_eq!(env.unpack(&ok).unwrap().len(), 11);
}

#[test]
fn size_limits_from_central_directory() {
    let env = Env::new();
    write_zip(
        &env.zip_path,
        &[("a.txt", &[b'a'; 600]), ("b.txt", &[b'b'; 600])],
    );
    let limits = UnpackLimits {
        max_total_uncompressed: 1000,
        ..UnpackLimits::default()
    };
    let err = env.unpack(&limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the zip would expand to more than 1000 bytes (limit)"
    );
    let limits = UnpackLimits {
        max_entry_size: 500,
        ..UnpackLimits::default()
    };
    let err = env.unpack(&limits).unwrap_err();
    assert!(
        matches!(err, UnzipError::EntryTooLarge { size: 600, .. }),
        "{err}"
    );
    assert_eq!(env.staged_count(), 0);
    assert_eq!(
        UnzipError::TotalTooLarge { limit: 50 * GIB }.to_string(),
        "the zip would expand to more than 50 GiB (limit)"
    );
}

#[test]
fn zip_bomb_ratio_limit() {
    // 200 MiB of zeros, streamed into a deflated entry at test time.
    let env = Env::new();
    let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
    w.start_file("zeros.bin", deflated().large_file(true))
        .unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..200 {
        w.write_all(&chunk).unwrap();
    }
    w.start_file("small.txt", deflated()).unwrap();
    w.write_all(b"innocent").unwrap();
    w.finish().unwrap();
    let zip_len = fs::metadata(&env.zip_path).unwrap().len();
    assert!(zip_len < 1 << 20, "bomb should be small, is {zip_len}");

    let err = env.unpack_err();
    match &err {
        UnzipError::EntryRatio { name, ratio, limit } => {
            assert_eq!(name, "zeros.bin");
            assert!(*ratio > 200, "{ratio}");
            assert_eq!(*limit, 200);
        }
        other => panic!("unexpected {other}"),
    }
    let msg = err.to_string();
    assert!(msg.starts_with("entry 'zeros.bin' compresses 1:"), "{msg}");
    assert!(
        msg.ends_with("above the 1:200 ratio limit; is this a zip bomb?"),
        "{msg}"
    );
}

#[test]
fn small_highly_compressible_files_are_fine() {
    let env = Env::new();
    write_zip(&env.zip_path, &[("zeros.csv", &[b'0'; 100_000])]);
    let entries = env.unpack(&UnpackLimits::default()).unwrap();
    assert_eq!(entries[0].staged.size, 100_000);
}

#[test]
fn overall_ratio_limit() {
    // Each entry stays under the per-entry floor; together they pass it.
    let env = Env::new();
    let zeros = vec![0u8; 600_000];
    write_zip(&env.zip_path, &[("a.bin", &zeros), ("b.bin", &zeros)]);
    let err = env.unpack_err();
    assert!(
        matches!(err, UnzipError::OverallRatio { limit: 200, .. }),
        "{err}"
    );
}

/// Patches the declared uncompressed size (local header offset 22,
/// central header offset 24) of the first entry.
fn patch_uncompressed_size(path: &Path, new_size: u32) {
    let mut bytes = fs::read(path).unwrap();
    let le = new_size.to_le_bytes();
    let local = find_all(&bytes, LOCAL_SIG)[0];
    bytes[local + 22..local + 26].copy_from_slice(&le);
    let central = find_all(&bytes, CENTRAL_SIG)[0];
    bytes[central + 24..central + 28].copy_from_slice(&le);
    fs::write(path, &bytes).unwrap();
}

#[test]
fn lying_header_more_data() {
    // 4 MiB of zeros compresses to ~4 KiB; the headers are patched to claim
    // 100 KiB, which passes every up-front check (ratio ~1:25).
    let env = Env::new();
    let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
    w.start_file("first.txt", deflated()).unwrap();
    w.write_all(b"fine").unwrap();
    w.start_file("liar.bin", deflated()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..4 {
        w.write_all(&chunk).unwrap();
    }
    w.finish().unwrap();
    // Patch the second entry's declared uncompressed size in both headers.
    let mut bytes = fs::read(&env.zip_path).unwrap();
    let le = 100_000u32.to_le_bytes();
    let local = find_all(&bytes, LOCAL_SIG)[1];
    bytes[local + 22..local + 26].copy_from_slice(&le);
    let central = find_all(&bytes, CENTRAL_SIG)[1];
    bytes[central + 24..central + 28].copy_from_slice(&le);
    fs::write(&env.zip_path, &bytes).unwrap();

    let err = env.unpack_err();
    assert!(
        matches!(err, UnzipError::MoreDataThanDeclared { ref name, declared: 100_000 } if name == "liar.bin"),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("more data than its header declares"));
}

#[test]
fn lying_header_less_data() {
    let env = Env::new();
    write_zip(&env.zip_path, &[("short.txt", b"only a few bytes")]);
    patch_uncompressed_size(&env.zip_path, 1000);
    let err = env.unpack_err();
    assert!(
        matches!(
            err,
            UnzipError::LessDataThanDeclared {
                declared: 1000,
                actual: 16,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn stored_entry_lying_header() {
    let env = Env::new();
    let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    w.start_file("s.bin", stored).unwrap();
    w.write_all(&[1u8; 5000]).unwrap();
    w.finish().unwrap();
    patch_uncompressed_size(&env.zip_path, 10);
    assert!(matches!(
        env.unpack_err(),
        UnzipError::MoreDataThanDeclared { declared: 10, .. }
    ));
}

#[test]
fn all_or_nothing_on_late_corruption() {
    // Several good files, then one whose data is damaged (CRC mismatch):
    // the good ones, already staged, must be removed again.
    let env = Env::new();
    let mut files: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("good/{i}.txt"), format!("content {i}").into_bytes()))
        .collect();
    files.push(("bad.txt".to_string(), b"STORED-DATA-TO-DAMAGE".to_vec()));
    let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
    for (name, content) in &files {
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap();
    let mut bytes = fs::read(&env.zip_path).unwrap();
    let at = find_all(&bytes, b"STORED-DATA-TO-DAMAGE")[0];
    bytes[at] = b'X';
    fs::write(&env.zip_path, &bytes).unwrap();

    let err = env.unpack_err();
    assert!(
        matches!(err, UnzipError::Corrupt { ref name, .. } if name == "bad.txt"),
        "{err}"
    );
    assert!(err.is_client_error());
}

#[test]
fn not_a_zip_and_empty_zip() {
    let env = Env::new();
    fs::write(&env.zip_path, b"this is not a zip").unwrap();
    assert!(matches!(env.unpack_err(), UnzipError::NotAZip(_)));

    let env = Env::new();
    let mut w = ZipWriter::new(File::create(&env.zip_path).unwrap());
    w.add_directory("only-a-folder/", deflated()).unwrap();
    w.start_file("__MACOSX/._x", deflated()).unwrap();
    w.finish().unwrap();
    assert!(matches!(env.unpack_err(), UnzipError::NoFiles));
}

#[test]
fn missing_staging_dir_is_server_error() {
    let env = Env::new();
    write_zip(&env.zip_path, &[("a.txt", b"x")]);
    let staging = Staging::new(env.zip_path.with_file_name("does-not-exist"));
    let err = unpack_zip(&env.zip_path, &staging, None, &UnpackLimits::default()).unwrap_err();
    assert!(matches!(err, UnzipError::Io(_)));
    assert!(!err.is_client_error());
}

#[test]
fn byte_formatting() {
    assert_eq!(format_bytes(0), "0 bytes");
    assert_eq!(format_bytes(1023), "1023 bytes");
    assert_eq!(format_bytes(1024), "1 KiB");
    assert_eq!(format_bytes(1536), "1.5 KiB");
    assert_eq!(format_bytes(50 * GIB), "50 GiB");
    assert_eq!(format_bytes(u64::MAX), "16384 PiB");
}
