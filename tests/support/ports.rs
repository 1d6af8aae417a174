//! Free ports on 127.0.0.1 for the processes journeys start (holdfast, aiosmtpd,
//! SeaweedFS, fake partners).
//!
//! Asking the kernel for port 0 and handing the number to a child races: the number
//! comes from the ephemeral range, which every outgoing connection of every test also
//! draws from, so a client socket can take it between the probe and the child's bind.
//! Ports here come from below that range, where no outgoing connection lands, are
//! checked by binding them, and are never handed out twice by this test binary. What
//! is left (another program on the machine binding the same number) is handled where
//! a process starts: [`crate::support::process`] starts it again on another port.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

use rand::Rng;

/// The lowest port handed out.
const LOWEST: u16 = 20_000;

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The first port of the kernel's ephemeral range (32768 where it cannot be read).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .filter(|p: &u16| *p > LOWEST + 1_000)
        .unwrap_or(32_768)
}

/// A port nothing listens on, below the ephemeral range, not handed out before.
pub fn free_port() -> std::io::Result<u16> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct free ports (see [`free_port`]).
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let highest = ephemeral_start();
    let mut rng = rand::thread_rng();
    let mut given = handed_out()
        .lock()
        .map_err(|_| std::io::Error::other("the port register is poisoned"))?;
    let mut ports = Vec::with_capacity(n);
    for _ in 0..10_000 {
        if ports.len() == n {
            return Ok(ports);
        }
        let port = rng.gen_range(LOWEST..highest);
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            ports.push(port);
        }
    }
    Err(std::io::Error::other(format!(
        "no {n} free ports between {LOWEST} and {highest}"
    )))
}

/// True when a child's log says it could not bind its port (another program took it
/// after [`free_port`] checked it): start it again on another port.
pub fn lost_the_port(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("address already in use")
}
