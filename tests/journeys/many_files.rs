//! A dataset of a few thousand files in nested folders, as a large deposit is made: one
//! zip plus single API uploads, browsed on its page a folder and a page at a time,
//! published by the background job with its progress shown, downloaded as one zip,
//! audited, and its OCFL object checked by ocfl-py and rocfl.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use crate::support::checkers::validate_ocfl_root_with_rocfl;
use crate::support::wait::{self, Check};
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;

/// Files in the zip: 12 folders of 250 under `data/`, each folder in two levels.
const FOLDERS: usize = 12;
const PER_FOLDER: usize = 250;
/// Files uploaded one by one through the API.
const PUTS: usize = 30;

fn zip_path(i: usize) -> String {
    let folder = i / PER_FOLDER;
    format!("data/site{:02}/year{}/f{i:05}.txt", folder / 2, folder % 2)
}

fn content(i: usize) -> Vec<u8> {
    format!("file {i}\n").into_bytes()
}

/// The numbers of the listing's pager and the folders it shows, from the page's HTML.
fn pager(html: &str) -> Option<(usize, usize, usize)> {
    let re = regex::Regex::new(r"Page (\d+) of (\d+) \((\d+) files here\)").ok()?;
    let c = re.captures(html)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?))
}

fn folder_rows(html: &str) -> Vec<(String, usize)> {
    let re = regex::Regex::new(r#"<tr class="folder"><td><a href="[^"]*">([^<]+)/</a></td><td>[^<]*</td><td>(\d+) file\(s\)</td>"#)
        .expect("pattern");
    re.captures_iter(html)
        .map(|c| (c[1].to_string(), c[2].parse().unwrap_or(0)))
        .collect()
}

fn file_rows(html: &str) -> usize {
    html.matches(r#"<tr class="file""#).count()
}

#[actix_web::test]
async fn a_dataset_of_thousands_of_files_is_listed_published_downloaded_and_audited() -> TestResult
{
    // The deposit is large, so one archive per backend takes it through every step;
    // the app runs no background worker: the journey runs the jobs itself, so the page
    // can be seen while the publication waits and runs.
    for backend in backends() {
        let app = TestApp::builder().spawn(backend).await?;
        let on = |e: Error| format!("on {backend:?}: {e}");
        let many = deposit(&app).await.map_err(on)?;
        the_draft_page_browses_folders_a_page_at_a_time(&app, &many)
            .await
            .map_err(on)?;
        the_publication_shows_its_progress(&app, &many)
            .await
            .map_err(on)?;
        the_version_downloads_whole_and_is_audited(&app, &many)
            .await
            .map_err(on)?;
    }
    Ok(())
}

/// The large draft: its id, the bytes of every file, the tokens.
struct Many {
    id: i64,
    expected: BTreeMap<String, Vec<u8>>,
    extra: usize,
    total: usize,
    depositor: String,
    curator: String,
}

/// One zip of 3,000 files in nested folders, unpacked, and single files through the API.
async fn deposit(app: &TestApp) -> Result<Many, Error> {
    let depositor = app
        .new_user("many@example.org", Role::Depositor)
        .await?
        .token;
    let curator = app.new_user("cura@example.org", Role::Curator).await?.token;
    let id = app.api(&depositor).create_draft("Many small files").await?;
    let client = app.client();
    // One zip of 3,000 files in nested folders, unpacked into the draft.
    let zipped: Vec<(String, Vec<u8>)> = (0..FOLDERS * PER_FOLDER)
        .map(|i| (zip_path(i), content(i)))
        .collect();
    let entries: Vec<(&str, &[u8])> = zipped
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let r = client
        .put(app.url(&format!("/api/datasets/{id}/files/all.zip?unpack=true")))
        .bearer_auth(&depositor)
        .body(zip_of(&entries))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: serde_json::Value = r.json().await?;
    assert_eq!(
        body["files"].as_array().map(Vec::len),
        Some(FOLDERS * PER_FOLDER)
    );

    // And single files through the API, one folder of them plus one at the top.
    let mut expected: BTreeMap<String, Vec<u8>> = zipped.into_iter().collect();
    for i in 0..PUTS {
        let path = format!("extra/p{i:03}.txt");
        let r = client
            .put(app.url(&format!("/api/datasets/{id}/files/{path}")))
            .bearer_auth(&depositor)
            .body(content(100_000 + i))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED, "PUT {path}");
        expected.insert(path, content(100_000 + i));
    }
    let r = client
        .put(app.url(&format!("/api/datasets/{id}/files/README.txt")))
        .bearer_auth(&depositor)
        .body("read me")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    expected.insert("README.txt".into(), b"read me".to_vec());
    // A file cannot sit where a folder is, however many files the draft holds.
    let r = client
        .put(app.url(&format!("/api/datasets/{id}/files/data/site01")))
        .bearer_auth(&depositor)
        .body("x")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Removing a file takes it out of its folder's count.
    let r = client
        .delete(app.url(&format!("/api/datasets/{id}/files/extra/p000.txt")))
        .bearer_auth(&depositor)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expected.remove("extra/p000.txt");
    let extra = PUTS - 1;
    let total = expected.len();

    Ok(Many {
        id,
        expected,
        extra,
        total,
        depositor,
        curator,
    })
}

/// The draft's page: the folder tree with counts, one folder paged, a filter.
async fn the_draft_page_browses_folders_a_page_at_a_time(app: &TestApp, many: &Many) -> TestResult {
    let (id, total, extra) = (many.id, many.total, many.extra);
    let owner = app.browser();
    let password = "a long enough password";
    owner.sign_in("many@example.org", password).await?;
    let (status, top) = owner.get_text(&format!("/datasets/{id}")).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(
        top.contains(&format!("Files ({total},")),
        "total on the page"
    );
    assert_eq!(
        folder_rows(&top),
        [
            ("data".to_string(), FOLDERS * PER_FOLDER),
            ("extra".to_string(), extra)
        ]
    );
    assert_eq!(file_rows(&top), 1, "README.txt is the only file at the top");
    let (_, data) = owner
        .get_text(&format!("/datasets/{id}?folder=data"))
        .await?;
    let sites = folder_rows(&data);
    assert_eq!(sites.len(), FOLDERS / 2);
    assert!(sites.iter().all(|(_, n)| *n == 2 * PER_FOLDER), "{sites:?}");
    let folder = "data/site03/year1";
    let (_, first) = owner
        .get_text(&format!("/datasets/{id}?folder={folder}"))
        .await?;
    assert_eq!(pager(&first), Some((1, 3, PER_FOLDER)));
    assert_eq!(file_rows(&first), 100);
    let (_, last) = owner
        .get_text(&format!("/datasets/{id}?folder={folder}&page=3"))
        .await?;
    assert_eq!(pager(&last), Some((3, 3, PER_FOLDER)));
    assert_eq!(file_rows(&last), PER_FOLDER - 200);
    // The third page starts where the second ends, in path order.
    let first_on_last = format!("f{:05}.txt", 7 * PER_FOLDER + 200);
    assert!(
        last.contains(&first_on_last),
        "page 3 starts at {first_on_last}"
    );
    // A filter searches every folder below, case-insensitively.
    let (_, found) = owner
        .get_text(&format!("/datasets/{id}?folder=data&q=F0012"))
        .await?;
    assert!(folder_rows(&found).is_empty());
    assert_eq!(file_rows(&found), 10, "f00120 … f00129");
    let (_, everywhere) = owner.get_text(&format!("/datasets/{id}?q=.txt")).await?;
    assert_eq!(
        pager(&everywhere).map(|p| p.2),
        Some(total),
        "every file matches"
    );

    Ok(())
}

/// Submit and approve: the publication waits as a job and runs; its progress shows.
async fn the_publication_shows_its_progress(app: &TestApp, many: &Many) -> TestResult {
    let (id, total, curator) = (many.id, many.total, &many.curator);
    approval_queues_the_publication(app, many).await?;
    let phases = phases_while_publishing(app, many).await?;
    let order = ["preparing", "copying", "recording", "finishing"];
    let ranks: Vec<usize> = phases
        .iter()
        .map(|p| order.iter().position(|o| o == p).unwrap_or(usize::MAX))
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]),
        "phases in order: {phases:?}"
    );
    // The job's last note stays on its row: it went through to the end.
    let noted = app
        .archive
        .db
        .run(move |conn| holdfast::publish::publish_progress(conn, id))
        .await?
        .ok_or("no publication job")?;
    assert_eq!(noted.state, "done");
    assert_eq!(noted.phase.as_deref(), Some("finishing"));
    let published = app.api(curator).dataset(id).await?;
    assert_eq!(published["state"], "published");
    assert_eq!(published["files"].as_array().map(Vec::len), Some(total));

    Ok(())
}

/// The whole draft is checked; once approved the publication waits as a job, and the
/// page says so.
async fn approval_queues_the_publication(app: &TestApp, many: &Many) -> TestResult {
    let (id, depositor, curator) = (many.id, &many.depositor, &many.curator);
    let owner = app.browser();
    owner.sign_in("many@example.org", User::PASSWORD).await?;
    // Validation of the whole draft (run here: this app has no background workers).
    app.run_jobs().await?;
    let report = app.api(depositor).validation(id).await?;
    assert_eq!(report["state"], "done");

    // Submit and approve: the publication waits as a job, and the page says so.
    app.api(depositor).submit(id).await?;
    let waiting = app.api(curator).accept(id).await?;
    assert_eq!(waiting["state"], "approved");
    assert_eq!(waiting["publishing"]["state"], "queued");
    let (_, page) = owner.get_text(&format!("/datasets/{id}")).await?;
    assert!(page.contains(r#"id="publishing""#));
    assert!(
        page.contains(r#"<meta http-equiv="refresh""#),
        "the page reloads itself while the publication runs"
    );

    Ok(())
}

/// The job runs; whatever progress the API shows on the way is consistent. The phases
/// seen, in order.
async fn phases_while_publishing(app: &TestApp, many: &Many) -> Result<Vec<String>, Error> {
    let (id, total, curator) = (many.id, many.total, &many.curator);
    let client = app.client();
    let worker = {
        let archive = app.archive.clone();
        actix_web::rt::spawn(async move { holdfast::jobs::run_pending_now(&archive).await })
    };
    let phases = std::cell::RefCell::new(Vec::<String>::new());
    let (phases_seen, worker_ref) = (&phases, &worker);
    let (app_ref, client_ref, curator_ref) = (app, &client, curator);
    wait::eventually("the publication to finish", move || {
        let url = app_ref.url(&format!("/api/datasets/{id}?files=false"));
        let request = client_ref.get(url).bearer_auth(curator_ref);
        async move {
            // Polled without the file list, as a client of a large dataset would.
            let body: serde_json::Value = request.send().await?.json().await?;
            assert!(body.get("files").is_none(), "no file list asked for");
            assert_eq!(body["file_count"], total);
            if body["state"] == "published" {
                assert!(body["publishing"].is_null(), "no progress once published");
                return Ok(Check::Done(()));
            }
            let p = &body["publishing"];
            if let (Some(done), Some(of)) = (p["done"].as_i64(), p["total"].as_i64()) {
                assert!(done <= of, "{p}");
                assert!(of as usize <= total, "{p}");
            }
            if let Some(phase) = p["phase"].as_str() {
                let mut seen = phases_seen.borrow_mut();
                if seen.last().map(String::as_str) != Some(phase) {
                    seen.push(phase.to_string());
                }
            }
            Ok(if worker_ref.is_finished() {
                Check::Done(())
            } else {
                Check::NotYet(p.to_string())
            })
        }
    })
    .await?;
    let phases = phases.into_inner();
    worker.await??;
    Ok(phases)
}

/// The whole version as one zip, a fixity audit, and both OCFL validators.
async fn the_version_downloads_whole_and_is_audited(app: &TestApp, many: &Many) -> TestResult {
    let (id, total, extra, expected) = (many.id, many.total, many.extra, &many.expected);
    let client = app.client();
    // The public page lists a page at a time too.
    let (_, public) = app
        .browser()
        .get_text(&format!("/datasets/{id}?folder=extra"))
        .await?;
    assert_eq!(file_rows(&public), extra);

    // The whole version as one zip: every file, with its bytes.
    let r = client
        .get(app.url(&format!("/datasets/{id}/versions/1/download?format=zip")))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec()))?;
    let mut seen = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        // Entries may sit in one folder named after the dataset.
        let want = expected
            .get(&name)
            .or_else(|| {
                name.split_once('/')
                    .and_then(|(_, rest)| expected.get(rest))
            })
            .ok_or_else(|| format!("unexpected entry {name} in the zip"))?
            .clone();
        let mut got = Vec::new();
        entry.read_to_end(&mut got)?;
        assert_eq!(got, want, "{name}");
        seen += 1;
    }
    assert_eq!(seen, total, "the zip holds every file once");

    // A fixity audit covers every stored file (content and both inventories).
    let summary = holdfast::fixity::run::run_selection(
        &app.archive.fixity(),
        holdfast::fixity::files::Selection::Dataset(id),
        &holdfast::fixity::run::RunOptions {
            threads: 2,
            max_bytes_per_sec: None,
            run_kind: "cli",
        },
        Arc::new(|_| {}),
    )
    .await?;
    assert!(summary.failures.is_empty());
    // Identical bytes are stored once: every file here has its own content.
    assert_eq!(summary.files, total + 2);

    // The object passes both external OCFL validators.
    validate_ocfl_root(&app.ocfl_root())?;
    validate_ocfl_root_with_rocfl(&app.ocfl_root())?;
    Ok(())
}
