"""The data-quality invariant of token events (§4, the reference's VerifyEvents).

Per transaction, what the events say each (holder, asset) gained must equal what the ledger
entries say: fee processing, the transaction's and its operations' changes, and post-apply fee
processing, over accounts, trustlines (not pool shares), claimable balances and liquidity pools.
Contract holders and custom tokens are outside the check (their balances live in contract
storage).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..xdr.ledger import DecodedLedger, LedgerTransaction
from .balances import deltas_from_changes, deltas_from_events
from .changes import transaction_changes
from .events import FEE, TokenEvent


@dataclass(frozen=True, slots=True)
class BalanceDifference:
    """One (holder, asset) whose delta from the events differs from the ledger changes."""

    holder: str
    asset: str
    from_events: int
    from_changes: int


@dataclass(frozen=True, slots=True)
class TransactionMismatch:
    """A transaction whose events do not account for its balance changes."""

    ledger_sequence: int
    tx_hash: str
    transaction_index: int
    differences: tuple[BalanceDifference, ...]

    def __str__(self) -> str:
        lines = [
            f"ledger {self.ledger_sequence} tx {self.transaction_index} ({self.tx_hash}): "
            "balance deltas from events differ from ledger changes"
        ]
        lines += [
            f"  {d.holder} {d.asset}: events {d.from_events}, changes {d.from_changes}"
            for d in self.differences
        ]
        return "\n".join(lines)


def reconcile_transaction(
    ledger: DecodedLedger, tx: LedgerTransaction, events: Iterable[TokenEvent]
) -> TransactionMismatch | None:
    """None when ``events`` (this transaction's, any order) match its changes."""
    from_events = deltas_from_events(events)
    from_changes = deltas_from_changes(transaction_changes(ledger, tx))
    if from_events == from_changes:
        return None
    keys = sorted(from_events.keys() | from_changes.keys())
    differences = tuple(
        BalanceDifference(key[0], key[1], from_events.get(key, 0), from_changes.get(key, 0))
        for key in keys
        if from_events.get(key, 0) != from_changes.get(key, 0)
    )
    return TransactionMismatch(ledger.sequence, tx.hash.hex(), tx.index, differences)


def _events_by_transaction(
    ledger: DecodedLedger, events: Iterable[TokenEvent]
) -> dict[int, list[TokenEvent]]:
    by_tx: dict[int, list[TokenEvent]] = defaultdict(list)
    count = len(ledger.transactions)
    for ev in events:
        if ev.ledger_sequence != ledger.sequence or not 1 <= ev.transaction_index <= count:
            raise ValueError(
                f"event of ledger {ev.ledger_sequence} tx {ev.transaction_index} does not belong "
                f"to ledger {ledger.sequence} ({count} transactions)"
            )
        by_tx[ev.transaction_index].append(ev)
    return by_tx


def reconcile_ledger(
    ledger: DecodedLedger, events: Iterable[TokenEvent]
) -> list[TransactionMismatch]:
    """Every transaction of the ledger whose events do not match its changes."""
    by_tx = _events_by_transaction(ledger, events)
    mismatches = []
    for tx in ledger.transactions:
        mismatch = reconcile_transaction(ledger, tx, by_tx.get(tx.index, ()))
        if mismatch is not None:
            mismatches.append(mismatch)
    return mismatches


def fee_totals(ledger: DecodedLedger, events: Sequence[TokenEvent]) -> tuple[int, int]:
    """(sum of the ledger's fee events, sum of ``feeCharged`` over its transactions).

    Fee events net of refunds are what the fee accounts paid; ``feeCharged`` is what the results
    report. The package docstring says where the two agree on real data and why they can differ.
    """
    _events_by_transaction(ledger, events)  # refuses events of another ledger
    from_events = sum(ev.amount for ev in events if ev.event_type == FEE)
    charged = sum(tx.result.fee_charged.int64 for tx in ledger.transactions)
    return from_events, charged
