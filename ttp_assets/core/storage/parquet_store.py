"""One Parquet file per partition, committed atomically.

Layout: ``<root>/<table>/<partition_key>.parquet``. A write goes to
``<root>/<table>/_staging/<partition_key>.<random>.parquet`` and is then moved over the final
name, so readers see the old file or the new one, never a partial one; a crashed write leaves
only a staging file that no reader lists. On a local disk the move is a rename; on S3 it is a
server-side copy, and the final object appears atomically when the copy completes.

Each file's footer carries the partition key, ledger range and completeness (``ttp.*`` keys),
so a reader (the Flight gateway, an incremental re-materialization) can tell what it holds
without reading data.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ..errors import StorageWriteError
from .location import Location

log = logging.getLogger(__name__)

STAGING = "_staging"
SUFFIX = ".parquet"
# Large XDR columns make big rows; cap row groups so readers can stream them.
ROW_GROUP_ROWS = 65536
# Writers get small batches (the native core hands over a few ledgers' rows at a time). Written
# one row group each, 160 small ledgers made files of 112 row groups whose footers (statistics of
# every column of every row group) outweighed the data and were parsed again by every reader.
# Consecutive batches are therefore gathered into row groups of up to this much Arrow data, the
# size of the core's largest chunks (~4 MB of XDR); a bigger batch stays one row group on its
# own, as before. The largest row group, which bounds a reader's memory, stays what it was.
ROW_GROUP_BYTES = 4 << 20


@dataclass(frozen=True)
class WriteResult:
    key: str
    path: str
    rows: int
    bytes: int


class ParquetPartitionStore:
    """Partitions of one table stored as Parquet files under ``location``."""

    def __init__(self, location: Location, table: str, schema: pa.Schema):
        self.location = location
        self.table = table
        self.schema = schema

    def path(self, key: str) -> str:
        _check_key(key)
        return self.location.path(self.table, key + SUFFIX)

    def display(self, key: str) -> str:
        return self.location.display(self.table, key + SUFFIX)

    def write(
        self,
        key: str,
        batches: Iterable[pa.RecordBatch],
        metadata: dict[str, str] | None = None,
        row_group_rows: int = ROW_GROUP_ROWS,
        keep_through: int | None = None,
    ) -> WriteResult:
        """Write ``batches`` as partition ``key``, replacing any previous version atomically.

        With ``keep_through``, the stored rows of ledgers up to it come first (an incremental
        update of an open partition: ``batches`` holds only the later ledgers).
        """
        if keep_through is not None:
            kept = ds.field("ledger_sequence") <= keep_through
            batches = itertools.chain(self.batches(key, filter=kept), batches)
        fs = self.location.fs
        final = self.path(key)
        staging_dir = self.location.path(self.table, STAGING)
        staged = f"{staging_dir}/{key}.{uuid.uuid4().hex}{SUFFIX}"
        if self.location.is_local:  # object stores have no folders; pyarrow would add markers
            fs.create_dir(staging_dir, recursive=True)
        schema = self.schema.with_metadata({**(self.schema.metadata or {}), **_b(metadata)})
        rows = 0
        try:
            with fs.open_output_stream(staged, compression=None) as sink:
                writer = pq.ParquetWriter(
                    sink,
                    schema,
                    compression="zstd",
                    write_statistics=True,
                    use_dictionary=True,
                )
                try:
                    for group in row_groups(batches, schema, row_group_rows):
                        writer.write_table(group, row_group_size=row_group_rows)
                        rows += group.num_rows
                finally:
                    writer.close()
            size = fs.get_file_info(staged).size
            fs.move(staged, final)
        except OSError as exc:
            _delete_quietly(fs, staged)
            raise StorageWriteError.wrap(exc, self.table, key, self.display(key)) from exc
        except BaseException:
            _delete_quietly(fs, staged)
            raise
        log.info(
            "partition committed",
            extra={
                "table": self.table,
                "partition": key,
                "rows": rows,
                "bytes": size,
                "path": self.display(key),
            },
        )
        return WriteResult(key, self.display(key), rows, size or 0)

    def exists(self, key: str) -> bool:
        return self.location.fs.get_file_info(self.path(key)).type == pafs.FileType.File

    def committed_keys(self) -> list[str]:
        """Committed partition keys, sorted."""
        sel = pafs.FileSelector(self.location.path(self.table), allow_not_found=True)
        out = []
        for info in self.location.fs.get_file_info(sel):
            if info.type == pafs.FileType.File and info.base_name.endswith(SUFFIX):
                out.append(info.base_name[: -len(SUFFIX)])
        return sorted(out)

    def file_metadata(self, key: str) -> dict[str, str]:
        """The ``ttp.*`` footer metadata of a committed partition."""
        with self.location.fs.open_input_file(self.path(key)) as f:
            meta = pq.read_schema(f).metadata or {}
        return {k.decode(): v.decode() for k, v in meta.items() if k.startswith(b"ttp.")}

    def open_file(self, key: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.location.fs.open_input_file(self.path(key)))

    def batches(
        self,
        key: str,
        columns: list[str] | None = None,
        batch_size: int = 65536,
        filter: ds.Expression | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a committed partition (the version current when the file was opened)."""
        dataset = ds.dataset(
            self.path(key), format="parquet", filesystem=self.location.fs, schema=self.schema
        )
        yield from dataset.to_batches(columns=columns, filter=filter, batch_size=batch_size)

    def read(self, key: str, columns: list[str] | None = None) -> pa.Table:
        return pa.Table.from_batches(
            list(self.batches(key, columns)), schema=_project(self.schema, columns)
        )

    def delete(self, key: str) -> None:
        _delete_quietly(self.location.fs, self.path(key))


def row_groups(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    max_rows: int = ROW_GROUP_ROWS,
    max_bytes: int = ROW_GROUP_BYTES,
) -> Iterator[pa.Table]:
    """``batches`` in order, gathered into tables of at most ``max_rows`` rows and ``max_bytes``
    of Arrow data (a batch bigger than that on its own stays whole), empty batches dropped.

    The tables reference the batches' buffers (no copy); memory is bounded by ``max_bytes``
    plus one batch.
    """
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        n, nbytes = batch.num_rows, batch.nbytes
        if pending and (rows + n > max_rows or size + nbytes > max_bytes):
            yield pa.Table.from_batches(pending, schema=schema)
            pending, rows, size = [], 0, 0
        pending.append(batch)
        rows += n
        size += nbytes
    if pending:
        yield pa.Table.from_batches(pending, schema=schema)


def _project(schema: pa.Schema, columns: list[str] | None) -> pa.Schema:
    if columns is None:
        return schema
    return pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)


def _b(meta: dict[str, str] | None) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in (meta or {}).items()}


def _delete_quietly(fs: pafs.FileSystem, path: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.delete_file(path)


def _check_key(key: str) -> None:
    # Keys become file names: refuse anything that could escape the table folder.
    if not key or "/" in key or "\\" in key or key.startswith(".") or ".." in key:
        raise ValueError(f"invalid partition key {key!r}")
