"""Which format stores which table, and how to open any table's partitions.

The one place that says it: the Dagster assets take their IO manager from here, and readers
outside Dagster (the Flight gateway, the CLI, the checks) open tables through ``open_store``.
"""

from __future__ import annotations

from typing import Literal

from .. import schemas
from .delta_store import DeltaPartitionStore
from .location import Location
from .parquet_store import ParquetPartitionStore
from .partitions_reader import PartitionStore

Format = Literal["parquet", "delta"]

TABLE_FORMATS: dict[str, Format] = {
    "raw_ledgers": "parquet",
    "ledgers": "parquet",
    "transactions": "parquet",
    "operations": "parquet",
    "ttp_events": "delta",
    "balance_changes": "delta",
}

IO_MANAGER_KEYS: dict[Format, str] = {"parquet": "parquet_io_manager", "delta": "delta_io_manager"}


def io_manager_key(table: str) -> str:
    return IO_MANAGER_KEYS[TABLE_FORMATS[table]]


def open_store(location: Location, table: str) -> PartitionStore:
    """The committed partitions of ``table`` under ``location``, in the table's format."""
    fmt = TABLE_FORMATS.get(table)
    if fmt is None:
        raise KeyError(f"unknown table {table!r}; known: {sorted(TABLE_FORMATS)}")
    schema = schemas.schema_for(table)
    if fmt == "delta":
        return DeltaPartitionStore(location, table, schema)
    return ParquetPartitionStore(location, table, schema)
