//! A SHA-256 whose state can be saved after any byte and restored later, so an upload
//! resumed after a restart (or on another node) goes on hashing where it stopped
//! instead of re-reading what was already received. `sha2::Sha256` cannot be saved;
//! its compression function (`sha2::compress256`, with the CPU's SHA instructions) can
//! be driven directly, and padding is all that is left to write.

use sha2::digest::consts::U64;
use sha2::digest::generic_array::GenericArray;

const BLOCK: usize = 64;
const STATE_BYTES: usize = 32;
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumableSha256 {
    state: [u32; 8],
    /// Bytes hashed so far.
    len: u64,
    /// The bytes of the current block not yet compressed (always fewer than 64).
    partial: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the saved hash state does not fit an upload offset of {offset} bytes")]
pub struct BadState {
    pub offset: u64,
}

impl Default for ResumableSha256 {
    fn default() -> Self {
        ResumableSha256::new()
    }
}

impl ResumableSha256 {
    pub fn new() -> ResumableSha256 {
        ResumableSha256 {
            state: H0,
            len: 0,
            partial: Vec::with_capacity(BLOCK),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if !self.partial.is_empty() {
            let take = (BLOCK - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial.len() < BLOCK {
                return;
            }
            let block = GenericArray::<u8, U64>::clone_from_slice(&self.partial);
            sha2::compress256(&mut self.state, std::slice::from_ref(&block));
            self.partial.clear();
        }
        let whole = data.len() - data.len() % BLOCK;
        for chunk in data[..whole].chunks_exact(BLOCK) {
            sha2::compress256(
                &mut self.state,
                std::slice::from_ref(GenericArray::from_slice(chunk)),
            );
        }
        self.partial.extend_from_slice(&data[whole..]);
    }

    /// The digest of everything hashed so far (the state itself is left as it is).
    pub fn finalize(&self) -> [u8; 32] {
        let mut state = self.state;
        let mut tail = self.partial.clone();
        tail.push(0x80);
        while tail.len() % BLOCK != BLOCK - 8 {
            tail.push(0);
        }
        tail.extend_from_slice(&(self.len.wrapping_mul(8)).to_be_bytes());
        for chunk in tail.chunks_exact(BLOCK) {
            sha2::compress256(
                &mut state,
                std::slice::from_ref(GenericArray::from_slice(chunk)),
            );
        }
        let mut out = [0u8; 32];
        for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// The state as bytes: eight big-endian words, then the unfinished block. The
    /// length is not stored: it is the upload's offset, which is stored beside it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATE_BYTES + self.partial.len());
        for word in self.state {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(&self.partial);
        out
    }

    /// Restores a state saved by `to_bytes` after `offset` bytes.
    pub fn from_bytes(bytes: &[u8], offset: u64) -> Result<ResumableSha256, BadState> {
        let partial_len = (offset % BLOCK as u64) as usize;
        if bytes.len() != STATE_BYTES + partial_len {
            return Err(BadState { offset });
        }
        let mut state = [0u32; 8];
        for (word, chunk) in state.iter_mut().zip(bytes[..STATE_BYTES].chunks_exact(4)) {
            let mut b = [0u8; 4];
            b.copy_from_slice(chunk);
            *word = u32::from_be_bytes(b);
        }
        let mut partial = Vec::with_capacity(BLOCK);
        partial.extend_from_slice(&bytes[STATE_BYTES..]);
        Ok(ResumableSha256 {
            state,
            len: offset,
            partial,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn reference(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(
            hex::encode(ResumableSha256::new().finalize()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = ResumableSha256::new();
        h.update(b"abc");
        assert_eq!(
            hex::encode(h.finalize()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_length_matches_sha2() {
        // Lengths around every padding boundary (55, 56, 63, 64, 119, 120 ...).
        let data = sample(300);
        for n in 0..=data.len() {
            let mut h = ResumableSha256::new();
            h.update(&data[..n]);
            assert_eq!(h.finalize(), reference(&data[..n]), "length {n}");
            assert_eq!(h.len(), n as u64);
        }
    }

    #[test]
    fn saved_and_restored_at_every_split_point() {
        let data = sample(1000);
        let whole = reference(&data);
        for split in 0..=data.len() {
            let mut first = ResumableSha256::new();
            first.update(&data[..split]);
            let saved = first.to_bytes();
            let mut resumed = ResumableSha256::from_bytes(&saved, split as u64).unwrap();
            assert_eq!(resumed, first);
            resumed.update(&data[split..]);
            assert_eq!(resumed.finalize(), whole, "split at {split}");
        }
    }

    #[test]
    fn many_pieces_of_odd_sizes() {
        let data = sample(200_003);
        let whole = reference(&data);
        for step in [1usize, 7, 63, 64, 65, 1000, 4096, 65_537] {
            let mut h = ResumableSha256::new();
            let mut offset = 0u64;
            for piece in data.chunks(step) {
                // Save and restore between every piece, as between PATCH requests.
                h = ResumableSha256::from_bytes(&h.to_bytes(), offset).unwrap();
                h.update(piece);
                offset += piece.len() as u64;
            }
            assert_eq!(h.finalize(), whole, "pieces of {step}");
        }
    }

    #[test]
    fn a_state_that_does_not_fit_the_offset_is_refused() {
        let mut h = ResumableSha256::new();
        h.update(b"abcde");
        let saved = h.to_bytes();
        assert!(ResumableSha256::from_bytes(&saved, 5).is_ok());
        assert_eq!(
            ResumableSha256::from_bytes(&saved, 6),
            Err(BadState { offset: 6 })
        );
        assert!(ResumableSha256::from_bytes(&saved[..10], 5).is_err());
    }
}
