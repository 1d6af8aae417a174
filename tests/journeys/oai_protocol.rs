//! OAI-PMH request by request: pages follow resumption tokens, which another server on
//! the same database (a restart) answers too; records of datasets published before
//! OAI-PMH are added at start; single records and formats by GET and POST; every bad
//! request gets its protocol error.

use crate::support::oai::*;
use crate::support::*;
use reqwest::StatusCode;

/// The identifiers of both pages of the full list: (page 1, page 2).
async fn two_pages(base: &str) -> Result<(String, String), Error> {
    let first = oai(base, "verb=ListIdentifiers&metadataPrefix=oai_dc").await?;
    let (_, next) = token_of(&first).ok_or(format!("no token on page 1: {first}"))?;
    let rest = oai(
        base,
        &format!("verb=ListIdentifiers&resumptionToken={next}"),
    )
    .await?;
    Ok((first, rest))
}

/// Pages and their tokens, answered by a restarted server too.
#[actix_web::test]
async fn pages_follow_resumption_tokens_across_restarts() -> TestResult {
    on_each(|r| async move {
        let Records {
            forest,
            model,
            fen,
            withdrawn,
            ..
        } = &r;
        let base = r.app.base.clone();
        let id_of = |p: &Published| r.id_of(p);
        // Paging: two records, then the last two with an empty token; the same token gives
        // the same page, here and on a second server (a restart).
        let page1 = oai(&base, "verb=ListIdentifiers&metadataPrefix=oai_dc").await?;
        assert_eq!(identifiers_in(&page1), [id_of(forest), id_of(model)]);
        let (position, token) = token_of(&page1).ok_or("no token on page 1")?;
        assert_eq!(position, "4/0");
        assert!(!token.is_empty());
        let query = format!("verb=ListIdentifiers&resumptionToken={token}");
        let page2 = oai(&base, &query).await?;
        assert_eq!(identifiers_in(&page2), [id_of(fen), id_of(withdrawn)]);
        assert_eq!(token_of(&page2), Some(("4/2".to_string(), String::new())));
        assert!(page2.contains(r#"<header status="deleted">"#));
        assert_eq!(
            identifiers_in(&oai(&base, &query).await?),
            identifiers_in(&page2)
        );
        let other = r.app.restarted().await?;
        let again = oai(&other.base, &query).await?;
        assert_eq!(identifiers_in(&again), identifiers_in(&page2));
        assert_eq!(token_of(&again), token_of(&page2));
        // A complete single page carries no token at all.
        let single = oai(
            &base,
            "verb=ListIdentifiers&metadataPrefix=oai_dc&set=type:Software",
        )
        .await?;
        assert_eq!(token_of(&single), None, "{single}");
        Ok(())
    })
    .await
}

/// Records of datasets published before OAI-PMH existed are added at start, the
/// withdrawn one as deleted with its sets.
#[actix_web::test]
async fn records_published_before_oai_pmh_are_added_at_start() -> TestResult {
    on_each(|r| async move {
        let base = r.app.base.clone();
        let (page1, page2) = two_pages(&base).await?;
        let before: Vec<String> = identifiers_in(&page1)
            .into_iter()
            .chain(identifiers_in(&page2))
            .collect();
        r.app
            .archive
            .db
            .run(|conn| {
                use diesel::prelude::*;
                diesel::delete(holdfast::db::schema::oai_set_members::table).execute(conn)?;
                diesel::delete(holdfast::db::schema::oai_records::table).execute(conn)?;
                Ok(())
            })
            .await?;
        let gone = oai(&base, "verb=ListIdentifiers&metadataPrefix=oai_dc").await?;
        assert_eq!(
            error_code(&gone).as_deref(),
            Some("noRecordsMatch"),
            "{gone}"
        );
        let restarted = r.app.restarted().await?.base;
        let (first, rest) = two_pages(&restarted).await?;
        let after: Vec<String> = identifiers_in(&first)
            .into_iter()
            .chain(identifiers_in(&rest))
            .collect();
        assert_eq!(after, before);
        // The same datestamps, sets and deletion as before, so the same token too.
        let listed = |body: &str| {
            body.split_once("<ListIdentifiers>")
                .map(|(_, l)| l.to_string())
        };
        assert_eq!(listed(&first), listed(&page1));
        assert_eq!(listed(&rest), listed(&page2));
        let sets = oai(&restarted, "verb=ListSets").await?;
        assert_eq!(sets.matches("<set>").count(), 6, "{sets}");
        Ok(())
    })
    .await
}

/// GetRecord and ListMetadataFormats of one record, by GET and by form POST.
#[actix_web::test]
async fn single_records_and_formats_are_answered_by_get_and_post() -> TestResult {
    on_each(|r| async move {
        let Records {
            fen,
            withdrawn,
            model,
            ..
        } = &r;
        let base = r.app.base.clone();
        let id_of = |p: &Published| r.id_of(p);
        // GetRecord and ListMetadataFormats of one record; the request is echoed.
        let one = oai(
            &base,
            &format!(
                "verb=GetRecord&metadataPrefix=oai_dc&identifier={}",
                id_of(fen)
            ),
        )
        .await?;
        assert!(one.contains("<dc:title>Fen chambers</dc:title>"), "{one}");
        assert_eq!(
            request_attrs(&one),
            format!(
                r#"verb="GetRecord" metadataPrefix="oai_dc" identifier="{}""#,
                id_of(fen)
            )
        );
        let gone = oai(
            &base,
            &format!(
                "verb=GetRecord&metadataPrefix=oai_datacite&identifier={}",
                id_of(withdrawn)
            ),
        )
        .await?;
        assert!(gone.contains(r#"<header status="deleted">"#) && !gone.contains("<metadata>"));
        let formats = oai(
            &base,
            &format!("verb=ListMetadataFormats&identifier={}", id_of(model)),
        )
        .await?;
        assert_eq!(formats.matches("<metadataFormat>").count(), 3);
        // POST with a form body answers as GET does.
        let posted = r
            .app
            .client()
            .post(r.app.url("/oai"))
            .form(&[
                ("verb", "GetRecord"),
                ("metadataPrefix", "oai_dc"),
                ("identifier", &id_of(fen)),
            ])
            .send()
            .await?
            .text()
            .await?;
        assert!(
            posted.contains("<dc:title>Fen chambers</dc:title>"),
            "{posted}"
        );

        // POST must be form-encoded.
        let answer = r
            .app
            .client()
            .post(r.app.url("/oai"))
            .header("content-type", "application/json")
            .body(r#"{"verb":"Identify"}"#)
            .send()
            .await?;
        assert_eq!(answer.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        Ok(())
    })
    .await
}

/// Every error code; badVerb and badArgument echo no arguments.
#[actix_web::test]
async fn every_bad_request_gets_its_protocol_error() -> TestResult {
    on_each(|r| async move {
        let Records { fen, .. } = &r;
        let base = r.app.base.clone();
        let id_of = |p: &Published| r.id_of(p);
        // A token of a real page, to tamper with and to misuse.
        let page1 = oai(&base, "verb=ListIdentifiers&metadataPrefix=oai_dc").await?;
        let (_, token) = token_of(&page1).ok_or("no token on page 1")?;
        let draft = r.draft;
        // Every error code; badVerb and badArgument echo no arguments.
        let draft_id = format!("oai:127.0.0.1:dataset/{draft}");
        let tampered = token.replacen(|c: char| c.is_ascii_alphanumeric(), "_", 1);
        let cases = error_cases(&token, &tampered, &id_of(fen), &draft_id);
        for (query, expected) in &cases {
            let body = oai(&base, query).await?;
            assert_eq!(
                error_code(&body).as_deref(),
                Some(*expected),
                "{query}: {body}"
            );
            let attrs = request_attrs(&body);
            if matches!(*expected, "badVerb" | "badArgument") {
                assert_eq!(attrs, "", "{query}: no arguments echoed");
            } else {
                assert!(
                    attrs.starts_with("verb="),
                    "{query}: arguments echoed: {attrs}"
                );
            }
        }
        Ok(())
    })
    .await
}

/// Every bad request and the error it must get: (query, OAI-PMH error code). In the
/// queries, {token} is a real page's token, {tampered} that token altered, {fen} a
/// published record's identifier and {draft} a draft's.
const ERROR_CASES: &[(&str, &str)] = &[
    ("", "badVerb"),
    ("verb=Harvest", "badVerb"),
    ("verb=Identify&verb=ListSets", "badVerb"),
    ("verb=Identify&metadataPrefix=oai_dc", "badArgument"),
    ("verb=ListRecords", "badArgument"),
    (
        "verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc",
        "badArgument",
    ),
    (
        "verb=ListRecords&metadataPrefix=oai_dc&from=2026-13-01",
        "badArgument",
    ),
    (
        "verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01T00:00:00.5Z",
        "badArgument",
    ),
    (
        "verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-12-31T00:00:00Z",
        "badArgument",
    ),
    (
        "verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-01&until=2026-01-01",
        "badArgument",
    ),
    (
        "verb=ListRecords&metadataPrefix=oai_dc&resumptionToken={token}",
        "badArgument",
    ),
    ("verb=GetRecord&metadataPrefix=oai_dc", "badArgument"),
    (
        "verb=ListRecords&resumptionToken=not-a-token",
        "badResumptionToken",
    ),
    (
        "verb=ListRecords&resumptionToken={tampered}",
        "badResumptionToken",
    ),
    (
        "verb=ListRecords&resumptionToken={token}",
        "badResumptionToken",
    ),
    ("verb=ListSets&resumptionToken=x", "badResumptionToken"),
    (
        "verb=ListRecords&metadataPrefix=marc21",
        "cannotDisseminateFormat",
    ),
    (
        "verb=GetRecord&metadataPrefix=mods&identifier={fen}",
        "cannotDisseminateFormat",
    ),
    (
        "verb=GetRecord&metadataPrefix=oai_dc&identifier={draft}",
        "idDoesNotExist",
    ),
    (
        "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:elsewhere.org:dataset/1",
        "idDoesNotExist",
    ),
    (
        "verb=ListMetadataFormats&identifier={draft}",
        "idDoesNotExist",
    ),
    (
        "verb=ListIdentifiers&metadataPrefix=oai_dc&until=2000-01-01",
        "noRecordsMatch",
    ),
    (
        "verb=ListIdentifiers&metadataPrefix=oai_dc&set=type:Image",
        "noRecordsMatch",
    ),
];

/// The bad requests with their placeholders filled in (in one pass, so that nothing
/// filled in is read as a placeholder).
fn error_cases(
    token: &str,
    tampered: &str,
    fen: &str,
    draft_id: &str,
) -> Vec<(String, &'static str)> {
    let placeholder = regex::Regex::new(r"\{(token|tampered|fen|draft)\}").expect("a regex");
    ERROR_CASES
        .iter()
        .map(|(query, code)| {
            let filled = placeholder.replace_all(query, |c: &regex::Captures| match &c[1] {
                "token" => token.to_string(),
                "tampered" => tampered.to_string(),
                "fen" => fen.to_string(),
                _ => draft_id.to_string(),
            });
            (filled.into_owned(), *code)
        })
        .collect()
}
