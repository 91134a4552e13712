"""Token transfer assets end to end: real lakes, Delta semantics, checks that catch bad data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from ttp_assets.core import schemas
from ttp_assets.core.ledger_ranges import keys_covering
from ttp_assets.core.storage.delta_store import DeltaPartitionStore, PartitionWrite
from ttp_assets.core.storage.location import open_location
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    TESTNET_LAST,
    all_checks_passed,
    check_results,
    evaluations,
    failure_messages,
    materialize,
    run_checks_only,
)
from ttp_assets_tests.reference.tables.events import event_rows
from ttp_assets_tests.reference.ttp import choose_mode, events_for_ledger
from ttp_assets_tests.reference.xdr.ledger import decode_ledger
from ttp_assets_tests.shared_data import lake_dir, lake_files

KEYS = keys_covering(TESTNET_FIRST, TESTNET_LAST, TEST_WIDTH)
TTP_CHECKS = {"ttp_events_reconcile", "ttp_events_fee_totals"}


def settings_for(tmp: Path, network: str = "testnet", lake: str = "testnet-2022", **kw) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        network=network,
        lake_uri=str(lake_dir(lake)),
        storage_uri=str(tmp / "store"),
        partition_width=kw.pop("width", TEST_WIDTH),
        **kw,
    )


def delta(settings: Settings, table: str) -> DeltaPartitionStore:
    return DeltaPartitionStore(
        open_location(settings.storage_uri), table, schemas.schema_for(table)
    )


def read(settings: Settings, table: str, key: str) -> pa.Table:
    s = delta(settings, table)
    return pa.Table.from_batches(list(s.batches(key)), schema=s.schema)


@pytest.fixture(scope="module")
def testnet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dg.ExecuteInProcessResult]:
    settings = settings_for(tmp_path_factory.mktemp("ttp"))
    return settings, materialize(settings, TESTNET_FIRST, TESTNET_LAST)


def test_every_check_passes_on_the_testnet_lake(testnet) -> None:  # type: ignore[no-untyped-def]
    _, result = testnet
    assert result.success, failure_messages(result)
    checks = check_results(result)
    assert checks.keys() >= TTP_CHECKS and all(checks.values()), checks
    recon = evaluations(result, "ttp_events_reconcile")
    assert len(recon) == 5 and all(e.passed for e in recon.values())  # one per partition
    # every transaction of the 160 ledgers
    assert sum(e.metadata["checked"].value for e in recon.values()) == 608


def test_stored_events_are_the_processors_events(testnet) -> None:  # type: ignore[no-untyped-def]
    settings, _ = testnet
    stored = [r for k in KEYS for r in read(settings, "ttp_events", k).to_pylist()]
    expected = []
    ledgers = [
        decode_ledger(lcm, f.network) for f in lake_files("testnet-2022") for lcm in f.ledgers()
    ]
    for led in sorted(ledgers, key=lambda d: d.sequence):  # object names count down
        mode = choose_mode(led)
        expected.extend(event_rows(events_for_ledger(led, led.network, mode), mode))
    assert len(stored) == len(expected) == 890
    columns = ["event_id", "event_type", "from", "to", "asset", "amount_raw", "operation_index"]
    assert [[r[c] for c in columns] for r in stored] == [[r[c] for c in columns] for r in expected]
    assert len({r["event_id"] for r in stored}) == 890
    assert Counter(r["event_type"] for r in stored) == {
        "fee": 608,
        "transfer": 234,
        "mint": 42,
        "burn": 4,
        "clawback": 2,
    }
    assert {r["derivation"] for r in stored} == {"derived"}  # protocol 19: no CAP-67 events


def test_pubnet_ledger_events(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, network="pubnet", lake="pubnet", width=1000)
    result = materialize(settings, 53312000, 53312000, through=53312000)
    assert result.success, failure_messages(result)
    assert all_checks_passed(result)
    events = read(settings, "ttp_events", "0053312000-0053312999").to_pylist()
    types = Counter(e["event_type"] for e in events)
    assert types == {"fee": 164, "transfer": 132}  # 163 charges and one Soroban refund
    fees = [e for e in events if e["event_type"] == "fee"]
    assert [e["transaction_index"] for e in fees[:163]] == list(range(1, 164))
    assert int(fees[-1]["amount_raw"]) < 0  # the refund comes last (protocol 21 ordering)
    meta = delta(settings, "ttp_events").file_metadata("0053312000-0053312999")
    assert meta["ttp.complete"] == "false" and meta["ttp.last_ledger"] == "53312000"


def test_rematerializing_replaces_the_partition_exactly(testnet) -> None:  # type: ignore[no-untyped-def]
    settings, _ = testnet
    store = delta(settings, "ttp_events")
    before = {k: read(settings, "ttp_events", k) for k in KEYS}
    version = int(store.file_metadata(KEYS[3])["ttp.delta_version"])
    result = materialize(settings, TESTNET_FIRST, TESTNET_LAST, keys=[KEYS[3]])
    assert result.success, failure_messages(result)
    for k in KEYS:
        assert read(settings, "ttp_events", k).equals(before[k])
    assert int(store.file_metadata(KEYS[3])["ttp.delta_version"]) > version
    assert int(store.file_metadata(KEYS[2])["ttp.delta_version"]) <= version
    assert store.row_counts() == {k: before[k].num_rows for k in KEYS}


def _tamper(settings: Settings, key: str, change) -> None:  # type: ignore[no-untyped-def]
    store = delta(settings, "ttp_events")
    meta = store.file_metadata(key)
    table = read(settings, "ttp_events", key)
    rows = table.to_pylist()
    change(rows)
    batch = pa.RecordBatch.from_pylist(rows, schema=schemas.TTP_EVENTS)
    store.write([PartitionWrite(key, lambda: [batch], meta)])


def test_checks_catch_tampered_events(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 31).success
    key = KEYS[0]
    assert check_results(run_checks_only(settings, [key], "ttp_events")) == dict.fromkeys(
        TTP_CHECKS, True
    )

    def shave_a_transfer(rows: list[dict]) -> None:
        t = next(r for r in rows if r["event_type"] == "transfer" and r["asset"] == "native")
        t["amount_raw"] = str(int(t["amount_raw"]) - 1)

    _tamper(settings, key, shave_a_transfer)
    result = run_checks_only(settings, [key], "ttp_events")
    assert check_results(result) == {"ttp_events_reconcile": False, "ttp_events_fee_totals": True}
    ev = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "ttp_events_reconcile"
    )
    (problem,) = ev.metadata["problems"].value
    assert f"partition {key}: ledger 14100" in problem and "native: events" in problem
    assert problem.count("events ") == 2  # the sender and the receiver differ by one stroop

    def drop_a_fee(rows: list[dict]) -> None:
        rows.remove(next(r for r in rows if r["event_type"] == "fee"))

    _tamper(settings, key, drop_a_fee)
    result = run_checks_only(settings, [key], "ttp_events")
    assert check_results(result) == {"ttp_events_reconcile": False, "ttp_events_fee_totals": False}
    fee = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "ttp_events_fee_totals"
    )
    assert "fee events sum to" in fee.metadata["problems"].value[0]


def test_a_token_transfer_error_fails_the_partition_and_writes_nothing(tmp_path: Path) -> None:
    # Unified mode needs CAP-67 events in meta v4; 2022 testnet ledgers have meta v2.
    settings = settings_for(tmp_path, events_mode="unified")
    result = materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 31)
    assert not result.success
    messages = "\n".join(failure_messages(result))
    assert "token_transfers partition 0001410048-0001410079" in messages
    assert "ledger 1410048" in messages
    assert delta(settings, "ttp_events").committed_keys() == []
    assert not delta(settings, "ttp_events").table_exists()


def test_delta_tables_on_s3(s3_server, aws_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s3_server.create_bucket("ttp-delta")
    s3 = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=f"s3://ttp-delta/warehouse?endpoint={s3_server.endpoint}",
        partition_width=TEST_WIDTH,
    )
    result = materialize(s3, TESTNET_FIRST, TESTNET_FIRST + 63)
    assert result.success, failure_messages(result)
    assert all_checks_passed(result)
    local = settings_for(tmp_path)
    assert materialize(local, TESTNET_FIRST, TESTNET_FIRST + 63).success
    for k in KEYS[:2]:
        assert read(s3, "ttp_events", k).equals(read(local, "ttp_events", k))
    again = materialize(s3, TESTNET_FIRST, TESTNET_FIRST + 63, keys=[KEYS[1]])
    assert again.success, failure_messages(again)
    assert delta(s3, "ttp_events").row_counts() == delta(local, "ttp_events").row_counts()
