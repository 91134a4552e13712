"""IO managers: commit spooled partition outputs to storage and hand partitions downstream.

Assets return a :class:`PartitionedOutput` (one spool file per partition key of the run); the IO
manager writes each partition separately and atomically, so ranged runs land in each partition
on its own. Inputs are :class:`PartitionedInput` objects that stream on demand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg

from ..core.ledger_ranges import parse_key
from ..core.network import resolve_network
from ..core.storage.catalog import open_store
from ..core.storage.delta_store import DeltaCommit, DeltaPartitionStore, PartitionWrite
from ..core.storage.location import open_location
from ..core.storage.manifest import StorageMismatchError, claim_storage, overlapping_keys
from ..core.storage.parquet_store import ParquetPartitionStore
from ..core.storage.partitions_reader import PartitionedInput, PartitionStore
from ..core.storage.spool import PartitionedOutput, SpooledPartition


def _table(context: dg.OutputContext | dg.InputContext) -> str:
    return context.asset_key.path[-1]


def _iso(ts: int | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


CONTINUED_AFTER = "continued_after"


def partition_metadata(part: SpooledPartition, path: str, size: int) -> dict[str, Any]:
    """Metadata of one partition's materialization."""
    st = part.stats
    meta: dict[str, Any] = {
        "dagster/row_count": st.rows,
        "bytes": size,
        "first_ledger": st.first_ledger,
        "last_ledger": st.last_ledger,
        "complete": st.complete,
        "location": dg.MetadataValue.path(path),
    }
    if st.base_ledger is not None:
        # What the run appended after (``defs.check_scope``: checks then read only the rest).
        meta[CONTINUED_AFTER] = st.base_ledger
    if st.min_close_time is not None:
        meta["first_close_time"] = _iso(st.min_close_time)
        meta["last_close_time"] = _iso(st.max_close_time)
    for k, v in st.extra.items():
        if isinstance(v, int | float | str | bool):
            meta[k] = v
    return meta


def add_partition_metadata(context: dg.OutputContext, key: str, metadata: dict[str, Any]) -> None:
    """Attach ``metadata`` to the materialization event of partition ``key`` of the output.

    ``StepExecutionContext.add_asset_metadata(partition_key=...)`` first checks the key against
    the run's partition range through the instance, on every call: two database queries and, in
    a ranged run, a read of every registered key of the dynamic partitions (tens of thousands in
    a deployment), for each partition of each asset. ``handle_output`` has already checked that
    the output holds exactly the run's partitions, so this does what that method does after its
    check: add the metadata to the step's metadata accumulator (Dagster 1.13 internals; if they
    are not there, it falls back to the public method).
    """
    step = context.step_context
    accumulator = getattr(step, "_metadata_accumulator", None)
    if accumulator is None or not hasattr(accumulator, "with_additional_asset_metadata"):
        step.add_asset_metadata(metadata, asset_key=context.asset_key, partition_key=key)
        return
    step._metadata_accumulator = accumulator.with_additional_asset_metadata(
        asset_key=context.asset_key, partition_key=key, metadata=metadata
    )


def record_metadata(
    context: dg.OutputContext, obj: PartitionedOutput, written: dict[str, tuple[str, int]]
) -> None:
    """Per-partition metadata on each partition's event; run totals on all of them."""
    for key, part in obj.items():
        path, size = written[key]
        add_partition_metadata(context, key, partition_metadata(part, path, size))
    context.add_output_metadata(
        {
            "run_partitions": len(obj),
            "run_rows": sum(p.stats.rows for p in obj.values()),
            "run_bytes": sum(size for _, size in written.values()),
        }
    )


class _PartitionedIOManager(dg.ConfigurableIOManager):
    """Commits a :class:`PartitionedOutput` partition by partition; loads partitions lazily."""

    storage_uri: str
    network: str = "pubnet"

    def store(self, table: str) -> PartitionStore:
        return open_store(open_location(self.storage_uri), table)

    def check_fits(self, table: str, store: PartitionStore, keys: list[str]) -> None:
        """Refuse a write the storage cannot take: another network, another partition width,
        or a key overlapping a stored partition of another range (``core.storage.manifest``)."""
        net = resolve_network(self.network)
        location = open_location(self.storage_uri)
        for width in sorted({parse_key(k).width for k in keys}):
            claim_storage(location, net.name, net.passphrase, width)
        stored = store.committed_keys()
        for key in keys:
            overlaps = overlapping_keys(key, stored)
            if overlaps:
                raise StorageMismatchError(
                    f"{table} partition {key} overlaps stored partition(s) "
                    f"{', '.join(overlaps)} in {location.display(table)}: the same ledgers "
                    f"would be stored twice; remove the other partitions first (cli remove)"
                )

    def _commit(
        self, context: dg.OutputContext, store: PartitionStore, obj: PartitionedOutput
    ) -> dict[str, tuple[str, int]]:
        """Write every partition of ``obj``; returns {key: (location, bytes)}."""
        raise NotImplementedError

    def handle_output(self, context: dg.OutputContext, obj: PartitionedOutput) -> None:
        asset = context.asset_key.to_user_string()
        if not isinstance(obj, PartitionedOutput):
            raise TypeError(f"{asset}: expected PartitionedOutput, got {type(obj).__name__}")
        expected = set(context.asset_partition_keys)
        if set(obj) != expected:
            obj.discard()
            raise ValueError(
                f"{asset}: output covers partitions {sorted(obj)} but the run is for "
                f"{sorted(expected)}"
            )
        try:
            table = _table(context)
            store = self.store(table)
            self.check_fits(table, store, sorted(obj))
            written = self._commit(context, store, obj)
        finally:
            obj.discard()
        record_metadata(context, obj, written)

    def load_input(self, context: dg.InputContext) -> PartitionedInput:
        return PartitionedInput(self.store(_table(context)), list(context.asset_partition_keys))


class ParquetIOManager(_PartitionedIOManager):
    """One Parquet file per ledger-range partition under ``storage_uri/<asset>/``, each
    replaced atomically on its own (see ``core.storage.parquet_store``)."""

    def _commit(
        self, context: dg.OutputContext, store: PartitionStore, obj: PartitionedOutput
    ) -> dict[str, tuple[str, int]]:
        assert isinstance(store, ParquetPartitionStore)
        written = {}
        added = 0
        for key, part in obj.items():
            res = store.write(
                key,
                part.batches(),
                part.stats.file_metadata(),
                keep_through=part.stats.base_ledger,
            )
            part.stats.rows = res.rows
            written[key] = (res.path, res.bytes)
            added += res.written
            part.discard()
        # What this run wrote (an open partition's new segment, or whole files), next to
        # ``run_bytes``, what its partitions now take.
        context.add_output_metadata({"run_bytes_written": added})
        return written


class DeltaIOManager(_PartitionedIOManager):
    """One Delta table per asset under ``storage_uri/<asset>/``, partitioned by range key; the
    partitions of a run are replaced in one atomic commit (see ``core.storage.delta_store``)."""

    def _commit(
        self, context: dg.OutputContext, store: PartitionStore, obj: PartitionedOutput
    ) -> dict[str, tuple[str, int]]:
        assert isinstance(store, DeltaPartitionStore)
        commit: DeltaCommit = store.commit(
            [
                PartitionWrite(
                    key, part.batches, part.stats.file_metadata(), part.stats.base_ledger
                )
                for key, part in obj.items()
            ]
        )
        for key, part in obj.items():
            part.stats.rows = commit.rows[key]  # what the coverage record says (``ttp.rows``)
        context.add_output_metadata({"delta_version": commit.version, "table": store.uri})
        return {k: (store.display(k), commit.bytes[k]) for k in obj}
