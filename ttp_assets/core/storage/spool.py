"""Local spool files: how a computation hands per-partition output to a storage writer.

A ranged run can cover many partitions, and a partition of modern ledgers can be gigabytes of
XDR. Compute code therefore never returns whole tables: it streams each partition's batches into
an Arrow IPC file on local disk while it works, and the IO manager streams that file into the
store and deletes it. Memory stays bounded by one batch, one decode pass can feed several tables,
and if compute fails nothing has reached the store.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from ..errors import StorageWriteError

SPOOL_ENV = "TTP_SPOOL_DIR"
# lz4 keeps the spool small at ~GB/s; zstd belongs to the final Parquet/Delta files.
_IPC_OPTIONS = ipc.IpcWriteOptions(compression="lz4")


def spool_root() -> Path:
    from ...settings import spool_dir  # settings are read in one module

    root = spool_dir() / "ttp-spool"
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class PartitionStats:
    """What a partition's output covers; becomes file metadata and Dagster metadata."""

    partition_key: str
    first_ledger: int
    last_ledger: int
    complete: bool
    # Incremental output: the stored rows of ledgers <= base_ledger are kept and the spool holds
    # only the ledgers after it. None: the spool is the whole partition.
    base_ledger: int | None = None
    rows: int = 0
    min_close_time: int | None = None
    max_close_time: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def file_metadata(self) -> dict[str, str]:
        meta = {
            "ttp.partition_key": self.partition_key,
            "ttp.first_ledger": str(self.first_ledger),
            "ttp.last_ledger": str(self.last_ledger),
            "ttp.complete": "true" if self.complete else "false",
        }
        if self.min_close_time is not None and self.max_close_time is not None:
            meta["ttp.first_close_time"] = str(self.min_close_time)
            meta["ttp.last_close_time"] = str(self.max_close_time)
        meta.update({f"ttp.{k}": str(v) for k, v in self.extra.items()})
        return meta


@dataclass
class SpooledPartition:
    """One partition's output, on local disk, waiting to be committed."""

    key: str
    path: Path
    schema: pa.Schema
    stats: PartitionStats

    def batches(self) -> Iterator[pa.RecordBatch]:
        with pa.memory_map(str(self.path)) as source:
            reader = ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self.batches())

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the run's spool folder, once it is empty
            self.path.parent.rmdir()


class PartitionedOutput(dict[str, SpooledPartition]):
    """What a partitioned asset returns: its spooled output, by partition key, in key order."""

    def discard(self) -> None:
        for part in self.values():
            part.discard()


class SpoolWriter:
    """Writes one partition's batches to a spool file, tracking rows and close times."""

    def __init__(self, directory: Path, schema: pa.Schema, stats: PartitionStats):
        self.schema = schema
        self.stats = stats
        self.path = directory / f"{stats.partition_key}-{uuid.uuid4().hex[:8]}.arrow"
        with self._naming_errors():
            self._sink = pa.OSFile(str(self.path), "wb")
            self._writer = ipc.new_file(self._sink, schema, options=_IPC_OPTIONS)

    @contextlib.contextmanager
    def _naming_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            table = (self.schema.metadata or {}).get(b"ttp.table", b"?").decode()
            raise StorageWriteError.wrap(
                exc, table, self.stats.partition_key, f"{self.path} (spool, {SPOOL_ENV})"
            ) from exc

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if batch.schema != self.schema:
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        with self._naming_errors():
            self._writer.write_batch(batch)
        self.stats.rows += batch.num_rows
        if "closed_at" in self.schema.names:
            col = batch.column("closed_at").cast(pa.int64())
            lo, hi = pa.compute.min(col).as_py(), pa.compute.max(col).as_py()
            s = self.stats
            s.min_close_time = lo if s.min_close_time is None else min(s.min_close_time, lo)
            s.max_close_time = hi if s.max_close_time is None else max(s.max_close_time, hi)

    def close(self) -> SpooledPartition:
        with self._naming_errors():
            self._writer.close()
            self._sink.close()
        return SpooledPartition(self.stats.partition_key, self.path, self.schema, self.stats)

    def abort(self) -> None:
        try:
            self._writer.close()
            self._sink.close()
        finally:
            self.path.unlink(missing_ok=True)


class Spool:
    """A run-scoped spool directory; removed on error so failed runs leave nothing behind."""

    def __init__(self, name: str):
        self.directory = spool_root() / f"{name}-{uuid.uuid4().hex[:12]}"
        self.directory.mkdir(parents=True)

    def writer(self, schema: pa.Schema, stats: PartitionStats) -> SpoolWriter:
        return SpoolWriter(self.directory, schema, stats)

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
