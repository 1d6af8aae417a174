//! Named crash points: a testing hook that lets the crash-safety test kill holdfast
//! at an exact place in a real code path.
//!
//! When the environment variable `HOLDFAST_CRASH_AT` names a point (`name`, or
//! `name#N` for the Nth time it is reached), the process kills itself with SIGKILL
//! there: no destructor runs, no buffer is flushed, no transaction is rolled back
//! by us, exactly as if the machine lost power for holdfast alone. The variable is
//! read once; when it is unset a point costs one atomic load and a branch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub const ENV: &str = "HOLDFAST_CRASH_AT";

/// Every crash point in the code, for the test and the README.
pub const POINTS: &[&str] = &[
    "upload.mid-file",
    "staging.after-fsync",
    "staging.after-rename",
    "unpack.after-entry",
    "add-files.before-commit",
    "add-files.after-commit",
    "remove-file.after-commit",
    "job.after-claim",
    "job.before-finish",
    "publish.after-dois-reserved",
    "ocfl.after-object-declaration",
    "ocfl.mid-content",
    "ocfl.after-version-inventory",
    "ocfl.after-version-sidecar",
    "ocfl.after-root-inventory",
    "publish.after-ocfl-commit",
    "publish.after-file-chunk",
    "publish.before-db-commit",
    "publish.after-db-commit",
    "publish.before-event-log",
    "publish.after-event-log",
    "blob.put-file.mid-copy",
    "blob.put-file.temp-written",
    "blob.put-bytes.temp-written",
    "new-version.before-commit",
    "new-version.after-commit",
    "deaccession.before-commit",
    "deaccession.after-commit",
];

struct Target {
    name: String,
    nth: u64,
    reached: AtomicU64,
}

static TARGET: OnceLock<Option<Target>> = OnceLock::new();

fn parse(spec: &str) -> Option<Target> {
    let spec = spec.trim();
    if spec.is_empty() {
        return None;
    }
    let (name, nth) = match spec.split_once('#') {
        Some((name, n)) => (name, n.trim().parse().ok().filter(|n| *n > 0)?),
        None => (spec, 1),
    };
    Some(Target {
        name: name.trim().to_string(),
        nth,
        reached: AtomicU64::new(0),
    })
}

/// Kills the process here if `HOLDFAST_CRASH_AT` names this point (and this is the
/// Nth time it is reached).
#[inline]
pub fn hit(name: &str) {
    let target = TARGET.get_or_init(|| {
        let target = std::env::var(ENV).ok().and_then(|s| parse(&s));
        if let Some(t) = &target {
            if !POINTS.contains(&t.name.as_str()) {
                tracing::error!(point = %t.name, "{ENV} names no known crash point");
            }
        }
        target
    });
    if let Some(t) = target {
        if t.name == name && t.reached.fetch_add(1, Ordering::SeqCst) + 1 == t.nth {
            die(name);
        }
    }
}

#[cold]
fn die(name: &str) -> ! {
    // stderr is unbuffered: the test can see which point fired.
    eprintln!("holdfast: crash point {name} reached, killing the process (SIGKILL)");
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    // Not reached: SIGKILL cannot be caught. Abort is the closest thing if it were.
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let t = parse("publish.after-db-commit").expect("parses");
        assert_eq!((t.name.as_str(), t.nth), ("publish.after-db-commit", 1));
        let t = parse("ocfl.mid-content#3").expect("parses");
        assert_eq!((t.name.as_str(), t.nth), ("ocfl.mid-content", 3));
        assert!(parse("").is_none());
        assert!(parse("x#0").is_none());
        assert!(parse("x#many").is_none());
    }

    #[test]
    fn points_are_unique() {
        let set: std::collections::HashSet<_> = POINTS.iter().collect();
        assert_eq!(set.len(), POINTS.len());
    }
}
