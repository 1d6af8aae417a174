//! Email: notifications go through the outbox to a real SMTP server (aiosmtpd, started
//! here as a child process), survive the server being down, respect what people turned
//! off, and fall back to .eml files when no server is configured.

use crate::helpers::*;
use diesel::prelude::*;
use holdfast::accounts::Role;
use holdfast::db::schema::{jobs, outbox};
use holdfast::mail::outbox::OutboxRow;
use holdfast::mail::{Notice, NotificationKind};
use mail_parser::MimeHeaders;
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

type Error = Box<dyn std::error::Error>;

/// How long anything asynchronous (a start, a delivery) may take before a test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// A real SMTP server: `python -m aiosmtpd` with its Maildir handler, one file per
/// message received. Killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts aiosmtpd on `port` and waits until it greets. Fails (never skips) when
    /// the test Python or aiosmtpd is missing.
    async fn start(port: u16) -> Result<SmtpServer, Error> {
        let python = std::env::var("HOLDFAST_TEST_PYTHON").map_err(|_| {
            "HOLDFAST_TEST_PYTHON is not set: run the tests with scripts/test, which installs aiosmtpd"
        })?;
        let dir = tempfile::tempdir()?;
        let maildir = dir.path().join("maildir");
        let log = std::fs::File::create(dir.path().join("aiosmtpd.log"))?;
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        let mut server = SmtpServer {
            child,
            port,
            maildir,
            _dir: dir,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                let log = std::fs::read_to_string(server._dir.path().join("aiosmtpd.log"))
                    .unwrap_or_default();
                return Err(format!(
                    "aiosmtpd exited at start ({status}); is it installed in {python}? \
                     scripts/test installs it from scripts/test-tools.txt.\n{log}"
                )
                .into());
            }
            if greets(port).await {
                return Ok(server);
            }
            if started.elapsed() > PATIENCE {
                return Err(format!("aiosmtpd did not answer on port {port}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn start_on_free_port() -> Result<SmtpServer, Error> {
        SmtpServer::start(free_port()?).await
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, oldest first.
    fn messages(&self) -> Result<Vec<Vec<u8>>, Error> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            let folder = self.maildir.join(sub);
            if !folder.exists() {
                continue;
            }
            for entry in std::fs::read_dir(folder)? {
                let entry = entry?;
                files.push((entry.metadata()?.modified()?, entry.path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| std::fs::read(p).map_err(Into::into))
            .collect()
    }

    /// Waits until at least `count` messages arrived.
    async fn wait_for(&self, count: usize) -> Result<Vec<Vec<u8>>, Error> {
        let started = Instant::now();
        loop {
            let got = self.messages()?;
            if got.len() >= count {
                return Ok(got);
            }
            if started.elapsed() > PATIENCE {
                return Err(format!(
                    "aiosmtpd received {} message(s), expected {count}",
                    got.len()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when an SMTP server on `port` sends its 220 greeting.
async fn greets(port: u16) -> bool {
    let Ok(Ok(stream)) = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(2), reader.read_line(&mut line)).await;
    let ok = matches!(read, Ok(Ok(n)) if n > 0) && line.starts_with("220");
    let _ = reader.get_mut().write_all(b"QUIT\r\n").await;
    ok
}

/// A port nothing listens on (bound, read, released).
fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

async fn user_id(app: &TestApp, email: &str, role: Role) -> Result<i64, Error> {
    app.user(email, role).await?;
    let email = email.to_string();
    Ok(app
        .archive
        .db
        .run(move |conn| {
            holdfast::accounts::users::find_by_email(conn, &email)?
                .map(|u| u.id)
                .ok_or(holdfast::error::DomainError::NotFound)
        })
        .await?)
}

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

/// What a change in the archive does: queue mail in its own transaction, then wake the
/// workers once it committed.
async fn notify(app: &TestApp, recipients: Vec<i64>, notice: Notice) -> TestResult {
    let settings = app.archive.settings.clone();
    app.archive
        .db
        .transaction(move |conn| holdfast::mail::notify(conn, &settings, &recipients, &notice))
        .await
        .map_err(|e| format!("notify: {e:?}"))?;
    app.archive.wake_workers();
    Ok(())
}

async fn outbox_rows(app: &TestApp) -> Result<Vec<OutboxRow>, Error> {
    Ok(app
        .archive
        .db
        .run(|conn| {
            Ok(outbox::table
                .order(outbox::id.asc())
                .select(OutboxRow::as_select())
                .load(conn)?)
        })
        .await
        .map_err(|e| format!("reading the outbox: {e:?}"))?)
}

/// Polls the outbox until `done` holds for its rows.
async fn wait_outbox(
    app: &TestApp,
    what: &str,
    done: impl Fn(&[OutboxRow]) -> bool,
) -> Result<Vec<OutboxRow>, Error> {
    let started = Instant::now();
    loop {
        let rows = outbox_rows(app).await?;
        if done(&rows) {
            return Ok(rows);
        }
        if started.elapsed() > PATIENCE {
            return Err(format!("timed out waiting until {what}; outbox: {rows:#?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_sent(rows: &[OutboxRow]) -> bool {
    !rows.is_empty()
        && rows
            .iter()
            .all(|r| r.state == "sent" && r.sent_at.is_some())
}

fn header<'a>(message: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    message.header(name).and_then(|v| v.as_text())
}

/// Checks one received notification: headers, both parts, the link and the footer.
fn check_notification(app: &TestApp, raw: &[u8], to: &str) -> TestResult {
    let message = mail_parser::MessageParser::default()
        .parse(raw)
        .ok_or("the message does not parse")?;
    let recipient = message.to().and_then(|a| a.first()).ok_or("no To")?;
    assert_eq!(recipient.address(), Some(to));
    let sender = message.from().and_then(|a| a.first()).ok_or("no From")?;
    assert_eq!(sender.address(), Some("archive@flux.example.org"));
    assert_eq!(sender.name(), Some("Flux Archive"));
    assert_eq!(
        message.subject(),
        Some("[Flux Archive] New comment on ticket #7")
    );
    assert!(message.date().is_some(), "a Date header");
    let id = message.message_id().ok_or("no Message-ID")?;
    assert!(id.ends_with("@flux.example.org"), "{id}");
    assert_eq!(message.text_body_count(), 1, "one text part");
    assert_eq!(message.html_body_count(), 1, "one HTML part");
    let ct = message.content_type().ok_or("no Content-Type")?;
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let link = app.url("/tickets/7");
    let text = message.body_text(0).ok_or("no text body")?;
    assert!(text.contains("Flux Archive"), "{text}");
    assert!(text.contains("Cura Tor commented on ticket #7"), "{text}");
    assert!(
        text.contains("Please check the <units> of FC & LE in data/US-Ha1.csv."),
        "{text}"
    );
    assert!(text.contains(&link), "{text}");
    assert!(text.contains(&app.url("/profile#notifications")), "{text}");
    let html = message.body_html(0).ok_or("no HTML body")?;
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    assert!(!html.contains("<units>"), "user text is escaped: {html}");
    assert!(html.contains("Please check the &"), "{html}");
    assert!(html.contains("profile page"), "{html}");
    Ok(())
}

fn flux_settings(smtp_url: Option<String>) -> impl FnOnce(&mut holdfast::config::SettingsArgs) {
    move |args| {
        args.smtp_url = smtp_url;
        args.site_name = Some("Flux Archive".into());
        args.mail_from = Some("Flux Archive <archive@flux.example.org>".into());
    }
}

#[actix_web::test]
async fn a_notification_arrives_at_the_smtp_server_once() -> TestResult {
    for backend in backends() {
        let smtp = SmtpServer::start_on_free_port().await?;
        let app = TestApp::spawn_with(backend, flux_settings(Some(smtp.url()))).await?;
        let journey = async {
            let jane = user_id(&app, "jane@example.org", Role::Depositor).await?;
            notify(&app, vec![jane], comment_notice()).await?;

            let received = smtp.wait_for(1).await?;
            assert_eq!(received.len(), 1);
            check_notification(&app, &received[0], "jane@example.org")?;
            // The envelope went to the same person.
            let parsed = mail_parser::MessageParser::default()
                .parse(&received[0])
                .ok_or("parse")?;
            assert_eq!(header(&parsed, "X-RcptTo"), Some("jane@example.org"));

            let rows = wait_outbox(&app, "the message is marked sent", all_sent).await?;
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
            holdfast::jobs::run_pending_now(&app.archive).await?;
            assert_eq!(smtp.messages()?.len(), 1, "no duplicate delivery");
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
        let url = format!("smtp://127.0.0.1:{port}");
        let app = TestApp::spawn_with(backend, flux_settings(Some(url))).await?;
        let journey = async {
            let jane = user_id(&app, "jane@example.org", Role::Depositor).await?;
            // Nothing listens: the change that causes the mail still commits.
            notify(&app, vec![jane], comment_notice()).await?;

            let rows = wait_outbox(&app, "a failed attempt is recorded", |rows| {
                rows.len() == 1 && rows[0].attempts >= 1 && rows[0].last_error.is_some()
            })
            .await?;
            assert_eq!(rows[0].state, "pending", "kept for a retry: {:?}", rows[0]);
            assert_eq!(rows[0].sent_at, None);
            let error = rows[0].last_error.clone().unwrap_or_default();
            assert!(error.contains(&port.to_string()), "{error}");
            // The job waits for its retry with the same error.
            let job_states: Vec<(String, Option<String>)> = app
                .archive
                .db
                .run(|conn| {
                    Ok(jobs::table
                        .filter(jobs::kind.eq("deliver-mail"))
                        .select((jobs::state, jobs::last_error))
                        .load(conn)?)
                })
                .await?;
            assert_eq!(job_states.len(), 1);
            assert_ne!(job_states[0].0, "failed");
            assert_ne!(job_states[0].0, "done");

            // The server comes up; the next retry delivers.
            let smtp = SmtpServer::start(port).await?;
            let received = smtp.wait_for(1).await?;
            check_notification(&app, &received[0], "jane@example.org")?;
            let rows = wait_outbox(&app, "the message is marked sent", all_sent).await?;
            assert!(rows[0].attempts >= 2, "{:?}", rows[0]);
            assert!(
                rows[0].last_error.is_some(),
                "the earlier failure stays visible"
            );
            assert_eq!(smtp.messages()?.len(), 1);
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

#[actix_web::test]
async fn a_muted_kind_sends_nothing() -> TestResult {
    for backend in backends() {
        let smtp = SmtpServer::start_on_free_port().await?;
        let app = TestApp::spawn_with(backend, flux_settings(Some(smtp.url()))).await?;
        let journey = async {
            let jane = user_id(&app, "jane@example.org", Role::Depositor).await?;
            let bob = user_id(&app, "bob@example.org", Role::Curator).await?;

            // Jane turns comment mail off on her profile page.
            let browser = app.browser();
            browser
                .sign_in("jane@example.org", "a long enough password")
                .await?;
            let (status, html) = browser.get_text("/profile").await?;
            assert_eq!(status, StatusCode::OK);
            assert!(html.contains("id=\"notifications\""), "{html}");
            assert!(html.contains("value=\"comment\" checked"), "on by default");
            let r = browser
                .post_form(
                    "/profile",
                    "/profile/notifications",
                    &[
                        ("on", "ticket"),
                        ("on", "submitted"),
                        ("on", "decision"),
                        ("on", "fixity"),
                    ],
                )
                .await?;
            expect_redirect(&r, "/profile?saved=notifications#notifications")?;
            let (_, html) = browser.get_text("/profile?saved=notifications").await?;
            assert!(html.contains("notification settings are saved"));
            assert!(html.contains("value=\"comment\">"), "now unticked: {html}");
            assert!(html.contains("value=\"ticket\" checked"));
            // The form refuses a forged request.
            let r = browser
                .client
                .post(app.url("/profile/notifications"))
                .form(&[
                    ("csrf_token", "forged-token-forged-token"),
                    ("on", "ticket"),
                ])
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            // The API agrees with the page.
            let r = browser.get("/api/profile/notifications").await?;
            assert_eq!(
                r.json::<serde_json::Value>().await?,
                serde_json::json!({"ticket": true, "comment": false, "submitted": true, "decision": true, "fixity": true})
            );

            // Bob uses the API: decision mail off, then back on; comment mail stays on.
            let token = app
                .archive
                .db
                .run(move |conn| holdfast::accounts::tokens::create(conn, bob, "test"))
                .await?;
            let client = app.client();
            for (body, expect_decision) in [
                (serde_json::json!({"decision": false}), false),
                (serde_json::json!({"decision": true}), true),
            ] {
                let r = client
                    .put(app.url("/api/profile/notifications"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await?;
                assert_eq!(r.status(), StatusCode::OK);
                let now: serde_json::Value = r.json().await?;
                assert_eq!(now["decision"], expect_decision);
                assert_eq!(now["comment"], true);
            }
            let r = client
                .put(app.url("/api/profile/notifications"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"comments": false}))
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
            let r = client
                .put(app.url("/api/profile/notifications"))
                .json(&serde_json::json!({"comment": false}))
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a token is needed");

            // A comment notice to both reaches only Bob; a ticket notice reaches Jane.
            notify(&app, vec![jane, bob], comment_notice()).await?;
            let mut ticket = comment_notice();
            ticket.kind = NotificationKind::TicketUpdated;
            ticket.subject = "Ticket #7 was updated".into();
            notify(&app, vec![jane], ticket).await?;

            let rows = wait_outbox(&app, "both messages are sent", |rows| {
                rows.len() == 2 && all_sent(rows)
            })
            .await?;
            let sent: Vec<(Option<i64>, &str)> = rows
                .iter()
                .map(|r| (r.recipient_id, r.kind.as_str()))
                .collect();
            assert_eq!(sent, vec![(Some(bob), "comment"), (Some(jane), "ticket")]);
            let received = smtp.wait_for(2).await?;
            let mut got: Vec<(String, String)> = received
                .iter()
                .map(|raw| {
                    let m = mail_parser::MessageParser::default().parse(raw);
                    let to = m
                        .as_ref()
                        .and_then(|m| m.to())
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .unwrap_or_default()
                        .to_string();
                    let subject = m
                        .as_ref()
                        .and_then(|m| m.subject())
                        .unwrap_or_default()
                        .to_string();
                    (to, subject)
                })
                .collect();
            got.sort();
            assert_eq!(
                got,
                vec![
                    (
                        "bob@example.org".to_string(),
                        "[Flux Archive] New comment on ticket #7".to_string()
                    ),
                    (
                        "jane@example.org".to_string(),
                        "[Flux Archive] Ticket #7 was updated".to_string()
                    ),
                ]
            );
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

fn eml_files(dir: &Path) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().to_string()))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

#[actix_web::test]
async fn without_a_server_mail_is_written_as_eml_files() -> TestResult {
    let name_re = regex::Regex::new(r"^\d{8}T\d{6}\.\d{6}Z-\d{10}\.eml$")?;
    for backend in backends() {
        let app = TestApp::spawn_with(backend, flux_settings(None)).await?;
        let journey = async {
            let jane = user_id(&app, "jane@example.org", Role::Depositor).await?;
            let ann = user_id(&app, "ann@example.org", Role::Depositor).await?;
            notify(&app, vec![jane], comment_notice()).await?;
            notify(&app, vec![ann], comment_notice()).await?;
            let rows = wait_outbox(&app, "both messages are written", |rows| {
                rows.len() == 2 && all_sent(rows)
            })
            .await?;

            let dir = app.data_dir.join("mail");
            let names = eml_files(&dir)?;
            assert_eq!(names.len(), 2, "{names:?}: no temporary files left");
            for name in &names {
                assert!(name_re.is_match(name), "{name}");
            }
            // Sorted by name is sorted by time: Jane's came first.
            assert!(names[0].ends_with(&format!("-{:010}.eml", rows[0].id)));
            assert!(names[1].ends_with(&format!("-{:010}.eml", rows[1].id)));

            let raw = std::fs::read(dir.join(&names[0]))?;
            check_notification(&app, &raw, "jane@example.org")?;
            let text = String::from_utf8(raw.clone())?;
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
            app.archive
                .db
                .run(move |conn| {
                    diesel::update(outbox::table.find(first))
                        .set((
                            outbox::state.eq("failed"),
                            outbox::sent_at.eq(None::<chrono::NaiveDateTime>),
                        ))
                        .execute(conn)?;
                    Ok(())
                })
                .await?;
            let again = app
                .archive
                .db
                .transaction(holdfast::mail::outbox::requeue_failed)
                .await?;
            assert_eq!(again, vec![first]);
            app.archive.wake_workers();
            let rows = wait_outbox(&app, "the retried message is written", |rows| {
                rows.len() == 2 && all_sent(rows)
            })
            .await?;
            assert_eq!(rows[0].attempts, 1, "attempts start again");
            assert_eq!(eml_files(&dir)?, names);
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

#[actix_web::test]
async fn a_curator_publishes_while_the_mail_server_is_down_and_the_depositor_hears_later(
) -> TestResult {
    for backend in backends() {
        let port = free_port()?;
        let url = format!("smtp://127.0.0.1:{port}");
        let app = TestApp::spawn_with(backend, flux_settings(Some(url))).await?;
        let journey = async {
            let pi = app.token_for("pi@example.org", Role::Depositor).await?;
            let curator = app.token_for("curator@example.org", Role::Curator).await?;
            let id = app.api_draft(&pi, "US-Ha1 fluxes 2019").await?;
            let r = app
                .client()
                .put(app.url(&format!("/api/datasets/{id}/files/data/a.csv")))
                .bearer_auth(&pi)
                .body("x,y\n1,2\n")
                .send()
                .await?;
            assert_eq!(r.status(), StatusCode::CREATED);
            // The acceptance answers 200 although its mail cannot go out yet.
            let published = app.api_publish(&pi, &curator, id).await?;
            assert!(published["doi"].is_string(), "{published}");

            let is_decision = |r: &OutboxRow| r.kind == "decision";
            let rows = wait_outbox(&app, "the decision mail failed once", |rows| {
                rows.iter()
                    .any(|r| is_decision(r) && r.attempts >= 1 && r.last_error.is_some())
            })
            .await?;
            let decision = rows
                .iter()
                .find(|r| is_decision(r))
                .ok_or("no decision mail")?;
            assert_eq!(decision.state, "pending");
            assert_eq!(decision.to_address, "pi@example.org");

            let smtp = SmtpServer::start(port).await?;
            wait_outbox(&app, "the decision mail is sent", |rows| {
                rows.iter().any(|r| is_decision(r) && r.state == "sent")
            })
            .await?;
            let link = app.url(&format!("/datasets/{id}"));
            let received = smtp.messages()?;
            let found = received.iter().any(|raw| {
                let Some(m) = mail_parser::MessageParser::default().parse(raw) else {
                    return false;
                };
                let to = m.to().and_then(|a| a.first()).and_then(|a| a.address());
                let subject = m.subject().unwrap_or_default();
                let text = m.body_text(0).unwrap_or_default();
                to == Some("pi@example.org")
                    && subject.starts_with("[Flux Archive] ")
                    && text.contains(&link)
            });
            assert!(
                found,
                "the depositor's mail with the landing page link arrived"
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
        let url = format!("smtp://127.0.0.1:{port}");
        // No background workers: this test runs the job itself, one attempt at a time.
        let app = TestApp::spawn_with(backend, |args| {
            flux_settings(Some(url))(args);
            args.workers = Some(0);
        })
        .await?;
        let journey = async {
            let jane = user_id(&app, "jane@example.org", Role::Depositor).await?;
            notify(&app, vec![jane], comment_notice()).await?;
            let rows = outbox_rows(&app).await?;
            let id = rows.first().ok_or("no outbox row")?.id;
            // As if every attempt but the last had already failed.
            let max = <holdfast::mail::DeliverMail as holdfast::jobs::Job>::MAX_ATTEMPTS;
            app.archive
                .db
                .run(move |conn| {
                    diesel::update(outbox::table.find(id))
                        .set(outbox::attempts.eq(max - 1))
                        .execute(conn)?;
                    Ok(())
                })
                .await?;
            holdfast::jobs::run_pending_now(&app.archive).await?;
            let rows = outbox_rows(&app).await?;
            assert_eq!(rows[0].state, "failed", "{:?}", rows[0]);
            assert_eq!(rows[0].attempts, max);
            assert!(rows[0].last_error.as_deref().unwrap_or("").contains("SMTP"));
            assert_eq!(rows[0].sent_at, None);
            // A later run of the job leaves a failed message alone.
            holdfast::mail::deliver(&app.archive.postman(), id).await?;
            assert_eq!(outbox_rows(&app).await?[0].attempts, max);
            Ok::<(), Error>(())
        };
        journey.await.map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}
