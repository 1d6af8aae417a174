//! The repository stands alone: no tracked file refers to a path outside it.
//!
//! A clone has nothing beside it, so a test, script or document that reads
//! `../something` beyond the repository root (or an absolute path of the machine it
//! was written on) works for its author and fails for everyone else. This test reads
//! every tracked text file and fails on such a reference; `.ci/run` also runs the
//! suite from a copy whose parent folder holds nothing else.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Folders of the machine a file was written on, which no clone has.
const MACHINE_PATHS: &[&str] = &["/work/", "/home/", "/root/", "/Users/", "C:\\Users"];

/// How a relative path in a file is resolved when the program or reader follows it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Base {
    /// Relative to the folder of the file that names it (include_str!, Markdown links,
    /// paths a script builds from its own location).
    FileFolder,
    /// Relative to the repository root (the working directory of `cargo test` and of
    /// the scripts, or `CARGO_MANIFEST_DIR`).
    Root,
}

/// One reference that leaves the repository.
#[derive(Debug, PartialEq)]
struct Escape {
    line: usize,
    path: String,
}

/// Does `path`, resolved from `base_dir` (a folder inside the repository, relative to
/// its root), climb above the root?
fn climbs_out(base_dir: &Path, path: &str) -> bool {
    let mut depth: i64 = base_dir
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for part in path.split('/') {
        match part {
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            "" | "." => {}
            _ => depth += 1,
        }
    }
    false
}

/// The base a relative path on `line` of a file of kind `ext` is resolved from, or
/// `None` when the line does not use the path to reach a file (a hostile path given
/// to the code under test as input, prose).
fn base_of(ext: &str, line: &str, previous: &str, path_start: usize) -> Option<Base> {
    let before = &line[..path_start];
    match ext {
        "rs" => {
            if before.contains("include_str!(") || before.contains("include_bytes!(") {
                Some(Base::FileFolder)
            } else if line.contains("CARGO_MANIFEST_DIR")
                || previous.contains("CARGO_MANIFEST_DIR")
                || [
                    "fs::",
                    "File::open(",
                    "File::create(",
                    "Path::new(",
                    "PathBuf::from(",
                    "Command::new(",
                    ".current_dir(",
                ]
                .iter()
                .any(|call| before.contains(call) || previous.trim_end().ends_with(call))
            {
                Some(Base::Root)
            } else {
                None
            }
        }
        "md" => before.ends_with("](").then_some(Base::FileFolder),
        // Scripts run from the repository root unless they build the path from their
        // own location.
        "sh" | "py" | "toml" | "yml" | "yaml" | "" => {
            if ["dirname", "$0", "__file__", "BASH_SOURCE"]
                .iter()
                .any(|own| before.contains(own))
            {
                Some(Base::FileFolder)
            } else {
                Some(Base::Root)
            }
        }
        _ => None,
    }
}

/// Every reference in `text` (the content of the tracked file `file`) that leads out
/// of the repository.
fn escapes(file: &Path, text: &str) -> Vec<Escape> {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let folder = file.parent().unwrap_or(Path::new(""));
    let mut found = Vec::new();
    let mut previous = "";
    for (index, line) in text.lines().enumerate() {
        for machine in MACHINE_PATHS {
            // Only where a path starts (not `s3://bucket/root/`).
            let starts_path = |at: usize| {
                line[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || "/._-~$".contains(c)))
            };
            if let Some((at, _)) = line.match_indices(machine).find(|(at, _)| starts_path(*at)) {
                found.push(Escape {
                    line: index + 1,
                    path: line[at..].chars().take(60).collect(),
                });
            }
        }
        let mut from = 0;
        while let Some(offset) = line[from..].find("../") {
            let start = from + offset;
            // The whole path token the `../` belongs to (a leading `/` when glued to
            // a prefix such as CARGO_MANIFEST_DIR, which then counts from the root).
            let token_start = line[..start]
                .rfind(|c: char| c.is_whitespace() || "\"'`()=<>,".contains(c))
                .map_or(0, |i| i + 1);
            let token_end = line[start..]
                .find(|c: char| c.is_whitespace() || "\"'`)<>,;".contains(c))
                .map_or(line.len(), |i| start + i);
            let token = line[token_start..token_end].trim_start_matches('/');
            let base = base_of(ext, line, previous, token_start).map(|base| match base {
                Base::FileFolder => folder,
                Base::Root => Path::new(""),
            });
            if let Some(base_dir) = base {
                if climbs_out(base_dir, token) {
                    found.push(Escape {
                        line: index + 1,
                        path: token.to_string(),
                    });
                }
            }
            from = token_end.max(start + 3);
        }
        previous = line;
    }
    found
}

fn tracked_files(root: &Path) -> Vec<PathBuf> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git ls-files runs (the test reads the tracked files)");
    assert!(out.status.success(), "git ls-files failed");
    out.stdout
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
        .collect()
}

#[test]
fn no_tracked_file_refers_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = tracked_files(root);
    assert!(
        files.len() > 100,
        "only {} tracked files found",
        files.len()
    );
    let mut report = Vec::new();
    for file in &files {
        // Copies of public files are data, not references of ours; vendored
        // minified code likewise.
        // This file names the patterns it looks for.
        if file.starts_with("tests/data")
            || file.to_string_lossy().ends_with(".min.js")
            || file == Path::new("tests/repository.rs")
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue; // binary
        };
        for escape in escapes(file, &text) {
            report.push(format!(
                "{}:{}: {}",
                file.display(),
                escape.line,
                escape.path
            ));
        }
    }
    assert!(
        report.is_empty(),
        "tracked files name paths outside the repository (a clone has nothing beside it; \
         copy what is needed under tests/data/):\n{}",
        report.join("\n")
    );
}

/// The check finds each kind of escape it is meant to find, and leaves hostile input
/// given to the code under test alone.
#[test]
fn the_check_tells_escapes_from_test_input() {
    let cases: &[(&str, &str, usize)] = &[
        (
            "src/standards/tests.rs",
            "const D: &str = concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../shared/x\");",
            1,
        ),
        (
            "tests/journeys/qa.rs",
            "    std::fs::read(format!(\"../shared/standards/{name}\"))",
            1,
        ),
        ("src/web/x.rs", "include_str!(\"../../../static/a.css\")", 1),
        (
            "src/web/pages/x.rs",
            "include_str!(\"../../../static/a.css\")",
            0,
        ),
        (
            "src/a/b.rs",
            "assert_eq!(err(\"../../etc/passwd\"), E::Parent);",
            0,
        ),
        (
            "scripts/gen.py",
            "  python3 scripts/gen.py ../shared/standards/limits.json",
            1,
        ),
        ("scripts/test", "cd \"$(dirname \"$0\")/..\"", 0),
        (
            "scripts/test",
            "source \"$(dirname \"$0\")/../tests/env\"",
            0,
        ),
        ("docs/api.md", "see [the guide](../README.md)", 0),
        ("docs/api.md", "see [the guide](../../other/README.md)", 1),
        ("README.md", "a path like `../etc` is refused", 0),
        (
            "src/x.rs",
            "// generated from /work/shared/standards/lists.csv",
            1,
        ),
    ];
    for (file, line, expected) in cases {
        assert_eq!(
            escapes(Path::new(file), line).len(),
            *expected,
            "{file}: {line}"
        );
    }
}
