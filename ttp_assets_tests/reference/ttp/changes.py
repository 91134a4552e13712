"""Ledger-entry changes as (pre, post) pairs, and which of a transaction's changes count.

This is the reference's ``ingest.Change`` / ``GetChangesFromLedgerEntryChanges`` and the
``LedgerTransaction.GetOperationChanges`` / ``GetChanges`` / fee-change accessors that both the
derivation rules and VerifyEvents read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from stellar_sdk import xdr

from ..xdr.ledger import DecodedLedger, LedgerTransaction
from .errors import TokenTransferError

_STATE = xdr.LedgerEntryChangeType.LEDGER_ENTRY_STATE
_CREATED = xdr.LedgerEntryChangeType.LEDGER_ENTRY_CREATED
_UPDATED = xdr.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED
_REMOVED = xdr.LedgerEntryChangeType.LEDGER_ENTRY_REMOVED
_RESTORED = xdr.LedgerEntryChangeType.LEDGER_ENTRY_RESTORED
_TX_INTERNAL_ERROR = xdr.TransactionResultCode.txINTERNAL_ERROR


@dataclass(frozen=True, slots=True)
class EntryChange:
    """One entry's state before (``pre``) and after (``post``) a change; either may be None.

    CREATED and RESTORED have only ``post``; UPDATED has both; REMOVED has only ``pre``.
    """

    entry_type: xdr.LedgerEntryType
    change_type: xdr.LedgerEntryChangeType
    pre: xdr.LedgerEntry | None
    post: xdr.LedgerEntry | None


def paired(changes: xdr.LedgerEntryChanges | None) -> Iterator[EntryChange]:
    """Pair a ``LedgerEntryChanges`` list: each UPDATED/REMOVED with the entry just before it.

    stellar-core writes every UPDATED and REMOVED right after the entry's STATE, or, from
    protocol 23, right after its RESTORED when an archived entry is restored and then changed in
    the same operation (the restored value is then the state the update starts from). Pairs
    come in meta order; the reference also sorts them by ledger key, which only the revocation
    rule depends on, and it sorts its pool changes itself.
    """
    if changes is None:
        return
    before: xdr.LedgerEntry | None = None
    for change in changes.ledger_entry_changes:
        t = change.type
        if t == _STATE:
            before = change.state
            continue
        if t == _CREATED:
            yield EntryChange(change.created.data.type, t, None, change.created)
            before = None
        elif t == _RESTORED:
            yield EntryChange(change.restored.data.type, t, None, change.restored)
            before = change.restored
        else:
            if before is None:
                raise TokenTransferError(
                    f"ledger entry change {t.name} is not preceded by the entry's state"
                )
            yield EntryChange(
                before.data.type, t, before, change.updated if t == _UPDATED else None
            )
            before = None


def _internal_error_drops_operations(ledger: DecodedLedger, tx: LedgerTransaction) -> bool:
    # stellar/go#2111: up to protocol 12 a txINTERNAL_ERROR transaction's operation (and
    # tx-after) metas are not to be trusted, and the reference leaves them out.
    return tx.result.result.code == _TX_INTERNAL_ERROR and ledger.protocol_version <= 12


def _operation_metas(tx: LedgerTransaction) -> list:
    meta = tx.meta
    if meta.v == 0:
        raise TokenTransferError(
            f"tx {tx.hash.hex()}: TransactionMeta v0 is not supported (no per-operation changes)"
        )
    return tx.operation_metas()


def operation_changes(
    ledger: DecodedLedger, tx: LedgerTransaction, op_index0: int
) -> list[EntryChange]:
    """The paired changes of one operation (``GetOperationChanges``)."""
    metas = _operation_metas(tx)
    if _internal_error_drops_operations(ledger, tx) or op_index0 >= len(metas):
        return []
    return list(paired(metas[op_index0].changes))


def transaction_changes(ledger: DecodedLedger, tx: LedgerTransaction) -> list[EntryChange]:
    """Everything VerifyEvents balances against, in apply order.

    Fee processing, then ``GetChanges`` (tx changes before, every operation's changes, tx
    changes after; meta v1: tx changes and operations), then post-apply fee processing (LCM v2).
    """
    out = list(paired(tx.fee_processing))
    meta = tx.meta
    metas = _operation_metas(tx)
    if meta.v == 1:
        before, after = meta.v1.tx_changes, None
    else:
        body = {2: meta.v2, 3: meta.v3, 4: meta.v4}.get(meta.v)
        if body is None:
            raise TokenTransferError(f"tx {tx.hash.hex()}: unsupported TransactionMeta v{meta.v}")
        before, after = body.tx_changes_before, body.tx_changes_after
    out.extend(paired(before))
    if not _internal_error_drops_operations(ledger, tx):
        for op_meta in metas:
            out.extend(paired(op_meta.changes))
        out.extend(paired(after))
    out.extend(paired(tx.post_apply_fee_processing))
    return out
