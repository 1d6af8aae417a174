//! The harness itself: its waits end, its ports do not collide, its processes die with
//! the test.

use crate::support::process::{binary, Process};
use crate::support::wait::{self, Check};
use crate::support::*;
use std::time::Duration;

#[actix_web::test]
async fn a_wait_that_never_ends_fails_with_what_it_saw() -> TestResult {
    let outcome = wait::eventually_within("nothing", Duration::from_millis(100), || async {
        Ok(Check::<()>::NotYet("still nothing".into()))
    })
    .await;
    let message = outcome
        .err()
        .ok_or("the wait ended without its probe")?
        .to_string();
    assert!(
        message.contains("nothing") && message.contains("still nothing"),
        "{message}"
    );
    Ok(())
}

#[test]
fn free_ports_are_distinct_and_below_the_ephemeral_range() -> TestResult {
    let ports = free_ports(50)?;
    let mut distinct = ports.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 50, "{ports:?}");
    // Never handed out twice, even in another call.
    let more = free_ports(50)?;
    assert!(more.iter().all(|p| !ports.contains(p)), "{more:?}");
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")?;
    let first: u16 = range.split_whitespace().next().ok_or("range")?.parse()?;
    assert!(ports.iter().chain(&more).all(|p| *p < first), "{ports:?}");
    Ok(())
}

#[actix_web::test]
async fn a_dropped_process_is_killed_and_its_log_kept() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("version.log");
    let mut cmd = std::process::Command::new(binary());
    cmd.arg("--version");
    let mut done = Process::spawn(cmd, &log, None)?;
    let status = done
        .wait_exit(wait::PATIENCE)
        .await?
        .ok_or("--version did not end")?;
    assert!(status.success());
    assert!(done.log_text().contains("holdfast"), "{}", done.log_text());

    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("600");
    let sleeper = Process::spawn(cmd, &dir.path().join("sleep.log"), None)?;
    let pid = sleeper.pid();
    drop(sleeper);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the process is gone once dropped"
    );
    Ok(())
}
