//! Sign up, sign in, sign out, roles, API tokens.

use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;

#[actix_web::test]
async fn a_visitor_signs_up_signs_out_and_signs_in_again() -> TestResult {
    on_each_backend(|app| async move {
        let browser = app.browser();
        browser
            .sign_up("Ada Lovelace", "ada@example.org", "analytical engine")
            .await?;
        let (status, html) = browser.get_text("/datasets/mine").await?;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Ada Lovelace"), "signed-in name shown");

        // The session cookie is HttpOnly and SameSite=Lax.
        let r = browser
            .post_form(
                "/signin",
                "/signin",
                &[
                    ("email", "ada@example.org"),
                    ("password", "analytical engine"),
                ],
            )
            .await?;
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("hf_session="))
            .ok_or("no session cookie")?
            .to_string();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");

        let r = browser.post_form("/datasets/mine", "/signout", &[]).await?;
        expect_redirect(&r, "/")?;
        let r = browser.get("/datasets/mine").await?;
        expect_redirect(&r, "/signin?next=%2Fdatasets%2Fmine")?;

        browser
            .sign_in("ADA@example.org ", "analytical engine")
            .await?;
        assert_eq!(
            browser.get("/datasets/mine").await?.status(),
            StatusCode::OK
        );
        Ok(())
    })
    .await
}

/// Signing in gives the browser a new CSRF token: one planted in it before (or read by
/// whoever used it last) no longer sends forms. Pages read while signed in are not kept
/// by any cache.
#[actix_web::test]
async fn signing_in_rotates_the_form_token_and_private_pages_are_not_cached() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let browser = app.browser();
        let before = browser.csrf("/signin").await?;
        browser
            .sign_in(&users.depositor.email, &users.depositor.password)
            .await?;
        let after = browser.csrf("/datasets/mine").await?;
        assert_ne!(before, after, "a new token at sign-in");
        let stale = [("csrf_token", before.as_str())];
        let r = browser
            .client
            .post(browser.url("/signout"))
            .form(&stale)
            .send()
            .await?;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "the old token sends nothing"
        );
        assert_eq!(
            browser.get("/datasets/mine").await?.status(),
            StatusCode::OK,
            "still signed in"
        );

        let r = browser.get("/datasets/mine").await?;
        let cache = r
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok());
        assert!(cache.is_some_and(|c| c.contains("no-store")), "{cache:?}");
        let r = browser.post_form("/datasets/mine", "/signout", &[]).await?;
        expect_redirect(&r, "/")?;
        assert_ne!(
            browser.csrf("/signin").await?,
            after,
            "and again at sign-out"
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn sign_up_errors_show_next_to_fields_and_keep_what_was_typed() -> TestResult {
    on_each_backend(|app| async move {
        let browser = app.browser();
        let r = browser
            .post_form(
                "/signup",
                "/signup",
                &[
                    ("name", "Grace Hopper"),
                    ("email", "not-an-email"),
                    ("password", "short"),
                ],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await?;
        assert!(html.contains(r#"id="email-error""#), "email error shown");
        assert!(
            html.contains(r#"id="password-error""#),
            "password error shown"
        );
        assert!(html.contains(r#"value="Grace Hopper""#), "name kept");
        assert!(html.contains(r#"value="not-an-email""#), "email kept");

        browser
            .sign_up("Grace Hopper", "grace@example.org", "compiler compiler")
            .await?;
        let other = app.browser();
        let r = other
            .post_form(
                "/signup",
                "/signup",
                &[
                    ("name", "Someone"),
                    ("email", "grace@example.org"),
                    ("password", "another password"),
                ],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await?.contains("already exists"));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn repeated_failed_sign_ins_are_throttled() -> TestResult {
    on_each_backend(|app| async move {
        let password = app
            .new_user("bob@example.org", Role::Depositor)
            .await?
            .password;
        let browser = app.browser();
        for _ in 0..5 {
            let r = browser
                .post_form(
                    "/signin",
                    "/signin",
                    &[
                        ("email", "bob@example.org"),
                        ("password", "wrong password!"),
                    ],
                )
                .await?;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        // Even the right password is refused while sign-in is paused.
        let r = browser
            .post_form(
                "/signin",
                "/signin",
                &[("email", "bob@example.org"), ("password", &password)],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.text().await?.contains("too many failed sign-ins"));

        // The owner, elsewhere, is not locked out by a stranger's guesses.
        let owner = Browser::from_address(&app.base, "127.0.0.3".parse()?);
        owner.sign_in("bob@example.org", &password).await?;

        // Forty guesses at once from one more address: at most five are checked.
        let crowd = Browser::from_address(&app.base, "127.0.0.4".parse()?);
        let token = crowd.csrf("/signin").await?;
        let guesses = (0..40).map(|i| {
            let (crowd, token) = (&crowd, &token);
            async move {
                let guess = format!("guess number {i}");
                let form = [
                    ("csrf_token", token.as_str()),
                    ("email", "bob@example.org"),
                    ("password", guess.as_str()),
                ];
                let r = crowd
                    .client
                    .post(crowd.url("/signin"))
                    .form(&form)
                    .send()
                    .await?;
                Ok::<_, Error>(r.status())
            }
        });
        let statuses = futures_util::future::join_all(guesses).await;
        let mut checked = 0;
        for status in statuses {
            match status? {
                StatusCode::UNAUTHORIZED => checked += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => return Err(format!("a guess got {other}").into()),
            }
        }
        assert!((1..=5).contains(&checked), "{checked} guesses were checked");
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn an_admin_lists_users_and_changes_roles() -> TestResult {
    on_each_backend(|app| async move {
        let admin_pw = app
            .new_user("root@example.org", Role::Admin)
            .await?
            .password;
        app.new_user("pi@example.org", Role::Depositor).await?;
        let admin = app.browser();
        admin.sign_in("root@example.org", &admin_pw).await?;
        let (status, html) = admin.get_text("/admin/users").await?;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("pi@example.org"));

        let pi_id = app
            .archive
            .db
            .run(|conn| holdfast::accounts::users::find_by_email(conn, "pi@example.org"))
            .await?
            .ok_or("pi missing")?
            .id;
        let r = admin
            .post_form(
                "/admin/users",
                &format!("/admin/users/{pi_id}/role"),
                &[("role", "curator")],
            )
            .await?;
        expect_redirect(&r, "/admin/users")?;
        let role = app
            .archive
            .db
            .run(move |conn| holdfast::accounts::users::find_by_id(conn, pi_id))
            .await?
            .role;
        assert_eq!(role, Role::Curator);

        // A depositor cannot reach the admin page nor change roles.
        let dep_pw = app
            .new_user("dep@example.org", Role::Depositor)
            .await?
            .password;
        let dep = app.browser();
        dep.sign_in("dep@example.org", &dep_pw).await?;
        assert_eq!(
            dep.get("/admin/users").await?.status(),
            StatusCode::FORBIDDEN
        );
        let r = dep
            .post_form(
                "/datasets/mine",
                &format!("/admin/users/{pi_id}/role"),
                &[("role", "admin")],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn api_tokens_are_created_used_and_revoked_on_the_profile_page() -> TestResult {
    on_each_backend(|app| async move {
        let browser = app.browser();
        browser
            .sign_up("Token User", "tok@example.org", "token user password")
            .await?;
        let r = browser
            .post_form("/profile", "/profile/tokens", &[("label", "upload script")])
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await?;
        let token = regex::Regex::new(r#"<pre id="new-token">([^<]+)</pre>"#)?
            .captures(&html)
            .ok_or("token not shown")?[1]
            .to_string();
        assert!(token.starts_with("hf_"));

        // Only a hash is stored.
        let stored: Vec<String> = app
            .archive
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::api_tokens;
                Ok(api_tokens::table
                    .select(api_tokens::token_hash)
                    .load(conn)?)
            })
            .await?;
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], token);
        assert!(!stored[0].contains(&token));

        let client = app.client();
        let r = client
            .get(app.url("/api/datasets"))
            .bearer_auth(&token)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);

        let token_id: i64 = app
            .archive
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::api_tokens;
                Ok(api_tokens::table.select(api_tokens::id).first(conn)?)
            })
            .await?;
        let r = browser
            .post_form(
                "/profile",
                &format!("/profile/tokens/{token_id}/revoke"),
                &[],
            )
            .await?;
        expect_redirect(&r, "/profile")?;
        let r = client
            .get(app.url("/api/datasets"))
            .bearer_auth(&token)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn healthz_answers_ok_when_ready() -> TestResult {
    on_each_backend(|app| async move {
        let probe = || async {
            let r = app.client().get(app.url("/healthz")).send().await?;
            Ok::<_, Error>(r.status())
        };
        assert_eq!(probe().await?, StatusCode::OK);
        // Thirty probes at once, as load balancers send them: every one answers ok.
        let answers = futures_util::future::join_all((0..30).map(|_| probe())).await;
        for a in answers {
            assert_eq!(a?, StatusCode::OK);
        }
        // Storage that cannot be written makes the archive not ready (answers are
        // shared for a second, so within a second).
        let staging = app.data_dir.join("staging");
        std::fs::remove_dir_all(&staging)?;
        std::fs::write(&staging, b"not a folder")?;
        eventually("/healthz to see staging broken", || async {
            let status = probe().await?;
            Ok(wait::check(
                status == StatusCode::SERVICE_UNAVAILABLE,
                status,
            ))
        })
        .await?;
        std::fs::remove_file(&staging)?;
        std::fs::create_dir(&staging)?;
        eventually("/healthz to see staging back", || async {
            let status = probe().await?;
            Ok(wait::check(status == StatusCode::OK, status))
        })
        .await?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_link_followed_while_signed_out_lands_on_its_page_after_signing_in() -> TestResult {
    on_each_backend(|app| async move {
        let browser = app.browser();
        browser
            .sign_up("Grace Hopper", "grace@example.org", "compiler first")
            .await?;
        browser.post_form("/datasets/mine", "/signout", &[]).await?;

        // A link from an email: the page asks to sign in and remembers the way back.
        let r = browser.get("/profile?tab=tokens").await?;
        let to = expect_redirect_prefix(&r, "/signin?next=")?;
        assert_eq!(to, "/signin?next=%2Fprofile%3Ftab%3Dtokens");
        let (_, html) = browser.get_text(&to).await?;
        assert!(
            html.contains(r#"name="next" value="/profile?tab=tokens""#),
            "{html}"
        );
        let fields = [
            ("email", "grace@example.org"),
            ("password", "compiler first"),
            ("next", "/profile?tab=tokens"),
        ];
        let r = browser.post_form(&to, "/signin", &fields).await?;
        expect_redirect(&r, "/profile?tab=tokens")?;

        // Only this archive's own paths are followed.
        browser.post_form("/profile", "/signout", &[]).await?;
        for elsewhere in [
            "//evil.example/x",
            "https://evil.example/",
            "/\\evil.example",
            "/a\r\nSet-Cookie: x=1",
            "/\t/evil.example",
        ] {
            let fields = [
                ("email", "grace@example.org"),
                ("password", "compiler first"),
                ("next", elsewhere),
            ];
            let r = browser.post_form("/signin", "/signin", &fields).await?;
            expect_redirect(&r, "/datasets/mine")?;
            browser.post_form("/datasets/mine", "/signout", &[]).await?;
        }
        // A form posted while signed out goes to sign in without a way back.
        let token = browser.csrf("/signin").await?;
        let r = browser
            .client
            .post(app.url("/profile/tokens"))
            .form(&[("csrf_token", token.as_str()), ("name", "x")])
            .send()
            .await?;
        expect_redirect(&r, "/signin")?;
        Ok(())
    })
    .await
}
