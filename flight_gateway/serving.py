"""Serving copies: committed partitions as uncompressed Arrow IPC files, memory-mapped.

The Delta/Parquet tables stay the system of record; what bounded the gateway was decoding them
(zstd pages, Parquet encodings) on every read. A serving copy holds one partition's rows exactly
as the gateway sends them (the table's logical schema, ledger order, batches of at most
:data:`COPY_BATCH_ROWS` rows), in the gateway's own local folder. Reading one is a memory map:
its batches go to the Flight writer without a copy, and the page cache is shared by every
stream. Next to the rows, a copy holds small sorted indexes (``lookups``) so that lookups by
account, asset or transaction take the matching rows instead of scanning.

**A copy is named by the exact committed files it was made from** (its *identity*: the digest
of the Parquet file's modification time and size, the open partition's segment names, or the
Delta files of that partition in the table version read). A plan pins one committed version and
asks for the copy of that identity, so a copy is never newer or older than what the plan
describes: a re-materialization commits new files, hence a new identity, and until its copy
exists the partition is read from the table itself. Nothing needs invalidating, and a crash
between a table commit and a copy (or in the middle of writing one) can at worst leave a copy
nobody asks for.

Copies are written into a temporary folder and renamed into place when whole (the rename is
the publication). A copy replaced by a newer identity, evicted, or of a partition removed is
deleted; streams already reading it keep their memory map (POSIX keeps an unlinked file's pages
until the last map goes), so each stream reads one complete version.

Copies are made by one background thread: *warming* looks at the served tables every
``warm_interval`` seconds and copies new or changed partitions, newest first (the sidecar's
"at commit" within that interval), and a read of a partition without a copy asks for one.
An open partition (at the tip, still filling up: a new version every live tick) is copied only
once a version of it stayed unchanged for ``settle`` seconds, so the tip is not copied whole
on every tick; until then it is read from the table, where a tick's rows are one small file.
The folder is bounded by ``budget`` bytes: the least recently used copies are evicted first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import logs
from .catalog import AssetView, PartitionInfo
from .ipc_files import map_ipc, write_batches
from .lookups import Index, build_index, indexed_columns
from .metrics import Metrics

FORMAT_VERSION = 1  # bump when the copy layout changes: older copies are never matched again
COPY_BATCH_ROWS = 65536
ROWS_FILE = "rows.arrow"
META_FILE = "meta.json"
TMP_PREFIX = ".tmp-"
DEFAULT_WARM_INTERVAL = 2.0
OPEN_SETTLE_S = 10.0  # an open partition's version must stay this long before it is copied
EXPANSION_GUESS = 4.0  # copy bytes per stored (compressed) byte until one copy was measured
# Every ledger-range table but the raw XDR, which would take its stored size many times over on
# the gateway's disk for the one table that is read least by clients.
NOT_COPIED = frozenset({"raw_ledgers"})

ReadPartition = Callable[[AssetView, PartitionInfo], Iterator[pa.RecordBatch]]


class SourceChanged(Exception):
    """The partition was replaced while it was being copied (its new version is copied next)."""


@dataclass(frozen=True)
class Source:
    """What one partition's copy is made of: the committed files, as an identity."""

    asset: str
    key: str
    identity: str
    # How recent the committed version is (a Delta table version, a Parquet file's or
    # manifest's modification time): a stream pinned to an older version never has its copy
    # replace a newer one.
    order: int = 0

    @property
    def name(self) -> str:
        return f"{self.key}.{self.identity}"


def source_of(view: AssetView, info: PartitionInfo) -> Source | None:
    """The identity of the committed version of ``info`` in ``view`` (None: no rows to copy)."""
    if info.rows == 0:
        return None
    if view.format == "delta":
        frags = view.delta.fragments.get(info.key, []) if view.delta is not None else []
        if not frags:
            return None
        files: Iterable[str] = [f.path for f in frags]  # immutable, unique names
    elif info.files:  # an open Parquet partition: immutable segments
        files = info.files
    else:  # a closed Parquet file: replaced only by a rename, which changes its stamp
        files = [f"{info.key}:{info.stamp[0]}:{info.stamp[1]}"]
    h = hashlib.sha256()
    for part in (str(FORMAT_VERSION), view.asset, view.format, str(view.schema), *files):
        h.update(part.encode())
        h.update(b"\0")
    return Source(view.asset, info.key, h.hexdigest()[:32], _int(info.version))


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


class ServingCopy:
    """One published copy: its rows memory-mapped, its indexes opened when first used."""

    def __init__(self, source: Source, folder: Path, meta: dict[str, Any]):
        self.source = source
        self.folder = folder
        self.rows = int(meta["rows"])
        self.nbytes = int(meta["bytes"])
        self.ledger_sorted = bool(meta.get("ledger_sorted"))
        self.indexed = tuple(meta.get("indexes", ()))
        self.last_used = time.monotonic()
        self._table: pa.Table | None = None
        self._indexes: dict[str, Index] = {}
        self._sorted: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            self._table = map_ipc(self.folder / ROWS_FILE)
        return self._table

    def open(self) -> None:
        """Map the rows and every index now (otherwise each is mapped when first used)."""
        _ = self.table
        for column in self.indexed:
            self.index(column)

    def index(self, column: str) -> Index | None:
        if column not in self.indexed:
            return None
        with self._lock:
            if column not in self._indexes:
                self._indexes[column] = Index.open(self.folder, column)
            return self._indexes[column]

    def sorted_values(self, column: str) -> np.ndarray:
        """A column of a copy in ledger order, as numpy, for binary search (kept)."""
        with self._lock:
            if column not in self._sorted:
                self._sorted[column] = self.table.column(column).to_numpy()
            return self._sorted[column]

    def bytes_per_row(self) -> float:
        return self.nbytes / max(1, self.rows)


class ServingCache:
    """The copies under ``root``, the queue of copies to make, and the thread making them."""

    def __init__(
        self,
        root: Path,
        budget: int,
        tables: Iterable[str],
        read: ReadPartition,
        views: Callable[[str], AssetView] | None = None,
        warm_interval: float = DEFAULT_WARM_INTERVAL,
        metrics: Metrics | None = None,
    ):
        self.root = root
        self.budget = budget
        self.tables = frozenset(tables)
        self._read = read
        self._views = views
        self.warm_interval = warm_interval
        self.metrics = metrics or Metrics()
        self._lock = threading.Condition()
        self._copies: dict[str, ServingCopy] = {}  # by identity
        self._by_key: dict[tuple[str, str], str] = {}  # (asset, key) -> its copy's identity
        self._queue: OrderedDict[str, tuple[Source, AssetView, PartitionInfo]] = OrderedDict()
        self._failed: dict[str, int] = {}  # identity -> failed attempts
        self.settle = OPEN_SETTLE_S
        # Copy bytes per stored byte, measured on the last copy made (for warming's budget).
        self.expansion = EXPANSION_GUESS
        self._seen: dict[str, float] = {}  # open partitions' identities -> first seen
        self._building: str | None = None
        self._rounds_begun = 0  # warming rounds the thread started / finished
        self._rounds_done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hits = 0
        self.misses = 0
        self.builds = 0
        self._load()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="serving-copies", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _load(self) -> None:
        """Adopt the copies a previous run published; remove what it left half-written."""
        self.root.mkdir(parents=True, exist_ok=True)
        for table_dir in self.root.iterdir():
            if not table_dir.is_dir() or table_dir.name not in self.tables:
                continue
            for folder in table_dir.iterdir():
                if folder.name.startswith(TMP_PREFIX):
                    shutil.rmtree(folder, ignore_errors=True)
                    continue
                key, _, identity = folder.name.partition(".")
                try:
                    meta = json.loads((folder / META_FILE).read_text())
                except (OSError, ValueError):
                    shutil.rmtree(folder, ignore_errors=True)
                    continue
                if meta.get("format_version") != FORMAT_VERSION:
                    shutil.rmtree(folder, ignore_errors=True)
                    continue
                source = Source(table_dir.name, key, identity, int(meta.get("order", 0)))
                for old in self._add(ServingCopy(source, folder, meta)):
                    shutil.rmtree(old.folder, ignore_errors=True)
        for old in self._evict(keep=""):
            shutil.rmtree(old.folder, ignore_errors=True)
        self._gauges()

    def _add(self, made: ServingCopy) -> list[ServingCopy]:
        """Publish ``made`` as its partition's copy (under the lock); the copies it replaces,
        or ``[made]`` itself when the partition already has a more recent one."""
        source = made.source
        current = self._by_key.get((source.asset, source.key))
        old = self._copies.get(current) if current is not None else None
        if old is not None and old.source.order > source.order:
            return [made]
        self._copies[source.identity] = made
        self._by_key[(source.asset, source.key)] = source.identity
        if old is None or old is made:
            return []
        del self._copies[old.source.identity]
        return [old]

    def _remove(self, gone: ServingCopy) -> None:
        """Forget ``gone`` (under the lock; its folder is the caller's to delete)."""
        source = gone.source
        if self._copies.get(source.identity) is gone:
            del self._copies[source.identity]
            if self._by_key.get((source.asset, source.key)) == source.identity:
                del self._by_key[(source.asset, source.key)]

    # -- reads ---------------------------------------------------------------------------------
    def copy(self, view: AssetView, info: PartitionInfo) -> ServingCopy | None:
        """The copy of exactly this committed version, or None (and one is asked for)."""
        if view.asset not in self.tables:
            return None
        source = source_of(view, info)
        if source is None:
            return None
        with self._lock:
            found = self._copies.get(source.identity)
            if found is not None:
                found.last_used = time.monotonic()
                self.hits += 1
            else:
                self.misses += 1
        read_from = "copy" if found is not None else "table"
        self.metrics.inc("flight_gateway_partition_reads_total", asset=view.asset, source=read_from)
        if found is not None:
            return found
        if self._settled(source, info):
            self.want(source, view, info, front=True)
        return None

    def _settled(self, source: Source, info: PartitionInfo) -> bool:
        """Whether a copy of this version is worth making (see the module docstring)."""
        if info.complete:
            return True
        now = time.monotonic()
        with self._lock:
            first = self._seen.setdefault(source.identity, now)
        return now - first >= self.settle

    def discard(self, found: ServingCopy, exc: BaseException) -> None:
        """A copy that could not be read: log, remove; it is made again when next asked for.
        One deleted meanwhile (replaced or evicted after this request found it) is no fault."""
        if isinstance(exc, FileNotFoundError) and not found.folder.exists():
            with self._lock:
                self._remove(found)
                self._gauges()
            return
        logs.event(
            "serving_copy_unreadable",
            logging.WARNING,
            asset=found.source.asset,
            partition=found.source.key,
            folder=str(found.folder),
            exc=exc,
        )
        with self._lock:
            self._remove(found)
            self._gauges()
        self.metrics.inc("flight_gateway_serving_copy_failures_total")
        shutil.rmtree(found.folder, ignore_errors=True)

    def _gauges(self) -> None:
        """Publish the folder's size (under the lock)."""
        self.metrics.set("flight_gateway_serving_copies", len(self._copies))
        self.metrics.set(
            "flight_gateway_serving_bytes", sum(c.nbytes for c in self._copies.values())
        )

    # -- the queue -----------------------------------------------------------------------------
    def want(
        self, source: Source, view: AssetView, info: PartitionInfo, front: bool = False
    ) -> None:
        with self._lock:
            if source.identity in self._copies or source.identity == self._building:
                return
            if self._newer(source):
                return  # a stream pinned to an older version: it reads the table
            if self._failed.get(source.identity, 0) >= 2:
                return  # it failed twice: the partition stays served from the table
            self._queue[source.identity] = (source, view, info)
            if front:
                self._queue.move_to_end(source.identity, last=False)
            self._lock.notify_all()

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every copy asked for is made (or given up), and with a warming thread,
        until it looked at storage once after this call; False on timeout."""
        deadline = time.monotonic() + timeout
        warming = self.warm_interval > 0 and self._thread is not None
        with self._lock:
            round_after = self._rounds_begun + 1
            while (
                self._queue
                or self._building is not None
                or (warming and self._rounds_done < round_after)
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def warm(self) -> None:
        """Ask for the copies of every served table's current partitions, newest first, and
        remove copies no current partition has (replaced or removed)."""
        if self._views is None:
            return
        current: set[str] = set()
        wanted: list[tuple[int, Source, AssetView, PartitionInfo]] = []
        for asset in sorted(self.tables):
            try:
                view = self._views(asset)
            except Exception as exc:  # storage trouble: try again next round
                logs.event("serving_warm_failed", logging.WARNING, asset=asset, exc=exc)
                return
            for info in view.partitions.values():
                source = source_of(view, info)
                if source is not None:
                    current.add(source.identity)
                    wanted.append((info.first_ledger, source, view, info))
        # Newest ledgers first, as far as the budget goes: history beyond it is copied when
        # read (least recently used copies making room), not over and over by warming.
        wanted.sort(key=lambda w: w[0], reverse=True)
        room = self.budget
        for _, source, view, info in wanted:
            with self._lock:
                have = self._copies.get(source.identity)
            room -= have.nbytes if have is not None else int(info.stored_bytes * self.expansion)
            if room < 0:
                break
            if have is None and self._settled(source, info):
                self.want(source, view, info)
        with self._lock:
            self._seen = {i: t for i, t in self._seen.items() if i in current}
            gone = [c for i, c in self._copies.items() if i not in current]
            for c in gone:
                self._remove(c)
            self._gauges()
        for c in gone:
            shutil.rmtree(c.folder, ignore_errors=True)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "folder": str(self.root),
                "tables": sorted(self.tables),
                "copies": len(self._copies),
                "bytes": sum(c.nbytes for c in self._copies.values()),
                "budget_bytes": self.budget,
                "pending": len(self._queue) + (self._building is not None),
                "hits": self.hits,
                "misses": self.misses,
                "builds": self.builds,
            }

    # -- the builder thread --------------------------------------------------------------------
    def _run(self) -> None:
        next_warm = 0.0
        while not self._stop.is_set():
            if self.warm_interval > 0 and time.monotonic() >= next_warm:
                with self._lock:
                    self._rounds_begun += 1
                self.warm()
                with self._lock:
                    self._rounds_done += 1
                    self._lock.notify_all()
                next_warm = time.monotonic() + self.warm_interval
            with self._lock:
                if not self._queue:
                    wait = next_warm - time.monotonic() if self.warm_interval > 0 else None
                    self._lock.wait(wait)
                    continue
                identity, (source, view, info) = self._queue.popitem(last=False)
                self._building = identity
            try:
                self._make(source, view, info)
            except Exception as exc:  # - a failed copy only means reads scan
                with self._lock:
                    self._failed[identity] = self._failed.get(identity, 0) + 1
                self.metrics.inc("flight_gateway_serving_copy_failures_total")
                logs.event(
                    "serving_copy_failed",
                    logging.WARNING,
                    asset=source.asset,
                    partition=source.key,
                    exc=exc,
                )
            finally:
                with self._lock:
                    self._building = None
                    self._lock.notify_all()

    def _make(self, source: Source, view: AssetView, info: PartitionInfo) -> None:
        started = time.monotonic()
        folder = self.root / source.asset
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            try:
                meta = _write(tmp, view.schema, self._read(view, info), view.asset, source.order)
            except SourceChanged:
                meta = None
            if meta is None:  # no rows, or replaced meanwhile (the new version is asked for)
                shutil.rmtree(tmp, ignore_errors=True)
                return
            final = folder / source.name
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        made = ServingCopy(source, final, meta)
        made.open()  # mapped before anyone can find it: a later delete cannot pull it away
        with self._lock:
            older = self._add(made)  # [made]: a newer version was published meanwhile
            if older == [made]:
                shutil.rmtree(final, ignore_errors=True)
                return
            if info.stored_bytes:
                self.expansion = max(1.0, made.nbytes / info.stored_bytes)
            self.builds += 1
            evicted = self._evict(keep=source.identity)
            self._gauges()
        self.metrics.inc("flight_gateway_serving_copies_made_total")
        for c in older + evicted:
            shutil.rmtree(c.folder, ignore_errors=True)
        logs.event(
            "serving_copy_made",
            logging.DEBUG,
            asset=source.asset,
            partition=source.key,
            rows=made.rows,
            bytes=made.nbytes,
            seconds=round(time.monotonic() - started, 3),
            replaced=len(older),
            evicted=len(evicted),
        )

    def _newer(self, source: Source) -> bool:
        """Whether a copy of a more recent version of the same partition is published."""
        current = self._by_key.get((source.asset, source.key))
        found = self._copies.get(current) if current is not None else None
        return found is not None and found.source.order > source.order

    def _evict(self, keep: str) -> list[ServingCopy]:
        """Least recently used copies out until the folder fits the budget (under the lock)."""
        total = sum(c.nbytes for c in self._copies.values())
        out = []
        for c in sorted(self._copies.values(), key=lambda c: c.last_used):
            if total <= self.budget:
                break
            if c.source.identity == keep:
                continue
            self._remove(c)
            total -= c.nbytes
            out.append(c)
        return out


def _write(
    folder: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch], asset: str, order: int
) -> dict[str, Any] | None:
    """Write one partition's rows and indexes into ``folder``; its meta (None: not copied).

    The rows are written as they are read, gathered into batches of :data:`COPY_BATCH_ROWS`
    (at most two such batches in memory); the indexes are then built from the written file,
    memory-mapped."""
    rows = write_batches(folder / ROWS_FILE, schema, _gathered(schema, batches))
    if rows == 0:
        return None
    table = map_ipc(folder / ROWS_FILE)
    indexes = []
    for column in indexed_columns(asset, schema):
        build_index(folder, column, table.column(column))
        indexes.append(column)
    ledger_sorted = False
    if "ledger_sequence" in schema.names:
        seq = table.column("ledger_sequence").to_numpy()
        ledger_sorted = bool(np.all(seq[1:] >= seq[:-1]))
    meta = {
        "format_version": FORMAT_VERSION,
        "order": order,
        "rows": rows,
        "bytes": sum(f.stat().st_size for f in folder.iterdir()),
        "ledger_sorted": ledger_sorted,
        "indexes": indexes,
    }
    (folder / META_FILE).write_text(json.dumps(meta))
    return meta


def _gathered(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``batches`` as the table's schema, gathered into batches of :data:`COPY_BATCH_ROWS` rows
    (a scan's batches follow its files and row groups, and may be small)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for b in batches:
        # Scans lose nullability in their casts (Delta's widened types): same rows and types.
        pending.append(pa.RecordBatch.from_arrays(b.columns, schema=schema))
        held += b.num_rows
        while held >= COPY_BATCH_ROWS:
            table = pa.Table.from_batches(pending, schema=schema)
            head, rest = table.slice(0, COPY_BATCH_ROWS), table.slice(COPY_BATCH_ROWS)
            yield head.combine_chunks().to_batches()[0]
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending, schema=schema).combine_chunks().to_batches()[0]
