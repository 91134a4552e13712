"""One Delta Lake table per asset, partitioned by ledger-range key, replaced one commit at a time.

Layout::

    <root>/<table>/_delta_log/...                    the Delta log
    <root>/<table>/partition_key=<key>/*.parquet     data files (written by pyarrow)
    <root>/<table>/_ttp_partitions/<key>.json        what each committed partition covers

Writing the partitions of a run is ONE Delta commit: each partition's rows are written by
pyarrow as a new Parquet file (in the order given, which is ledger order), and one transaction
removes the partitions' current files and adds the new ones. Readers see the previous version
until the commit lands; a writer killed midway leaves only files no version references (vacuum
removes them). delta-rs's own writer is not used for data because it does not keep row order.
An incremental write (``keep_through``) of a partition that stays open only *adds* a file with
the new ledgers' rows: the stored files are not rewritten, so a live tick's work and bytes are
those of its new ledgers. The write that completes the partition compacts it once: the stored
rows up to the base and the new ones become one file, replacing all the others (as the Parquet
store does with its open segments).

Runs on other partitions commit concurrently (delta-rs rebases commits that touch other files);
two runs replacing the same partition conflict on the files they both remove, and the loser
rewrites its file from the new version and commits again, so a partition never holds both
runs' rows. On S3, delta-rs 1.x makes the commit file with a conditional put
(``If-None-Match``), which AWS S3 and most compatible servers support; no lock table is needed.

Delta has no unsigned integers and stores microsecond timestamps, so columns are widened on the
way in (uint8/16/32 to the next signed type, uint64 to decimal(20,0), timestamp[s] to [us]) and
narrowed back to the logical schema (``core.schemas``) on the way out; nothing is lost. Other
readers (DuckDB, Polars, Spark) see the widened types.

Reads go through pyarrow's filesystem rather than delta-rs's object store: the latter's threads
can abort the interpreter at exit ("terminate called without an active exception").

A partition whose run produced no rows has no data files, yet it is materialized: the
``_ttp_partitions/<key>.json`` record, written right after the commit, says so and gives the
ledger coverage. (Names starting with ``_`` are never touched by Delta's vacuum.) If a process
dies between the commit and that record, the record still describes the previous version,
whose coverage is never larger than the new one: readers err on the side of "incomplete".
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction

from ..errors import StorageWriteError
from ..ledger_ranges import parse_key
from .location import Location
from .parquet_store import ROW_GROUP_ROWS, row_groups

log = logging.getLogger(__name__)

PARTITION_COLUMN = "partition_key"
COVERAGE_DIR = "_ttp_partitions"
COMMIT_ATTEMPTS = 8
COMMIT_BACKOFF_S = 0.02


# Every commit replays the log since the last checkpoint: a live tail commits every 30 s, so
# with Delta's default of a checkpoint per 100 commits the commit time grows between them
# (measured: 15 -> 55 ms over 100 small commits; with 10, about 30 ms at 130 commits).
CHECKPOINT_INTERVAL = 10
TABLE_PROPERTIES = {"delta.checkpointInterval": str(CHECKPOINT_INTERVAL)}


def _delta_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_uint8(t):
        return pa.int16()
    if pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t):
        return pa.int64()
    if pa.types.is_uint64(t):
        return pa.decimal128(20, 0)
    if pa.types.is_timestamp(t) and t.unit != "us":
        return pa.timestamp("us", tz=t.tz)
    return t


def delta_schema(logical: pa.Schema) -> pa.Schema:
    """The physical Delta schema of a logical table schema, with the partition column."""
    fields = [f.with_type(_delta_type(f.type)) for f in logical]
    fields.append(pa.field(PARTITION_COLUMN, pa.string(), nullable=False))
    return pa.schema(fields, metadata=logical.metadata)


@dataclass(frozen=True)
class DeltaCommit:
    """What one ``commit`` made: the table version, and per partition written its rows and data
    bytes in that version (from the log; 0 for a partition without rows)."""

    version: int
    rows: dict[str, int]
    bytes: dict[str, int]


@dataclass(frozen=True)
class PartitionWrite:
    key: str
    # A fresh iterator per call: a conflicting commit is retried from the start.
    batches: Callable[[], Iterable[pa.RecordBatch]]
    metadata: dict[str, str]  # ttp.* coverage, as Parquet partitions carry in their footer
    # Keep the stored rows of ledgers <= keep_through and replace only the later ones (an
    # incremental update of an open partition); None replaces the whole partition.
    keep_through: int | None = None


class DeltaPartitionStore:
    """Partitions of one table stored as a Delta table under ``location``."""

    def __init__(self, location: Location, table: str, schema: pa.Schema):
        self.location = location
        self.table = table
        self.schema = schema
        self.physical = delta_schema(schema)

    @property
    def uri(self) -> str:
        return self.location.delta_uri(self.table)

    @property
    def storage_options(self) -> dict[str, str]:
        return self.location.delta_storage_options()

    def display(self, key: str) -> str:
        return self.location.display(self.table, f"{PARTITION_COLUMN}={key}")

    # -- writing ---------------------------------------------------------------------------
    def _ensure_table(self) -> DeltaTable:
        try:
            return self._table()
        except TableNotFoundError:
            return DeltaTable.create(
                self.uri,
                self.physical,
                mode="ignore",
                partition_by=[PARTITION_COLUMN],
                storage_options=self.storage_options,
                configuration=TABLE_PROPERTIES,
            )

    def _data_file(self, key: str, batches: Iterable[pa.RecordBatch]) -> AddAction | None:
        """Write one partition's rows as a new data file; None when there are no rows."""
        data_schema = self.physical.remove(self.physical.get_field_index(PARTITION_COLUMN))
        rel = f"{PARTITION_COLUMN}={key}/part-{uuid.uuid4().hex}.zstd.parquet"
        path = self.location.path(self.table, rel)
        fs = self.location.fs
        if self.location.is_local:
            fs.create_dir(self.location.path(self.table, f"{PARTITION_COLUMN}={key}"))
        stats = _FileStats(data_schema)

        def physical() -> Iterator[pa.RecordBatch]:
            for batch in batches:
                if batch.num_rows:
                    cols = [c.cast(data_schema.field(i).type) for i, c in enumerate(batch.columns)]
                    yield pa.RecordBatch.from_arrays(cols, schema=data_schema)

        try:
            with fs.open_output_stream(path, compression=None) as sink:
                writer = pq.ParquetWriter(sink, data_schema, compression="zstd")
                try:
                    for group in row_groups(physical(), data_schema):
                        writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
                        stats.update(group)
                finally:
                    writer.close()
        except OSError as exc:
            _delete_quietly(fs, path)
            where = self.location.display(self.table, rel)
            raise StorageWriteError.wrap(exc, self.table, key, where) from exc
        except BaseException:
            _delete_quietly(fs, path)
            raise
        if stats.rows == 0:
            _delete_quietly(fs, path)
            return None
        return AddAction(
            path=rel,
            size=fs.get_file_info(path).size,
            partition_values={PARTITION_COLUMN: key},
            modification_time=int(time.time() * 1000),
            data_change=True,
            stats=stats.json(),
        )

    def write(self, parts: list[PartitionWrite]) -> int:
        """Replace exactly ``parts`` in one commit; returns the new table version."""
        return self.commit(parts).version

    def commit(self, parts: list[PartitionWrite]) -> DeltaCommit:
        """Replace exactly ``parts`` in one commit; what it made (see ``DeltaCommit``)."""
        if not parts:
            raise ValueError("nothing to write")
        keys = [p.key for p in parts]
        for k in keys:
            parse_key(k)  # keys name folders: only well-formed range keys pass
        coverage = {p.key: p.metadata for p in parts}
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            table = self._ensure_table()
            current = self._files(table, set(keys))
            adds: list[AddAction] = []
            removed: list[_DataFile] = []
            try:
                for p in parts:
                    stored = [f for f in current if f.key == p.key]
                    gone, sources = self._plan_part(p, stored)
                    removed.extend(gone)
                    for rows in sources:
                        add = self._data_file(p.key, rows)
                        if add is not None:
                            adds.append(add)
                now = int(time.time() * 1000)
                removes = [
                    RemoveAction(f.path, True, now, f.size, {PARTITION_COLUMN: f.key})
                    for f in removed
                ]
                table.create_write_transaction(
                    [*removes, *adds],
                    mode="append",
                    schema=self.physical,
                    partition_by=[PARTITION_COLUMN],
                    commit_properties=CommitProperties(
                        custom_metadata={"ttp.partitions": json.dumps(sorted(keys))},
                        max_commit_retries=10,
                    ),
                )
                break
            except CommitFailedError as exc:
                self._discard(adds)
                if attempt == COMMIT_ATTEMPTS:
                    raise
                log.warning(
                    "delta commit conflict, retrying",
                    extra={
                        "table": self.table,
                        "partitions": keys,
                        "attempt": attempt,
                        "error": str(exc)[:200],
                    },
                )
                # Writers that collided would collide again if they retried in lockstep: wait a
                # random, growing while (at most ~1 s) so that one of them commits first.
                time.sleep(random.uniform(0, min(1.0, COMMIT_BACKOFF_S * 2**attempt)))
            except BaseException:
                self._discard(adds)
                raise
        # The table as committed: the snapshot this attempt started from, brought up to date
        # (reads only the log entries after it, not the whole log again).
        table.update_incremental()
        version = table.version()
        files = self._files(table, set(keys))
        counts = {k: 0 for k in keys}
        sizes = {k: 0 for k in keys}
        for f in files:
            counts[f.key] += f.rows
            sizes[f.key] += f.size
        for key, meta in coverage.items():
            self._write_coverage(
                key, {**meta, "ttp.delta_version": str(version), "ttp.rows": str(counts[key])}
            )
        log.info(
            "partitions committed",
            extra={"table": self.table, "partitions": keys, "version": version},
        )
        return DeltaCommit(version, counts, sizes)

    def _plan_part(
        self, part: PartitionWrite, stored: list[_DataFile]
    ) -> tuple[list[_DataFile], list[Iterable[pa.RecordBatch]]]:
        """Which of a partition's files the commit removes, and the rows of each file it adds.

        An update of a partition that stays open appends: files up to the base stay as they
        are, and only a file reaching past the base (an output that got ahead of a sibling's)
        is rewritten, cut back to the base. Any other write replaces the partition with one
        file: a full write, or the update that completes it (its one compaction).
        """
        base = part.keep_through
        if base is None:
            return stored, [part.batches()]
        kept = ds.field("ledger_sequence") <= base
        if part.metadata.get("ttp.complete") != "false":
            prefix = self._read_files(sorted(stored, key=_first), None, 65536, kept)
            return stored, [itertools.chain(prefix, part.batches())]
        gone = [f for f in stored if f.last_ledger is None or f.last_ledger > base]
        heads = sorted((f for f in gone if f.first_ledger <= base), key=_first)
        return gone, [*(self._read_files([f], None, 65536, kept) for f in heads), part.batches()]

    def delete(self, key: str) -> None:
        """Remove partition ``key``: one commit removing its data files, then its coverage
        record (readers stop seeing it at the commit; vacuum deletes the files later)."""
        table = self._table_or_none()
        if table is not None:
            current = self._files(table, {key})
            if current:
                now = int(time.time() * 1000)
                table.create_write_transaction(
                    [
                        RemoveAction(f.path, True, now, f.size, {PARTITION_COLUMN: key})
                        for f in current
                    ],
                    mode="append",
                    schema=self.physical,
                    partition_by=[PARTITION_COLUMN],
                    commit_properties=CommitProperties(
                        custom_metadata={"ttp.removed_partitions": json.dumps([key])}
                    ),
                )
        _delete_quietly(self.location.fs, self._coverage_path(key))

    def _discard(self, adds: list[AddAction]) -> None:
        for a in adds:
            _delete_quietly(self.location.fs, self.location.path(self.table, a.path))

    def _coverage_path(self, key: str) -> str:
        return self.location.path(self.table, COVERAGE_DIR, f"{key}.json")

    def _write_coverage(self, key: str, meta: dict[str, str]) -> None:
        fs = self.location.fs
        final = self._coverage_path(key)
        tmp = f"{final}.{uuid.uuid4().hex}.tmp"
        try:
            if self.location.is_local:
                fs.create_dir(self.location.path(self.table, COVERAGE_DIR), recursive=True)
            with fs.open_output_stream(tmp, compression=None) as out:
                out.write(json.dumps(meta, sort_keys=True).encode())
            fs.move(tmp, final)
        except OSError as exc:
            _delete_quietly(fs, tmp)
            where = self.location.display(self.table, COVERAGE_DIR, f"{key}.json")
            raise StorageWriteError.wrap(exc, self.table, key, where) from exc

    # -- reading ---------------------------------------------------------------------------
    def _table(self) -> DeltaTable:
        return DeltaTable(self.uri, storage_options=self.storage_options)

    def _table_or_none(self) -> DeltaTable | None:
        """The current version of the table (one log load), or None when there is no table."""
        try:
            return self._table()
        except TableNotFoundError:
            return None

    def table_exists(self) -> bool:
        return self._table_or_none() is not None

    def exists(self, key: str) -> bool:
        info = self.location.fs.get_file_info(self._coverage_path(key))
        return info.type == pafs.FileType.File

    def committed_keys(self) -> list[str]:
        sel = pafs.FileSelector(self.location.path(self.table, COVERAGE_DIR), allow_not_found=True)
        return sorted(
            i.base_name[: -len(".json")]
            for i in self.location.fs.get_file_info(sel)
            if i.type == pafs.FileType.File and i.base_name.endswith(".json")
        )

    def file_metadata(self, key: str) -> dict[str, str]:
        with self.location.fs.open_input_stream(self._coverage_path(key), compression=None) as f:
            return json.loads(f.read())

    def batches(
        self,
        key: str,
        columns: list[str] | None = None,
        batch_size: int = 65536,
        filter: ds.Expression | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """A partition's rows in ledger order, from the table version current at the call.

        The file list is resolved here, eagerly; only pyarrow reads happen while iterating.
        """
        table = self._table_or_none()
        if table is None:
            return iter(())
        return self._read(table, key, columns, batch_size, filter)

    def _read(
        self,
        table: DeltaTable,
        key: str,
        columns: list[str] | None,
        batch_size: int,
        filter: ds.Expression | None,
    ) -> Iterator[pa.RecordBatch]:
        # The files of the partition, straight from the log, read one after the other by their
        # first ledger (each file is a contiguous run of ledgers: one commit's rows, in order).
        # delta-rs's to_pyarrow_dataset is not used here: it turns file statistics into guard
        # expressions that can exclude a file from a filtered scan.
        files = sorted(self._files(table, {key}), key=_first)
        return self._read_files(files, columns, batch_size, filter)

    def _read_files(
        self,
        files: list[_DataFile],
        columns: list[str] | None,
        batch_size: int,
        filter: ds.Expression | None,
    ) -> Iterator[pa.RecordBatch]:
        data_schema = self.physical.remove(self.physical.get_field_index(PARTITION_COLUMN))
        cols = columns or self.schema.names
        target = pa.schema([self.schema.field(c) for c in cols])
        paths = [self.location.path(self.table, f.path) for f in files]

        def read() -> Iterator[pa.RecordBatch]:
            for path in paths:
                dataset = ds.dataset(
                    path, format="parquet", filesystem=self.location.fs, schema=data_schema
                )
                for batch in dataset.to_batches(columns=cols, filter=filter, batch_size=batch_size):
                    if batch.num_rows:
                        yield pa.RecordBatch.from_arrays(
                            [c.cast(target.field(i).type) for i, c in enumerate(batch.columns)],
                            schema=target,
                        )

        return read()

    @staticmethod
    def _files(table: DeltaTable, keys: set[str] | None = None) -> list[_DataFile]:
        """The current data files (of ``keys`` only, when given)."""
        actions = pa.table(table.get_add_actions(flatten=True))
        names = actions.column_names

        def column(name: str) -> list:
            if name in names:
                return actions.column(name).to_pylist()
            return [None] * actions.num_rows

        out = []
        for path, key, size, first, last, rows in zip(
            actions.column("path").to_pylist(),
            actions.column(f"partition.{PARTITION_COLUMN}").to_pylist(),
            actions.column("size_bytes").to_pylist(),
            column("min.ledger_sequence"),
            column("max.ledger_sequence"),
            column("num_records"),
            strict=True,
        ):
            if keys is None or key in keys:
                out.append(_DataFile(path, key, size, first or 0, last, rows or 0))
        return out

    def row_counts(self) -> dict[str, int]:
        """Rows per partition in the current version (from the log's file statistics)."""
        table = self._table_or_none()
        counts: dict[str, int] = {}
        for f in self._files(table) if table is not None else []:
            counts[f.key] = counts.get(f.key, 0) + f.rows
        return counts

    def partition_bytes(self, keys: list[str]) -> dict[str, int]:
        """Bytes of the current data files of each partition."""
        table = self._table_or_none()
        out: dict[str, int] = {}
        for f in self._files(table, set(keys)) if table is not None else []:
            out[f.key] = out.get(f.key, 0) + f.size
        return out

    def files_per_partition(self) -> dict[str, int]:
        """Data files of each partition in the current version."""
        table = self._table_or_none()
        counts: dict[str, int] = {}
        for f in self._files(table) if table is not None else []:
            counts[f.key] = counts.get(f.key, 0) + 1
        return counts


@dataclass(frozen=True)
class _DataFile:
    path: str
    key: str
    size: int
    first_ledger: int
    last_ledger: int | None  # None: the file has no statistics for it
    rows: int


def _first(f: _DataFile) -> int:
    return f.first_ledger


class _FileStats:
    """Delta file statistics: row and null counts, and min/max of every column whose Delta
    encoding is plain (integers, floats, strings, timestamps as ISO-8601 UTC microseconds).

    Readers prune files by these; delta-rs even treats a column without min/max as "no value
    can match", so every column that can carry bounds does.
    """

    def __init__(self, schema: pa.Schema):
        self.rows = 0
        self.names = schema.names
        self.bounded = [
            f.name
            for f in schema
            if pa.types.is_integer(f.type)
            or pa.types.is_floating(f.type)
            or pa.types.is_string(f.type)
            or pa.types.is_timestamp(f.type)
        ]
        self.nulls = dict.fromkeys(self.names, 0)
        self.mins: dict[str, object] = {}
        self.maxs: dict[str, object] = {}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.rows += batch.num_rows
        for name in self.names:
            self.nulls[name] += batch.column(name).null_count
        for name in self.bounded:
            mm = pc.min_max(batch.column(name))
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            if lo is None:
                continue
            self.mins[name] = lo if name not in self.mins else min(self.mins[name], lo)  # type: ignore[type-var]
            self.maxs[name] = hi if name not in self.maxs else max(self.maxs[name], hi)  # type: ignore[type-var]

    @staticmethod
    def _json_value(v: object) -> object:
        if isinstance(v, datetime.datetime):
            return v.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return v

    def json(self) -> str:
        return json.dumps(
            {
                "numRecords": self.rows,
                "minValues": {k: self._json_value(v) for k, v in self.mins.items()},
                "maxValues": {k: self._json_value(v) for k, v in self.maxs.items()},
                "nullCount": self.nulls,
            }
        )


def _delete_quietly(fs: pafs.FileSystem, path: str) -> None:
    with contextlib.suppress(OSError):
        fs.delete_file(path)
