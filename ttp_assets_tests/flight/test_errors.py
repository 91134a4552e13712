"""Every bad request gets the right Flight error, with a message a person can act on."""

from __future__ import annotations

import json
import urllib.request

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from ttp_assets_tests.flight.conftest import ADMIN, KEYS, READER, Gateway, bearer

INVALID = pa.ArrowInvalid  # INVALID_ARGUMENT
NOT_FOUND = pa.ArrowKeyError  # NOT_FOUND


def _j(obj: object) -> bytes:
    return json.dumps(obj).encode()


BAD_TICKETS: list[tuple[str, bytes, type[Exception], str]] = [
    ("empty", b"", INVALID, "empty ticket"),
    ("not utf-8", b"\xff\xfe", INVALID, "not UTF-8"),
    ("not json nor plain", b"ttp_events 1 2", INVALID, "neither JSON nor <asset>:<first>:<last>"),
    ("bad json", b'{"asset": "ttp_events",', INVALID, "not valid JSON"),
    ("json list", b"[1, 2]", INVALID, "must be an object"),
    ("unknown key", _j({"asset": "ttp_events", "limit": 5}), INVALID, "unknown ticket key"),
    ("duplicate key", b'{"asset": "ledgers", "asset": "ttp_events"}', INVALID, "repeats"),
    ("no asset", _j({"ledgers": [1, 2]}), INVALID, 'needs "asset"'),
    ("asset not a string", _j({"asset": 5}), INVALID, "must be a string"),
    ("start after end", b"ttp_events:1410100:1410050", INVALID, "first ledger is after"),
    ("json start after end", _j({"asset": "ledgers", "ledgers": [9, 3]}), INVALID, "after"),
    ("ledgers wrong type", _j({"asset": "ledgers", "ledgers": "1-2"}), INVALID, "[first, last]"),
    ("ledgers bools", _j({"asset": "ledgers", "ledgers": [True, 5]}), INVALID, "two integers"),
    ("ledger too big", b"ledgers:1:99999999999", INVALID, "neither JSON"),
    (
        "ledger beyond uint32",
        _j({"asset": "ledgers", "ledgers": [1, 2**32]}),
        INVALID,
        "from 0 to 4294967295",
    ),
    (
        "both selectors",
        _j({"asset": "ledgers", "ledgers": [1, 2], "partitions": [KEYS[0]]}),
        INVALID,
        "not both",
    ),
    ("partitions empty", _j({"asset": "ledgers", "partitions": []}), INVALID, "non-empty list"),
    (
        "partition twice",
        _j({"asset": "ledgers", "partitions": [KEYS[0], KEYS[0]]}),
        INVALID,
        "twice",
    ),
    ("bad partition key", _j({"asset": "ledgers", "partitions": ["1-2"]}), INVALID, "10-digit"),
    ("unknown column", _j({"asset": "ledgers", "columns": ["nope"]}), INVALID, "no column(s)"),
    ("column twice", _j({"asset": "ledgers", "columns": ["fee_pool"] * 2}), INVALID, "twice"),
    ("columns not list", _j({"asset": "ledgers", "columns": "fee_pool"}), INVALID, "list"),
    (
        "unknown filter",
        _j({"asset": "ttp_events", "filters": {"amount_units": 1}}),
        INVALID,
        "cannot be filtered on 'amount_units'",
    ),
    (
        "bad event type",
        _j({"asset": "ttp_events", "filters": {"event_type": "swap"}}),
        INVALID,
        "is not one of",
    ),
    (
        "bad account",
        _j({"asset": "ttp_events", "filters": {"account": "alice"}}),
        INVALID,
        "not a Stellar address",
    ),
    (
        "account on ledgers",
        _j({"asset": "ledgers", "filters": {"account": "G" + "A" * 55}}),
        INVALID,
        "cannot be filtered",
    ),
    (
        "int filter given a string",
        _j({"asset": "ledgers", "filters": {"transaction_count": "3"}}),
        INVALID,
        "takes integers",
    ),
    (
        "negative uint",
        _j({"asset": "ledgers", "filters": {"transaction_count": -1}}),
        INVALID,
        "out of range",
    ),
    ("empty filters", _j({"asset": "ledgers", "filters": {}}), INVALID, "non-empty object"),
    (
        "empty filter list",
        _j({"asset": "ttp_events", "filters": {"asset": []}}),
        INVALID,
        "empty list",
    ),
    ("unknown asset", b"offers:1:2", NOT_FOUND, "unknown asset 'offers'"),
    (
        "unknown json asset",
        _j({"asset": "offers"}),
        NOT_FOUND,
        "served assets: account_hour_partials",
    ),
    (
        "range not materialized",
        b"ttp_events:1410000:1410100",
        NOT_FOUND,
        "ledgers 1410000-1410047 are not materialized",
    ),
    ("range beyond", b"ledgers:1410200:1410300", NOT_FOUND, "1410208-1410300"),
    (
        "partition not materialized",
        _j({"asset": "ledgers", "partitions": ["0001410208-0001410239"]}),
        NOT_FOUND,
        "0001410208-0001410239 are not materialized",
    ),
    # Attempts to reach outside the storage root: never a path, always refused.
    ("traversal asset", b"../raw_ledgers:1:2", INVALID, "neither JSON"),
    ("traversal json asset", _j({"asset": "../../etc/passwd"}), NOT_FOUND, "unknown asset"),
    ("nested asset", _j({"asset": "raw_ledgers/../ledgers"}), NOT_FOUND, "unknown asset"),
    ("absolute asset", _j({"asset": "/etc"}), NOT_FOUND, "unknown asset"),
    (
        "traversal partition",
        _j({"asset": "ledgers", "partitions": ["../../../etc/passwd"]}),
        INVALID,
        "invalid partition key",
    ),
    (
        "traversal partition that looks like a key",
        _j({"asset": "ledgers", "partitions": ["../0001410048-0001410079"]}),
        INVALID,
        "invalid partition key",
    ),
    (
        "staging file",
        _j({"asset": "ledgers", "partitions": ["_staging/x"]}),
        INVALID,
        "invalid partition key",
    ),
]


@pytest.mark.parametrize(
    ("raw", "error", "text"),
    [pytest.param(r, e, t, id=i) for i, r, e, t in BAD_TICKETS],
)
def test_bad_tickets_get_the_right_error(
    gateway: Gateway, raw: bytes, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as info:
        gateway.client.do_get(fl.Ticket(raw), bearer(READER)).read_all()
    message = str(info.value)
    assert text in message
    assert "Traceback" not in message and ".py" not in message  # nothing internal leaks


BAD_DESCRIPTORS: list[tuple[str, fl.FlightDescriptor, type[Exception], str]] = [
    ("unknown asset", fl.FlightDescriptor.for_path("nope"), NOT_FOUND, "unknown asset"),
    ("dotdot asset", fl.FlightDescriptor.for_path(".."), NOT_FOUND, "unknown asset"),
    (
        "traversal key",
        fl.FlightDescriptor.for_path("ledgers", "../../secrets"),
        INVALID,
        "invalid partition key",
    ),
    ("too long", fl.FlightDescriptor.for_path("ledgers", "1", "2", "3"), INVALID, "must be"),
    (
        "not numbers",
        fl.FlightDescriptor.for_path("ledgers", "a", "b"),
        INVALID,
        "are not numbers",
    ),
    (
        "not materialized",
        fl.FlightDescriptor.for_path("ledgers", "1", "100"),
        NOT_FOUND,
        "not materialized",
    ),
    ("bad command", fl.FlightDescriptor.for_command(b"{oops"), INVALID, "not valid JSON"),
]


@pytest.mark.parametrize(
    ("descriptor", "error", "text"),
    [pytest.param(d, e, t, id=i) for i, d, e, t in BAD_DESCRIPTORS],
)
def test_bad_descriptors_get_the_right_error(
    gateway: Gateway, descriptor: fl.FlightDescriptor, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text.replace("(", r"\(")):
        gateway.client.get_flight_info(descriptor, bearer(READER))
    with pytest.raises(error, match=text.replace("(", r"\(")):
        gateway.client.get_schema(descriptor, bearer(READER))


def test_bad_actions_and_writes(gateway: Gateway) -> None:
    c = gateway.client
    with pytest.raises(INVALID, match="unknown action 'drop_table'"):
        list(c.do_action(fl.Action("drop_table", b""), bearer(ADMIN)))
    with pytest.raises(NOT_FOUND, match="unknown asset"):
        list(c.do_action(fl.Action("list_partitions", b"../ledgers"), bearer(READER)))
    with pytest.raises(INVALID, match="needs an asset"):
        list(c.do_action(fl.Action("list_partitions", b""), bearer(READER)))
    with pytest.raises(INVALID, match="action body"):
        list(c.do_action(fl.Action("list_partitions", b'{"asset": 1}'), bearer(READER)))
    with pytest.raises(NOT_FOUND, match="unknown asset 'nope'"):
        list(c.list_flights(b"nope", options=bearer(READER)))
    schema = pa.schema([("a", pa.int64())])
    # A reader may not write; nobody can (the IO managers are the only writers).
    with pytest.raises(fl.FlightUnauthorizedError, match="read-only"):
        writer, _ = c.do_put(fl.FlightDescriptor.for_path("ledgers"), schema, bearer(READER))
        writer.close()
    with pytest.raises(pa.ArrowNotImplementedError, match="read-only"):
        writer, _ = c.do_put(fl.FlightDescriptor.for_path("ledgers"), schema, bearer(ADMIN))
        writer.write_table(pa.table({"a": [1]}))
        writer.close()


def test_errors_are_counted_by_code(gateway: Gateway) -> None:
    def errors(code: str) -> float:
        text = urllib.request.urlopen(gateway.metrics_url + "/metrics", timeout=10).read()
        line = f'flight_gateway_errors_total{{code="{code}",method="DoGet"}} '
        for row in text.decode().splitlines():
            if row.startswith(line):
                return float(row[len(line) :])
        return 0.0

    before = errors("NOT_FOUND"), errors("INVALID_ARGUMENT")
    for raw in (b"offers:1:2", b"ledgers:1:2", b"ledgers:2:1"):
        with pytest.raises((NOT_FOUND, INVALID)):
            gateway.client.do_get(fl.Ticket(raw), bearer(READER)).read_all()
    assert errors("NOT_FOUND") == before[0] + 2
    assert errors("INVALID_ARGUMENT") == before[1] + 1
