//! Validation in the background, QA tickets and the submission gate: a PI uploads an
//! AmeriFlux file with errors, sees the findings, gets a ticket with one item per
//! problem, uploads a fixed file (its items close by themselves), a curator waives what
//! remains with a reason, and submission goes through.

use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const BAD16: &str = "US-UMB_HR_200001010000_200001012000_bad16.csv";

fn conformance_file(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/ameriflux/conformance/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("conformance file readable")
}

async fn put_file(app: &TestApp, token: &str, id: i64, path: &str, bytes: Vec<u8>) -> TestResult {
    let r = app
        .client()
        .put(app.url(&format!("/api/datasets/{id}/files/{path}")))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await?;
    if r.status() != StatusCode::CREATED {
        return Err(format!("upload {path}: {}", r.status()).into());
    }
    Ok(())
}

async fn get_json(
    app: &TestApp,
    token: &str,
    path: &str,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let r = app
        .client()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await?;
    let status = r.status();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, body))
}

fn items_of(tickets: &Value) -> Vec<Value> {
    tickets["tickets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["kind"] == "validation")
        .flat_map(|t| t["items"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[actix_web::test]
async fn findings_become_ticket_items_that_close_when_fixed_and_block_until_waived() -> TestResult {
    on_each_backend(|app| async move {
        let pi = app.token_for("pi@site.org", Role::Depositor).await?;
        let curator = app.token_for("cur@archive.org", Role::Curator).await?;
        let id = app.api_draft(&pi, "Flux tower US-UMB 2000").await?;
        let path = format!("data/{BAD16}");
        put_file(&app, &pi, id, &path, conformance_file(BAD16)).await?;

        // The upload returned at once; the report follows from the background job.
        let report = app.wait_for_checks(&pi, id).await?;
        assert_eq!(report["state"], "done", "{report}");
        assert_eq!(report["status"], "error");
        let file = &report["files"][0];
        assert_eq!(file["path"], path.as_str());
        assert_eq!(file["ameriflux_status"], "ERROR", "AmeriFlux's own level beside ours");
        let findings = file["findings"].as_array().ok_or("findings")?;
        let missing_code = findings
            .iter()
            .find(|f| f["code"] == "missing-value-code")
            .ok_or("a missing-value-code finding")?;
        assert_eq!(missing_code["severity"], "error");
        assert_eq!(missing_code["column"], "USTAR");
        assert!(missing_code["row"].as_u64().is_some());
        assert_eq!(missing_code["value"], "-6999");
        assert!(report["blocking"].as_u64().ok_or("blocking")? > 0);

        // One ticket, one item per (file, check), each with its findings.
        let (status, tickets) = get_json(&app, &pi, &format!("/api/datasets/{id}/tickets")).await?;
        assert_eq!(status, StatusCode::OK);
        let items = items_of(&tickets);
        let keys: Vec<(String, String)> = items
            .iter()
            .map(|i| (i["file"].as_str().unwrap_or("").into(), i["code"].as_str().unwrap_or("").into()))
            .collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "one item per (file, check): {keys:?}");
        let item = items
            .iter()
            .find(|i| i["code"] == "missing-value-code")
            .ok_or("item for missing-value-code")?;
        assert_eq!(item["state"], "open");
        assert_eq!(item["blocking"], true);
        assert_eq!(item["occurrences"], 12, "USTAR 11 and WD 1, as AmeriFlux counts them");
        let ticket_id = tickets["tickets"][0]["id"].as_i64().ok_or("ticket id")?;

        // The PI gets an email about the ticket (the embedded default writes .eml files).
        let mail_dir = app.data_dir.join("mail");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let message = loop {
            let found = std::fs::read_dir(&mail_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .find(|m| m.contains("pi@site.org") && m.contains("Problems found"));
            if let Some(m) = found {
                break m;
            }
            assert!(std::time::Instant::now() < deadline, "no ticket email in {mail_dir:?}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert!(message.contains(&format!("/tickets/{ticket_id}")), "{message}");

        // Submission is refused with the list of blocking items.
        let r = app
            .client()
            .post(app.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(&pi)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let body: Value = r.json().await?;
        let message = body["error"].as_str().unwrap_or("");
        assert!(message.contains("missing-value-code"), "{message}");

        // The PI uploads a fixed file at the same path: that item closes by itself.
        let fixed = String::from_utf8(conformance_file(BAD16))?
            .replace("-6999", "-9999")
            .replace("NaN", "-9999");
        put_file(&app, &pi, id, &path, fixed.into_bytes()).await?;
        let report = app.wait_for_checks(&pi, id).await?;
        assert_eq!(report["run"]["files_checked"], 1);
        let (_, tickets) = get_json(&app, &pi, &format!("/api/datasets/{id}/tickets")).await?;
        let items = items_of(&tickets);
        let item = items
            .iter()
            .find(|i| i["code"] == "missing-value-code")
            .ok_or("the item is kept, not deleted")?;
        assert_eq!(item["state"], "fixed");
        let (_, ticket) = get_json(&app, &pi, &format!("/api/tickets/{ticket_id}")).await?;
        let events = ticket["events"].as_array().ok_or("events")?;
        assert!(events.iter().any(|e| e["kind"] == "item-fixed"), "history keeps the fix");

        // A depositor cannot waive.
        let open: Vec<&Value> = items.iter().filter(|i| i["state"] == "open").collect();
        assert!(!open.is_empty(), "physical-range errors and warnings remain");
        assert!(open.iter().any(|i| i["severity"] == "warning"));
        let first = open[0]["id"].as_i64().ok_or("item id")?;
        let r = app
            .client()
            .post(app.url(&format!("/api/tickets/{ticket_id}/items/{first}/waive")))
            .bearer_auth(&pi)
            .json(&json!({"reason": "I say so"}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // A waiver needs a reason.
        let r = app
            .client()
            .post(app.url(&format!("/api/tickets/{ticket_id}/items/{first}/waive")))
            .bearer_auth(&curator)
            .json(&json!({"reason": "  "}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // The curator waives each remaining item with a reason.
        for i in &open {
            let item_id = i["id"].as_i64().ok_or("item id")?;
            let r = app
                .client()
                .post(app.url(&format!("/api/tickets/{ticket_id}/items/{item_id}/waive")))
                .bearer_auth(&curator)
                .json(&json!({"reason": "Units checked with the site PI: kPa logged as hPa, corrected downstream"}))
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::OK);
            let waived: Value = r.json().await?;
            assert_eq!(waived["state"], "waived");
            assert_eq!(waived["blocking"], false);
        }
        let report = app.wait_for_checks(&pi, id).await?;
        assert_eq!(report["blocking"], 0);

        // Now submission goes through.
        let r = app
            .client()
            .post(app.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(&pi)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await?);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn ticket_pages_threads_attachments_and_access() -> TestResult {
    on_each_backend(|app| async move {
        app.user("pi@site.org", Role::Depositor).await?;
        app.user("cur@archive.org", Role::Curator).await?;
        app.user("other@site.org", Role::Depositor).await?;
        let pi = app.browser();
        pi.sign_in("pi@site.org", "a long enough password").await?;
        let id = pi.create_dataset(&minimal_form("Soil moisture")).await?;
        let r = pi
            .upload(
                id,
                "",
                false,
                vec![("bad.csv".into(), b"site,site\nA,1\nB,x,3\n".to_vec())],
            )
            .await?;
        expect_redirect(&r, &format!("/datasets/{id}?msg=uploaded"))?;
        let token = app.token_for("pi-api@site.org", Role::Depositor).await?;
        let _ = token;

        // The page says "checking" or shows the result, and links the report.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let ticket_id = loop {
            let (_, html) = pi.get_text(&format!("/datasets/{id}")).await?;
            if let Some(pos) = html.find("href=\"/tickets/") {
                let rest = &html[pos + "href=\"/tickets/".len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                assert!(html.contains("Data standards check"));
                break digits.parse::<i64>()?;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no ticket appeared: {html}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let (status, report_html) = pi.get_text(&format!("/datasets/{id}/validation")).await?;
        assert_eq!(status, StatusCode::OK);
        assert!(report_html.contains("duplicate-label"), "{report_html}");

        // The ticket page lists the items and the thread.
        let (status, html) = pi.get_text(&format!("/tickets/{ticket_id}")).await?;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("duplicate-label"));
        assert!(
            !html.contains("Reason for waiving"),
            "depositors see no waive form"
        );

        // A comment with a link and markup, and an attachment.
        let token = pi.csrf(&format!("/tickets/{ticket_id}")).await?;
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .text(
                "body",
                "Fixed upstream, see https://example.org/log. <script>alert(1)</script>",
            )
            .part(
                "attachment",
                reqwest::multipart::Part::bytes(b"calibration notes".to_vec())
                    .file_name("notes.txt"),
            );
        let r = pi
            .client
            .post(app.url(&format!("/tickets/{ticket_id}/comments")))
            .multipart(form)
            .send()
            .await?;
        expect_redirect_prefix(&r, &format!("/tickets/{ticket_id}?msg=commented"))?;
        let (_, html) = pi.get_text(&format!("/tickets/{ticket_id}")).await?;
        assert!(html
            .contains("<a href=\"https://example.org/log\" rel=\"nofollow noopener noreferrer\">"));
        assert!(
            !html.contains("<script>alert(1)</script>"),
            "comments are escaped"
        );
        assert!(html.contains("alert(1)"), "the text is shown, escaped");
        let link_start = html
            .find(&format!("/tickets/{ticket_id}/attachments/"))
            .ok_or("attachment link")?;
        let link: String = html[link_start..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        let r = pi.get(&link).await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment")));
        assert_eq!(r.bytes().await?.as_ref(), b"calibration notes");

        // A forged CSRF token changes nothing.
        let before = html.matches("class=\"event event-comment\"").count();
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", "forged")
            .text("body", "should not appear");
        let r = pi
            .client
            .post(app.url(&format!("/tickets/{ticket_id}/comments")))
            .multipart(form)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let (_, html) = pi.get_text(&format!("/tickets/{ticket_id}")).await?;
        assert_eq!(
            html.matches("class=\"event event-comment\"").count(),
            before
        );
        assert!(!html.contains("should not appear"));

        // Another depositor cannot see the ticket, its attachment or the report.
        let other = app.browser();
        other
            .sign_in("other@site.org", "a long enough password")
            .await?;
        assert_eq!(
            other.get(&format!("/tickets/{ticket_id}")).await?.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(other.get(&link).await?.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            other
                .get(&format!("/datasets/{id}/validation"))
                .await?
                .status(),
            StatusCode::NOT_FOUND
        );

        // The curator assigns, sets a due date, and opens a ticket by hand.
        let cur = app.browser();
        cur.sign_in("cur@archive.org", "a long enough password")
            .await?;
        let (_, html) = cur.get_text(&format!("/tickets/{ticket_id}")).await?;
        assert!(html.contains("Reason for waiving"));
        let curator_id = app
            .archive
            .db
            .run(|conn| {
                Ok(
                    holdfast::accounts::users::find_by_email(conn, "cur@archive.org")?
                        .map(|u| u.id),
                )
            })
            .await?
            .ok_or("curator")?;
        let r = cur
            .post_form(
                &format!("/tickets/{ticket_id}"),
                &format!("/tickets/{ticket_id}/assign"),
                &[("assignee", &curator_id.to_string())],
            )
            .await?;
        expect_redirect_prefix(&r, &format!("/tickets/{ticket_id}"))?;
        let r = cur
            .post_form(
                &format!("/tickets/{ticket_id}"),
                &format!("/tickets/{ticket_id}/due"),
                &[("due_date", "2026-12-31")],
            )
            .await?;
        expect_redirect_prefix(&r, &format!("/tickets/{ticket_id}"))?;
        let r = cur
            .post_form(
                &format!("/tickets/{ticket_id}"),
                &format!("/tickets/{ticket_id}/due"),
                &[("due_date", "31/12/2026")],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let (_, html) = cur.get_text(&format!("/tickets/{ticket_id}")).await?;
        assert!(html.contains("2026-12-31"));
        let (_, queue) = cur.get_text("/curation/tickets?sort=due").await?;
        assert!(queue.contains(&format!("/tickets/{ticket_id}\"")));
        let (_, unassigned) = cur.get_text("/curation/tickets?assignee=none").await?;
        assert!(!unassigned.contains(&format!("/tickets/{ticket_id}\"")));

        let r = cur
            .post_form(
                &format!("/datasets/{id}/tickets/new"),
                &format!("/datasets/{id}/tickets"),
                &[
                    ("title", "Methods description missing"),
                    ("body", "Please describe the sensor setup."),
                ],
            )
            .await?;
        let manual = expect_redirect_prefix(&r, "/tickets/")?;
        let (_, mine) = pi.get_text("/tickets").await?;
        assert!(mine.contains("Methods description missing"));
        assert!(mine.contains(&format!("{}\"", manual.split('?').next().unwrap_or(""))));
        // Depositors cannot open tickets by hand.
        let r = pi
            .post_form(
                &format!("/datasets/{id}"),
                &format!("/datasets/{id}/tickets"),
                &[("title", "x"), ("body", "y")],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn claimed_standards_and_incremental_runs() -> TestResult {
    on_each_backend(|app| async move {
        let pi = app.token_for("pi@site.org", Role::Depositor).await?;
        let id = app.api_draft(&pi, "Two files").await?;
        put_file(&app, &pi, id, "a.csv", b"site,depth_cm\nA,1.5\n".to_vec()).await?;
        put_file(&app, &pi, id, "b.csv", b"site,depth_cm\nB,2.5\n".to_vec()).await?;
        let report = app.wait_for_checks(&pi, id).await?;
        assert_eq!(report["summary"]["files"], 2);

        // Changing one file re-reads only that file.
        put_file(&app, &pi, id, "b.csv", b"site,depth_cm\nB,3.5\n".to_vec()).await?;
        let report = app.wait_for_checks(&pi, id).await?;
        assert_eq!(report["run"]["files_checked"], 1, "{report}");
        assert_eq!(report["run"]["files_reused"], 1);

        // An unknown standard is refused; claiming FLMD without an FLMD file is a finding.
        let r = app
            .client()
            .put(app.url(&format!("/api/datasets/{id}/standards")))
            .bearer_auth(&pi)
            .json(&json!({"standards": ["no-such-standard"]}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .client()
            .put(app.url(&format!("/api/datasets/{id}/standards")))
            .bearer_auth(&pi)
            .json(&json!({"standards": ["essdive-flmd"]}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let report = app.wait_for_checks(&pi, id).await?;
        let dataset = report["dataset"].as_array().ok_or("dataset findings")?;
        assert!(
            dataset
                .iter()
                .any(|f| f["code"] == "missing-required-file" && f["standard"] == "essdive-flmd"),
            "{report}"
        );
        assert_eq!(report["run"]["files_checked"], 0, "no file changed");
        Ok(())
    })
    .await
}
