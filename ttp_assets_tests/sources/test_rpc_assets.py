"""End to end: ``raw_ledgers`` from Stellar RPC equals ``raw_ledgers`` from the data lake.

Each source runs the real asset graph (``harness.materialize``) over the five testnet
partitions; the stored tables are compared byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ttp_assets.core.ledger_ranges import keys_covering
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    TESTNET_LAST,
    check_results,
    copy_lake,
    failure_messages,
    materialize,
    parquet_store,
    read_partition,
)
from ttp_assets_tests.rpc_server import RpcTestServer
from ttp_assets_tests.shared_data import lake_dir

pytestmark = pytest.mark.slow

KEYS = keys_covering(TESTNET_FIRST, TESTNET_LAST, TEST_WIDTH)
TABLES = ("raw_ledgers", "ledgers", "transactions", "operations")
LEDGER_CHECKS = ("raw_ledgers_", "ledgers_")  # contiguity, hash chain, header hashes, fee pool
LAKE_EDGE = 1410117  # the partial lake ends inside the third partition (1410112-1410143)

Run = tuple[Settings, dg.ExecuteInProcessResult]


def settings(tmp: Path, **kw: str) -> Settings:
    return Settings(
        network="testnet",
        storage_uri=str(tmp / "store"),
        partition_width=TEST_WIDTH,
        lake_workers=4,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[RpcTestServer]:
    with RpcTestServer.from_lake("testnet-2022") as srv:
        yield srv


@pytest.fixture(scope="module")
def lake_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    s = settings(
        tmp_path_factory.mktemp("lake"), source="lake", lake_uri=str(lake_dir("testnet-2022"))
    )
    return s, materialize(s, TESTNET_FIRST, TESTNET_LAST)


@pytest.fixture(scope="module")
def rpc_run(tmp_path_factory: pytest.TempPathFactory, server: RpcTestServer) -> Run:
    server.reset_counts()
    s = settings(tmp_path_factory.mktemp("rpc"), source="rpc", rpc_url=server.url)
    result = materialize(s, TESTNET_FIRST, TESTNET_LAST)
    # The run's work: one network check, one page per 32-ledger partition, nothing else.
    assert dict(server.requests) == {"getNetwork": 1, "getLedgers": 5}
    return s, result


@pytest.fixture(scope="module")
def lake_rpc_run(tmp_path_factory: pytest.TempPathFactory, server: RpcTestServer) -> Run:
    tmp = tmp_path_factory.mktemp("lake_rpc")
    lake = copy_lake(lake_dir("testnet-2022"), tmp / "lake")
    for obj in lake.rglob("*.xdr.zst"):
        if int(obj.name.split("--")[1].split(".")[0]) > LAKE_EDGE:
            obj.unlink()
    server.reset_counts()
    s = settings(tmp, source="lake+rpc", lake_uri=str(lake), rpc_url=server.url)
    result = materialize(s, TESTNET_FIRST, TESTNET_LAST)
    # RPC served exactly what the partial lake lacks, partition by partition.
    starts = [p.get("startLedger") for m, p in server.request_log if m == "getLedgers"]
    assert starts == [LAKE_EDGE + 1, 1410144, 1410176]
    return s, result


def assert_ledger_steps_passed(result: dg.ExecuteInProcessResult) -> None:
    # Only the ledger assets are this test's business (the token-transfer steps downstream
    # have their own tests): they must succeed and their checks pass.
    for step in ("raw_ledgers", "decoded_ledgers"):
        assert result.is_node_success(step), failure_messages(result)
    checks = {k: v for k, v in check_results(result).items() if k.startswith(LEDGER_CHECKS)}
    assert len(checks) == 4 and all(checks.values()), checks


def assert_same_tables(a: Run, b: Run) -> None:
    (sa, ra), (sb, rb) = a, b
    assert_ledger_steps_passed(ra)
    assert_ledger_steps_passed(rb)
    for table in TABLES:
        assert parquet_store(sa, table).committed_keys() == KEYS
        assert parquet_store(sb, table).committed_keys() == KEYS
        for key in KEYS:
            ta, tb = read_partition(sa, table, key), read_partition(sb, table, key)
            assert ta.num_rows > 0 and ta.schema == tb.schema, (table, key)
            assert ta.equals(tb), f"{table} {key} differs between sources"


def test_rpc_gives_the_same_raw_ledgers_as_the_lake(lake_run: Run, rpc_run: Run) -> None:
    assert_same_tables(lake_run, rpc_run)
    raw = read_partition(rpc_run[0], "raw_ledgers", KEYS[0])
    assert raw.column("ledger_sequence").to_pylist() == list(range(TESTNET_FIRST, 1410080))


def test_lake_then_rpc_gives_the_same_raw_ledgers(lake_run: Run, lake_rpc_run: Run) -> None:
    assert_same_tables(lake_run, lake_rpc_run)
