"""An open partition filled in steps equals the same partition built at once; each step only
fetches, decodes and derives the ledgers it adds."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa

from ttp_assets.core.storage.catalog import TABLE_FORMATS, open_store
from ttp_assets.core.storage.location import open_location
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    all_checks_passed,
    failure_messages,
    materialize,
)
from ttp_assets_tests.shared_data import lake_dir

KEY = "0001410048-0001410079"
LAST = TESTNET_FIRST + 31


def settings_at(path: Path) -> Settings:
    return Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(path),
        partition_width=TEST_WIDTH,
    )


def table(settings: Settings, name: str) -> pa.Table:
    store = open_store(open_location(settings.storage_uri), name)
    return pa.Table.from_batches(list(store.batches(KEY)), schema=store.schema)


def new_ledgers(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    out = {}
    for e in result.get_asset_materialization_events():
        m = e.materialization
        if "new_ledgers" in m.metadata:
            out[m.asset_key.to_user_string()] = m.metadata["new_ledgers"].value
    return out


def test_open_partition_grows_incrementally_to_the_full_result(tmp_path: Path) -> None:
    steps = settings_at(tmp_path / "steps")
    instance = dg.DagsterInstance.ephemeral()
    done = []
    for through in (TESTNET_FIRST + 9, TESTNET_FIRST + 20, TESTNET_FIRST + 20, LAST):
        result = materialize(steps, TESTNET_FIRST, through, through=through, instance=instance)
        assert result.success, failure_messages(result)
        assert all_checks_passed(result)
        done.append(new_ledgers(result))
        meta = open_store(open_location(steps.storage_uri), "ttp_events").file_metadata(KEY)
        assert meta["ttp.last_ledger"] == str(through)
        assert meta["ttp.complete"] == ("true" if through == LAST else "false")
    # Only the new ledgers were fetched, decoded and derived in each step (0 when nothing new).
    assert done == [
        {"raw_ledgers": 10, "ledgers": 10, "ttp_events": 10},
        {"raw_ledgers": 11, "ledgers": 11, "ttp_events": 11},
        {"raw_ledgers": 0, "ledgers": 0, "ttp_events": 0},
        {"raw_ledgers": 11, "ledgers": 11, "ttp_events": 11},
    ]
    once = settings_at(tmp_path / "once")
    assert materialize(once, TESTNET_FIRST, LAST).success
    for name in TABLE_FORMATS:
        assert table(steps, name).equals(table(once, name)), name


def test_a_complete_partition_is_rebuilt_not_continued(tmp_path: Path) -> None:
    settings = settings_at(tmp_path)
    assert materialize(settings, TESTNET_FIRST, LAST).success
    again = materialize(settings, TESTNET_FIRST, LAST)
    assert again.success, failure_messages(again)
    assert new_ledgers(again) == {"raw_ledgers": 32, "ledgers": 32, "ttp_events": 32}


def test_full_rebuild_tag_recomputes_an_open_partition(tmp_path: Path) -> None:
    settings = settings_at(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    assert materialize(settings, TESTNET_FIRST, LAST, through=LAST - 5, instance=instance).success
    from ttp_assets.definitions import ALL_ASSETS_JOB, build_definitions

    job = build_definitions(settings).resolve_job_def(ALL_ASSETS_JOB)
    result = job.execute_in_process(
        instance=instance,
        partition_key=KEY,
        tags={"ttp/through_ledger": str(LAST), "ttp/full_rebuild": "true"},
    )
    assert new_ledgers(result) == {"raw_ledgers": 32, "ledgers": 32, "ttp_events": 32}
