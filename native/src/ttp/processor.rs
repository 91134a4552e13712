//! The token transfer processor: a decoded ledger in, its token events in ledger order out.
//!
//! Two modes read the same movements from different data (spec §2.0):
//!
//! - `Derived` works on any ledger: fees from results and fee changes, classic operations from
//!   operations, results and ledger-entry changes, Soroban operations from their contract
//!   events.
//! - `Unified` reads CAP-67 events (stellar-core with EMIT_CLASSIC_EVENTS and
//!   BACKFILL_STELLAR_ASSET_EVENTS): tx-level `fee` events and per-operation token events. It
//!   needs meta v4 everywhere and never reads envelopes.

use std::cell::OnceCell;

use stellar_xdr::{OperationBody, TransactionMeta};

use crate::error::CoreResult;
use crate::ledger::{hex, Ledger, LedgerTx};
use crate::network::Network;
use crate::strkey;

use super::changes::operation_changes;
use super::classic::{has_rules, tx_source_party, ClassicOp, Party};
use super::contract::{has_unified_fee_events, token_event, unified_fee_events};
use super::errors::operation_error;
use super::events::{TokenEvent, TxContext};
use super::fees::derived_fee_events;
use super::ordering::ledger_order;
use super::pre_p8::{reconcile_source_xlm, LAST_PROTOCOL_WITH_XLM_BUG};
use super::sac::SacAssets;

/// Which data the events are read from (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Derived,
    Unified,
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Derived => "derived",
            Self::Unified => "unified",
        }
    }
}

/// `Unified` when every transaction carries its CAP-67 fee event(s), else `Derived`.
///
/// Core emits tx-level fee events for all transactions or none, so a ledger where only some
/// have them is not unified data. A ledger without transactions has no events either way and
/// is called `Derived`.
pub fn choose_mode(ledger: &Ledger) -> Mode {
    let txs = &ledger.transactions;
    if !txs.is_empty() && txs.iter().all(has_unified_fee_events) {
        Mode::Unified
    } else {
        Mode::Derived
    }
}

/// Token events of ledgers of one network; keeps the SAC ids of the assets it has met.
pub struct Processor {
    assets: SacAssets,
}

impl Processor {
    pub fn new(network: &Network) -> Self {
        Self {
            assets: SacAssets::new(&network.id),
        }
    }

    /// Every event of the ledger in the order of spec §3.
    pub fn events_for_ledger(
        &mut self,
        ledger: &Ledger,
        mode: Mode,
    ) -> CoreResult<Vec<TokenEvent>> {
        let mut per_tx = Vec::with_capacity(ledger.transactions.len());
        for tx in &ledger.transactions {
            let (fees, operations) = self.events_for_transaction(ledger, tx, mode)?;
            per_tx.push((tx.hash, fees, operations));
        }
        ledger_order(ledger.sequence(), ledger.protocol_version(), per_tx)
    }

    /// (fee events, operation events): the fee charge (and refund), then, if the transaction
    /// succeeded, its operations' events.
    pub fn events_for_transaction(
        &mut self,
        ledger: &Ledger,
        tx: &LedgerTx,
        mode: Mode,
    ) -> CoreResult<(Vec<TokenEvent>, Vec<TokenEvent>)> {
        let ctx = TxContext {
            ledger_sequence: ledger.sequence(),
            closed_at: ledger.close_time(),
            tx_hash: tx.hash,
            transaction_index: tx.index,
        };
        let native = self.assets.native()?;
        let fees = match mode {
            Mode::Unified => unified_fee_events(&ctx, tx, &native),
            Mode::Derived => derived_fee_events(&ctx, tx, &native),
        }
        .map_err(|e| e.context(&format!("ledger {}", ledger.sequence())))?;
        if !tx.successful() {
            return Ok((fees, Vec::new()));
        }
        let operations = match mode {
            Mode::Unified => self.unified_operation_events(&ctx, tx)?,
            Mode::Derived => self.derived_operation_events(&ctx, ledger, tx)?,
        };
        Ok((fees, operations))
    }

    fn unified_operation_events(
        &mut self,
        ctx: &TxContext,
        tx: &LedgerTx,
    ) -> CoreResult<Vec<TokenEvent>> {
        let mut out = Vec::new();
        // unified_fee_events has refused any other meta version.
        if let TransactionMeta::V4(meta) = &tx.meta {
            for (i, op_meta) in meta.operations.iter().enumerate() {
                for event in op_meta.events.iter() {
                    out.extend(token_event(ctx, i, event, 4, &mut self.assets)?);
                }
            }
        }
        Ok(out)
    }

    /// An INVOKE_HOST_FUNCTION operation's token events, from its contract events.
    fn contract_events(
        &mut self,
        ctx: &TxContext,
        tx: &LedgerTx,
        i: usize,
        meta_version: u8,
    ) -> CoreResult<Vec<TokenEvent>> {
        let mut events = Vec::new();
        for event in tx.contract_events_of_operation(i) {
            events.extend(token_event(ctx, i, event, meta_version, &mut self.assets)?);
        }
        Ok(events)
    }

    fn derived_operation_events(
        &mut self,
        ctx: &TxContext,
        ledger: &Ledger,
        tx: &LedgerTx,
    ) -> CoreResult<Vec<TokenEvent>> {
        let memo_info = OnceCell::new();
        let body = tx.body();
        let meta_version = tx.meta_version();
        let mut out = Vec::new();
        for (i, op) in body.operations().iter().enumerate() {
            let events = match &op.body {
                OperationBody::InvokeHostFunction(_) => {
                    self.contract_events(ctx, tx, i, meta_version)
                }
                // No rules for this type, and so no XLM reconciliation either.
                other if !has_rules(other) => continue,
                _ => {
                    let source = match &op.source_account {
                        Some(account) => Party::muxed(account),
                        None => tx_source_party(body),
                    };
                    ClassicOp {
                        ctx,
                        assets: &mut self.assets,
                        ledger,
                        tx,
                        index0: i,
                        op,
                        memo_info: &memo_info,
                        source,
                    }
                    .events()
                    .map(Option::unwrap_or_default)
                }
            };
            let events = events.and_then(|events| {
                if ledger.protocol_version() > LAST_PROTOCOL_WITH_XLM_BUG {
                    return Ok(events);
                }
                let key = match &op.source_account {
                    Some(account) => strkey::muxed_key(account),
                    None => body.source_key(),
                };
                let source = strkey::g(key);
                let changes = operation_changes(ledger, tx, i)?;
                let native = self.assets.native()?;
                reconcile_source_xlm(ctx, i, (key, &source), &changes, events, &native)
            });
            match events {
                Ok(events) => out.extend(events),
                Err(e) => {
                    return Err(operation_error(
                        ledger.sequence(),
                        &hex(&tx.hash),
                        i,
                        &op.body,
                        e,
                    ))
                }
            }
        }
        Ok(out)
    }
}
