//! OAI-PMH: a harvester (sickle) gets every published dataset in oai_dc, oai_datacite
//! and datacite, the withdrawn one as deleted and drafts never; selective harvests by
//! from/until/set return exactly the expected records; pages follow resumption tokens,
//! which another server on the same database (a restart) answers too; every bad
//! request gets its protocol error.

use std::collections::BTreeSet;

use crate::support::checkers::python;
use crate::support::wait::next_second;
use crate::support::*;
use holdfast::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

const KERNEL_XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/datacite/kernel-4.6/metadata.xsd"
);

/// Harvests with sickle. `full`: Identify, formats, sets and ListRecords in every format
/// (by GET, and oai_dc again by POST). `selective`: the ListIdentifiers harvests given
/// as JSON `{name: {from, until, set}}`, each answered with its identifiers or
/// "noRecordsMatch". DataCite payloads are validated against the kernel-4.6 XSD.
const SCRIPT: &str = r#"
import json, sys
import xmlschema
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import NoRecordsMatch

base, xsd, mode = sys.argv[1], sys.argv[2], sys.argv[3]
OAI = '{http://www.openarchives.org/OAI/2.0/}'
WRAP = '{http://schema.datacite.org/oai/oai-1.1/}'
KERNEL = '{http://datacite.org/schema/kernel-4}'
out = {}

def harvest(sickle, prefix):
    kernel = xmlschema.XMLSchema(xsd)
    got = []
    for r in sickle.ListRecords(metadataPrefix=prefix, ignore_deleted=False):
        item = {'identifier': r.header.identifier, 'datestamp': r.header.datestamp,
                'deleted': r.header.deleted, 'sets': r.header.setSpecs}
        metadata = r.xml.find(OAI + 'metadata')
        item['has_metadata'] = metadata is not None
        if metadata is not None:
            root = metadata[0]
            item['root'] = root.tag
            if prefix == 'oai_dc':
                item['dc'] = r.metadata
            else:
                if prefix == 'oai_datacite':
                    item['schemaVersion'] = root.find(WRAP + 'schemaVersion').text
                    resource = root.find(WRAP + 'payload')[0]
                else:
                    resource = root
                kernel.validate(etree.tostring(resource).decode())
                item['doi'] = resource.find(KERNEL + 'identifier').text
                item['title'] = resource.find(KERNEL + 'titles')[0].text
        got.append(item)
    return got

if mode == 'full':
    s = Sickle(base)
    i = s.Identify()
    out['identify'] = {k: getattr(i, k) for k in ['repositoryName', 'baseURL', 'protocolVersion',
        'adminEmail', 'earliestDatestamp', 'deletedRecord', 'granularity']}
    out['formats'] = [f.metadataPrefix for f in s.ListMetadataFormats()]
    out['sets'] = [x.setSpec for x in s.ListSets()]
    for prefix in ['oai_dc', 'oai_datacite', 'datacite']:
        out[prefix] = harvest(s, prefix)
    out['oai_dc_post'] = harvest(Sickle(base, http_method='POST'), 'oai_dc')
else:
    s = Sickle(base)
    for name, args in json.loads(mode).items():
        try:
            out[name] = [h.identifier for h in s.ListIdentifiers(metadataPrefix='oai_dc', **args)]
        except NoRecordsMatch:
            out[name] = 'noRecordsMatch'
print(json.dumps(out))
"#;

fn sickle(base: &str, mode: &str) -> Result<Value, Error> {
    let out = std::process::Command::new(python()?)
        .args(["-c", SCRIPT, base, KERNEL_XSD, mode])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "the sickle harvest failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// A raw OAI-PMH request by GET; checks the media type; returns the body.
async fn oai(base: &str, query: &str) -> Result<String, Error> {
    let r = reqwest::get(format!("{base}/oai?{query}")).await?;
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    let media = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(media, "text/xml; charset=utf-8", "{query}");
    Ok(r.text().await?)
}

fn error_code(body: &str) -> Option<String> {
    regex::Regex::new(r#"<error code="(\w+)""#)
        .ok()?
        .captures(body)
        .map(|c| c[1].to_string())
}

fn request_attrs(body: &str) -> String {
    regex::Regex::new(r"<request([^>]*)>")
        .ok()
        .and_then(|re| re.captures(body).map(|c| c[1].trim().to_string()))
        .unwrap_or_default()
}

fn token_of(body: &str) -> Option<(String, String)> {
    let re = regex::Regex::new(
        r#"<resumptionToken completeListSize="(\d+)" cursor="(\d+)"(?:>([^<]*)</resumptionToken>|/>)"#,
    )
    .ok()?;
    re.captures(body).map(|c| {
        (
            format!("{}/{}", &c[1], &c[2]),
            c.get(3).map(|m| m.as_str().to_string()).unwrap_or_default(),
        )
    })
}

fn identifiers_in(body: &str) -> Vec<String> {
    regex::Regex::new(r"<identifier>([^<]+)</identifier>")
        .map(|re| re.captures_iter(body).map(|c| c[1].to_string()).collect())
        .unwrap_or_default()
}

struct Published {
    id: i64,
    doi: String,
    concept_doi: String,
}

async fn publish(
    app: &TestApp,
    (dep, cur): (&Api, &Api),
    title: &str,
    resource_type: &str,
    file: (&str, &[u8]),
    standards: &[&str],
) -> Result<Published, Error> {
    let mut metadata = minimal_json(title);
    metadata["types"] = json!({"resourceTypeGeneral": resource_type});
    metadata["subjects"] = json!([{"subject": "eddy covariance"}]);
    metadata["language"] = json!("en");
    let id = dep.create_dataset(&metadata).await?["id"]
        .as_i64()
        .ok_or("id")?;
    dep.put_file(id, file.0, file.1).await?;
    if !standards.is_empty() {
        let claimed = dep
            .put(
                &format!("/api/datasets/{id}/standards"),
                &json!({ "standards": standards }),
            )
            .await?;
        assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    }
    let body = app.publish(dep, cur, id).await?;
    // The next publication gets a datestamp of its own (the granularity is the second).
    next_second().await;
    Ok(Published {
        id,
        doi: body["doi"].as_str().ok_or("doi")?.to_string(),
        concept_doi: body["concept_doi"]
            .as_str()
            .ok_or("concept doi")?
            .to_string(),
    })
}

/// Four published records (one of them withdrawn since), a draft, and a new draft
/// version of the first; two records a page, so four take two pages.
struct Records {
    app: TestApp,
    forest: Published,
    model: Published,
    fen: Published,
    withdrawn: Published,
    draft: i64,
}

impl Records {
    fn id_of(&self, p: &Published) -> String {
        format!("oai:127.0.0.1:dataset/{}", p.id)
    }
}

async fn four_records(backend: Backend) -> Result<Records, Error> {
    let app = TestApp::builder()
        .settings(|a| a.oai_page_size = Some(2))
        .spawn(backend)
        .await?;
    // An empty archive: no records, no sets yet.
    let empty = oai(&app.base, "verb=ListRecords&metadataPrefix=oai_dc").await?;
    assert_eq!(
        error_code(&empty).as_deref(),
        Some("noRecordsMatch"),
        "{empty}"
    );
    let empty = oai(&app.base, "verb=ListSets").await?;
    assert_eq!(
        error_code(&empty).as_deref(),
        Some("noSetHierarchy"),
        "{empty}"
    );

    let dep = app.api(&app.new_user("pi@example.org", Role::Depositor).await?.token);
    let cur = app.api(&app.new_user("cur@example.org", Role::Curator).await?.token);
    let admin = app.api(&app.new_user("admin@example.org", Role::Admin).await?.token);
    let both = (&dep, &cur);
    let forest = publish(
        &app,
        both,
        "Harvard Forest fluxes",
        "Dataset",
        ("fluxes.csv", b"site,flux\nUS-Ha1,1.5\n"),
        &["csv"],
    )
    .await?;
    let model = publish(
        &app,
        both,
        "Gap-filling model",
        "Software",
        ("notes.txt", b"model notes"),
        &[],
    )
    .await?;
    let fen = publish(
        &app,
        both,
        "Fen chambers",
        "Dataset",
        ("notes.txt", b"chamber notes"),
        &[],
    )
    .await?;
    let withdrawn = publish(
        &app,
        both,
        "Withdrawn plot",
        "Dataset",
        ("notes.txt", b"plot notes"),
        &[],
    )
    .await?;
    let reason = json!({"reason": "Consent for the site data was withdrawn."});
    admin
        .post(
            &format!("/api/datasets/{}/deaccession", withdrawn.id),
            &reason,
        )
        .await?
        .expect(StatusCode::OK)?;
    // Never published: a draft, and a new draft version of the forest dataset.
    let draft = dep.create_draft("Unfinished draft").await?;
    dep.post(&format!("/api/datasets/{}/versions", forest.id), &json!({}))
        .await?
        .expect(StatusCode::CREATED)?;
    let mut changed = minimal_json("Draft title of version 2");
    changed["types"] = json!({"resourceTypeGeneral": "Dataset"});
    dep.update_metadata(forest.id, &changed).await?;
    Ok(Records {
        app,
        forest,
        model,
        fen,
        withdrawn,
        draft,
    })
}

async fn on_each<F, Fut>(journey: F) -> TestResult
where
    F: Fn(Records) -> Fut,
    Fut: std::future::Future<Output = TestResult>,
{
    for backend in backends() {
        let records = four_records(backend).await?;
        journey(records)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

/// Every published record, in every format, the withdrawn one as deleted.
#[actix_web::test]
async fn harvesters_get_every_published_record_in_every_format() -> TestResult {
    on_each(|r| async move {
        // The full harvest, in every format.
        let h = sickle(&format!("{}/oai", r.app.base), "full")?;
        every_record_once_with_its_datestamp(&r, &h)?;
        records_carry_their_published_versions_metadata(&r, &h)?;
        Ok(())
    })
    .await
}

/// Identify, formats and sets; each record once in every format, deleted as withdrawn.
fn every_record_once_with_its_datestamp(r: &Records, h: &Value) -> TestResult {
    let Records {
        forest,
        model,
        fen,
        withdrawn,
        ..
    } = r;
    let base = r.app.base.clone();
    let id_of = |p: &Published| r.id_of(p);
    let all: BTreeSet<String> = [forest, model, fen, withdrawn]
        .iter()
        .map(|p| id_of(p))
        .collect();
    let identify = &h["identify"];
    assert_eq!(identify["baseURL"], format!("{base}/oai"));
    assert_eq!(identify["repositoryName"], "holdfast");
    assert_eq!(identify["protocolVersion"], "2.0");
    // Derived from the base URL's host: `holdfast@localhost` fails the OAI-PMH schema.
    assert_eq!(identify["adminEmail"], "holdfast@127.0.0.1");
    assert_eq!(identify["deletedRecord"], "persistent");
    assert_eq!(identify["granularity"], "YYYY-MM-DDThh:mm:ssZ");
    assert_eq!(h["formats"], json!(["oai_dc", "oai_datacite", "datacite"]));
    let sets: Vec<&str> = h["sets"]
        .as_array()
        .ok_or("sets")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        sets,
        [
            "openaire_data",
            "standard",
            "standard:csv",
            "type",
            "type:Dataset",
            "type:Software"
        ]
    );
    let mut datestamps = std::collections::BTreeMap::new();
    let seconds = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")?;
    for prefix in ["oai_dc", "oai_datacite", "datacite", "oai_dc_post"] {
        let records = h[prefix].as_array().ok_or(prefix)?;
        let got: BTreeSet<String> = records
            .iter()
            .filter_map(|r| r["identifier"].as_str().map(str::to_string))
            .collect();
        assert_eq!(got, all, "{prefix}: every published record, no draft");
        assert_eq!(records.len(), 4, "{prefix}: each record once");
        for r in records {
            let id = r["identifier"].as_str().ok_or("identifier")?;
            let deleted = id == id_of(withdrawn);
            assert_eq!(r["deleted"], deleted, "{prefix} {id}");
            assert_eq!(
                r["has_metadata"], !deleted,
                "{prefix} {id}: deleted records carry no metadata"
            );
            let stamp = r["datestamp"].as_str().ok_or("datestamp")?;
            assert!(seconds.is_match(stamp), "{stamp}");
            datestamps.insert(id.to_string(), stamp.to_string());
        }
    }
    assert_eq!(
        identify["earliestDatestamp"],
        datestamps[&id_of(forest)].as_str(),
        "the earliest datestamp is the first publication"
    );
    Ok(())
}

/// Sets come from the versions and stay with the withdrawn record; oai_dc and
/// DataCite describe the published version, not the draft.
fn records_carry_their_published_versions_metadata(r: &Records, h: &Value) -> TestResult {
    let Records {
        forest,
        model,
        withdrawn,
        ..
    } = r;
    let base = r.app.base.clone();
    let id_of = |p: &Published| r.id_of(p);
    let find = |prefix: &str, p: &Published| -> Result<Value, Error> {
        h[prefix]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["identifier"] == id_of(p).as_str()))
            .cloned()
            .ok_or_else(|| format!("{prefix}: no record of {}", p.id).into())
    };
    // Sets come from the versions, and stay with the withdrawn record.
    assert_eq!(
        find("oai_dc", forest)?["sets"],
        json!([
            "openaire_data",
            "standard",
            "standard:csv",
            "type",
            "type:Dataset"
        ])
    );
    assert_eq!(
        find("oai_dc", model)?["sets"],
        json!(["openaire_data", "type", "type:Software"])
    );
    assert_eq!(
        find("oai_dc", withdrawn)?["sets"],
        json!(["openaire_data", "type", "type:Dataset"])
    );
    // oai_dc: the published version's metadata, not the draft's.
    let dc = &find("oai_dc", forest)?["dc"];
    assert_eq!(dc["title"], json!(["Harvard Forest fluxes"]));
    assert_eq!(dc["creator"], json!(["Doe, Jane"]));
    assert_eq!(dc["subject"], json!(["eddy covariance"]));
    assert_eq!(dc["description"], json!(["Fluxes."]));
    assert_eq!(dc["publisher"], json!(["holdfast"]));
    assert_eq!(dc["type"], json!(["Dataset"]));
    assert_eq!(dc["language"], json!(["en"]));
    assert_eq!(dc["format"], json!(["text/csv"]));
    assert_eq!(
        dc["identifier"],
        json!([
            format!("https://doi.org/{}", forest.concept_doi),
            format!("{base}/datasets/{}", forest.id)
        ])
    );
    assert_eq!(
        dc["relation"],
        json!([format!("https://doi.org/{}", forest.doi)]),
        "the concept record lists its version"
    );
    assert!(
        dc["date"][0].as_str().is_some_and(|d| d.len() == 10),
        "{dc}"
    );
    assert!(
        dc["rights"].to_string().contains("creativecommons.org"),
        "{dc}"
    );
    // oai_datacite: the oai-1.1 wrapper around a valid kernel-4 resource; datacite: bare.
    let wrapped = find("oai_datacite", forest)?;
    assert_eq!(
        wrapped["root"],
        "{http://schema.datacite.org/oai/oai-1.1/}oai_datacite"
    );
    assert_eq!(wrapped["schemaVersion"], "4.6");
    assert_eq!(wrapped["doi"], forest.concept_doi.as_str());
    assert_eq!(wrapped["title"], "Harvard Forest fluxes");
    let bare = find("datacite", model)?;
    assert_eq!(
        bare["root"],
        "{http://datacite.org/schema/kernel-4}resource"
    );
    assert_eq!(bare["doi"], model.concept_doi.as_str());

    Ok(())
}

/// from/until/set select exactly the expected records.
#[actix_web::test]
async fn selective_harvests_return_exactly_the_records_in_range_and_set() -> TestResult {
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
        // The datestamps, as a harvester reads them.
        let h = sickle(&format!("{base}/oai"), "full")?;
        let datestamps: std::collections::BTreeMap<String, String> = h["oai_dc"]
            .as_array()
            .ok_or("oai_dc")?
            .iter()
            .filter_map(|r| {
                Some((
                    r["identifier"].as_str()?.to_string(),
                    r["datestamp"].as_str()?.to_string(),
                ))
            })
            .collect();
        // Selective harvests: exactly the records in range and set.
        let stamp = |p: &Published| datestamps[&id_of(p)].clone();
        assert!(stamp(forest) < stamp(model) && stamp(model) < stamp(fen));
        assert!(
            stamp(fen) < stamp(withdrawn),
            "the deaccession moved the datestamp on"
        );
        let day = &stamp(forest)[..10];
        let queries = json!({
            "range": {"from": stamp(model), "until": stamp(fen)},
            "from": {"from": stamp(fen)},
            "until": {"until": stamp(model)},
            "one_second": {"from": stamp(model), "until": stamp(model)},
            "software": {"set": "type:Software"},
            "csv": {"set": "standard:csv"},
            "standards": {"set": "standard"},
            "datasets_from_fen": {"set": "type:Dataset", "from": stamp(fen)},
            "days": {"from": day, "until": "9999-12-31"},
            "before": {"until": "2000-01-01"},
            "no_such_set": {"set": "type:Image"},
        });
        let sel = sickle(&format!("{base}/oai"), &queries.to_string())?;
        let ids = |ps: &[&Published]| json!(ps.iter().map(|p| id_of(p)).collect::<Vec<_>>());
        assert_eq!(sel["range"], ids(&[model, fen]));
        assert_eq!(sel["from"], ids(&[fen, withdrawn]));
        assert_eq!(sel["until"], ids(&[forest, model]));
        assert_eq!(sel["one_second"], ids(&[model]));
        assert_eq!(sel["software"], ids(&[model]));
        assert_eq!(sel["csv"], ids(&[forest]));
        assert_eq!(sel["standards"], ids(&[forest]));
        assert_eq!(sel["datasets_from_fen"], ids(&[fen, withdrawn]));
        assert_eq!(sel["days"], ids(&[forest, model, fen, withdrawn]));
        assert_eq!(sel["before"], "noRecordsMatch");
        assert_eq!(sel["no_such_set"], "noRecordsMatch");

        Ok(())
    })
    .await
}

/// Pages and their tokens, answered by a restarted server too; records are added
/// back at start for datasets published before OAI-PMH.
#[actix_web::test]
async fn pages_follow_resumption_tokens_across_restarts_and_the_backfill() -> TestResult {
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

        // Records of datasets published before OAI-PMH existed are added at start, the
        // withdrawn one as deleted with its sets.
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
        let first = oai(&restarted, "verb=ListIdentifiers&metadataPrefix=oai_dc").await?;
        let (_, next) = token_of(&first).ok_or("no token after the backfill")?;
        let rest = oai(
            &restarted,
            &format!("verb=ListIdentifiers&resumptionToken={next}"),
        )
        .await?;
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

/// Every bad request and the error it must get: (query, OAI-PMH error code).
fn error_cases(
    token: &str,
    tampered: &str,
    fen: &str,
    draft_id: &str,
) -> Vec<(String, &'static str)> {
    vec![
        ("".into(), "badVerb"),
        ("verb=Harvest".into(), "badVerb"),
        ("verb=Identify&verb=ListSets".into(), "badVerb"),
        ("verb=Identify&metadataPrefix=oai_dc".into(), "badArgument"),
        ("verb=ListRecords".into(), "badArgument"),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc".into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2026-13-01".into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01T00:00:00.5Z".into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-12-31T00:00:00Z"
                .into(),
            "badArgument",
        ),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-01&until=2026-01-01".into(),
            "badArgument",
        ),
        (
            format!("verb=ListRecords&metadataPrefix=oai_dc&resumptionToken={token}"),
            "badArgument",
        ),
        ("verb=GetRecord&metadataPrefix=oai_dc".into(), "badArgument"),
        (
            "verb=ListRecords&resumptionToken=not-a-token".into(),
            "badResumptionToken",
        ),
        (
            format!("verb=ListRecords&resumptionToken={tampered}"),
            "badResumptionToken",
        ),
        (
            format!("verb=ListRecords&resumptionToken={token}"),
            "badResumptionToken",
        ),
        (
            "verb=ListSets&resumptionToken=x".into(),
            "badResumptionToken",
        ),
        (
            "verb=ListRecords&metadataPrefix=marc21".into(),
            "cannotDisseminateFormat",
        ),
        (
            format!("verb=GetRecord&metadataPrefix=mods&identifier={}", fen),
            "cannotDisseminateFormat",
        ),
        (
            format!("verb=GetRecord&metadataPrefix=oai_dc&identifier={draft_id}"),
            "idDoesNotExist",
        ),
        (
            "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:elsewhere.org:dataset/1".into(),
            "idDoesNotExist",
        ),
        (
            format!("verb=ListMetadataFormats&identifier={draft_id}"),
            "idDoesNotExist",
        ),
        (
            "verb=ListIdentifiers&metadataPrefix=oai_dc&until=2000-01-01".into(),
            "noRecordsMatch",
        ),
        (
            "verb=ListIdentifiers&metadataPrefix=oai_dc&set=type:Image".into(),
            "noRecordsMatch",
        ),
    ]
}
