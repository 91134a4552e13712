//! The network a batch belongs to: its passphrase and id, which every hash and SAC id uses.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Network {
    /// Short name for messages (`pubnet`, `testnet`, `custom`, ...).
    pub name: String,
    pub passphrase: String,
    /// sha256 of the passphrase.
    pub id: [u8; 32],
}

impl Network {
    pub fn new(name: &str, passphrase: &str) -> Self {
        Self {
            name: name.to_owned(),
            passphrase: passphrase.to_owned(),
            id: Sha256::digest(passphrase.as_bytes()).into(),
        }
    }
}
