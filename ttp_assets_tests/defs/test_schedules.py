"""The daily re-check and the weekly maintenance, run as the scheduler would run them."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa
from deltalake import DeltaTable

from ttp_assets.core.storage.catalog import open_store
from ttp_assets.core.storage.delta_store import DeltaPartitionStore
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.maintenance import compact_delta
from ttp_assets.definitions import build_definitions
from ttp_assets.defs.live.schedules import daily_recheck, recent_runs
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import TEST_WIDTH, TESTNET_FIRST, materialize
from ttp_assets_tests.shared_data import lake_dir


def settings_at(path: Path) -> Settings:
    return Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(path),
        partition_width=TEST_WIDTH,
    )


def test_recent_runs_group_consecutive_partitions() -> None:
    keys = ["0000000000-0000000009", "0000000010-0000000019", "0000000030-0000000039"]
    assert recent_runs(keys, 7) == [keys[:2], keys[2:]]
    assert recent_runs(keys, 1) == [keys[2:]]
    assert recent_runs([], 7) == []


def test_daily_recheck_checks_the_stored_partitions(tmp_path: Path) -> None:
    settings = settings_at(tmp_path / "store")
    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"))
    assert materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 95, instance=instance).success
    defs = build_definitions(settings)
    # Entered, so the instance the context opens is closed with it (see conftest's guard).
    with dg.build_schedule_context(
        instance=instance,
        resources=defs.resources,
        scheduled_execution_time=datetime.datetime(2026, 11, 23, 3, tzinfo=datetime.UTC),
    ) as context:
        requests = daily_recheck(context)
    assert isinstance(requests, list) and len(requests) == 1
    tags = requests[0].tags
    assert (
        tags["dagster/asset_partition_range_start"],
        tags["dagster/asset_partition_range_end"],
    ) == (
        "0001410048-0001410079",
        "0001410112-0001410143",
    )
    result = defs.resolve_job_def("ttp_recheck").execute_in_process(
        instance=instance, tags=dict(tags)
    )
    evaluations = result.get_asset_check_evaluations()
    # 6 checks, each recorded once per partition of the recheck's 3
    assert sorted((e.check_name, e.partition) for e in evaluations) == sorted(
        {(e.check_name, e.partition) for e in evaluations}
    )
    assert len(evaluations) == 6 * 3 and all(e.passed for e in evaluations)
    assert not result.get_asset_materialization_events()  # checks only: nothing rewritten


def test_weekly_maintenance_vacuums_superseded_files_without_changing_rows(tmp_path: Path) -> None:
    settings = settings_at(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    for through in range(TESTNET_FIRST + 3, TESTNET_FIRST + 32, 4):  # an open partition, 8 steps
        assert materialize(
            settings, TESTNET_FIRST, through, through=through, instance=instance
        ).success
    store = open_store(open_location(settings.storage_uri), "ttp_events")
    assert isinstance(store, DeltaPartitionStore)
    key = store.committed_keys()[0]
    before = pa.Table.from_batches(list(store.batches(key)), schema=store.schema)
    part_dir = Path(store.uri) / f"partition_key={key}"
    assert len(list(part_dir.glob("*.parquet"))) == 8  # one current file, seven superseded
    assert len(DeltaTable(store.uri).file_uris()) == 1
    stale = Path(settings.storage_uri) / "raw_ledgers" / "_staging" / "dead-writer.parquet"
    stale.write_bytes(b"left by a killed run")
    old = time.time() - 3 * 24 * 3600
    os.utime(stale, (old, old))
    defs = build_definitions(settings)
    result = defs.resolve_job_def("ttp_maintenance").execute_in_process(instance=instance)
    assert result.success
    assert not stale.exists()
    # The scheduled job keeps a week of versions; with no retention everything superseded goes.
    report = compact_delta(store, retention_hours=0)
    assert report.vacuumed == 7 and report.files_after == 1
    assert len(list(part_dir.glob("*.parquet"))) == 1
    after = pa.Table.from_batches(list(store.batches(key)), schema=store.schema)
    assert after.equals(before)
