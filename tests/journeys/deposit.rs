//! A depositor fills the metadata form, uploads files, replaces and removes them.

use crate::helpers::*;
use reqwest::StatusCode;

#[actix_web::test]
async fn the_metadata_form_creates_and_edits_a_draft_with_full_datacite_metadata() -> TestResult {
    on_each_backend(|app| async move {
        let browser = app.browser();
        browser
            .sign_up("Jane Doe", "jane@example.org", "a fine password")
            .await?;
        let mut fields = minimal_form("Flux tower US-Ha1, 2019");
        fields.extend([
            ("creators[0].orcid", "0000-0002-1825-0097"),
            ("creators[0].affiliation", "Harvard Forest"),
            ("creators[0].affiliationRor", "https://ror.org/02jbv0t02"),
            ("creators[1].name", "Harvard Forest LTER"),
            ("creators[1].nameType", "Organizational"),
            ("subjects", "eddy covariance\ncarbon flux\nforest"),
            (
                "fundingReferences[0].funderName",
                "U.S. Department of Energy",
            ),
            ("fundingReferences[0].awardNumber", "DE-SC0012345"),
            ("dates[0].date", "2019-01-01/2019-12-31"),
            ("dates[0].dateType", "Collected"),
            ("geoLocations[0].place", "Petersham, MA"),
            ("geoLocations[0].pointLatitude", "42.5378"),
            ("geoLocations[0].pointLongitude", "-72.1715"),
            (
                "relatedIdentifiers[0].relatedIdentifier",
                "10.1111/gcb.12345",
            ),
            ("relatedIdentifiers[0].relatedIdentifierType", "DOI"),
            ("relatedIdentifiers[0].relationType", "IsCitedBy"),
        ]);
        let id = browser.create_dataset(&fields).await?;
        let (status, html) = browser.get_text(&format!("/datasets/{id}")).await?;
        assert_eq!(status, StatusCode::OK);
        for expected in [
            "Flux tower US-Ha1, 2019",
            "Harvard Forest LTER",
            "https://orcid.org/0000-0002-1825-0097",
            "carbon flux",
            "DE-SC0012345",
            "Petersham",
            "Draft",
        ] {
            assert!(html.contains(expected), "page shows {expected}");
        }

        // The API shows the same record with DataCite's attribute names.
        let token = {
            let r = browser
                .post_form("/profile", "/profile/tokens", &[("label", "t")])
                .await?;
            let html = r.text().await?;
            regex::Regex::new(r#"<pre id="new-token">([^<]+)</pre>"#)?
                .captures(&html)
                .ok_or("no token")?[1]
                .to_string()
        };
        let json: serde_json::Value = app
            .client()
            .get(app.url(&format!("/api/datasets/{id}")))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(json["state"], "draft");
        assert_eq!(
            json["creators"][0]["nameIdentifiers"][0]["nameIdentifier"],
            "https://orcid.org/0000-0002-1825-0097"
        );
        assert_eq!(
            json["creators"][0]["affiliation"][0]["affiliationIdentifier"],
            "https://ror.org/02jbv0t02"
        );
        assert_eq!(json["types"]["resourceTypeGeneral"], "Dataset");
        assert_eq!(json["rightsList"][0]["rightsIdentifier"], "CC-BY-4.0");
        assert_eq!(
            json["geoLocations"][0]["geoLocationPoint"]["pointLatitude"],
            42.5378
        );
        assert_eq!(json["dates"][0]["dateType"], "Collected");
        assert_eq!(json["fundingReferences"][0]["awardNumber"], "DE-SC0012345");
        assert_eq!(json["relatedIdentifiers"][0]["relationType"], "IsCitedBy");
        assert_eq!(json["subjects"].as_array().map(|a| a.len()), Some(3));

        // Editing shows what is stored and saves changes.
        let (_, edit) = browser.get_text(&format!("/datasets/{id}/edit")).await?;
        assert!(edit.contains("value=\"Flux tower US-Ha1, 2019\""));
        let mut changed = minimal_form("Flux tower US-Ha1, 2019 (revised)");
        changed.push(("license", "CC0-1.0"));
        let r = browser
            .post_form(
                &format!("/datasets/{id}/edit"),
                &format!("/datasets/{id}/edit"),
                &changed,
            )
            .await?;
        expect_redirect(&r, &format!("/datasets/{id}"))?;
        let (_, html) = browser.get_text(&format!("/datasets/{id}")).await?;
        assert!(html.contains("(revised)"));

        // My datasets lists it with its state.
        let (_, mine) = browser.get_text("/datasets/mine").await?;
        assert!(mine.contains("(revised)") && mine.contains("state-draft"));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn form_errors_appear_next_to_their_fields_and_typed_values_are_kept() -> TestResult {
    on_each_backend(|app| async move {
        let browser = app.browser();
        browser
            .sign_up("Jane Doe", "jane@example.org", "a fine password")
            .await?;
        let mut fields = minimal_form("Soil moisture at Niwot Ridge");
        fields.extend([
            ("creators[0].orcid", "0000-0002-1825-0098"),
            ("geoLocations[0].pointLatitude", "91"),
            ("geoLocations[0].pointLongitude", "-105.5"),
            ("geoLocations[1].southBoundLatitude", "41"),
            ("geoLocations[1].northBoundLatitude", "40"),
            ("geoLocations[1].westBoundLongitude", "-106"),
            ("geoLocations[1].eastBoundLongitude", "-105"),
        ]);
        let r = browser
            .post_form("/datasets/new", "/datasets", &fields)
            .await?;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await?;
        assert!(
            html.contains("value=\"Soil moisture at Niwot Ridge\""),
            "title kept"
        );
        assert!(html.contains("value=\"0000-0002-1825-0098\""), "ORCID kept");
        // The ORCID error sits right after the ORCID input.
        let orcid_input = html
            .find("name=\"creators[0].orcid\"")
            .ok_or("no orcid input")?;
        let next_input = html[orcid_input + 10..]
            .find("<input")
            .map(|i| i + orcid_input + 10)
            .unwrap_or(html.len());
        let error_zone = &html[orcid_input..next_input];
        assert!(
            error_zone.contains("field-error") && error_zone.to_lowercase().contains("check"),
            "ORCID error next to the field: {error_zone}"
        );
        let lat = html
            .find("name=\"geoLocations[0].pointLatitude\"")
            .ok_or("no latitude input")?;
        assert!(
            html[lat..lat + 400].contains("field-error"),
            "latitude error next to the field"
        );
        assert!(html.contains("geoLocations[1]"), "box error reported");

        // Nothing was created.
        let (_, mine) = browser.get_text("/datasets/mine").await?;
        assert!(mine.contains("no datasets yet"));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn files_are_uploaded_several_at_once_into_folders_unpacked_replaced_and_removed(
) -> TestResult {
    on_each_backend(|app| async move {
        let browser = app.browser();
        browser
            .sign_up("Jane Doe", "jane@example.org", "a fine password")
            .await?;
        let id = browser
            .create_dataset(&minimal_form("Files journey"))
            .await?;

        let csv = b"TIMESTAMP,FC\n201901010000,1.5\n".to_vec();
        let readme = b"# README\n".to_vec();
        let r = browser
            .upload(
                id,
                "",
                false,
                vec![
                    ("README.md".into(), readme.clone()),
                    ("fluxes.csv".into(), csv.clone()),
                ],
            )
            .await?;
        expect_redirect(&r, &format!("/datasets/{id}?msg=uploaded"))?;

        let r = browser
            .upload(
                id,
                "data/2019/raw",
                false,
                vec![("half-hourly.csv".into(), csv.clone())],
            )
            .await?;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);

        let zip = zip_of(&[
            ("site/met/air temp.csv", b"T\n1\n"),
            ("site/notes é.txt", b"hello"),
            ("__MACOSX/._junk", b"x"),
        ]);
        let r = browser
            .upload(id, "archive", true, vec![("bundle.zip".into(), zip)])
            .await?;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await?);

        let (_, html) = browser.get_text(&format!("/datasets/{id}")).await?;
        for path in [
            "README.md",
            "fluxes.csv",
            "data/2019/raw/half-hourly.csv",
            "archive/site/met/air temp.csv",
            "archive/site/notes é.txt",
        ] {
            assert!(html.contains(path), "page lists {path}");
        }
        assert!(!html.contains("__MACOSX"), "zip junk skipped");
        assert!(
            !html.contains("bundle.zip"),
            "the zip itself is not kept when unpacked"
        );
        assert!(html.contains(&sha256_hex(&csv)), "sha256 shown");
        assert!(html.contains("text/csv"), "media type shown");
        assert!(html.contains("text/markdown"), "media type of README shown");

        // The depositor can download a draft file.
        let r = browser
            .get(&format!(
                "/datasets/{id}/files/archive/site/notes%20%C3%A9.txt"
            ))
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await?.as_ref(), b"hello");

        // Replacing: same path, new bytes.
        let newer = b"TIMESTAMP,FC\n201901010000,1.6\n".to_vec();
        browser
            .upload(id, "", false, vec![("fluxes.csv".into(), newer.clone())])
            .await?;
        let (_, html) = browser.get_text(&format!("/datasets/{id}")).await?;
        assert!(
            html.contains(&sha256_hex(&newer)),
            "the new sha256 is shown"
        );
        let r = browser
            .get(&format!("/datasets/{id}/files/fluxes.csv"))
            .await?;
        assert_eq!(r.bytes().await?.as_ref(), newer.as_slice());

        // Removing.
        let r = browser
            .post_form(
                &format!("/datasets/{id}"),
                &format!("/datasets/{id}/files/delete"),
                &[("path", "README.md")],
            )
            .await?;
        expect_redirect(&r, &format!("/datasets/{id}?msg=removed"))?;
        let (_, html) = browser.get_text(&format!("/datasets/{id}")).await?;
        assert!(!html.contains(">README.md<"));

        // Staging holds exactly the bytes of the draft's files: replaced and removed
        // blobs, and the unpacked zip, are gone.
        let blobs = std::fs::read_dir(app.data_dir.join("staging"))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".blob"))
            .count();
        assert_eq!(
            blobs, 4,
            "fluxes.csv, half-hourly.csv and two unpacked entries"
        );
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn drafts_are_private_to_their_depositor_and_curators() -> TestResult {
    on_each_backend(|app| async move {
        let owner_token = app
            .token_for("owner@example.org", holdfast::accounts::Role::Depositor)
            .await?;
        let other_token = app
            .token_for("other@example.org", holdfast::accounts::Role::Depositor)
            .await?;
        let curator_token = app
            .token_for("curator@example.org", holdfast::accounts::Role::Curator)
            .await?;
        let client = app.client();
        let r = client
            .post(app.url("/api/datasets"))
            .bearer_auth(&owner_token)
            .json(&minimal_json("Secret draft"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::CREATED);
        let id = r.json::<serde_json::Value>().await?["id"]
            .as_i64()
            .ok_or("no id")?;
        client
            .put(app.url(&format!("/api/datasets/{id}/files/a.csv")))
            .bearer_auth(&owner_token)
            .body("x,y\n")
            .send()
            .await?;

        for (who, token) in [("other", Some(&other_token)), ("anonymous", None)] {
            let mut req = client.get(app.url(&format!("/api/datasets/{id}")));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            assert_eq!(
                req.send().await?.status(),
                StatusCode::NOT_FOUND,
                "{who}: API"
            );
            assert_eq!(
                client
                    .get(app.url(&format!("/datasets/{id}")))
                    .send()
                    .await?
                    .status(),
                StatusCode::NOT_FOUND,
                "{who}: page"
            );
            assert_eq!(
                client
                    .get(app.url(&format!("/datasets/{id}/files/a.csv")))
                    .send()
                    .await?
                    .status(),
                StatusCode::NOT_FOUND,
                "{who}: download"
            );
        }
        // Another depositor cannot change it either, and learns nothing.
        let r = client
            .put(app.url(&format!("/api/datasets/{id}/files/b.csv")))
            .bearer_auth(&other_token)
            .body("z")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = client
            .delete(app.url(&format!("/api/datasets/{id}/files/a.csv")))
            .bearer_auth(&other_token)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = client
            .post(app.url(&format!("/api/datasets/{id}/submit")))
            .bearer_auth(&other_token)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // A curator sees it.
        let r = client
            .get(app.url(&format!("/api/datasets/{id}")))
            .bearer_auth(&curator_token)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let json: serde_json::Value = r.json().await?;
        assert_eq!(json["files"].as_array().map(|a| a.len()), Some(1));
        Ok(())
    })
    .await
}
