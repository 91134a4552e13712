"""Discovery over storage: what the IO managers committed, per asset, and read plans over it.

Only committed data is visible:

- **Parquet** tables: a closed partition is its file ``<asset>/<key>.parquet``; an open one (at
  the tip, still filling up) is the segments its manifest ``<asset>/_open/<key>.json`` names
  (``core.storage.parquet_store``); the closed file wins when both exist. Staging files are never
  listed. Files and manifests are replaced by an atomic rename (local) or copy (S3), segments are
  immutable, and a request resolves a partition's files once, so a partition is served from one
  committed version. Footers and manifests (rows, ``ttp.*`` coverage) are cached per file
  version (modification time and size).
- **Delta** tables: a partition is committed once its ``_ttp_partitions/<key>.json`` record
  exists; its rows come from one table *version* (a snapshot): a request pins the latest version
  when it starts and reads only that version's files, so a commit landing meanwhile is never
  half-seen. Whether the cached snapshot is still the latest is one existence check of the next
  log entry (``_delta_log/<version+1>.json``); the log itself is read by ``deltalake`` only when
  it moved, and data files are always read by pyarrow.

Assets and partition keys come from the catalog (``TABLE_FORMATS``, the analytics partials of
``ANALYTICS_PARTIAL_FORMATS``, which are ledger-range Delta tables like ``ttp_events``, and the
rollups of ``ROLLUP_TABLES``, served by day: ``periods``) and from listings, never from a
request: a request is matched against them before any path is built. Time windows
(``"closed_at"``) are mapped to partitions and rows by ``time_ranges``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from ttp_assets.core import schemas as core_schemas
from ttp_assets.core.ledger_ranges import FIRST_LEDGER, LedgerRange, parse_key
from ttp_assets.core.storage.catalog import (
    ANALYTICS_PARTIAL_FORMATS,
    CORE_ANALYTICS_FORMATS,
    ROLLUP_TABLES,
    TABLE_FORMATS,
)
from ttp_assets.core.storage.delta_store import COVERAGE_DIR, PARTITION_COLUMN
from ttp_assets.core.storage.location import Location
from ttp_assets.core.storage.parquet_store import MANIFEST_SUFFIX, OPEN_DIR, SUFFIX, Manifest

from . import time_ranges
from .errors import InvalidArgument, NotFound
from .tickets import Request, filter_expression, projected_schema
from .time_ranges import Clock, Window

if TYPE_CHECKING:
    from .serving import ServingCache

ROLLUP = "rollup"  # the catalog's format for the rollups (Delta tables partitioned by day)
SERVED_FORMATS: dict[str, str] = {
    **TABLE_FORMATS,
    **CORE_ANALYTICS_FORMATS,
    **ANALYTICS_PARTIAL_FORMATS,
    **dict.fromkeys(ROLLUP_TABLES, ROLLUP),
}

FOOTER_WORKERS = 8
DELTA_MAX_AGE = 300.0  # seconds: re-read a Delta log at least this often anyway


@dataclass(frozen=True)
class PartitionInfo:
    """One committed partition as the catalog sees it."""

    key: str
    first_ledger: int  # coverage: the ledgers this partition holds (ttp.* metadata)
    last_ledger: int
    complete: bool
    rows: int
    stored_bytes: int
    version: str  # Parquet: file modification time (ns); Delta: table version read
    stamp: tuple[int, int] = field(default=(0, 0), compare=False)  # (mtime ns, size) listed
    # An open Parquet partition's segments (paths relative to the asset's folder, in ledger
    # order); empty for a closed partition (``<key>.parquet``) and for Delta.
    files: tuple[str, ...] = field(default=(), compare=False)
    # Close times (unix seconds) of its first and last ledger, from the coverage metadata
    # (``ttp.first_close_time`` / ``ttp.last_close_time``); None when not recorded.
    first_close: int | None = field(default=None, compare=False)
    last_close: int | None = field(default=None, compare=False)

    @property
    def range(self) -> LedgerRange:
        return parse_key(self.key)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "first_ledger": self.first_ledger,
            "last_ledger": self.last_ledger,
            "complete": self.complete,
            "rows": self.rows,
            "stored_bytes": self.stored_bytes,
            "version": self.version,
        }


@dataclass(frozen=True)
class DeltaSnapshot:
    """One version of a Delta table: its files (as a pyarrow dataset) grouped by partition."""

    version: int
    dataset: ds.FileSystemDataset
    fragments: dict[str, list[ds.Fragment]]
    rows: dict[str, int]
    stored_bytes: dict[str, int]
    loaded: float  # time.monotonic() when the log was read


@dataclass(frozen=True)
class AssetView:
    """What one asset holds right now (one consistent listing)."""

    asset: str
    format: str
    schema: pa.Schema
    partitions: dict[str, PartitionInfo]  # by key, in key order
    delta: DeltaSnapshot | None = None

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions.values())

    @property
    def stored_bytes(self) -> int:
        return sum(p.stored_bytes for p in self.partitions.values())

    def coverage(self) -> list[tuple[int, int]]:
        """Materialized ledgers as merged inclusive ranges."""
        return merge_ranges((p.first_ledger, p.last_ledger) for p in self.partitions.values())

    def summary(self) -> dict[str, Any]:
        keys = list(self.partitions)
        return {
            "asset": self.asset,
            "format": self.format,
            "description": (self.schema.metadata or {}).get(b"description", b"").decode(),
            "partitions": len(keys),
            "complete_partitions": sum(p.complete for p in self.partitions.values()),
            "first_partition": keys[0] if keys else None,
            "last_partition": keys[-1] if keys else None,
            "ledgers": [list(r) for r in self.coverage()],
            "rows": self.rows,
            "stored_bytes": self.stored_bytes,
            **({"delta_version": self.delta.version} if self.delta else {}),
        }


@dataclass(frozen=True)
class PartRead:
    """One partition of a plan: read it whole, or only ``ledgers`` of it."""

    info: PartitionInfo
    ledgers: tuple[int, int] | None  # a row filter on ledger_sequence for partial partitions


@dataclass(frozen=True)
class Plan:
    """A resolved request: which partitions, which rows and columns, of which versions."""

    request: Request
    location: Location
    view: AssetView
    parts: list[PartRead]
    schema: pa.Schema  # what the client receives
    filter: ds.Expression | None  # the request's row filter (without ledger bounds)
    window: Window | None = None  # the resolved time window of "closed_at"
    serving: ServingCache | None = None  # copies of partitions made for reads (``serving``)

    @property
    def total_records(self) -> int:
        """Exact row count when knowable without reading (-1 otherwise)."""
        if self.filter is not None or any(p.ledgers is not None for p in self.parts):
            return -1
        return sum(p.info.rows for p in self.parts)


class Catalog:
    """The served assets under one storage location, with caches safe across threads."""

    def __init__(
        self,
        location: Location,
        tables: Mapping[str, str] | None = None,
        list_ttl: float = 0.0,
        clock: Clock | None = None,
    ):
        self.location = location
        formats = dict(tables if tables is not None else SERVED_FORMATS)
        known = {
            **core_schemas.TABLES,
            **core_schemas.CORE_ANALYTICS_TABLES,
            **core_schemas.ANALYTICS_PARTIAL_TABLES,
        }
        known.update(core_schemas.ROLLUP_TABLES)
        self.formats = {t: f for t, f in formats.items() if t in known}
        self.schemas: dict[str, pa.Schema] = {t: known[t] for t in self.formats}
        self.list_ttl = list_ttl
        self.clock: Clock = clock or time_ranges.utc_now
        self._lock = threading.Lock()
        self._footers: dict[tuple[str, str], PartitionInfo] = {}
        self._coverage: dict[tuple[str, str], tuple[tuple[int, int], dict[str, str]]] = {}
        self._delta: dict[str, DeltaSnapshot] = {}
        self._views: dict[str, tuple[float, AssetView]] = {}
        from .periods import RollupSnapshots

        self._rollups = RollupSnapshots(location)
        self.serving: ServingCache | None = None  # set by the server when copies are kept

    # -- discovery ---------------------------------------------------------------------------
    def assets(self) -> list[str]:
        return sorted(self.formats)

    def view(self, asset: str) -> AssetView:
        """The committed partitions of ``asset`` now (or within ``list_ttl`` seconds)."""
        if asset not in self.formats:
            raise NotFound(f"unknown asset {asset!r}; served assets: {', '.join(self.assets())}")
        if self.list_ttl > 0:
            with self._lock:
                hit = self._views.get(asset)
            if hit is not None and time.monotonic() - hit[0] < self.list_ttl:
                return hit[1]
        if self.formats[asset] == ROLLUP:
            from .periods import rollup_view

            view = rollup_view(self._rollups, asset, self.schemas[asset])
        elif self.formats[asset] == "delta":
            view = self._delta_view(asset)
        else:
            view = self._parquet_view(asset)
        if self.list_ttl > 0:
            with self._lock:
                self._views[asset] = (time.monotonic(), view)
        return view

    def refresh(self) -> None:
        """Forget every cache (the next call lists and reads metadata again)."""
        with self._lock:
            self._footers.clear()
            self._coverage.clear()
            self._delta.clear()
            self._views.clear()
        self._rollups.clear()

    def check_storage(self) -> None:
        """Raise OSError when the storage root cannot be listed."""
        sel = pafs.FileSelector(self.location.root, allow_not_found=True, recursive=False)
        self.location.fs.get_file_info(sel)

    # -- planning ----------------------------------------------------------------------------
    def plan(self, request: Request) -> Plan:
        """Resolve ``request`` against what is committed now; NOT_FOUND when it is not."""
        view = self.view(request.asset)
        schema = projected_schema(view.schema, request.columns)
        window: Window | None = None
        time_filter = None
        kind = ""
        if request.closed_at is not None:
            window = request.closed_at.resolve(self.clock())
            kind = time_ranges.time_kind(view.schema)
            if kind is None:  # every served table has one; a guard for new tables
                raise InvalidArgument(f'{view.asset} has no time column: no "closed_at" window')
            time_filter = time_ranges.row_filter(kind, window)
            # The canonical ticket holds the resolved window: it reads what this plan described.
            request = replace(request, closed_at=window.spec())
        if self.formats[view.asset] == ROLLUP:
            from .periods import select_days

            parts = select_days(view, window)
        else:
            parts = self._select(view, request)
            if "ledger_sequence" not in view.schema.names and any(p.ledgers for p in parts):
                # The hourly partials: a partition's rows cannot be cut to some of its ledgers.
                raise InvalidArgument(
                    f"{view.asset} has no ledger_sequence: a ledger range must cover whole "
                    f"partitions (cuts {', '.join(p.info.key for p in parts if p.ledgers)}); "
                    'or ask "partitions", or a "closed_at" window'
                )
            if window is not None:
                parts = [
                    p
                    for p in parts
                    if time_ranges.ledgers_may_match(
                        kind, window, p.info.first_close, p.info.last_close
                    )
                ]
        row_filter = time_ranges.combine(filter_expression(request.asset, request), time_filter)
        return Plan(request, self.location, view, parts, schema, row_filter, window, self.serving)

    def _select(self, view: AssetView, request: Request) -> list[PartRead]:
        asset = view.asset
        if request.partitions is not None:
            missing = [k for k in request.partitions if k not in view.partitions]
            if missing:
                raise NotFound(
                    f"{asset}: partition(s) {', '.join(missing[:5])}"
                    f"{' ...' if len(missing) > 5 else ''} are not materialized; "
                    f"{_materialized(view)}"
                )
            return [PartRead(view.partitions[k], None) for k in request.partitions]
        if request.ledgers is None:
            return [PartRead(p, None) for p in view.partitions.values()]
        first, last = request.ledgers
        first = max(first, FIRST_LEDGER)  # ledgers 0 and 1 have no close meta anywhere
        if first > last:
            raise InvalidArgument(f"ledgers {request.ledgers}: no ledger before {FIRST_LEDGER}")
        chosen = [
            p for p in view.partitions.values() if p.last_ledger >= first and p.first_ledger <= last
        ]
        gaps = missing_ranges((first, last), [(p.first_ledger, p.last_ledger) for p in chosen])
        if gaps:
            shown = ", ".join(f"{a}-{b}" for a, b in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
            raise NotFound(
                f"{asset}: ledgers {shown} are not materialized (asked for {first}-{last}); "
                f"{_materialized(view)}"
            )
        return [
            PartRead(
                p,
                None if first <= p.first_ledger and p.last_ledger <= last else (first, last),
            )
            for p in chosen
        ]

    # -- Parquet -----------------------------------------------------------------------------
    def _parquet_view(self, asset: str) -> AssetView:
        listed = self._list(self.location.path(asset), SUFFIX)
        manifests = self._list(self.location.path(asset, OPEN_DIR), MANIFEST_SUFFIX)
        opened = {k: v for k, v in manifests.items() if k not in listed}  # closed wins
        with self._lock:
            known = {k: self._footers.get((asset, k)) for k in (*listed, *opened)}
        stale = [k for k in listed if _stale(known[k], listed[k])]
        if stale:
            for info in self._read_footers(asset, {k: listed[k] for k in stale}):
                known[info.key] = info
        for key, stamp in opened.items():
            if _stale(known[key], stamp) or not known[key].files:  # type: ignore[union-attr]
                known[key] = self._read_manifest(asset, key, stamp)
        with self._lock:
            for k, p in known.items():
                if p is not None:
                    self._footers[(asset, k)] = p
            for k in [k for (a, k) in self._footers if a == asset and k not in known]:
                del self._footers[(asset, k)]
        parts = {k: known[k] for k in sorted(known) if known[k] is not None}
        return AssetView(asset, "parquet", self.schemas[asset], parts)  # type: ignore[arg-type]

    def _list(self, folder: str, suffix: str) -> dict[str, tuple[int, int]]:
        """Partition keys of the files named ``<key><suffix>`` in ``folder``, with stamps."""
        listed: dict[str, tuple[int, int]] = {}
        sel = pafs.FileSelector(folder, allow_not_found=True)
        for info in self.location.fs.get_file_info(sel):
            name = info.base_name
            if info.type != pafs.FileType.File or not name.endswith(suffix):
                continue
            key = name[: -len(suffix)]
            if _valid_key(key):
                listed[key] = (info.mtime_ns or 0, info.size or 0)
        return listed

    def _read_manifest(self, asset: str, key: str, stamp: tuple[int, int]) -> PartitionInfo | None:
        path = self.location.path(asset, OPEN_DIR, key + MANIFEST_SUFFIX)
        try:
            with self.location.fs.open_input_stream(path, compression=None) as f:
                manifest = Manifest.parse(f.read(), path)
        except FileNotFoundError:
            return None  # closed (or removed) since the listing
        info = _info(key, manifest.metadata, manifest.rows, manifest.bytes, str(stamp[0]), stamp)
        return dataclasses.replace(info, files=tuple(s.path for s in manifest.segments))

    def _read_footers(self, asset: str, stamps: dict[str, tuple[int, int]]) -> list[PartitionInfo]:
        def one(key: str) -> PartitionInfo | None:
            path = self.location.path(asset, key + SUFFIX)
            try:
                with self.location.fs.open_input_file(path) as f:
                    md = pq.read_metadata(f)
            except FileNotFoundError:
                return None  # deleted since the listing
            meta = {
                k.decode(): v.decode()
                for k, v in (md.metadata or {}).items()
                if k.startswith(b"ttp.")
            }
            mtime, size = stamps[key]
            return _info(key, meta, md.num_rows, size, str(mtime), (mtime, size))

        keys = list(stamps)
        if len(keys) <= 2:
            found = [one(k) for k in keys]
        else:
            with ThreadPoolExecutor(min(FOOTER_WORKERS, len(keys))) as pool:
                found = list(pool.map(one, keys))
        return [f for f in found if f is not None]

    # -- Delta -------------------------------------------------------------------------------
    def _delta_view(self, asset: str) -> AssetView:
        fs = self.location.fs
        sel = pafs.FileSelector(self.location.path(asset, COVERAGE_DIR), allow_not_found=True)
        listed: dict[str, tuple[int, int]] = {}
        for info in fs.get_file_info(sel):
            name = info.base_name
            if info.type == pafs.FileType.File and name.endswith(".json"):
                key = name[: -len(".json")]
                if _valid_key(key):
                    listed[key] = (info.mtime_ns or 0, info.size or 0)
        snapshot = self.delta_snapshot(asset) if listed else None
        coverage: dict[str, dict[str, str]] = {}
        for key, stamp in listed.items():
            with self._lock:
                hit = self._coverage.get((asset, key))
            if hit is not None and hit[0] == stamp:
                coverage[key] = hit[1]
                continue
            path = self.location.path(asset, COVERAGE_DIR, f"{key}.json")
            try:
                with fs.open_input_stream(path, compression=None) as f:
                    meta = json.loads(f.read())
            except FileNotFoundError:
                continue
            with self._lock:
                self._coverage[(asset, key)] = (stamp, meta)
            coverage[key] = meta
        parts = {}
        for key in sorted(coverage):
            rows = snapshot.rows.get(key, 0) if snapshot else 0
            size = snapshot.stored_bytes.get(key, 0) if snapshot else 0
            version = str(snapshot.version) if snapshot else ""
            parts[key] = _info(key, coverage[key], rows, size, version, listed[key])
        return AssetView(asset, "delta", self.schemas[asset], parts, snapshot)

    def delta_snapshot(self, asset: str) -> DeltaSnapshot | None:
        """The latest version of ``asset``'s Delta table (None when there is no table yet)."""
        with self._lock:
            cached = self._delta.get(asset)
        if cached is not None and time.monotonic() - cached.loaded < DELTA_MAX_AGE:
            # Still the latest while its log entry is there (not cleaned up) and the next
            # version's entry is not (Delta commits by creating that file atomically).
            log = self.location.path(asset, "_delta_log")
            here, nxt = self.location.fs.get_file_info(
                [f"{log}/{cached.version:020d}.json", f"{log}/{cached.version + 1:020d}.json"]
            )
            if here.type == pafs.FileType.File and nxt.type == pafs.FileType.NotFound:
                return cached
        try:
            table = DeltaTable(
                self.location.delta_uri(asset),
                storage_options=self.location.delta_storage_options(),
            )
        except TableNotFoundError:
            return None
        snap = _snapshot(self.location, asset, table)
        with self._lock:
            old = self._delta.get(asset)
            if old is None or old.version < snap.version:
                self._delta[asset] = snap
        return snap


def _snapshot(location: Location, asset: str, table: DeltaTable) -> DeltaSnapshot:
    version = table.version()
    sub = pafs.SubTreeFileSystem(location.path(asset), location.fs)
    dataset = table.to_pyarrow_dataset(filesystem=sub)
    actions = pa.table(table.get_add_actions(flatten=True))
    rows: dict[str, int] = {}
    size: dict[str, int] = {}
    first: dict[str, int] = {}
    if actions.num_rows:
        n_rows = actions.num_rows
        names = actions.column_names

        def column(name: str) -> list[Any]:  # statistics are optional in Delta
            return actions.column(name).to_pylist() if name in names else [None] * n_rows

        for path, key, n, b, low in zip(
            column("path"),
            column(f"partition.{PARTITION_COLUMN}"),
            column("num_records"),
            column("size_bytes"),
            column("min.ledger_sequence"),
            strict=True,
        ):
            rows[key] = rows.get(key, 0) + (n or 0)
            size[key] = size.get(key, 0) + (b or 0)
            first[path] = low or 0
    fragments: dict[str, list[ds.Fragment]] = {}
    for frag in dataset.get_fragments():
        key = ds.get_partition_keys(frag.partition_expression).get(PARTITION_COLUMN)
        if isinstance(key, str):
            fragments.setdefault(key, []).append(frag)
    for frags in fragments.values():
        # Each file is a contiguous run of ledgers (one commit's rows, in order); an extended
        # partition has one file per increment: read them by first ledger, as the store does.
        frags.sort(key=lambda f: first.get(f.path, 0))
    return DeltaSnapshot(version, dataset, fragments, rows, size, time.monotonic())


def _info(
    key: str,
    meta: Mapping[str, str],
    rows: int,
    size: int,
    version: str,
    stamp: tuple[int, int],
) -> PartitionInfo:
    r = parse_key(key)
    first = _int(meta.get("ttp.first_ledger"), r.first_ledger)
    last = _int(meta.get("ttp.last_ledger"), r.end)
    complete = meta.get("ttp.complete", "true") == "true"
    first_close = _int(meta.get("ttp.first_close_time"), -1)
    last_close = _int(meta.get("ttp.last_close_time"), -1)
    return PartitionInfo(
        key,
        first,
        last,
        complete,
        rows,
        size,
        version,
        stamp,
        first_close=first_close if first_close >= 0 else None,
        last_close=last_close if last_close >= 0 else None,
    )


def _stale(info: PartitionInfo | None, stamp: tuple[int, int]) -> bool:
    return info is None or info.stamp != stamp


def _int(v: str | None, default: int) -> int:
    try:
        return int(v) if v is not None else default
    except ValueError:
        return default


def _valid_key(key: str) -> bool:
    try:
        parse_key(key)
    except ValueError:
        return False
    return True


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if a > b:
            continue
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def missing_ranges(want: tuple[int, int], have: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``want`` that no range in ``have`` covers."""
    gaps = []
    cursor = want[0]
    for a, b in merge_ranges(have):
        if b < cursor:
            continue
        if a > want[1]:
            break
        if a > cursor:
            gaps.append((cursor, a - 1))
        cursor = max(cursor, b + 1)
        if cursor > want[1]:
            break
    if cursor <= want[1]:
        gaps.append((cursor, want[1]))
    return gaps


def _materialized(view: AssetView) -> str:
    cov = view.coverage()
    if not cov:
        return "nothing is materialized yet"
    shown = ", ".join(f"{a}-{b}" for a, b in cov[:5]) + (" ..." if len(cov) > 5 else "")
    return f"materialized: ledgers {shown} in {len(view.partitions)} partition(s)"
