//! Ledger-entry changes as (pre, post) pairs, and which of a transaction's changes count.
//!
//! This is the reference's `ingest.Change` / `GetChangesFromLedgerEntryChanges` and the
//! `LedgerTransaction.GetOperationChanges` / `GetChanges` / fee-change accessors that both the
//! derivation rules and VerifyEvents read. Pairs borrow the decoded entries; nothing is copied.

use stellar_xdr::{
    LedgerEntry, LedgerEntryChange, LedgerEntryChanges, TransactionMeta, TransactionResultCode,
};

use crate::error::{CoreError, CoreResult};
use crate::ledger::{hex, Ledger, LedgerTx, OperationMetas};

/// How an entry changed (a `LedgerEntryChangeType` other than STATE, which only opens a pair).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Created,
    Updated,
    Removed,
    Restored,
}

/// One entry's state before (`pre`) and after (`post`) a change; either may be None.
///
/// CREATED and RESTORED have only `post`; UPDATED has both; REMOVED has only `pre`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryChange<'a> {
    pub kind: ChangeKind,
    pub pre: Option<&'a LedgerEntry>,
    pub post: Option<&'a LedgerEntry>,
}

impl<'a> EntryChange<'a> {
    /// The entry the change is about: its state before, else after (as the reference types it).
    pub fn entry(&self) -> Option<&'a LedgerEntry> {
        self.pre.or(self.post)
    }
}

fn kind_name(change: &LedgerEntryChange) -> &'static str {
    match change {
        LedgerEntryChange::Created(_) => "LEDGER_ENTRY_CREATED",
        LedgerEntryChange::Updated(_) => "LEDGER_ENTRY_UPDATED",
        LedgerEntryChange::Removed(_) => "LEDGER_ENTRY_REMOVED",
        LedgerEntryChange::State(_) => "LEDGER_ENTRY_STATE",
        LedgerEntryChange::Restored(_) => "LEDGER_ENTRY_RESTORED",
    }
}

/// Pair a `LedgerEntryChanges` list: each UPDATED/REMOVED with the entry just before it.
///
/// stellar-core writes every UPDATED and REMOVED right after the entry's STATE, or, from
/// protocol 23, right after its RESTORED when an archived entry is restored and then changed in
/// the same operation (the restored value is then the state the update starts from). Pairs
/// come in meta order; the reference also sorts them by ledger key, which only the revocation
/// rule depends on, and it sorts its pool changes itself.
pub(crate) fn pair_into<'a>(
    changes: &'a LedgerEntryChanges,
    out: &mut Vec<EntryChange<'a>>,
) -> CoreResult<()> {
    let mut before: Option<&'a LedgerEntry> = None;
    for change in changes.0.iter() {
        match change {
            LedgerEntryChange::State(entry) => before = Some(entry),
            LedgerEntryChange::Created(entry) => {
                out.push(EntryChange {
                    kind: ChangeKind::Created,
                    pre: None,
                    post: Some(entry),
                });
                before = None;
            }
            LedgerEntryChange::Restored(entry) => {
                out.push(EntryChange {
                    kind: ChangeKind::Restored,
                    pre: None,
                    post: Some(entry),
                });
                before = Some(entry);
            }
            LedgerEntryChange::Updated(_) | LedgerEntryChange::Removed(_) => {
                let Some(pre) = before.take() else {
                    return Err(CoreError::token(format!(
                        "ledger entry change {} is not preceded by the entry's state",
                        kind_name(change)
                    )));
                };
                out.push(match change {
                    LedgerEntryChange::Updated(post) => EntryChange {
                        kind: ChangeKind::Updated,
                        pre: Some(pre),
                        post: Some(post),
                    },
                    _ => EntryChange {
                        kind: ChangeKind::Removed,
                        pre: Some(pre),
                        post: None,
                    },
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn paired(changes: &LedgerEntryChanges) -> CoreResult<Vec<EntryChange<'_>>> {
    let mut out = Vec::with_capacity(changes.0.len());
    pair_into(changes, &mut out)?;
    Ok(out)
}

/// stellar/go#2111: up to protocol 12 a txINTERNAL_ERROR transaction's operation (and
/// tx-after) metas are not to be trusted, and the reference leaves them out.
fn internal_error_drops_operations(ledger: &Ledger, tx: &LedgerTx) -> bool {
    tx.result_code() == TransactionResultCode::TxInternalError && ledger.protocol_version() <= 12
}

/// The per-operation metas; meta v0 is refused, as in the reference (`GetOperationChanges`).
fn operation_metas(tx: &LedgerTx) -> CoreResult<OperationMetas<'_>> {
    if let TransactionMeta::V0(_) = tx.meta {
        return Err(CoreError::token(format!(
            "tx {}: TransactionMeta v0 is not supported (no per-operation changes)",
            hex(&tx.hash)
        )));
    }
    Ok(tx.operation_metas())
}

/// The paired changes of one operation (`GetOperationChanges`).
pub(crate) fn operation_changes<'a>(
    ledger: &Ledger,
    tx: &'a LedgerTx,
    op_index0: usize,
) -> CoreResult<Vec<EntryChange<'a>>> {
    let metas = operation_metas(tx)?;
    if internal_error_drops_operations(ledger, tx) {
        return Ok(Vec::new());
    }
    match metas.changes(op_index0) {
        Some(changes) => paired(changes),
        None => Ok(Vec::new()),
    }
}

/// Everything VerifyEvents balances against, in apply order.
///
/// Fee processing, then `GetChanges` (tx changes before, every operation's changes, tx changes
/// after; meta v1: tx changes and operations), then post-apply fee processing (LCM v2).
pub(crate) fn transaction_changes<'a>(
    ledger: &Ledger,
    tx: &'a LedgerTx,
) -> CoreResult<Vec<EntryChange<'a>>> {
    let metas = operation_metas(tx)?;
    let (before, after) = tx.tx_changes_around();
    let mut out = Vec::with_capacity(tx.fee_processing.0.len() + 8);
    pair_into(&tx.fee_processing, &mut out)?;
    if let Some(before) = before {
        pair_into(before, &mut out)?;
    }
    if !internal_error_drops_operations(ledger, tx) {
        for i in 0..metas.len() {
            if let Some(changes) = metas.changes(i) {
                pair_into(changes, &mut out)?;
            }
        }
        if let Some(after) = after {
            pair_into(after, &mut out)?;
        }
    }
    if let Some(post) = &tx.post_apply_fee_processing {
        pair_into(post, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use stellar_xdr::{
        AccountEntry, AccountEntryExt, AccountId, LedgerEntryData, LedgerEntryExt, LedgerKey,
        LedgerKeyAccount, PublicKey, SequenceNumber, Thresholds, Uint256,
    };

    pub(crate) fn account_entry(key: [u8; 32], balance: i64) -> LedgerEntry {
        LedgerEntry {
            last_modified_ledger_seq: 1,
            data: LedgerEntryData::Account(AccountEntry {
                account_id: AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(key))),
                balance,
                seq_num: SequenceNumber(1),
                num_sub_entries: 0,
                inflation_dest: None,
                flags: 0,
                home_domain: Default::default(),
                thresholds: Thresholds([1, 0, 0, 0]),
                signers: Default::default(),
                ext: AccountEntryExt::V0,
            }),
            ext: LedgerEntryExt::V0,
        }
    }

    fn removed(key: [u8; 32]) -> LedgerEntryChange {
        LedgerEntryChange::Removed(LedgerKey::Account(LedgerKeyAccount {
            account_id: AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(key))),
        }))
    }

    #[test]
    fn pairs_state_with_the_next_update_or_removal() {
        let changes = LedgerEntryChanges(
            vec![
                LedgerEntryChange::State(account_entry([1; 32], 10)),
                LedgerEntryChange::Updated(account_entry([1; 32], 7)),
                LedgerEntryChange::Created(account_entry([2; 32], 3)),
                LedgerEntryChange::State(account_entry([3; 32], 5)),
                removed([3; 32]),
                LedgerEntryChange::Restored(account_entry([4; 32], 1)),
                LedgerEntryChange::Updated(account_entry([4; 32], 2)),
            ]
            .try_into()
            .unwrap(),
        );
        let pairs = paired(&changes).unwrap();
        let kinds: Vec<_> = pairs
            .iter()
            .map(|p| (p.kind, p.pre.is_some(), p.post.is_some()))
            .collect();
        assert_eq!(
            kinds,
            [
                (ChangeKind::Updated, true, true),
                (ChangeKind::Created, false, true),
                (ChangeKind::Removed, true, false),
                (ChangeKind::Restored, false, true),
                (ChangeKind::Updated, true, true),
            ]
        );
    }

    #[test]
    fn an_update_without_state_is_an_error() {
        let changes = LedgerEntryChanges(
            vec![LedgerEntryChange::Updated(account_entry([1; 32], 7))]
                .try_into()
                .unwrap(),
        );
        let err = paired(&changes).unwrap_err();
        assert!(
            err.message.contains("LEDGER_ENTRY_UPDATED is not preceded"),
            "{}",
            err.message
        );
    }
}
