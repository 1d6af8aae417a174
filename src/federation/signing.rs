//! How an origin and its replica prove who is asking, and how a replica proves it holds
//! bytes.
//!
//! Requests from an origin to a replica (challenges, file fetches for repair) carry
//! `X-Holdfast-Signature: hmac-sha256=<hex>`, an HMAC-SHA256 of the exact request body
//! keyed by the 32 bytes of sha256(partner token), as receipts are. The origin keeps
//! only that hash of
//! the token it issued (`federation_partners.token_hash`); the replica holds the token
//! itself (`replication_sources.token`) and computes the same key, so neither side
//! stores anything new and no token crosses the wire. The body carries `issued_at`,
//! refused when more than [`MAX_SKEW_SECS`] away from the replica's clock.
//!
//! A challenge answer per file is sha256(nonce ‖ file bytes), the nonce being 32 fresh
//! random bytes (sent as hex) per file: no stored digest can produce it, only the bytes.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The request header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-holdfast-signature";
const SCHEME: &str = "hmac-sha256=";
/// How far apart the origin's and the replica's clocks may be.
pub const MAX_SKEW_SECS: i64 = 300;
/// Bytes of a challenge nonce.
pub const NONCE_BYTES: usize = 32;

/// The HMAC key of a partner on the replica side: sha256 of the token it holds.
pub fn key_of_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The HMAC key of a partner on the origin side: its stored token hash, decoded.
pub fn key_of_hash(token_hash: &str) -> Vec<u8> {
    hex::decode(token_hash).unwrap_or_default()
}

fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    mac
}

/// The header value signing `body` with `key`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    format!(
        "{SCHEME}{}",
        hex::encode(mac(key, body).finalize().into_bytes())
    )
}

/// Whether `header` is a valid signature of `body` under `key` (constant time).
pub fn verify(key: &[u8], body: &[u8], header: &str) -> bool {
    let Some(sig) = header.trim().strip_prefix(SCHEME) else {
        return false;
    };
    let Ok(sig) = hex::decode(sig) else {
        return false;
    };
    mac(key, body).verify_slice(&sig).is_ok()
}

/// Whether a request issued at `issued_at` is fresh enough to answer at `now`.
pub fn fresh(issued_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (now - issued_at).num_seconds().abs() <= MAX_SKEW_SECS
}

/// A fresh random nonce, as hex.
pub fn nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A nonce sent by an origin: exactly [`NONCE_BYTES`] bytes of hex.
pub fn parse_nonce(hex_nonce: &str) -> Option<Vec<u8>> {
    let bytes = hex::decode(hex_nonce).ok()?;
    (bytes.len() == NONCE_BYTES).then_some(bytes)
}

/// sha256(nonce ‖ bytes), fed as the bytes are read; `plain` is the file's own sha256,
/// computed in the same pass (the origin checks its copy against its record with it).
pub struct ChallengeHasher {
    salted: Sha256,
    plain: Sha256,
    size: u64,
}

impl ChallengeHasher {
    pub fn new(nonce: &[u8]) -> ChallengeHasher {
        let mut salted = Sha256::new();
        salted.update(nonce);
        ChallengeHasher {
            salted,
            plain: Sha256::new(),
            size: 0,
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.salted.update(chunk);
        self.plain.update(chunk);
        self.size += chunk.len() as u64;
    }

    /// (sha256(nonce ‖ bytes), sha256(bytes), size), as lowercase hex.
    pub fn finish(self) -> (String, String, u64) {
        (
            hex::encode(self.salted.finalize()),
            hex::encode(self.plain.finalize()),
            self.size,
        )
    }
}

/// sha256(nonce ‖ bytes) of bytes in memory (tests, small files).
pub fn challenge_digest(nonce: &[u8], bytes: &[u8]) -> String {
    let mut h = ChallengeHasher::new(nonce);
    h.update(bytes);
    h.finish().0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_the_same_key_and_body() {
        let key = key_of_token("hfp_secret");
        assert_eq!(
            key,
            key_of_hash(&crate::accounts::sessions::token_hash("hfp_secret")),
            "both sides derive the same key"
        );
        let body = br#"{"object_id":"doi:10.5072/x"}"#;
        let header = sign(&key, body);
        assert!(verify(&key, body, &header));
        assert!(!verify(&key, b"{}", &header), "another body");
        assert!(
            !verify(&key_of_token("hfp_other"), body, &header),
            "another key"
        );
        assert!(!verify(&key, body, "hmac-sha256=zz"));
        assert!(!verify(&key, body, &header.replace("hmac-sha256=", "")));
    }

    #[test]
    fn the_answer_depends_on_the_nonce_so_a_stored_digest_cannot_answer() {
        let bytes = b"time,flux\n2019-01-01T00:00,1.5\n";
        let (a, b) = (nonce(), nonce());
        assert_ne!(a, b, "nonces are fresh");
        let (a, b) = (
            parse_nonce(&a).unwrap_or_default(),
            parse_nonce(&b).unwrap_or_default(),
        );
        assert_eq!(a.len(), NONCE_BYTES);
        let (da, db) = (challenge_digest(&a, bytes), challenge_digest(&b, bytes));
        assert_ne!(da, db, "the same bytes answer differently per nonce");
        let plain = hex::encode(Sha256::digest(bytes));
        assert_ne!(da, plain, "the plain digest is not the answer");
        // sha256(nonce ‖ bytes), as anyone can compute it from the bytes.
        let mut joined = a.clone();
        joined.extend_from_slice(bytes);
        assert_eq!(da, hex::encode(Sha256::digest(&joined)));
        // Streamed in chunks, with the plain digest and size alongside.
        let mut h = ChallengeHasher::new(&a);
        for chunk in bytes.chunks(7) {
            h.update(chunk);
        }
        assert_eq!(h.finish(), (da, plain, bytes.len() as u64));
    }

    #[test]
    fn nonces_must_be_32_bytes_of_hex_and_requests_fresh() {
        assert!(parse_nonce(&"ab".repeat(32)).is_some());
        assert!(parse_nonce(&"ab".repeat(16)).is_none());
        assert!(parse_nonce("not hex").is_none());
        let now = Utc::now();
        assert!(fresh(now - chrono::Duration::seconds(10), now));
        assert!(!fresh(
            now - chrono::Duration::seconds(MAX_SKEW_SECS + 1),
            now
        ));
        assert!(!fresh(
            now + chrono::Duration::seconds(MAX_SKEW_SECS + 1),
            now
        ));
    }
}
