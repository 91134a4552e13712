"""The instance records every check's result against the partition it checked.

This is what the UI reads for the checks tab and the lineage card ("3/3 passed" per partition),
and what the completeness of a partition (``defs.completeness``) reads too.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa

from ttp_assets.core import schemas
from ttp_assets.core.ledger_ranges import keys_covering
from ttp_assets.core.storage.delta_store import DeltaPartitionStore, PartitionWrite
from ttp_assets.core.storage.location import open_location
from ttp_assets.defs.completeness import incomplete_reasons
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    ALL_CHECKS,
    TEST_WIDTH,
    TESTNET_FIRST,
    failure_messages,
    materialize,
    run_checks_only,
)
from ttp_assets_tests.shared_data import lake_dir

LAST = TESTNET_FIRST + 3 * TEST_WIDTH - 1
KEYS = keys_covering(TESTNET_FIRST, LAST, TEST_WIDTH)
CHECK_ASSETS = {
    "raw_ledgers_contiguous": "raw_ledgers",
    "raw_ledgers_hash_chain": "raw_ledgers",
    "raw_ledgers_header_hashes": "raw_ledgers",
    "ledgers_fee_pool": "ledgers",
    "ttp_events_reconcile": "ttp_events",
    "ttp_events_fee_totals": "ttp_events",
}


def _statuses(instance: dg.DagsterInstance) -> dict[tuple[str, str], tuple[str, bool]]:
    """{(check, partition): (latest status, checks the latest materialization)}."""
    check_keys = [dg.AssetCheckKey(dg.AssetKey(a), name) for name, a in CHECK_ASSETS.items()]
    return {
        (info.check_key.name, info.partition_key): (
            info.latest_execution_status.value,
            info.is_current,
        )
        for info in instance.event_log_storage.get_asset_check_partition_info(check_keys)
        if info.partition_key is not None
    }


def test_a_ranged_run_records_each_check_per_partition_and_a_tamper_fails_only_its_own(
    tmp_path: Path,
) -> None:
    assert set(CHECK_ASSETS) == ALL_CHECKS
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "store"),
        partition_width=TEST_WIDTH,
    )
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, TESTNET_FIRST, LAST, instance=instance)
    assert result.success, failure_messages(result)
    assert len(KEYS) == 3
    want = {(name, key): ("SUCCEEDED", True) for name in CHECK_ASSETS for key in KEYS}
    assert _statuses(instance) == want
    location = open_location(settings.storage_uri)
    assert incomplete_reasons(instance, location, KEYS) == {}

    # Shave one stroop off a transfer in the middle partition only.
    store = DeltaPartitionStore(location, "ttp_events", schemas.TTP_EVENTS)
    middle = KEYS[1]
    rows = pa.Table.from_batches(list(store.batches(middle)), schema=store.schema).to_pylist()
    shaved = next(r for r in rows if r["event_type"] == "transfer" and r["asset"] == "native")
    shaved["amount_raw"] = str(int(shaved["amount_raw"]) - 1)
    batch = pa.RecordBatch.from_pylist(rows, schema=schemas.TTP_EVENTS)
    store.write([PartitionWrite(middle, lambda: [batch], store.file_metadata(middle))])

    checked = run_checks_only(settings, KEYS, "ttp_events", instance=instance)
    assert not checked.success
    statuses = _statuses(instance)
    assert statuses.pop(("ttp_events_reconcile", middle))[0] == "FAILED"
    assert {s for s, _ in statuses.values()} == {"SUCCEEDED"}
    reasons = incomplete_reasons(instance, location, KEYS)
    assert list(reasons) == [middle]
    assert "check ttp_events_reconcile failed in run" in reasons[middle]
