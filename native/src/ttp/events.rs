//! The token transfer event: the one record every TTP path (derived or unified) produces.
//!
//! It mirrors the reference's `TokenTransferEvent` (one of transfer/mint/burn/clawback/fee plus
//! its `EventMeta`, spec §1) flattened into one row-shaped value, with the amount as an exact
//! i128 instead of a decimal string.

use std::sync::Arc;

use crate::assets::AssetInfo;

/// The kind of movement (spec §1.1; `GetEventType()` of the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Transfer,
    Mint,
    Burn,
    Clawback,
    Fee,
}

impl EventType {
    /// The reference's event type string, as stellar-etl writes it (`event_topic`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Transfer => "transfer",
            Self::Mint => "mint",
            Self::Burn => "burn",
            Self::Clawback => "clawback",
            Self::Fee => "fee",
        }
    }
}

/// The destination's multiplexing detail (`to_muxed_info`, spec §1.6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MuxedInfo {
    /// A muxed account id or a `MEMO_ID`.
    Id(u64),
    /// A `MEMO_TEXT` or a string `to_muxed_id` (not-UTF-8 bytes shown as U+FFFD).
    Text(String),
    /// A `MEMO_HASH` / `MEMO_RETURN` (32 bytes) or a bytes `to_muxed_id` at its emitted length.
    Hash(Vec<u8>),
}

/// One token movement.
///
/// `from` is set for transfer/burn/clawback/fee and `to` for transfer/mint; the other is None.
/// `operation_index` and `transaction_index` are 1-based; fee events have no operation index.
/// `asset` is None only for custom (non-SAC) tokens. `amount` is raw units (stroops for classic
/// assets); fee refunds are negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEvent {
    pub ledger_sequence: u32,
    pub closed_at: u64,
    pub tx_hash: [u8; 32],
    pub transaction_index: u32,
    pub operation_index: Option<u32>,
    pub contract_address: String,
    pub event_type: EventType,
    pub from: Option<String>,
    pub to: Option<String>,
    pub asset: Option<Arc<AssetInfo>>,
    pub amount: i128,
    pub to_muxed_info: Option<MuxedInfo>,
}

/// The part of every event's meta that one transaction fixes (the reference's `EventMeta`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxContext {
    pub ledger_sequence: u32,
    pub closed_at: u64,
    pub tx_hash: [u8; 32],
    pub transaction_index: u32,
}

/// What varies per event; the builder's argument, so that call sites name every field.
pub(crate) struct EventBody {
    pub contract_address: String,
    pub event_type: EventType,
    pub from: Option<String>,
    pub to: Option<String>,
    pub asset: Option<Arc<AssetInfo>>,
    pub amount: i128,
    pub to_muxed_info: Option<MuxedInfo>,
}

/// The 1-based operation index of a 0-based position (operations number at most 100).
pub(crate) fn one_based(op_index0: usize) -> u32 {
    u32::try_from(op_index0).map_or(u32::MAX, |i| i.saturating_add(1))
}

impl TxContext {
    /// An event of this transaction; `op_index0` is 0-based (None for fees) as internally.
    pub fn event(&self, op_index0: Option<usize>, body: EventBody) -> TokenEvent {
        TokenEvent {
            ledger_sequence: self.ledger_sequence,
            closed_at: self.closed_at,
            tx_hash: self.tx_hash,
            transaction_index: self.transaction_index,
            operation_index: op_index0.map(one_based),
            contract_address: body.contract_address,
            event_type: body.event_type,
            from: body.from,
            to: body.to,
            asset: body.asset,
            amount: body.amount,
            to_muxed_info: body.to_muxed_info,
        }
    }

    pub fn hash_hex(&self) -> String {
        crate::ledger::hex(&self.tx_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn events_are_send_and_named_like_the_reference() {
        assert_send::<TokenEvent>();
        let names: Vec<_> = [
            EventType::Transfer,
            EventType::Mint,
            EventType::Burn,
            EventType::Clawback,
            EventType::Fee,
        ]
        .iter()
        .map(EventType::name)
        .collect();
        assert_eq!(names, ["transfer", "mint", "burn", "clawback", "fee"]);
    }

    #[test]
    fn operation_indexes_are_one_based() {
        let ctx = TxContext {
            ledger_sequence: 7,
            closed_at: 9,
            tx_hash: [1; 32],
            transaction_index: 2,
        };
        let body = |amount| EventBody {
            contract_address: "C".into(),
            event_type: EventType::Fee,
            from: Some("G".into()),
            to: None,
            asset: None,
            amount,
            to_muxed_info: None,
        };
        assert_eq!(ctx.event(Some(0), body(1)).operation_index, Some(1));
        assert_eq!(ctx.event(None, body(1)).operation_index, None);
        assert_eq!(one_based(usize::MAX), u32::MAX);
    }
}
