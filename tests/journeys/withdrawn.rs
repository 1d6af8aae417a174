//! A withdrawn dataset's bytes leave the archive by no route: after deaccession, every
//! GET route of the route table (and the downloads, harvesting and federation endpoints
//! behind query strings) is asked for the dataset, by a stranger, its depositor, a
//! curator, an admin and a partner archive, and no answer carries the file's bytes, a
//! package of them, or a link that offers them.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::api_shapes::concrete;
use crate::support::snapshot::route_table;
use crate::support::*;

/// Bytes no other answer contains: wherever they show up, the file leaked.
const SECRET: &[u8] = b"site,value\nUS-XWD,withdrawn-bytes-5f2c9e\n";
const MARKER: &str = "withdrawn-bytes-5f2c9e";

/// Every GET route of the table filled in for `dataset`, and the query-string routes.
fn every_get(dataset: &Value) -> Result<Vec<String>, Error> {
    let mut paths = Vec::new();
    for route in route_table()? {
        let (method, path) = route.split_once(' ').ok_or("METHOD /path")?;
        if method == "GET" {
            let path = path.replace("{path:.+}", "data/site.csv");
            paths.push(concrete(&path, dataset).ok_or(format!("fill in {path}"))?);
        }
    }
    let (id, object) = (&dataset["id"], object_id(dataset)?);
    paths.extend([
        format!("/datasets/{id}/versions/1/download?format=zip"),
        format!("/datasets/{id}/versions/1/download?format=bagit"),
        format!("/datasets/{id}/files/data/site.csv?download=1"),
        format!("/federation/objects/{object}/v1/content/data/site.csv"),
        "/oai?verb=ListRecords&metadataPrefix=oai_datacite".to_string(),
        "/oai?verb=ListRecords&metadataPrefix=oai_dc".to_string(),
        "/api/search?q=withdrawn".to_string(),
    ]);
    Ok(paths)
}

fn object_id(dataset: &Value) -> Result<String, Error> {
    let doi = dataset["concept_doi"].as_str().ok_or("concept DOI")?;
    Ok(format!("doi:{doi}"))
}

/// What a reader must not get: the bytes, a package, or a link to the file.
fn leak_in(path: &str, status: StatusCode, content_type: &str, body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    if text.contains(MARKER) {
        return Some(format!("{path} answered {status} with the file's bytes"));
    }
    if status.is_success() && (content_type.contains("zip") || body.starts_with(b"PK")) {
        return Some(format!("{path} answered {status} with a package"));
    }
    if path.contains("changelist") && last_change_of_file(&text) == Some("deleted") {
        // A change list is a log: the file's creation stays in it, followed by its
        // deletion, which tells harvesters to drop their copy.
        return None;
    }
    if status.is_success() && text.contains("/files/data/site.csv") {
        return Some(format!("{path} answered {status} with a link to the file"));
    }
    None
}

/// The `change` of the file's last entry in a ResourceSync change list.
fn last_change_of_file(xml: &str) -> Option<&str> {
    xml.split("<url>")
        .filter(|entry| entry.contains("/files/data/site.csv"))
        .filter_map(|entry| {
            let from = entry.find("change=\"")? + "change=\"".len();
            entry[from..].split('"').next()
        })
        .last()
}

#[actix_web::test]
async fn no_route_gives_out_a_withdrawn_datasets_bytes() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let dataset = app
            .published(&users, "Withdrawn site data", &[("data/site.csv", SECRET)])
            .await?;
        let id = dataset["id"].as_i64().ok_or("id")?;
        let reason = json!({"reason": "Consent for the site data was withdrawn."});
        app.api(&users.admin.token)
            .post(&format!("/api/datasets/{id}/deaccession"), &reason)
            .await?
            .expect(StatusCode::OK)?;
        app.run_jobs().await?;

        let partner = app
            .archive
            .db
            .run(|conn| {
                holdfast::federation::partners::create(conn, "mirror", "https://mirror.example")
            })
            .await?;
        // Signed in (pages) and with a token (API) at once; the partner by its token.
        let mut readers = vec![("a stranger", app.client(), None)];
        for (who, user) in [
            ("the depositor", &users.depositor),
            ("a curator", &users.curator),
            ("an admin", &users.admin),
        ] {
            let browser = app.signed_in(user).await?;
            readers.push((who, browser.client, Some(user.token.clone())));
        }
        readers.push(("a partner archive", app.client(), Some(partner)));
        let mut leaks = Vec::new();
        let paths = every_get(&dataset)?;
        for (who, client, token) in &readers {
            for path in &paths {
                let mut request = client.get(app.url(path));
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let answer = request.send().await?;
                let status = answer.status();
                let kind = answer
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let body = answer.bytes().await?;
                if let Some(leak) = leak_in(path, status, &kind, &body) {
                    leaks.push(format!("{who}: {leak}"));
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "withdrawn bytes leaked:\n{}",
            leaks.join("\n")
        );
        // The check itself can fail: before deaccession the same walk finds the bytes.
        let other = app
            .published(&users, "Site data kept", &[("data/site.csv", SECRET)])
            .await?;
        let file = format!("/datasets/{}/files/data/site.csv", other["id"]);
        let body = app
            .client()
            .get(app.url(&file))
            .send()
            .await?
            .bytes()
            .await?;
        assert!(leak_in(&file, StatusCode::OK, "text/csv", &body).is_some());
        Ok(())
    })
    .await
}
