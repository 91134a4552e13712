"""Streaming a plan's rows as bounded record batches, with projection and filters pushed down.

Each partition is scanned by pyarrow's dataset scanner (C++, reading with the GIL released):
the projection and the row filter (request filters, plus ``ledger_sequence`` bounds for a
partition only partly inside the requested range) go to the Parquet reader, which skips row
groups by their statistics and decodes only the requested columns. Delta files carry widened
physical types (see ``core.storage.delta_store``); the cast back to the logical schema is part of
the scan's projection.

Memory is bounded whatever the range: partitions are opened one after the other, the scanner
reads a bounded number of batches ahead, and the generator is pulled by the Flight writer one
message at a time, so a slow client stalls the scan (gRPC flow control is the backpressure)
instead of buffering. Every batch sent is at most ``max_batch_bytes`` (sliced by rows; a single
row larger than that is sent alone) and ``batch_rows`` rows.

With a memory reservation (:class:`StreamMemory`, the stream's share of the gateway's budget)
those bounds shrink to fit it: a stream holds at most :data:`IN_FLIGHT_BATCHES` batches at once
(the scanner's read-ahead, the batch being sliced, the slice being serialized and gRPC's copy of
it), so each is kept under ``reservation / IN_FLIGHT_BATCHES`` bytes. The scanner decodes
``batch_size`` rows at a time, so its batch size comes from the bytes a decoded row takes: guessed
from the stored size for the stream's first partition, then measured on what it decoded.

A partition with a serving copy of exactly the planned version (``serving``) is read from the
copy instead: its memory-mapped batches are sliced, not decoded; a ledger range or time window
is a binary search and a lookup filter an index (``lookups``). The request's filter is applied
all the same, so both ways return the same rows. A copy that cannot be read is dropped and the
partition read from the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.flight as fl
import pyarrow.fs as pafs

from ttp_assets.core.storage.location import Location
from ttp_assets.core.storage.parquet_store import SUFFIX

from . import lookups
from .catalog import AssetView, PartitionInfo, PartRead, Plan
from .serving import ServingCopy, SourceChanged
from .tickets import Request, filter_expression

DEFAULT_BATCH_ROWS = 65536
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
HARD_MAX_BATCH_BYTES = 16 * 1024 * 1024  # some clients cap gRPC messages at 16 MiB
FIRST_BATCH_BYTES = 256 * 1024  # the first batch of a stream is at most about this big
BATCH_READAHEAD = 2
FRAGMENT_READAHEAD = 1
# Batches one stream holds at once: read-ahead, the batch being sliced, the slice being
# serialized and gRPC's serialized copy of it.
IN_FLIGHT_BATCHES = BATCH_READAHEAD + 3
# Decoded Arrow bytes per stored (compressed Parquet) byte assumed before a stream measured its
# own rows: generous, so that a stream's first batches are small rather than over its share.
DECODED_PER_STORED = 8
COPY_READ_ROWS = 65536
# An index is used when it leaves at most 1/SCAN_FRACTION of the rows; more, the rows are scanned.
SCAN_FRACTION = 8  # rows decoded at a time when making a serving copy


@dataclass
class StreamMemory:
    """Batch sizes that keep one stream within ``reservation`` bytes."""

    reservation: int
    batch_rows: int = DEFAULT_BATCH_ROWS
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    row_bytes: float = 0.0  # largest decoded bytes per row seen so far (0: nothing decoded yet)

    @property
    def share(self) -> int:
        """Bytes one batch may take."""
        return max(1, self.reservation // IN_FLIGHT_BATCHES)

    @property
    def batch_bytes(self) -> int:
        """The largest batch sent."""
        return min(self.max_batch_bytes, self.share)

    def scan_rows(self, part: PartRead) -> int:
        """Rows the scanner decodes at a time for ``part``."""
        per_row = self.row_bytes
        if not per_row:
            info = part.info
            per_row = DECODED_PER_STORED * info.stored_bytes / max(1, info.rows)
        return max(1, min(self.batch_rows, int(self.share / max(1.0, per_row))))

    def decoded(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.row_bytes = max(self.row_bytes, batch.nbytes / batch.num_rows)


def stream_batches(
    plan: Plan,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    stop: Callable[[], bool] | None = None,
    memory: StreamMemory | None = None,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """The plan's rows, partition after partition in key order, as bounded batches.

    Yields ``(batch, nbytes)``: each batch with its Arrow size. With ``memory``, its bounds
    (which never exceed ``batch_rows`` / ``max_batch_bytes``) apply instead.
    """
    first = True
    for part in plan.parts:
        rows = memory.scan_rows(part) if memory is not None else batch_rows
        limit = memory.batch_bytes if memory is not None else max_batch_bytes
        for batch in _part(plan, part, rows, memory):
            if stop is not None and stop():
                raise fl.FlightUnavailableError("the gateway is shutting down; ask again")
            if memory is not None:
                memory.decoded(batch)
            if not batch.num_rows:
                continue
            if first:
                # A small first message: the client has rows (and the stream's schema) after
                # one short transfer instead of a whole batch's.
                first = False
                head = max(1, int(batch.num_rows * FIRST_BATCH_BYTES / max(1, batch.nbytes)))
                if head < batch.num_rows:
                    yield from bounded(batch.slice(0, head), plan.schema, limit)
                    batch = batch.slice(head)
            yield from bounded(batch, plan.schema, limit)


def bounded(
    batch: pa.RecordBatch, schema: pa.Schema, max_bytes: int
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """``batch`` as the served schema, in slices of at most ``max_bytes``, with their sizes.

    Field docs travel once, with the stream's schema (Flight compares batch schemas without
    metadata); only nullability may differ here (a cast in the scan projection loses it).
    Slices are cut by the batch's average row size with 20% headroom, then measured: row sizes
    vary (a Soroban ledger's XDR or operation JSON dwarfs a classic one), and a slice still too
    big is cut again. A single row larger than ``max_bytes`` is sent alone.
    """
    if batch.schema != schema:
        batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    size = batch.nbytes
    rows = batch.num_rows
    if size <= max_bytes or rows == 1:
        yield batch, size
        return
    step = max(1, int(rows * max_bytes * 0.8 / size))
    for offset in range(0, rows, step):
        piece = batch.slice(offset, step)
        piece_size = piece.nbytes
        if piece_size > max_bytes and piece.num_rows > 1:
            yield from bounded(piece, schema, max_bytes)
        else:
            yield piece, piece_size


def _part(
    plan: Plan, part: PartRead, batch_rows: int, memory: StreamMemory | None
) -> Iterator[pa.RecordBatch]:
    """One partition's rows of the plan: from its serving copy when there is one."""
    copy = plan.serving.copy(plan.view, part.info) if plan.serving is not None else None
    if copy is not None:
        try:
            selected, where = _select(plan, part, copy)
        except (OSError, pa.ArrowException) as exc:
            assert plan.serving is not None
            plan.serving.discard(copy, exc)
        else:
            if memory is not None:
                per_row = copy.bytes_per_row()
                batch_rows = max(1, min(memory.batch_rows, int(memory.share / max(1.0, per_row))))
            names = plan.schema.names
            if where is not None:  # one streaming scan of the mapped rows, not a plan per batch
                yield from _reader(ds.dataset(selected), names, where, batch_rows)
                return
            for batch in selected.to_batches(max_chunksize=batch_rows):
                if batch.num_rows:
                    yield batch if batch.schema.names == names else batch.select(names)
            return
    yield from _scan(plan, part, batch_rows)


def _select(plan: Plan, part: PartRead, copy: ServingCopy) -> tuple[pa.Table, ds.Expression | None]:
    """The rows of ``copy`` that may match, and the filter still to apply to them.

    Ledger bounds and a ``closed_at`` window are binary searches when the copy is in ledger
    order, and then left out of the filter (every row between the bounds matches them)."""
    table = copy.table
    lo, hi = 0, table.num_rows
    where = plan.filter
    request_only = plan.window is None and part.ledgers is None  # where: the request's filters
    if copy.ledger_sorted and (plan.window is None or "closed_at" in table.schema.names):
        if part.ledgers is not None:
            lo, hi = lookups.ledger_rows(copy, *part.ledgers)
        if plan.window is not None:
            t_lo, t_hi = lookups.time_rows(copy, plan.window.start, plan.window.end)
            lo, hi = max(lo, t_lo), min(hi, t_hi)
        where, request_only = filter_expression(plan.view.asset, plan.request), True
    elif part.ledgers is not None:
        where = _and(where, _ledger_bounds(*part.ledgers))
    filters = plan.request.filters
    found = (
        lookups.candidate_rows(copy, plan.view.asset, filters, copy.rows // SCAN_FRACTION)
        if filters
        else None
    )
    if found is not None:
        candidates, exact = found
        chosen = candidates[(candidates >= lo) & (candidates < max(lo, hi))]
        # Many matches: a vectorized filter over the rows is cheaper than gathering them.
        if len(chosen) * SCAN_FRACTION <= hi - lo:
            if exact and request_only and len(filters) == 1:
                where = None  # the rows of the only filter, nothing else to check
            return lookups.take_rows(table, chosen), where
    return table.slice(lo, max(0, hi - lo)), where


def partition_rows(
    location: Location, view: AssetView, info: PartitionInfo
) -> Iterator[pa.RecordBatch]:
    """Every row of one committed partition version, in the table's logical schema (what a
    serving copy is made of). Raises :class:`SourceChanged` when a closed Parquet file is not,
    or no longer, the version listed: its new version gets its own copy."""
    plan = Plan(Request(asset=view.asset), location, view, [], view.schema, None)
    part = PartRead(info, None)
    path = None
    if view.format == "parquet" and not info.files:
        path = location.path(view.asset, info.key + SUFFIX)
        if _stamp(location.fs, path) != info.stamp:
            raise SourceChanged(path)
    yield from _scan(plan, part, COPY_READ_ROWS)
    if path is not None and _stamp(location.fs, path) != info.stamp:
        raise SourceChanged(path)


def _ledger_bounds(first: int, last: int) -> ds.Expression:
    return (ds.field("ledger_sequence") >= first) & (ds.field("ledger_sequence") <= last)


def _and(a: ds.Expression | None, b: ds.Expression) -> ds.Expression:
    return b if a is None else a & b


def _scan(plan: Plan, part: PartRead, batch_rows: int) -> Iterator[pa.RecordBatch]:
    where = plan.filter
    if part.ledgers is not None:
        where = _and(where, _ledger_bounds(*part.ledgers))
    view = plan.view
    if view.format == "delta":
        yield from _scan_delta(plan, part, where, batch_rows)
        return
    location = plan.location
    if part.info.files:  # an open partition: its segments, immutable, in ledger order
        paths = [location.path(view.asset, f) for f in part.info.files]
        dataset = ds.dataset(paths, format="parquet", filesystem=location.fs, schema=view.schema)
        yield from _reader(dataset, list(plan.schema.names), where, batch_rows)
        return
    path = location.path(view.asset, part.info.key + SUFFIX)
    before = None if location.is_local else _stamp(location.fs, path)
    dataset = ds.dataset(path, format="parquet", filesystem=location.fs, schema=view.schema)
    yield from _reader(dataset, list(plan.schema.names), where, batch_rows)
    if before is not None and _stamp(location.fs, path) != before:
        # On an object store a replaced object cannot be pinned: say so rather than mix versions.
        raise fl.FlightUnavailableError(
            f"{view.asset} partition {part.info.key} was re-materialized while it was being "
            "served; ask again"
        )


def _scan_delta(
    plan: Plan, part: PartRead, where: ds.Expression | None, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    snap = plan.view.delta
    if snap is None:
        return
    fragments = snap.fragments.get(part.info.key, [])
    if not fragments:
        return  # a materialized partition without rows
    physical = snap.dataset.schema
    columns: dict[str, ds.Expression] = {}
    for f in plan.schema:
        col = ds.field(f.name)
        columns[f.name] = col if physical.field(f.name).type == f.type else col.cast(f.type)
    dataset = ds.FileSystemDataset(
        fragments, schema=physical, format=snap.dataset.format, filesystem=snap.dataset.filesystem
    )
    yield from _reader(dataset, columns, where, batch_rows)


def _reader(
    dataset: ds.Dataset,
    columns: list[str] | dict[str, ds.Expression],
    where: ds.Expression | None,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    scanner = dataset.scanner(
        columns=columns,
        filter=where,
        batch_size=batch_rows,
        batch_readahead=BATCH_READAHEAD,
        fragment_readahead=FRAGMENT_READAHEAD,
        use_threads=True,
    )
    reader = scanner.to_reader()
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            yield batch
    finally:
        reader.close()


def _stamp(fs: pafs.FileSystem, path: str) -> tuple[int, int]:
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(path)
    return info.mtime_ns or 0, info.size or 0
