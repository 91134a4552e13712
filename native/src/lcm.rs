//! The one place `LedgerCloseMeta` bytes become XDR values, keeping the byte spans that hash.
//!
//! Every value is decoded by `stellar-xdr`; only the walk down to the transaction set and the
//! results is done here, so that the bytes the network hashed are hashed as they were stored:
//!
//! - the header's bytes, whose sha256 is the ledger hash;
//! - the tx set's bytes, whose sha256 the header commits to as `scpValue.txSetHash` (legacy
//!   sets hash `previousLedgerHash || envelope XDR...`);
//! - every result pair's bytes, whose `TransactionResultSet` the header commits to as
//!   `txSetResultHash`;
//! - every envelope's type tag and transaction body, exactly the signature payload body, so a
//!   transaction hash is `sha256(network id || those bytes)` without re-encoding.
//!
//! Transaction meta is not committed to by the header: it must decode completely, and the
//! balance reconciliation checks it downstream.

use std::io::Cursor;

use sha2::{Digest, Sha256};
use stellar_xdr::{
    DecoratedSignature, ExtensionPoint, FeeBumpTransaction, FeeBumpTransactionEnvelope, Hash,
    LedgerCloseMetaExt, LedgerEntry, LedgerEntryChanges, LedgerHeader, LedgerHeaderHistoryEntryExt,
    LedgerKey, Limited, Limits, ReadXdr, ScpHistoryEntry, Transaction, TransactionEnvelope,
    TransactionMeta, TransactionResultPair, TransactionV0, TransactionV0Envelope,
    TransactionV1Envelope, UpgradeEntryMeta, VecM,
};

use crate::error::{CoreError, CoreResult};

/// Deepest nesting the decoder accepts (ScVal trees are recursive): bounded so that hostile
/// input ends in an error, never in a stack overflow. Worker threads get a stack to match.
pub const MAX_DEPTH: u32 = 500;

const ENVELOPE_TYPE_TX_V0: i32 = 0;
const ENVELOPE_TYPE_TX: i32 = 2;
const ENVELOPE_TYPE_TX_FEE_BUMP: i32 = 5;
const TX_TAG: [u8; 4] = (ENVELOPE_TYPE_TX as u32).to_be_bytes();
const KEY_TYPE_ED25519: [u8; 4] = [0; 4];

/// One applied transaction as the LCM lists it (apply order).
pub struct TxProcessing {
    pub result: TransactionResultPair,
    pub fee_processing: LedgerEntryChanges,
    pub meta: TransactionMeta,
    /// LCM v2 only.
    pub post_apply_fee_processing: Option<LedgerEntryChanges>,
}

/// A decoded LCM plus the hashes of its stored bytes.
pub struct ParsedLcm {
    pub lcm_version: u8,
    pub ext: Option<LedgerCloseMetaExt>,
    /// The hash the LCM records for its header.
    pub recorded_hash: [u8; 32],
    /// sha256 of the header's stored bytes.
    pub computed_hash: [u8; 32],
    pub header: LedgerHeader,
    pub tx_set_hash: [u8; 32],
    pub result_set_hash: [u8; 32],
    /// Tx-set order, each with `sha256(network id || signature payload body)`.
    pub envelopes: Vec<(TransactionEnvelope, [u8; 32])>,
    pub processing: Vec<TxProcessing>,
}

type Reader<'a> = Limited<Cursor<&'a [u8]>>;

struct Walker<'a> {
    data: &'a [u8],
    r: Reader<'a>,
    network_id: &'a [u8; 32],
}

/// What is wrong with the XDR, in words.
pub fn describe(err: &stellar_xdr::Error, len: usize) -> String {
    use stellar_xdr::Error as E;
    match err {
        E::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated data (the {len} bytes end inside it)")
        }
        E::LengthLimitExceeded => {
            format!("truncated data (it needs more than the {len} bytes there are)")
        }
        E::Invalid => {
            "an invalid value (an unknown enum value or union arm, or a bool that is not 0 or 1)"
                .to_owned()
        }
        E::LengthExceedsMax => "an array or string longer than its XDR maximum".to_owned(),
        E::NonZeroPadding => "non-zero padding bytes".to_owned(),
        E::DepthLimitExceeded => format!("values nested deeper than {MAX_DEPTH} levels"),
        E::Utf8Error(e) => format!("a string that is not UTF-8 ({e})"),
        other => other.to_string(),
    }
}

fn xdr_error(err: &stellar_xdr::Error, what: &str, at: usize, len: usize) -> CoreError {
    CoreError::data(format!(
        "LedgerCloseMeta XDR does not decode: {what} at byte {at} holds {}",
        describe(err, len)
    ))
}

impl<'a> Walker<'a> {
    fn pos(&self) -> usize {
        // The cursor never moves past the data it reads from, which is a slice in memory.
        usize::try_from(self.r.inner.position()).unwrap_or(usize::MAX)
    }

    /// Decode the next value; `what` names it in errors (built only on error).
    fn read_what<T: ReadXdr>(&mut self, what: impl FnOnce() -> String) -> CoreResult<T> {
        let at = self.pos();
        T::read_xdr(&mut self.r).map_err(|e| xdr_error(&e, &what(), at, self.data.len()))
    }

    fn read<T: ReadXdr>(&mut self) -> CoreResult<T> {
        self.read_what(|| {
            let name = std::any::type_name::<T>();
            format!("a {}", name.rsplit("::").next().unwrap_or(name))
        })
    }

    fn span(&self, start: usize, end: usize) -> &'a [u8] {
        // Both ends come from positions the reader reached, so they are in range.
        self.data.get(start..end).unwrap_or_default()
    }

    /// An array length, refused when it could not fit in what remains.
    fn count(&mut self, what: &str) -> CoreResult<usize> {
        let at = self.pos();
        let n = self.read_what::<u32>(|| format!("the {what} count"))? as usize;
        let remaining = self.data.len().saturating_sub(self.pos());
        if n > remaining {
            return Err(CoreError::data(format!(
                "LedgerCloseMeta XDR does not decode: the {what} count {n} at byte {at} exceeds \
                 the {remaining} bytes that remain"
            )));
        }
        Ok(n)
    }

    fn signatures(&mut self) -> CoreResult<VecM<DecoratedSignature, 20>> {
        self.read()
    }

    /// One envelope, and the hash of its signature payload under the network id.
    fn envelope(&mut self) -> CoreResult<(TransactionEnvelope, [u8; 32])> {
        let start = self.pos();
        let kind: i32 = self.read()?;
        let mut hasher = Sha256::new();
        hasher.update(self.network_id);
        let envelope = match kind {
            ENVELOPE_TYPE_TX => {
                let tx: Transaction = self.read()?;
                hasher.update(self.span(start, self.pos()));
                let signatures = self.signatures()?;
                TransactionEnvelope::Tx(TransactionV1Envelope { tx, signatures })
            }
            ENVELOPE_TYPE_TX_FEE_BUMP => {
                let tx: FeeBumpTransaction = self.read()?;
                hasher.update(self.span(start, self.pos()));
                let signatures = self.signatures()?;
                TransactionEnvelope::TxFeeBump(FeeBumpTransactionEnvelope { tx, signatures })
            }
            ENVELOPE_TYPE_TX_V0 => {
                let body_start = self.pos();
                let tx: TransactionV0 = self.read()?;
                // A v0 transaction is signed as the v1 Transaction it converts to: the same
                // bytes after a KEY_TYPE_ED25519 tag on the source account.
                hasher.update(TX_TAG);
                hasher.update(KEY_TYPE_ED25519);
                hasher.update(self.span(body_start, self.pos()));
                let signatures = self.signatures()?;
                TransactionEnvelope::TxV0(TransactionV0Envelope { tx, signatures })
            }
            other => {
                return Err(CoreError::data(format!(
                    "unknown transaction envelope type {other}"
                )))
            }
        };
        Ok((envelope, hasher.finalize().into()))
    }

    fn envelopes(&mut self, out: &mut Vec<(TransactionEnvelope, [u8; 32])>) -> CoreResult<()> {
        let n = self.count("transaction")?;
        out.reserve(n);
        for _ in 0..n {
            out.push(self.envelope()?);
        }
        Ok(())
    }

    fn optional_base_fee(&mut self) -> CoreResult<()> {
        let _fee: Option<i64> = self.read()?;
        Ok(())
    }

    /// A `GeneralizedTransactionSet` (v1: phases of components or parallel stages).
    fn generalized_tx_set(
        &mut self,
        out: &mut Vec<(TransactionEnvelope, [u8; 32])>,
    ) -> CoreResult<()> {
        let version: i32 = self.read()?;
        if version != 1 {
            return Err(CoreError::data(format!(
                "unknown GeneralizedTransactionSet version {version}"
            )));
        }
        let _previous: Hash = self.read()?;
        for _ in 0..self.count("phase")? {
            match self.read::<i32>()? {
                0 => {
                    for _ in 0..self.count("component")? {
                        let component: i32 = self.read()?;
                        if component != 0 {
                            return Err(CoreError::data(format!(
                                "unknown TxSetComponentType {component}"
                            )));
                        }
                        self.optional_base_fee()?;
                        self.envelopes(out)?;
                    }
                }
                1 => {
                    self.optional_base_fee()?;
                    for _ in 0..self.count("stage")? {
                        for _ in 0..self.count("cluster")? {
                            self.envelopes(out)?;
                        }
                    }
                }
                other => {
                    return Err(CoreError::data(format!(
                        "unknown TransactionPhase version {other}"
                    )))
                }
            }
        }
        Ok(())
    }

    fn array<T: ReadXdr>(&mut self, what: &str) -> CoreResult<()> {
        for _ in 0..self.count(what)? {
            let _: T = self.read()?;
        }
        Ok(())
    }

    /// The front of an LCM: its version, its ext (v1+) and its header entry up to the header.
    fn front(&mut self) -> CoreResult<(HeaderInfo, Option<LedgerCloseMetaExt>)> {
        let version: i32 = self.read()?;
        let lcm_version = match version {
            0..=2 => version as u8,
            other => {
                return Err(CoreError::data(format!(
                    "unknown LedgerCloseMeta version {other}"
                )))
            }
        };
        let ext = if lcm_version > 0 {
            Some(self.read::<LedgerCloseMetaExt>()?)
        } else {
            None
        };
        let recorded: Hash = self.read()?;
        let header_start = self.pos();
        let header: LedgerHeader = self.read_what(|| "the LedgerHeader".to_owned())?;
        let computed_hash: [u8; 32] = Sha256::digest(self.span(header_start, self.pos())).into();
        let info = HeaderInfo {
            lcm_version,
            recorded_hash: recorded.0,
            computed_hash,
            header,
        };
        Ok((info, ext))
    }

    fn lcm(&mut self) -> CoreResult<ParsedLcm> {
        let (front, ext) = self.front()?;
        let lcm_version = front.lcm_version;
        let _: LedgerHeaderHistoryEntryExt = self.read()?;

        let mut envelopes = Vec::new();
        let set_start = self.pos();
        let tx_set_hash: [u8; 32] = if lcm_version == 0 {
            let previous: Hash = self.read()?;
            let txs_start = self.pos() + 4;
            self.envelopes(&mut envelopes)?;
            let mut hasher = Sha256::new();
            hasher.update(previous.0);
            hasher.update(self.span(txs_start, self.pos()));
            hasher.finalize().into()
        } else {
            self.generalized_tx_set(&mut envelopes)?;
            Sha256::digest(self.span(set_start, self.pos())).into()
        };

        let count = self.count("transaction result")?;
        let mut results = Sha256::new();
        results.update((count as u32).to_be_bytes());
        let mut processing = Vec::with_capacity(count);
        for _ in 0..count {
            if lcm_version == 2 {
                let _: ExtensionPoint = self.read()?;
            }
            let start = self.pos();
            let n = processing.len() + 1;
            let result: TransactionResultPair =
                self.read_what(|| format!("the result of transaction #{n}"))?;
            results.update(self.span(start, self.pos()));
            let fee_processing =
                self.read_what(|| format!("the fee changes of transaction #{n}"))?;
            let meta = self.read_what(|| format!("the TransactionMeta of transaction #{n}"))?;
            let post_apply_fee_processing = if lcm_version == 2 {
                Some(self.read_what(|| format!("the post-apply fee changes of transaction #{n}"))?)
            } else {
                None
            };
            processing.push(TxProcessing {
                result,
                fee_processing,
                meta,
                post_apply_fee_processing,
            });
        }
        self.array::<UpgradeEntryMeta>("upgrade")?;
        self.array::<ScpHistoryEntry>("SCP history entry")?;
        if lcm_version > 0 {
            let _live_soroban_state_size: u64 = self.read()?;
            self.array::<LedgerKey>("evicted key")?;
            if lcm_version == 1 {
                self.array::<LedgerEntry>("evicted entry")?;
            }
        }
        let end = self.pos();
        if end != self.data.len() {
            return Err(CoreError::data(format!(
                "{} trailing bytes after the LedgerCloseMeta",
                self.data.len() - end
            )));
        }
        Ok(ParsedLcm {
            lcm_version,
            ext,
            recorded_hash: front.recorded_hash,
            computed_hash: front.computed_hash,
            header: front.header,
            tx_set_hash,
            result_set_hash: results.finalize().into(),
            envelopes,
            processing,
        })
    }
}

fn reader(data: &[u8]) -> Reader<'_> {
    Limited::new(
        Cursor::new(data),
        Limits {
            depth: MAX_DEPTH,
            len: data.len(),
        },
    )
}

/// Decode LCM bytes (v0, v1 or v2), pairing nothing yet; transaction hashes use `network_id`.
pub fn parse(data: &[u8], network_id: &[u8; 32]) -> CoreResult<ParsedLcm> {
    Walker {
        data,
        r: reader(data),
        network_id,
    }
    .lcm()
}

/// What a ledger's header says, read without decoding the rest of the LCM.
pub struct HeaderInfo {
    pub lcm_version: u8,
    pub recorded_hash: [u8; 32],
    pub computed_hash: [u8; 32],
    pub header: LedgerHeader,
}

pub fn read_header(data: &[u8]) -> CoreResult<HeaderInfo> {
    let zero = [0u8; 32];
    let mut walker = Walker {
        data,
        r: reader(data),
        network_id: &zero,
    };
    Ok(walker.front()?.0)
}

/// Split XDR `LedgerCloseMetaBatch` bytes into (start, end, byte ranges of each LCM).
///
/// Each LCM is decoded to find where it ends (the format has no lengths).
pub fn split_batch(data: &[u8]) -> CoreResult<(u32, u32, Vec<std::ops::Range<usize>>)> {
    if data.len() < 12 {
        return Err(CoreError::data(format!(
            "{} bytes is too short for a LedgerCloseMetaBatch",
            data.len()
        )));
    }
    let word = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let (start, end, count) = (word(0), word(4), word(8));
    if end < start || u64::from(count) != u64::from(end) - u64::from(start) + 1 {
        return Err(CoreError::data(format!(
            "batch header says ledgers {start}-{end} but holds {count} ledgers"
        )));
    }
    if count == 1 {
        return Ok((start, end, std::iter::once(12..data.len()).collect()));
    }
    let mut ranges = Vec::with_capacity(count as usize);
    let mut pos = 12;
    for i in 0..count {
        let slice = &data[pos..];
        let mut r = reader(slice);
        stellar_xdr::LedgerCloseMeta::read_xdr(&mut r).map_err(|e| {
            let at = usize::try_from(r.inner.position()).unwrap_or(0);
            CoreError::data(format!(
                "XDR of ledger #{i} of the batch does not decode: byte {} holds {}",
                pos + at,
                describe(&e, slice.len())
            ))
        })?;
        let used = usize::try_from(r.inner.position()).unwrap_or(usize::MAX);
        ranges.push(pos..pos + used);
        pos += used;
    }
    if pos != data.len() {
        return Err(CoreError::data(format!(
            "{} trailing bytes",
            data.len() - pos
        )));
    }
    Ok((start, end, ranges))
}
