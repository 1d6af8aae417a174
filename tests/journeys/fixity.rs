//! Fixity audits: stored bytes that change are found by the next audit, shown on the
//! pages and the API, ticketed and emailed to curators, never served, and repaired from
//! a good copy; the event history tells the whole story.

use crate::support::process::Home;
use crate::support::wait::Check;
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::PathBuf;

/// A published dataset of `files` (path, bytes); returns (id, object root on disk).
async fn published(
    app: &TestApp,
    depositor: &Api,
    curator: &Api,
    title: &str,
    files: &[(&str, &[u8])],
) -> Result<(i64, PathBuf), Error> {
    let id = depositor.create_draft(title).await?;
    for (path, bytes) in files {
        depositor.put_file(id, path, bytes).await?;
    }
    let body = app.publish(depositor, curator, id).await?;
    let concept = body["concept_doi"]
        .as_str()
        .ok_or("published dataset without concept DOI")?;
    let root = app
        .ocfl_root()
        .join(app.archive.ocfl.object_root(&format!("doi:{concept}")));
    Ok((id, root))
}

fn file_entry<'a>(
    report: &'a serde_json::Value,
    content_path: &str,
) -> Option<&'a serde_json::Value> {
    report["files"]
        .as_array()?
        .iter()
        .find(|f| f["content_path"] == content_path)
}

/// Runs the due jobs (the scheduled audit among them) until the fixity report
/// satisfies `done`.
async fn audit_until(
    app: &TestApp,
    curator: &Api,
    id: i64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, Error> {
    app.run_jobs_until(what, || async {
        let report = curator
            .get_ok(&format!("/api/datasets/{id}/fixity"))
            .await?;
        Ok(if done(&report) {
            Check::Done(report)
        } else {
            Check::NotYet(report.to_string())
        })
    })
    .await
}

/// Audits come round every second and everything is overdue at once: the next audit
/// happens within the test's time without waiting for a real cycle.
fn fast_audits() -> Builder {
    TestApp::builder().settings(|args| {
        args.fixity_interval_secs = Some(1);
        args.fixity_cycle_days = Some(0.00001);
        args.fixity_auto_repair = Some(false);
    })
}

const FLIP: &[u8] = b"time,flux\n2019-01-01T00:00,1.5\n2019-01-01T00:30,1.7\n";
const GONE: &[u8] = b"site,lat,lon\nUS-Ha1,42.5378,-72.1715\n";
const SHORT: &[u8] = b"variable,unit\nFC,umolCO2 m-2 s-1\nLE,W m-2\n";
const UNIQUE: &[u8] = b"only stored once, in one dataset\n";

/// Dataset A, and B which holds the same bytes (a good copy to repair from).
struct Archive {
    curator: Api,
    a: i64,
    b: i64,
    /// A's version 1 content folder.
    content: PathBuf,
}

async fn two_datasets(app: &TestApp) -> Result<Archive, Error> {
    let depositor = app.api(&app.new_user("pi@example.org", Role::Depositor).await?.token);
    let curator = app.api(&app.new_user("cura@example.org", Role::Curator).await?.token);
    let files: &[(&str, &[u8])] = &[
        ("data/flip.csv", FLIP),
        ("gone.csv", GONE),
        ("short.csv", SHORT),
        ("unique.txt", UNIQUE),
    ];
    let (a, root_a) = published(app, &depositor, &curator, "Fluxes A", files).await?;
    let copies: &[(&str, &[u8])] = &[("flip.csv", FLIP), ("gone.csv", GONE), ("short.csv", SHORT)];
    let (b, _) = published(app, &depositor, &curator, "Fluxes B", copies).await?;
    Ok(Archive {
        curator,
        a,
        b,
        content: root_a.join("v1/content"),
    })
}

/// One byte flipped, one file deleted, one truncated, one stray file added; runs audits
/// until they are found. The flipped file's bytes and the report.
async fn damage(app: &TestApp, archive: &Archive) -> Result<(Vec<u8>, Value), Error> {
    let content = &archive.content;
    let mut bytes = std::fs::read(content.join("data/flip.csv"))?;
    bytes[5] ^= 0x01;
    std::fs::write(content.join("data/flip.csv"), &bytes)?;
    std::fs::remove_file(content.join("gone.csv"))?;
    std::fs::write(content.join("short.csv"), &SHORT[..10])?;
    std::fs::write(content.join("stray.bin"), b"nobody put me here")?;
    let report = audit_until(
        app,
        &archive.curator,
        archive.a,
        "the audit finding the damage",
        |r| r["damaged"] == 3 && r["unexpected"].as_array().is_some_and(|u| !u.is_empty()),
    )
    .await?;
    Ok((bytes, report))
}

#[actix_web::test]
async fn an_audit_finds_flipped_missing_truncated_and_stray_files() -> TestResult {
    fast_audits()
        .on_each_backend(|app| async move {
            let archive = two_datasets(&app).await?;
            // Freshly published bytes count as verified, and the API lists every stored
            // file (content and inventories).
            let before = archive
                .curator
                .get_ok(&format!("/api/datasets/{}/fixity", archive.a))
                .await?;
            assert_eq!(before["damaged"], 0, "{before}");
            for path in [
                "v1/content/data/flip.csv",
                "v1/content/gone.csv",
                "inventory.json",
                "v1/inventory.json",
            ] {
                let f = file_entry(&before, path).ok_or_else(|| format!("{path} in {before}"))?;
                assert_eq!(f["state"], "ok");
            }
            let flip_entry = file_entry(&before, "v1/content/data/flip.csv").ok_or("flip entry")?;
            assert_eq!(flip_entry["appears_in"][0]["path"], "data/flip.csv");
            assert_eq!(flip_entry["sha256"], sha256_hex(FLIP));

            let (bytes, report) = damage(&app, &archive).await?;
            let last = |path: &str| -> Result<Value, Error> {
                let f = file_entry(&report, path).ok_or_else(|| format!("{path} in {report}"))?;
                Ok(f["history"]
                    .as_array()
                    .and_then(|h| h.last())
                    .cloned()
                    .ok_or("no history")?)
            };
            let flipped = last("v1/content/data/flip.csv")?;
            assert_eq!(flipped["outcome"], "mismatch");
            assert_eq!(flipped["expected_sha256"], sha256_hex(FLIP));
            assert_eq!(flipped["found_sha256"], sha256_hex(&bytes));
            assert_eq!(flipped["found_size"], FLIP.len());
            assert_eq!(last("v1/content/gone.csv")?["outcome"], "missing");
            let truncated = last("v1/content/short.csv")?;
            assert_eq!(truncated["outcome"], "mismatch");
            assert_eq!(truncated["expected_size"], SHORT.len());
            assert_eq!(truncated["found_size"], 10);
            assert!(
                truncated["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("truncated"),
                "{truncated}"
            );
            let unexpected = &report["unexpected"];
            assert!(
                unexpected
                    .as_array()
                    .is_some_and(|u| u
                        .iter()
                        .any(|c| c["content_path"] == "v1/content/stray.bin"
                            && c["outcome"] == "extra")),
                "{unexpected}"
            );
            assert_eq!(
                file_entry(&report, "v1/content/unique.txt").ok_or("unique")?["state"],
                "ok"
            );
            Ok(())
        })
        .await
}

#[actix_web::test]
async fn damaged_bytes_are_never_served_and_the_page_says_so() -> TestResult {
    fast_audits()
        .on_each_backend(|app| async move {
            let archive = two_datasets(&app).await?;
            damage(&app, &archive).await?;
            let (a, b, public) = (archive.a, archive.b, app.public_api());
            // 503 with an explanation, for the file and for the whole-version zip; the
            // same bytes of the other dataset are served as usual.
            for path in ["data/flip.csv", "gone.csv", "short.csv"] {
                let r = public.get(&format!("/datasets/{a}/files/{path}")).await?;
                assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
                assert!(r.text.contains("fixity audit"), "{}", r.text);
            }
            let r = public
                .get(&format!("/datasets/{a}/versions/1/download?format=zip"))
                .await?;
            assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(public.download(a, "unique.txt").await?, UNIQUE);
            assert_eq!(public.download(b, "flip.csv").await?, FLIP);
            let page = public.get(&format!("/datasets/{a}")).await?.text;
            assert!(
                page.contains("not served until repaired"),
                "the page marks damaged files"
            );
            assert!(page.contains("id=\"version-verified\""));
            Ok(())
        })
        .await
}

#[actix_web::test]
async fn damage_is_ticketed_mailed_and_shown_to_operators() -> TestResult {
    fast_audits()
        .on_each_backend(|app| async move {
            let archive = two_datasets(&app).await?;
            let (bytes, _) = damage(&app, &archive).await?;
            let a = archive.a;
            // A fixity ticket with one item per problem, and the evidence.
            let text = archive
                .curator
                .get_ok(&format!("/api/datasets/{a}/tickets"))
                .await?
                .to_string();
            for code in ["fixity-mismatch", "fixity-missing", "fixity-extra-file"] {
                assert!(text.contains(code), "{code} in {text}");
            }
            assert!(
                text.contains(&sha256_hex(&bytes)),
                "the found digest is in the evidence"
            );

            // Curators are emailed.
            let alerts: Vec<Mail> = app
                .mail()
                .await?
                .into_iter()
                .filter(|m| m.subject.contains("Fixity alert") || m.text.contains("Fixity alert"))
                .collect();
            assert!(!alerts.is_empty(), "a fixity alert mail");
            assert!(
                alerts.iter().any(|m| m.is_to("cura@example.org")),
                "{alerts:?}"
            );

            // The command line audit sees the same and exits 1.
            let cli = Home::on(app.data_dir.clone(), &app.archive.settings.database_url);
            let out = cli.run(&["fixity", "run", "--dataset", &a.to_string()])?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "{stdout}");
            assert!(
                stdout.contains("FAILED") && stdout.contains("v1/content/gone.csv"),
                "{stdout}"
            );

            // The admin preservation page shows the failures and the coverage.
            let admin = app
                .signed_in(&app.new_user("admin@example.org", Role::Admin).await?)
                .await?;
            let dashboard = admin.page("/admin/preservation").await?;
            assert!(dashboard.contains("Damaged files (3)"), "{dashboard}");
            assert!(dashboard.contains("v1/content/short.csv"));
            assert!(dashboard.contains("id=\"verified-share\""));
            Ok(())
        })
        .await
}

/// Two datasets, A damaged (`damage`), and A's unique bytes changed too: no good copy
/// of them exists, so they stay damaged. Audited: four damaged files.
async fn damaged_beyond_repair(app: &TestApp) -> Result<Archive, Error> {
    let archive = two_datasets(app).await?;
    damage(app, &archive).await?;
    std::fs::write(archive.content.join("unique.txt"), b"changed")?;
    let (a, curator) = (archive.a, &archive.curator);
    audit_until(app, curator, a, "the audit finding unique.txt", |r| {
        r["damaged"] == 4
    })
    .await?;
    Ok(archive)
}

#[actix_web::test]
async fn repair_restores_from_a_good_copy_and_reports_what_it_cannot() -> TestResult {
    fast_audits()
        .on_each_backend(|app| async move {
            let archive = damaged_beyond_repair(&app).await?;
            let (a, content, curator) = (archive.a, &archive.content, &archive.curator);

            // Repair restores the three from dataset B, quarantines the stray file, and
            // reports the one it cannot repair (exit code 1).
            let cli = Home::on(app.data_dir.clone(), &app.archive.settings.database_url);
            let out = cli.run(&["fixity", "repair"])?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "{stdout}");
            assert_eq!(stdout.matches("repaired  dataset").count(), 3, "{stdout}");
            assert!(
                stdout.contains("NOT REPAIRED") && stdout.contains("unique.txt"),
                "{stdout}"
            );
            assert!(stdout.contains("stray.bin"), "{stdout}");
            assert_eq!(std::fs::read(content.join("data/flip.csv"))?, FLIP);
            assert_eq!(std::fs::read(content.join("gone.csv"))?, GONE);
            assert_eq!(std::fs::read(content.join("short.csv"))?, SHORT);
            assert!(
                !content.join("stray.bin").exists(),
                "moved out of the object"
            );
            let quarantined = walk(&app.data_dir.join("quarantine"));
            assert!(
                quarantined
                    .iter()
                    .any(|p| p.to_string_lossy().contains("stray.bin")),
                "{quarantined:?}"
            );

            // Served again, byte for byte; the history records the repair.
            assert_eq!(app.public_api().download(a, "data/flip.csv").await?, FLIP);
            let after = curator.get_ok(&format!("/api/datasets/{a}/fixity")).await?;
            assert_eq!(after["damaged"], 1, "only unique.txt is left: {after}");
            let repaired = file_entry(&after, "v1/content/gone.csv").ok_or("gone")?;
            assert_eq!(repaired["state"], "ok");
            let history = repaired["history"].as_array();
            assert!(history.is_some_and(|h| h.iter().any(|c| c["outcome"] == "repaired")));
            Ok(())
        })
        .await
}

#[actix_web::test]
async fn a_cleared_audit_closes_the_ticket_and_the_history_tells_the_story() -> TestResult {
    fast_audits()
        .on_each_backend(|app| async move {
            let archive = damaged_beyond_repair(&app).await?;
            let (a, content, curator) = (archive.a, &archive.content, &archive.curator);
            let cli = Home::on(app.data_dir.clone(), &app.archive.settings.database_url);
            cli.run(&["fixity", "repair"])?;
            // With unique.txt put back by hand, the next audit clears it and the ticket
            // closes.
            std::fs::write(content.join("unique.txt"), UNIQUE)?;
            audit_until(&app, curator, a, "the audit clearing unique.txt", |r| {
                r["damaged"] == 0
            })
            .await?;
            app.run_jobs_until("the fixity ticket to close", || async {
                let tickets = curator
                    .get_ok(&format!("/api/datasets/{a}/tickets"))
                    .await?;
                let closed = tickets["tickets"].as_array().is_some_and(|list| {
                    list.iter()
                        .any(|t| t["kind"] == "fixity" && t["state"] == "closed")
                });
                Ok(if closed {
                    Check::Done(())
                } else {
                    Check::NotYet(tickets.to_string())
                })
            })
            .await?;

            // The event history reads as an account of what happened.
            let events = curator.get_ok(&format!("/api/datasets/{a}/events")).await?;
            let list = events["events"].as_array().ok_or("events")?;
            let has = |kind: &str, outcome: &str| {
                list.iter()
                    .any(|e| e["event_type"] == kind && e["outcome"] == outcome)
            };
            assert!(has("ingestion", "success"));
            assert!(has("message digest calculation", "success"));
            assert!(has("fixity check", "success"));
            assert!(has("fixity check", "failure"));
            assert!(has("recovery", "success"));
            assert!(has("recovery", "failure"));
            assert!(has("quarantine", "success"));
            let xml = curator
                .get(&format!("/api/datasets/{a}/events?format=premis"))
                .await?
                .text;
            assert!(xml.contains("http://id.loc.gov/vocabulary/preservation/eventType/rec"));
            assert!(xml.contains("http://id.loc.gov/vocabulary/preservation/eventType/fix"));
            validate_ocfl_root(&app.ocfl_root())?;
            Ok(())
        })
        .await
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[actix_web::test]
async fn the_audit_repairs_by_itself_and_a_download_never_completes_with_bad_bytes() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let (depositor, curator) = (
            app.api(&users.depositor.token),
            app.api(&users.curator.token),
        );
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let (a, root_a) = published(&app, &depositor, &curator, "A", &[("big.bin", &data)]).await?;
        published(&app, &depositor, &curator, "B", &[("copy.bin", &data)]).await?;
        // One bit flipped behind the archive's back, before any audit saw it.
        let path = root_a.join("v1/content/big.bin");
        let mut bytes = std::fs::read(&path)?;
        bytes[2_500_000] ^= 0x80;
        std::fs::write(&path, &bytes)?;
        // A whole-file download is checked while it streams: it does not complete.
        let r = app
            .client()
            .get(app.url(&format!("/datasets/{a}/files/big.bin")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        // Either the connection is cut (what a client should see) or it ends short.
        if let Ok(b) = r.bytes().await {
            assert!(
                b.len() < data.len(),
                "a damaged file was served whole ({} bytes)",
                b.len()
            );
        }
        // That download started an audit of the file; with automatic repair on, the
        // copy in dataset B heals it.
        let healed = audit_until(&app, &curator, a, "the automatic repair", |r| {
            file_entry(r, "v1/content/big.bin").is_some_and(|f| {
                f["state"] == "ok"
                    && f["history"].as_array().is_some_and(|h| {
                        h.iter().any(|c| c["outcome"] == "mismatch")
                            && h.iter().any(|c| c["outcome"] == "repaired")
                    })
            })
        })
        .await?;
        assert_eq!(healed["damaged"], 0);
        assert_eq!(std::fs::read(&path)?, data);
        assert_eq!(app.public_api().download(a, "big.bin").await?, data);
        Ok(())
    })
    .await
}
