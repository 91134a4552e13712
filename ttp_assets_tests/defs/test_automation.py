"""Tables derived from raw_ledgers follow it through Dagster's automation sensor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ttp_assets.core import schemas
from ttp_assets.definitions import build_definitions
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import TEST_WIDTH, TESTNET_FIRST, failure_messages, materialize
from ttp_assets_tests.shared_data import lake_dir


def test_derived_tables_follow_raw_ledgers_through_automation(tmp_path: Path) -> None:
    """raw_ledgers materialized alone: the automation sensor requests the tables derived from
    it for that partition, and nothing once they are materialized."""
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "store"),
        partition_width=TEST_WIDTH,
    )
    defs = build_definitions(settings)
    derived = [dg.AssetKey(t) for t in schemas.TABLES if t != "raw_ledgers"]
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0
    raw_only = dg.define_asset_job("raw_only", selection=["raw_ledgers"])
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[raw_only])).resolve_job_def("raw_only")
    key = f"{TESTNET_FIRST:010d}-{TESTNET_FIRST + TEST_WIDTH - 1:010d}"
    instance.add_dynamic_partitions("ledger_ranges", [key])
    assert job.execute_in_process(instance=instance, partition_key=key).success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    for table in derived:
        assert tick.get_requested_partitions(table) == {key}, table
    result = materialize(settings, TESTNET_FIRST, TESTNET_FIRST + TEST_WIDTH - 1, instance=instance)
    assert result.success, failure_messages(result)
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert not any(after.get_requested_partitions(k) for k in derived)
