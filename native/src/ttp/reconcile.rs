//! The data-quality invariant of token events (spec §4, the reference's VerifyEvents), and
//! the balance changes it compares against.
//!
//! Per transaction, what the events say each (holder, asset) gained must equal what the ledger
//! entries say: fee processing, the transaction's and its operations' changes, and post-apply
//! fee processing, over accounts, trustlines (not pool shares), claimable balances and
//! liquidity pools. Contract holders and custom tokens are outside the check (their balances
//! live in contract storage).

use crate::error::{CoreError, CoreResult};
use crate::ledger::{hex, Ledger, LedgerTx};

use super::balances::{deltas_from_changes, deltas_from_events, differences, owned_rows};
use super::changes::transaction_changes;
use super::events::TokenEvent;

/// One (holder, asset) whose delta from the events differs from the ledger changes:
/// (holder, asset, from_events, from_changes).
pub type BalanceDifference = (String, String, i128, i128);

/// Per transaction, the (holder, asset) -> net delta of its ledger entry changes (Python
/// `balances.deltas_from_changes` over `changes.transaction_changes`), zero sums and C holders
/// dropped, sorted by (holder, asset): the rows of the balance_changes table.
pub fn balance_changes(ledger: &Ledger, tx: &LedgerTx) -> CoreResult<Vec<(String, String, i128)>> {
    let at = |e| located(e, ledger, tx);
    let changes = transaction_changes(ledger, tx).map_err(at)?;
    Ok(owned_rows(deltas_from_changes(&changes).map_err(at)?))
}

/// The error with the ledger and transaction it is about in front.
fn located(err: CoreError, ledger: &Ledger, tx: &LedgerTx) -> CoreError {
    err.context(&format!(
        "ledger {}, tx {}",
        ledger.sequence(),
        hex(&tx.hash)
    ))
}

/// VerifyEvents for one transaction: None when the events' deltas (any order) equal the
/// changes' deltas, else the differing (holder, asset, from_events, from_changes), sorted.
pub fn reconcile_transaction(
    ledger: &Ledger,
    tx: &LedgerTx,
    events: &[TokenEvent],
) -> CoreResult<Option<Vec<BalanceDifference>>> {
    let at = |e| located(e, ledger, tx);
    let from_events = deltas_from_events(events).map_err(at)?;
    let changes = transaction_changes(ledger, tx).map_err(at)?;
    let from_changes = deltas_from_changes(&changes).map_err(at)?;
    if from_events == from_changes {
        return Ok(None);
    }
    Ok(Some(differences(&from_events, &from_changes)))
}
