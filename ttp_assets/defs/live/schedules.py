"""Schedules: a daily re-check of recent partitions and weekly storage maintenance.

- ``daily_recheck`` (03:00 UTC) re-runs every asset check on the most recent stored partitions:
  the hash chain across boundaries with partitions that landed since, and any data that
  changed in storage after it was written.
- ``weekly_maintenance`` (Sunday 04:00 UTC) compacts, checkpoints and vacuums the Delta tables
  (7 days of versions are kept) and removes staging files and spools of runs that died.
"""

import dagster as dg

from ...core.ledger_ranges import parse_key
from ...core.storage.catalog import PARTITIONED_FORMATS, ROLLUP_TABLES, TABLE_FORMATS
from ...core.storage.delta_store import DeltaPartitionStore
from ...core.storage.location import open_location
from ...core.storage.maintenance import (
    compact_delta,
    remove_stale_spools,
    remove_stale_staging,
    sweep_segments,
)
from ...core.storage.parquet_store import SEGMENT_GRACE_S
from ...core.storage.rollup_store import RollupStore
from ..jobs import recheck_job
from ..partitions import RANGE_END_TAG, RANGE_START_TAG, ledger_ranges
from ..warehouse import WarehouseResource

RECHECK_PARTITIONS = 7
VACUUM_RETENTION_HOURS = 7 * 24
STALE_SECONDS = 24 * 3600


def recent_runs(materialized: list[str], count: int) -> list[list[str]]:
    """The ``count`` most recent materialized keys, as runs of consecutive partitions."""
    keys = sorted(materialized, key=lambda k: parse_key(k).start)[-count:]
    runs: list[list[str]] = []
    for k in keys:
        if runs and parse_key(runs[-1][-1]).end + 1 == parse_key(k).start:
            runs[-1].append(k)
        else:
            runs.append([k])
    return runs


@dg.schedule(
    name="daily_recheck",
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    job=recheck_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def daily_recheck(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource
) -> list[dg.RunRequest] | dg.SkipReason:
    registered = set(context.instance.get_dynamic_partitions(ledger_ranges.name))
    stored = set(registered)
    for table in TABLE_FORMATS:
        stored &= set(warehouse.store(table).committed_keys())
    runs = recent_runs(sorted(stored), RECHECK_PARTITIONS)
    if not runs:
        return dg.SkipReason("no partition is materialized in every table yet")
    return [
        dg.RunRequest(
            run_key=f"recheck:{context.scheduled_execution_time:%Y-%m-%d}:{keys[0]}",
            tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
        )
        for keys in runs
    ]


@dg.op(description="Compact, checkpoint and vacuum every Delta table; remove stale files.")
def maintain_storage(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> dict:
    location = open_location(warehouse.storage_uri)
    summary: dict = {}
    for table, fmt in PARTITIONED_FORMATS.items():
        if fmt == "delta":
            store = warehouse.store(table)
            assert isinstance(store, DeltaPartitionStore)
            rep = compact_delta(store, VACUUM_RETENTION_HOURS)
            summary[table] = rep.__dict__
            context.log.info(f"delta {table}: {rep.__dict__}")
    for table in ROLLUP_TABLES:
        summary[table] = RollupStore(location, table).maintain(VACUUM_RETENTION_HOURS)
        context.log.info(f"delta {table}: {summary[table]}")
    summary["stale_staging_removed"] = remove_stale_staging(location, STALE_SECONDS)
    summary["segments_removed"] = sweep_segments(location, SEGMENT_GRACE_S)
    summary["stale_spools_removed"] = remove_stale_spools(STALE_SECONDS)
    context.add_output_metadata({k: str(v) for k, v in summary.items()})
    return summary


@dg.job(name="ttp_maintenance", description="Storage maintenance (see weekly_maintenance).")
def maintenance_job() -> None:
    maintain_storage()


weekly_maintenance = dg.ScheduleDefinition(
    name="weekly_maintenance",
    cron_schedule="0 4 * * 0",
    execution_timezone="UTC",
    job=maintenance_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

SCHEDULES = [daily_recheck, weekly_maintenance]
