//! Samples: a PI deposits water chemistry with its sample metadata, locations, methods
//! and terms; the formats' checks find nothing; once published each sample has a page
//! with its metadata, parent and children and the datasets that use it; a second
//! dataset that only links a sample's IGSN appears on that sample's page too; samples
//! are found by ID; their IGSNs are related identifiers in DataCite XML and JSON-LD.

use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

const DATASET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/essdive/dataset");

async fn put_file(app: &TestApp, token: &str, id: i64, name: &str, body: Vec<u8>) -> TestResult {
    let r = app
        .client()
        .put(app.url(&format!("/api/datasets/{id}/files/{name}")))
        .bearer_auth(token)
        .body(body)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED, "{name}");
    Ok(())
}

async fn claim(app: &TestApp, token: &str, id: i64, standards: &[&str]) -> TestResult {
    let r = app
        .client()
        .put(app.url(&format!("/api/datasets/{id}/standards")))
        .bearer_auth(token)
        .json(&json!({ "standards": standards }))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await?);
    Ok(())
}

/// Runs the data standards check of the draft; its report.
async fn checked(app: &TestApp, token: &str, id: i64) -> Result<Value, Error> {
    app.run_jobs().await?;
    app.api(token).validation(id).await
}

/// Findings of the ESS-DIVE standards in a validation report (DataCite's are about the
/// minimal metadata, not the samples).
fn essdive_findings(report: &Value) -> Vec<String> {
    let files = report["files"].as_array().cloned().unwrap_or_default();
    let dataset = report["dataset"].as_array().cloned().unwrap_or_default();
    files
        .iter()
        .flat_map(|f| f["findings"].as_array().cloned().unwrap_or_default())
        .chain(dataset)
        .filter(|f| f["standard"].as_str().is_some_and(|s| s != "datacite"))
        .map(|f| format!("{} {} {}", f["code"], f["file"], f["value"]))
        .collect()
}

#[actix_web::test]
async fn published_samples_have_pages_that_link_back_to_every_dataset() -> TestResult {
    on_each_backend(|app| async move {
        let pi = app.new_user("pi@watershed.org", Role::Depositor).await?.token;
        let curator = app.new_user("cur@archive.org", Role::Curator).await?.token;

        // The water chemistry dataset, every file of it.
        let first = app.api(&pi).create_draft("East River dissolved organic carbon 2019").await?;
        let mut names: Vec<String> = std::fs::read_dir(DATASET)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in &names {
            put_file(&app, &pi, first, name, std::fs::read(format!("{DATASET}/{name}"))?).await?;
        }
        claim(&app, &pi, first, &["essdive-wssc", "essdive-sample", "essdive-location", "essdive-flmd"]).await?;
        let report = checked(&app, &pi, first).await?;
        assert_eq!(report["state"], "done", "{report}");
        assert_eq!(essdive_findings(&report), Vec::<String>::new(), "{report}");
        app.publish(&app.api(&pi), &app.api(&curator), first).await?;

        // A second dataset uses one of those samples by IGSN, linked in its metadata.
        let mut metadata = minimal_json("East River nitrate reanalysis");
        metadata["relatedIdentifiers"] = json!([
            {"relatedIdentifier": "IEWER0002", "relatedIdentifierType": "IGSN", "relationType": "IsDerivedFrom"}
        ]);
        let r = app.client().post(app.url("/api/datasets")).bearer_auth(&pi).json(&metadata).send().await?;
        assert_eq!(r.status(), StatusCode::CREATED);
        let second = r.json::<Value>().await?["id"].as_i64().ok_or("id")?;
        // Named only `*_data.csv`, the files are chemistry because the PI says so.
        claim(&app, &pi, second, &["essdive-wssc"]).await?;
        let data = std::fs::read_to_string(format!("{DATASET}/river_chem_data.csv"))?
            .replace("#Start_Data,ER_2019_06_01_F,IEWER0001A,liquid water,1.923,N/A,0.31\r\nN/A,", "#Start_Data,");
        put_file(&app, &pi, second, "reanalysis_data.csv", data.into_bytes()).await?;
        put_file(&app, &pi, second, "reanalysis_methods.csv", std::fs::read(format!("{DATASET}/river_chem_methods.csv"))?).await?;
        put_file(&app, &pi, second, "reanalysis_terminology.csv", std::fs::read(format!("{DATASET}/river_chem_terminology.csv"))?).await?;
        let report = checked(&app, &pi, second).await?;
        assert_eq!(essdive_findings(&report), Vec::<String>::new(), "{report}");
        app.publish(&app.api(&pi), &app.api(&curator), second).await?;

        let browser = app.browser();
        // The parent: its metadata, its child, the dataset that describes it.
        let (status, html) = browser.get_text("/samples/IEWER0001").await?;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("ER_2019_06_01"), "{html}");
        assert!(html.contains("Pumped water at 10 cm depth through tubing"));
        assert!(html.contains("href=\"/samples/IEWER0001A\""), "child linked");
        assert!(html.contains(&format!("href=\"/datasets/{first}\"")));
        // The child names its parent.
        let (_, html) = browser.get_text("/samples/igsn:IEWER0001A").await?;
        assert!(html.contains("href=\"/samples/IEWER0001\""), "{html}");
        // A sample two datasets use links back to both.
        let (_, html) = browser.get_text("/samples/IEWER0002").await?;
        assert!(html.contains(&format!("href=\"/datasets/{first}\"")), "{html}");
        assert!(html.contains(&format!("href=\"/datasets/{second}\"")), "{html}");
        assert!(html.contains("uses it in reanalysis_data.csv"));
        // Unknown and malformed IDs are not found.
        assert_eq!(browser.get("/samples/IEZZZ9999").await?.status(), StatusCode::NOT_FOUND);
        assert_eq!(browser.get("/samples/not%20an%20igsn").await?.status(), StatusCode::NOT_FOUND);

        // Search by sample ID or name.
        let (_, html) = browser.get_text("/samples?q=iewer000").await?;
        for igsn in ["IEWER0001", "IEWER0001A", "IEWER0002"] {
            assert!(html.contains(&format!("href=\"/samples/{igsn}\"")), "{igsn}: {html}");
        }
        let (_, html) = browser.get_text("/samples?q=ER_2019_06_02").await?;
        assert!(html.contains("href=\"/samples/IEWER0002\""), "{html}");
        let (_, html) = browser.get_text("/samples?q=%25_%27").await?;
        assert!(html.contains("No sample of a published dataset matches"), "{html}");

        // The IGSNs are related identifiers of the DataCite record and in the JSON-LD.
        let (_, xml) = browser.get_text(&format!("/datasets/{first}/export/datacite-xml")).await?;
        assert!(xml.contains("relatedIdentifierType=\"IGSN\" relationType=\"Describes\""), "{xml}");
        assert!(xml.contains(">IEWER0001A<"), "{xml}");
        let (_, landing) = browser.get_text(&format!("/datasets/{first}")).await?;
        assert!(landing.contains("https://igsn.org/IEWER0001A"), "JSON-LD names the samples");
        Ok(())
    })
    .await
}
