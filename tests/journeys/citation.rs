//! A published dataset can be cited and read by machines: citation styles, export
//! formats, and schema.org JSON-LD on the landing page.

use crate::support::fixtures::XY_CSV;
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::{header, StatusCode};

/// A published dataset with a creator with diacritics and an ORCID, an organisation,
/// a place, and markup in its title; its id and DOI.
async fn published_dataset(app: &TestApp) -> Result<(i64, String), Error> {
    let users = app.users().await?;
    let dep = app.api(&users.depositor.token);
    let mut metadata = minimal_json("Harvard Forest fluxes <2019> & more");
    metadata["creators"] = serde_json::json!([
        {"name": "Müller, Jörg", "nameType": "Personal", "givenName": "Jörg", "familyName": "Müller",
         "nameIdentifiers": [{"nameIdentifier": "0000-0002-1825-0097", "nameIdentifierScheme": "ORCID"}]},
        {"name": "Harvard Forest LTER", "nameType": "Organizational"}
    ]);
    metadata["geoLocations"] = serde_json::json!([{"geoLocationPlace": "Petersham", "geoLocationPoint": {"pointLatitude": 42.53, "pointLongitude": -72.17}}]);
    let id = dep.create_dataset(&metadata).await?["id"]
        .as_i64()
        .ok_or("id")?;
    dep.put_file(id, "data/a.csv", XY_CSV).await?;
    let published = app
        .publish(&dep, &app.api(&users.curator.token), id)
        .await?;
    let doi = published["doi"].as_str().ok_or("doi")?.to_string();
    Ok((id, doi))
}

#[actix_web::test]
async fn the_landing_page_offers_citation_styles_and_embeds_json_ld() -> TestResult {
    on_each_backend(|app| async move {
        let (id, doi) = published_dataset(&app).await?;
        let client = app.client();
        let html = client
            .get(app.url(&format!("/datasets/{id}")))
            .send()
            .await?
            .text()
            .await?;
        let script =
            regex::Regex::new(r#"(?s)<script type="application/ld\+json">(.*?)</script>"#)?
                .captures(&html)
                .ok_or("no JSON-LD on the landing page")?[1]
                .to_string();
        assert!(
            !script.contains("<2019>"),
            "angle brackets escaped inside the script element"
        );
        let ld: serde_json::Value = serde_json::from_str(&script)?;
        assert_eq!(ld["@type"], "Dataset");
        assert_eq!(ld["name"], "Harvard Forest fluxes <2019> & more");
        assert!(ld.to_string().contains(&doi), "JSON-LD names the DOI");
        assert!(
            ld["distribution"].to_string().contains("/files/data/a.csv"),
            "JSON-LD lists the file"
        );

        let apa = regex::Regex::new(r#"<p id="citation">([^<]*)</p>"#)?
            .captures(&html)
            .ok_or("no citation")?[1]
            .to_string();
        assert!(
            apa.contains("[Data set]") && apa.contains("Müller, J."),
            "APA: {apa}"
        );
        let other = client
            .get(app.url(&format!("/datasets/{id}?style=chicago")))
            .send()
            .await?
            .text()
            .await?;
        let chicago = regex::Regex::new(r#"<p id="citation">([^<]*)</p>"#)?
            .captures(&other)
            .ok_or("no citation")?[1]
            .to_string();
        assert_ne!(apa, chicago, "the style switcher changes the citation");
        assert!(chicago.contains(&doi));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn every_export_format_is_served_and_datacite_xml_validates() -> TestResult {
    on_each_backend(|app| async move {
        let (id, doi) = published_dataset(&app).await?;
        let client = app.client();
        let fetch = |format: &str| {
            client
                .get(app.url(&format!("/datasets/{id}/versions/1/export/{format}")))
                .send()
        };

        let r = fetch("bibtex").await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()?
            .starts_with("application/x-bibtex"));
        let bib = r.text().await?;
        assert!(bib.starts_with('@') && bib.contains(&doi), "{bib}");

        let ris = fetch("ris").await?.text().await?;
        assert!(
            ris.contains("TY  - DATA") && ris.contains("ER  - "),
            "{ris}"
        );

        let csl: serde_json::Value = fetch("csl-json").await?.json().await?;
        assert_eq!(csl["DOI"], doi.as_str());
        assert_eq!(csl["type"], "dataset");

        let dc: serde_json::Value = fetch("datacite-json").await?.json().await?;
        assert_eq!(dc["doi"], doi.as_str());

        let r = fetch("datacite-xml").await?;
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/vnd.datacite.datacite+xml"
        );
        let xml = r.text().await?;
        validate_datacite_xml(&xml)?;

        // The latest version's exports, and unknown formats or drafts: not found.
        assert_eq!(
            client
                .get(app.url(&format!("/datasets/{id}/export/json-ld")))
                .send()
                .await?
                .status(),
            StatusCode::OK
        );
        assert_eq!(fetch("pdf").await?.status(), StatusCode::NOT_FOUND);
        let dep = app
            .new_user("dep2@example.org", Role::Depositor)
            .await?
            .token;
        let draft = app.api(&dep).create_draft("Draft").await?;
        let r = client
            .get(app.url(&format!("/datasets/{draft}/export/bibtex")))
            .bearer_auth(&dep)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        Ok(())
    })
    .await
}

/// The `Vary` header of an answer.
fn vary(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get(header::VARY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Each citation and metadata format, asked for by `Accept`, names the DOI.
async fn the_doi_answers_in_every_citation_format(app: &TestApp, doi: &str) -> TestResult {
    let client = app.client();
    for media in [
        "text/x-bibliography",
        "text/x-bibliography; style=harvard-cite-them-right; locale=en-GB",
        "application/vnd.citationstyles.csl+json",
        "application/x-bibtex",
        "application/x-research-info-systems",
        "application/vnd.datacite.datacite+xml",
        "application/vnd.datacite.datacite+json",
        "application/ld+json",
    ] {
        let r = client
            .get(app.url(&format!("/doi/{doi}")))
            .header(header::ACCEPT, media)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK, "{media}");
        let essence = media.split(';').next().unwrap_or(media);
        assert!(
            r.headers()[header::CONTENT_TYPE]
                .to_str()?
                .starts_with(essence),
            "{media}"
        );
        assert_eq!(vary(&r).as_deref(), Some("Accept"), "{media}");
        assert!(r.text().await?.contains(doi), "{media} names the DOI");
    }
    Ok(())
}

#[actix_web::test]
async fn dois_resolve_by_content_negotiation() -> TestResult {
    on_each_backend(|app| async move {
        let (id, doi) = published_dataset(&app).await?;
        let client = app.client();
        let r = client
            .get(app.url(&format!("/doi/{doi}")))
            .header(header::ACCEPT, "text/html,*/*;q=0.8")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(
            location(&r).as_deref(),
            Some(format!("/datasets/{id}/versions/1").as_str())
        );
        assert_eq!(vary(&r).as_deref(), Some("Accept"), "a negotiated redirect");
        // DOIs are case-insensitive.
        let r = client
            .get(app.url(&format!("/doi/{}", doi.to_uppercase())))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FOUND);

        the_doi_answers_in_every_citation_format(&app, &doi).await?;

        // The concept DOI resolves to the dataset's latest version.
        let concept = app
            .archive
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use holdfast::db::schema::datasets;
                Ok(datasets::table
                    .find(id)
                    .select(datasets::concept_doi.assume_not_null())
                    .first::<String>(conn)?)
            })
            .await?;
        let r = client
            .get(app.url(&format!("/doi/{concept}")))
            .send()
            .await?;
        assert_eq!(
            location(&r).as_deref(),
            Some(format!("/datasets/{id}").as_str())
        );
        assert_eq!(
            client
                .get(app.url("/doi/10.5072/none-such"))
                .send()
                .await?
                .status(),
            StatusCode::NOT_FOUND
        );
        Ok(())
    })
    .await
}
