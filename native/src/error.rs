//! The one error type of the crate: what went wrong, of which kind, and where.
//!
//! The kind decides the Python exception class (see `binding`); the message always names the
//! ledger (or the batch position when the header itself cannot be read).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bytes that cannot be trusted: bad XDR, a broken hash, a missing or misplaced ledger.
    LedgerData,
    /// Data the token transfer processor cannot turn into events (the spec's errors).
    TokenTransfer,
    /// A ledger of another network than the one configured (transactions do not pair).
    Network,
    /// A bug in this crate (a caught panic, a column that does not fit its schema).
    Internal,
}

#[derive(Debug, Clone)]
pub struct CoreError {
    pub kind: ErrorKind,
    pub message: String,
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn data(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::LedgerData,
            message: message.into(),
        }
    }

    pub fn token(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::TokenTransfer,
            message: message.into(),
        }
    }

    pub fn network(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Network,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }

    /// The same error with `prefix: ` in front of its message (where it happened).
    #[must_use]
    pub fn context(self, prefix: &str) -> Self {
        Self {
            kind: self.kind,
            message: format!("{prefix}: {}", self.message),
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CoreError {}
