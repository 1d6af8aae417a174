//! Email: notifications go through the outbox to a real SMTP server (aiosmtpd, started
//! here as a child process), survive the server being down, respect what people turned
//! off, and fall back to .eml files when no server is configured.

use crate::support::fixtures::XY_CSV;
use crate::support::wait::Check;
use crate::support::*;
use holdfast::accounts::Role;
use holdfast::mail::outbox::OutboxRow;
use holdfast::mail::{Notice, NotificationKind};
use reqwest::StatusCode;

fn comment_notice() -> Notice {
    Notice {
        kind: NotificationKind::NewComment,
        subject: "New comment on ticket #7".into(),
        headline: "Cura Tor commented on ticket #7 of \"US-Ha1 fluxes 2019\".".into(),
        lines: vec![
            "Please check the <units> of FC & LE in data/US-Ha1.csv.".into(),
            "Reply on the ticket page.".into(),
        ],
        link_path: "/tickets/7".into(),
    }
}

/// What a change in the archive does: queue mail in its own transaction.
async fn notify(app: &TestApp, recipients: Vec<i64>, notice: Notice) -> TestResult {
    let settings = app.archive.settings.clone();
    app.archive
        .db
        .transaction(move |conn| holdfast::mail::notify(conn, &settings, &recipients, &notice))
        .await
        .map_err(|e| format!("notify: {e:?}"))?;
    Ok(())
}

fn all_sent(rows: &[OutboxRow]) -> bool {
    !rows.is_empty()
        && rows
            .iter()
            .all(|r| r.state == "sent" && r.sent_at.is_some())
}

/// Checks one received notification: headers, both parts, the link and the footer.
fn check_notification(app: &TestApp, mail: &Mail, to: &str) -> TestResult {
    assert_eq!(mail.to, vec![to.to_string()]);
    assert_eq!(mail.from.as_deref(), Some("archive@flux.example.org"));
    assert_eq!(mail.from_name.as_deref(), Some("Flux Archive"));
    assert_eq!(mail.subject, "[Flux Archive] New comment on ticket #7");
    let message = mail.message();
    assert!(message.date().is_some(), "a Date header");
    let id = message.message_id().ok_or("no Message-ID")?;
    assert!(id.ends_with("@flux.example.org"), "{id}");
    assert_eq!(message.text_body_count(), 1, "one text part");
    assert_eq!(message.html_body_count(), 1, "one HTML part");
    assert_eq!(
        mail.content_type().as_deref(),
        Some("multipart/alternative")
    );
    let (link, text, html) = (app.url("/tickets/7"), &mail.text, &mail.html);
    assert!(text.contains("Flux Archive"), "{text}");
    assert!(text.contains("Cura Tor commented on ticket #7"), "{text}");
    assert!(
        text.contains("Please check the <units> of FC & LE in data/US-Ha1.csv."),
        "{text}"
    );
    assert!(text.contains(&link), "{text}");
    assert!(text.contains(&app.url("/profile#notifications")), "{text}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    assert!(!html.contains("<units>"), "user text is escaped: {html}");
    assert!(html.contains("Please check the &"), "{html}");
    assert!(html.contains("profile page"), "{html}");
    Ok(())
}

/// An archive named "Flux Archive" that sends through `smtp_url` (or writes files).
fn flux_archive(smtp_url: Option<String>) -> Builder {
    TestApp::builder().settings(move |args| {
        args.smtp_url = smtp_url.clone();
        args.site_name = Some("Flux Archive".into());
        args.mail_from = Some("Flux Archive <archive@flux.example.org>".into());
    })
}

/// Runs jobs until the outbox satisfies `done` (retries come due after a backoff).
async fn outbox_until(
    app: &TestApp,
    what: &str,
    done: impl Fn(&[OutboxRow]) -> bool,
) -> Result<Vec<OutboxRow>, Error> {
    app.run_jobs_until(what, || async {
        let rows = app.outbox().await?;
        Ok(if done(&rows) {
            Check::Done(rows)
        } else {
            Check::NotYet(format!("{rows:#?}"))
        })
    })
    .await
}

#[actix_web::test]
async fn a_notification_arrives_at_the_smtp_server_once() -> TestResult {
    for backend in backends() {
        let smtp = SmtpServer::start().await?;
        let app = flux_archive(Some(smtp.url())).spawn(backend).await?;
        let journey = async {
            let jane = app.new_user("jane@example.org", Role::Depositor).await?.id;
            notify(&app, vec![jane], comment_notice()).await?;
            app.run_jobs().await?;

            let received = smtp.wait_for(1).await?;
            assert_eq!(received.len(), 1);
            check_notification(&app, &received[0], "jane@example.org")?;
            // The envelope went to the same person.
            assert_eq!(
                received[0].header("X-RcptTo").as_deref(),
                Some("jane@example.org")
            );

            let rows = app.outbox().await?;
            assert!(all_sent(&rows), "{rows:?}");
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].recipient_id, Some(jane));
            assert_eq!(rows[0].kind, "comment");
            assert_eq!(rows[0].attempts, 1);
            assert_eq!(rows[0].last_error, None);

            // A job that runs again (as after a crash) sends nothing twice.
            let job = holdfast::mail::DeliverMail {
                message_id: rows[0].id,
            };
            holdfast::jobs::Job::run(job, &app.archive.postman()).await?;
            app.run_jobs().await?;
            assert_eq!(smtp.received()?.len(), 1, "no duplicate delivery");
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

#[actix_web::test]
async fn mail_waits_while_the_smtp_server_is_down_and_goes_out_when_it_is_back() -> TestResult {
    for backend in backends() {
        let port = free_port()?;
        let app = flux_archive(Some(format!("smtp://127.0.0.1:{port}")))
            .spawn(backend)
            .await?;
        let journey = async {
            let jane = app.new_user("jane@example.org", Role::Depositor).await?.id;
            // Nothing listens: the change that causes the mail still commits.
            notify(&app, vec![jane], comment_notice()).await?;
            app.run_jobs().await?;
            let rows = app.outbox().await?;
            assert!(
                rows.len() == 1 && rows[0].attempts >= 1,
                "a failed attempt: {rows:?}"
            );
            assert_eq!(rows[0].state, "pending", "kept for a retry: {:?}", rows[0]);
            assert_eq!(rows[0].sent_at, None);
            let error = rows[0].last_error.clone().unwrap_or_default();
            assert!(error.contains(&port.to_string()), "{error}");
            // The job waits for its retry with the same error.
            let jobs = app.jobs_of_kind("deliver-mail").await?;
            assert_eq!(jobs.len(), 1);
            assert_ne!(jobs[0].0, "failed");
            assert_ne!(jobs[0].0, "done");

            // The server comes up; the next retry delivers.
            let smtp = SmtpServer::start_on(port).await?;
            let rows = outbox_until(&app, "the message is marked sent", all_sent).await?;
            let received = smtp.wait_for(1).await?;
            check_notification(&app, &received[0], "jane@example.org")?;
            assert!(rows[0].attempts >= 2, "{:?}", rows[0]);
            assert!(
                rows[0].last_error.is_some(),
                "the earlier failure stays visible"
            );
            assert_eq!(smtp.received()?.len(), 1);
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

#[actix_web::test]
async fn comment_mail_is_turned_off_on_the_profile_page() -> TestResult {
    on_each_backend(|app| async move {
        let jane = app.new_user("jane@example.org", Role::Depositor).await?;
        let browser = app.signed_in(&jane).await?;
        let html = browser.page("/profile").await?;
        assert!(html.contains("id=\"notifications\""), "{html}");
        assert!(html.contains("value=\"comment\" checked"), "on by default");
        let on = [("on", "ticket"), ("on", "submitted"), ("on", "decision"), ("on", "fixity")];
        let r = browser.post_form("/profile", "/profile/notifications", &on).await?;
        expect_redirect(&r, "/profile?saved=notifications#notifications")?;
        let html = browser.page("/profile?saved=notifications").await?;
        assert!(html.contains("notification settings are saved"));
        assert!(html.contains("value=\"comment\">"), "now unticked: {html}");
        assert!(html.contains("value=\"ticket\" checked"));
        // The form refuses a forged request.
        let r = browser
            .client
            .post(app.url("/profile/notifications"))
            .form(&[("csrf_token", "forged-token-forged-token"), ("on", "ticket")])
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // The API agrees with the page.
        let r = browser.get("/api/profile/notifications").await?;
        assert_eq!(
            r.json::<serde_json::Value>().await?,
            serde_json::json!({"ticket": true, "comment": false, "submitted": true, "decision": true, "fixity": true})
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn notification_settings_are_changed_through_the_api() -> TestResult {
    on_each_backend(|app| async move {
        let bob = app.new_user("bob@example.org", Role::Curator).await?;
        let api = app.api(&bob.token);
        // Decision mail off, then back on; comment mail stays on.
        for (body, expect_decision) in [
            (serde_json::json!({"decision": false}), false),
            (serde_json::json!({"decision": true}), true),
        ] {
            let now = api
                .put("/api/profile/notifications", &body)
                .await?
                .expect(StatusCode::OK)?;
            assert_eq!(now["decision"], expect_decision);
            assert_eq!(now["comment"], true);
        }
        let r = api
            .put(
                "/api/profile/notifications",
                &serde_json::json!({"comments": false}),
            )
            .await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .public_api()
            .put(
                "/api/profile/notifications",
                &serde_json::json!({"comment": false}),
            )
            .await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a token is needed");
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_muted_kind_sends_nothing() -> TestResult {
    for backend in backends() {
        let smtp = SmtpServer::start().await?;
        let app = flux_archive(Some(smtp.url())).spawn(backend).await?;
        let journey = async {
            let jane = app.new_user("jane@example.org", Role::Depositor).await?;
            let bob = app.new_user("bob@example.org", Role::Curator).await?;
            let muted = serde_json::json!({"comment": false});
            app.api(&jane.token)
                .put("/api/profile/notifications", &muted)
                .await?
                .expect(StatusCode::OK)?;

            // A comment notice to both reaches only Bob; a ticket notice reaches Jane.
            notify(&app, vec![jane.id, bob.id], comment_notice()).await?;
            let mut ticket = comment_notice();
            ticket.kind = NotificationKind::TicketUpdated;
            ticket.subject = "Ticket #7 was updated".into();
            notify(&app, vec![jane.id], ticket).await?;
            app.run_jobs().await?;

            let rows = app.outbox().await?;
            assert!(
                rows.len() == 2 && all_sent(&rows),
                "both messages are sent: {rows:?}"
            );
            let sent: Vec<(Option<i64>, &str)> = rows
                .iter()
                .map(|r| (r.recipient_id, r.kind.as_str()))
                .collect();
            assert_eq!(
                sent,
                vec![(Some(bob.id), "comment"), (Some(jane.id), "ticket")]
            );
            let mut got: Vec<(String, String)> = smtp
                .wait_for(2)
                .await?
                .into_iter()
                .map(|m| (m.to.join(","), m.subject))
                .collect();
            got.sort();
            assert_eq!(
                got,
                vec![
                    (
                        "bob@example.org".into(),
                        "[Flux Archive] New comment on ticket #7".into()
                    ),
                    (
                        "jane@example.org".into(),
                        "[Flux Archive] Ticket #7 was updated".into()
                    ),
                ]
            );
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

#[actix_web::test]
async fn without_a_server_mail_is_written_as_eml_files() -> TestResult {
    let name_re = regex::Regex::new(r"^\d{8}T\d{6}\.\d{6}Z-\d{10}\.eml$")?;
    flux_archive(None)
        .on_each_backend(|app| {
            let name_re = name_re.clone();
            async move {
                let jane = app.new_user("jane@example.org", Role::Depositor).await?.id;
                let ann = app.new_user("ann@example.org", Role::Depositor).await?.id;
                notify(&app, vec![jane], comment_notice()).await?;
                notify(&app, vec![ann], comment_notice()).await?;
                let written = app.mail().await?;
                let rows = app.outbox().await?;
                assert!(
                    rows.len() == 2 && all_sent(&rows),
                    "both messages are written: {rows:?}"
                );

                let names: Vec<String> = written
                    .iter()
                    .map(|m| crate::support::mail::file_name(&m.file))
                    .collect();
                assert_eq!(names.len(), 2, "{names:?}: no temporary files left");
                assert_eq!(std::fs::read_dir(app.mail_dir())?.count(), 2, "{names:?}");
                for name in &names {
                    assert!(name_re.is_match(name), "{name}");
                }
                // Sorted by name is sorted by time: Jane's came first.
                assert!(names[0].ends_with(&format!("-{:010}.eml", rows[0].id)));
                assert!(names[1].ends_with(&format!("-{:010}.eml", rows[1].id)));
                check_notification(&app, &written[0], "jane@example.org")?;
                let text = String::from_utf8(written[0].raw.clone())?;
                assert!(text.contains("\r\n"), "RFC 5322 line endings");
                for header in [
                    "From: ",
                    "To: ",
                    "Subject: ",
                    "Date: ",
                    "Message-ID: ",
                    "MIME-Version: ",
                ] {
                    assert!(text.contains(header), "{header} in\n{text}");
                }

                // An operator queues a failed message again (`holdfast mail retry`): it is
                // written again under the same name, not as a second file.
                let first = rows[0].id;
                app.fail_mail(first).await?;
                let again = app
                    .archive
                    .db
                    .transaction(holdfast::mail::outbox::requeue_failed)
                    .await?;
                assert_eq!(again, vec![first]);
                let rewritten = app.mail().await?;
                let rows = app.outbox().await?;
                assert!(
                    rows.len() == 2 && all_sent(&rows),
                    "the retried message is written: {rows:?}"
                );
                assert_eq!(rows[0].attempts, 1, "attempts start again");
                let names_again: Vec<String> = rewritten
                    .iter()
                    .map(|m| crate::support::mail::file_name(&m.file))
                    .collect();
                assert_eq!(names_again, names);
                Ok(())
            }
        })
        .await
}

#[actix_web::test]
async fn a_curator_publishes_while_the_mail_server_is_down_and_the_depositor_hears_later(
) -> TestResult {
    for backend in backends() {
        let port = free_port()?;
        let app = flux_archive(Some(format!("smtp://127.0.0.1:{port}")))
            .spawn(backend)
            .await?;
        let journey = async {
            let pi = app.api(&app.new_user("pi@example.org", Role::Depositor).await?.token);
            let curator = app.api(
                &app.new_user("curator@example.org", Role::Curator)
                    .await?
                    .token,
            );
            let id = pi.create_draft("US-Ha1 fluxes 2019").await?;
            pi.put_file(id, "data/a.csv", XY_CSV).await?;
            // The acceptance answers although its mail cannot go out yet.
            let published = app.publish(&pi, &curator, id).await?;
            assert!(published["doi"].is_string(), "{published}");

            let rows = app.outbox().await?;
            let decision = rows
                .iter()
                .find(|r| r.kind == "decision")
                .ok_or("no decision mail")?;
            assert!(
                decision.attempts >= 1 && decision.last_error.is_some(),
                "failed once: {decision:?}"
            );
            assert_eq!(decision.state, "pending");
            assert_eq!(decision.to_address, "pi@example.org");

            let smtp = SmtpServer::start_on(port).await?;
            outbox_until(&app, "the decision mail is sent", |rows| {
                rows.iter()
                    .any(|r| r.kind == "decision" && r.state == "sent")
            })
            .await?;
            let link = app.url(&format!("/datasets/{id}"));
            let received = smtp.received()?;
            let found = received.iter().any(|m| {
                m.is_to("pi@example.org")
                    && m.subject.starts_with("[Flux Archive] ")
                    && m.text.contains(&link)
            });
            assert!(
                found,
                "the depositor's mail with the landing page link arrived: {received:?}"
            );
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

#[actix_web::test]
async fn mail_is_marked_failed_after_its_last_attempt() -> TestResult {
    for backend in backends() {
        let port = free_port()?;
        let app = flux_archive(Some(format!("smtp://127.0.0.1:{port}")))
            .spawn(backend)
            .await?;
        let journey = async {
            let jane = app.new_user("jane@example.org", Role::Depositor).await?.id;
            notify(&app, vec![jane], comment_notice()).await?;
            let id = app.outbox().await?.first().ok_or("no outbox row")?.id;
            // As if every attempt but the last had already failed.
            let max = <holdfast::mail::DeliverMail as holdfast::jobs::Job>::MAX_ATTEMPTS;
            app.set_mail_attempts(id, max - 1).await?;
            app.run_jobs().await?;
            let rows = app.outbox().await?;
            assert_eq!(rows[0].state, "failed", "{:?}", rows[0]);
            assert_eq!(rows[0].attempts, max);
            assert!(rows[0].last_error.as_deref().unwrap_or("").contains("SMTP"));
            assert_eq!(rows[0].sent_at, None);
            // A later run of the job leaves a failed message alone.
            holdfast::mail::deliver(&app.archive.postman(), id).await?;
            assert_eq!(app.outbox().await?[0].attempts, max);
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}
