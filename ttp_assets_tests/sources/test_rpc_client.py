"""The Stellar RPC client against the real example responses and a real JSON-RPC server."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import time
import urllib.request

import pytest

from ttp_assets.core.network import resolve_network
from ttp_assets.core.sources.base import MissingLedgerError, SourceUnavailableError
from ttp_assets.core.sources.rpc import (
    LedgersPage,
    RpcClient,
    RpcError,
    RpcHttpError,
    RpcTimeout,
    RpcWindowError,
)
from ttp_assets_tests.harness import TESTNET_FIRST, TESTNET_LAST
from ttp_assets_tests.reference.xdr.header import read_lcm_header
from ttp_assets_tests.rpc_server import RpcTestServer
from ttp_assets_tests.shared_data import rpc_example
from ttp_assets_tests.sources.conftest import SleepRecorder

TESTNET = resolve_network("testnet")
LEDGERS_EXAMPLE = "getLedgers_example_testnet_36233-36234.json"
LATEST_EXAMPLE = "getLatestLedger_example_testnet_2002985.json"


def client(
    server: RpcTestServer,
    sleeps: SleepRecorder | None = None,
    *,
    attempts: int = 4,
    timeout: RpcTimeout | None = None,
) -> RpcClient:
    retry = (sleeps or SleepRecorder()).policy(attempts)
    return RpcClient(server.url, retry=retry, timeout=timeout or RpcTimeout(5.0, 10.0))


def post(url: str, body: bytes) -> dict:
    """A bare JSON-RPC POST, as any HTTP client would send it."""
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def rpc_post(url: str, method: str, params: object = None, rid: object = 1) -> dict:
    payload: dict[str, object] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        payload["params"] = params
    return post(url, json.dumps(payload).encode())


def walk(c: RpcClient, limit: int | None) -> list[LedgersPage]:
    """Every page of the window, first by startLedger, then by cursor."""
    pages = [c.get_ledgers(start=TESTNET_FIRST, limit=limit)]
    while pages[-1].ledgers[-1].sequence < pages[-1].latest_ledger:
        pages.append(c.get_ledgers(cursor=pages[-1].cursor, limit=limit))
    return pages


# -- the real response shapes ----------------------------------------------------------------
def test_server_answers_exactly_like_the_real_getledgers_example() -> None:
    example = rpc_example(LEDGERS_EXAMPLE)
    lcms = [base64.b64decode(e["metadataXdr"]) for e in example["result"]["ledgers"]]
    with RpcTestServer(lcms, TESTNET.passphrase) as server:
        got = rpc_post(
            server.url, "getLedgers", {"startLedger": 36233, "pagination": {"limit": 2}}, 8675309
        )
    assert list(got) == list(example) and got["id"] == example["id"]
    # Entries byte-identical to the real server's (hash, sequence, close time as a string,
    # headerXdr = LedgerHeaderHistoryEntry, metadataXdr = LCM), in the same key order.
    assert got["result"]["ledgers"] == example["result"]["ledgers"]
    assert [list(e) for e in got["result"]["ledgers"]] == [
        list(e) for e in example["result"]["ledgers"]
    ]
    assert list(got["result"]) == list(example["result"])
    for key, value in example["result"].items():
        assert type(got["result"][key]) is type(value), key
    # The window is this server's (it holds only these two ledgers); the cursor the last one.
    assert (got["result"]["oldestLedger"], got["result"]["latestLedger"]) == (36233, 36234)
    assert got["result"]["cursor"] == example["result"]["cursor"] == "36234"


def test_server_answers_exactly_like_the_real_getlatestledger_example() -> None:
    example = rpc_example(LATEST_EXAMPLE)
    lcm = base64.b64decode(example["result"]["metadataXdr"])
    with RpcTestServer([lcm], TESTNET.passphrase) as server:
        got = rpc_post(server.url, "getLatestLedger", rid=1)
    assert got == example
    assert list(got["result"]) == list(example["result"])


def test_client_parses_the_real_examples_verbatim(rpc_server: RpcTestServer) -> None:
    ledgers = rpc_example(LEDGERS_EXAMPLE)["result"]
    latest = rpc_example(LATEST_EXAMPLE)["result"]
    rpc_server.respond_with("getLedgers", ledgers)
    rpc_server.respond_with("getLatestLedger", latest)
    c = client(rpc_server)

    page = c.get_ledgers(start=36233)
    assert [led.sequence for led in page.ledgers] == [36233, 36234]
    assert (page.latest_ledger, page.latest_ledger_close_time) == (36379, 1734033188)
    assert (page.oldest_ledger, page.oldest_ledger_close_time) == (29312, 1733997822)
    assert page.window == (29312, 36379) and page.cursor == "36234"
    for led, raw in zip(page.ledgers, ledgers["ledgers"], strict=True):
        assert led.hash == bytes.fromhex(raw["hash"])
        assert led.close_time == int(raw["ledgerCloseTime"]) and isinstance(led.close_time, int)
        assert led.header_xdr == base64.b64decode(raw["headerXdr"])
        assert led.metadata_xdr == base64.b64decode(raw["metadataXdr"])
        header = read_lcm_header(led.metadata_xdr, "example")
        assert header.ledger_hash == led.hash and header.sequence == led.sequence
        assert led.header_xdr[:32] == led.hash  # LedgerHeaderHistoryEntry starts with the hash
        assert header.close_time == led.close_time

    tip = c.get_latest_ledger()
    assert (tip.sequence, tip.protocol_version, tip.close_time) == (2002985, 24, 1765223032)
    assert tip.hash == bytes.fromhex(latest["id"])
    assert tip.header_xdr is not None and hashlib.sha256(tip.header_xdr).digest() == tip.hash
    assert tip.metadata_xdr == base64.b64decode(latest["metadataXdr"])


def test_health_and_network(rpc_server: RpcTestServer) -> None:
    c = client(rpc_server)
    health = c.get_health()
    assert (health.status, health.oldest_ledger, health.latest_ledger) == (
        "healthy",
        TESTNET_FIRST,
        TESTNET_LAST,
    )
    assert health.retention_window == 160
    net = c.get_network()
    assert net.passphrase == TESTNET.passphrase
    assert net.protocol_version == 19 and net.friendbot_url is None
    assert c.get_latest_ledger().sequence == TESTNET_LAST


# -- pagination ------------------------------------------------------------------------------
@pytest.mark.parametrize(("limit", "size"), [(1, 1), (7, 7), (200, 160), (None, 50)])
def test_pages_cover_the_window_once_in_order(
    rpc_server: RpcTestServer, limit: int | None, size: int
) -> None:
    pages = walk(client(rpc_server), limit)
    seqs = [led.sequence for p in pages for led in p.ledgers]
    assert seqs == list(range(TESTNET_FIRST, TESTNET_LAST + 1))
    assert all(len(p.ledgers) == size for p in pages[:-1])
    assert 1 <= len(pages[-1].ledgers) <= size
    # The cursor is the last sequence returned.
    assert all(p.cursor == str(p.ledgers[-1].sequence) for p in pages)
    assert rpc_server.requests["getLedgers"] == len(pages) == -(-160 // size)


def test_limit_is_capped_not_rejected(rpc_server: RpcTestServer) -> None:
    c = client(rpc_server)
    # 160 ledgers are all there are; asking 500 is accepted and answers up to the cap.
    assert len(c.get_ledgers(start=TESTNET_FIRST, limit=500).ledgers) == 160
    # With a cap below the ledgers held, asking more than the cap answers the cap.
    with RpcTestServer.from_lake(max_limit=100) as small:
        page = client(small).get_ledgers(start=TESTNET_FIRST, limit=500)
        assert len(page.ledgers) == 100 and page.cursor == str(TESTNET_FIRST + 99)
        assert len(client(small).get_ledgers(start=TESTNET_FIRST).ledgers) == 50


def test_strict_limit_is_rejected_like_current_stellar_rpc() -> None:
    with RpcTestServer.from_lake(strict_limit=True) as server:
        with pytest.raises(RpcError, match=r"-32600: limit must not exceed 200") as info:
            client(server).get_ledgers(start=TESTNET_FIRST, limit=500)
        assert info.value.code == -32600 and server.requests["getLedgers"] == 1
        assert len(client(server).get_ledgers(start=TESTNET_FIRST, limit=200).ledgers) == 160


def test_cursor_semantics(rpc_server: RpcTestServer) -> None:
    c = client(rpc_server)
    first = c.get_ledgers(start=TESTNET_FIRST, limit=10)
    assert first.cursor == str(TESTNET_FIRST + 9)
    second = c.get_ledgers(cursor=first.cursor, limit=10)
    assert second.ledgers[0].sequence == TESTNET_FIRST + 10  # the page after the cursor
    assert c.get_ledgers(cursor=TESTNET_FIRST + 100, limit=3).ledgers[0].sequence == 1410149

    # startLedger and cursor are mutually exclusive: the client refuses to send both ...
    with pytest.raises(ValueError, match="exactly one"):
        c.get_ledgers(start=TESTNET_FIRST, cursor="1410050")
    # ... and the server rejects them.
    params = {"startLedger": TESTNET_FIRST, "pagination": {"cursor": "1410050"}}
    with pytest.raises(RpcError) as info:
        c.call("getLedgers", params)
    assert info.value.code == -32600 and not isinstance(info.value, MissingLedgerError)
    assert "startLedger and cursor cannot both be set" in str(info.value)
    assert '{"startLedger":1410048,"pagination":{"cursor":"1410050"}}' in str(info.value)

    # A cursor at the tip points past the window: an error naming it, as on a real server.
    with pytest.raises(RpcWindowError) as window:
        c.get_ledgers(cursor=TESTNET_LAST)
    assert window.value.code == -32602
    assert (window.value.oldest, window.value.latest) == (TESTNET_FIRST, TESTNET_LAST)
    # Once the tip moves, the same cursor continues where it left off.
    rpc_server.advance_to(TESTNET_FIRST + 99)
    with pytest.raises(RpcWindowError):
        c.get_ledgers(cursor=TESTNET_FIRST + 99)
    rpc_server.advance_to(TESTNET_FIRST + 120)
    page = c.get_ledgers(cursor=TESTNET_FIRST + 99, limit=200)
    assert [led.sequence for led in page.ledgers] == list(range(1410148, 1410169))
    assert page.latest_ledger == TESTNET_FIRST + 120

    with pytest.raises(RpcError, match="-32602"):
        c.get_ledgers(cursor="not-a-number")


def test_start_outside_the_window_says_the_window(rpc_server: RpcTestServer) -> None:
    rpc_server.set_window(TESTNET_FIRST + 10, TESTNET_FIRST + 100)
    c = client(rpc_server)
    for start in (TESTNET_FIRST, TESTNET_FIRST + 101):
        with pytest.raises(RpcWindowError) as info:
            c.get_ledgers(start=start)
        err = info.value
        assert isinstance(err, MissingLedgerError) and err.code == -32600
        assert (err.oldest, err.latest) == (1410058, 1410148)
        assert f'getLedgers {{"startLedger":{start}}}' in str(err)
        assert "oldest ledger: 1410058 and the latest ledger: 1410148" in str(err)
    assert rpc_server.requests["getLedgers"] == 2  # never retried


def test_protocol_errors_name_method_code_and_request(
    rpc_server: RpcTestServer, sleeps: SleepRecorder
) -> None:
    c = client(rpc_server, sleeps)
    with pytest.raises(RpcError) as info:
        c.call("getTransactionz", {"hash": "00"})
    assert info.value.code == -32601
    assert str(info.value) == (
        f'Stellar RPC {rpc_server.url}: getTransactionz {{"hash":"00"}} failed with '
        f'JSON-RPC error -32601: no such method "getTransactionz"'
    )
    with pytest.raises(RpcError, match=r"getLedgers \{\"startLedger\":\"1\"\}.*-32602"):
        c.call("getLedgers", {"startLedger": "1"})
    with pytest.raises(RpcError, match=r"-32602"):
        c.call("getHealth", {"unexpected": True})
    assert sleeps.calls == []  # none of these is worth a retry

    assert post(rpc_server.url, b"{not json") == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "parse error"},
    }
    assert rpc_post(rpc_server.url, "getHealth", rid="x")["id"] == "x"
    batch = post(
        rpc_server.url,
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "getHealth"},
                {"jsonrpc": "2.0", "id": 2, "method": "nope"},
                {"jsonrpc": "1.0", "id": 3, "method": "getHealth"},
            ]
        ).encode(),
    )
    assert [r.get("error", {}).get("code") for r in batch] == [None, -32601, -32600]


def test_wrong_path_is_an_http_error_not_retried(
    rpc_server: RpcTestServer, sleeps: SleepRecorder
) -> None:
    c = RpcClient(rpc_server.url + "nope", retry=sleeps.policy())
    with pytest.raises(RpcHttpError, match=r"HTTP 404 .*is the URL a Stellar RPC endpoint"):
        c.get_health()
    assert sleeps.calls == []


def test_gzip_answers_are_decoded() -> None:
    with RpcTestServer.from_lake(compress=True) as server:
        pages = walk(client(server), 200)
    assert [led.sequence for led in pages[0].ledgers] == list(range(TESTNET_FIRST, 1410208))


# -- failures --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind", ["http500", "http503", "http429", "malformed", "truncated", "rpc_error", "reset"]
)
def test_transient_failures_are_retried(
    rpc_server: RpcTestServer, sleeps: SleepRecorder, kind: str
) -> None:
    rpc_server.fail_next(2, kind, method="getLedgers")  # type: ignore[arg-type]
    page = client(rpc_server, sleeps).get_ledgers(start=TESTNET_FIRST, limit=5)
    assert [led.sequence for led in page.ledgers] == list(range(TESTNET_FIRST, 1410053))
    assert rpc_server.requests["getLedgers"] == 3
    assert len(sleeps.calls) == 2
    assert rpc_server.pending_faults == 0


@pytest.mark.parametrize("code", [-32603, -32098, -32001])
def test_try_again_rpc_errors_are_retried(
    rpc_server: RpcTestServer, sleeps: SleepRecorder, code: int
) -> None:
    rpc_server.fail_next(1, "rpc_error", code=code, message="rpc queue surpassed queue limit")
    assert client(rpc_server, sleeps).get_latest_ledger().sequence == TESTNET_LAST
    assert rpc_server.requests["getLatestLedger"] == 2 and len(sleeps.calls) == 1


def test_other_rpc_errors_are_not_retried(rpc_server: RpcTestServer, sleeps: SleepRecorder) -> None:
    rpc_server.fail_next(1, "rpc_error", code=-32602, message="invalid parameters: boom")
    with pytest.raises(RpcError) as info:
        client(rpc_server, sleeps).get_ledgers(start=TESTNET_FIRST, limit=3)
    assert (info.value.code, info.value.rpc_message) == (-32602, "invalid parameters: boom")
    assert info.value.method == "getLedgers"
    assert info.value.params == {"startLedger": TESTNET_FIRST, "pagination": {"limit": 3}}
    assert rpc_server.requests["getLedgers"] == 1 and sleeps.calls == []


def test_retry_after_is_honoured(rpc_server: RpcTestServer, sleeps: SleepRecorder) -> None:
    c = client(rpc_server, sleeps)
    rpc_server.fail_next(1, "http429", retry_after=7)
    rpc_server.fail_next(1, "http503", retry_after=2)
    assert c.get_latest_ledger().sequence == TESTNET_LAST
    assert sleeps.calls == [7.0, 2.0]  # at least what the server asked (backoff is below it)

    sleeps.calls.clear()
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    rpc_server.fail_next(1, "http429", retry_after=when)  # the HTTP-date form
    rpc_server.fail_next(1, "http429", retry_after=3600)  # capped at max_retry_after (60 s)
    assert c.get_latest_ledger().sequence == TESTNET_LAST
    assert 25 < sleeps.calls[0] <= 30 and sleeps.calls[1] == 60.0


def test_timeout_gives_up_on_a_held_request_and_retries(
    rpc_server: RpcTestServer, sleeps: SleepRecorder
) -> None:
    c = client(rpc_server, sleeps, timeout=RpcTimeout(connect=5.0, read=0.2))
    rpc_server.fail_next(1, "timeout", method="getLatestLedger")
    assert c.get_latest_ledger().sequence == TESTNET_LAST
    assert rpc_server.wait_held(1, timeout=5)  # the first request is still unanswered
    rpc_server.release()
    # One retry (more only if this machine is too loaded to answer within 0.2 s).
    assert rpc_server.requests["getLatestLedger"] == len(sleeps.calls) + 1 >= 2

    rpc_server.fail_next(2, "timeout")
    with pytest.raises(SourceUnavailableError) as info:
        client(rpc_server, sleeps, attempts=2, timeout=RpcTimeout(5.0, 0.2)).get_health()
    assert f"Stellar RPC {rpc_server.url} is unavailable: getHealth failed 2 times" in str(
        info.value
    )
    assert "no response within the read timeout of 0.2s" in str(info.value)
    rpc_server.release()


def test_outage_exhausts_retries_with_the_url_and_last_error(
    rpc_server: RpcTestServer, sleeps: SleepRecorder
) -> None:
    rpc_server.fail_always("http503", method="getLedgers")
    c = client(rpc_server, sleeps, attempts=3)
    assert c.get_health().status == "healthy"  # other methods still answer
    with pytest.raises(SourceUnavailableError) as info:
        c.get_ledgers(start=TESTNET_FIRST, limit=2)
    msg = str(info.value)
    assert rpc_server.url in msg and "getLedgers" in msg and "failed 3 times" in msg
    assert msg.endswith("last error: HTTP 503 Service Unavailable")
    assert rpc_server.requests["getLedgers"] == 3 and len(sleeps.calls) == 2
    rpc_server.clear_faults()
    assert len(c.get_ledgers(start=TESTNET_FIRST, limit=2).ledgers) == 2


def test_connection_refused_is_retried_then_unavailable(sleeps: SleepRecorder) -> None:
    server = RpcTestServer.from_lake()
    server.stop()  # bound and closed: nothing listens on the port now
    c = RpcClient(server.url, retry=sleeps.policy(3))
    with pytest.raises(SourceUnavailableError, match=r"could not connect: ConnectionRefused"):
        c.get_latest_ledger()
    assert len(sleeps.calls) == 2
