//! A deaccessioned dataset's tombstone gives machines what stays: the 410 page carries
//! Signposting (`cite-as` the DOI, `describedby` metadata records that say it was
//! withdrawn) in its Link header and JSON-LD, by GET and HEAD (the python `signposting`
//! client); its link set offers no file (they answer 410); its DataCite record carries
//! the Withdrawn date, valid against the 4.6 schema.

use crate::landing::signposting_client;
use crate::support::checkers::validate_datacite_xml;
use crate::support::fixtures::FLUX_CSV;
use crate::support::*;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

const REASON: &str = "Consent for the site data was withdrawn.";

/// The JSON-LD of a page's `<script type="application/ld+json">`.
fn jsonld_in(html: &str) -> Result<Value, Error> {
    let script = regex::Regex::new(r#"(?s)<script type="application/ld\+json">(.*?)</script>"#)?
        .captures(html)
        .ok_or("no JSON-LD in the page")?;
    Ok(serde_json::from_str(&script[1])?)
}

/// A landing page of the withdrawn dataset (its version 1 at `v`): 410 by GET and HEAD
/// with the same Link header, JSON-LD that says it was withdrawn, and Signposting that
/// cites the DOI and offers metadata, never a file.
async fn the_tombstone_signposts_what_stays(
    app: &TestApp,
    landing_path: &str,
    doi: &str,
    v: &str,
) -> TestResult {
    let landing = app.url(landing_path);
    // GET and HEAD: 410 with the same Link header.
    let client = app.client();
    let get = client.get(&landing).send().await?;
    let head = client.head(&landing).send().await?;
    assert_eq!(get.status(), StatusCode::GONE, "{landing_path}");
    assert_eq!(head.status(), StatusCode::GONE, "{landing_path}");
    let link = get
        .headers()
        .get(header::LINK)
        .and_then(|l| l.to_str().ok())
        .ok_or("the tombstone has no Link header")?
        .to_string();
    assert_eq!(
        head.headers()
            .get(header::LINK)
            .and_then(|l| l.to_str().ok()),
        Some(link.as_str())
    );
    assert!(!link.contains("rel=\"item\""), "{link}");
    let ld = jsonld_in(&get.text().await?)?;
    assert_eq!(ld["@id"], format!("https://doi.org/{doi}"));
    assert_eq!(ld["creativeWorkStatus"], "Withdrawn");
    assert_eq!(ld["isAccessibleForFree"], false);
    assert!(
        ld["conditionsOfAccess"]
            .as_str()
            .is_some_and(|c| c.contains(REASON)),
        "{ld}"
    );
    assert!(ld.get("distribution").is_none(), "{ld}");

    // What the signposting client finds, in the header (HEAD) and the link sets.
    let found = signposting_client(&landing, &format!("{landing}/linkset"))?;
    for source in ["headers", "json", "text"] {
        let s = &found[source];
        assert_eq!(s["cite_as"], format!("https://doi.org/{doi}"), "{source}");
        assert_eq!(s["items"], json!([]), "{source}: no file answers 410");
        assert_eq!(
            s["described_by"],
            json!([
                [
                    app.url(&format!("{v}/export/datacite-xml")),
                    "application/vnd.datacite.datacite+xml"
                ],
                [
                    app.url(&format!("{v}/export/json-ld")),
                    "application/ld+json"
                ],
            ]),
            "{source}"
        );
    }
    Ok(())
}

#[actix_web::test]
async fn a_tombstone_tells_machines_the_dataset_was_withdrawn() -> TestResult {
    on_each_backend(|app| async move {
        let users = app.users().await?;
        let published = app
            .published(&users, "Withdrawn fluxes", &[("data/flux.csv", FLUX_CSV)])
            .await?;
        let id = published["id"].as_i64().ok_or("id")?;
        let doi = published["doi"].as_str().ok_or("doi")?.to_string();
        app.api(&users.admin.token)
            .post(
                &format!("/api/datasets/{id}/deaccession"),
                &json!({ "reason": REASON }),
            )
            .await?
            .expect(StatusCode::OK)?;
        let v = format!("/datasets/{id}/versions/1");
        for landing_path in [format!("/datasets/{id}"), v.clone()] {
            the_tombstone_signposts_what_stays(&app, &landing_path, &doi, &v).await?;
        }
        // The metadata records it points to say it was withdrawn.
        let public = app.public_api();
        let xml = public.get(&format!("{v}/export/datacite-xml")).await?;
        assert_eq!(xml.status, StatusCode::OK);
        let withdrawn = regex::Regex::new(
            r#"<date dateType="Withdrawn" dateInformation="([^"]+)">\d{4}-\d\d-\d\d</date>"#,
        )?;
        let reason = withdrawn
            .captures(&xml.text)
            .ok_or(format!("no Withdrawn date in {}", xml.text))?;
        assert_eq!(&reason[1], REASON);
        assert!(
            xml.text.contains("info:eu-repo/semantics/closedAccess"),
            "{}",
            xml.text
        );
        validate_datacite_xml(&xml.text)?;
        let ld = public.get(&format!("{v}/export/json-ld")).await?;
        let ld: Value = serde_json::from_str(&ld.text)?;
        assert_eq!(ld["creativeWorkStatus"], "Withdrawn");
        // The file itself is gone.
        let file = public.get(&format!("{v}/files/data/flux.csv")).await?;
        assert_eq!(file.status, StatusCode::GONE);
        Ok(())
    })
    .await
}
