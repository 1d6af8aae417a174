//! Every OAI-PMH verb's answer, errors and paged lists included, is valid against the
//! OAI-PMH 2.0 schema with the archive's defaults (tests/data/oai-pmh), with each
//! record's metadata checked against its own schema; the OpenAIRE set holds every
//! record.

use crate::support::checkers::validate_oai_pmh;
use crate::support::fixtures::FLUX_CSV;
use crate::support::oai::{identifiers_in, oai, token_of};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

async fn answer(app: &TestApp, query: &str) -> Result<String, Error> {
    oai(&app.base, query).await
}

fn token_in(body: &str) -> Option<String> {
    token_of(body)
        .map(|(_, token)| token)
        .filter(|t| !t.is_empty())
}

/// Every verb in every format, for a live and a withdrawn record; every error code.
fn queries_of_two_records(live_id: &str, gone_id: &str) -> Vec<String> {
    let mut queries: Vec<String> = vec!["verb=Identify".into(), "verb=ListSets".into()];
    queries.push("verb=ListMetadataFormats".into());
    queries.push(format!("verb=ListMetadataFormats&identifier={live_id}"));
    for prefix in ["oai_dc", "oai_datacite", "datacite"] {
        for verb in ["ListRecords", "ListIdentifiers"] {
            queries.push(format!("verb={verb}&metadataPrefix={prefix}"));
            queries.push(format!(
                "verb={verb}&metadataPrefix={prefix}&set=openaire_data"
            ));
        }
        queries.push(format!(
            "verb=GetRecord&metadataPrefix={prefix}&identifier={live_id}"
        ));
        queries.push(format!(
            "verb=GetRecord&metadataPrefix={prefix}&identifier={gone_id}"
        ));
    }
    // Every error code the archive answers with.
    queries.extend(
        [
            "verb=Nonsense",
            "verb=ListRecords",
            "verb=ListRecords&metadataPrefix=marc21",
            "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:elsewhere:1",
            "verb=ListRecords&metadataPrefix=oai_dc&from=2001-01-01&until=2001-01-02",
            "verb=ListRecords&resumptionToken=not-a-token",
            "verb=ListIdentifiers&metadataPrefix=oai_dc&set=no:such",
        ]
        .map(String::from),
    );
    queries
}

/// Every identifier in a set, following the pages' tokens.
async fn identifiers_in_set(app: &TestApp, set: &str) -> Result<Vec<String>, Error> {
    let mut in_set = Vec::new();
    let query = format!("verb=ListIdentifiers&metadataPrefix=oai_dc&set={set}");
    let mut page = answer(app, &query).await?;
    loop {
        in_set.extend(identifiers_in(&page));
        match token_in(&page) {
            Some(t) => {
                page = answer(app, &format!("verb=ListIdentifiers&resumptionToken={t}")).await?
            }
            None => break,
        }
    }
    Ok(in_set)
}

#[actix_web::test]
async fn every_verbs_answer_is_valid_against_the_oai_pmh_schema() -> TestResult {
    let app = TestApp::builder()
        .settings(|a| a.oai_page_size = Some(1))
        .spawn(Backend::Sqlite)
        .await?;
    // Before any record: Identify, formats, and the errors of an empty archive.
    for q in [
        "verb=Identify",
        "verb=ListSets",
        "verb=ListRecords&metadataPrefix=oai_dc",
    ] {
        validate_oai_pmh(&answer(&app, q).await?)?;
    }
    let users = app.users().await?;
    let live = app
        .published(&users, "Valid fluxes", &[("data/flux.csv", FLUX_CSV)])
        .await?;
    let gone = app
        .published(&users, "Withdrawn fluxes", &[("data/flux.csv", FLUX_CSV)])
        .await?;
    app.api(&users.admin.token)
        .post(
            &format!("/api/datasets/{}/deaccession", gone["id"]),
            &json!({"reason": "A duplicate of another dataset."}),
        )
        .await?
        .expect(StatusCode::OK)?;
    let identify = answer(&app, "verb=Identify").await?;
    assert!(
        identify.contains("<adminEmail>holdfast@127.0.0.1</adminEmail>"),
        "{identify}"
    );
    let host = "127.0.0.1";
    let (live_id, gone_id) = (
        format!("oai:{host}:dataset/{}", live["id"]),
        format!("oai:{host}:dataset/{}", gone["id"]),
    );
    for q in &queries_of_two_records(&live_id, &gone_id) {
        let body = answer(&app, q).await?;
        validate_oai_pmh(&body).map_err(|e| format!("{q}: {e}"))?;
    }
    // The second page of a list (one record a page), reached by its token.
    let first = answer(&app, "verb=ListRecords&metadataPrefix=oai_datacite").await?;
    let token = token_in(&first).ok_or(format!("no resumption token in {first}"))?;
    let rest = answer(&app, &format!("verb=ListRecords&resumptionToken={token}")).await?;
    validate_oai_pmh(&rest)?;
    // OpenAIRE's set: listed, and every record in it (the withdrawn one as deleted).
    let sets = answer(&app, "verb=ListSets").await?;
    assert!(sets.contains("<setSpec>openaire_data</setSpec>"), "{sets}");
    let mut in_set = identifiers_in_set(&app, "openaire_data").await?;
    in_set.sort();
    let mut both = vec![live_id, gone_id];
    both.sort();
    assert_eq!(in_set, both);
    Ok(())
}
