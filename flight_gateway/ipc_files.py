"""Arrow IPC files of the serving copies: written whole, read through a memory map."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa


def write_ipc(path: Path, table: pa.Table, max_chunksize: int | None = None) -> None:
    """``table`` as an uncompressed IPC file (batches of at most ``max_chunksize`` rows)."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max_chunksize)


def write_batches(path: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    """``batches`` as an uncompressed IPC file, written as they come; the rows written."""
    rows = 0
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def map_ipc(path: Path) -> pa.Table:
    """The IPC file at ``path`` as a table over a memory map: no copy, and no file descriptor
    kept (the mapping lives as long as the table's buffers, even if the file is deleted)."""
    source = pa.memory_map(str(path))
    try:
        return pa.ipc.open_file(source).read_all()
    finally:
        source.close()
