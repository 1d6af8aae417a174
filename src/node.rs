//! This node: its name among the nodes sharing a database and storage, and whether a
//! process of this host still lives. Leases, temp-file names and job worker names carry
//! both, so a node can tell its own leftovers (of a dead process) from another node's.

/// This machine's name, which tells one node's workers (and temp files) from another's:
/// `HOSTNAME` if set, else the kernel's host name. Only letters, digits, `.` and `-`
/// are kept, so it fits in file names and `host:pid:slot` worker names.
pub fn host_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let raw = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .unwrap_or_default();
        let name: String = raw
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        if name.is_empty() {
            "local".into()
        } else {
            name
        }
    })
    .clone()
}

/// Whether process `pid` of this host has ended. Our own pid counts as alive (an
/// earlier `Archive` of this same process may be running workers).
pub fn process_is_dead(pid: i32) -> bool {
    if u32::try_from(pid).ok() == Some(std::process::id()) || pid <= 0 {
        return false;
    }
    // Signal 0 checks for existence only; EPERM means it exists under another user.
    matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// The writer's pid in a temp file name `<pid>@<host>-<random>` (or `<pid>-<random>`
/// from releases that named no host) when the writer ran on this host; None for
/// another host's file (a folder shared by several nodes) or a name without a pid,
/// which are judged by their age instead.
pub fn own_writer_pid(rest: &str) -> Option<i32> {
    // The random part has no '-'; a host name may.
    let (writer, _) = rest.rsplit_once('-')?;
    match writer.split_once('@') {
        Some((pid, host)) if host == host_name() => pid.parse().ok(),
        Some(_) => None,
        None => writer.parse().ok(),
    }
}
