"""The pre-protocol-8 XLM reconciliation of derived events (§2d).

Before protocol 8, stellar-core could mint or burn XLM on an operation's source account
(CAP-67, "Pre-protocol 8 bug"). The movement shows in the ledger-entry changes but follows from
no operation rule, so the difference on (operation source, XLM) is emitted as a mint before the
operation's events or a burn after them.
"""

from __future__ import annotations

from ..xdr.assets import NATIVE
from .balances import deltas_from_changes, deltas_from_events
from .changes import EntryChange
from .events import BURN, MINT, TokenEvent, TxEventContext
from .sac_assets import SacAsset

LAST_PROTOCOL_WITH_XLM_BUG = 7


def reconcile_source_xlm(
    ctx: TxEventContext,
    op_index0: int,
    op_source: str,
    op_changes: list[EntryChange],
    events: list[TokenEvent],
    native: SacAsset,
) -> list[TokenEvent]:
    """``events`` with the mint (first) or burn (last) that makes the source's XLM add up."""
    key = (op_source, NATIVE)
    diff = deltas_from_changes(op_changes).get(key, 0) - deltas_from_events(events).get(key, 0)
    if diff > 0:
        mint = ctx.event(
            op_index0, native.contract_address, MINT, None, op_source, native.info, diff
        )
        return [mint, *events]
    if diff < 0:
        burn = ctx.event(
            op_index0, native.contract_address, BURN, op_source, None, native.info, -diff
        )
        return [*events, burn]
    return events
