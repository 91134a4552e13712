//! A hasher for maps keyed by 32-byte hashes and public keys.
//!
//! Those keys are uniformly random already, so their first eight bytes are as good a hash as
//! SipHash of all 32, at a fraction of the cost. Only for keys that come out of SHA-256 or are
//! ed25519 keys: an attacker choosing such keys cannot choose their bytes.

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct RandomKeyHasher(u64);

impl Hasher for RandomKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
    }

    fn write_usize(&mut self, _: usize) {
        // The length prefix of a fixed-size key carries nothing.
    }
}

pub type RandomKeyBuildHasher = BuildHasherDefault<RandomKeyHasher>;
pub type RandomKeyMap<K, V> = std::collections::HashMap<K, V, RandomKeyBuildHasher>;
