"""Pieces of the gateway on their own: ticket parsing, range arithmetic, batch slicing."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from flight_gateway.catalog import merge_ranges, missing_ranges
from flight_gateway.errors import InvalidArgument, NotFound
from flight_gateway.reader import bounded
from flight_gateway.tickets import Request, filter_expression, parse_descriptor, parse_ticket
from ttp_assets.core import schemas

S = schemas.TABLES


def test_plain_and_json_tickets_are_the_same_request() -> None:
    plain = parse_ticket(b"ttp_events:1410048:1410099", S)
    assert plain == Request("ttp_events", ledgers=(1410048, 1410099))
    same = parse_ticket(b'{"asset": "ttp_events", "ledgers": [1410048, 1410099]}', S)
    assert same == plain
    # The canonical ticket round-trips, filters and all (values sorted by filter name).
    full = parse_ticket(
        json.dumps(
            {
                "asset": "ttp_events",
                "partitions": ["0001410080-0001410111", "0001410048-0001410079"],
                "columns": ["to", "amount"],
                "filters": {"event_type": ["transfer", "mint"], "asset": "native"},
            }
        ).encode(),
        S,
    )
    assert full.partitions == ("0001410048-0001410079", "0001410080-0001410111")
    assert parse_ticket(full.ticket().ticket, S) == full
    assert full.describe() == "ttp_events 2 partition(s)"
    expr = filter_expression("ttp_events", full)
    assert expr is not None and "event_type" in str(expr) and "asset" in str(expr)
    account = parse_ticket(
        json.dumps({"asset": "ttp_events", "filters": {"account": "G" + "A" * 55}}).encode(), S
    )
    assert str(filter_expression("ttp_events", account)).count("GAAAA") == 2  # from or to


def test_descriptors() -> None:
    p = fl.FlightDescriptor.for_path
    assert parse_descriptor(p("ledgers"), S) == Request("ledgers")
    assert parse_descriptor(p("ledgers", "0001410048-0001410079"), S).partitions == (
        "0001410048-0001410079",
    )
    assert parse_descriptor(p("ledgers", "5", "9"), S).ledgers == (5, 9)
    cmd = fl.FlightDescriptor.for_command(b"ledgers:5:9")
    assert parse_descriptor(cmd, S) == Request("ledgers", ledgers=(5, 9))
    with pytest.raises(NotFound):
        parse_descriptor(p("../ledgers"), S)
    with pytest.raises(InvalidArgument):
        parse_descriptor(p("ledgers", "5", "x"), S)


def test_ranges() -> None:
    assert merge_ranges([(5, 9), (1, 3), (4, 4), (20, 30), (25, 26)]) == [(1, 9), (20, 30)]
    assert missing_ranges((1, 40), [(1, 9), (20, 30)]) == [(10, 19), (31, 40)]
    assert missing_ranges((21, 29), [(20, 30)]) == []
    assert missing_ranges((5, 6), []) == [(5, 6)]


def test_bounded_batches_with_skewed_rows() -> None:
    schema = pa.schema([pa.field("n", pa.int64(), nullable=False), ("blob", pa.binary())])
    sizes = [100] * 500 + [3_000_000] + [100] * 500 + [40_000] * 100
    batch = pa.record_batch(
        [pa.array(range(len(sizes))), pa.array([b"x" * s for s in sizes])],
        schema=pa.schema([("n", pa.int64()), ("blob", pa.binary())]),  # nullable: re-typed
    )
    cap = 1_000_000
    pieces = list(bounded(batch, schema, cap))
    assert sum(p.num_rows for p, _ in pieces) == batch.num_rows
    assert pa.Table.from_batches([p for p, _ in pieces]).column("n").to_pylist() == list(
        range(len(sizes))
    )
    for piece, size in pieces:
        assert piece.schema == schema and size == piece.nbytes
        assert size <= cap or piece.num_rows == 1  # the 3 MB row goes alone
    assert any(p.num_rows == 1 and s > cap for p, s in pieces)


# -- time windows (flight_gateway.time_ranges) ----------------------------------------------


def test_time_bounds_absolute_and_relative() -> None:
    import datetime as dt

    from flight_gateway.time_ranges import parse_spec

    now = dt.datetime(2026, 11, 30, 12, 30, 15, tzinfo=dt.UTC)
    utc = dt.UTC
    cases = {
        ("2024-09-02", None): (dt.datetime(2024, 9, 2, tzinfo=utc), None),
        ("2024-09-02T13:45Z", "2024-09-02T13:45:00.25+00:00"): (
            dt.datetime(2024, 9, 2, 13, 45, tzinfo=utc),
            dt.datetime(2024, 9, 2, 13, 45, 0, 250000, tzinfo=utc),
        ),
        ("now-1h", "now"): (now - dt.timedelta(hours=1), now),
        ("now-7d", "now+30s"): (now - dt.timedelta(days=7), now + dt.timedelta(seconds=30)),
        (None, "now-2w"): (None, now - dt.timedelta(weeks=2)),
        ("now-90m", None): (now - dt.timedelta(minutes=90), None),
    }
    for given, (start, end) in cases.items():
        window = parse_spec(list(given)).resolve(now)
        assert (window.start, window.end) == (start, end), given
        # The resolved window as a ticket value: absolute, and the same window again.
        again = parse_spec(window.to_json()).resolve(now + dt.timedelta(days=1))
        assert again == window
    for bad in (
        ["2024-09-02T13:45:00", None],  # no zone
        ["2024-09-02T13:45:00+01:00", None],  # not UTC
        ["2024-9-2", None],
        ["now-1", None],
        ["now-1y", None],
        ["yesterday", None],
        [None, None],
        ["2024-09-03", "2024-09-02"],
        ["2024-09-02", "2024-09-02T00:00:00Z"],  # empty: [t, t)
        "now-1h",
        ["now-1h"],
        [1, 2],
    ):
        with pytest.raises(InvalidArgument, match='"closed_at"'):
            parse_spec(bad).resolve(now)


def test_time_windows_prune_partitions_and_days_only_when_nothing_can_match() -> None:
    import datetime as dt

    from flight_gateway.time_ranges import Window, day_may_match, ledgers_may_match

    utc = dt.UTC
    t = dt.datetime(2024, 9, 2, 10, 30, tzinfo=utc)
    w = Window(t, t + dt.timedelta(minutes=10))  # 10:30 to 10:40
    secs = int(t.timestamp())
    # A partition whose ledgers closed 10:00-10:29:59: no row of ledgers, but its hour (10:00)
    # overlaps the window, so its hourly partials do.
    assert not ledgers_may_match("closed_at", w, secs - 1800, secs - 1)
    assert ledgers_may_match("hour", w, secs - 1800, secs - 1)
    assert ledgers_may_match("closed_at", w, secs - 1800, secs)  # from is included
    assert not ledgers_may_match("closed_at", w, secs + 600, secs + 900)  # to is excluded
    assert not ledgers_may_match("hour", w, secs + 1800, secs + 2000)  # 11:00 on
    assert ledgers_may_match("closed_at", w, None, None)  # unknown: scanned with the filter
    assert day_may_match(w, "2024-09-02")
    assert not day_may_match(w, "2024-09-01") and not day_may_match(w, "2024-09-03")
    assert day_may_match(Window(None, dt.datetime(2024, 9, 2, tzinfo=utc)), "2024-09-01")
    assert not day_may_match(Window(None, dt.datetime(2024, 9, 2, tzinfo=utc)), "2024-09-02")
