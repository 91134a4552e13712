"""The RPC ledger source, the lake-then-RPC source and the resource that opens them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttp_assets.core.network import NetworkMismatchError, resolve_network
from ttp_assets.core.sources.base import (
    MissingLedgerError,
    SourceConfigError,
    SourceUnavailableError,
)
from ttp_assets.core.sources.combined import LakeThenRpcSource
from ttp_assets.core.sources.datalake import DataLakeSource
from ttp_assets.core.sources.rpc import RpcResponseError, RpcSource
from ttp_assets.defs.resources import LedgerSourceResource
from ttp_assets_tests.harness import TESTNET_FIRST, TESTNET_LAST, copy_lake
from ttp_assets_tests.rpc_server import RpcTestServer
from ttp_assets_tests.shared_data import lake_dir, rpc_example
from ttp_assets_tests.sources.conftest import SleepRecorder

TESTNET = resolve_network("testnet")
ALL = list(range(TESTNET_FIRST, TESTNET_LAST + 1))


@pytest.fixture(scope="module")
def lake_bytes() -> dict[int, bytes]:
    src = DataLakeSource(str(lake_dir("testnet-2022")), TESTNET, max_workers=4)
    return {s.sequence: s.lcm for s in src.ledgers(TESTNET_FIRST, TESTNET_LAST)}


def source(server: RpcTestServer, sleeps: SleepRecorder | None = None, **kw: object) -> RpcSource:
    return RpcSource(server.url, TESTNET, retry=(sleeps or SleepRecorder()).policy(), **kw)  # type: ignore[arg-type]


def get_ledgers_params(server: RpcTestServer) -> list[dict]:
    return [p for m, p in server.request_log if m == "getLedgers"]


# -- RpcSource -------------------------------------------------------------------------------
@pytest.mark.parametrize("page_limit", [1, 7, 200])
@pytest.mark.parametrize("prefetch", [True, False])
def test_serves_the_lakes_bytes_in_order_once(
    rpc_server: RpcTestServer, lake_bytes: dict[int, bytes], page_limit: int, prefetch: bool
) -> None:
    src = source(rpc_server, page_limit=page_limit, prefetch=prefetch)
    got = list(src.ledgers(TESTNET_FIRST, TESTNET_LAST))
    assert [g.sequence for g in got] == ALL
    assert all(g.lcm == lake_bytes[g.sequence] for g in got)
    assert got[0].origin == f"Stellar RPC {rpc_server.url} getLedgers ledger {TESTNET_FIRST}"
    pages = -(-160 // page_limit)
    assert rpc_server.requests == {"getNetwork": 1, "getLedgers": pages}
    params = get_ledgers_params(rpc_server)
    first_limit = min(page_limit, 160)  # never more than the range needs
    assert params[0] == {"startLedger": TESTNET_FIRST, "pagination": {"limit": first_limit}}
    assert all("startLedger" not in p and "cursor" in p["pagination"] for p in params[1:])


def test_asks_only_for_the_ledgers_of_the_range(rpc_server: RpcTestServer) -> None:
    src = source(rpc_server, page_limit=200)
    assert [g.sequence for g in src.ledgers(1410053, 1410062)] == list(range(1410053, 1410063))
    assert [g.sequence for g in src.ledgers(1410100, 1410100)] == [1410100]
    assert list(src.ledgers(1410100, 1410099)) == []
    assert get_ledgers_params(rpc_server) == [
        {"startLedger": 1410053, "pagination": {"limit": 10}},
        {"startLedger": 1410100, "pagination": {"limit": 1}},
    ]
    assert rpc_server.requests["getNetwork"] == 1  # the network is checked once per source


def test_tip_and_window_follow_the_server(rpc_server: RpcTestServer) -> None:
    src = source(rpc_server)
    assert src.latest_ledger() == TESTNET_LAST and src.window() == (TESTNET_FIRST, TESTNET_LAST)
    rpc_server.advance_to(1410100)
    rpc_server.set_oldest(1410060)
    assert src.latest_ledger() == 1410100 and src.window() == (1410060, 1410100)
    assert src.description == f"Stellar RPC {rpc_server.url}"


def test_ledgers_before_the_window_are_missing_and_say_the_window(
    rpc_server: RpcTestServer,
) -> None:
    rpc_server.set_oldest(1410098)
    with pytest.raises(MissingLedgerError) as info:
        list(source(rpc_server).ledgers(TESTNET_FIRST, 1410108))
    assert str(info.value) == (
        f"ledgers 1410048-1410108 not available from Stellar RPC {rpc_server.url}: it holds "
        f"ledgers 1410098..1410207 and older ledgers have left its retention window (read "
        f"them from the data lake)"
    )


def test_ledgers_after_the_tip_are_missing_after_the_ones_it_has(
    rpc_server: RpcTestServer,
) -> None:
    rpc_server.advance_to(1410147)
    src = source(rpc_server, page_limit=4)
    got: list[int] = []
    with pytest.raises(MissingLedgerError) as info:
        for led in src.ledgers(1410140, 1410160):
            got.append(led.sequence)
    assert got == list(range(1410140, 1410148))
    assert "ledgers 1410148-1410160 not available" in str(info.value)
    assert "it holds ledgers 1410048..1410147 and it has not ingested them yet" in str(info.value)
    # Two pages reach the tip; no request is made past it.
    assert rpc_server.requests["getLedgers"] == 2

    with pytest.raises(MissingLedgerError, match=r"ledger 1410150 not available .*not ingested"):
        list(src.ledgers(1410150, 1410150))


def test_retention_moving_during_the_walk_is_a_missing_ledger(
    rpc_server: RpcTestServer,
) -> None:
    src = source(rpc_server, page_limit=10)
    got: list[int] = []
    with pytest.raises(MissingLedgerError, match=r"holds ledgers 1410098\.\.1410207 .*retention"):
        for led in src.ledgers(TESTNET_FIRST, TESTNET_LAST):
            if not got:
                rpc_server.set_oldest(1410098)  # pages after the first or second are gone
            got.append(led.sequence)
    assert got and got == list(range(TESTNET_FIRST, TESTNET_FIRST + len(got)))
    assert len(got) in (10, 20)


def test_other_out_of_window_answers_are_reported_with_the_window(
    rpc_server: RpcTestServer,
) -> None:
    # stellar-rpc answers an old start with "datastore ledger reader not configured" when the
    # request has pagination: the source asks for the window to say why.
    rpc_server.set_oldest(1410100)
    rpc_server.fail_next(
        1, "rpc_error", method="getLedgers", code=-32602, message="datastore not configured"
    )
    with pytest.raises(MissingLedgerError, match=r"holds ledgers 1410100\.\.1410207"):
        list(source(rpc_server).ledgers(TESTNET_FIRST, 1410120))
    # Inside the window the same error is reported as it is.
    rpc_server.fail_next(
        1, "rpc_error", method="getLedgers", code=-32602, message="datastore not configured"
    )
    with pytest.raises(Exception, match=r"-32602: datastore not configured") as info:
        list(source(rpc_server).ledgers(1410100, 1410120))
    assert not isinstance(info.value, MissingLedgerError)


def test_refuses_a_server_for_another_network(rpc_server: RpcTestServer) -> None:
    pubnet = RpcSource(rpc_server.url, resolve_network("pubnet"))
    with pytest.raises(NetworkMismatchError) as info:
        list(pubnet.ledgers(TESTNET_FIRST, TESTNET_LAST))
    assert f"Stellar RPC {rpc_server.url} is for network 'Test SDF Network" in str(info.value)
    with pytest.raises(NetworkMismatchError):
        pubnet.latest_ledger()
    assert set(rpc_server.requests) == {"getNetwork"}  # nothing else was asked


def test_outage_mid_walk_is_unavailable_after_retries(
    rpc_server: RpcTestServer, sleeps: SleepRecorder
) -> None:
    src = source(rpc_server, sleeps, page_limit=50, prefetch=False)
    got: list[int] = []
    with pytest.raises(SourceUnavailableError, match=rf"{rpc_server.url} is unavailable"):
        for led in src.ledgers(TESTNET_FIRST, TESTNET_LAST):
            if not got:
                rpc_server.fail_always("reset", method="getLedgers")
            got.append(led.sequence)
    assert got == list(range(TESTNET_FIRST, TESTNET_FIRST + 50))
    assert rpc_server.requests["getLedgers"] == 1 + 4 and len(sleeps.calls) == 3


def test_transient_failures_mid_walk_are_invisible(
    rpc_server: RpcTestServer, sleeps: SleepRecorder, lake_bytes: dict[int, bytes]
) -> None:
    for kind in ("http500", "truncated", "reset", "http429", "malformed"):
        rpc_server.fail_next(1, kind, method="getLedgers")  # type: ignore[arg-type]
    src = RpcSource(rpc_server.url, TESTNET, page_limit=40, retry=sleeps.policy(attempts=6))
    got = list(src.ledgers(TESTNET_FIRST, TESTNET_LAST))
    assert [g.lcm for g in got] == [lake_bytes[s] for s in ALL]
    assert rpc_server.requests["getLedgers"] == 4 + 5 and len(sleeps.calls) == 5


def test_stopping_early_stops_paging(rpc_server: RpcTestServer) -> None:
    gen = source(rpc_server, page_limit=10).ledgers(TESTNET_FIRST, TESTNET_LAST)
    assert [next(gen).sequence for _ in range(3)] == [1410048, 1410049, 1410050]
    gen.close()
    assert rpc_server.requests["getLedgers"] <= 2


def test_a_server_answering_other_ledgers_is_caught(rpc_server: RpcTestServer) -> None:
    rpc_server.respond_with(
        "getLedgers", rpc_example("getLedgers_example_testnet_36233-36234.json")["result"]
    )
    with pytest.raises(RpcResponseError, match=r"returned ledger 36233 where 1410048 was"):
        list(source(rpc_server).ledgers(TESTNET_FIRST, TESTNET_LAST))


def test_configuration_errors(rpc_server: RpcTestServer) -> None:
    for limit in (0, 201):
        with pytest.raises(SourceConfigError, match="between 1 and 200"):
            RpcSource(rpc_server.url, TESTNET, page_limit=limit)
    with pytest.raises(SourceConfigError, match="http:// or https://"):
        RpcSource("127.0.0.1:8000", TESTNET)


# -- lake, then RPC --------------------------------------------------------------------------
def truncated_lake(tmp_path: Path, keep_through: int, holes: tuple[int, ...] = ()) -> Path:
    """A copy of the testnet lake holding only the ledgers up to ``keep_through``."""
    lake = copy_lake(lake_dir("testnet-2022"), tmp_path / "lake")
    for obj in lake.rglob("*.xdr.zst"):
        seq = int(obj.name.split("--")[1].split(".")[0])
        if seq > keep_through or seq in holes:
            obj.unlink()
    return lake


def combined(lake: Path, server: RpcTestServer) -> LakeThenRpcSource:
    return LakeThenRpcSource(DataLakeSource(str(lake), TESTNET, max_workers=4), source(server))


def test_lake_then_rpc_serves_the_lake_first(
    tmp_path: Path, rpc_server: RpcTestServer, lake_bytes: dict[int, bytes]
) -> None:
    src = combined(truncated_lake(tmp_path, 1410147), rpc_server)
    got = list(src.ledgers(TESTNET_FIRST, TESTNET_LAST))
    assert [g.sequence for g in got] == ALL
    assert all(g.lcm == lake_bytes[g.sequence] for g in got)
    assert all("lake" in g.origin for g in got[:100])
    assert all("Stellar RPC" in g.origin for g in got[100:])
    # RPC was asked for exactly what the lake does not hold.
    assert get_ledgers_params(rpc_server) == [{"startLedger": 1410148, "pagination": {"limit": 60}}]
    assert src.latest_ledger() == TESTNET_LAST
    assert src.description.startswith("data lake ") and "then Stellar RPC" in src.description

    rpc_server.reset_counts()
    assert [g.sequence for g in src.ledgers(1410060, 1410070)] == list(range(1410060, 1410071))
    assert "getLedgers" not in rpc_server.requests  # all in the lake: RPC not asked
    assert [g.sequence for g in src.ledgers(1410180, 1410190)] == list(range(1410180, 1410191))
    assert get_ledgers_params(rpc_server) == [{"startLedger": 1410180, "pagination": {"limit": 11}}]


def test_lake_then_rpc_goes_on_from_rpc_at_a_hole_in_the_lake(
    tmp_path: Path, rpc_server: RpcTestServer, lake_bytes: dict[int, bytes]
) -> None:
    src = combined(truncated_lake(tmp_path, 1410147, holes=(1410070,)), rpc_server)
    got = list(src.ledgers(TESTNET_FIRST, TESTNET_LAST))
    assert [g.sequence for g in got] == ALL
    assert all(g.lcm == lake_bytes[g.sequence] for g in got)
    assert all("lake" in g.origin for g in got[:22])
    assert get_ledgers_params(rpc_server)[0]["startLedger"] in (1410070, 1410148)


def test_lake_then_rpc_when_neither_holds_a_ledger(
    tmp_path: Path, rpc_server: RpcTestServer
) -> None:
    rpc_server.set_oldest(1410160)
    src = combined(truncated_lake(tmp_path, 1410147), rpc_server)
    got: list[int] = []
    with pytest.raises(MissingLedgerError) as info:
        for led in src.ledgers(TESTNET_FIRST, TESTNET_LAST):
            got.append(led.sequence)
    assert got == list(range(TESTNET_FIRST, 1410148))
    msg = str(info.value)
    assert "ledgers 1410148-1410207 not available from Stellar RPC" in msg
    assert "holds ledgers 1410160..1410207" in msg
    assert msg.endswith("the data lake holds 1410048..1410147 only")


# -- the resource ----------------------------------------------------------------------------
def test_resource_opens_each_kind(rpc_server: RpcTestServer) -> None:
    rpc = LedgerSourceResource(kind="rpc", rpc_url=rpc_server.url, rpc_page_limit=50).open(TESTNET)
    assert isinstance(rpc, RpcSource) and rpc.page_limit == 50
    assert rpc.client.timeout.connect == 5.0 and rpc.client.timeout.read == 60.0
    both = LedgerSourceResource(
        kind="lake+rpc", rpc_url=rpc_server.url, lake_uri=str(lake_dir("testnet-2022"))
    ).open(TESTNET)
    assert isinstance(both, LakeThenRpcSource) and both.latest_ledger() == TESTNET_LAST
    with pytest.raises(SourceConfigError, match="needs an RPC endpoint"):
        LedgerSourceResource(kind="rpc").open(TESTNET)
    with pytest.raises(SourceConfigError, match="unknown ledger source kind 'ftp'"):
        LedgerSourceResource(kind="ftp").open(TESTNET)
