"""The ledger assets end to end through Dagster, on the real lakes and on tampered copies."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ttp_assets.core.ledger_ranges import keys_covering
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    TESTNET_LAST,
    all_checks_passed,
    check_results,
    copy_lake,
    evaluations,
    failure_messages,
    materialize,
    parquet_store,
    read_partition,
    run_checks_only,
)
from ttp_assets_tests.harness import problems as problems_of
from ttp_assets_tests.shared_data import lake_dir

KEYS = keys_covering(TESTNET_FIRST, TESTNET_LAST, TEST_WIDTH)
LEDGER_CHECKS = {
    "raw_ledgers_contiguous",
    "raw_ledgers_hash_chain",
    "raw_ledgers_header_hashes",
    "ledgers_fee_pool",
}


def lake_settings(tmp_path: Path, lake: Path | None = None) -> Settings:
    return Settings(
        network="testnet",
        lake_uri=str(lake or lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "store"),
        partition_width=TEST_WIDTH,
        lake_workers=4,
    )


@pytest.fixture(scope="module")
def materialized(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Settings, dg.ExecuteInProcessResult]:
    """The five testnet partitions materialized in one ranged run."""
    settings = lake_settings(tmp_path_factory.mktemp("testnet"))
    return settings, materialize(settings, TESTNET_FIRST, TESTNET_LAST)


def test_ranged_run_lands_each_partition_separately(materialized) -> None:  # type: ignore[no-untyped-def]
    settings, result = materialized
    assert result.success, failure_messages(result)
    assert len(KEYS) == 5
    for table in ("raw_ledgers", "ledgers", "transactions", "operations"):
        assert parquet_store(settings, table).committed_keys() == KEYS
        mats = [
            e.materialization
            for e in result.get_asset_materialization_events()
            if e.materialization.asset_key.to_user_string() == table
        ]
        assert sorted(m.partition for m in mats) == KEYS
    for key in KEYS:
        raw = read_partition(settings, "raw_ledgers", key)
        start = int(key[:10])
        assert raw.column("ledger_sequence").to_pylist() == list(range(start, start + 32))
    total_tx = sum(read_partition(settings, "transactions", k).num_rows for k in KEYS)
    total_op = sum(read_partition(settings, "operations", k).num_rows for k in KEYS)
    assert (total_tx, total_op) == (608, 707)


def test_every_ledger_check_passes_on_real_data(materialized) -> None:  # type: ignore[no-untyped-def]
    _, result = materialized
    checks = check_results(result)
    assert checks.keys() >= LEDGER_CHECKS and all(checks.values()), checks


def test_per_partition_metadata(materialized) -> None:  # type: ignore[no-untyped-def]
    _, result = materialized
    mats = {
        (
            e.materialization.asset_key.to_user_string(),
            e.materialization.partition,
        ): e.materialization
        for e in result.get_asset_materialization_events()
    }
    m = mats[("raw_ledgers", KEYS[0])].metadata
    assert m["dagster/row_count"].value == 32
    assert (m["first_ledger"].value, m["last_ledger"].value) == (TESTNET_FIRST, TESTNET_FIRST + 31)
    assert m["complete"].value is True
    assert m["first_close_time"].value.startswith("2022-06-10T")
    assert m["bytes"].value > 0 and m["xdr_bytes"].value > m["bytes"].value
    tx = mats[("transactions", KEYS[2])].metadata
    assert tx["dagster/row_count"].value == 123 and tx["run_rows"].value == 608


def test_rematerializing_a_partition_leaves_the_same_rows(materialized) -> None:  # type: ignore[no-untyped-def]
    settings, _ = materialized
    key = KEYS[1]
    before = {t: read_partition(settings, t, key) for t in ("raw_ledgers", "operations")}
    again = materialize(settings, TESTNET_FIRST + 32, TESTNET_FIRST + 63)
    assert again.success, failure_messages(again)
    for table, old in before.items():
        new = read_partition(settings, table, key)
        assert new.equals(old)
        files = list((Path(settings.storage_uri) / table).glob(f"{key}*"))
        assert [f.name for f in files] == [f"{key}.parquet"]
    assert not list((Path(settings.storage_uri) / "raw_ledgers" / "_staging").glob("*"))


def test_partial_partition_through_a_ledger_is_marked_incomplete(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    result = materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 40, through=TESTNET_FIRST + 40)
    assert result.success, failure_messages(result)
    open_key = KEYS[1]
    raw = read_partition(settings, "raw_ledgers", open_key)
    assert raw.num_rows == 9
    meta = parquet_store(settings, "raw_ledgers").file_metadata(open_key)
    assert meta["ttp.complete"] == "false" and meta["ttp.last_ledger"] == str(TESTNET_FIRST + 40)
    assert parquet_store(settings, "operations").file_metadata(open_key)["ttp.complete"] == "false"
    assert all_checks_passed(result)
    contig = evaluations(result, "raw_ledgers_contiguous")
    assert contig.keys() == {KEYS[0], open_key}
    assert any("incomplete" in n for n in contig[open_key].metadata["notes"].value)
    assert not any("incomplete" in n for n in contig[KEYS[0]].metadata["notes"].value)


def _assert_failed_without_writing(
    result: dg.ExecuteInProcessResult, settings: Settings, expect: str
) -> None:
    assert not result.success
    messages = "\n".join(failure_messages(result))
    assert expect in messages, messages
    assert "raw_ledgers partition" in messages
    for table in ("raw_ledgers", "ledgers", "operations"):
        assert parquet_store(settings, table).committed_keys() == []
    assert not list(Path(settings.storage_uri).rglob("*.parquet"))


def test_deleted_ledger_fails_the_run_and_writes_nothing(tmp_path: Path) -> None:
    lake = copy_lake(lake_dir("testnet-2022"), tmp_path / "lake")
    next(lake.rglob("*--1410150.xdr.zst")).unlink()
    settings = lake_settings(tmp_path, lake)
    result = materialize(settings, TESTNET_FIRST, TESTNET_LAST)
    _assert_failed_without_writing(result, settings, "ledger 1410150 is missing from the data lake")


def test_flipped_byte_fails_the_run_and_writes_nothing(tmp_path: Path) -> None:
    lake = copy_lake(lake_dir("testnet-2022"), tmp_path / "lake")
    victim = next(lake.rglob("*--1410100.xdr.zst"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    settings = lake_settings(tmp_path, lake)
    result = materialize(settings, TESTNET_FIRST, TESTNET_LAST)
    _assert_failed_without_writing(result, settings, "1410100")


def test_wrong_config_passphrase_fails_with_network_mismatch(tmp_path: Path) -> None:
    lake = copy_lake(lake_dir("testnet-2022"), tmp_path / "lake")
    cfg = (
        (lake / ".config.json")
        .read_text()
        .replace("Test SDF Network", "Public Global Stellar Network")
    )
    (lake / ".config.json").write_text(cfg)
    settings = lake_settings(tmp_path, lake)
    result = materialize(settings, TESTNET_FIRST, TESTNET_LAST)
    _assert_failed_without_writing(result, settings, "set TTP_NETWORK to match the source")


def test_wrong_deployment_network_is_caught_by_decoding(tmp_path: Path) -> None:
    # The lake says testnet; a deployment that claims pubnet is refused before anything is read.
    settings = Settings(
        network="pubnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "store"),
        partition_width=TEST_WIDTH,
    )
    result = materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 31)
    _assert_failed_without_writing(result, settings, "configured for pubnet")


def _rewrite(
    settings: Settings, table: str, key: str, column: str, row: int, value: object
) -> None:
    store = parquet_store(settings, table)
    meta = store.file_metadata(key)
    t = store.read(key)
    col = t.column(column).to_pylist()
    col[row] = value
    t = t.set_column(
        t.schema.get_field_index(column),
        t.schema.field(column),
        pa.array(col, t.schema.field(column).type),
    )
    store.write(key, t.to_batches(), meta)


def test_checks_catch_tampered_stored_data(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    assert materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 63).success
    keys = KEYS[:2]
    checks = check_results(run_checks_only(settings, keys, "raw_ledgers", "ledgers"))
    assert checks == dict.fromkeys(LEDGER_CHECKS, True)

    _rewrite(settings, "raw_ledgers", keys[0], "ledger_hash", 5, "00" * 32)
    _rewrite(settings, "raw_ledgers", keys[1], "ledger_sequence", 3, TESTNET_FIRST + 32 + 4)
    _rewrite(settings, "ledgers", keys[1], "fee_pool", 10, 1)
    result = run_checks_only(settings, keys, "raw_ledgers", "ledgers")
    assert check_results(result) == {
        "raw_ledgers_contiguous": False,
        "raw_ledgers_hash_chain": False,
        "raw_ledgers_header_hashes": False,
        "ledgers_fee_pool": False,
    }
    problems = {name: problems_of(result, name) for name in check_results(result)}
    assert "ledgers present more than once: 1410084" in problems["raw_ledgers_contiguous"]
    assert "ledgers missing: 1410083" in problems["raw_ledgers_contiguous"]
    assert f"ledger {TESTNET_FIRST + 6} names previous hash" in problems["raw_ledgers_hash_chain"]
    assert f"ledger {TESTNET_FIRST + 5} header hashes to" in problems["raw_ledgers_header_hashes"]
    assert f"ledger {TESTNET_FIRST + 32 + 10} fee pool moved" in problems["ledgers_fee_pool"]


def test_hash_chain_is_checked_across_partitions_and_blocks_downstream(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    assert materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 31).success
    _rewrite(settings, "raw_ledgers", KEYS[0], "ledger_hash", 31, "ab" * 32)
    # The next partition is internally sound; only its boundary with the stored one is broken.
    result = materialize(settings, TESTNET_FIRST + 32, TESTNET_FIRST + 63, keys=[KEYS[1]])
    (chain,) = evaluations(result, "raw_ledgers_hash_chain").values()
    assert not chain.passed and chain.partition == KEYS[1]
    assert f"in partition {KEYS[0]} hashes to {'ab' * 32}" in "\n".join(
        chain.metadata["problems"].value
    )
    # Blocking: the decoded tables of that partition were not built on top of it.
    assert parquet_store(settings, "ledgers").committed_keys() == [KEYS[0]]


def test_decoded_tables_agree_with_raw(materialized) -> None:  # type: ignore[no-untyped-def]
    settings, _ = materialized
    for key in KEYS:
        raw = read_partition(settings, "raw_ledgers", key)
        led = read_partition(settings, "ledgers", key)
        assert led.column("ledger_hash").equals(raw.column("ledger_hash"))
        tx = read_partition(settings, "transactions", key)
        per_ledger = pc.value_counts(tx.column("ledger_sequence")).to_pylist()
        counts = {d["values"]: d["counts"] for d in per_ledger}
        for seq, n in zip(
            led.column("ledger_sequence").to_pylist(),
            led.column("transaction_count").to_pylist(),
            strict=True,
        ):
            assert counts.get(seq, 0) == n
