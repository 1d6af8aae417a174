//! Fixity audits: stored bytes that change are found by the next audit, shown on the
//! pages and the API, ticketed and emailed to curators, never served, and repaired from
//! a good copy; the event history tells the whole story.

use crate::helpers::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

fn holdfast(app: &TestApp) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_holdfast"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOLDFAST_DATA_DIR", &app.data_dir)
        .env("HOLDFAST_DATABASE_URL", &app.archive.settings.database_url)
        .env("HOLDFAST_LOG", "warn");
    cmd
}

/// A published dataset of `files` (path, bytes); returns (id, object root on disk).
async fn published(
    app: &TestApp,
    depositor: &str,
    curator: &str,
    title: &str,
    files: &[(&str, &[u8])],
) -> Result<(i64, PathBuf), Error> {
    let id = app.api_draft(depositor, title).await?;
    for (path, bytes) in files {
        let r = app
            .client()
            .put(app.url(&format!("/api/datasets/{id}/files/{path}")))
            .bearer_auth(depositor)
            .body(bytes.to_vec())
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED, "upload {path}");
    }
    let body = app.api_publish(depositor, curator, id).await?;
    let concept = body["concept_doi"]
        .as_str()
        .ok_or("published dataset without concept DOI")?;
    let root = app
        .ocfl_root()
        .join(app.archive.ocfl.object_root(&format!("doi:{concept}")));
    Ok((id, root))
}

async fn fixity_of(app: &TestApp, token: &str, id: i64) -> Result<serde_json::Value, Error> {
    let r = app
        .client()
        .get(app.url(&format!("/api/datasets/{id}/fixity")))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    Ok(r.json().await?)
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

/// Polls the fixity API until `done` holds (the scheduled audit runs every second here).
async fn wait_fixity(
    app: &TestApp,
    token: &str,
    id: i64,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Result<serde_json::Value, Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = fixity_of(app, token, id).await?;
        if done(&report) {
            return Ok(report);
        }
        if Instant::now() > deadline {
            return Err(format!("{what} did not happen within a minute: {report}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The .eml files of the mail folder whose text contains `needle`.
async fn mails_with(app: &TestApp, needle: &str) -> Result<Vec<String>, Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut found = Vec::new();
        if let Ok(entries) = std::fs::read_dir(app.data_dir.join("mail")) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if text.contains(needle) {
                    found.push(text);
                }
            }
        }
        if !found.is_empty() || Instant::now() > deadline {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn fast_audits(args: &mut holdfast::config::SettingsArgs) {
    // Everything is overdue at once and the sweep runs every second: audits happen
    // within the test's time without waiting for a real cycle.
    args.fixity_interval_secs = Some(1);
    args.fixity_cycle_days = Some(0.00001);
    args.fixity_auto_repair = Some(false);
}

#[actix_web::test]
async fn damaged_bytes_are_found_shown_ticketed_mailed_never_served_and_repaired() -> TestResult {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, fast_audits).await?;
        journey(&app)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

async fn journey(app: &TestApp) -> TestResult {
    let depositor = app.token_for("pi@example.org", Role::Depositor).await?;
    let curator = app.token_for("cura@example.org", Role::Curator).await?;
    let flip: &[u8] = b"time,flux\n2019-01-01T00:00,1.5\n2019-01-01T00:30,1.7\n";
    let gone: &[u8] = b"site,lat,lon\nUS-Ha1,42.5378,-72.1715\n";
    let short: &[u8] = b"variable,unit\nFC,umolCO2 m-2 s-1\nLE,W m-2\n";
    let unique: &[u8] = b"only stored once, in one dataset\n";
    let (a, root_a) = published(
        app,
        &depositor,
        &curator,
        "Fluxes A",
        &[
            ("data/flip.csv", flip),
            ("gone.csv", gone),
            ("short.csv", short),
            ("unique.txt", unique),
        ],
    )
    .await?;
    // A second dataset holds the same bytes: a good copy to repair from.
    let (b, _) = published(
        app,
        &depositor,
        &curator,
        "Fluxes B",
        &[("flip.csv", flip), ("gone.csv", gone), ("short.csv", short)],
    )
    .await?;

    // Freshly published bytes count as verified, and the API lists every stored file
    // (content and inventories).
    let before = fixity_of(app, &curator, a).await?;
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
    assert_eq!(flip_entry["sha256"], sha256_hex(flip));

    // One byte flipped, one file deleted, one truncated, one stray file added.
    let content = root_a.join("v1/content");
    let mut bytes = std::fs::read(content.join("data/flip.csv"))?;
    bytes[5] ^= 0x01;
    std::fs::write(content.join("data/flip.csv"), &bytes)?;
    std::fs::remove_file(content.join("gone.csv"))?;
    std::fs::write(content.join("short.csv"), &short[..10])?;
    std::fs::write(content.join("stray.bin"), b"nobody put me here")?;

    let report = wait_fixity(app, &curator, a, "the audit finding the damage", |r| {
        r["damaged"] == 3 && r["unexpected"].as_array().is_some_and(|u| !u.is_empty())
    })
    .await?;
    let last = |path: &str| -> Result<serde_json::Value, Error> {
        let f = file_entry(&report, path).ok_or_else(|| format!("{path} in {report}"))?;
        Ok(f["history"]
            .as_array()
            .and_then(|h| h.last())
            .cloned()
            .ok_or("no history")?)
    };
    let flipped = last("v1/content/data/flip.csv")?;
    assert_eq!(flipped["outcome"], "mismatch");
    assert_eq!(flipped["expected_sha256"], sha256_hex(flip));
    assert_eq!(flipped["found_sha256"], sha256_hex(&bytes));
    assert_eq!(flipped["found_size"], flip.len());
    let missing = last("v1/content/gone.csv")?;
    assert_eq!(missing["outcome"], "missing");
    let truncated = last("v1/content/short.csv")?;
    assert_eq!(truncated["outcome"], "mismatch");
    assert_eq!(truncated["expected_size"], short.len());
    assert_eq!(truncated["found_size"], 10);
    assert!(
        truncated["detail"]
            .as_str()
            .unwrap_or("")
            .contains("truncated"),
        "{truncated}"
    );
    assert!(
        report["unexpected"].as_array().is_some_and(|u| u
            .iter()
            .any(|c| c["content_path"] == "v1/content/stray.bin" && c["outcome"] == "extra")),
        "{}",
        report["unexpected"]
    );
    assert_eq!(
        file_entry(&report, "v1/content/unique.txt").ok_or("unique")?["state"],
        "ok"
    );

    // The damaged bytes are never served: 503 with an explanation, for the file and for
    // the whole-version zip; the same bytes of the other dataset are served as usual.
    let client = app.client();
    for path in ["data/flip.csv", "gone.csv", "short.csv"] {
        let r = client
            .get(app.url(&format!("/datasets/{a}/files/{path}")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let text = r.text().await?;
        assert!(text.contains("fixity audit"), "{text}");
    }
    let r = client
        .get(app.url(&format!("/datasets/{a}/versions/1/download?format=zip")))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let r = client
        .get(app.url(&format!("/datasets/{a}/files/unique.txt")))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await?.as_ref(), unique);
    let r = client
        .get(app.url(&format!("/datasets/{b}/files/flip.csv")))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await?.as_ref(), flip);

    // The landing page says so.
    let page = client
        .get(app.url(&format!("/datasets/{a}")))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        page.contains("not served until repaired"),
        "the page marks damaged files"
    );
    assert!(page.contains("id=\"version-verified\""));

    // A fixity ticket with one item per problem, and the evidence.
    let tickets: serde_json::Value = client
        .get(app.url(&format!("/api/datasets/{a}/tickets")))
        .bearer_auth(&curator)
        .send()
        .await?
        .json()
        .await?;
    let text = tickets.to_string();
    for code in ["fixity-mismatch", "fixity-missing", "fixity-extra-file"] {
        assert!(text.contains(code), "{code} in {text}");
    }
    assert!(
        text.contains(&sha256_hex(&bytes)),
        "the found digest is in the evidence"
    );

    // Curators are emailed.
    let mails = mails_with(app, "Fixity alert").await?;
    assert!(!mails.is_empty(), "a fixity alert mail");
    assert!(mails.iter().any(|m| m.contains("cura@example.org")));

    // The command line audit sees the same and exits 1.
    let out = holdfast(app)
        .args(["fixity", "run", "--dataset", &a.to_string()])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED") && stdout.contains("v1/content/gone.csv"),
        "{stdout}"
    );

    // The admin preservation page shows the failures and the coverage.
    let browser = app.browser();
    let password = app.user("admin@example.org", Role::Admin).await?;
    browser.sign_in("admin@example.org", &password).await?;
    let (status, dashboard) = browser.get_text("/admin/preservation").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(dashboard.contains("Damaged files (3)"), "{dashboard}");
    assert!(dashboard.contains("v1/content/short.csv"));
    assert!(dashboard.contains("id=\"verified-share\""));

    // Unique bytes damaged too: no good copy exists, so they stay damaged and say why.
    std::fs::write(content.join("unique.txt"), b"changed")?;
    wait_fixity(app, &curator, a, "the audit finding unique.txt", |r| {
        r["damaged"] == 4
    })
    .await?;

    // Repair restores the three from dataset B, quarantines the stray file, and reports
    // the one it cannot repair (exit code 1).
    let out = holdfast(app).args(["fixity", "repair"]).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.matches("repaired  dataset").count(), 3, "{stdout}");
    assert!(
        stdout.contains("NOT REPAIRED") && stdout.contains("unique.txt"),
        "{stdout}"
    );
    assert!(stdout.contains("stray.bin"), "{stdout}");
    assert_eq!(std::fs::read(content.join("data/flip.csv"))?, flip);
    assert_eq!(std::fs::read(content.join("gone.csv"))?, gone);
    assert_eq!(std::fs::read(content.join("short.csv"))?, short);
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
    let r = client
        .get(app.url(&format!("/datasets/{a}/files/data/flip.csv")))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await?.as_ref(), flip);
    let after = fixity_of(app, &curator, a).await?;
    assert_eq!(after["damaged"], 1, "only unique.txt is left: {after}");
    let repaired = file_entry(&after, "v1/content/gone.csv").ok_or("gone")?;
    assert_eq!(repaired["state"], "ok");
    assert!(repaired["history"]
        .as_array()
        .is_some_and(|h| h.iter().any(|c| c["outcome"] == "repaired")));

    // With unique.txt put back by hand, the next audit clears it and the ticket closes.
    std::fs::write(content.join("unique.txt"), unique)?;
    wait_fixity(app, &curator, a, "the audit clearing unique.txt", |r| {
        r["damaged"] == 0
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tickets: serde_json::Value = client
            .get(app.url(&format!("/api/datasets/{a}/tickets")))
            .bearer_auth(&curator)
            .send()
            .await?
            .json()
            .await?;
        let closed = tickets
            .as_array()
            .or_else(|| tickets["tickets"].as_array())
            .is_some_and(|list| {
                list.iter()
                    .any(|t| t["kind"] == "fixity" && t["state"] == "closed")
            });
        if closed {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the fixity ticket did not close: {tickets}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The event history reads as an account of what happened.
    let events: serde_json::Value = client
        .get(app.url(&format!("/api/datasets/{a}/events")))
        .bearer_auth(&curator)
        .send()
        .await?
        .json()
        .await?;
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
    let xml = client
        .get(app.url(&format!("/api/datasets/{a}/events?format=premis")))
        .bearer_auth(&curator)
        .send()
        .await?
        .text()
        .await?;
    assert!(xml.contains("http://id.loc.gov/vocabulary/preservation/eventType/rec"));
    assert!(xml.contains("http://id.loc.gov/vocabulary/preservation/eventType/fix"));
    validate_ocfl_root(&app.ocfl_root())?;
    Ok(())
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
        let depositor = app.token_for("pi@example.org", Role::Depositor).await?;
        let curator = app.token_for("cura@example.org", Role::Curator).await?;
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
        let healed = wait_fixity(&app, &curator, a, "the automatic repair", |r| {
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
        let r = app
            .client()
            .get(app.url(&format!("/datasets/{a}/files/big.bin")))
            .send()
            .await?;
        assert_eq!(r.bytes().await?.as_ref(), &data[..]);
        Ok(())
    })
    .await
}
