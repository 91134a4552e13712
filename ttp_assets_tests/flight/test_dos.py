"""Denial of service, reproduced with real Flight clients against real gateways (and its front).

- oversized unauthenticated requests: refused by the front (the real nginx of
  ``deploy/flight-front``) before the gateway holds them, measured on the gateway process's RSS;
  the same request sent to the gateway directly shows what the front prevents;
- one token cannot take every stream (``max_streams_per_token``), another is still served;
- a client that opens a DoGet and stops reading is dropped after ``stall_timeout``;
- the memory budget refuses admission beyond it, and batches shrink to a stream's reservation;
- every malformed request shape is INVALID_ARGUMENT with a short message, never INTERNAL;
- tokens never appear in logs or answers;
- a short soak: 32 authorized readers under an unauthenticated flood (``benchmarks/flight_soak.py``
  runs the same for 60 s).

Streams are held open with clients that advertise a 16 KiB HTTP/2 window and no window growth
(gRPC channel options): the server's write then blocks after a few small batches whatever the
size of the data, exactly as with a client that stopped reading.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from flight_gateway.admission import MiB
from flight_gateway.catalog import SERVED_FORMATS
from flight_gateway.config import GatewayConfig
from flight_gateway.reader import IN_FLIGHT_BATCHES
from flight_gateway.server import GatewayServer
from flight_gateway.tickets import MAX_TICKET_BYTES
from ttp_assets.settings import Settings
from ttp_assets_tests.flight.conftest import (
    ADMIN,
    KEYS,
    READER,
    GatewayProcess,
    Pki,
    bearer,
    spawn_gateway,
    start_gateway,
    stored,
    ticket,
)
from ttp_assets_tests.flight.front import Front, start_front
from ttp_assets_tests.flight.soak import proc_status, reset_peak_rss, run_soak

INVALID = pa.ArrowInvalid  # INVALID_ARGUMENT
OTHER = "other-reader-token-for-tests-0123"
SOAK_TOKENS = [f"soak-reader-token-{n}-0123456789abcdef" for n in range(4)]
ALL_TOKENS = [READER, ADMIN, OTHER, *SOAK_TOKENS]
NEAR = READER[:-1] + "X"  # one character off a real token: a guess, as secret as a token
RAW = ticket(asset="raw_ledgers")
SOAK_BUDGET = 32 * GatewayConfig("x").stream_memory  # the soak's 32 readers all admitted


def held_client(location: str) -> fl.FlightClient:
    """A client that reads as little as a stalled one can: a 16 KiB window that never grows."""
    return fl.connect(
        location,
        generic_options=[("grpc.http2.lookahead_bytes", 16 * 1024), ("grpc.http2.bdp_probe", 0)],
    )


def hold_stream(location: str, token: str) -> tuple[fl.FlightClient, fl.FlightStreamReader]:
    """A DoGet that is admitted and streaming (its first batch read), then not read further."""
    client = held_client(location)
    reader = client.do_get(RAW, bearer(token))
    reader.read_chunk()
    return client, reader


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition`` held; fails after ``timeout`` (a bounded wait)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def expected(store: Settings) -> dict[str, pa.Table]:
    return {a: stored(store, a) for a in ("raw_ledgers", "ttp_events", "operations", "ledgers")}


def dos_gateway(store: Settings, **kw: object) -> GatewayServer:
    tokens = {READER: "reader", ADMIN: "admin", OTHER: "reader"}
    # Two rows per scanner batch: many small messages, so a held stream blocks early.
    options: dict[str, object] = {"tokens": tokens, "batch_rows": 2, **kw}
    return start_gateway(store.storage_uri, **options)


# -- per-token cap ---------------------------------------------------------------------------


def test_one_token_cannot_take_every_stream(store: Settings, expected: dict[str, pa.Table]) -> None:
    server = dos_gateway(store, max_streams_per_token=2, stall_timeout=60)
    held: list[tuple[fl.FlightClient, fl.FlightStreamReader]] = []
    try:
        held = [hold_stream(server.location, READER) for _ in range(2)]
        assert server.admission.active == 2
        third = fl.connect(server.location)
        with pytest.raises(fl.FlightUnavailableError, match="this token already has 2 streams"):
            third.do_get(RAW, bearer(READER)).read_all()
        # Another token (and the admin's) is served in full meanwhile.
        assert third.do_get(RAW, bearer(OTHER)).read_all().equals(expected["raw_ledgers"])
        assert third.do_get(RAW, bearer(ADMIN)).read_all().equals(expected["raw_ledgers"])
        # A held stream read to its end gives its place back before the client sees the end.
        client, reader = held.pop()
        rest = reader.read_all()
        assert rest.num_rows > 0
        client.close()
        assert third.do_get(RAW, bearer(READER)).read_all().equals(expected["raw_ledgers"])
        assert server.metrics.value("flight_gateway_streams_refused_total", reason="token") == 1
        third.close()
    finally:
        for client, reader in held:  # read to the end: a held stream would outlive stop()
            reader.read_all()
            client.close()
        server.stop()


# -- stalled clients -------------------------------------------------------------------------


def test_a_stalled_client_is_dropped_and_its_slot_freed(
    store: Settings, expected: dict[str, pa.Table]
) -> None:
    timeout = 1.0
    server = dos_gateway(store, max_streams=1, stall_timeout=timeout)
    try:
        client, reader = hold_stream(server.location, READER)
        opened = time.monotonic()
        other = fl.connect(server.location)
        with pytest.raises(fl.FlightUnavailableError, match="its limit"):
            other.do_get(RAW, bearer(OTHER)).read_all()  # the stalled stream holds the only slot
        waited = wait_for(lambda: server.admission.active == 0, timeout=timeout + 5)
        assert time.monotonic() - opened >= timeout * 0.9  # not before the timeout
        assert waited < timeout + 3  # and soon after it
        assert server.metrics.value("flight_gateway_stalled_streams_total") == 1
        # The freed slot serves another client in full.
        assert other.do_get(RAW, bearer(OTHER)).read_all().equals(expected["raw_ledgers"])
        # The stalled client finds its stream ended (its connection was closed) when it reads.
        with pytest.raises(fl.FlightUnavailableError):
            reader.read_all()
        client.close()
        other.close()
        # A client that reads normally is never dropped, however long the whole read takes.
        steady = fl.connect(server.location)
        for _ in range(3):
            assert steady.do_get(RAW, bearer(READER)).read_all().equals(expected["raw_ledgers"])
        steady.close()
        assert server.metrics.value("flight_gateway_stalled_streams_total") == 1
    finally:
        server.stop()


# -- memory budget ---------------------------------------------------------------------------


def test_the_memory_budget_refuses_admission_beyond_it(
    store: Settings, expected: dict[str, pa.Table]
) -> None:
    server = dos_gateway(store, stream_memory=4 * MiB, memory_budget=8 * MiB, stall_timeout=60)
    held: list[tuple[fl.FlightClient, fl.FlightStreamReader]] = []
    try:
        held = [hold_stream(server.location, token) for token in (READER, OTHER)]
        client = fl.connect(server.location)
        with pytest.raises(fl.FlightUnavailableError) as refused:
            client.do_get(RAW, bearer(ADMIN)).read_all()
        assert (
            "the gateway's memory budget is taken: 2 streams reserve 8 MiB of 8 MiB "
            "(TTP_FLIGHT_MEMORY_BUDGET) and a stream needs 4 MiB (TTP_FLIGHT_STREAM_MEMORY)"
        ) in str(refused.value)
        health = json.loads(
            urllib.request.urlopen(server.metrics_server.url + "/healthz", timeout=10).read()  # type: ignore[union-attr]
        )
        assert health["memory_reserved_bytes"] == 8 * MiB and health["active_streams"] == 2
        for c, reader in held:
            reader.read_all()
            c.close()
        held = []
        assert client.do_get(RAW, bearer(ADMIN)).read_all().equals(expected["raw_ledgers"])
        assert server.metrics.value("flight_gateway_streams_refused_total", reason="memory") == 1
        assert server.metrics.value("flight_gateway_memory_reserved_bytes") == 0
        client.close()
    finally:
        for c, reader in held:
            reader.read_all()
            c.close()
        server.stop()
    with pytest.raises(ValueError, match="must hold at least one stream"):
        GatewayConfig(store.storage_uri, stream_memory=64 * MiB, memory_budget=32 * MiB).validate()


def test_batches_fit_the_stream_reservation(store: Settings, expected: dict[str, pa.Table]) -> None:
    """With a small reservation every batch is under its share; with the default one, not."""
    small = MiB // 2
    share = small // IN_FLIGHT_BATCHES
    sizes: dict[int, list[tuple[int, int]]] = {}
    for reservation in (small, 32 * MiB):
        server = start_gateway(store.storage_uri, stream_memory=reservation)
        try:
            client = fl.connect(server.location)
            reader = client.do_get(RAW, bearer(READER))
            chunks = [c.data for c in reader]
            client.close()
        finally:
            server.stop()
        table = pa.Table.from_batches(chunks, schema=expected["raw_ledgers"].schema)
        assert table.equals(expected["raw_ledgers"])
        sizes[reservation] = [(c.nbytes, c.num_rows) for c in chunks]
    assert all(nbytes <= share or rows == 1 for nbytes, rows in sizes[small])
    assert len(sizes[small]) > len(sizes[32 * MiB])
    assert max(nbytes for nbytes, _ in sizes[32 * MiB]) > share  # the bound is what cut them


# -- malformed requests ----------------------------------------------------------------------


def _deep_object(depth: int) -> bytes:
    return b'{"asset": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


MALFORMED_TICKETS: list[tuple[str, bytes, str]] = [
    ("deep array", b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
    ("deep object", _deep_object(5_000), "nested too deeply"),
    (
        "deep filter value",
        b'{"asset": "ttp_events", "filters": {"ledger_sequence": '
        + b"[" * 20_000
        + b"]" * 20_000
        + b"}}",
        "nested too deeply",
    ),
    (
        "5000-digit integer",
        b'{"asset": "ledgers", "ledgers": [1, ' + b"9" * 5000 + b"]}",
        "5000 digits, at most 20",
    ),
    (
        "5000-digit negative integer",
        b'{"asset": "ledgers", "ledgers": [-' + b"9" * 5000 + b", 1]}",
        "digits, at most 20",
    ),
    ("21-digit integer", b'{"asset": "ledgers", "ledgers": [1, ' + b"1" * 21 + b"]}", "21 digits"),
    ("huge float", b'{"asset": "ledgers", "ledgers": [1e999, 2]}', "two integers"),
    ("NaN", b'{"asset": "ledgers", "ledgers": [NaN, 2]}', "NaN is not a JSON value"),
    ("Infinity", b'{"asset": "ledgers", "ledgers": [1, Infinity]}', "Infinity is not a JSON"),
    ("bad utf-8", b"\xff\xfe\xfd", "not UTF-8"),
    ("bad utf-8 inside json", b'{"asset": "led\xc3\x28gers"}', "not UTF-8"),
    ("overlong utf-8", b'{"asset": "\xc0\xafetc"}', "not UTF-8"),
    ("utf-16", '{"asset": "ledgers"}'.encode("utf-16"), "not UTF-8"),
    ("nul bytes", b"\x00" * 100, "neither JSON nor"),
    ("asset a list", b'{"asset": ["ledgers"]}', '"asset" must be a string'),
    ("asset null", b'{"asset": null}', '"asset" must be a string'),
    ("ledgers an object", b'{"asset": "ledgers", "ledgers": {"a": 1}}', "[first, last]"),
    ("ledgers three", b'{"asset": "ledgers", "ledgers": [1, 2, 3]}', "[first, last]"),
    ("partitions numbers", b'{"asset": "ledgers", "partitions": [1]}', "must list strs"),
    ("columns nested", b'{"asset": "ledgers", "columns": [["fee_pool"]]}', "must list strs"),
    ("filters a list", b'{"asset": "ttp_events", "filters": ["to"]}', "non-empty object"),
    (
        "filter value an object",
        b'{"asset": "ttp_events", "filters": {"ledger_sequence": {"gt": 1}}}',
        "takes integers",
    ),
    ("json string", b'"ledgers"', "neither JSON nor"),
    ("json number", b"[1e5]", "must be an object"),
    (
        "many unknown keys",
        json.dumps({"asset": "ledgers", **{f"k{n}": n for n in range(3000)}}).encode(),
        "and 2995 more",
    ),
    (
        "long unknown column",
        json.dumps({"asset": "ledgers", "columns": ["c" * 30_000]}).encode(),
        "no column(s)",
    ),
    ("oversized", b"ledgers:1:2" + b" " * MAX_TICKET_BYTES, "ticket too long"),
]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(raw, msg) for _, raw, msg in MALFORMED_TICKETS],
    ids=[name for name, _, _ in MALFORMED_TICKETS],
)
def test_malformed_tickets_are_invalid_argument(
    gateway_dos: GatewayServer, raw: bytes, message: str
) -> None:
    client = fl.connect(gateway_dos.location)
    try:
        with pytest.raises(INVALID) as info:
            client.do_get(fl.Ticket(raw), bearer(READER)).read_all()
        # The same ticket as a command descriptor is refused the same way.
        with pytest.raises(INVALID, match=_escape(message)):
            client.get_flight_info(fl.FlightDescriptor.for_command(raw), bearer(READER))
    finally:
        client.close()
    text = str(info.value)
    assert message in text
    assert len(text.split(". Detail:")[0]) < 2000  # short, whatever the ticket's size
    assert _internal_errors(gateway_dos) == 0


MALFORMED_CALLS: list[
    tuple[str, Callable[[fl.FlightClient, fl.FlightCallOptions], object], str]
] = [
    (
        "path of four",
        lambda c, o: c.get_flight_info(fl.FlightDescriptor.for_path("a", "b", "c", "d"), o),
        "descriptor path must be",
    ),
    (
        "oversized path",
        lambda c, o: c.get_flight_info(
            fl.FlightDescriptor.for_path("ledgers", "x" * (MAX_TICKET_BYTES + 1)), o
        ),
        "descriptor path too long",
    ),
    (
        "path ledgers huge",
        lambda c, o: c.get_flight_info(fl.FlightDescriptor.for_path("ledgers", "9" * 5000, "1"), o),
        "are not numbers",
    ),
    (
        "deep action body",
        lambda c, o: list(
            c.do_action(fl.Action("list_partitions", b'{"asset": ' + b"[" * 30_000), o)
        ),
        "nested too deeply",
    ),
    (
        "huge int action body",
        lambda c, o: list(
            c.do_action(fl.Action("list_partitions", b'{"asset": ' + b"1" * 5000 + b"}"), o)
        ),
        "digits, at most 20",
    ),
    (
        "oversized action body",
        lambda c, o: list(c.do_action(fl.Action("list_partitions", b" " * 70_000), o)),
        "action body too long",
    ),
    (
        "oversized criteria",
        lambda c, o: list(c.list_flights(b"x" * 5000, o)),
        "criteria too long",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"),
    [(call, msg) for _, call, msg in MALFORMED_CALLS],
    ids=[name for name, _, _ in MALFORMED_CALLS],
)
def test_malformed_descriptors_actions_and_criteria_are_invalid_argument(
    gateway_dos: GatewayServer,
    call: Callable[[fl.FlightClient, fl.FlightCallOptions], object],
    message: str,
) -> None:
    client = fl.connect(gateway_dos.location)
    try:
        with pytest.raises(INVALID, match=_escape(message)):
            call(client, bearer(READER))
    finally:
        client.close()
    assert _internal_errors(gateway_dos) == 0


def test_a_descriptor_path_not_utf8_is_refused_before_the_gateway(
    gateway_dos: GatewayServer,
) -> None:
    """The one malformed shape that is not INVALID_ARGUMENT, and why: a descriptor path is a
    protobuf ``string``, and Arrow's C++ layer refuses to parse one that is not UTF-8 (INTERNAL,
    no message) before any gateway code runs. Nothing reaches the handlers; the gateway goes on.
    (A ticket is ``bytes``: bad UTF-8 there is the gateway's to refuse, INVALID_ARGUMENT.)"""
    calls = gateway_dos.metrics.total("flight_gateway_requests_total")
    client = fl.connect(gateway_dos.location)
    try:
        with pytest.raises(fl.FlightInternalError):
            client.get_flight_info(fl.FlightDescriptor.for_path(b"\xff\xfe"), bearer(READER))
        assert gateway_dos.metrics.total("flight_gateway_requests_total") == calls
        info = client.get_flight_info(fl.FlightDescriptor.for_path("ledgers"), bearer(READER))
        assert info.total_records > 0
    finally:
        client.close()


@pytest.fixture(scope="module")
def gateway_dos(store: Settings) -> Iterator[GatewayServer]:
    server = dos_gateway(store)
    try:
        yield server
    finally:
        server.stop()


def _internal_errors(server: GatewayServer) -> float:
    return sum(
        server.metrics.value("flight_gateway_errors_total", method=m, code="INTERNAL")
        for m in ("DoGet", "GetFlightInfo", "DoAction", "ListFlights")
    )


def _escape(text: str) -> str:
    return re.escape(text)


# -- the front -------------------------------------------------------------------------------


@dataclass
class Fronted:
    gateway: GatewayProcess
    front: Front
    root_certs: bytes

    @property
    def pid(self) -> int:
        return self.gateway.proc.pid

    def via_front(self) -> fl.FlightClient:
        return fl.connect(self.front.location, tls_root_certs=self.root_certs)

    def direct(self) -> fl.FlightClient:
        return fl.connect(self.gateway.location)


@pytest.fixture(scope="module")
def fronted(
    store: Settings, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fronted]:
    tokens = [("reader", READER), ("admin", ADMIN), *(("reader", t) for t in SOAK_TOKENS)]
    gw = spawn_gateway(
        {
            "TTP_STORAGE_URI": store.storage_uri,
            "TTP_FLIGHT_PORT": "0",
            "TTP_FLIGHT_METRICS_PORT": "0",
            "TTP_FLIGHT_TOKENS": ",".join(f"{role}:{token}" for role, token in tokens),
            "TTP_FLIGHT_LOG_LEVEL": "INFO",  # every call logged: the secrets check reads it all
            "TTP_FLIGHT_MEMORY_BUDGET": str(SOAK_BUDGET),
        }
    )
    host_port = gw.location.split("://", 1)[1]
    front = start_front(
        tmp_path_factory.mktemp("front"), host_port, pki.server_cert, pki.server_key
    )
    try:
        yield Fronted(gw, front, pki.ca_cert.read_bytes())
    finally:
        front.stop()
        code, log = gw.stop()
        # Secrets: no configured token in anything the gateway or the front wrote.
        written = log + front.error_log()
        assert code == 0, log[-2000:]
        for token in [*ALL_TOKENS, NEAR]:
            assert token not in written
        assert not re.search(r"Bearer (?!<token>)", written)  # only the help text's placeholder


def _oversized_call(client: fl.FlightClient, size: int, token: str | None) -> BaseException:
    options = bearer(token) if token else fl.FlightCallOptions(timeout=60)
    try:
        client.do_get(fl.Ticket(b"x" * size), options).read_all()
    except fl.FlightError as exc:
        return exc
    except pa.ArrowException as exc:
        return exc
    raise AssertionError("an oversized ticket was served")


def test_oversized_unauthenticated_tickets_never_reach_the_gateway(fronted: Fronted) -> None:
    size = 40 * MiB  # three at once; the reproduced attack used 400 MB (the front cuts at 128k)
    reset_peak_rss(fronted.pid)
    before = proc_status(fronted.pid, "VmHWM")
    answers: list[BaseException] = []
    lock = threading.Lock()

    def flood(token: str | None) -> None:
        client = fronted.via_front()
        try:
            err = _oversized_call(client, size, token)
        finally:
            client.close()
        with lock:
            answers.append(err)

    threads = [threading.Thread(target=flood, args=(t,)) for t in (None, None, None, READER)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    growth = proc_status(fronted.pid, "VmHWM") - before
    assert len(answers) == 4
    for err in answers:
        assert isinstance(err, INVALID), err
        assert "request message too large" in str(err)
    assert growth < 8 * MiB, f"gateway peak RSS grew by {growth / MiB:.1f} MiB"
    # What the front prevents: one such ticket sent to the gateway itself (unauthenticated, so
    # refused at once) is held whole by gRPC first.
    reset_peak_rss(fronted.pid)
    before = proc_status(fronted.pid, "VmHWM")
    client = fronted.direct()
    err = _oversized_call(client, size, None)
    client.close()
    assert isinstance(err, fl.FlightUnauthenticatedError), err
    assert proc_status(fronted.pid, "VmHWM") - before >= size


def test_reads_through_the_front_equal_direct_reads(fronted: Fronted) -> None:
    front, direct = fronted.via_front(), fronted.direct()
    try:
        for t in (
            ticket(asset="ttp_events"),
            ticket(asset="raw_ledgers", partitions=[KEYS[1]]),
            ticket(asset="operations", ledgers=[1410050, 1410150], columns=["ledger_sequence"]),
            ticket(asset="ttp_events", filters={"event_type": ["fee", "transfer"]}),
            fl.Ticket(b"ledgers:1410048:1410207"),
        ):
            via = front.do_get(t, bearer(READER)).read_all()
            assert via.num_rows > 0
            assert via.equals(direct.do_get(t, bearer(READER)).read_all())
        d = fl.FlightDescriptor.for_path("transactions")
        assert front.get_flight_info(d, bearer(READER)).total_records == (
            direct.get_flight_info(d, bearer(READER)).total_records
        )
        assert len(list(front.list_flights(options=bearer(READER)))) == len(SERVED_FORMATS)
        # Errors pass through the front unchanged.
        with pytest.raises(fl.FlightUnauthenticatedError):
            front.do_get(RAW, fl.FlightCallOptions(timeout=30)).read_all()
        with pytest.raises(INVALID, match="nested too deeply"):
            front.do_get(fl.Ticket(b"[" * 30_000), bearer(READER)).read_all()
        with pytest.raises(pa.ArrowKeyError, match="unknown asset"):
            front.do_get(fl.Ticket(b"offers:1:2"), bearer(READER)).read_all()
    finally:
        front.close()
        direct.close()


def test_short_soak_behind_the_front(fronted: Fronted, store: Settings) -> None:
    """32 authorized readers and an unauthenticated flood for 12 s (the benchmark runs 60 s)."""
    tickets = [
        (ticket(asset="ttp_events"), stored(store, "ttp_events").num_rows),
        (
            ticket(asset="raw_ledgers", partitions=[KEYS[2]]),
            stored(store, "raw_ledgers", [KEYS[2]]).num_rows,
        ),
        (fl.Ticket(b"operations:1410048:1410207"), stored(store, "operations").num_rows),
        (ticket(asset="ledgers", columns=["ledger_sequence"]), stored(store, "ledgers").num_rows),
    ]
    assert fronted.gateway.metrics is not None
    result = run_soak(
        location=fronted.front.location,
        root_certs=fronted.root_certs,
        metrics_url=fronted.gateway.metrics,
        gateway_pid=fronted.pid,
        tokens=SOAK_TOKENS,
        tickets=tickets,
        duration=12,
        oversized_bytes=4 * MiB,
    )
    budget = SOAK_BUDGET
    print(result.report(budget))
    assert result.read_errors == []
    assert result.reads >= 32  # every reader read at least once
    assert result.flood_unexpected == 0
    assert sum(result.flood.values()) > 0
    assert result.health_failed == 0 and result.health_ok > 0
    assert result.health_max_latency_s < 2.0
    assert max(result.rss_max, result.peak_rss) - result.rss_baseline < budget


def test_tokens_never_appear_in_answers(fronted: Fronted) -> None:
    client = fronted.via_front()
    try:
        messages = []
        for token in (NEAR, f"{READER} {ADMIN}", READER + READER):
            with pytest.raises(fl.FlightError) as info:
                client.do_get(RAW, bearer(token)).read_all()
            messages.append(str(info.value))
        with pytest.raises(fl.FlightUnauthorizedError) as denied:
            list(client.do_action(fl.Action("stats", b""), bearer(READER)))
        messages.append(str(denied.value))
    finally:
        client.close()
    for text in messages:
        for token in ALL_TOKENS:
            assert token not in text
        assert NEAR not in text
