//! The `holdfast` command line, run as a real process against the test archive.

use crate::helpers::*;
use reqwest::StatusCode;
use std::io::Write;
use std::process::{Command, Stdio};

fn holdfast(app: &TestApp) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_holdfast"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOLDFAST_DATA_DIR", &app.data_dir)
        .env("HOLDFAST_DATABASE_URL", &app.archive.settings.database_url)
        .env("HOLDFAST_LOG", "warn");
    cmd
}

#[actix_web::test]
async fn help_documents_every_setting() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .arg("--help")
        .output()?;
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
async fn users_and_tokens_are_managed_from_the_command_line() -> TestResult {
    on_each_backend(|app| async move {
        // A generated password is printed, and nothing else on stdout.
        let out = holdfast(&app)
            .args([
                "user",
                "add",
                "--email",
                "cura@example.org",
                "--name",
                "Cura Tor",
                "--role",
                "curator",
            ])
            .output()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout)?;
        let password = stdout.trim();
        assert_eq!(stdout.lines().count(), 1);
        assert!(password.len() >= 16);
        let browser = app.browser();
        browser.sign_in("cura@example.org", password).await?;
        assert_eq!(
            browser.get("/curation").await?.status(),
            StatusCode::OK,
            "a curator sees the queue"
        );

        // --password-stdin
        let mut child = holdfast(&app)
            .args([
                "user",
                "add",
                "--email",
                "pi@example.org",
                "--name",
                "P I",
                "--role",
                "depositor",
                "--password-stdin",
            ])
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

        // A duplicate or a bad role is refused with a message and a failure code.
        let out = holdfast(&app)
            .args([
                "user",
                "add",
                "--email",
                "pi@example.org",
                "--name",
                "Again",
            ])
            .output()?;
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
        let out = holdfast(&app)
            .args([
                "user",
                "role",
                "--email",
                "pi@example.org",
                "--role",
                "king",
            ])
            .output()?;
        assert!(!out.status.success());

        let out = holdfast(&app)
            .args([
                "user",
                "role",
                "--email",
                "pi@example.org",
                "--role",
                "admin",
            ])
            .output()?;
        assert!(out.status.success());
        let role = app
            .archive
            .db
            .run(|conn| holdfast::accounts::users::find_by_email(conn, "pi@example.org"))
            .await?
            .ok_or("pi")?
            .role;
        assert_eq!(role, holdfast::accounts::Role::Admin);

        // token create prints the token and nothing else.
        let out = holdfast(&app)
            .args(["token", "create", "--email", "pi@example.org"])
            .output()?;
        assert!(out.status.success());
        let token = String::from_utf8(out.stdout)?.trim().to_string();
        assert!(token.starts_with("hf_") && !token.contains(char::is_whitespace));
        let r = app
            .client()
            .get(app.url("/api/datasets"))
            .bearer_auth(&token)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let out = holdfast(&app)
            .args(["token", "create", "--email", "nobody@example.org"])
            .output()?;
        assert!(!out.status.success());
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn serve_runs_migrations_and_answers_healthz() -> TestResult {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .arg("serve")
        .env("HOLDFAST_DATA_DIR", dir.path().join("data"))
        .env("HOLDFAST_BIND", format!("127.0.0.1:{port}"))
        .env("HOLDFAST_LOG", "warn")
        .env_remove("HOLDFAST_DATABASE_URL")
        .spawn()?;
    let client = crate::helpers::fresh_client();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            ready = r.status() == StatusCode::OK;
            if ready {
                break;
            }
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let home = client.get(format!("http://127.0.0.1:{port}/")).send().await;
    child.kill()?;
    child.wait()?;
    assert!(ready, "holdfast serve answered /healthz");
    assert_eq!(home?.status(), StatusCode::OK);
    assert!(
        dir.path().join("data/holdfast.db").exists(),
        "SQLite database under the data dir"
    );
    assert!(
        dir.path().join("data/ocfl/0=ocfl_1.1").exists(),
        "OCFL root under the data dir"
    );
    Ok(())
}
