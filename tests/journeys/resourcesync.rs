//! ResourceSync: a partner copies every published file with the `resync` client
//! (baseline through discovery at /.well-known/resourcesync, the resource list paged
//! with a sitemap index), then follows the change list (a new version, a deaccession:
//! its files deleted), and its audit finds the copy in sync. Drafts never appear; the
//! documents link as the spec says; bad arguments are refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::checkers::python;
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::json;

/// Entries per list before it becomes a sitemap index: small, so that a few files page.
const PAGE: usize = 3;

fn resync_sync() -> Result<(String, PathBuf), Error> {
    let python = python()?;
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
fn resync(cwd: &Path, args: &[&str]) -> Result<String, Error> {
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
async fn doc(url: &str) -> Result<String, Error> {
    get_document(url, "application/xml").await
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
async fn entries(url: &str) -> Result<Vec<(String, String)>, Error> {
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

/// The kind of change of a change list's `<url>` element.
fn change_of(entry: &str) -> &'static str {
    if entry.contains(r#"change="created""#) {
        "created"
    } else if entry.contains(r#"change="deleted""#) {
        "deleted"
    } else {
        "?"
    }
}

/// The locations a list (or list index) names.
async fn listed(url: &str) -> Result<BTreeSet<String>, Error> {
    Ok(entries(url).await?.into_iter().map(|(l, _)| l).collect())
}

/// Where the copy keeps a file of the mapping `BASE/datasets=DIR`.
fn local(dir: &Path, id: i64, n: i32, encoded_path: &str) -> PathBuf {
    dir.join(format!("{id}/versions/{n}/files/{encoded_path}"))
}

const A_FILES: [(&str, &[u8]); 2] = [
    ("fluxes.csv", b"site,flux\nUS-Ha1,1.5\n"),
    ("docs/read me.txt", b"About the tower."),
];
const B_V1: [(&str, &[u8]); 1] = [("notes.txt", b"chamber notes")];
const C_FILES: [(&str, &[u8]); 1] = [("model.py", b"print('gap filling')\n")];
const ADDED: (&str, &[u8]) = ("chambers.csv", b"chamber,flux\n1,0.2\n");

/// Three published datasets (four files) and one draft, on an archive whose lists page
/// every three entries.
struct Published {
    app: TestApp,
    base: String,
    dep: Api,
    cur: Api,
    admin: Api,
    withdrawn: i64,
    fen: i64,
    model: i64,
    draft: i64,
}

impl Published {
    fn url_of(&self, id: i64, n: i32, p: &str) -> String {
        format!("{}/datasets/{id}/versions/{n}/files/{p}", self.base)
    }

    /// The four published files' URLs.
    fn expected(&self) -> BTreeSet<String> {
        [
            self.url_of(self.withdrawn, 1, "fluxes.csv"),
            self.url_of(self.withdrawn, 1, "docs/read%20me.txt"),
            self.url_of(self.fen, 1, "notes.txt"),
            self.url_of(self.model, 1, "model.py"),
        ]
        .into_iter()
        .collect()
    }

    async fn draft_with(&self, title: &str, files: &[(&str, &[u8])]) -> Result<i64, Error> {
        let id = self.dep.create_draft(title).await?;
        for (path, bytes) in files {
            self.dep.put_file(id, path, bytes).await?;
        }
        Ok(id)
    }

    async fn published(&self, title: &str, files: &[(&str, &[u8])]) -> Result<i64, Error> {
        let id = self.draft_with(title, files).await?;
        self.app.publish(&self.dep, &self.cur, id).await?;
        Ok(id)
    }

    /// A new version of the fen data (a file carried over, one added), published, and
    /// the first dataset withdrawn; the time before either.
    async fn changes(&self) -> Result<String, Error> {
        self.dep
            .post(&format!("/api/datasets/{}/versions", self.fen), &json!({}))
            .await?
            .expect(StatusCode::CREATED)?;
        self.dep.put_file(self.fen, ADDED.0, ADDED.1).await?;
        let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        self.app.publish(&self.dep, &self.cur, self.fen).await?;
        let reason = json!({"reason": "Consent for the site data was withdrawn."});
        self.admin
            .post(
                &format!("/api/datasets/{}/deaccession", self.withdrawn),
                &reason,
            )
            .await?
            .expect(StatusCode::OK)?;
        Ok(since)
    }
}

fn archive() -> Builder {
    TestApp::builder().settings(|a| a.resourcesync_page_size = Some(PAGE))
}

async fn three_published(app: TestApp) -> Result<Published, Error> {
    let api = |token: String| app.api(&token);
    let dep = api(app.new_user("pi@example.org", Role::Depositor).await?.token);
    let cur = api(app.new_user("cur@example.org", Role::Curator).await?.token);
    let admin = api(app.new_user("admin@example.org", Role::Admin).await?.token);
    let base = app.base.clone();
    let mut p = Published {
        app,
        base,
        dep,
        cur,
        admin,
        withdrawn: 0,
        fen: 0,
        model: 0,
        draft: 0,
    };
    p.withdrawn = p.published("Withdrawn tower", &A_FILES).await?;
    p.fen = p.published("Fen chambers", &B_V1).await?;
    p.model = p.published("Gap-filling model", &C_FILES).await?;
    p.draft = p
        .draft_with("Unfinished", &[("secret.csv", b"a,b\n1,2\n")])
        .await?;
    Ok(p)
}

/// A baseline copy by `resync-sync`, found by discovery: (work folder, copy, mapping).
fn baseline_copy(p: &Published) -> Result<(tempfile::TempDir, PathBuf, String), Error> {
    let work = tempfile::tempdir()?;
    let copy = work.path().join("copy");
    let mapping = format!("{}/datasets={}", p.base, copy.display());
    let status = resync(work.path(), &["--baseline", "--hash", "sha-256", &mapping])?;
    assert!(
        status.starts_with("Status: SYNCED (same=0, created=4,"),
        "{status}"
    );
    Ok((work, copy, mapping))
}

#[actix_web::test]
async fn discovery_leads_to_the_lists_and_bad_arguments_are_refused() -> TestResult {
    archive()
        .on_each_backend(|app| async move {
            let base = app.base.clone();
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
                regex::Regex::new(
                    r#"<rs:md capability="resourcelist" at="[^"]+Z" completed="[^"]+Z"/>"#
                )?
                .is_match(&empty),
                "{empty}"
            );
            assert!(locs(&empty).is_empty());

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
        })
        .await
}

#[actix_web::test]
async fn the_resource_list_pages_every_published_file_with_its_digest() -> TestResult {
    archive()
        .on_each_backend(|app| async move {
            let p = three_published(app).await?;
            let (base, expected) = (p.base.clone(), p.expected());
            // The resource list: four files, paged in two parts, each with its digest.
            let listed = entries(&format!("{base}/resourcesync/resourcelist.xml")).await?;
            let got: BTreeSet<String> = listed.iter().map(|(l, _)| l.clone()).collect();
            assert_eq!(got, expected, "every published file once, no draft");
            assert_eq!(listed.len(), 4);
            for (loc, entry) in &listed {
                let (path, bytes) = A_FILES
                    .iter()
                    .chain(&B_V1)
                    .chain(&C_FILES)
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
                .any(|(l, _)| l.contains(&format!("/datasets/{}/", p.draft))));

            Ok(())
        })
        .await
}

#[actix_web::test]
async fn a_partner_copies_every_published_file_and_its_audit_agrees() -> TestResult {
    archive()
        .on_each_backend(|app| async move {
            let p = three_published(app).await?;
            let (work, copy, mapping) = baseline_copy(&p)?;
            for (id, files) in [
                (p.withdrawn, &A_FILES[..]),
                (p.fen, &B_V1[..]),
                (p.model, &C_FILES[..]),
            ] {
                for (path, bytes) in files {
                    let got = std::fs::read(local(&copy, id, 1, &path.replace(' ', "%20")))?;
                    assert_eq!(&got, bytes, "{path} arrived byte for byte");
                }
            }
            let status = resync(work.path(), &["--audit", "--hash", "sha-256", &mapping])?;
            assert!(status.starts_with("Status: IN SYNC"), "{status}");
            Ok(())
        })
        .await
}

/// A new version of the fen dataset, listed only once published, and the withdrawal of
/// another; the time just before they were published, for `from`.
async fn a_new_version_and_a_withdrawal(p: &Published) -> Result<String, Error> {
    let base = &p.base;
    // A new version still a draft: nothing of it is listed yet.
    p.dep
        .post(&format!("/api/datasets/{}/versions", p.fen), &json!({}))
        .await?
        .expect(StatusCode::CREATED)?;
    p.dep.put_file(p.fen, ADDED.0, ADDED.1).await?;
    let changes = entries(&format!("{base}/resourcesync/changelist.xml")).await?;
    let draft = format!("/datasets/{}/", p.draft);
    assert!(
        !changes
            .iter()
            .any(|(l, _)| l.contains("/versions/2/") || l.contains(&draft)),
        "drafts never appear: {changes:?}"
    );
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    p.app.publish(&p.dep, &p.cur, p.fen).await?;
    let reason = json!({"reason": "Consent for the site data was withdrawn."});
    p.admin
        .post(
            &format!("/api/datasets/{}/deaccession", p.withdrawn),
            &reason,
        )
        .await?
        .expect(StatusCode::OK)?;
    Ok(since)
}

#[actix_web::test]
async fn the_change_list_tells_new_versions_and_deaccessions_and_never_drafts() -> TestResult {
    archive()
        .on_each_backend(|app| async move {
            let p = three_published(app).await?;
            let base = p.base.clone();
            let since = a_new_version_and_a_withdrawal(&p).await?;
            let (expected, url_of) = (p.expected(), |id, n, path: &str| p.url_of(id, n, path));
            let (withdrawn, fen, model) = (p.withdrawn, p.fen, p.model);
            // The change list: everything since the first publication, in order, paged.
            let changes = entries(&format!("{base}/resourcesync/changelist.xml")).await?;
            let kinds: Vec<(String, String)> = changes
                .iter()
                .map(|(l, e)| (change_of(e).to_string(), l.clone()))
                .collect();
            let created_v2: BTreeSet<String> =
                [url_of(fen, 2, "notes.txt"), url_of(fen, 2, "chambers.csv")]
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
                    url_of(withdrawn, 1, "fluxes.csv"),
                    url_of(withdrawn, 1, "docs/read%20me.txt")
                ]
                .into_iter()
                .collect::<BTreeSet<_>>()
            );
            let last_two: BTreeSet<&str> = kinds[6..].iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(last_two, ["deleted"].into_iter().collect(), "{kinds:?}");
            // `from`: only what happened since.
            let recent = listed(&format!(
                "{base}/resourcesync/changelist.xml?from={}",
                since.replace('+', "%2B")
            ))
            .await?;
            assert_eq!(recent.len(), 4, "{recent:?}");
            assert!(created_v2.is_subset(&recent), "{recent:?}");

            // The resource list no longer has the withdrawn files, and has the new version.
            let now_listed = listed(&format!("{base}/resourcesync/resourcelist.xml")).await?;
            assert_eq!(
                now_listed,
                [url_of(fen, 1, "notes.txt"), url_of(model, 1, "model.py")]
                    .into_iter()
                    .chain(created_v2.iter().cloned())
                    .collect::<BTreeSet<_>>()
            );

            Ok(())
        })
        .await
}

#[actix_web::test]
async fn an_incremental_copy_follows_the_change_list_and_deletes_what_was_withdrawn() -> TestResult
{
    archive()
        .on_each_backend(|app| async move {
            let p = three_published(app).await?;
            let (work, copy, mapping) = baseline_copy(&p)?;
            p.changes().await?;
            let base = p.base.clone();
            let (withdrawn, fen) = (p.withdrawn, p.fen);
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
                std::fs::read(local(&copy, fen, 2, "chambers.csv"))?,
                ADDED.1
            );
            assert_eq!(std::fs::read(local(&copy, fen, 2, "notes.txt"))?, B_V1[0].1);
            assert!(!local(&copy, withdrawn, 1, "fluxes.csv").exists());
            assert!(!local(&copy, withdrawn, 1, "docs/read%20me.txt").exists());
            let status = resync(work.path(), &["--audit", "--hash", "sha-256", &mapping])?;
            assert!(
                status.starts_with("Status: IN SYNC (same=4,"),
                "the copy is in sync: {status}"
            );

            Ok(())
        })
        .await
}
