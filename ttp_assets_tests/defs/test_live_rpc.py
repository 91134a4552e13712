"""The live tail over Stellar RPC: the tip advances on a real JSON-RPC server on loopback, the
sensor's ticks register partitions and their runs land the token events; outages lose nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation

from ttp_assets.core.storage.catalog import TABLE_FORMATS, open_store
from ttp_assets.core.storage.location import open_location
from ttp_assets.definitions import build_definitions
from ttp_assets.defs.live.freshness import FRESHNESS_JOB
from ttp_assets.defs.live.sensors import REPAIR_TAG
from ttp_assets.defs.partitions import FULL_REBUILD_TAG, THROUGH_LEDGER_TAG
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TESTNET_FIRST,
    TESTNET_LAST,
    all_checks_passed,
    materialize,
    stored_table,
)
from ttp_assets_tests.live_harness import LiveDriver
from ttp_assets_tests.rpc_server import RpcTestServer
from ttp_assets_tests.shared_data import lake_dir

W = 32
P0 = "0001410048-0001410079"
P1 = "0001410080-0001410111"


@pytest.fixture
def rpc() -> Iterator[RpcTestServer]:
    with RpcTestServer.from_lake("testnet-2022") as server:
        yield server


def rpc_settings(storage: Path, url: str, **kw: object) -> Settings:
    return Settings(
        network="testnet",
        source="rpc",
        rpc_url=url,
        storage_uri=str(storage),
        partition_width=W,
        source_retry_attempts=1,  # a failing tick gives up at once; the next tick retries
        rpc_timeout_s=0.5,
        **kw,  # type: ignore[arg-type]
    )


def events_through(storage: Path) -> int:
    store = open_store(open_location(str(storage)), "ttp_events")
    return max(int(store.file_metadata(k)["ttp.last_ledger"]) for k in store.committed_keys())


def test_live_tail_follows_the_rpc_tip(rpc: RpcTestServer, tmp_path: Path) -> None:
    storage = tmp_path / "store"
    driver = LiveDriver(
        build_definitions(rpc_settings(storage, rpc.url, live_max_ledgers_per_tick=60))
    )
    rpc.advance_to(TESTNET_FIRST + 12)
    t1 = driver.tick()
    # Default start: the partition holding the tip, from its first ledger.
    assert [r.partition_key for r in t1.requests] == [P0]
    assert all(r.success for r in t1.runs) and all_checks_passed(t1.runs[0])
    assert events_through(storage) == TESTNET_FIRST + 12

    rpc.reset_counts()
    t2 = driver.tick()
    assert t2.requests == [] and "no new ledgers" in (t2.skipped or "")
    assert rpc.count("getLedgers") == 0  # an idle tick asks for the tip only

    rpc.advance_to(TESTNET_FIRST + 20)
    rpc.fail_always("http503")  # an outage: the tip cannot be read
    t3 = driver.tick()
    assert t3.requests == [] and "cannot read the tip" in (t3.skipped or "")
    assert t3.cursor == t2.cursor
    rpc.clear_faults()

    rpc.fail_next(1, "timeout")  # a hung request: the client gives up after its timeout
    t4 = driver.tick()
    assert t4.requests == [] and "cannot read the tip" in (t4.skipped or "")
    rpc.release()

    rpc.advance_to(TESTNET_LAST)
    covered = []
    while True:
        t = driver.tick()
        if not t.requests:
            break
        assert all(r.success for r in t.runs)
        assert all(all_checks_passed(r) for r in t.runs)
        covered.append(json.loads(t.cursor)["last"])
    assert covered == [TESTNET_FIRST + 72, TESTNET_FIRST + 132, TESTNET_LAST]
    assert events_through(storage) == TESTNET_LAST

    # The same as materializing the lake at once, raw XDR included, byte for byte.
    once = tmp_path / "once"
    lake = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(once),
        partition_width=W,
    )
    assert materialize(lake, TESTNET_FIRST, TESTNET_LAST).success
    for name in TABLE_FORMATS:
        assert stored_table(storage, name).equals(stored_table(once, name)), name


def test_open_partition_runs_fetch_only_new_ledgers(rpc: RpcTestServer, tmp_path: Path) -> None:
    driver = LiveDriver(build_definitions(rpc_settings(tmp_path, rpc.url)))
    previous = TESTNET_FIRST + 10
    rpc.advance_to(previous)
    assert all(r.success for r in driver.tick().runs)
    for tip in (TESTNET_FIRST + 13, TESTNET_FIRST + 14, TESTNET_FIRST + 20):
        rpc.advance_to(tip)
        rpc.reset_counts()
        tick = driver.tick()
        (run,) = tick.runs
        assert run.success
        assert json.loads(tick.cursor)["last"] == tip
        new = {
            e.materialization.asset_key.to_user_string(): e.materialization.metadata[
                "new_ledgers"
            ].value
            for e in run.get_asset_materialization_events()
            if "new_ledgers" in e.materialization.metadata
        }
        assert new == dict.fromkeys(("raw_ledgers", "ledgers", "ttp_events"), tip - previous)
        assert rpc.count("getLedgers") == 1  # one page holds the few new ledgers
        previous = tip


def test_a_start_outside_the_rpc_window_fails_clearly(rpc: RpcTestServer, tmp_path: Path) -> None:
    rpc.set_oldest(TESTNET_FIRST + 40)
    driver = LiveDriver(
        build_definitions(rpc_settings(tmp_path, rpc.url, live_start_ledger=TESTNET_FIRST))
    )
    tick = driver.tick()
    failed = [r for r in tick.runs if not r.success]
    assert failed, "ledgers older than the RPC retention window cannot be fetched"
    from ttp_assets_tests.harness import failure_messages

    text = "\n".join(m for r in failed for m in failure_messages(r))
    assert "1410048" in text and "retention window" in text


def _failed_then(rpc: RpcTestServer, tmp_path: Path, attempts: int) -> LiveDriver:
    """A tail following P0 and P1 whose first runs fail: the ledgers cannot be fetched."""
    driver = LiveDriver(
        build_definitions(
            rpc_settings(
                tmp_path / "store",
                rpc.url,
                live_start_ledger=TESTNET_FIRST,
                live_repair_attempts=attempts,
            )
        )
    )
    rpc.advance_to(TESTNET_FIRST + 40)  # P0 closes, P1 holds the tip
    rpc.fail_always("http503", method="getLedgers")
    first = driver.tick()
    assert [r.partition_key for r in first.requests] == [P0, P1]
    assert first.runs and not any(r.success for r in first.runs)
    return driver


def test_partitions_a_failed_run_left_short_are_requested_again(
    rpc: RpcTestServer, tmp_path: Path
) -> None:
    driver = _failed_then(rpc, tmp_path, attempts=3)
    rpc.clear_faults()
    repair = driver.tick()  # no new ledgers, but two short partitions behind the cursor
    assert [(r.partition_key, r.tags.get(REPAIR_TAG)) for r in repair.requests] == [
        (P0, "1"),
        (P1, "1"),
    ]
    assert repair.requests[0].tags[FULL_REBUILD_TAG] == "true"  # closed: rebuilt whole
    assert repair.requests[1].tags[THROUGH_LEDGER_TAG] == str(TESTNET_FIRST + 40)  # open
    assert all(r.success for r in repair.runs) and all(all_checks_passed(r) for r in repair.runs)
    idle = driver.tick()
    assert idle.requests == [] and "no new ledgers" in (idle.skipped or "")

    once = tmp_path / "once"
    lake = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(once),
        partition_width=W,
    )
    assert materialize(lake, TESTNET_FIRST, TESTNET_FIRST + 40, through=TESTNET_FIRST + 40).success
    for name in TABLE_FORMATS:
        assert stored_table(tmp_path / "store", name).equals(stored_table(once, name)), name


def test_a_partition_that_keeps_failing_is_given_up_after_the_attempts(
    rpc: RpcTestServer, tmp_path: Path
) -> None:
    driver = _failed_then(rpc, tmp_path, attempts=2)
    for attempt in ("1", "2"):
        tick = driver.tick()
        assert [(r.partition_key, r.tags[REPAIR_TAG]) for r in tick.requests] == [
            (P0, attempt),
            (P1, attempt),
        ]
        assert not any(r.success for r in tick.runs)
    last = driver.tick()
    assert last.requests == []
    assert f"gave up on {P0}, {P1} after 2 attempt(s)" in (last.skipped or "")


def _freshness(defs: dg.Definitions, instance: dg.DagsterInstance) -> AssetCheckEvaluation:
    result = defs.resolve_job_def(FRESHNESS_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert result.success  # a WARN check never fails its run
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    return evaluation


def test_freshness_measures_the_lag_behind_the_tip(rpc: RpcTestServer, tmp_path: Path) -> None:
    # The 2022 ledgers closed years ago: they are fresh only under a limit of decades.
    decades = 100 * 365 * 86400
    lenient = build_definitions(rpc_settings(tmp_path, rpc.url, freshness_max_lag_s=decades))
    driver = LiveDriver(lenient)
    empty = _freshness(lenient, driver.instance)
    assert not empty.passed and "no ledger is stored" in (empty.description or "")

    rpc.advance_to(TESTNET_FIRST + 12)
    assert all(r.success for r in driver.tick().runs)
    fresh = _freshness(lenient, driver.instance)
    assert fresh.passed, fresh.description
    assert fresh.metadata["newest_ledger"].value == TESTNET_FIRST + 12
    assert fresh.metadata["lag_ledgers"].value == 0

    rpc.advance_to(TESTNET_FIRST + 20)  # the tail has not ticked yet: 8 ledgers behind
    behind = _freshness(lenient, driver.instance)
    assert behind.metadata["lag_ledgers"].value == 8 and behind.metadata["tip"].value == (
        TESTNET_FIRST + 20
    )

    strict = build_definitions(rpc_settings(tmp_path, rpc.url, freshness_max_lag_s=300))
    stale = _freshness(strict, driver.instance)
    assert not stale.passed and "limit 300 s" in (stale.description or "")
    assert stale.metadata["lag_seconds"].value > decades / 100

    rpc.fail_always("http503")
    blind = _freshness(lenient, driver.instance)
    assert not blind.passed and "cannot read the tip" in (blind.description or "")
