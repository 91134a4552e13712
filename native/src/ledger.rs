//! A decoded ledger: its header and its transactions in apply order, each with its envelope.
//!
//! The LCM lists results and metas in apply order but envelopes in tx-set order; envelopes are
//! paired with results through their hash, computed with the network id. A hash that matches
//! nothing means the ledger is corrupt or belongs to another network, and that is an error.

use stellar_xdr::{
    ContractEvent, FeeBumpTransactionInnerTx, InnerTransactionResultResult, LedgerCloseMetaExt,
    LedgerEntryChanges, LedgerHeader, Memo, MuxedAccount, Operation, OperationResult,
    SorobanTransactionData, Transaction, TransactionEnvelope, TransactionExt, TransactionMeta,
    TransactionResult, TransactionResultCode, TransactionResultResult, TransactionV0, Uint256,
};

use crate::error::{CoreError, CoreResult};
use crate::fasthash::RandomKeyMap;
use crate::lcm::{self, ParsedLcm};

pub struct Ledger {
    pub lcm_version: u8,
    pub ext: Option<LedgerCloseMetaExt>,
    pub hash: [u8; 32],
    pub header: LedgerHeader,
    pub transactions: Vec<LedgerTx>,
}

/// One transaction of a ledger, in apply order, with its result, meta and envelope.
pub struct LedgerTx {
    /// 1-based apply order, as the reference's EventMeta.transaction_index.
    pub index: u32,
    pub hash: [u8; 32],
    pub result: TransactionResult,
    pub fee_processing: LedgerEntryChanges,
    pub meta: TransactionMeta,
    pub post_apply_fee_processing: Option<LedgerEntryChanges>,
    pub envelope: TransactionEnvelope,
}

/// The (inner) transaction body: a `Transaction`, or for v0 envelopes a `TransactionV0`.
#[derive(Clone, Copy)]
pub enum TxBody<'a> {
    V0(&'a TransactionV0),
    V1(&'a Transaction),
}

/// The per-operation metas of a transaction meta: v0-v3 carry changes, v4 also events.
pub enum OperationMetas<'a> {
    Classic(&'a [stellar_xdr::OperationMeta]),
    V2(&'a [stellar_xdr::OperationMetaV2]),
}

impl<'a> OperationMetas<'a> {
    pub fn len(&self) -> usize {
        match self {
            Self::Classic(m) => m.len(),
            Self::V2(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Operation ``i``'s changes, borrowed for as long as the transaction.
    pub fn changes(&self, i: usize) -> Option<&'a LedgerEntryChanges> {
        match *self {
            Self::Classic(m) => m.get(i).map(|op| &op.changes),
            Self::V2(m) => m.get(i).map(|op| &op.changes),
        }
    }
}

impl Ledger {
    pub fn sequence(&self) -> u32 {
        self.header.ledger_seq
    }

    pub fn protocol_version(&self) -> u32 {
        self.header.ledger_version
    }

    pub fn close_time(&self) -> u64 {
        self.header.scp_value.close_time.0
    }

    /// Check the stored bytes against the header (hash, and unless `commitments` is false the
    /// tx-set and result commitments) and pair every applied transaction with its envelope
    /// under `network_name`'s id.
    pub fn from_parsed(
        parsed: ParsedLcm,
        network_name: &str,
        commitments: bool,
    ) -> CoreResult<Self> {
        let seq = parsed.header.ledger_seq;
        if parsed.computed_hash != parsed.recorded_hash {
            return Err(CoreError::data(format!(
                "ledger {seq} header hashes to {} but records {} (tampered or corrupt data)",
                hex(&parsed.computed_hash),
                hex(&parsed.recorded_hash)
            )));
        }
        let committed_set = parsed.header.scp_value.tx_set_hash.0;
        if commitments && parsed.tx_set_hash != committed_set {
            return Err(CoreError::data(format!(
                "ledger {seq} transaction set hashes to {}, but the header commits to {} \
                 (corrupt data)",
                hex(&parsed.tx_set_hash),
                hex(&committed_set)
            )));
        }
        let committed_results = parsed.header.tx_set_result_hash.0;
        if commitments && parsed.result_set_hash != committed_results {
            return Err(CoreError::data(format!(
                "ledger {seq} transaction results hash to {}, but the header commits to {} \
                 (corrupt data)",
                hex(&parsed.result_set_hash),
                hex(&committed_results)
            )));
        }
        if parsed.envelopes.len() != parsed.processing.len() {
            return Err(CoreError::data(format!(
                "ledger {seq}: tx set holds {} envelopes but {} were applied",
                parsed.envelopes.len(),
                parsed.processing.len()
            )));
        }
        let mut by_hash: RandomKeyMap<[u8; 32], Option<TransactionEnvelope>> =
            RandomKeyMap::with_capacity_and_hasher(parsed.envelopes.len(), Default::default());
        for (envelope, hash) in parsed.envelopes {
            by_hash.insert(hash, Some(envelope));
        }
        let mut transactions = Vec::with_capacity(parsed.processing.len());
        for (i, p) in parsed.processing.into_iter().enumerate() {
            let hash = p.result.transaction_hash.0;
            let envelope = by_hash
                .get_mut(&hash)
                .and_then(Option::take)
                .ok_or_else(|| {
                    CoreError::network(format!(
                        "ledger {seq}: applied transaction {} has no envelope in the tx set when \
                     hashed for network {network_name:?}; the ledger is corrupt or from another \
                     network (check TTP_NETWORK)",
                        hex(&hash)
                    ))
                })?;
            transactions.push(LedgerTx {
                index: u32::try_from(i + 1).unwrap_or(u32::MAX),
                hash,
                result: p.result.result,
                fee_processing: p.fee_processing,
                meta: p.meta,
                post_apply_fee_processing: p.post_apply_fee_processing,
                envelope,
            });
        }
        Ok(Self {
            lcm_version: parsed.lcm_version,
            ext: parsed.ext,
            hash: parsed.recorded_hash,
            header: parsed.header,
            transactions,
        })
    }

    /// Parse, verify (commitments included) and pair in one step.
    pub fn decode(data: &[u8], network_id: &[u8; 32], network_name: &str) -> CoreResult<Self> {
        Self::from_parsed(lcm::parse(data, network_id)?, network_name, true)
    }
}

impl<'a> TxBody<'a> {
    pub fn source_account(self) -> MuxedAccount {
        match self {
            Self::V0(tx) => MuxedAccount::Ed25519(Uint256(tx.source_account_ed25519.0)),
            Self::V1(tx) => tx.source_account.clone(),
        }
    }

    pub fn source_key(self) -> &'a [u8; 32] {
        match self {
            Self::V0(tx) => &tx.source_account_ed25519.0,
            Self::V1(tx) => crate::strkey::muxed_key(&tx.source_account),
        }
    }

    pub fn fee(self) -> u32 {
        match self {
            Self::V0(tx) => tx.fee,
            Self::V1(tx) => tx.fee,
        }
    }

    pub fn sequence_number(self) -> i64 {
        match self {
            Self::V0(tx) => tx.seq_num.0,
            Self::V1(tx) => tx.seq_num.0,
        }
    }

    pub fn memo(self) -> &'a Memo {
        match self {
            Self::V0(tx) => &tx.memo,
            Self::V1(tx) => &tx.memo,
        }
    }

    pub fn operations(self) -> &'a [Operation] {
        match self {
            Self::V0(tx) => tx.operations.as_slice(),
            Self::V1(tx) => tx.operations.as_slice(),
        }
    }

    pub fn soroban_data(self) -> Option<&'a SorobanTransactionData> {
        match self {
            Self::V0(_) => None,
            Self::V1(tx) => match &tx.ext {
                TransactionExt::V1(data) => Some(data),
                TransactionExt::V0 => None,
            },
        }
    }
}

fn is_success(code: TransactionResultCode) -> bool {
    matches!(
        code,
        TransactionResultCode::TxSuccess | TransactionResultCode::TxFeeBumpInnerSuccess
    )
}

impl LedgerTx {
    pub fn is_fee_bump(&self) -> bool {
        matches!(self.envelope, TransactionEnvelope::TxFeeBump(_))
    }

    pub fn body(&self) -> TxBody<'_> {
        match &self.envelope {
            TransactionEnvelope::TxV0(env) => TxBody::V0(&env.tx),
            TransactionEnvelope::Tx(env) => TxBody::V1(&env.tx),
            TransactionEnvelope::TxFeeBump(env) => {
                let FeeBumpTransactionInnerTx::Tx(inner) = &env.tx.inner_tx;
                TxBody::V1(&inner.tx)
            }
        }
    }

    /// The (inner) transaction's source.
    pub fn source_account(&self) -> MuxedAccount {
        self.body().source_account()
    }

    /// Who pays the fee: the fee-bump source, or the transaction source.
    pub fn fee_account(&self) -> MuxedAccount {
        match &self.envelope {
            TransactionEnvelope::TxFeeBump(env) => env.tx.fee_source.clone(),
            _ => self.source_account(),
        }
    }

    pub fn fee_account_key(&self) -> &[u8; 32] {
        match &self.envelope {
            TransactionEnvelope::TxFeeBump(env) => crate::strkey::muxed_key(&env.tx.fee_source),
            _ => self.body().source_key(),
        }
    }

    pub fn operations(&self) -> &[Operation] {
        self.body().operations()
    }

    pub fn memo(&self) -> &Memo {
        self.body().memo()
    }

    pub fn result_code(&self) -> TransactionResultCode {
        self.result.result.discriminant()
    }

    pub fn successful(&self) -> bool {
        is_success(self.result_code())
    }

    pub fn fee_charged(&self) -> i64 {
        self.result.fee_charged
    }

    /// The inner transaction's hash, for fee bumps.
    pub fn inner_hash(&self) -> Option<[u8; 32]> {
        match &self.result.result {
            TransactionResultResult::TxFeeBumpInnerSuccess(pair)
            | TransactionResultResult::TxFeeBumpInnerFailed(pair) => Some(pair.transaction_hash.0),
            _ => None,
        }
    }

    /// The inner result code of a fee bump (else the result code).
    pub fn inner_result_code(&self) -> TransactionResultCode {
        match &self.result.result {
            TransactionResultResult::TxFeeBumpInnerSuccess(pair)
            | TransactionResultResult::TxFeeBumpInnerFailed(pair) => {
                inner_code(&pair.result.result)
            }
            other => other.discriminant(),
        }
    }

    /// Operation results (the inner ones for fee bumps); None when the tx did not run ops.
    pub fn operation_results(&self) -> Option<&[OperationResult]> {
        match &self.result.result {
            TransactionResultResult::TxSuccess(r) | TransactionResultResult::TxFailed(r) => {
                Some(r.as_slice())
            }
            TransactionResultResult::TxFeeBumpInnerSuccess(pair)
            | TransactionResultResult::TxFeeBumpInnerFailed(pair) => match &pair.result.result {
                InnerTransactionResultResult::TxSuccess(r)
                | InnerTransactionResultResult::TxFailed(r) => Some(r.as_slice()),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn soroban_data(&self) -> Option<&SorobanTransactionData> {
        self.body().soroban_data()
    }

    pub fn is_soroban(&self) -> bool {
        self.soroban_data().is_some()
    }

    pub fn meta_version(&self) -> u8 {
        match self.meta {
            TransactionMeta::V0(_) => 0,
            TransactionMeta::V1(_) => 1,
            TransactionMeta::V2(_) => 2,
            TransactionMeta::V3(_) => 3,
            TransactionMeta::V4(_) => 4,
        }
    }

    /// The transaction-level change lists around the operations': changes before (v1: its
    /// only list, `tx_changes`) and after (v2 on).
    pub fn tx_changes_around(&self) -> (Option<&LedgerEntryChanges>, Option<&LedgerEntryChanges>) {
        match &self.meta {
            TransactionMeta::V0(_) => (None, None),
            TransactionMeta::V1(m) => (Some(&m.tx_changes), None),
            TransactionMeta::V2(m) => (Some(&m.tx_changes_before), Some(&m.tx_changes_after)),
            TransactionMeta::V3(m) => (Some(&m.tx_changes_before), Some(&m.tx_changes_after)),
            TransactionMeta::V4(m) => (Some(&m.tx_changes_before), Some(&m.tx_changes_after)),
        }
    }

    /// Per-operation metas (any meta version).
    pub fn operation_metas(&self) -> OperationMetas<'_> {
        match &self.meta {
            TransactionMeta::V0(ops) => OperationMetas::Classic(ops.as_slice()),
            TransactionMeta::V1(m) => OperationMetas::Classic(m.operations.as_slice()),
            TransactionMeta::V2(m) => OperationMetas::Classic(m.operations.as_slice()),
            TransactionMeta::V3(m) => OperationMetas::Classic(m.operations.as_slice()),
            TransactionMeta::V4(m) => OperationMetas::V2(m.operations.as_slice()),
        }
    }

    /// `GetContractEventsForOperation`: v3 keeps them per transaction, v4 per operation.
    pub fn contract_events_of_operation(&self, op_index0: usize) -> &[ContractEvent] {
        match &self.meta {
            TransactionMeta::V3(m) => m.soroban_meta.as_ref().map_or(&[], |s| s.events.as_slice()),
            // A failed transaction's v4 meta has no operations.
            TransactionMeta::V4(m) => m
                .operations
                .get(op_index0)
                .map_or(&[], |op| op.events.as_slice()),
            _ => &[],
        }
    }
}

fn inner_code(result: &InnerTransactionResultResult) -> TransactionResultCode {
    use InnerTransactionResultResult as R;
    use TransactionResultCode as C;
    match result {
        R::TxSuccess(_) => C::TxSuccess,
        R::TxFailed(_) => C::TxFailed,
        R::TxTooEarly => C::TxTooEarly,
        R::TxTooLate => C::TxTooLate,
        R::TxMissingOperation => C::TxMissingOperation,
        R::TxBadSeq => C::TxBadSeq,
        R::TxBadAuth => C::TxBadAuth,
        R::TxInsufficientBalance => C::TxInsufficientBalance,
        R::TxNoAccount => C::TxNoAccount,
        R::TxInsufficientFee => C::TxInsufficientFee,
        R::TxBadAuthExtra => C::TxBadAuthExtra,
        R::TxInternalError => C::TxInternalError,
        R::TxNotSupported => C::TxNotSupported,
        R::TxBadSponsorship => C::TxBadSponsorship,
        R::TxBadMinSeqAgeOrGap => C::TxBadMinSeqAgeOrGap,
        R::TxMalformed => C::TxMalformed,
        R::TxSorobanInvalid => C::TxSorobanInvalid,
        R::TxFrozenKeyAccessed => C::TxFrozenKeyAccessed,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}
