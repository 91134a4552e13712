"""Shared shape of a partitioned asset run: spool per partition, clean up on failure, and turn
domain errors into Dagster failures that name the asset and the partition."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds

from ..core.errors import LedgerDataError, StorageWriteError, TokenTransferError
from ..core.ledger_ranges import parse_key
from ..core.network import NetworkMismatchError
from ..core.pipeline.incremental import continued_stats, resume_base, stored_coverage
from ..core.sources.base import SourceError
from ..core.storage.catalog import io_manager_key, table_format
from ..core.storage.manifest import StorageMismatchError
from ..core.storage.partitions_reader import PartitionedInput, PartitionNotMaterializedError
from ..core.storage.spool import PartitionedOutput, Spool, SpoolWriter
from .partitions import full_rebuild
from .versions import code_version
from .warehouse import WarehouseResource

# Errors that describe bad or unavailable input: reported as a clean failure, not a traceback.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    SourceError,
    LedgerDataError,
    NetworkMismatchError,
    PartitionNotMaterializedError,
    TokenTransferError,
    StorageWriteError,
    StorageMismatchError,
)


# Every line logged through Dagster is an event written to the instance's event log (with SQLite,
# a database transaction), so the per-partition lines of a step are logged together, at the end of
# the step, unless this long has passed since the last ones were: a ranged run of small partitions
# logs one event per step, while a run of slow partitions still reports each as it is done.
PROGRESS_INTERVAL_S = 10.0


class ProgressLog:
    """A step's per-partition lines, logged as one message at a time (see above)."""

    def __init__(self, log: dg.DagsterLogManager, interval_s: float = PROGRESS_INTERVAL_S):
        self._log = log
        self._interval_s = interval_s
        self._lines: list[str] = []
        self._last = time.monotonic()

    def add(self, line: str) -> None:
        self._lines.append(line)
        if time.monotonic() - self._last >= self._interval_s:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self._log.info("\n".join(self._lines))
            self._lines = []
        self._last = time.monotonic()


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """The Arrow schema as Dagster column metadata (shown in the UI's asset page)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                f.name,
                str(f.type),
                description=(f.metadata or {}).get(b"description", b"").decode() or None,
                constraints=dg.TableColumnConstraints(nullable=f.nullable),
            )
            for f in schema
        ]
    )


# Assets derived from raw_ledgers follow it: a partition of raw_ledgers materialized on its
# own (a UI re-materialization, a repair) is followed by the tables derived from it, through
# Dagster's automation sensor, without a hand-made run request. Runs of the whole graph (the
# live tail, backfills) materialize them together, which leaves nothing for the condition.
FOLLOWS_RAW = dg.AutomationCondition.eager()


def table_outs(tables: dict[str, pa.Schema], group: str) -> dict[str, dg.AssetOut]:
    """The outputs of a multi-asset derived from raw_ledgers, each in its own table format."""
    return {
        name: dg.AssetOut(
            io_manager_key=io_manager_key(name),
            group_name=group,
            kinds={table_format(name)},
            description=schema.metadata[b"description"].decode(),
            metadata={"dagster/column_schema": column_schema(schema)},
            code_version=code_version(schema),
            automation_condition=FOLLOWS_RAW,
        )
        for name, schema in tables.items()
    }


@contextlib.contextmanager
def partition_failure(asset: str, key: str) -> Iterator[None]:
    """Re-raise input errors as ``dg.Failure`` naming the asset and partition."""
    try:
        yield
    except INPUT_ERRORS as exc:
        raise dg.Failure(
            description=f"{asset} partition {key}: {exc}",
            metadata={
                "partition": key,
                "error_type": type(exc).__name__,
                "nothing_written": "no partition of this run was committed",
            },
        ) from exc


def derive_from_raw(
    context: dg.AssetExecutionContext,
    asset: str,
    raw_ledgers: PartitionedInput,
    warehouse: WarehouseResource,
    tables: dict[str, pa.Schema],
    columns: list[str],
    compute: Callable[[Iterator[pa.RecordBatch], dict[str, SpoolWriter]], str],
) -> dict[str, PartitionedOutput]:
    """Derive ``tables`` from each raw partition of the run, spooling every output.

    An open partition is continued: only the raw ledgers after what all outputs already hold
    are read (``core.pipeline.incremental``). ``compute(raw_batches, writers)`` writes the rows
    and returns a summary for the log. On any failure every spool is removed and nothing is
    committed.
    """
    stores = {name: warehouse.store(name) for name in tables}
    spool = Spool(asset)
    outs = {name: PartitionedOutput() for name in tables}
    progress = ProgressLog(context.log)
    try:
        for key, part in raw_ledgers.items():
            rng = parse_key(key)
            meta = part.metadata()
            first = int(meta.get("ttp.first_ledger", rng.first_ledger))
            last = int(meta["ttp.last_ledger"])
            covs = [stored_coverage(s, key) for s in stores.values()]
            base = resume_base(covs, rng, last, full_rebuild(context), start=first)
            writers = {
                name: spool.writer(schema, continued_stats(key, rng, last, base, covs, start=first))
                for name, schema in tables.items()
            }
            new = None if base is None else ds.field("ledger_sequence") > base
            with partition_failure(asset, key):
                try:
                    summary = compute(part.batches(columns, batch_size=32, filter=new), writers)
                except BaseException:
                    for w in writers.values():
                        w.abort()
                    raise
            for name, w in writers.items():
                outs[name][key] = w.close()
            kept = f"; ledgers up to {base} kept from the stored partition" if base else ""
            progress.add(f"{asset} {key}: {summary}{kept}")
    except BaseException:
        for o in outs.values():
            o.discard()
        spool.cleanup()
        raise
    finally:
        progress.flush()
    return outs
