"""Arrow IPC files of the serving copies: written whole, read through a memory map."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa


def write_ipc(path: Path, table: pa.Table, max_chunksize: int | None = None) -> None:
    """``table`` as an uncompressed IPC file (batches of at most ``max_chunksize`` rows)."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max_chunksize)


def map_ipc(path: Path) -> pa.Table:
    """The IPC file at ``path`` as a table over a memory map: no copy, and no file descriptor
    kept (the mapping lives as long as the table's buffers, even if the file is deleted)."""
    source = pa.memory_map(str(path))
    try:
        return pa.ipc.open_file(source).read_all()
    finally:
        source.close()
