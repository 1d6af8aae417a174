//! Validation in the background, QA tickets and the submission gate: a PI uploads an
//! AmeriFlux file with errors, sees the findings, gets a ticket with one item per
//! problem, uploads a fixed file (its items close by themselves), a curator waives what
//! remains with a reason, and submission goes through.

use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

const BAD16: &str = "US-UMB_HR_200001010000_200001012000_bad16.csv";

fn conformance_file(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/ameriflux/conformance/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("conformance file readable")
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

/// A PI's draft with an AmeriFlux file with errors, checked; (PI, curator, draft id,
/// file path).
async fn checked_bad_upload(app: &TestApp) -> Result<(Api, Api, i64, String), Error> {
    let pi = app.api(&app.new_user("pi@site.org", Role::Depositor).await?.token);
    let curator = app.api(&app.new_user("cur@archive.org", Role::Curator).await?.token);
    let id = pi.create_draft("Flux tower US-UMB 2000").await?;
    let path = format!("data/{BAD16}");
    pi.put_file(id, &path, &conformance_file(BAD16)).await?;
    // The upload returned at once; the report follows from the job.
    app.run_jobs().await?;
    Ok((pi, curator, id, path))
}

#[actix_web::test]
async fn findings_become_one_ticket_item_per_problem_and_block_submission() -> TestResult {
    on_each_backend(|app| async move {
        let (pi, _, id, path) = checked_bad_upload(&app).await?;
        let report = pi.validation(id).await?;
        assert_eq!(report["state"], "done", "{report}");
        assert_eq!(report["status"], "error");
        let file = &report["files"][0];
        assert_eq!(file["path"], path.as_str());
        assert_eq!(
            file["ameriflux_status"], "ERROR",
            "AmeriFlux's own level beside ours"
        );
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
        let tickets = pi.get_ok(&format!("/api/datasets/{id}/tickets")).await?;
        let items = items_of(&tickets);
        let keys: Vec<(String, String)> = items
            .iter()
            .map(|i| {
                (
                    i["file"].as_str().unwrap_or("").into(),
                    i["code"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            keys.len(),
            "one item per (file, check): {keys:?}"
        );
        let item = items
            .iter()
            .find(|i| i["code"] == "missing-value-code")
            .ok_or("item for missing-value-code")?;
        assert_eq!(item["state"], "open");
        assert_eq!(item["blocking"], true);
        assert_eq!(
            item["occurrences"], 12,
            "USTAR 11 and WD 1, as AmeriFlux counts them"
        );
        let ticket_id = tickets["tickets"][0]["id"].as_i64().ok_or("ticket id")?;

        // The PI gets an email about the ticket.
        let mail = app.mail_to("pi@site.org").await?;
        let told = mail
            .iter()
            .find(|m| m.subject.contains("Problems found") || m.text.contains("Problems found"))
            .ok_or_else(|| format!("no ticket email: {mail:?}"))?;
        assert!(
            told.text.contains(&format!("/tickets/{ticket_id}")),
            "{}",
            told.text
        );

        // Submission is refused with the list of blocking items.
        let r = pi
            .post(&format!("/api/datasets/{id}/submit"), &json!({}))
            .await?;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(r.error().contains("missing-value-code"), "{}", r.text);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_fixed_file_closes_its_item_and_a_curator_waives_the_rest() -> TestResult {
    on_each_backend(|app| async move {
        let (pi, curator, id, path) = checked_bad_upload(&app).await?;
        let ticket_id = pi.get_ok(&format!("/api/datasets/{id}/tickets")).await?["tickets"][0]["id"]
            .as_i64()
            .ok_or("ticket id")?;
        // The PI uploads a fixed file at the same path: that item closes by itself.
        let fixed = String::from_utf8(conformance_file(BAD16))?
            .replace("-6999", "-9999")
            .replace("NaN", "-9999");
        pi.put_file(id, &path, fixed.as_bytes()).await?;
        app.run_jobs().await?;
        assert_eq!(pi.validation(id).await?["run"]["files_checked"], 1);
        let items = items_of(&pi.get_ok(&format!("/api/datasets/{id}/tickets")).await?);
        let item = items
            .iter()
            .find(|i| i["code"] == "missing-value-code")
            .ok_or("the item is kept, not deleted")?;
        assert_eq!(item["state"], "fixed");
        let ticket = pi.get_ok(&format!("/api/tickets/{ticket_id}")).await?;
        let events = ticket["events"].as_array().ok_or("events")?;
        assert!(events.iter().any(|e| e["kind"] == "item-fixed"), "history keeps the fix");

        // A depositor cannot waive; a waiver needs a reason.
        let open: Vec<&Value> = items.iter().filter(|i| i["state"] == "open").collect();
        assert!(!open.is_empty(), "physical-range errors and warnings remain");
        assert!(open.iter().any(|i| i["severity"] == "warning"));
        let waive = |item: &Value| format!("/api/tickets/{ticket_id}/items/{}/waive", item["id"]);
        let r = pi.post(&waive(open[0]), &json!({"reason": "I say so"})).await?;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = curator.post(&waive(open[0]), &json!({"reason": "  "})).await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

        // The curator waives each remaining item with a reason; submission goes through.
        let reason = json!({"reason": "Units checked with the site PI: kPa logged as hPa, corrected downstream"});
        for item in &open {
            let waived = curator.post(&waive(item), &reason).await?.expect(StatusCode::OK)?;
            assert_eq!(waived["state"], "waived");
            assert_eq!(waived["blocking"], false);
        }
        app.run_jobs().await?;
        assert_eq!(pi.validation(id).await?["blocking"], 0);
        pi.submit(id).await?;
        Ok(())
    })
    .await
}

/// A PI's draft with a CSV that fails its checks, uploaded through the page and
/// checked; (the PI's browser, the draft id, its ticket id).
async fn ticketed_draft(app: &TestApp) -> Result<(Browser, i64, i64), Error> {
    let pi = app
        .signed_in(&app.new_user("pi@site.org", Role::Depositor).await?)
        .await?;
    let id = pi.create_dataset(&minimal_form("Soil moisture")).await?;
    let bad = vec![("bad.csv".into(), b"site,site\nA,1\nB,x,3\n".to_vec())];
    let r = pi.upload(id, "", false, bad).await?;
    expect_redirect(&r, &format!("/datasets/{id}?msg=uploaded"))?;
    app.run_jobs().await?;
    let html = pi.page(&format!("/datasets/{id}")).await?;
    assert!(html.contains("Data standards check"));
    let pos = html
        .find("href=\"/tickets/")
        .ok_or_else(|| format!("no ticket link: {html}"))?;
    let digits: String = html[pos + "href=\"/tickets/".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Ok((pi, id, digits.parse()?))
}

#[actix_web::test]
async fn the_draft_page_links_its_report_and_ticket() -> TestResult {
    on_each_backend(|app| async move {
        let (pi, id, ticket_id) = ticketed_draft(&app).await?;
        let report_html = pi.page(&format!("/datasets/{id}/validation")).await?;
        assert!(report_html.contains("duplicate-label"), "{report_html}");
        // The ticket page lists the items and the thread.
        let html = pi.page(&format!("/tickets/{ticket_id}")).await?;
        assert!(html.contains("duplicate-label"));
        assert!(
            !html.contains("Reason for waiving"),
            "depositors see no waive form"
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn comments_are_escaped_attachments_kept_and_others_see_nothing() -> TestResult {
    on_each_backend(|app| async move {
        let (pi, id, ticket_id) = ticketed_draft(&app).await?;
        let ticket = format!("/tickets/{ticket_id}");
        let comment = |csrf: String, body: &str, attachment: Option<reqwest::multipart::Part>| {
            let mut form = reqwest::multipart::Form::new()
                .text("csrf_token", csrf)
                .text("body", body.to_string());
            if let Some(part) = attachment {
                form = form.part("attachment", part);
            }
            pi.client
                .post(app.url(&format!("{ticket}/comments")))
                .multipart(form)
        };
        // A comment with a link and markup, and an attachment.
        let attachment =
            reqwest::multipart::Part::bytes(b"calibration notes".to_vec()).file_name("notes.txt");
        let body = "Fixed upstream, see https://example.org/log. <script>alert(1)</script>";
        let r = comment(pi.csrf(&ticket).await?, body, Some(attachment))
            .send()
            .await?;
        expect_redirect_prefix(&r, &format!("{ticket}?msg=commented"))?;
        let html = pi.page(&ticket).await?;
        assert!(html
            .contains("<a href=\"https://example.org/log\" rel=\"nofollow noopener noreferrer\">"));
        assert!(
            !html.contains("<script>alert(1)</script>"),
            "comments are escaped"
        );
        assert!(html.contains("alert(1)"), "the text is shown, escaped");
        let start = html
            .find(&format!("{ticket}/attachments/"))
            .ok_or("attachment link")?;
        let link: String = html[start..].chars().take_while(|c| *c != '"').collect();
        let r = pi.get(&link).await?;
        assert_eq!(r.status(), StatusCode::OK);
        let disposition = r
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok());
        assert!(disposition.is_some_and(|v| v.starts_with("attachment")));
        assert_eq!(r.bytes().await?.as_ref(), b"calibration notes");

        // A forged CSRF token changes nothing.
        let before = html.matches("class=\"event event-comment\"").count();
        let r = comment("forged".into(), "should not appear", None)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let html = pi.page(&ticket).await?;
        assert_eq!(
            html.matches("class=\"event event-comment\"").count(),
            before
        );
        assert!(!html.contains("should not appear"));

        // Another depositor cannot see the ticket, its attachment or the report.
        let other = app
            .signed_in(&app.new_user("other@site.org", Role::Depositor).await?)
            .await?;
        for path in [ticket.clone(), link, format!("/datasets/{id}/validation")] {
            assert_eq!(
                other.get(&path).await?.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_curator_assigns_schedules_and_opens_tickets_by_hand() -> TestResult {
    on_each_backend(|app| async move {
        let (pi, id, ticket_id) = ticketed_draft(&app).await?;
        let ticket = format!("/tickets/{ticket_id}");
        let curator = app.new_user("cur@archive.org", Role::Curator).await?;
        let cur = app.signed_in(&curator).await?;
        assert!(cur.page(&ticket).await?.contains("Reason for waiving"));
        let assignee = curator.id.to_string();
        let r = cur
            .post_form(
                &ticket,
                &format!("{ticket}/assign"),
                &[("assignee", &assignee)],
            )
            .await?;
        expect_redirect_prefix(&r, &ticket)?;
        let r = cur
            .post_form(
                &ticket,
                &format!("{ticket}/due"),
                &[("due_date", "2026-12-31")],
            )
            .await?;
        expect_redirect_prefix(&r, &ticket)?;
        let r = cur
            .post_form(
                &ticket,
                &format!("{ticket}/due"),
                &[("due_date", "31/12/2026")],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(cur.page(&ticket).await?.contains("2026-12-31"));
        let queue = cur.page("/curation/tickets?sort=due").await?;
        assert!(queue.contains(&format!("{ticket}\"")));
        let unassigned = cur.page("/curation/tickets?assignee=none").await?;
        assert!(!unassigned.contains(&format!("{ticket}\"")));

        let fields = [
            ("title", "Methods description missing"),
            ("body", "Please describe the sensor setup."),
        ];
        let r = cur
            .post_form(
                &format!("/datasets/{id}/tickets/new"),
                &format!("/datasets/{id}/tickets"),
                &fields,
            )
            .await?;
        let manual = expect_redirect_prefix(&r, "/tickets/")?;
        let mine = pi.page("/tickets").await?;
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
        let pi = app.api(&app.new_user("pi@site.org", Role::Depositor).await?.token);
        let id = pi.create_draft("Two files").await?;
        pi.put_file(id, "a.csv", b"site,depth_cm\nA,1.5\n").await?;
        pi.put_file(id, "b.csv", b"site,depth_cm\nB,2.5\n").await?;
        app.run_jobs().await?;
        let report = pi.validation(id).await?;
        assert_eq!(report["summary"]["files"], 2);

        // Changing one file re-reads only that file.
        pi.put_file(id, "b.csv", b"site,depth_cm\nB,3.5\n").await?;
        app.run_jobs().await?;
        let report = pi.validation(id).await?;
        assert_eq!(report["run"]["files_checked"], 1, "{report}");
        assert_eq!(report["run"]["files_reused"], 1);

        // An unknown standard is refused; claiming FLMD without an FLMD file is a finding.
        let standards = format!("/api/datasets/{id}/standards");
        let r = pi
            .put(&standards, &json!({"standards": ["no-such-standard"]}))
            .await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        pi.put(&standards, &json!({"standards": ["essdive-flmd"]}))
            .await?
            .expect(StatusCode::OK)?;
        app.run_jobs().await?;
        let report = pi.validation(id).await?;
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
