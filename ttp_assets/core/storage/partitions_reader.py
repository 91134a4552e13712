"""Reading committed partitions, whatever the storage format: what downstream code receives."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.dataset as ds


class PartitionStore(Protocol):
    """A table's committed partitions (Parquet files or a Delta table)."""

    table: str
    schema: pa.Schema

    def exists(self, key: str) -> bool: ...

    def committed_keys(self) -> list[str]: ...

    def file_metadata(self, key: str) -> dict[str, str]: ...

    def batches(
        self,
        key: str,
        columns: list[str] | None = None,
        batch_size: int = 65536,
        filter: ds.Expression | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """The partition's rows in the order they were written: ledger order."""
        ...

    def display(self, key: str) -> str: ...

    def delete(self, key: str) -> None:
        """Remove the partition (readers stop seeing it at once)."""
        ...


class PartitionNotMaterializedError(LookupError):
    pass


@dataclass(frozen=True)
class StoredPartition:
    store: PartitionStore
    key: str
    # Read only the rows of ledgers from this one on (a check of what a run appended to a
    # partition whose earlier ledgers were checked before); None: the whole partition.
    since: int | None = None

    def batches(
        self,
        columns: list[str] | None = None,
        batch_size: int = 65536,
        filter: ds.Expression | None = None,
    ) -> Iterator[pa.RecordBatch]:
        if self.since is not None:
            scope = ds.field("ledger_sequence") >= self.since
            filter = scope if filter is None else filter & scope
        return self.store.batches(self.key, columns, batch_size, filter)

    def scoped(self, since: int | None) -> StoredPartition:
        return StoredPartition(self.store, self.key, since)

    def read(
        self, columns: list[str] | None = None, filter: ds.Expression | None = None
    ) -> pa.Table:
        schema = self.store.schema
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
        return pa.Table.from_batches(list(self.batches(columns, filter=filter)), schema=schema)

    def metadata(self) -> dict[str, str]:
        return self.store.file_metadata(self.key)


class PartitionedInput(dict[str, StoredPartition]):
    """An upstream asset's committed partitions for this run, by key, in key order.

    ``neighbour`` opens other committed partitions of the same table (for cross-partition
    checks such as the hash chain), or returns None when that one is not materialized.
    """

    def __init__(self, store: PartitionStore, keys: list[str]):
        missing = [k for k in keys if not store.exists(k)]
        if missing:
            raise PartitionNotMaterializedError(
                f"{store.table}: partition(s) {', '.join(missing)} are not materialized "
                f"(looked in {store.display(missing[0])}); materialize them first"
            )
        super().__init__((k, StoredPartition(store, k)) for k in sorted(keys))
        self.store = store

    def neighbour(self, key: str) -> StoredPartition | None:
        return StoredPartition(self.store, key) if self.store.exists(key) else None
