"""Helpers for end-to-end tests: run the real asset graph with given settings and read it back."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pyarrow as pa
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation

from ttp_assets.core import schemas
from ttp_assets.core.storage.catalog import open_store
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.parquet_store import ParquetPartitionStore
from ttp_assets.definitions import ALL_ASSETS_JOB, build_definitions
from ttp_assets.defs.jobs import FRESHNESS_CHECK
from ttp_assets.defs.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    THROUGH_LEDGER_TAG,
    register_ranges,
)
from ttp_assets.settings import Settings

TESTNET_FIRST, TESTNET_LAST = 1410048, 1410207  # the 160 ledgers of lake/testnet-2022
TEST_WIDTH = 32  # 1410048 is a multiple of 32: five whole partitions


def materialize(
    settings: Settings,
    first: int,
    last: int,
    *,
    instance: dg.DagsterInstance | None = None,
    through: int | None = None,
    job_name: str = ALL_ASSETS_JOB,
    keys: list[str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Register the partitions covering ``first..last`` and run the job over them in one run."""
    instance = instance or dg.DagsterInstance.ephemeral()
    all_keys = register_ranges(instance, first, last, settings.partition_width)
    keys = keys or all_keys
    tags = {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
    if through is not None:
        tags[THROUGH_LEDGER_TAG] = str(through)
    job = build_definitions(settings).resolve_job_def(job_name)
    return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)


def parquet_store(settings: Settings, table: str) -> ParquetPartitionStore:
    return ParquetPartitionStore(
        open_location(settings.storage_uri), table, schemas.schema_for(table)
    )


def read_partition(settings: Settings, table: str, key: str) -> pa.Table:
    return parquet_store(settings, table).read(key)


def stored_table(storage: Path | str, table: str) -> pa.Table:
    """Every committed partition of ``table`` in ``storage``, in key order."""
    store = open_store(open_location(str(storage)), table)
    parts = [
        pa.Table.from_batches(list(store.batches(k)), schema=store.schema)
        for k in store.committed_keys()
    ]
    return pa.concat_tables(parts)


def run_checks_only(
    settings: Settings, keys: list[str], *assets: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    """Run only the asset checks of ``assets`` over the stored partitions ``keys``."""
    # The partitions' checks, as the recheck job runs them (not the table-wide freshness check).
    selection = dg.AssetSelection.checks_for_assets(*assets) - dg.AssetSelection.checks(
        FRESHNESS_CHECK
    )
    job = dg.define_asset_job("checks_only", selection=selection)
    defs = dg.Definitions.merge(build_definitions(settings), dg.Definitions(jobs=[job]))
    instance = instance or dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("ledger_ranges", keys)
    return defs.resolve_job_def("checks_only").execute_in_process(
        instance=instance,
        tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
        raise_on_error=False,
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    out = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            err = event.step_failure_data.error
            out.append(err.message)
            cause = err.cause
            while cause is not None:
                out.append(cause.message)
                cause = cause.cause
    return out


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    """{check: passed on every partition it evaluated in this run}."""
    out: dict[str, bool] = {}
    for e in result.get_asset_check_evaluations():
        out[e.check_name] = out.get(e.check_name, True) and e.passed
    return out


def evaluations(
    result: dg.ExecuteInProcessResult, check_name: str
) -> dict[str, AssetCheckEvaluation]:
    """{partition: evaluation} of one check in a run: checks record one per partition."""
    out = {}
    for e in result.get_asset_check_evaluations():
        if e.check_name == check_name:
            assert e.partition is not None and e.partition not in out, e
            out[e.partition] = e
    return out


def problems(result: dg.ExecuteInProcessResult, check_name: str) -> str:
    """Every problem one check reported in a run, over all its partitions, one per line."""
    return "\n".join(
        "\n".join(e.metadata["problems"].value) for e in evaluations(result, check_name).values()
    )


ALL_CHECKS = frozenset(
    {
        "raw_ledgers_contiguous",
        "raw_ledgers_hash_chain",
        "raw_ledgers_header_hashes",
        "ledgers_fee_pool",
        "ttp_events_reconcile",
        "ttp_events_fee_totals",
    }
)


def all_checks_passed(result: dg.ExecuteInProcessResult) -> bool:
    """Every check of the asset graph ran in this run, and passed."""
    return check_results(result) == dict.fromkeys(ALL_CHECKS, True)


def copy_lake(src: Path, dst: Path) -> Path:
    """A writable copy of a shared lake in a temporary folder (for tampering)."""
    shutil.copytree(src, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    dst.chmod(0o755)
    return dst
