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

# The analytics tier (``core.analytics``). Partial aggregates are ledger-range partitioned and
# stored like ``ttp_events`` (one Delta table each, partitioned by range key), so every reader
# of partitions opens them with ``open_store``. Rollups are Delta tables keyed by period, not by
# range (``rollup_store.RollupStore``): listed here so that generic readers find them.
ANALYTICS_PARTIAL_FORMATS: dict[str, Format] = dict.fromkeys(
    schemas.ANALYTICS_PARTIAL_TABLES, "delta"
)
ROLLUP_TABLES: tuple[str, ...] = tuple(schemas.ROLLUP_TABLES)
# Analytics tables the native core makes from ``raw_ledgers`` (``token_metadata``): ledger-range
# partitioned and stored like the partials, but not one of the tables a partition's
# completeness needs.
CORE_ANALYTICS_FORMATS: dict[str, Format] = dict.fromkeys(schemas.CORE_ANALYTICS_TABLES, "delta")
# Every ledger-range partitioned table.
PARTITIONED_FORMATS: dict[str, Format] = {
    **TABLE_FORMATS,
    **CORE_ANALYTICS_FORMATS,
    **ANALYTICS_PARTIAL_FORMATS,
}

IO_MANAGER_KEYS: dict[Format, str] = {"parquet": "parquet_io_manager", "delta": "delta_io_manager"}


def table_format(table: str) -> Format:
    """The format of a ledger-range partitioned table (ledger tables and analytics)."""
    return PARTITIONED_FORMATS[table]


def io_manager_key(table: str) -> str:
    return IO_MANAGER_KEYS[table_format(table)]


def open_store(location: Location, table: str) -> PartitionStore:
    """The committed partitions of ``table`` under ``location``, in the table's format."""
    formats = PARTITIONED_FORMATS
    fmt = formats.get(table)
    if fmt is None:
        raise KeyError(f"unknown table {table!r}; known: {sorted(formats)}")
    schema = schemas.schema_for(table)
    if fmt == "delta":
        return DeltaPartitionStore(location, table, schema)
    return ParquetPartitionStore(location, table, schema)
