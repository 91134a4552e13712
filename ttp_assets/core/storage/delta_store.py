"""One Delta Lake table per asset, partitioned by ledger-range key, replaced one commit at a time.

Layout::

    <root>/<table>/_delta_log/...                    the Delta log
    <root>/<table>/partition_key=<key>/*.parquet     data files (written by delta-rs)
    <root>/<table>/_ttp_partitions/<key>.json        what each committed partition covers

Writing the partitions of a run is ONE Delta commit: ``overwrite`` with the predicate
``partition_key IN (...)``, so exactly those partitions are replaced, atomically; readers see the
previous version until the commit lands, a writer killed midway leaves only unreferenced files.
Runs on other partitions commit concurrently (delta-rs resolves disjoint conflicts); two runs on
the same partition conflict, and the loser retries on the new version, so a partition never
holds both runs' rows.

On S3, delta-rs 1.x makes the commit file with a conditional put (``If-None-Match``), which AWS
S3 and most compatible servers support; no lock table is needed.

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

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from ..ledger_ranges import parse_key
from .location import Location

log = logging.getLogger(__name__)

PARTITION_COLUMN = "partition_key"
COVERAGE_DIR = "_ttp_partitions"
COMMIT_ATTEMPTS = 8


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
class PartitionWrite:
    key: str
    # A fresh iterator per call: a conflicting commit is retried from the start.
    batches: Callable[[], Iterable[pa.RecordBatch]]
    metadata: dict[str, str]  # ttp.* coverage, as Parquet partitions carry in their footer
    # Keep the stored rows of ledgers <= keep_through and replace only the later ones (an
    # incremental update of an open partition); None replaces the whole partition.
    keep_through: int | None = None

    def predicate(self) -> str:
        key = f"{PARTITION_COLUMN} = {self.key!r}"
        if self.keep_through is None:
            return key
        return f"({key} AND ledger_sequence > {int(self.keep_through)})"


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
    def _physical(self, key: str, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if not batch.num_rows:
                continue
            cols = [col.cast(self.physical.field(i).type) for i, col in enumerate(batch.columns)]
            cols.append(pa.array([key] * batch.num_rows, pa.string()))
            yield pa.RecordBatch.from_arrays(cols, schema=self.physical)

    def write(self, parts: list[PartitionWrite]) -> int:
        """Replace exactly ``parts`` in one commit; returns the new table version."""
        if not parts:
            raise ValueError("nothing to write")
        keys = [p.key for p in parts]
        for k in keys:
            parse_key(k)  # keys go into a SQL predicate: only well-formed range keys pass
        if all(p.keep_through is None for p in parts):
            predicate = f"{PARTITION_COLUMN} IN ({', '.join(repr(k) for k in keys)})"
        else:
            predicate = " OR ".join(p.predicate() for p in parts)
        coverage = {p.key: p.metadata for p in parts}
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            reader = pa.RecordBatchReader.from_batches(
                self.physical, (b for p in parts for b in self._physical(p.key, p.batches()))
            )
            try:
                write_deltalake(
                    self.uri,
                    reader,
                    mode="overwrite",
                    predicate=predicate,
                    partition_by=[PARTITION_COLUMN],
                    storage_options=self.storage_options,
                    commit_properties=CommitProperties(
                        custom_metadata={"ttp.partitions": json.dumps(sorted(keys))},
                        max_commit_retries=10,
                    ),
                )
                break
            except CommitFailedError as exc:
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
        version = self._table().version()
        counts = self.row_counts()
        for key, meta in coverage.items():
            self._write_coverage(
                key,
                {**meta, "ttp.delta_version": str(version), "ttp.rows": str(counts.get(key, 0))},
            )
        log.info(
            "partitions committed",
            extra={"table": self.table, "partitions": keys, "version": version},
        )
        return version

    def _coverage_path(self, key: str) -> str:
        return self.location.path(self.table, COVERAGE_DIR, f"{key}.json")

    def _write_coverage(self, key: str, meta: dict[str, str]) -> None:
        fs = self.location.fs
        final = self._coverage_path(key)
        tmp = f"{final}.{uuid.uuid4().hex}.tmp"
        if self.location.is_local:
            fs.create_dir(self.location.path(self.table, COVERAGE_DIR), recursive=True)
        with fs.open_output_stream(tmp, compression=None) as out:
            out.write(json.dumps(meta, sort_keys=True).encode())
        fs.move(tmp, final)

    # -- reading ---------------------------------------------------------------------------
    def _table(self) -> DeltaTable:
        return DeltaTable(self.uri, storage_options=self.storage_options)

    def table_exists(self) -> bool:
        try:
            self._table()
        except TableNotFoundError:
            return False
        return True

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

    def dataset(self) -> ds.Dataset:
        """The current version as a pyarrow dataset (physical schema), read by pyarrow."""
        return self._dataset(self._table())

    def batches(
        self,
        key: str,
        columns: list[str] | None = None,
        batch_size: int = 65536,
        filter: ds.Expression | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """A partition's rows in ledger order, from one table version.

        Each data file holds a contiguous run of ledgers in order (one commit's rows, split by
        size), so files are read one after the other by their first ledger; a continued
        partition has one file per increment and a plain dataset scan would interleave them.
        """
        if not self.table_exists():
            return
        table = self._table()
        dataset = self._dataset(table)
        firsts = self._first_ledgers(table, key)
        fragments = sorted(
            dataset.get_fragments(filter=ds.field(PARTITION_COLUMN) == key),
            key=lambda f: firsts.get(f.path, 0),
        )
        cols = columns or self.schema.names
        target = pa.schema([self.schema.field(c) for c in cols])
        for fragment in fragments:
            for batch in fragment.to_batches(
                schema=dataset.schema, columns=cols, filter=filter, batch_size=batch_size
            ):
                if batch.num_rows:
                    yield pa.RecordBatch.from_arrays(
                        [col.cast(target.field(i).type) for i, col in enumerate(batch.columns)],
                        schema=target,
                    )

    def _dataset(self, table: DeltaTable) -> ds.Dataset:
        sub = pafs.SubTreeFileSystem(self.location.path(self.table), self.location.fs)
        return table.to_pyarrow_dataset(filesystem=sub)

    @staticmethod
    def _first_ledgers(table: DeltaTable, key: str) -> dict[str, int]:
        actions = pa.table(table.get_add_actions(flatten=True))
        part = f"partition.{PARTITION_COLUMN}"
        out = {}
        for path, k, first in zip(
            actions.column("path").to_pylist(),
            actions.column(part).to_pylist(),
            actions.column("min.ledger_sequence").to_pylist(),
            strict=True,
        ):
            if k == key:
                out[path] = first or 0
        return out

    def row_counts(self) -> dict[str, int]:
        """Rows per partition in the current version."""
        if not self.table_exists():
            return {}
        t = self.dataset().to_table(columns=[PARTITION_COLUMN])
        counts = pc.value_counts(t.column(PARTITION_COLUMN)).to_pylist()
        return {c["values"]: c["counts"] for c in counts}

    def partition_bytes(self, keys: list[str]) -> dict[str, int]:
        """Bytes of the current data files of each partition."""
        if not self.table_exists():
            return {}
        actions = self._table().get_add_actions(flatten=True)
        table = pa.table(actions)
        col = f"partition.{PARTITION_COLUMN}"
        wanted = set(keys)
        out: dict[str, int] = {}
        for key, size in zip(
            table.column(col).to_pylist(), table.column("size_bytes").to_pylist(), strict=True
        ):
            if key in wanted:
                out[key] = out.get(key, 0) + size
        return out
