//! ResourceSync: a partner copies every published file with the `resync` client
//! (baseline through discovery at /.well-known/resourcesync, the resource list paged
//! with a sitemap index), then follows the change list (a new version, a deaccession:
//! its files deleted), and its audit finds the copy in sync. Drafts never appear; the
//! documents link as the spec says; bad arguments are refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::helpers::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::json;

/// Entries per list before it becomes a sitemap index: small, so that a few files page.
const PAGE: usize = 3;

fn resync_sync() -> Result<(String, PathBuf), Box<dyn std::error::Error>> {
    let python = std::env::var("HOLDFAST_TEST_PYTHON")
        .map_err(|_| "HOLDFAST_TEST_PYTHON is not set: run the tests with scripts/test")?;
    let script = Path::new(&python)
        .parent()
        .ok_or("the test python has no folder")?
        .join("resync-sync");
    if !script.exists() {
        return Err(format!(
            "{} is missing: install scripts/test-tools.txt (scripts/test does)",
            script.display()
        )
        .into());
    }
    Ok((python, script))
}

/// Runs `resync-sync ARGS` in `cwd` (where it keeps its state file, outside the copy)
/// and returns its last `Status:` line: it exits 0 whatever happened.
fn resync(cwd: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let (python, script) = resync_sync()?;
    let out = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .current_dir(cwd)
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .rfind(|l| l.trim_start().starts_with("Status:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .ok_or_else(|| format!("resync-sync {args:?} gave no status:\n{text}").into())
}

/// GETs a document, checks it is application/xml, returns its text.
async fn doc(url: &str) -> Result<String, Box<dyn std::error::Error>> {
    let r = reqwest::get(url).await?;
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    let media = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(media, "application/xml", "{url}");
    Ok(r.text().await?)
}

fn locs(xml: &str) -> Vec<String> {
    regex::Regex::new(r"<loc>([^<]+)</loc>")
        .map(|re| {
            re.captures_iter(xml)
                .map(|c| c[1].replace("&amp;", "&"))
                .collect()
        })
        .unwrap_or_default()
}

/// Every entry of a list, following its index if it has one: (loc, the `<url>` element).
/// Checks each part's links and size.
async fn entries(url: &str) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let xml = doc(url).await?;
    let mut docs = Vec::new();
    if xml.contains("<sitemapindex") {
        let parts = locs(&xml);
        assert!(parts.len() > 1, "an index of one part: {xml}");
        for part in parts {
            let text = doc(&part).await?;
            assert!(text.contains("<urlset"), "{text}");
            assert!(
                text.contains(r#"<rs:ln rel="index" href=""#),
                "a part points to its index: {text}"
            );
            assert!(text.matches("<url>").count() <= PAGE, "{text}");
            docs.push(text);
        }
    } else {
        docs.push(xml);
    }
    let url_re = regex::Regex::new(r"(?s)<url>(.*?)</url>")?;
    let mut out = Vec::new();
    for d in docs {
        assert!(d.contains(r#"<rs:ln rel="up" href=""#), "{d}");
        for c in url_re.captures_iter(&d) {
            let loc = locs(&c[1]).pop().ok_or("an entry without loc")?;
            out.push((loc, c[1].to_string()));
        }
    }
    Ok(out)
}

struct Dataset {
    id: i64,
}

async fn draft_with(
    app: &TestApp,
    dep: &str,
    title: &str,
    files: &[(&str, &[u8])],
) -> Result<Dataset, Box<dyn std::error::Error>> {
    let id = app.api_draft(dep, title).await?;
    put_files(app, dep, id, files).await?;
    Ok(Dataset { id })
}

async fn put_files(app: &TestApp, dep: &str, id: i64, files: &[(&str, &[u8])]) -> TestResult {
    for (path, bytes) in files {
        let encoded: Vec<String> = path.split('/').map(|s| s.replace(' ', "%20")).collect();
        let r = app
            .client()
            .put(app.url(&format!("/api/datasets/{id}/files/{}", encoded.join("/"))))
            .bearer_auth(dep)
            .body(bytes.to_vec())
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await?);
    }
    Ok(())
}

/// Where the copy keeps a file of the mapping `BASE/datasets=DIR`.
fn local(dir: &Path, id: i64, n: i32, encoded_path: &str) -> PathBuf {
    dir.join(format!("{id}/versions/{n}/files/{encoded_path}"))
}

#[actix_web::test]
async fn a_partner_copies_every_published_file_and_follows_the_changes() -> TestResult {
    for backend in backends() {
        if let Err(e) = journey(backend).await {
            return Err(format!("on {backend:?}: {e}").into());
        }
    }
    Ok(())
}

async fn journey(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, |a| a.resourcesync_page_size = Some(PAGE)).await?;
    let base = app.base.clone();
    let dep = app.token_for("pi@example.org", Role::Depositor).await?;
    let cur = app.token_for("cur@example.org", Role::Curator).await?;
    let admin = app.token_for("admin@example.org", Role::Admin).await?;

    // Discovery: source description -> capability list -> lists.
    let sd = doc(&format!("{base}/.well-known/resourcesync")).await?;
    assert!(sd.contains(r#"<rs:md capability="description"/>"#), "{sd}");
    assert_eq!(
        locs(&sd),
        [format!("{base}/resourcesync/capabilitylist.xml")]
    );
    let cl = doc(&format!("{base}/resourcesync/capabilitylist.xml")).await?;
    assert!(
        cl.contains(&format!(
            r#"<rs:ln rel="up" href="{base}/.well-known/resourcesync"/>"#
        )),
        "{cl}"
    );
    assert!(cl.contains(r#"<rs:md capability="capabilitylist"/>"#));
    assert_eq!(
        locs(&cl),
        [
            format!("{base}/resourcesync/resourcelist.xml"),
            format!("{base}/resourcesync/changelist.xml")
        ]
    );
    // An empty archive has an empty resource list, with its times.
    let empty = doc(&format!("{base}/resourcesync/resourcelist.xml")).await?;
    assert!(
        regex::Regex::new(r#"<rs:md capability="resourcelist" at="[^"]+Z" completed="[^"]+Z"/>"#)?
            .is_match(&empty),
        "{empty}"
    );
    assert!(locs(&empty).is_empty());

    // Three published datasets (four files), one draft.
    let a_files: [(&str, &[u8]); 2] = [
        ("fluxes.csv", b"site,flux\nUS-Ha1,1.5\n"),
        ("docs/read me.txt", b"About the tower."),
    ];
    let withdrawn = draft_with(&app, &dep, "Withdrawn tower", &a_files).await?;
    app.api_publish(&dep, &cur, withdrawn.id).await?;
    let b_v1: [(&str, &[u8]); 1] = [("notes.txt", b"chamber notes")];
    let fen = draft_with(&app, &dep, "Fen chambers", &b_v1).await?;
    app.api_publish(&dep, &cur, fen.id).await?;
    let c_files: [(&str, &[u8]); 1] = [("model.py", b"print('gap filling')\n")];
    let model = draft_with(&app, &dep, "Gap-filling model", &c_files).await?;
    app.api_publish(&dep, &cur, model.id).await?;
    let draft = draft_with(&app, &dep, "Unfinished", &[("secret.csv", b"a,b\n1,2\n")]).await?;

    let url_of = |id: i64, n: i32, p: &str| format!("{base}/datasets/{id}/versions/{n}/files/{p}");
    let expected: BTreeSet<String> = [
        url_of(withdrawn.id, 1, "fluxes.csv"),
        url_of(withdrawn.id, 1, "docs/read%20me.txt"),
        url_of(fen.id, 1, "notes.txt"),
        url_of(model.id, 1, "model.py"),
    ]
    .into_iter()
    .collect();

    // The resource list: four files, paged in two parts, each with its digest.
    let listed = entries(&format!("{base}/resourcesync/resourcelist.xml")).await?;
    let got: BTreeSet<String> = listed.iter().map(|(l, _)| l.clone()).collect();
    assert_eq!(got, expected, "every published file once, no draft");
    assert_eq!(listed.len(), 4);
    for (loc, entry) in &listed {
        let (path, bytes) = a_files
            .iter()
            .chain(&b_v1)
            .chain(&c_files)
            .find(|(p, _)| loc.ends_with(&p.replace(' ', "%20")))
            .ok_or("which file")?;
        assert!(
            entry.contains(&format!(
                r#"hash="sha-256:{}" length="{}""#,
                sha256_hex(bytes),
                bytes.len()
            )),
            "{path}: {entry}"
        );
        assert!(entry.contains("<lastmod>"), "{entry}");
    }
    assert!(!listed
        .iter()
        .any(|(l, _)| l.contains(&format!("/datasets/{}/", draft.id))));

    // The baseline copy, found by discovery.
    let work = tempfile::tempdir()?;
    let copy = work.path().join("copy");
    let mapping = format!("{base}/datasets={}", copy.display());
    let status = resync(work.path(), &["--baseline", "--hash", "sha-256", &mapping])?;
    assert!(
        status.starts_with("Status: SYNCED (same=0, created=4,"),
        "{status}"
    );
    for (id, files) in [
        (withdrawn.id, &a_files[..]),
        (fen.id, &b_v1[..]),
        (model.id, &c_files[..]),
    ] {
        for (path, bytes) in files {
            let got = std::fs::read(local(&copy, id, 1, &path.replace(' ', "%20")))?;
            assert_eq!(&got, bytes, "{path} arrived byte for byte");
        }
    }
    let status = resync(work.path(), &["--audit", "--hash", "sha-256", &mapping])?;
    assert!(status.starts_with("Status: IN SYNC"), "{status}");

    // A new version of the fen data (a file carried over, one added), still a draft:
    // nothing of it is listed yet.
    let r = app
        .client()
        .post(app.url(&format!("/api/datasets/{}/versions", fen.id)))
        .bearer_auth(&dep)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await?);
    let added: (&str, &[u8]) = ("chambers.csv", b"chamber,flux\n1,0.2\n");
    put_files(&app, &dep, fen.id, &[added]).await?;
    let changes = entries(&format!("{base}/resourcesync/changelist.xml")).await?;
    assert!(
        !changes
            .iter()
            .any(|(l, _)| l.contains("/versions/2/")
                || l.contains(&format!("/datasets/{}/", draft.id))),
        "drafts never appear: {changes:?}"
    );
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);

    app.api_publish(&dep, &cur, fen.id).await?;
    let r = app
        .client()
        .post(app.url(&format!("/api/datasets/{}/deaccession", withdrawn.id)))
        .bearer_auth(&admin)
        .json(&json!({"reason": "Consent for the site data was withdrawn."}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await?);

    // The change list: everything since the first publication, in order, paged.
    let changes = entries(&format!("{base}/resourcesync/changelist.xml")).await?;
    let kinds: Vec<(String, String)> = changes
        .iter()
        .map(|(l, e)| {
            let kind = if e.contains(r#"change="created""#) {
                "created"
            } else if e.contains(r#"change="deleted""#) {
                "deleted"
            } else {
                "?"
            };
            (kind.to_string(), l.clone())
        })
        .collect();
    let created_v2: BTreeSet<String> = [
        url_of(fen.id, 2, "notes.txt"),
        url_of(fen.id, 2, "chambers.csv"),
    ]
    .into_iter()
    .collect();
    let of = |kind: &str| -> BTreeSet<String> {
        kinds
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, l)| l.clone())
            .collect()
    };
    assert_eq!(changes.len(), 8, "{kinds:?}");
    assert_eq!(
        of("created"),
        expected
            .union(&created_v2)
            .cloned()
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(
        of("deleted"),
        [
            url_of(withdrawn.id, 1, "fluxes.csv"),
            url_of(withdrawn.id, 1, "docs/read%20me.txt")
        ]
        .into_iter()
        .collect::<BTreeSet<_>>()
    );
    let last_two: BTreeSet<&str> = kinds[6..].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(last_two, ["deleted"].into_iter().collect(), "{kinds:?}");
    // `from`: only what happened since.
    let recent: BTreeSet<String> = entries(&format!(
        "{base}/resourcesync/changelist.xml?from={}",
        since.replace('+', "%2B")
    ))
    .await?
    .into_iter()
    .map(|(l, _)| l)
    .collect();
    assert_eq!(recent.len(), 4, "{recent:?}");
    assert!(created_v2.is_subset(&recent), "{recent:?}");

    // The resource list no longer has the withdrawn files, and has the new version.
    let listed: BTreeSet<String> = entries(&format!("{base}/resourcesync/resourcelist.xml"))
        .await?
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert_eq!(
        listed,
        [
            url_of(fen.id, 1, "notes.txt"),
            url_of(model.id, 1, "model.py")
        ]
        .into_iter()
        .chain(created_v2.iter().cloned())
        .collect::<BTreeSet<_>>()
    );

    // The incremental copy from the change list, deleting what was withdrawn. resync
    // 2.0.1 cannot read a change list index (it wants a `change` on each `<sitemap>`,
    // and reads parts sorted by URL), so it follows the parts one by one, in order.
    let index = doc(&format!("{base}/resourcesync/changelist.xml")).await?;
    assert!(index.contains("<sitemapindex"), "{index}");
    let parts = locs(&index);
    assert_eq!(parts.len(), 3, "8 changes in parts of 3: {index}");
    let deleted_re = regex::Regex::new(r"deleted=(\d+)\)$")?;
    let mut deleted = 0;
    for part in &parts {
        let status = resync(
            work.path(),
            &[
                "--incremental",
                "--delete",
                "--changelist-uri",
                part,
                &mapping,
            ],
        )?;
        assert!(
            status.starts_with("Status: CHANGES APPLIED")
                || status.starts_with("Status: NO CHANGES"),
            "{part}: {status}"
        );
        deleted += deleted_re
            .captures(&status)
            .and_then(|c| c[1].parse::<u32>().ok())
            .ok_or_else(|| status.to_string())?;
    }
    assert_eq!(deleted, 2, "the withdrawn files were deleted");
    assert_eq!(
        std::fs::read(local(&copy, fen.id, 2, "chambers.csv"))?,
        added.1
    );
    assert_eq!(
        std::fs::read(local(&copy, fen.id, 2, "notes.txt"))?,
        b_v1[0].1
    );
    assert!(!local(&copy, withdrawn.id, 1, "fluxes.csv").exists());
    assert!(!local(&copy, withdrawn.id, 1, "docs/read%20me.txt").exists());
    let status = resync(work.path(), &["--audit", "--hash", "sha-256", &mapping])?;
    assert!(
        status.starts_with("Status: IN SYNC (same=4,"),
        "the copy is in sync: {status}"
    );

    // Bad arguments are refused, not answered with the whole list.
    for query in [
        "resourcelist.xml?from=2026-12-01",
        "changelist.xml?from=soon",
        "changelist.xml?after=nowhere",
        "changelist.xml?page=2",
    ] {
        let r = reqwest::get(format!("{base}/resourcesync/{query}")).await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    Ok(())
}
