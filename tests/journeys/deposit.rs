//! A depositor fills the metadata form, uploads files, replaces and removes them.

use crate::support::fixtures::FLUX_CSV;
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;

/// Jane, a depositor, signed in; her account and browser.
async fn jane(app: &TestApp) -> Result<(User, Browser), Error> {
    let jane = app.new_user("jane@example.org", Role::Depositor).await?;
    let browser = app.signed_in(&jane).await?;
    Ok((jane, browser))
}

#[actix_web::test]
async fn the_metadata_form_creates_a_draft_with_full_datacite_metadata() -> TestResult {
    on_each_backend(|app| async move {
        let (jane, browser) = jane(&app).await?;
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
        let html = browser.page(&format!("/datasets/{id}")).await?;
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
        let json = app.api(&jane.token).dataset(id).await?;
        assert_eq!(json["state"], "draft");
        let creator = &json["creators"][0];
        assert_eq!(
            creator["nameIdentifiers"][0]["nameIdentifier"],
            "https://orcid.org/0000-0002-1825-0097"
        );
        assert_eq!(
            creator["affiliation"][0]["affiliationIdentifier"],
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
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn editing_shows_what_is_stored_and_saves_changes() -> TestResult {
    on_each_backend(|app| async move {
        let (_, browser) = jane(&app).await?;
        let id = browser
            .create_dataset(&minimal_form("Flux tower US-Ha1, 2019"))
            .await?;
        let edit = browser.page(&format!("/datasets/{id}/edit")).await?;
        assert!(edit.contains("value=\"Flux tower US-Ha1, 2019\""));
        let mut changed = minimal_form("Flux tower US-Ha1, 2019 (revised)");
        changed.push(("license", "CC0-1.0"));
        let page = format!("/datasets/{id}/edit");
        let r = browser.post_form(&page, &page, &changed).await?;
        expect_redirect(&r, &format!("/datasets/{id}"))?;
        assert!(browser
            .page(&format!("/datasets/{id}"))
            .await?
            .contains("(revised)"));
        // My datasets lists it with its state.
        let mine = browser.page("/datasets/mine").await?;
        assert!(mine.contains("(revised)") && mine.contains("state-draft"));
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn form_errors_appear_next_to_their_fields_and_typed_values_are_kept() -> TestResult {
    on_each_backend(|app| async move {
        let (_, browser) = jane(&app).await?;
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

/// A draft with files uploaded several at once, into a folder, and from an unpacked
/// zip; (the browser, the draft id).
async fn draft_with_files(app: &TestApp) -> Result<(Browser, i64), Error> {
    let (_, browser) = jane(app).await?;
    let id = browser
        .create_dataset(&minimal_form("Files journey"))
        .await?;
    let two = vec![
        ("README.md".into(), b"# README\n".to_vec()),
        ("fluxes.csv".into(), FLUX_CSV.to_vec()),
    ];
    let r = browser.upload(id, "", false, two).await?;
    expect_redirect(&r, &format!("/datasets/{id}?msg=uploaded"))?;
    let one = vec![("half-hourly.csv".into(), FLUX_CSV.to_vec())];
    let r = browser.upload(id, "data/2019/raw", false, one).await?;
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
    Ok((browser, id))
}

#[actix_web::test]
async fn files_are_uploaded_several_at_once_into_folders_and_unpacked() -> TestResult {
    on_each_backend(|app| async move {
        let (browser, id) = draft_with_files(&app).await?;
        let html = browser.page(&format!("/datasets/{id}")).await?;
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
        assert!(html.contains(&sha256_hex(FLUX_CSV)), "sha256 shown");
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
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_file_is_replaced_and_another_removed_leaving_only_their_bytes_staged() -> TestResult {
    on_each_backend(|app| async move {
        let (browser, id) = draft_with_files(&app).await?;
        // Replacing: same path, new bytes.
        let newer = b"TIMESTAMP,FC\n201901010000,1.6\n".to_vec();
        browser
            .upload(id, "", false, vec![("fluxes.csv".into(), newer.clone())])
            .await?;
        let html = browser.page(&format!("/datasets/{id}")).await?;
        assert!(
            html.contains(&sha256_hex(&newer)),
            "the new sha256 is shown"
        );
        let r = browser
            .get(&format!("/datasets/{id}/files/fluxes.csv"))
            .await?;
        assert_eq!(r.bytes().await?.as_ref(), newer.as_slice());

        // Removing.
        let page = format!("/datasets/{id}");
        let r = browser
            .post_form(
                &page,
                &format!("{page}/files/delete"),
                &[("path", "README.md")],
            )
            .await?;
        expect_redirect(&r, &format!("{page}?msg=removed"))?;
        assert!(!browser.page(&page).await?.contains(">README.md<"));

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
        let owner = app.api(
            &app.new_user("owner@example.org", Role::Depositor)
                .await?
                .token,
        );
        let other = app.new_user("other@example.org", Role::Depositor).await?;
        let curator = app.api(
            &app.new_user("curator@example.org", Role::Curator)
                .await?
                .token,
        );
        let id = owner.create_draft("Secret draft").await?;
        owner.put_file(id, "a.csv", b"x,y\n").await?;

        // Another depositor (API token, or signed in) and the public see nothing.
        let signed_in = app.signed_in(&other).await?;
        let anonymous = app.browser();
        for (who, api, browser) in [
            ("other", app.api(&other.token), &signed_in),
            ("anonymous", app.public_api(), &anonymous),
        ] {
            assert_eq!(
                api.get(&format!("/api/datasets/{id}")).await?.status,
                StatusCode::NOT_FOUND,
                "{who}: API"
            );
            let page = browser.get(&format!("/datasets/{id}")).await?;
            assert_eq!(page.status(), StatusCode::NOT_FOUND, "{who}: page");
            let file = browser.get(&format!("/datasets/{id}/files/a.csv")).await?;
            assert_eq!(file.status(), StatusCode::NOT_FOUND, "{who}: download");
        }
        // Another depositor cannot change it either, and learns nothing.
        let other = app.api(&other.token);
        assert_eq!(
            other.put_file_answer(id, "b.csv", b"z").await?.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            other.delete_file(id, "a.csv").await?.status,
            StatusCode::NOT_FOUND
        );
        let r = other
            .post(
                &format!("/api/datasets/{id}/submit"),
                &serde_json::json!({}),
            )
            .await?;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // A curator sees it.
        let json = curator.dataset(id).await?;
        assert_eq!(json["files"].as_array().map(|a| a.len()), Some(1));
        Ok(())
    })
    .await
}
