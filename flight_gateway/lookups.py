"""Lookups that do not scan: sorted indexes next to a serving copy, and binary search over its
ledger order.

**Indexes.** A table's indexed columns are its account columns (``ACCOUNT_COLUMNS``: ``from``
and ``to`` of ``ttp_events``), its asset columns (``ASSET_KEY_COLUMNS``), ``transaction_hash``
and ``contract_id``, where they are string columns. An index is two small IPC files, compressed
sparse rows: the distinct values sorted, each with where its rows start and how many there are
(``index.<column>.keys.arrow``), and the row numbers grouped by value, ascending within a value
(``index.<column>.rows.arrow``). A lookup is one binary search per asked value, then a take of
those rows from the memory-mapped copy.

**Which filter narrows.** A request's filters all apply (AND). Each filter whose columns are
all indexed gives a candidate set: the union over its columns and values (``account`` is
``from`` OR ``to``; ``asset_key`` is the classic asset OR the contract id). The smallest set is
used, and the request's whole filter is then applied to those rows only: an index narrows, it
never decides, so a lookup returns exactly what a scan with the same filter returns.

**Ledger and time ranges.** A copy records whether its rows are in ledger order (they are, as
written by the stores); then a ledger range or a ``closed_at`` window is two binary searches
over that column instead of a filter over every row.
"""

from __future__ import annotations

import bisect
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .ipc_files import map_ipc, write_ipc
from .tickets import ACCOUNT_COLUMNS, ASSET_KEY_COLUMNS, FilterValue

if TYPE_CHECKING:
    from .serving import ServingCopy

INDEX_PREFIX = "index."
ALSO_INDEXED = ("transaction_hash", "contract_id")
EMPTY = np.empty(0, dtype=np.uint32)


def indexed_columns(asset: str, schema: pa.Schema) -> list[str]:
    """The columns of ``asset`` a serving copy keeps an index of."""
    wanted = list(ACCOUNT_COLUMNS.get(asset, ()))
    classic, contract = ASSET_KEY_COLUMNS.get(asset, (None, None))
    wanted += [c for c in (classic, contract) if c is not None]
    wanted += list(ALSO_INDEXED)
    names = set(schema.names)
    out: list[str] = []
    for c in wanted:
        if c in names and c not in out and pa.types.is_string(schema.field(c).type):
            out.append(c)
    return out


class _Keys:
    """A string array as a sequence of Python strings, for :func:`bisect.bisect_left`."""

    def __init__(self, keys: pa.Array):
        self.keys = keys

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> str:
        return self.keys[i].as_py()


class Index:
    """One column's index, memory-mapped."""

    def __init__(self, keys: pa.Array, starts: np.ndarray, counts: np.ndarray, rows: np.ndarray):
        self.keys = keys
        self.starts = starts
        self.counts = counts
        self.rows = rows

    @classmethod
    def open(cls, folder: Path, column: str) -> Index:
        keys = map_ipc(folder / f"{INDEX_PREFIX}{column}.keys.arrow").combine_chunks()
        rows = map_ipc(folder / f"{INDEX_PREFIX}{column}.rows.arrow").column("row")
        return cls(
            keys.column("key"),
            keys.column("start").to_numpy(),
            keys.column("count").to_numpy(),
            rows.to_numpy(),
        )

    def span(self, value: FilterValue) -> tuple[int, int]:
        """Where the rows holding ``value`` start in :attr:`rows`, and how many there are."""
        if not isinstance(value, str):
            return 0, 0
        seq = _Keys(self.keys)
        i = bisect.bisect_left(seq, value, 0, len(seq))
        if i == len(seq) or seq[i] != value:
            return 0, 0
        return int(self.starts[i]), int(self.counts[i])


def build_index(folder: Path, column: str, values: pa.ChunkedArray | pa.Array) -> None:
    """Write ``column``'s index (see the module docstring) into ``folder``."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    valid = pc.indices_nonzero(pc.is_valid(arr))
    keys = arr.take(valid)
    order = pc.sort_indices(keys)  # stable: rows stay ascending within a value
    ordered = keys.take(order)
    rows = valid.take(order).cast(pa.uint32())
    n = len(ordered)
    if n:
        changed = pc.indices_nonzero(pc.not_equal(ordered[1:], ordered[:-1])).to_numpy()
        starts = np.concatenate([[0], changed + 1]).astype(np.uint32)
    else:
        starts = EMPTY
    counts = np.diff(np.append(starts, n)).astype(np.uint32)
    distinct = ordered.take(pa.array(starts))
    write_ipc(
        folder / f"{INDEX_PREFIX}{column}.keys.arrow",
        pa.table({"key": distinct, "start": pa.array(starts), "count": pa.array(counts)}),
    )
    write_ipc(folder / f"{INDEX_PREFIX}{column}.rows.arrow", pa.table({"row": rows}))


def filter_columns(asset: str, name: str) -> tuple[str, ...]:
    """The columns a request filter ``name`` looks at (its aliases resolved)."""
    if name == "account" and asset in ACCOUNT_COLUMNS:
        return ACCOUNT_COLUMNS[asset]
    if name == "asset_key" and asset in ASSET_KEY_COLUMNS:
        classic, contract = ASSET_KEY_COLUMNS[asset]
        return (classic,) if contract is None else (classic, contract)
    return (name,)


def candidate_rows(
    copy: ServingCopy,
    asset: str,
    filters: tuple[tuple[str, tuple[FilterValue, ...]], ...],
    limit: int,
) -> tuple[np.ndarray, bool] | None:
    """Ascending row numbers of ``copy`` that may match ``filters``, and whether they are
    exactly the rows of the filter they come from (every filter but ``asset_key``, an alias
    with a condition); None when no filter narrows them to at most ``limit`` rows (then a scan
    is cheaper than gathering rows)."""
    best: list[tuple[Index, int, int]] | None = None
    exact = False
    fewest = limit + 1
    for name, values in filters:
        indexes = [copy.index(c) for c in filter_columns(asset, name)]
        if not indexes or any(ix is None for ix in indexes):
            continue
        spans = [(ix, *ix.span(v)) for ix in indexes if ix is not None for v in values]
        n = sum(count for _, _, count in spans)  # counted once per column: an upper bound
        if n < fewest:
            best, fewest, exact = spans, n, name != "asset_key"
    if best is None:
        return None
    found = [ix.rows[start : start + count] for ix, start, count in best if count]
    if len(found) <= 1:
        return (found[0] if found else EMPTY), exact
    rows = np.sort(np.concatenate(found))
    keep = np.empty(len(rows), dtype=bool)
    keep[0] = True
    np.not_equal(rows[1:], rows[:-1], out=keep[1:])
    return rows[keep], exact


def take_rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """The rows ``rows`` (ascending) of ``table``, taken batch by batch: a take over the whole
    table would first concatenate its chunks, i.e. copy the partition."""
    taken = []
    offset = 0
    for batch in table.to_batches():
        end = offset + batch.num_rows
        a, b = np.searchsorted(rows, [offset, end], "left")
        if b > a:
            taken.append(batch.take(pa.array(rows[a:b] - offset)))
        offset = end
    return pa.Table.from_batches(taken, schema=table.schema)


def ledger_rows(copy: ServingCopy, first: int, last: int) -> tuple[int, int]:
    """The rows ``[lo, hi)`` of ledgers ``first..last`` in a copy in ledger order."""
    seq = copy.sorted_values("ledger_sequence")
    return int(np.searchsorted(seq, first, "left")), int(np.searchsorted(seq, last, "right"))


def time_rows(
    copy: ServingCopy, start: dt.datetime | None, end: dt.datetime | None
) -> tuple[int, int]:
    """The rows ``[lo, hi)`` closed in ``[start, end)`` in a copy in ledger order (close times
    never go down as ledgers go up)."""
    closed = copy.sorted_values("closed_at")
    lo = 0 if start is None else np.searchsorted(closed, _seconds(start, up=False), "left")
    hi = len(closed) if end is None else np.searchsorted(closed, _seconds(end, up=True), "left")
    return int(lo), int(hi)


def _seconds(t: dt.datetime, up: bool) -> np.datetime64:
    """``t`` in whole seconds (the column's unit), rounded so the rows found are never fewer."""
    utc = t.astimezone(dt.UTC).replace(tzinfo=None)
    whole = np.datetime64(utc.replace(microsecond=0), "s")
    return whole + np.timedelta64(1, "s") if up and utc.microsecond else whole
