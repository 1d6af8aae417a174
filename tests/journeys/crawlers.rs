//! A search engine finds every published dataset: `/robots.txt` points to the sitemap
//! index, whose parts list the landing pages of published datasets (and never a draft
//! or a withdrawn one), all valid against the Sitemaps 0.9 schemas.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::checkers::validate_sitemap;
use crate::support::fixtures::FLUX_CSV;
use crate::support::*;

#[actix_web::test]
async fn robots_and_sitemaps_lead_crawlers_to_every_published_dataset() -> TestResult {
    on_each_backend(|app| async move {
        let client = app.client();
        let get = |path: String| {
            let client = client.clone();
            let url = app.url(&path);
            async move {
                let r = client.get(url).send().await?;
                Ok::<_, Error>((r.status(), r.text().await?))
            }
        };
        // Nothing published yet: the index and its one part are still valid.
        let (status, index) = get("/sitemap.xml".into()).await?;
        assert_eq!(status, StatusCode::OK);
        validate_sitemap(&index)?;
        validate_sitemap(&get("/sitemap/0".into()).await?.1)?;

        let users = app.users().await?;
        let files = [("data/flux.csv", FLUX_CSV)];
        let kept = app.published(&users, "Fluxes kept", &files).await?;
        let withdrawn = app.published(&users, "Fluxes withdrawn", &files).await?;
        let draft = app
            .api(&users.depositor.token)
            .create_draft("A draft")
            .await?;
        let reason = json!({"reason": "Withdrawn at the PI's request."});
        app.api(&users.admin.token)
            .post(
                &format!("/api/datasets/{}/deaccession", withdrawn["id"]),
                &reason,
            )
            .await?
            .expect(StatusCode::OK)?;
        app.run_jobs().await?;

        let (status, robots) = get("/robots.txt".into()).await?;
        assert_eq!(status, StatusCode::OK);
        let sitemap_line = format!("Sitemap: {}/sitemap.xml", app.url(""));
        assert!(robots.lines().any(|l| l == sitemap_line), "{robots}");
        assert!(robots.contains("Disallow: /api/"));

        let (_, index) = get("/sitemap.xml".into()).await?;
        validate_sitemap(&index)?;
        let part_url = format!("{}/sitemap/0", app.url(""));
        assert!(index.contains(&format!("<loc>{part_url}</loc>")), "{index}");
        let (_, part) = get("/sitemap/0".into()).await?;
        validate_sitemap(&part)?;
        let landing =
            |id: &serde_json::Value| format!("<loc>{}</loc>", app.url(&format!("/datasets/{id}")));
        assert!(part.contains(&landing(&kept["id"])), "{part}");
        assert!(
            !part.contains(&landing(&withdrawn["id"])),
            "withdrawn: {part}"
        );
        assert!(!part.contains(&landing(&json!(draft))), "a draft: {part}");

        // Parts the index does not list, and nonsense, are not found.
        for path in ["/sitemap/7", "/sitemap/-1", "/sitemap/x"] {
            assert_eq!(get(path.into()).await?.0, StatusCode::NOT_FOUND, "{path}");
        }
        Ok(())
    })
    .await
}
