"""The live tail over a data lake that grows the way galexie writes it, one object per ledger."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from ttp_assets.core.live.plan import PlannedRun, initial_cursor, plan_tick
from ttp_assets.core.storage.catalog import TABLE_FORMATS, open_store
from ttp_assets.core.storage.location import open_location
from ttp_assets.definitions import build_definitions
from ttp_assets.defs.partitions import register_ranges
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TESTNET_FIRST,
    TESTNET_LAST,
    all_checks_passed,
    copy_lake,
    materialize,
    stored_table,
)
from ttp_assets_tests.live_harness import LiveDriver
from ttp_assets_tests.shared_data import lake_dir

W = 32
P0, P1 = "0001410048-0001410079", "0001410080-0001410111"


def test_plan_covers_new_ledgers_in_bounded_ranged_runs() -> None:
    assert plan_tick(100, 100, W, 1000, 10) is None
    plan = plan_tick(1410047, 1410060, W, 1000, 10)
    assert plan is not None and plan.runs == [PlannedRun([P0], 1410060, True)]
    plan = plan_tick(1410060, 1410100, W, 1000, 10)
    assert plan is not None
    assert plan.runs == [PlannedRun([P0], 1410079, False), PlannedRun([P1], 1410100, True)]
    # A long outage: bounded by max_ledgers, closed partitions in runs of at most per_run.
    plan = plan_tick(1409983, 1410207, W, 100, 2)
    assert plan is not None and (plan.first, plan.last) == (1409984, 1410083)
    assert [(r.keys, r.through, r.open) for r in plan.runs] == [
        (["0001409984-0001410015", "0001410016-0001410047"], 1410047, False),
        ([P0], 1410079, False),
        ([P1], 1410083, True),
    ]
    assert len({r.run_key for r in plan.runs}) == 3
    assert initial_cursor(1410100, W, None) == 1410079  # default: the tip's partition
    assert initial_cursor(1410100, W, 1410050) == 1410047  # a configured start, aligned


class GrowingLake:
    """A copy of the testnet lake whose objects appear ledger by ledger."""

    def __init__(self, tmp: Path):
        self.root = copy_lake(lake_dir("testnet-2022"), tmp / "lake")
        self.hidden = tmp / "hidden"
        self.hidden.mkdir()
        for obj in self.root.rglob("*.xdr.zst"):
            shutil.move(obj, self.hidden / f"{obj.parent.name}__{obj.name}")

    def reveal_through(self, seq: int) -> None:
        for obj in sorted(self.hidden.iterdir()):
            part, name = obj.name.split("__")
            if int(name.split("--")[1].split(".")[0]) <= seq:
                (self.root / part).mkdir(exist_ok=True)
                shutil.move(obj, self.root / part / name)

    def outage(self) -> None:
        self.root.rename(self.root.with_suffix(".away"))

    def restore(self) -> None:
        self.root.with_suffix(".away").rename(self.root)


def live_defs(
    storage: Path, lake: Path, max_per_tick: int = 10_000, start: int = TESTNET_FIRST
) -> dg.Definitions:
    settings = Settings(
        network="testnet",
        lake_uri=str(lake),
        storage_uri=str(storage),
        partition_width=W,
        live_start_ledger=start,
        live_max_ledgers_per_tick=max_per_tick,
    )
    return build_definitions(settings)


def test_live_tail_follows_a_growing_lake(tmp_path: Path) -> None:
    lake = GrowingLake(tmp_path)
    storage = tmp_path / "store"
    driver = LiveDriver(live_defs(storage, lake.root, max_per_tick=50))

    lake.reveal_through(TESTNET_FIRST + 12)
    t1 = driver.tick()
    assert [r.partition_key for r in t1.requests] == [P0]
    assert t1.requests[0].tags["ttp/through_ledger"] == str(TESTNET_FIRST + 12)
    assert all(r.success for r in t1.runs) and all_checks_passed(t1.runs[0])
    assert driver.instance.get_dynamic_partitions("ledger_ranges") == [P0]
    events = open_store(open_location(str(storage)), "ttp_events")
    assert events.file_metadata(P0)["ttp.complete"] == "false"

    t2 = driver.tick()  # nothing new: no run, cursor unchanged
    assert t2.requests == [] and "no new ledgers" in (t2.skipped or "")
    assert json.loads(t2.cursor)["last"] == TESTNET_FIRST + 12

    lake.outage()
    t3 = driver.tick()
    assert t3.requests == [] and "cannot read the tip" in (t3.skipped or "")
    assert t3.cursor == t2.cursor  # nothing lost
    lake.restore()

    lake.reveal_through(TESTNET_LAST)
    ticks = []
    while True:  # catches up in bounded steps (50 ledgers a tick here)
        t = driver.tick()
        if not t.requests:
            break
        assert all(r.success for r in t.runs)
        assert all(all_checks_passed(r) for r in t.runs)
        ticks.append(t)
    assert len(ticks) == 3
    covered = [json.loads(t.cursor)["last"] for t in ticks]
    assert covered == [TESTNET_FIRST + 62, TESTNET_FIRST + 112, TESTNET_LAST]
    assert events.file_metadata(P1)["ttp.complete"] == "true"

    once = tmp_path / "once"
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(once),
        partition_width=W,
    )
    assert materialize(settings, TESTNET_FIRST, TESTNET_LAST).success
    for table in TABLE_FORMATS:
        assert stored_table(storage, table).equals(stored_table(once, table)), table


def test_cursor_survives_a_restart_and_queued_runs_hold_new_requests(tmp_path: Path) -> None:
    lake = GrowingLake(tmp_path)
    lake.reveal_through(TESTNET_FIRST + 5)
    defs = live_defs(tmp_path / "store", lake.root)
    first = LiveDriver(defs)
    assert first.tick(execute=False).requests  # submitted to the queue, not run
    # A restarted daemon evaluates with the stored cursor: the same ledgers are not requested,
    # and the live run still waiting in the queue holds further requests, cursor unmoved.
    again = LiveDriver(defs, first.instance)
    again.cursor = first.cursor
    lake.reveal_through(TESTNET_FIRST + 20)
    held = again.tick(execute=False)
    (run,) = first.instance.get_runs()
    assert held.requests == [] and run.run_id in (held.skipped or "")
    assert json.loads(held.cursor)["last"] == TESTNET_FIRST + 5
    first.instance.report_run_canceled(run)
    moved = again.tick(execute=False)
    assert [r.tags["ttp/through_ledger"] for r in moved.requests] == [str(TESTNET_FIRST + 20)]


def test_lake_without_a_start_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path),
        partition_width=W,
    )
    defs = build_definitions(settings)
    t = LiveDriver(defs).tick()
    assert "TTP_LIVE_START_LEDGER" in (t.skipped or "")


@pytest.mark.parametrize("tip", [TESTNET_FIRST + 40])
def test_sensor_registers_partitions_in_ascending_order(tmp_path: Path, tip: int) -> None:
    lake = GrowingLake(tmp_path)
    lake.reveal_through(tip)
    driver = LiveDriver(live_defs(tmp_path / "store", lake.root))
    t = driver.tick(execute=False)
    assert driver.instance.get_dynamic_partitions("ledger_ranges") == [P0, P1]
    assert [r.partition_key for r in t.requests] == [P0, P1]


def test_history_registered_after_the_tip_is_put_before_it(tmp_path: Path) -> None:
    """The order `deploy/README.md` describes: the live tail registers the tip, then history
    is registered with the CLI. Registration order is what UI range backfills follow."""
    lake = GrowingLake(tmp_path)
    lake.reveal_through(TESTNET_FIRST + 100)
    defs = live_defs(tmp_path / "store", lake.root, start=TESTNET_FIRST + 64)
    driver = LiveDriver(defs)
    assert all(r.success for r in driver.tick().runs)
    tip_keys = driver.instance.get_dynamic_partitions("ledger_ranges")
    assert tip_keys == ["0001410112-0001410143", "0001410144-0001410175"]
    keys = register_ranges(driver.instance, TESTNET_FIRST, TESTNET_FIRST + 63, W)
    assert keys == [P0, P1]
    assert driver.instance.get_dynamic_partitions("ledger_ranges") == [P0, P1, *tip_keys]
    # Only registrations moved: what was materialized under the tip's keys is still there.
    materialized = driver.instance.get_materialized_partitions(dg.AssetKey("ttp_events"))
    assert materialized == set(tip_keys)
    assert register_ranges(driver.instance, TESTNET_FIRST, TESTNET_FIRST + 63, W) == keys
    assert driver.instance.get_dynamic_partitions("ledger_ranges") == [P0, P1, *tip_keys]
