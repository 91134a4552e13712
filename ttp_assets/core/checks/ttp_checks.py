"""Proofs over stored token events: balance reconciliation and fee totals.

Both read committed partitions only. Tables are written in ledger order, so the two sides are
merged ledger by ledger and memory stays bounded by one ledger's rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

import pyarrow as pa

from ..storage.partitions_reader import StoredPartition
from ..tables.events import EVENT_COLUMNS_FOR_BALANCES, events_from_batches
from ..ttp.balances import BalanceDeltas, deltas_from_events
from ..ttp.events import FEE
from .ledger_checks import CheckOutcome

MAX_DIFFS_PER_TX = 10


def _by_ledger(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[int, list[dict]]]:
    """Rows grouped by ledger_sequence, for input sorted by it."""
    current: int | None = None
    rows: list[dict] = []
    for batch in batches:
        for r in batch.to_pylist():
            seq = r["ledger_sequence"]
            if current is not None and seq != current:
                if seq < current:
                    raise ValueError(f"rows are not in ledger order ({seq} after {current})")
                yield current, rows
                rows = []
            current = seq
            rows.append(r)
    if current is not None:
        yield current, rows


def _merge(
    left: Iterator[tuple[int, list[dict]]], right: Iterator[tuple[int, list[dict]]]
) -> Iterator[tuple[int, list[dict], list[dict]]]:
    """Ledger-aligned pairs from two ledger-ordered group streams ([] where a side has none)."""
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            yield a[0], a[1], []  # type: ignore[index]
            a = next(left, None)
        elif a is None or b[0] < a[0]:
            yield b[0], [], b[1]
            b = next(right, None)
        else:
            yield a[0], a[1], b[1]
            a, b = next(left, None), next(right, None)


def check_reconciliation(
    events: StoredPartition, balances: StoredPartition, out: CheckOutcome
) -> None:
    """Per transaction, the events' balance deltas equal the ledger entries' (spec §4)."""
    ev_groups = _by_ledger(events.batches(EVENT_COLUMNS_FOR_BALANCES))
    bal_cols = [
        "ledger_sequence",
        "transaction_index",
        "transaction_hash",
        "holder",
        "asset",
        "delta",
    ]
    bal_groups = _by_ledger(balances.batches(bal_cols))
    for seq, ev_rows, bal_rows in _merge(ev_groups, bal_groups):
        by_tx: dict[int, list] = defaultdict(list)
        for ev in events_from_batches([pa.RecordBatch.from_pylist(ev_rows)] if ev_rows else []):
            by_tx[ev.transaction_index].append(ev)
        changes: dict[int, BalanceDeltas] = defaultdict(dict)
        hashes: dict[int, str] = {}
        for r in bal_rows:
            changes[r["transaction_index"]][(r["holder"], r["asset"])] = r["delta"]
            hashes[r["transaction_index"]] = r["transaction_hash"]
        for tx in sorted(by_tx.keys() | changes.keys()):
            out.checked += 1
            from_events = deltas_from_events(by_tx.get(tx, []))
            from_changes = changes.get(tx, {})
            if from_events == from_changes:
                continue
            tx_hash = hashes.get(tx) or (by_tx[tx][0].tx_hash if by_tx.get(tx) else "?")
            diffs = []
            for k in sorted(from_events.keys() | from_changes.keys()):
                e, c = from_events.get(k, 0), from_changes.get(k, 0)
                if e != c:
                    diffs.append(f"{k[0]} {k[1]}: events {e}, changes {c}")
            out.add(
                f"partition {events.key}: ledger {seq} tx {tx} ({tx_hash}): "
                + "; ".join(diffs[:MAX_DIFFS_PER_TX])
                + (
                    f"; and {len(diffs) - MAX_DIFFS_PER_TX} more"
                    if len(diffs) > MAX_DIFFS_PER_TX
                    else ""
                )
            )


def check_fee_totals(events: StoredPartition, ledgers: StoredPartition, out: CheckOutcome) -> None:
    """Per ledger, the fee events (charges net of refunds) sum to the fees charged."""
    import pyarrow.dataset as ds

    fees: dict[int, int] = defaultdict(int)
    fee_filter = ds.field("event_type") == FEE
    for batch in events.batches(["ledger_sequence", "amount_raw"], filter=fee_filter):
        for seq, amount in zip(
            batch.column("ledger_sequence").to_pylist(),
            batch.column("amount_raw").to_pylist(),
            strict=True,
        ):
            fees[seq] += int(amount)
    led = ledgers.read(["ledger_sequence", "fee_charged"])
    for seq, charged in zip(
        led.column("ledger_sequence").to_pylist(),
        led.column("fee_charged").to_pylist(),
        strict=True,
    ):
        out.checked += 1
        if fees.get(seq, 0) != charged:
            out.add(
                f"partition {events.key}: ledger {seq} fee events sum to {fees.get(seq, 0)} "
                f"but its transactions were charged {charged}"
            )
    extra = set(fees) - set(led.column("ledger_sequence").to_pylist())
    for seq in sorted(extra):
        out.add(f"partition {events.key}: fee events for ledger {seq}, which is not in ledgers")
