"""Balance deltas keyed by (holder strkey, canonical asset), from changes or from events.

These are the two sides of the reference's VerifyEvents (§4), also used by the pre-protocol-8
XLM reconciliation (§2d). Sums are exact Python ints, so contract amounts beyond int64 are fine.
"""

from __future__ import annotations

from collections.abc import Iterable

from stellar_sdk import xdr

from ..xdr.assets import NATIVE, asset_info
from ..xdr.strkeys import account_id, claimable_balance_id, pool_id
from .changes import EntryChange
from .events import BURN, CLAWBACK, FEE, MINT, TRANSFER, TokenEvent

BalanceKey = tuple[str, str]
BalanceDeltas = dict[BalanceKey, int]

_ACCOUNT = xdr.LedgerEntryType.ACCOUNT
_TRUSTLINE = xdr.LedgerEntryType.TRUSTLINE
_CLAIMABLE_BALANCE = xdr.LedgerEntryType.CLAIMABLE_BALANCE
_LIQUIDITY_POOL = xdr.LedgerEntryType.LIQUIDITY_POOL
_POOL_SHARE = xdr.AssetType.ASSET_TYPE_POOL_SHARE


def add_delta(deltas: BalanceDeltas, holder: str, asset: str, delta: int) -> None:
    """Add ``delta`` to (holder, asset); a sum of zero is removed, contract holders are ignored.

    Contract (C…) balances live in contract storage, which neither side can observe in a
    standard way. Every holder here comes from a strkey encoder, so a leading "C" is exactly
    "a valid contract address".
    """
    if holder.startswith("C"):
        return
    key = (holder, asset)
    total = deltas.get(key, 0) + delta
    if total:
        deltas[key] = total
    else:
        deltas.pop(key, None)


def _entry_delta(entry: xdr.LedgerEntry | None, sign: int, deltas: BalanceDeltas) -> None:
    if entry is None:
        return
    data = entry.data
    t = data.type
    if t == _ACCOUNT:
        acc = data.account
        add_delta(deltas, account_id(acc.account_id), NATIVE, sign * acc.balance.int64)
    elif t == _TRUSTLINE:
        line = data.trust_line
        if line.asset.type == _POOL_SHARE:
            return
        add_delta(
            deltas,
            account_id(line.account_id),
            asset_info(line.asset).canonical,
            sign * line.balance.int64,
        )
    elif t == _CLAIMABLE_BALANCE:
        cb = data.claimable_balance
        add_delta(
            deltas,
            claimable_balance_id(cb.balance_id),
            asset_info(cb.asset).canonical,
            sign * cb.amount.int64,
        )
    elif t == _LIQUIDITY_POOL:
        lp = data.liquidity_pool
        holder = pool_id(lp.liquidity_pool_id)
        cp = lp.body.constant_product
        add_delta(
            deltas, holder, asset_info(cp.params.asset_a).canonical, sign * cp.reserve_a.int64
        )
        add_delta(
            deltas, holder, asset_info(cp.params.asset_b).canonical, sign * cp.reserve_b.int64
        )


def deltas_from_changes(changes: Iterable[EntryChange]) -> BalanceDeltas:
    """post − pre of every account, trustline (not pool shares), claimable balance and pool.

    Adding post and subtracting pre separately gives the same sums as the reference's per-change
    ``post − pre`` because addition commutes and zero sums are dropped either way.
    """
    deltas: BalanceDeltas = {}
    for change in changes:
        _entry_delta(change.post, 1, deltas)
        _entry_delta(change.pre, -1, deltas)
    return deltas


def deltas_from_events(events: Iterable[TokenEvent]) -> BalanceDeltas:
    """What the events say each holder gained; custom-token events (no asset) are skipped."""
    deltas: BalanceDeltas = {}
    for ev in events:
        if ev.asset is None:
            continue
        asset = ev.asset.canonical
        t = ev.event_type
        if t == TRANSFER:
            add_delta(deltas, ev.from_address, asset, -ev.amount)
            add_delta(deltas, ev.to_address, asset, ev.amount)
        elif t == MINT:
            add_delta(deltas, ev.to_address, asset, ev.amount)
        elif t in (BURN, CLAWBACK, FEE):
            add_delta(deltas, ev.from_address, asset, -ev.amount)
        else:
            raise ValueError(f"unknown token event type {t!r}")
    return deltas
