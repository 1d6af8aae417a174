//! When something goes wrong: the person sees a plain message and a request id to quote
//! (the same in the X-Request-Id header, the page and the API JSON), never database or
//! file-system text; the server's log has the whole error chain on a line with that id.

use crate::support::process::{Home, Serve};
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Words that belong in the log, not in what a user is shown.
const LEAKS: &[&str] = &[
    "os error",
    "staging",
    "i/o",
    "UNIQUE",
    "constraint",
    "duplicate key",
    "dataset_versions",
    "database",
    "sqlite",
];

fn leaks_in(body: &str) -> Vec<&'static str> {
    LEAKS
        .iter()
        .copied()
        .filter(|w| body.to_lowercase().contains(&w.to_lowercase()))
        .collect()
}

fn request_id_of(headers: &reqwest::header::HeaderMap) -> Result<String, Error> {
    Ok(headers
        .get("x-request-id")
        .ok_or("no X-Request-Id header")?
        .to_str()?
        .to_string())
}

/// Each failed request's id is on the log's error line, with what failed and where,
/// and on its access line (in JSON lines' fields when `json_logs`).
fn the_log_has_both_ids(log: &str, api_id: &str, json_logs: bool) -> TestResult {
    for (rid, what) in [
        ("quote-me-42", "reading the staged file"),
        (api_id, "creating an upload file in"),
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(rid) && l.contains("internal error"))
            .ok_or_else(|| format!("no error line with {rid} in the log:\n{log}"))?;
        assert!(line.contains(what) && line.contains("staging"), "{line}");
        if json_logs {
            let fields: serde_json::Value = serde_json::from_str(line)?;
            assert_eq!(fields["span"]["request_id"], json!(rid), "{line}");
        }
        // The access line of the same request has the id too.
        assert!(
            log.lines()
                .any(|l| l.contains(rid) && l.contains("holdfast::access") && l.contains(" 500 ")),
            "no access line with {rid}:\n{log}"
        );
    }
    Ok(())
}

/// Storage that breaks under a running server: the staging folder becomes a file. A
/// draft file's download (a page) and an upload (the API) fail with 500s that carry the
/// request id, and the log has the id on the line with the path that failed. The second
/// backend's server logs JSON lines (HOLDFAST_LOG_FORMAT=json), the first plain text.
#[actix_web::test]
async fn a_server_error_can_be_quoted_and_found_in_the_log() -> TestResult {
    let root = tempfile::tempdir()?;
    for (run, backend) in backends().into_iter().enumerate() {
        let json_logs = run == 1;
        let home = Home::new(root.path(), &format!("{backend:?}"), backend)?;
        home.cli(&["migrate"])?;
        let password = home.add_user("owner@example.org", "depositor")?;
        let token = home.cli(&["token", "create", "--email", "owner@example.org"])?;
        let how = match json_logs {
            true => Serve::default().env("HOLDFAST_LOG_FORMAT", "json"),
            false => Serve::default(),
        };
        let server = home.start(how).await?;
        let api = Api::new(&server.base(), Some(&token));
        let id = api.create_draft("Broken storage").await?;
        api.put_file(id, "a.csv", b"x,y\n1,2\n").await?;
        let staging = home.data_dir.join("staging");
        std::fs::remove_dir_all(&staging)?;
        std::fs::write(&staging, b"not a folder any more")?;

        // A page: the id the client sent is kept, and shown.
        let browser = Browser::new(&server.base());
        browser.sign_in("owner@example.org", &password).await?;
        let page = browser
            .client
            .get(browser.url(&format!("/datasets/{id}/files/a.csv")))
            .header("X-Request-Id", "quote-me-42")
            .send()
            .await?;
        assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(request_id_of(page.headers())?, "quote-me-42");
        let html = page.text().await?;
        assert!(
            html.contains("quote this id: <code>quote-me-42</code>"),
            "{html}"
        );
        assert_eq!(leaks_in(&html), Vec::<&str>::new(), "{html}");

        // The API: an unsafe incoming id is replaced by one of ours.
        let answer = api
            .send(
                api.request(Method::PUT, &format!("/api/datasets/{id}/files/b.csv"))
                    .header("X-Request-Id", "<script>")
                    .body(b"x,y\n3,4\n".to_vec()),
            )
            .await?;
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            answer.text
        );
        let api_id = request_id_of(&answer.headers)?;
        assert_ne!(api_id, "<script>");
        assert_eq!(answer.body["request_id"], json!(api_id), "{}", answer.text);
        assert_eq!(
            leaks_in(&answer.text),
            Vec::<&str>::new(),
            "{}",
            answer.text
        );

        the_log_has_both_ids(&server.log_text(), &api_id, json_logs)?;
    }
    Ok(())
}

/// Two requests open the next version of the same dataset at once: the second one's
/// insert meets the first one's row (unique dataset and number). Its answer is a plain
/// 409 with the request id, not the database's words.
#[actix_web::test]
async fn a_unique_key_conflict_is_a_plain_409() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let published = app
            .published(&users, "Versioned", &[("a.csv", b"x\n1\n")])
            .await?;
        let id = published["id"].as_i64().ok_or("no id")?;
        // The first request's version row, committed after the second read the state.
        app.archive
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::dataset_versions as v;
                let now = chrono::Utc::now().naive_utc();
                diesel::insert_into(v::table)
                    .values((
                        v::dataset_id.eq(id),
                        v::number.eq(2),
                        v::title.eq("Versioned"),
                        v::metadata.eq("{}"),
                        v::standards.eq("[]"),
                        v::created_at.eq(now),
                        v::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        let answer = app
            .api(&users.depositor.token)
            .post(&format!("/api/datasets/{id}/versions"), &json!({}))
            .await?;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
        assert_eq!(answer.error(), holdfast::error::UNIQUE_CONFLICT);
        assert_eq!(
            answer.body["request_id"],
            json!(request_id_of(&answer.headers)?),
            "{}",
            answer.text
        );
        assert_eq!(
            leaks_in(&answer.text),
            Vec::<&str>::new(),
            "{}",
            answer.text
        );
        Ok(())
    })
    .await
}
