use super::transport::{build_message, eml_name, write_atomically, Envelope};
use super::*;
use crate::config::smtp::validate_settings;
use crate::config::SettingsArgs;

fn settings() -> Settings {
    let args = SettingsArgs {
        base_url: Some("https://data.example.org/".into()),
        site_name: Some("Flux Archive".into()),
        ..Default::default()
    };
    Settings::load(&args).expect("default settings load")
}

fn notice(lines: Vec<&str>) -> Notice {
    Notice {
        kind: NotificationKind::NewComment,
        subject: "New comment on \"US-Ha1 fluxes\"".into(),
        headline: "Cura Tor commented on ticket #5.\r\nPlease answer.".into(),
        lines: lines.into_iter().map(String::from).collect(),
        link_path: "/tickets/5".into(),
    }
}

/// Undoes HTML escaping, whichever entity style the template engine uses.
fn unescape(html: &str) -> String {
    [
        ("&lt;", "<"),
        ("&#60;", "<"),
        ("&gt;", ">"),
        ("&#62;", ">"),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&amp;", "&"),
        ("&#38;", "&"),
    ]
    .iter()
    .fold(html.to_string(), |s, (from, to)| s.replace(from, to))
}

#[test]
fn plain_smtp_url() {
    let c = SmtpConfig::parse("smtp://127.0.0.1:2525").expect("parses");
    assert_eq!(c.host, "127.0.0.1");
    assert_eq!(c.port, 2525);
    assert_eq!(c.security, SmtpSecurity::Plain);
    assert_eq!(c.credentials, None);
    assert_eq!(
        SmtpConfig::parse("smtp://relay.internal").map(|c| c.port),
        Ok(25)
    );
}

#[test]
fn starttls_url_with_encoded_credentials() {
    let c = SmtpConfig::parse(
        "smtp://archive%40example.org:p%40ss:w0rd@mail.example.org:587?tls=starttls",
    )
    .expect("parses");
    assert_eq!(c.host, "mail.example.org");
    assert_eq!(c.port, 587);
    assert_eq!(c.security, SmtpSecurity::StartTls);
    assert_eq!(
        c.credentials,
        Some(("archive@example.org".into(), "p@ss:w0rd".into()))
    );
    // lettre's own spelling is accepted too; the port defaults to submission.
    let c = SmtpConfig::parse("smtp://u:p@mail.example.org?tls=required").expect("parses");
    assert_eq!((c.security, c.port), (SmtpSecurity::StartTls, 587));
}

#[test]
fn implicit_tls_url() {
    let c = SmtpConfig::parse("smtps://u:p@mail.example.org").expect("parses");
    assert_eq!((c.security, c.port), (SmtpSecurity::Implicit, 465));
    let c = SmtpConfig::parse("smtps://u:p@mail.example.org:2465").expect("parses");
    assert_eq!(c.port, 2465);
    let c = SmtpConfig::parse("smtp://[::1]:2525").expect("parses");
    assert_eq!(c.host, "::1");
    assert_eq!(c.describe(), "smtp://[::1]:2525");
}

#[test]
fn bad_urls_are_refused_without_showing_the_password() {
    for bad in [
        "http://mail.example.org",
        "mail.example.org:25",
        "smtp://",
        "smtp://u:secret@mail.example.org?tls=maybe",
        "smtp://u:secret@mail.example.org?tsl=starttls",
        "smtps://u:secret@mail.example.org?tls=starttls",
        "smtp://u:secret@mail.example.org/relay",
        "smtp://onlyuser@mail.example.org",
        "smtp://u:secret@mail.example.org?tls=starttls&tls=none",
        "not a url at all",
        "smtp://u:se/cret@mail.example.org",
        "smtp://u:se?cret@mail.example.org",
        "smtp://u:se#cret@mail.example.org",
    ] {
        let err = SmtpConfig::parse(bad).expect_err(bad);
        assert!(!err.contains("cret"), "{bad}: {err}");
        assert!(!err.is_empty());
    }
    let err = SmtpConfig::parse("ftp://u:secret@host").expect_err("ftp");
    assert!(
        err.contains("smtps://"),
        "the message shows the accepted forms: {err}"
    );
}

#[test]
fn describe_hides_the_password() {
    let c = SmtpConfig::parse("smtp://me:hunter2@mail.example.org?tls=starttls").expect("parses");
    assert_eq!(
        c.describe(),
        "smtp://me:***@mail.example.org:587?tls=starttls"
    );
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn settings_refuse_bad_mail_settings_at_start() {
    assert!(validate_settings(Some("smtp://127.0.0.1:25"), "archive@example.org").is_ok());
    assert!(validate_settings(None, "Flux Archive <archive@example.org>").is_ok());
    assert!(validate_settings(None, "holdfast@localhost").is_ok());
    assert!(validate_settings(Some("smtp:/oops"), "archive@example.org").is_err());
    assert!(validate_settings(None, "not an address").is_err());
    let args = SettingsArgs {
        smtp_url: Some("smtp://mail.example.org?tls=yes".into()),
        ..Default::default()
    };
    let err = Settings::load(&args)
        .expect_err("bad url refused")
        .to_string();
    assert!(err.contains("HOLDFAST_SMTP_URL"), "{err}");
}

#[test]
fn kinds_round_trip() {
    for k in NotificationKind::ALL {
        assert_eq!(NotificationKind::parse(k.as_str()), Some(k));
        assert!(!k.label().is_empty());
    }
    assert_eq!(NotificationKind::parse("nope"), None);
}

#[test]
fn rendering_escapes_lines_in_html_and_keeps_them_in_text() {
    let r = render::render(
        &settings(),
        &notice(vec![
            "Comment: <script>alert('x')</script> & \"quotes\"",
            "  ",
            "File: data/US-Ha1.csv",
        ]),
    )
    .expect("renders");
    assert_eq!(r.subject, "[Flux Archive] New comment on \"US-Ha1 fluxes\"");
    // Text: the raw words, the full link, the footer.
    assert!(r.text.starts_with("Flux Archive\n\n"), "{}", r.text);
    assert!(r
        .text
        .contains("Cura Tor commented on ticket #5. Please answer."));
    assert!(r
        .text
        .contains("Comment: <script>alert('x')</script> & \"quotes\"\n\nFile: data/US-Ha1.csv"));
    assert!(r
        .text
        .contains("Open it here: https://data.example.org/tickets/5\n"));
    assert!(r
        .text
        .contains("https://data.example.org/profile#notifications"));
    assert!(r.text.contains(NotificationKind::NewComment.label()));
    assert!(!r.text.contains("&amp;") && !r.text.contains("&lt;"));
    // HTML: the same words, escaped; no markup from the line got through.
    assert!(!r.html.contains("<script>"), "{}", r.html);
    assert!(unescape(&r.html)
        .contains("<p style=\"margin:0 0 12px;white-space:pre-line;\">Comment: <script>alert('x')</script> & \"quotes\"</p>"));
    assert!(
        r.html
            .contains("href=\"https://data.example.org/tickets/5\""),
        "{}",
        r.html
    );
    assert!(r.html.contains("Notifications on your profile page"));
    // The blank line was dropped, not rendered as an empty paragraph.
    assert_eq!(r.html.matches("<p style=\"margin:0 0 12px;").count(), 2);
}

#[test]
fn message_has_the_headers_and_both_parts() {
    let r = render::render(&settings(), &notice(vec!["Résumé: naïve <b>"])).expect("renders");
    let created = chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
        .and_then(|d| d.and_hms_micro_opt(10, 15, 30, 123_456))
        .expect("date");
    let from = "Flux Archive <archive@example.org>".parse().expect("from");
    let message = build_message(
        &from,
        &Envelope {
            id: 42,
            to: "jane@example.org",
            subject: &r.subject,
            text: &r.text,
            html: &r.html,
            created_at: created,
        },
    )
    .expect("builds");
    let bytes = message.formatted();
    let parsed = mail_parser::MessageParser::default()
        .parse(&bytes)
        .expect("parses");
    assert_eq!(parsed.subject(), Some(r.subject.as_str()));
    let from = parsed.from().and_then(|a| a.first()).expect("from");
    assert_eq!(from.address(), Some("archive@example.org"));
    assert_eq!(from.name(), Some("Flux Archive"));
    let to = parsed.to().and_then(|a| a.first()).expect("to");
    assert_eq!(to.address(), Some("jane@example.org"));
    assert_eq!(
        parsed.message_id(),
        Some(
            format!(
                "holdfast.42.{}@example.org",
                created.and_utc().timestamp_micros()
            )
            .as_str()
        )
    );
    let date = parsed.date().expect("date");
    assert_eq!(
        (date.year, date.hour, date.minute, date.second),
        (2026, 10, 15, 30)
    );
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    let text = parsed.body_text(0).expect("text");
    assert!(text.contains("Résumé: naïve <b>"), "{text}");
    let html = parsed.body_html(0).expect("html");
    assert!(!html.contains("<b>"), "{html}");
    assert!(unescape(&html).contains("Résumé: naïve <b>"), "{html}");
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains("multipart/alternative"));
    // A bad recipient is refused with a clear error rather than sent.
    let err = build_message(
        &"a@example.org".parse().expect("from"),
        &Envelope {
            id: 1,
            to: "not an address",
            subject: "s",
            text: "t",
            html: "h",
            created_at: created,
        },
    )
    .expect_err("bad to");
    assert!(err.contains("not an address"));
}

#[test]
fn eml_files_are_written_whole_and_sort_by_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t1 = chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
        .and_then(|d| d.and_hms_micro_opt(3, 4, 5, 6))
        .expect("date");
    let t2 = t1 + chrono::Duration::milliseconds(1500);
    let (a, b) = (eml_name(9, t1), eml_name(10, t2));
    assert_eq!(a, "20260102T030405.000006Z-0000000009.eml");
    assert!(a < b);
    write_atomically(dir.path(), &b, b"second").expect("write");
    write_atomically(dir.path(), &a, b"first").expect("write");
    write_atomically(dir.path(), &a, b"first again").expect("rewrite");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec![a.clone(), b]);
    assert_eq!(
        std::fs::read(dir.path().join(&a)).expect("read"),
        b"first again"
    );
}

#[test]
fn preferences_json_is_checked() {
    let ok =
        prefs::parse_json(&serde_json::json!({"comment": false, "ticket": true})).expect("valid");
    assert_eq!(
        ok,
        vec![
            (NotificationKind::NewComment, false),
            (NotificationKind::TicketUpdated, true)
        ]
    );
    match prefs::parse_json(&serde_json::json!({"coment": false, "ticket": "yes"})) {
        Err(DomainError::Invalid(fields)) => {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, vec!["coment", "ticket"]);
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    assert!(prefs::parse_json(&serde_json::json!([true])).is_err());
    let all = NotificationKind::ALL.map(|k| (k, k != NotificationKind::NewComment));
    assert_eq!(
        prefs::to_json(&all),
        serde_json::json!({"ticket": true, "comment": false, "submitted": true, "decision": true, "fixity": true})
    );
}
