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
    run_checks_only,
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


def header_check(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (e,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "raw_ledgers_header_hashes"
    ]
    return {"passed": e.passed, **{k: v.value for k, v in e.metadata.items()}}


def test_a_continuing_run_checks_its_ledgers_unless_the_stored_ones_failed(
    tmp_path: Path,
) -> None:
    """A run appending to an open partition checks the ledgers it appended when the stored
    ones passed; after a failed check, it checks the partition whole again."""
    settings = settings_at(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    a, b, c = TESTNET_FIRST + 9, TESTNET_FIRST + 14, TESTNET_FIRST + 20
    assert materialize(settings, TESTNET_FIRST, a, through=a, instance=instance).success
    step = materialize(settings, TESTNET_FIRST, b, through=b, instance=instance)
    assert step.success, failure_messages(step)
    scoped = header_check(step)
    assert scoped["passed"] and scoped["checked"] == b - a + 1  # from the base, a, on
    assert "appended by this run" in scoped["notes"][0]  # type: ignore[index]

    # The stored data changes after it was checked: a re-check finds it ...
    raw = open_store(open_location(settings.storage_uri), "raw_ledgers")
    rows = pa.Table.from_batches(list(raw.batches(KEY)), schema=raw.schema)
    bad = TESTNET_FIRST + 3
    hashes = [
        "00" * 32 if s == bad else h
        for s, h in zip(
            rows.column("ledger_sequence").to_pylist(),
            rows.column("ledger_hash").to_pylist(),
            strict=True,
        )
    ]
    col = rows.schema.get_field_index("ledger_hash")
    tampered = rows.set_column(col, rows.schema.field(col), pa.array(hashes, pa.string()))
    raw.write(KEY, tampered.to_batches(), raw.file_metadata(KEY))  # type: ignore[attr-defined]
    recheck = run_checks_only(settings, [KEY], "raw_ledgers", instance=instance)
    assert not header_check(recheck)["passed"]

    # ... and the next continuing run reads the whole partition again, so it still fails.
    after = materialize(settings, TESTNET_FIRST, c, through=c, instance=instance)
    whole = header_check(after)
    assert not whole["passed"] and whole["checked"] == c - TESTNET_FIRST + 1
    assert f"ledger {bad}" in str(whole["problems"])
