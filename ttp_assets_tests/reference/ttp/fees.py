"""Fee events derived from results and fee changes (§2a, derived mode).

Classic transactions pay ``feeCharged`` once. Soroban transactions are charged their full fee
up front and refunded part of the resource fee afterwards; the two are read from the fee
account's balance in the meta, since no single field holds the amount first charged.
"""

from __future__ import annotations

from stellar_sdk import xdr

from ..xdr.ledger import LedgerTransaction
from ..xdr.strkeys import g_address, muxed_ed25519
from .errors import TokenTransferError
from .events import FEE, TokenEvent, TxEventContext
from .sac_assets import SacAssets

_STATE = xdr.LedgerEntryChangeType.LEDGER_ENTRY_STATE
_UPDATED = xdr.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED
_ACCOUNT = xdr.LedgerEntryType.ACCOUNT


def _balance_span(changes: list[xdr.LedgerEntryChange], account: bytes) -> tuple[int, int]:
    """(last STATE balance, last UPDATED balance) of ``account``; 0 where there is none.

    The reference's ``getAccountBalanceFromLedgerEntryChanges``: CREATED, REMOVED and
    RESTORED entries are ignored.
    """
    start = end = 0
    for change in changes:
        t = change.type
        if t == _STATE:
            entry = change.state
        elif t == _UPDATED:
            entry = change.updated
        else:
            continue
        data = entry.data
        if data.type != _ACCOUNT or data.account.account_id.account_id.ed25519.uint256 != account:
            continue
        if t == _STATE:
            start = data.account.balance.int64
        else:
            end = data.account.balance.int64
    return start, end


def _changes(changes: xdr.LedgerEntryChanges | None) -> list[xdr.LedgerEntryChange]:
    return [] if changes is None else changes.ledger_entry_changes


def _soroban_refund(tx: LedgerTransaction) -> int:
    """The resource fee refunded to a Soroban transaction's fee account.

    Before protocol 23 the refund is in tx changes after; from 23 on it is in the post-apply
    fee processing. Only one of them moves the balance, so both are scanned together.
    """
    meta = tx.meta
    if meta.v not in (3, 4):
        raise TokenTransferError(
            f"tx {tx.hash.hex()}: a Soroban transaction with TransactionMeta v{meta.v}"
        )
    body = meta.v3 if meta.v == 3 else meta.v4
    changes = _changes(body.tx_changes_after) + _changes(tx.post_apply_fee_processing)
    start, end = _balance_span(changes, muxed_ed25519(tx.fee_account))
    if start > end:
        raise TokenTransferError(f"tx {tx.hash.hex()}: Soroban refund lowered the fee balance")
    return end - start


def paid_fee(tx: LedgerTransaction) -> int:
    """What the fee account actually paid: the charge net of any Soroban refund.

    Equals ``feeCharged`` from the result except for Soroban fee-bump transactions before
    protocol 21, whose ``feeCharged`` stellar-core computed wrongly (stellar-core#4188); go's
    ingest and stellar-etl report this amount for them too.
    """
    if not tx.is_soroban:
        return tx.result.fee_charged.int64
    start, end = _balance_span(_changes(tx.fee_processing), muxed_ed25519(tx.fee_account))
    return (start - end) - _soroban_refund(tx)


def derived_fee_events(
    ctx: TxEventContext, tx: LedgerTransaction, assets: SacAssets
) -> list[TokenEvent]:
    """The charge, then for Soroban transactions a negative refund when there is one."""
    native = assets.native
    fee_account = muxed_ed25519(tx.fee_account)
    payer = g_address(fee_account)

    def fee(amount: int) -> TokenEvent:
        return ctx.event(None, native.contract_address, FEE, payer, None, native.info, amount)

    if not tx.is_soroban:
        return [fee(tx.result.fee_charged.int64)]
    start, end = _balance_span(_changes(tx.fee_processing), fee_account)
    if end > start:
        raise TokenTransferError(f"tx {ctx.tx_hash}: fee processing raised the fee balance")
    events = [fee(start - end)]
    refund = _soroban_refund(tx)
    if refund > 0:
        events.append(fee(-refund))
    return events
