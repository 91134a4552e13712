//! The order of a ledger's events (spec §3), which depends on the ledger's protocol version.
//!
//! Fees are charged for every transaction before any is applied. Before protocol 23 a Soroban
//! refund is paid right after its transaction; from 23 on, all refunds are paid after the last
//! transaction. Neither the meta version nor the CAP-67 event stage is consulted.

use crate::error::{CoreError, CoreResult};
use crate::ledger::hex;

use super::events::TokenEvent;

pub(crate) const FIRST_PROTOCOL_WITH_DEFERRED_REFUNDS: u32 = 23;

/// All events of a ledger from (tx hash, fee events, operation events) of its transactions in
/// apply order.
pub(crate) fn ledger_order(
    ledger_sequence: u32,
    protocol_version: u32,
    per_transaction: Vec<([u8; 32], Vec<TokenEvent>, Vec<TokenEvent>)>,
) -> CoreResult<Vec<TokenEvent>> {
    let total = per_transaction
        .iter()
        .map(|(_, f, o)| f.len() + o.len())
        .sum();
    let mut charges = Vec::with_capacity(total);
    let mut body = Vec::with_capacity(total);
    let mut refunds = Vec::new();
    let deferred = protocol_version >= FIRST_PROTOCOL_WITH_DEFERRED_REFUNDS;
    for (tx_hash, fees, operations) in per_transaction {
        if !(1..=2).contains(&fees.len()) {
            return Err(CoreError::token(format!(
                "ledger {ledger_sequence}, tx {}: {} fee events, expected 1 or 2",
                hex(&tx_hash),
                fees.len()
            )));
        }
        let mut fees = fees.into_iter();
        charges.extend(fees.next());
        body.extend(operations);
        if let Some(refund) = fees.next() {
            if deferred {
                refunds.push(refund);
            } else {
                body.push(refund);
            }
        }
    }
    charges.append(&mut body);
    charges.append(&mut refunds);
    Ok(charges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttp::events::{EventBody, EventType, TxContext};

    fn ev(tx: u32, op: Option<usize>, amount: i128) -> TokenEvent {
        let ctx = TxContext {
            ledger_sequence: 1,
            closed_at: 0,
            tx_hash: [0; 32],
            transaction_index: tx,
        };
        let event_type = if op.is_some() {
            EventType::Transfer
        } else {
            EventType::Fee
        };
        ctx.event(
            op,
            EventBody {
                contract_address: String::new(),
                event_type,
                from: None,
                to: None,
                asset: None,
                amount,
                to_muxed_info: None,
            },
        )
    }

    fn order(protocol: u32) -> Vec<(u32, i128)> {
        let txs = vec![
            (
                [1; 32],
                vec![ev(1, None, 10), ev(1, None, -3)],
                vec![ev(1, Some(0), 100)],
            ),
            ([2; 32], vec![ev(2, None, 20)], vec![ev(2, Some(0), 200)]),
        ];
        ledger_order(1, protocol, txs)
            .unwrap()
            .iter()
            .map(|e| (e.transaction_index, e.amount))
            .collect()
    }

    #[test]
    fn refunds_follow_their_transaction_before_23_and_the_ledger_from_23() {
        assert_eq!(order(22), [(1, 10), (2, 20), (1, 100), (1, -3), (2, 200)]);
        assert_eq!(order(23), [(1, 10), (2, 20), (1, 100), (2, 200), (1, -3)]);
    }

    #[test]
    fn a_transaction_needs_one_or_two_fee_events() {
        let err = ledger_order(5, 20, vec![([0xab; 32], vec![], vec![])]).unwrap_err();
        assert!(err.message.contains("ledger 5, tx abab"), "{}", err.message);
        assert!(err.message.contains("0 fee events"), "{}", err.message);
    }
}
