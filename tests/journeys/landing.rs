//! Landing pages people and machines can use: FAIR Signposting in headers and link sets
//! (checked with the python `signposting` client), whole-version downloads as zip and as
//! BagIt bags (checked with `bagit.py --validate`), and usage counts.

use crate::support::checkers::{python, validate_bag};
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::{header, StatusCode};
use std::io::Read;
use std::path::{Path, PathBuf};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

/// Publishes a dataset with an ORCID creator and the given files (uploaded as one zip
/// that is unpacked); returns (id, DOI, the API's file list).
async fn published(
    app: &TestApp,
    files: &[(&str, &[u8])],
) -> Result<(i64, String, Vec<serde_json::Value>), Error> {
    let users = app.users().await?;
    let dep = app.api(&users.depositor.token);
    let mut metadata = minimal_json("Harvard Forest fluxes 2019");
    metadata["creators"] = serde_json::json!([
        {"name": "Müller, Jörg", "nameType": "Personal",
         "nameIdentifiers": [{"nameIdentifier": "0000-0002-1825-0097", "nameIdentifierScheme": "ORCID"}]},
        {"name": "Harvard Forest LTER", "nameType": "Organizational"}
    ]);
    let id = dep.create_dataset(&metadata).await?["id"]
        .as_i64()
        .ok_or("id")?;
    let bundle = dep.request(
        reqwest::Method::PUT,
        &format!("/api/datasets/{id}/files/bundle.zip?unpack=true"),
    );
    dep.send(bundle.body(zip_of(files)))
        .await?
        .expect(StatusCode::CREATED)?;
    let body = app
        .publish(&dep, &app.api(&users.curator.token), id)
        .await?;
    let doi = body["doi"].as_str().ok_or("doi")?.to_string();
    let list = body["files"].as_array().ok_or("files")?.clone();
    Ok((id, doi, list))
}

const SMALL: &[(&str, &[u8])] = &[
    ("data/fluxes.csv", b"TIMESTAMP,FC\n201901010000,1.5\n"),
    ("README.txt", b"Half-hourly fluxes.\n"),
];

/// Runs the python signposting client on a landing page (HTTP Link headers, HEAD) and on
/// its link set in both serialisations; returns what it found, as JSON.
pub(crate) fn signposting_client(landing: &str, linkset: &str) -> Result<serde_json::Value, Error> {
    const SCRIPT: &str = r#"
import json, sys, signposting
landing, linkset = sys.argv[1], sys.argv[2]

def found(s):
    return {
        "cite_as": s.citeAs and str(s.citeAs.target),
        "license": s.license and str(s.license.target),
        "authors": sorted(str(a.target) for a in s.authors),
        "described_by": sorted([str(d.target), str(d.type)] for d in s.describedBy),
        "items": sorted([str(i.target), str(i.type)] for i in s.items),
        "types": sorted(str(t.target) for t in s.types),
        "linksets": sorted([str(l.target), str(l.type)] for l in s.linksets),
    }

out = {"headers": found(signposting.find_signposting_http(landing))}
for name, accept in [("json", "application/linkset+json"), ("text", "application/linkset")]:
    out[name] = found(signposting.find_signposting_linkset(linkset, accept).for_context(landing))
print(json.dumps(out))
"#;
    let out = std::process::Command::new(python()?)
        .args(["-c", SCRIPT, landing, linkset])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "the signposting client failed on {landing}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[actix_web::test]
async fn signposting_clients_find_the_links_in_headers_and_link_sets() -> TestResult {
    on_each_backend(|app| async move {
        let (id, doi, _) = published(&app, SMALL).await?;
        let v = format!("/datasets/{id}/versions/1");
        for landing_path in [format!("/datasets/{id}"), v.clone()] {
            let landing = app.url(&landing_path);
            let linkset = format!("{landing}/linkset");
            let found = signposting_client(&landing, &linkset)?;
            for source in ["headers", "json", "text"] {
                let s = &found[source];
                let at = format!("{landing_path} ({source})");
                assert_eq!(s["cite_as"], format!("https://doi.org/{doi}"), "{at}");
                assert_eq!(
                    s["license"], "https://creativecommons.org/licenses/by/4.0/legalcode",
                    "{at}"
                );
                assert_eq!(
                    s["authors"],
                    serde_json::json!(["https://orcid.org/0000-0002-1825-0097"]),
                    "{at}"
                );
                assert_eq!(
                    s["types"],
                    serde_json::json!([
                        "https://schema.org/AboutPage",
                        "https://schema.org/Dataset"
                    ]),
                    "{at}"
                );
                assert_eq!(
                    s["described_by"],
                    serde_json::json!([
                        [
                            app.url(&format!("{v}/export/datacite-xml")),
                            "application/vnd.datacite.datacite+xml"
                        ],
                        [
                            app.url(&format!("{v}/export/json-ld")),
                            "application/ld+json"
                        ],
                    ]),
                    "{at}"
                );
                assert_eq!(
                    s["items"],
                    serde_json::json!([
                        [app.url(&format!("{v}/files/README.txt")), "text/plain"],
                        [app.url(&format!("{v}/files/data/fluxes.csv")), "text/csv"],
                    ]),
                    "{at}"
                );
            }
            assert_eq!(
                found["headers"]["linksets"],
                serde_json::json!([
                    [linkset.clone(), "application/linkset"],
                    [format!("{linkset}?format=json"), "application/linkset+json"],
                ])
            );
        }

        Ok(())
    })
    .await
}

#[actix_web::test]
async fn link_sets_come_in_two_forms_and_resources_point_back() -> TestResult {
    on_each_backend(|app| async move {
        let (id, doi, _) = published(&app, SMALL).await?;
        let v = format!("/datasets/{id}/versions/1");
        // The link set's two forms, chosen by Accept or ?format=.
        let client = app.client();
        let r = client
            .get(app.url(&format!("/datasets/{id}/linkset?format=json")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/linkset+json"
        );
        let json: serde_json::Value = r.json().await?;
        let contexts = json["linkset"].as_array().ok_or("linkset array")?;
        assert_eq!(contexts[0]["anchor"], app.url(&format!("/datasets/{id}")));
        assert_eq!(
            contexts.len(),
            1 + 2 + 2,
            "landing page, two files, two metadata documents"
        );
        let r = client
            .get(app.url(&format!("{v}/linkset")))
            .header(header::ACCEPT, "application/linkset")
            .send()
            .await?;
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()?
            .starts_with("application/linkset"));
        let text = r.text().await?;
        assert!(text.contains(&format!("anchor=\"{}\"", app.url(&v))));
        let r = client
            .get(app.url(&format!("{v}/linkset?format=yaml")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);

        // Content and metadata resources point back to their landing page.
        let r = client
            .get(app.url(&format!("{v}/files/README.txt")))
            .send()
            .await?;
        let link = r.headers()[header::LINK].to_str()?.to_string();
        assert!(
            link.contains(&format!("<{}>; rel=\"collection\"", app.url(&v))),
            "{link}"
        );
        let r = client
            .get(app.url(&format!("{v}/export/datacite-xml")))
            .send()
            .await?;
        let link = r.headers()[header::LINK].to_str()?.to_string();
        assert!(
            link.contains(&format!("<{}>; rel=\"describes\"", app.url(&v))),
            "{link}"
        );

        // The page itself repeats the links as <link> elements.
        let html = client.get(app.url(&v)).send().await?.text().await?;
        assert!(
            html.contains(&format!(
                "<link rel=\"cite-as\" href=\"https://doi.org/{doi}\">"
            )),
            "the page repeats the links as <link> elements"
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn drafts_carry_no_signposts_and_many_files_are_left_to_the_link_set() -> TestResult {
    on_each_backend(|app| async move {
        let files: Vec<(String, Vec<u8>)> = (0..25)
            .map(|i| {
                (
                    format!("data/f{i:02}.csv"),
                    format!("x\n{i}\n").into_bytes(),
                )
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let (id, _, _) = published(&app, &refs).await?;
        let landing = app.url(&format!("/datasets/{id}"));
        let r = app.client().head(&landing).send().await?;
        assert_eq!(r.status(), StatusCode::OK, "HEAD answers like GET");
        let link = r.headers()[header::LINK].to_str()?.to_string();
        assert!(!link.contains("rel=\"item\""), "more than 20 files: {link}");
        assert!(link.contains("rel=\"linkset\""));
        let found = signposting_client(&landing, &format!("{landing}/linkset"))?;
        assert_eq!(found["json"]["items"].as_array().map(Vec::len), Some(25));
        assert_eq!(found["text"]["items"].as_array().map(Vec::len), Some(25));

        // A draft (seen by its depositor) has no Link header and no public link set.
        let dep = app.api(
            &app.new_user("other@example.org", Role::Depositor)
                .await?
                .token,
        );
        let draft = dep.create_draft("Draft").await?;
        let r = app
            .client()
            .get(app.url(&format!("/datasets/{draft}/linkset")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        Ok(())
    })
    .await
}

/// Extracts a zip into `dir` (entry names come from our own server; still checked).
fn extract(zip_bytes: &[u8], dir: &Path) -> TestResult {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let name = entry.enclosed_name().ok_or("an unsafe entry name")?;
        let target = dir.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut body = Vec::new();
        entry.read_to_end(&mut body)?;
        std::fs::write(target, body)?;
    }
    Ok(())
}

/// A hundred files of four kinds: tables in a folder with a space, binary files with
/// parentheses in their names, non-ASCII names, plain text at the top.
fn hundred_files() -> Vec<(String, Vec<u8>)> {
    (0..100)
        .map(|i| {
            // Binary bytes only where no data standard reads them as text.
            let binary: Vec<u8> = (0..(i * 37 + 1)).map(|j| (j * 7 + i) as u8).collect();
            let rows: String = (0..i).map(|j| format!("{j},{}\n", i * j)).collect();
            match i % 4 {
                0 => (
                    format!("data/site A/{i:03}.csv"),
                    format!("N,V\n{rows}").into_bytes(),
                ),
                // No '%' here: bagit-python 1.9 does not decode the `%25` RFC 8493
                // requires in manifests (bagit-python#157); the unit tests check it.
                1 => (format!("data/2019/half-hourly/{i:03} (raw).bin"), binary),
                2 => (
                    format!("docs/Übersicht-{i:03}.md"),
                    format!("# Teil {i}\n").into_bytes(),
                ),
                _ => (format!("{i:03}.txt"), format!("file {i}\n").into_bytes()),
            }
        })
        .collect()
}

async fn published_hundred(
    app: &TestApp,
) -> Result<(Vec<(String, Vec<u8>)>, i64, String, Vec<serde_json::Value>), Error> {
    let files = hundred_files();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let (id, doi, listed) = published(app, &refs).await?;
    assert_eq!(listed.len(), 100);
    Ok((files, id, doi, listed))
}

#[actix_web::test]
async fn a_version_downloads_whole_as_a_zip_of_every_file() -> TestResult {
    on_each_backend(|app| async move {
        let (files, id, _, listed) = published_hundred(&app).await?;
        let public = app.public_api();
        let v = format!("/datasets/{id}/versions/1");
        let api = public.dataset(id).await?;
        assert_eq!(
            api["links"]["download_zip"],
            app.url(&format!("{v}/download?format=zip"))
        );
        assert_eq!(
            api["links"]["download_bagit"],
            app.url(&format!("{v}/download?format=bagit"))
        );
        assert_eq!(api["links"]["linkset"], app.url(&format!("{v}/linkset")));
        let html = public.get(&v).await?.text;
        assert!(
            html.contains(&format!("href=\"{v}/download?format=zip\"")),
            "zip link"
        );
        assert!(
            html.contains(&format!("href=\"{v}/download?format=bagit\"")),
            "bag link"
        );

        // The zip: every file at its path, byte for byte (the recorded digests).
        let r = app
            .client()
            .get(app.url(&format!("{v}/download?format=zip")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/zip");
        let disposition = r.headers()[header::CONTENT_DISPOSITION]
            .to_str()?
            .to_string();
        assert!(
            disposition.contains(&format!("dataset-{id}-v1.zip")),
            "{disposition}"
        );
        let zip_bytes = r.bytes().await?;
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec()))?;
        assert_eq!(archive.len(), 100);
        for file in &listed {
            let path = file["path"].as_str().ok_or("path")?;
            let mut entry = archive.by_name(path)?;
            assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
            let mut body = Vec::new();
            entry.read_to_end(&mut body)?;
            assert_eq!(
                sha256_hex(&body),
                file["sha256"].as_str().ok_or("sha")?,
                "{path}"
            );
        }
        for (name, body) in &files {
            let mut got = Vec::new();
            archive.by_name(name)?.read_to_end(&mut got)?;
            assert_eq!(&got, body, "{name}");
        }
        let r = public.get(&format!("{v}/download?format=tar")).await?;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = public
            .get(&format!("/datasets/{id}/versions/2/download?format=zip"))
            .await?;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_version_downloads_whole_as_a_bag_that_bagit_validates() -> TestResult {
    on_each_backend(|app| async move {
        let (files, id, doi, _) = published_hundred(&app).await?;
        let v = format!("/datasets/{id}/versions/1");
        let r = app
            .client()
            .get(app.url(&format!("{v}/download?format=bagit")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let bag_zip = r.bytes().await?;
        let dir = tempfile::tempdir()?;
        extract(&bag_zip, dir.path())?;
        let bag: PathBuf = dir.path().join(format!("dataset-{id}-v1"));
        // bagit.py validates it: payload, manifests, Payload-Oxum.
        validate_bag(&bag)?;
        let info = std::fs::read_to_string(bag.join("bag-info.txt"))?;
        let total: usize = files.iter().map(|(_, b)| b.len()).sum();
        for line in [
            format!("Payload-Oxum: {total}.100"),
            format!("External-Identifier: {doi}"),
            "Source-Organization: holdfast".to_string(),
            format!("Bagging-Date: {}", chrono::Utc::now().format("%Y-%m-%d")),
        ] {
            assert!(info.contains(&line), "{line} in {info}");
        }
        assert!(info.contains("Bag-Size: "));
        let manifest = std::fs::read_to_string(bag.join("manifest-sha256.txt"))?;
        assert!(manifest.contains("  data/data/2019/half-hourly/001 (raw).bin\n"));
        assert!(bag.join("tagmanifest-sha256.txt").exists());

        // A damaged bag fails the same check, so the check is real.
        std::fs::write(bag.join("data/003.txt"), b"changed")?;
        assert!(
            validate_bag(&bag).is_err(),
            "bagit.py notices a changed file"
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_drafts_version_cannot_be_downloaded_by_others() -> TestResult {
    on_each_backend(|app| async move {
        let owner = app
            .signed_in(&app.new_user("jane@example.org", Role::Depositor).await?)
            .await?;
        let id = owner.create_dataset(&minimal_form("Private draft")).await?;
        let r = owner
            .upload(
                id,
                "data",
                false,
                vec![("secret.csv".into(), b"a,b\n1,2\n".to_vec())],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let zip = format!("/datasets/{id}/versions/1/download?format=zip");
        let bag = format!("/datasets/{id}/versions/1/download?format=bagit");
        for path in [&zip, &bag] {
            let r = app.client().get(app.url(path)).send().await?;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "anonymous: {path}");
        }
        // Another signed-in depositor sees nothing either.
        let nosy = app
            .signed_in(&app.new_user("nosy@example.org", Role::Depositor).await?)
            .await?;
        for path in [&zip, &bag] {
            assert_eq!(
                nosy.get(path).await?.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        // Its depositor can, privately.
        let r = owner.get(&zip).await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "private, no-store");
        let bytes = r.bytes().await?;
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec()))?;
        let mut body = String::new();
        archive
            .by_name("data/secret.csv")?
            .read_to_string(&mut body)?;
        assert_eq!(body, "a,b\n1,2\n");
        Ok(())
    })
    .await
}

/// GETs `path` as a browser with the given user agent (None: no User-Agent at all).
async fn visit(app: &TestApp, path: &str, user_agent: Option<&str>) -> Result<StatusCode, Error> {
    let mut request = app.client().get(app.url(path));
    if let Some(ua) = user_agent {
        request = request.header(header::USER_AGENT, ua);
    }
    let r = request.send().await?;
    let status = r.status();
    r.bytes().await?;
    Ok(status)
}

async fn usage(app: &TestApp, id: i64) -> Result<serde_json::Value, Error> {
    app.archive.usage.flush().await;
    Ok(app.public_api().dataset(id).await?["usage"].clone())
}

#[actix_web::test]
async fn a_view_counts_once_per_visitor_per_hour_and_robots_not_at_all() -> TestResult {
    on_each_backend(|app| async move {
        let (id, _, _) = published(&app, SMALL).await?;
        let landing = format!("/datasets/{id}");
        let v = format!("/datasets/{id}/versions/1");
        assert_eq!(usage(&app, id).await?["views"], 0);

        // One person reloading, and reading the numbered page too: one view.
        for path in [&landing, &landing, &v] {
            assert_eq!(visit(&app, path, Some(FIREFOX)).await?, StatusCode::OK);
        }
        // Robots, tools and requests without a user agent are not counted.
        for ua in [
            Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
            Some("curl/8.5.0"),
            Some("python-requests/2.32.3"),
            None,
        ] {
            assert_eq!(visit(&app, &landing, ua).await?, StatusCode::OK);
            assert_eq!(
                visit(&app, &format!("{v}/files/README.txt"), ua).await?,
                StatusCode::OK
            );
        }
        // HEAD is not a view.
        app.client()
            .head(app.url(&landing))
            .header(header::USER_AGENT, SAFARI)
            .send()
            .await?;
        let u = usage(&app, id).await?;
        assert_eq!(
            (u["views"].as_i64(), u["downloads"].as_i64()),
            (Some(1), Some(0)),
            "{u}"
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn downloads_count_once_per_visitor_and_only_salted_hashes_are_kept() -> TestResult {
    on_each_backend(|app| async move {
        let (id, _, _) = published(&app, SMALL).await?;
        let v = format!("/datasets/{id}/versions/1");
        // One person views, fetches files, a range and the whole zip: one download.
        assert_eq!(
            visit(&app, &format!("/datasets/{id}"), Some(FIREFOX)).await?,
            StatusCode::OK
        );
        for path in [
            format!("{v}/files/README.txt"),
            format!("/datasets/{id}/files/data/fluxes.csv"),
            format!("{v}/download?format=zip"),
        ] {
            assert_eq!(visit(&app, &path, Some(FIREFOX)).await?, StatusCode::OK);
        }
        let r = app
            .client()
            .get(app.url(&format!("{v}/files/README.txt")))
            .header(header::USER_AGENT, FIREFOX)
            .header(header::RANGE, "bytes=0-3")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        // A second person views and downloads.
        assert_eq!(visit(&app, &v, Some(SAFARI)).await?, StatusCode::OK);
        assert_eq!(
            visit(&app, &format!("{v}/download?format=bagit"), Some(SAFARI)).await?,
            StatusCode::OK
        );
        let u = usage(&app, id).await?;
        assert_eq!(u["views"], 2, "{u}");
        assert_eq!(u["downloads"], 2, "{u}");
        assert_eq!(u["versions"][0]["version"], 1);
        assert_eq!(u["versions"][0]["views"], 2);
        let html = app.public_api().get(&format!("/datasets/{id}")).await?.text;
        assert!(html.contains("2 views · 2 downloads"), "counts on the page");

        // Only salted hashes are kept, never the address or the user agent.
        let visitors: Vec<String> = app
            .archive
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::usage_visits;
                Ok(usage_visits::table
                    .select(usage_visits::visitor)
                    .load::<String>(conn)?)
            })
            .await?;
        assert_eq!(
            visitors.len(),
            4,
            "two visitors, each viewed and downloaded"
        );
        for visitor in visitors {
            assert_eq!(visitor.len(), 32);
            assert!(visitor.chars().all(|c| c.is_ascii_hexdigit()));
            assert!(!visitor.contains("127.0.0.1"));
        }
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_failing_count_never_fails_a_page() -> TestResult {
    on_each_backend(|app| async move {
        let (id, _, _) = published(&app, SMALL).await?;
        app.archive
            .db
            .run(|conn| {
                use diesel::RunQueryDsl;
                diesel::sql_query("DROP TABLE usage_visits").execute(conn)?;
                diesel::sql_query("DROP TABLE usage_counts").execute(conn)?;
                Ok(())
            })
            .await?;
        let v = format!("/datasets/{id}/versions/1");
        assert_eq!(visit(&app, &v, Some(FIREFOX)).await?, StatusCode::OK);
        assert_eq!(
            visit(&app, &format!("{v}/files/README.txt"), Some(FIREFOX)).await?,
            StatusCode::OK
        );
        assert_eq!(
            visit(&app, &format!("{v}/download?format=zip"), Some(FIREFOX)).await?,
            StatusCode::OK
        );
        // The writer logs its failure and goes on; the API reports unknown counts as null.
        assert_eq!(usage(&app, id).await?, serde_json::Value::Null);
        assert_eq!(visit(&app, &v, Some(SAFARI)).await?, StatusCode::OK);
        Ok(())
    })
    .await
}

/// Google Scholar, Dublin Core readers and link previews find the record in the page's
/// head, with its canonical address; a draft's page has none of it.
#[actix_web::test]
async fn a_published_page_carries_citation_dublin_core_and_open_graph_tags() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let title = "Fluxes \"2024\" & <more>";
        let files = [("data/flux.csv", crate::support::fixtures::FLUX_CSV)];
        let published = app.published(&users, title, &files).await?;
        let html = app
            .browser()
            .page(&format!("/datasets/{}", published["id"]))
            .await?;
        let escaped = "Fluxes &#34;2024&#34; &#38; &#60;more&#62;";
        assert!(
            html.contains(&format!(
                r#"<meta name="citation_title" content="{escaped}">"#
            )),
            "{html}"
        );
        let doi = published["doi"].as_str().ok_or("DOI")?;
        for wanted in [
            format!(r#"<meta name="citation_doi" content="{doi}">"#),
            format!(r#"<meta name="DC.identifier" content="https://doi.org/{doi}">"#),
            format!(r#"<meta property="og:title" content="{escaped}">"#),
            r#"<link rel="canonical" href="http"#.to_string(),
        ] {
            assert!(html.contains(&wanted), "{wanted} in the page");
        }
        let dep = app.signed_in(&users.depositor).await?;
        let draft = app
            .api(&users.depositor.token)
            .create_draft("Not yet")
            .await?;
        let draft_page = dep.page(&format!("/datasets/{draft}")).await?;
        assert!(!draft_page.contains("citation_title") && !draft_page.contains("canonical"));
        Ok(())
    })
    .await
}
