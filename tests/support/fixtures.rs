//! Shared test data: valid metadata, small CSVs, zips, digests.

/// A small flux table that passes every check.
pub const FLUX_CSV: &[u8] = b"TIMESTAMP,FC\n201901010000,1.5\n";
/// A two-column table with no standard claimed.
pub const XY_CSV: &[u8] = b"x,y\n1,2\n";

/// The minimal valid metadata form (field name, value).
pub fn minimal_form(title: &str) -> Vec<(&str, &str)> {
    vec![
        ("titles[0].title", title),
        ("creators[0].name", "Doe, Jane"),
        ("creators[0].nameType", "Personal"),
        (
            "descriptions[0].description",
            "Half-hourly fluxes of CO2, water and energy.",
        ),
        ("types.resourceTypeGeneral", "Dataset"),
        ("license", "CC-BY-4.0"),
    ]
}

/// Minimal valid metadata as DataCite JSON.
pub fn minimal_json(title: &str) -> serde_json::Value {
    serde_json::json!({
        "titles": [{"title": title}],
        "creators": [{"name": "Doe, Jane", "nameType": "Personal"}],
        "descriptions": [{"description": "Fluxes.", "descriptionType": "Abstract"}],
        "types": {"resourceTypeGeneral": "Dataset"},
        "rightsList": [{"rightsIdentifier": "CC-BY-4.0"}]
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Builds a zip in memory from (name, bytes) pairs.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts: zip::write::SimpleFileOptions = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, opts).expect("zip entry");
            w.write_all(bytes).expect("zip write");
        }
        w.finish().expect("zip finish");
    }
    buf.into_inner()
}

/// A path of a dataset file as it goes in a URL: each segment percent-encoded.
pub fn url_path(path: &str) -> String {
    path.split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Pseudo-random bytes (a fixed xorshift from `seed`) that do not compress and do not
/// repeat a pattern.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
