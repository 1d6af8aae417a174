//! The external checkers journeys run on holdfast's output. scripts/test installs them
//! and names them in the environment; a journey fails (never skips) without them.

use std::path::{Path, PathBuf};

use super::{Error, TestResult};

fn tool(var: &str) -> Result<String, Error> {
    std::env::var(var)
        .map_err(|_| format!("{var} is not set: run the tests with scripts/test").into())
}

/// The Python of the test tools' virtualenv (aiosmtpd, xmlschema, bagit, sickle, …).
pub fn python() -> Result<String, Error> {
    tool("HOLDFAST_TEST_PYTHON")
}

/// rocfl, which validates whole OCFL roots (layout 0004 included).
pub fn rocfl() -> Result<PathBuf, Error> {
    let path = PathBuf::from(tool("HOLDFAST_ROCFL")?);
    if !path.is_file() {
        return Err(format!("rocfl not found at {}", path.display()).into());
    }
    Ok(path)
}

/// Runs ocfl-py's validator on every object of an OCFL root; fails when any object is
/// invalid or the root holds none.
pub fn validate_ocfl_root(root: &Path) -> TestResult {
    let validator = tool("HOLDFAST_OCFL_VALIDATE")?;
    let mut objects = Vec::new();
    find_objects(root, &mut objects)?;
    if objects.is_empty() {
        return Err(format!("no OCFL object under {}", root.display()).into());
    }
    for object in objects {
        let out = std::process::Command::new(&validator)
            .arg(&object)
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || text.contains("[E") {
            return Err(format!(
                "ocfl-validate.py says {} is invalid:\n{text}",
                object.display()
            )
            .into());
        }
    }
    Ok(())
}

fn find_objects(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if dir.join("0=ocfl_object_1.1").exists() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            find_objects(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// Validates DataCite XML against the official 4.6 schema with Python's xmlschema.
pub fn validate_datacite_xml(xml: &str) -> TestResult {
    validate_datacite_xml_all(&[xml.to_string()]).map_err(|e| format!("{e}\n{xml}").into())
}

/// Validates DataCite XML documents against the official 4.6 schema, in one Python run.
pub fn validate_datacite_xml_all(documents: &[String]) -> TestResult {
    const CHECK: &str = r#"
import sys, xmlschema
schema = xmlschema.XMLSchema(sys.argv[1])
bad = []
for f in sys.argv[2:]:
    try:
        schema.validate(f)
    except Exception as e:
        bad.append(f + ": " + str(e))
print("\n".join(bad))
sys.exit(1 if bad else 0)
"#;
    let xsd = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/datacite/kernel-4.6/metadata.xsd"
    );
    let dir = tempfile::tempdir()?;
    let mut files = Vec::new();
    for (i, xml) in documents.iter().enumerate() {
        let file = dir.path().join(format!("record-{i}.xml"));
        std::fs::write(&file, xml)?;
        files.push(file);
    }
    let out = std::process::Command::new(python()?)
        .args(["-c", CHECK, xsd])
        .args(&files)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "DataCite XML does not validate against the 4.6 XSD:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Validates an OAI-PMH answer against the OAI-PMH 2.0 schema with Python's xmlschema,
/// the records' metadata strictly against their own schemas (oai_dc, oai_datacite 1.1,
/// DataCite 4.6), all from tests/data (nothing is fetched). The oai-identifier
/// description of Identify is the one part left unchecked: its schema is not vendored.
pub fn validate_oai_pmh(xml: &str) -> TestResult {
    const CHECK: &str = r#"
import sys, xmlschema
data, doc = sys.argv[1], sys.argv[2]
schema = xmlschema.XMLSchema(
    data + "/oai-pmh/OAI-PMH.xsd",
    locations=[
        ("http://www.openarchives.org/OAI/2.0/oai_dc/", data + "/oai-pmh/oai_dc.xsd"),
        ("http://schema.datacite.org/oai/oai-1.1/", data + "/oai-pmh/oai_datacite-1.1.xsd"),
        ("http://datacite.org/schema/kernel-4", data + "/datacite/kernel-4.6/metadata.xsd"),
    ],
    uri_mapper={
        "http://dublincore.org/schemas/xmls/simpledc20021212.xsd":
            data + "/oai-pmh/simpledc20021212.xsd",
    },
)
unchecked = "unavailable namespace 'http://www.openarchives.org/OAI/2.0/oai-identifier'"
errors = [e for e in schema.iter_errors(doc, use_location_hints=False) if unchecked not in str(e)]
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
"#;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("answer.xml");
    std::fs::write(&file, xml)?;
    let out = std::process::Command::new(python()?)
        .args([
            "-c",
            CHECK,
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"),
        ])
        .arg(&file)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "the OAI-PMH answer does not validate:\n{}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Validates an unpacked BagIt bag with bagit-python (`python -m bagit --validate`).
pub fn validate_bag(bag: &Path) -> TestResult {
    let out = std::process::Command::new(python()?)
        .args(["-m", "bagit", "--validate"])
        .arg(bag)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "bagit.py says the bag is invalid:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Validates a whole OCFL storage root with rocfl (layout 0004 included).
pub fn validate_ocfl_root_with_rocfl(root: &Path) -> TestResult {
    let out = std::process::Command::new(rocfl()?)
        .arg("-r")
        .arg(root)
        .arg("validate")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "rocfl says {} is invalid: {}{}",
            root.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// `/metrics` as Prometheus's Python client parses it (OpenMetrics text): every sample
/// as `name{label="value",…}` (labels sorted; `name` alone without labels) → value. Fails on text the parser refuses.
pub fn parse_metrics(text: &str) -> Result<std::collections::BTreeMap<String, f64>, Error> {
    const READ: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
        out[s.name + ("{%s}" % labels if labels else "")] = s.value
json.dump(out, sys.stdout)
"#;
    use std::io::Write;
    let mut child = std::process::Command::new(python()?)
        .args(["-c", READ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("python's stdin")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!(
            "prometheus_client refuses /metrics: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Validates a sitemap (`urlset`) or sitemap index (`sitemapindex`) against the
/// Sitemaps 0.9 schemas in tests/data/sitemaps with Python's xmlschema.
pub fn validate_sitemap(xml: &str) -> TestResult {
    let schema = if xml.contains("<sitemapindex") {
        "siteindex.xsd"
    } else {
        "sitemap.xsd"
    };
    let xsd = format!(
        "{}/tests/data/sitemaps/{schema}",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("sitemap.xml");
    std::fs::write(&file, xml)?;
    let out = std::process::Command::new(python()?)
        .args([
            "-c",
            "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])",
            &xsd,
        ])
        .arg(&file)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "the sitemap does not validate against {schema}:\n{}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}
