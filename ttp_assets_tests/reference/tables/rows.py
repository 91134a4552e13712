"""Column buffers that turn rows into record batches of a fixed schema."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class BatchBuilder:
    """Accumulates rows (dicts keyed by column) and emits batches typed by ``schema``."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self._names = schema.names
        self._cols: dict[str, list[Any]] = {n: [] for n in self._names}

    def append(self, row: dict[str, Any]) -> None:
        for name in self._names:
            self._cols[name].append(row.get(name))

    def __len__(self) -> int:
        return len(self._cols[self._names[0]])

    def flush(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(self._cols, schema=self.schema)
        self._cols = {n: [] for n in self._names}
        return batch


def toid(ledger: int, tx_index: int, op_index: int) -> int:
    """Total order id (SEP-35): ledger in the high 32 bits, 20 bits of tx, 12 bits of op."""
    return (ledger << 32) | (tx_index << 12) | op_index
