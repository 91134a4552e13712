"""What a run costs besides the ledgers: the events it writes and the instance queries it makes.

See ``benchmarks/run_overhead.py`` for the figures (and ``native/test_runtime_imports.py`` for
the import). These tests pin what the savings rely on: per-partition lines are logged once per
asset step, the per-partition metadata that skips Dagster's per-call partition check lands on the
right events, and registering a few keys looks them up instead of reading every registered key.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster._core.execution.context.system import StepExecutionContext

from ttp_assets.core.storage.catalog import TABLE_FORMATS, open_store
from ttp_assets.core.storage.location import open_location
from ttp_assets.defs.partitions import LOOKUP_KEYS, register_ranges, unregistered
from ttp_assets.defs.runs import ProgressLog
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    all_checks_passed,
    failure_messages,
    materialize,
)
from ttp_assets_tests.shared_data import lake_dir


def test_unregistered_keys_by_lookup_or_by_one_read() -> None:
    instance = dg.DagsterInstance.ephemeral()
    width = 10
    registered = register_ranges(instance, 1000, 1000 + 10 * width - 1, width)
    assert len(registered) == 10
    few = [*registered[-3:], "0000001100-0000001109"]
    assert unregistered(instance, few) == ["0000001100-0000001109"]
    keys = [f"{s:010d}-{s + width - 1:010d}" for s in range(1000, 1000 + 50 * width, width)]
    assert len(keys) > LOOKUP_KEYS
    assert unregistered(instance, keys) == keys[10:]
    assert register_ranges(instance, 1000, 1000 + 50 * width - 1, width) == keys
    assert instance.get_dynamic_partitions("ledger_ranges") == keys


def test_progress_lines_are_logged_together_unless_time_passed() -> None:
    class Log:
        def __init__(self) -> None:
            self.messages: list[str] = []

        def info(self, msg: str) -> None:
            self.messages.append(msg)

    log = Log()
    batched = ProgressLog(log, interval_s=3600)  # type: ignore[arg-type]
    batched.add("a 1")
    batched.add("a 2")
    assert log.messages == []
    batched.flush()
    batched.flush()  # nothing new: nothing logged
    assert log.messages == ["a 1\na 2"]
    log.messages.clear()
    each = ProgressLog(log, interval_s=0)  # type: ignore[arg-type]
    each.add("b 1")
    each.add("b 2")
    each.flush()
    assert log.messages == ["b 1", "b 2"]


def test_ranged_run_metadata_and_log_per_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The IO managers record per-partition metadata without add_asset_metadata's partition
    # check (instance queries per call, every registered key in a ranged run).
    checked: list[str | None] = []
    public = StepExecutionContext.add_asset_metadata

    def counting(self, metadata, asset_key=None, partition_key=None):  # type: ignore[no-untyped-def]
        checked.append(partition_key)
        return public(self, metadata, asset_key=asset_key, partition_key=partition_key)

    monkeypatch.setattr(StepExecutionContext, "add_asset_metadata", counting)
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "store"),
        partition_width=TEST_WIDTH,
        lake_workers=4,
    )
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(
        settings, TESTNET_FIRST, TESTNET_FIRST + 2 * TEST_WIDTH - 1, instance=instance
    )
    assert result.success, failure_messages(result)
    assert all_checks_passed(result)
    assert checked == []
    keys = [
        f"{TESTNET_FIRST:010d}-{TESTNET_FIRST + 31:010d}",
        f"{TESTNET_FIRST + 32:010d}-{TESTNET_FIRST + 63:010d}",
    ]

    root = open_location(settings.storage_uri)
    mats = {
        (
            e.materialization.asset_key.to_user_string(),
            e.materialization.partition,
        ): e.materialization
        for e in result.get_asset_materialization_events()
    }
    assert set(mats) == {(t, k) for t in TABLE_FORMATS for k in keys}
    for table, fmt in TABLE_FORMATS.items():
        store = open_store(root, table)
        for key in keys:
            meta = mats[(table, key)].metadata
            rows = sum(b.num_rows for b in store.batches(key))
            assert meta["dagster/row_count"].value == rows, (table, key)
            first = int(key[:10])
            assert (meta["first_ledger"].value, meta["last_ledger"].value) == (first, first + 31)
            assert meta["run_partitions"].value == 2
            if fmt == "parquet":
                assert meta["bytes"].value == Path(store.path(key)).stat().st_size  # type: ignore[attr-defined]
                assert pq.ParquetFile(store.path(key)).metadata.num_row_groups == 1  # type: ignore[attr-defined]
            else:
                assert meta["bytes"].value == store.partition_bytes([key])[key]  # type: ignore[attr-defined]
                assert store.file_metadata(key)["ttp.rows"] == str(rows)

    # One log message per asset step, naming every partition of the run.
    logs = [
        r.user_message
        for r in instance.all_logs(result.run_id)
        if not r.is_dagster_event and r.user_message
    ]
    assert len(logs) == 3, logs
    for asset in ("raw_ledgers", "decoded_ledgers", "token_transfers"):
        (msg,) = [m for m in logs if m.startswith(asset)]
        assert [line.split(":")[0] for line in msg.splitlines()] == [f"{asset} {k}" for k in keys]
