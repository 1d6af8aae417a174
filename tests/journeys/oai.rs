//! OAI-PMH: a harvester (sickle) gets every published dataset in oai_dc, oai_datacite
//! and datacite, the withdrawn one as deleted and drafts never; selective harvests by
//! from/until/set return exactly the expected records; pages follow resumption tokens,
//! which another server on the same database (a restart) answers too; every bad
//! request gets its protocol error.

use std::collections::BTreeSet;

use crate::support::checkers::python;
use crate::support::oai::*;
use crate::support::*;
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

/// The record of `p` in the harvest `h` in the format `prefix`.
fn record_of(r: &Records, h: &Value, prefix: &str, p: &Published) -> Result<Value, Error> {
    h[prefix]
        .as_array()
        .and_then(|rs| rs.iter().find(|x| x["identifier"] == r.id_of(p).as_str()))
        .cloned()
        .ok_or_else(|| format!("{prefix}: no record of {}", p.id).into())
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
    let find = |prefix: &str, p: &Published| record_of(r, h, prefix, p);
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
    published_dublin_core(r, &find("oai_dc", forest)?["dc"]);
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

/// oai_dc of the forest record: the published version's metadata, not the draft's.
fn published_dublin_core(r: &Records, dc: &Value) {
    let forest = &r.forest;
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
            format!("{}/datasets/{}", r.app.base, forest.id)
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
