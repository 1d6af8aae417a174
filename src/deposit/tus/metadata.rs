//! The `Upload-Metadata` header of a tus creation request: comma-separated pairs of a
//! key and a base64 value (`dataset MTI=,path ZGF0YS9hLmNzdg==`), which bind the
//! upload to a draft and a path in it.

use base64::Engine as _;

use crate::deposit::ingest::DatasetPath;
use crate::error::DomainError;

/// What the metadata says about the file being uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    pub dataset_id: i64,
    pub path: DatasetPath,
    /// The whole file's SHA-256, if the client gave one (`sha256`, hex or base64).
    pub expected_sha256: Option<[u8; 32]>,
}

fn bad(message: impl Into<String>) -> DomainError {
    DomainError::BadRequest(format!("Upload-Metadata: {}", message.into()))
}

/// Splits the header into (key, decoded value) pairs.
pub fn parse_pairs(header: &str) -> Result<Vec<(String, String)>, DomainError> {
    let mut pairs = Vec::new();
    for item in header.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let mut parts = item.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().unwrap_or_default().to_string();
        let value = match parts.next() {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| bad(format!("the value of '{key}' is not base64")))?;
                String::from_utf8(bytes)
                    .map_err(|_| bad(format!("the value of '{key}' is not UTF-8 text")))?
            }
            None => String::new(),
        };
        if parts.next().is_some() {
            return Err(bad(format!(
                "'{item}' is not a key followed by one base64 value"
            )));
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(bad(format!("the key '{key}' appears twice")));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Reads the draft (`dataset`) and the file's path in it (`path`, or `filename` with an
/// optional `folder`, as browser clients send) from the header.
pub fn parse_target(header: Option<&str>) -> Result<UploadTarget, DomainError> {
    let Some(header) = header else {
        return Err(bad(
            "missing; send at least 'dataset' (the draft's id) and 'path' (the file's path in it)",
        ));
    };
    let pairs = parse_pairs(header)?;
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let dataset = get("dataset").ok_or_else(|| bad("'dataset' (the draft's id) is missing"))?;
    let dataset_id = dataset
        .parse::<i64>()
        .map_err(|_| bad(format!("'dataset' must be a dataset id, not '{dataset}'")))?;
    let raw_path = match (get("path"), get("filename")) {
        (Some(path), _) => path,
        (None, Some(name)) => {
            crate::deposit::uploads::join_folder(&get("folder").unwrap_or_default(), &name)
        }
        (None, None) => {
            return Err(bad(
                "'path' (where the file goes in the dataset, e.g. data/fluxes.csv) is missing",
            ))
        }
    };
    let path = DatasetPath::parse(&raw_path)
        .map_err(|e| bad(format!("the path '{raw_path}' cannot be used: {e}")))?;
    let expected_sha256 = get("sha256").map(|v| parse_digest(&v)).transpose()?;
    Ok(UploadTarget {
        dataset_id,
        path,
        expected_sha256,
    })
}

/// A SHA-256 given as 64 hex digits or as base64.
fn parse_digest(value: &str) -> Result<[u8; 32], DomainError> {
    let mut out = [0u8; 32];
    if value.len() == 64 && hex::decode_to_slice(value, &mut out).is_ok() {
        return Ok(out);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| bad("'sha256' must be 64 hex digits or base64"))?;
    out = bytes
        .try_into()
        .map_err(|_| bad("'sha256' must be a 32-byte digest"))?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn reads_dataset_path_and_digest() {
        let hex_digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let header = format!(
            "dataset {},path {}, sha256 {},is_confidential",
            b64("12"),
            b64("data/a.csv"),
            b64(hex_digest)
        );
        let t = parse_target(Some(&header)).unwrap();
        assert_eq!(t.dataset_id, 12);
        assert_eq!(t.path.as_str(), "data/a.csv");
        assert_eq!(hex::encode(t.expected_sha256.unwrap()), hex_digest);
    }

    #[test]
    fn filename_and_folder_as_browsers_send_them() {
        let header = format!(
            "dataset {},filename {},folder {}",
            b64("3"),
            b64("big.nc"),
            b64("/raw/")
        );
        assert_eq!(
            parse_target(Some(&header)).unwrap().path.as_str(),
            "raw/big.nc"
        );
    }

    #[test]
    fn bad_metadata_is_a_clear_400() {
        let cases = [
            (None, "missing"),
            (Some(format!("path {}", b64("a.csv"))), "'dataset'"),
            (Some(format!("dataset {}", b64("1"))), "'path'"),
            (
                Some(format!("dataset {},path {}", b64("1"), b64("../etc"))),
                "cannot be used",
            ),
            (
                Some(format!("dataset {},path {}", b64("x"), b64("a"))),
                "dataset id",
            ),
            (Some("dataset !!!".to_string()), "not base64"),
            (
                Some(format!("dataset {},dataset {}", b64("1"), b64("2"))),
                "twice",
            ),
            (
                Some(format!(
                    "dataset {},path {},sha256 {}",
                    b64("1"),
                    b64("a"),
                    b64("abc")
                )),
                "sha256",
            ),
        ];
        for (header, needle) in cases {
            match parse_target(header.as_deref()) {
                Err(DomainError::BadRequest(m)) => {
                    assert!(m.contains(needle), "{header:?}: {m}")
                }
                other => panic!("{header:?}: {other:?}"),
            }
        }
    }
}
