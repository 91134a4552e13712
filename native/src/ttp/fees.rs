//! Fee events derived from results and fee changes (spec §2a, derived mode).
//!
//! Classic transactions pay `feeCharged` once. Soroban transactions are charged their full fee
//! up front and refunded part of the resource fee afterwards; the two are read from the fee
//! account's balance in the meta, since no single field holds the amount first charged.

use std::sync::Arc;

use stellar_xdr::{LedgerEntryChange, LedgerEntryChanges, LedgerEntryData, TransactionMeta};

use crate::error::{CoreError, CoreResult};
use crate::strkey;

use super::events::{EventBody, EventType, TokenEvent, TxContext};
use super::sac::SacAsset;
use crate::ledger::LedgerTx;

/// (last STATE balance, last UPDATED balance) of `account`; 0 where there is none.
///
/// The reference's `getAccountBalanceFromLedgerEntryChanges`: CREATED, REMOVED and RESTORED
/// entries are ignored.
fn balance_span<'a, I>(changes: I, account: &[u8; 32]) -> (i64, i64)
where
    I: IntoIterator<Item = &'a LedgerEntryChange>,
{
    let (mut start, mut end) = (0, 0);
    for change in changes {
        let (entry, is_state) = match change {
            LedgerEntryChange::State(entry) => (entry, true),
            LedgerEntryChange::Updated(entry) => (entry, false),
            _ => continue,
        };
        let LedgerEntryData::Account(acc) = &entry.data else {
            continue;
        };
        if strkey::account_key(&acc.account_id) != account {
            continue;
        }
        if is_state {
            start = acc.balance;
        } else {
            end = acc.balance;
        }
    }
    (start, end)
}

fn entries(changes: Option<&LedgerEntryChanges>) -> impl Iterator<Item = &LedgerEntryChange> {
    changes.into_iter().flat_map(|c| c.0.iter())
}

/// The resource fee refunded to a Soroban transaction's fee account.
///
/// Before protocol 23 the refund is in tx changes after; from 23 on it is in the post-apply
/// fee processing. Only one of them moves the balance, so both are scanned together.
fn soroban_refund(tx: &LedgerTx, hash: &str) -> CoreResult<i128> {
    let after = match &tx.meta {
        TransactionMeta::V3(m) => &m.tx_changes_after,
        TransactionMeta::V4(m) => &m.tx_changes_after,
        _ => {
            return Err(CoreError::token(format!(
                "tx {hash}: a Soroban transaction with TransactionMeta v{}",
                tx.meta_version()
            )))
        }
    };
    let changes = entries(Some(after)).chain(entries(tx.post_apply_fee_processing.as_ref()));
    let (start, end) = balance_span(changes, tx.fee_account_key());
    if start > end {
        return Err(CoreError::token(format!(
            "tx {hash}: Soroban refund lowered the fee balance"
        )));
    }
    Ok(i128::from(end) - i128::from(start))
}

/// What the fee account actually paid: the charge net of any Soroban refund.
///
/// Equals `feeCharged` from the result except for Soroban fee-bump transactions before
/// protocol 21, whose `feeCharged` stellar-core computed wrongly (stellar-core#4188); go's
/// ingest and stellar-etl report this amount for them too.
pub fn paid_fee(tx: &LedgerTx) -> CoreResult<i64> {
    if !tx.is_soroban() {
        return Ok(tx.fee_charged());
    }
    let hash = crate::ledger::hex(&tx.hash);
    let (start, end) = balance_span(entries(Some(&tx.fee_processing)), tx.fee_account_key());
    let paid = i128::from(start) - i128::from(end) - soroban_refund(tx, &hash)?;
    i64::try_from(paid)
        .map_err(|_| CoreError::data(format!("tx {hash}: paid fee {paid} does not fit an int64")))
}

/// The charge, then for Soroban transactions a negative refund when there is one.
pub(crate) fn derived_fee_events(
    ctx: &TxContext,
    tx: &LedgerTx,
    native: &SacAsset,
) -> CoreResult<Vec<TokenEvent>> {
    let fee_account = tx.fee_account_key();
    let payer = strkey::g(fee_account);
    let fee = |amount: i128, payer: String| {
        ctx.event(
            None,
            EventBody {
                contract_address: native.contract_address.clone(),
                event_type: EventType::Fee,
                from: Some(payer),
                to: None,
                asset: Some(Arc::clone(&native.info)),
                amount,
                to_muxed_info: None,
            },
        )
    };
    if !tx.is_soroban() {
        return Ok(vec![fee(i128::from(tx.fee_charged()), payer)]);
    }
    let hash = ctx.hash_hex();
    let (start, end) = balance_span(entries(Some(&tx.fee_processing)), fee_account);
    if end > start {
        return Err(CoreError::token(format!(
            "tx {hash}: fee processing raised the fee balance"
        )));
    }
    let charge = i128::from(start) - i128::from(end);
    let refund = soroban_refund(tx, &hash)?;
    let mut events = Vec::with_capacity(2);
    events.push(fee(charge, payer.clone()));
    if refund > 0 {
        events.push(fee(-refund, payer));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttp::changes::tests::account_entry;

    #[test]
    fn balance_span_takes_the_last_state_and_update_of_the_account() {
        let changes = [
            LedgerEntryChange::State(account_entry([1; 32], 1000)),
            LedgerEntryChange::Updated(account_entry([1; 32], 999)),
            LedgerEntryChange::State(account_entry([2; 32], 5)),
            LedgerEntryChange::Updated(account_entry([2; 32], 1)),
            LedgerEntryChange::Created(account_entry([1; 32], 1)),
        ];
        assert_eq!(balance_span(&changes, &[1; 32]), (1000, 999));
        assert_eq!(balance_span(&changes, &[3; 32]), (0, 0));
    }
}
