"""Proofs over stored token events: balance reconciliation and fee totals.

Both read committed partitions only. The reconciliation runs in the native core over the two
tables streamed in ledger order (memory bounded by one ledger's rows); the fee totals are one
grouped sum in Arrow. Neither touches a row in Python.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import ttp_native

from ..storage.partitions_reader import StoredPartition
from .ledger_checks import CheckOutcome

MAX_DIFFS_PER_TX = 10

_EVENT_COLUMNS = {
    "ledger_sequence": pa.int64(),
    "transaction_index": pa.int64(),
    "transaction_hash": pa.string(),
    "event_type": pa.string(),
    "from": pa.string(),
    "to": pa.string(),
    "asset": pa.string(),
    "amount_raw": pa.string(),
}
_BALANCE_COLUMNS = {
    "ledger_sequence": pa.int64(),
    "transaction_index": pa.int64(),
    "transaction_hash": pa.string(),
    "holder": pa.string(),
    "asset": pa.string(),
    "delta": pa.int64(),
}


def _stream(part: StoredPartition, columns: dict[str, pa.DataType]) -> pa.RecordBatchReader:
    """The partition's rows (ledger order) as the types the native check reads."""
    schema = pa.schema(columns)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in part.batches(list(columns)):
            yield batch.select(list(columns)).cast(schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def check_reconciliation(
    events: StoredPartition, balances: StoredPartition, out: CheckOutcome
) -> None:
    """Per transaction, the events' balance deltas equal the ledger entries' (spec §4)."""
    checked, mismatches = ttp_native.reconcile_stored(
        _stream(events, _EVENT_COLUMNS), _stream(balances, _BALANCE_COLUMNS)
    )
    out.checked += checked
    for seq, tx, tx_hash, diffs in mismatches:
        shown = [f"{holder} {asset}: events {e}, changes {c}" for holder, asset, e, c in diffs]
        more = len(shown) - MAX_DIFFS_PER_TX
        out.add(
            f"partition {events.key}: ledger {seq} tx {tx} ({tx_hash}): "
            + "; ".join(shown[:MAX_DIFFS_PER_TX])
            + (f"; and {more} more" if more > 0 else "")
        )


def check_fee_totals(events: StoredPartition, ledgers: StoredPartition, out: CheckOutcome) -> None:
    """Per ledger, the fee events (charges net of refunds) sum to the fees charged."""
    fees = events.read(["ledger_sequence", "amount"], filter=ds.field("event_type") == "fee")
    per_ledger = fees.group_by("ledger_sequence").aggregate([("amount", "sum")])
    paid = dict(
        zip(
            per_ledger.column("ledger_sequence").to_pylist(),
            per_ledger.column("amount_sum").to_pylist(),
            strict=True,
        )
    )
    led = ledgers.read(["ledger_sequence", "fee_charged"])
    seqs = led.column("ledger_sequence").to_pylist()
    charged = led.column("fee_charged").to_pylist()
    out.checked += len(seqs)
    if pc.any(pc.is_null(fees.column("amount"))).as_py():
        out.add(f"partition {events.key}: a fee event's amount does not fit decimal(38,0)")
    for seq, fee in zip(seqs, charged, strict=True):
        total = int(paid.get(seq) or 0)
        if total != fee:
            out.add(
                f"partition {events.key}: ledger {seq} fee events sum to {total} "
                f"but its transactions were charged {fee}"
            )
    for seq in sorted(set(paid) - set(seqs)):
        out.add(f"partition {events.key}: fee events for ledger {seq}, which is not in ledgers")
