//! The `holdfast` command line, run as a real process against the test archive.

use crate::support::process::{binary, Home};
use crate::support::*;
use reqwest::StatusCode;
use std::io::Write;
use std::process::{Command, Stdio};

/// The command line on the journey's archive.
fn home(app: &TestApp) -> Home {
    Home::on(app.data_dir.clone(), &app.archive.settings.database_url)
}

#[actix_web::test]
async fn help_documents_every_setting() -> TestResult {
    let out = Command::new(binary()).arg("--help").output()?;
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout)?;
    for setting in [
        "HOLDFAST_BIND",
        "HOLDFAST_DATA_DIR",
        "HOLDFAST_DATABASE_URL",
        "HOLDFAST_BASE_URL",
        "HOLDFAST_MAX_UPLOAD_BYTES",
        "HOLDFAST_CONFIG",
        "serve",
        "user",
        "token",
    ] {
        assert!(help.contains(setting), "--help mentions {setting}");
    }
    Ok(())
}

#[actix_web::test]
async fn an_added_user_gets_a_printed_password_or_the_one_from_stdin() -> TestResult {
    on_each_backend(|app| async move {
        let cli = home(&app);
        // A generated password is printed, and nothing else on stdout.
        let stdout = cli.cli(&[
            "user",
            "add",
            "--email",
            "cura@example.org",
            "--name",
            "Cura Tor",
            "--role",
            "curator",
        ])?;
        assert_eq!(stdout.lines().count(), 1);
        assert!(stdout.len() >= 16);
        let browser = app.browser();
        browser.sign_in("cura@example.org", &stdout).await?;
        assert_eq!(
            browser.get("/curation").await?.status(),
            StatusCode::OK,
            "a curator sees the queue"
        );

        let mut child = cli
            .command()
            .args(["user", "add", "--email", "pi@example.org", "--name", "P I"])
            .args(["--role", "depositor", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .ok_or("stdin")?
            .write_all(b"my chosen password\n")?;
        let out = child.wait_with_output()?;
        assert!(out.status.success());
        assert!(
            out.stdout.is_empty(),
            "no password printed when one was given"
        );
        app.browser()
            .sign_in("pi@example.org", "my chosen password")
            .await?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn roles_are_changed_and_mistakes_refused_from_the_command_line() -> TestResult {
    on_each_backend(|app| async move {
        let cli = home(&app);
        cli.add_user("pi@example.org", "depositor")?;
        // A duplicate or a bad role is refused with a message and a failure code.
        let err = cli.cli_failing(&[
            "user",
            "add",
            "--email",
            "pi@example.org",
            "--name",
            "Again",
        ])?;
        assert!(err.contains("already exists"), "{err}");
        cli.cli_failing(&[
            "user",
            "role",
            "--email",
            "pi@example.org",
            "--role",
            "king",
        ])?;

        cli.cli(&[
            "user",
            "role",
            "--email",
            "pi@example.org",
            "--role",
            "admin",
        ])?;
        let role = app
            .archive
            .db
            .run(|conn| holdfast::accounts::users::find_by_email(conn, "pi@example.org"))
            .await?
            .ok_or("pi")?
            .role;
        assert_eq!(role, holdfast::accounts::Role::Admin);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_token_made_on_the_command_line_opens_the_api() -> TestResult {
    on_each_backend(|app| async move {
        let cli = home(&app);
        cli.add_user("pi@example.org", "depositor")?;
        // token create prints the token and nothing else.
        let token = cli.cli(&["token", "create", "--email", "pi@example.org"])?;
        assert!(token.starts_with("hf_") && !token.contains(char::is_whitespace));
        assert_eq!(
            app.api(&token).get("/api/datasets").await?.status,
            StatusCode::OK
        );
        cli.cli_failing(&["token", "create", "--email", "nobody@example.org"])?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn serve_runs_migrations_and_answers_healthz() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // `serve` answers /healthz once ready, or this fails with its log.
    let server = Home::default_database(data.clone()).serve().await?;
    let home = reqwest::get(server.base() + "/").await?;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(
        data.join("holdfast.db").exists(),
        "SQLite database under the data dir"
    );
    assert!(
        data.join("ocfl/0=ocfl_1.1").exists(),
        "OCFL root under the data dir"
    );
    Ok(())
}
