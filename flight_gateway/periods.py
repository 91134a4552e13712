"""The rollups (``asset_activity``, ``network_activity``, ``network_operations``) as served assets.

A rollup is a Delta table partitioned by ``day`` (``core.storage.rollup_store``), one row per
(grain, period, ...), not a ledger-range table: its "partitions" here are its days. A request
pins the table's latest version (a snapshot, as for the ledger-range Delta tables: a period
replacement landing meanwhile is never half-seen) and reads the data files of the days it needs
with the same reader as every other Delta table (``reader._scan_delta``: the files of one
partition, projection and filters pushed down, cast to the logical schema of
``core/schemas.py``).

What a request selects: every stored day (optionally ``closed_at``: the days whose periods may
overlap the window, then a row filter ``period_start < to AND period_end > from``), and any
``filters`` on the string / boolean / integer columns (``grain``: ``hour`` or ``day``,
``asset_key``, ``type``, ``complete`` ...). Ledger ranges and partition keys do not apply.
Rows come day after day (date order), each day's files in path order.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from ttp_assets.core.storage.location import Location
from ttp_assets.core.storage.rollup_store import DAY_COLUMN

from .catalog import AssetView, DeltaSnapshot, PartitionInfo, PartRead, merge_ranges
from .time_ranges import Window, day_may_match

SNAPSHOT_MAX_AGE = 300.0  # seconds: re-read a Delta log at least this often anyway


@dataclass(frozen=True)
class DayStats:
    """What the Delta log says of one day partition (statistics are optional in Delta)."""

    first_ledger: int
    last_ledger: int
    complete: bool


class RollupSnapshots:
    """The latest snapshot of each rollup table, cached while it is still the latest."""

    def __init__(self, location: Location):
        self.location = location
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[DeltaSnapshot, dict[str, DayStats]]] = {}

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def latest(self, table: str) -> tuple[DeltaSnapshot, dict[str, DayStats]] | None:
        with self._lock:
            cached = self._cache.get(table)
        if cached is not None and time.monotonic() - cached[0].loaded < SNAPSHOT_MAX_AGE:
            log = self.location.path(table, "_delta_log")
            version = cached[0].version
            here, nxt = self.location.fs.get_file_info(
                [f"{log}/{version:020d}.json", f"{log}/{version + 1:020d}.json"]
            )
            if here.type == pafs.FileType.File and nxt.type == pafs.FileType.NotFound:
                return cached
        try:
            delta = DeltaTable(
                self.location.delta_uri(table),
                storage_options=self.location.delta_storage_options(),
            )
        except TableNotFoundError:
            return None
        snap = _snapshot(self.location, table, delta)
        with self._lock:
            old = self._cache.get(table)
            if old is None or old[0].version < snap[0].version:
                self._cache[table] = snap
        return snap


def _snapshot(
    location: Location, table: str, delta: DeltaTable
) -> tuple[DeltaSnapshot, dict[str, DayStats]]:
    version = delta.version()
    sub = pafs.SubTreeFileSystem(location.path(table), location.fs)
    dataset = delta.to_pyarrow_dataset(filesystem=sub)
    actions = pa.table(delta.get_add_actions(flatten=True))
    names = actions.column_names
    n_rows = actions.num_rows

    def column(name: str) -> list[Any]:
        return actions.column(name).to_pylist() if name in names else [None] * n_rows

    rows: dict[str, int] = {}
    size: dict[str, int] = {}
    stats: dict[str, DayStats] = {}
    for day, n, b, lo, hi, done in zip(
        column(f"partition.{DAY_COLUMN}"),
        column("num_records"),
        column("size_bytes"),
        column("min.first_ledger"),
        column("max.last_ledger"),
        column("min.complete"),
        strict=True,
    ):
        if not isinstance(day, str):
            continue
        rows[day] = rows.get(day, 0) + (n or 0)
        size[day] = size.get(day, 0) + (b or 0)
        was = stats.get(day, DayStats(0, 0, True))
        stats[day] = DayStats(
            min(x for x in (lo, was.first_ledger) if x) if lo or was.first_ledger else 0,
            max(x for x in (hi, was.last_ledger) if x) if hi or was.last_ledger else 0,
            was.complete and done is True,  # unknown (no statistics): not claimed complete
        )
    fragments: dict[str, list[ds.Fragment]] = {}
    for frag in dataset.get_fragments():
        day = ds.get_partition_keys(frag.partition_expression).get(DAY_COLUMN)
        if isinstance(day, str):
            fragments.setdefault(day, []).append(frag)
    for frags in fragments.values():
        frags.sort(key=lambda f: f.path)
    return DeltaSnapshot(version, dataset, fragments, rows, size, time.monotonic()), stats


def rollup_view(snapshots: RollupSnapshots, table: str, schema: pa.Schema) -> AssetView:
    """The stored days of a rollup table now, as an :class:`AssetView` (format ``delta``)."""
    got = snapshots.latest(table)
    if got is None:
        return RollupView(table, "delta", schema, {}, None)
    snap, stats = got
    parts = {}
    for day in sorted(snap.fragments):
        st = stats.get(day, DayStats(0, 0, False))
        parts[day] = PartitionInfo(
            day,
            st.first_ledger,
            st.last_ledger,
            st.complete,
            snap.rows.get(day, 0),
            snap.stored_bytes.get(day, 0),
            str(snap.version),
        )
    return RollupView(table, "delta", schema, parts, snap)


def select_days(view: AssetView, window: Window | None) -> list[PartRead]:
    """The day partitions a request reads, in date order."""
    return [
        PartRead(p, None)
        for day, p in view.partitions.items()
        if window is None or day_may_match(window, day)
    ]


class RollupView(AssetView):
    """A rollup's days; its summary names days rather than ledger partitions."""

    def summary(self) -> dict[str, Any]:
        days = list(self.partitions)
        return {
            "asset": self.asset,
            "format": self.format,
            "kind": "rollup",
            "description": (self.schema.metadata or {}).get(b"description", b"").decode(),
            "partitioned_by": DAY_COLUMN,
            "partitions": len(days),
            "complete_partitions": sum(p.complete for p in self.partitions.values()),
            "first_partition": days[0] if days else None,
            "last_partition": days[-1] if days else None,
            "ledgers": [
                list(r)
                for r in merge_ranges(
                    (p.first_ledger, p.last_ledger)
                    for p in self.partitions.values()
                    if p.first_ledger > 0
                )
            ],
            "rows": self.rows,
            "stored_bytes": self.stored_bytes,
            **({"delta_version": self.delta.version} if self.delta else {}),
        }
