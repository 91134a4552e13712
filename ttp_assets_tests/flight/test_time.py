"""Time tickets and the analytics tables over Flight, against what the tables hold.

The store: the session store of the real testnet ledgers (five partitions of every table), copied,
with the analytics partials and rollups materialized over it by their real Dagster jobs. Every
ticket here is read by a real Flight client from a running gateway, and compared with the same
filter applied to the stored table read directly (``deltalake`` for Delta tables, ``pyarrow`` for
Parquet), written independently with ``pyarrow.compute`` over the whole table.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.flight as fl
import pytest
from deltalake import DeltaTable

from ttp_assets.core import schemas
from ttp_assets.core.storage.catalog import (
    ANALYTICS_PARTIAL_FORMATS,
    CORE_ANALYTICS_FORMATS,
    ROLLUP_TABLES,
    TABLE_FORMATS,
)
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.rollup_store import RollupStore
from ttp_assets.definitions import build_definitions
from ttp_assets.defs.jobs import ANALYTICS_PARTIALS_JOB, ANALYTICS_ROLLUPS_JOB
from ttp_assets.defs.partitions import register_ranges
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import TEST_WIDTH, TESTNET_FIRST, TESTNET_LAST, failure_messages

from .conftest import KEYS, READER, Gateway, bearer, settings_at, start_gateway, ticket

LEDGER_TABLES = sorted(TABLE_FORMATS)
CORE_ANALYTICS = sorted(CORE_ANALYTICS_FORMATS)  # token_metadata: no rows in these ledgers
PARTIALS = sorted(ANALYTICS_PARTIAL_FORMATS)
ROLLUPS = sorted(ROLLUP_TABLES)
UTC = dt.UTC
# Synthetic earlier days added to a copy of each rollup (the real ledgers span one day):
# the real rows shifted back by these many days, so that day partitions can be pruned.
SHIFTED_DAYS = (1, 3)


# -- the store ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analytics(store: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the session store with the analytics partials and rollups materialized."""
    path = tmp_path_factory.mktemp("flight-time") / "store"
    shutil.copytree(store.storage_uri, path)
    settings = settings_at(path)
    instance = dg.DagsterInstance.ephemeral()
    keys = register_ranges(instance, TESTNET_FIRST, TESTNET_LAST, TEST_WIDTH)
    defs = build_definitions(settings)
    partials = defs.resolve_job_def(ANALYTICS_PARTIALS_JOB).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        },
        raise_on_error=False,
    )
    assert partials.success, failure_messages(partials)
    rollups = defs.resolve_job_def(ANALYTICS_ROLLUPS_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert rollups.success, failure_messages(rollups)
    # Earlier days: the real rows shifted back whole days, written as the rollup job writes.
    location = open_location(settings.storage_uri)
    for table in ROLLUPS:
        rs = RollupStore(location, table)
        real = rs.read()
        assert real.num_rows > 0
        for days in SHIFTED_DAYS:
            rows = _shift(real, dt.timedelta(days=days))
            periods: dict[str, set[dt.datetime]] = {}
            for r in rows.select(["grain", "period_start"]).to_pylist():
                periods.setdefault(r["grain"], set()).add(r["period_start"])
            rs.replace_periods(rows, periods)
    return settings


def _shift(table: pa.Table, by: dt.timedelta) -> pa.Table:
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if name in ("period_start", "period_end"):
            col = pc.subtract(col, pa.scalar(by, pa.duration("s"))).cast(col.type)
        elif name == "day":
            col = pa.array(
                [
                    (dt.date.fromisoformat(d) - by).isoformat() if d is not None else None
                    for d in col.to_pylist()
                ],
                pa.string(),
            )
        cols[name] = col
    return pa.table(cols, schema=table.schema)


@pytest.fixture(scope="module")
def ledger_times(analytics: Settings) -> list[dt.datetime]:
    """The stored ledgers' close times, in ledger order."""
    t = direct(analytics, "ledgers").sort_by("ledger_sequence")
    return t.column("closed_at").to_pylist()


@pytest.fixture(scope="module")
def now(ledger_times: list[dt.datetime]) -> dt.datetime:
    """The gateway's pinned clock: 20 minutes after the last stored ledger closed."""
    return ledger_times[-1] + dt.timedelta(minutes=20)


@pytest.fixture(scope="module")
def gw(analytics: Settings, now: dt.datetime) -> Iterator[Gateway]:
    server = start_gateway(
        analytics.storage_uri, batch_rows=100, max_batch_bytes=64 * 1024, clock=lambda: now
    )
    client = fl.connect(server.location)
    try:
        yield Gateway(server, client)
    finally:
        client.close()
        server.stop()


# -- the reference: the stored tables, read directly -----------------------------------------


def direct(settings: Settings, table: str) -> pa.Table:
    """Every stored row of ``table``, read with deltalake / pyarrow (logical types)."""
    schema = schemas.schema_for(table)
    root = Path(settings.storage_uri) / table
    if table in TABLE_FORMATS and TABLE_FORMATS[table] == "parquet":
        data = ds.dataset(root, format="parquet", schema=schema).to_table()
    else:
        data = DeltaTable(str(root)).to_pyarrow_table()
    return pa.Table.from_arrays([data.column(f.name).cast(f.type) for f in schema], schema=schema)


def ts(t: dt.datetime) -> pa.Scalar:
    return pa.scalar(t, pa.timestamp("us", tz="UTC"))  # sub-second bounds stay exact


def reference(
    settings: Settings, table: str, start: dt.datetime | None, end: dt.datetime | None
) -> pa.Table:
    """The rows a time window selects, computed over the whole stored table."""
    t = direct(settings, table)
    names = t.column_names
    mask = pa.array([True] * t.num_rows, pa.bool_())
    if "period_start" in names:  # rollups: periods overlapping [start, end)
        if start is not None:
            mask = pc.and_(mask, pc.greater(t["period_end"], ts(start)))
        if end is not None:
            mask = pc.and_(mask, pc.less(t["period_start"], ts(end)))
    elif "closed_at" in names:  # rows of ledgers closed in [start, end)
        if start is not None:
            mask = pc.and_(mask, pc.greater_equal(t["closed_at"], ts(start)))
        if end is not None:
            mask = pc.and_(mask, pc.less(t["closed_at"], ts(end)))
    else:  # hourly partials: hours [h, h + 1h) overlapping [start, end)
        hour_end = pc.add(t["hour"], pa.scalar(dt.timedelta(hours=1), pa.duration("s")))
        if start is not None:
            mask = pc.and_(mask, pc.greater(hour_end, ts(start)))
        if end is not None:
            mask = pc.and_(mask, pc.less(t["hour"], ts(end)))
    return t.filter(mask)


def rows(t: pa.Table) -> list[tuple[str, ...]]:
    """The rows as a sorted multiset (a time ticket's order is storage order)."""
    return sorted(tuple(str(v) for v in r.values()) for r in t.to_pylist())


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read(gw: Gateway, **request: Any) -> pa.Table:
    return gw.read(ticket(**request))


# -- listing -----------------------------------------------------------------------------------


def test_the_gateway_lists_every_table_including_the_analytics(
    gw: Gateway, analytics: Settings
) -> None:
    infos = {
        i.descriptor.path[0].decode(): i for i in gw.client.list_flights(options=bearer(READER))
    }
    assert sorted(infos) == sorted(LEDGER_TABLES + CORE_ANALYTICS + PARTIALS + ROLLUPS)
    for table in CORE_ANALYTICS:
        assert infos[table].schema.equals(schemas.schema_for(table), check_metadata=True)
        assert rows(read(gw, asset=table)) == rows(direct(analytics, table))
    for table in PARTIALS + ROLLUPS:
        info = infos[table]
        assert info.schema.equals(schemas.schema_for(table), check_metadata=True), table
        stored = direct(analytics, table)
        assert info.total_records == stored.num_rows > 0, table
        meta = json.loads(info.app_metadata)
        assert meta["format"] == "delta" and meta["rows"] == stored.num_rows
        (endpoint,) = info.endpoints
        assert json.loads(endpoint.ticket.ticket) == {"asset": table}
        if table in PARTIALS:
            assert meta["partitions"] == 5
            assert meta["ledgers"] == [[TESTNET_FIRST, TESTNET_LAST]]
        else:
            days = sorted(set(stored.column("day").to_pylist()))
            assert meta["kind"] == "rollup" and meta["partitioned_by"] == "day"
            assert (meta["first_partition"], meta["last_partition"]) == (days[0], days[-1])
            assert meta["partitions"] == len(days) == 1 + len(SHIFTED_DAYS)
    # Whole tables stream exactly what is stored, in their logical schema.
    for table in PARTIALS + ROLLUPS:
        got = read(gw, asset=table)
        assert got.schema.equals(schemas.schema_for(table), check_metadata=True)
        assert rows(got) == rows(direct(analytics, table)), table
    # list_partitions names a rollup's days.
    (action,) = [
        json.loads(r.body.to_pybytes())
        for r in gw.client.do_action(
            fl.Action("list_partitions", b"asset_activity"), bearer(READER)
        )
    ][:1]
    assert len(action["key"]) == 10 and action["rows"] > 0


# -- time windows over every table -----------------------------------------------------------


def windows(times: list[dt.datetime]) -> list[tuple[dt.datetime | None, dt.datetime | None]]:
    """Windows cutting partitions mid-way (32 ledgers each), at exact close times (``to`` is
    excluded, ``from`` included), open on either side, and beside or beyond the data."""
    n = len(times)
    return [
        (times[10], times[75]),  # starts in the first partition, ends in the third
        (times[40], times[41]),  # one ledger's close time (or a few ledgers closing together)
        (None, times[50]),
        (times[130], None),
        (times[0] - dt.timedelta(hours=3), times[0]),  # before the first ledger's close
        (times[0] - dt.timedelta(hours=3), times[0] - dt.timedelta(hours=2)),  # nothing at all
        (times[0] - dt.timedelta(days=5), times[-1] + dt.timedelta(days=2)),  # everything
        (times[0] - dt.timedelta(days=10), times[0] - dt.timedelta(days=9)),  # no day at all
        (times[n // 2] + dt.timedelta(milliseconds=500), times[-1]),  # sub-second bound
    ]


@pytest.mark.parametrize("table", LEDGER_TABLES + CORE_ANALYTICS + PARTIALS + ROLLUPS)
def test_every_time_ticket_returns_exactly_the_rows_of_the_filter_over_the_table(
    gw: Gateway, analytics: Settings, ledger_times: list[dt.datetime], table: str
) -> None:
    total = direct(analytics, table).num_rows
    counts = []
    for start, end in windows(ledger_times):
        window = [
            start.isoformat().replace("+00:00", "Z") if start else None,
            iso(end) if end else None,
        ]
        got = read(gw, asset=table, closed_at=window)
        want = reference(analytics, table, start, end)
        assert got.schema.equals(schemas.schema_for(table), check_metadata=True)
        assert rows(got) == rows(want), (table, window)
        counts.append(want.num_rows)
    assert 0 in counts and total in counts, (table, counts)
    # The ledgers all closed in one hour: hourly tables are all or nothing.
    if total and "hour" not in schemas.schema_for(table).names:
        assert any(0 < n < total for n in counts), (table, counts)  # some window cut the table


def test_time_windows_combine_with_ledgers_filters_and_columns(
    gw: Gateway, analytics: Settings, ledger_times: list[dt.datetime]
) -> None:
    start, end = ledger_times[20], ledger_times[120]
    got = read(
        gw,
        asset="ttp_events",
        ledgers=[TESTNET_FIRST + 50, TESTNET_LAST],
        closed_at=[iso(start), iso(end)],
        columns=["ledger_sequence", "closed_at", "event_type", "asset", "amount_raw"],
        filters={"event_type": "transfer", "asset_key": "native"},
    )
    t = reference(analytics, "ttp_events", start, end)
    t = t.filter(
        pc.and_(
            pc.and_(
                pc.greater_equal(t["ledger_sequence"], TESTNET_FIRST + 50),
                pc.equal(t["event_type"], "transfer"),
            ),
            pc.equal(t["asset"], "native"),
        )
    ).select(["ledger_sequence", "closed_at", "event_type", "asset", "amount_raw"])
    assert t.num_rows > 0
    assert rows(got) == rows(t)
    # Streamed in ledger order (partition after partition).
    seqs = got.column("ledger_sequence").to_pylist()
    assert seqs == sorted(seqs)


def test_an_asset_filter_on_the_events_matches_the_aggregates(
    gw: Gateway, analytics: Settings
) -> None:
    """``asset_key`` names an asset the same way in ttp_events and in the aggregates."""
    activity = read(gw, asset="asset_activity", filters={"grain": "hour"})
    real_days = set(direct(analytics, "ledgers").column("closed_at").to_pylist())
    first = min(real_days)
    for key in sorted(set(activity.column("asset_key").to_pylist()))[:5]:
        hours = read(
            gw,
            asset="asset_activity",
            filters={"grain": "hour", "asset_key": key},
            closed_at=[iso(first - dt.timedelta(hours=1)), None],
        )
        events = read(gw, asset="ttp_events", filters={"asset_key": key, "event_type": "transfer"})
        assert set(hours.column("asset_key").to_pylist()) == {key}
        assert sum(hours.column("transfer_count").to_pylist()) == events.num_rows, key


# -- the daily aggregates ----------------------------------------------------------------------


def test_a_flight_client_reads_the_daily_aggregates_of_a_time_window(
    gw: Gateway, analytics: Settings, ledger_times: list[dt.datetime]
) -> None:
    last_day = ledger_times[-1].replace(hour=0, minute=0, second=0)
    # Two days back from the last ledger's day: the real day and the one shifted by a day
    # (the one shifted by three is outside), through GetFlightInfo then DoGet.
    request = {
        "asset": "asset_activity",
        "closed_at": [iso(last_day - dt.timedelta(days=1)), iso(last_day + dt.timedelta(days=1))],
        "filters": {"grain": "day", "asset_key": "native"},
        "columns": ["period_start", "day", "complete", "transfer_count", "transfer_volume_raw"],
    }
    info = gw.client.get_flight_info(
        fl.FlightDescriptor.for_command(json.dumps(request)), bearer(READER)
    )
    meta = json.loads(info.app_metadata)
    assert meta["closed_at"] == request["closed_at"]
    assert meta["partitions"] == [
        (last_day - dt.timedelta(days=1)).date().isoformat(),
        last_day.date().isoformat(),
    ]
    got = gw.client.do_get(info.endpoints[0].ticket, bearer(READER)).read_all()
    assert got.column("period_start").to_pylist() == [
        last_day - dt.timedelta(days=1),
        last_day,
    ]
    t = reference(analytics, "asset_activity", last_day - dt.timedelta(days=1), None)
    t = t.filter(pc.and_(pc.equal(t["grain"], "day"), pc.equal(t["asset_key"], "native")))
    assert rows(got) == rows(t.select(request["columns"]))
    assert got.column("transfer_count").to_pylist()[0] == got.column("transfer_count")[1].as_py()


# -- relative windows ------------------------------------------------------------------------


def test_relative_windows_are_read_from_the_gateways_clock(
    gw: Gateway, analytics: Settings, now: dt.datetime, ledger_times: list[dt.datetime]
) -> None:
    # now = last close + 20 min; the ledgers span a few minutes.
    span = ledger_times[-1] - ledger_times[0]
    minutes = int((span + dt.timedelta(minutes=20)).total_seconds() // 60) - 2
    cases = [
        (f"now-{minutes}m", "now", now - dt.timedelta(minutes=minutes), now),
        ("now-1h", None, now - dt.timedelta(hours=1), None),
        (None, "now-20m", None, now - dt.timedelta(minutes=20)),
        ("now-7d", "now+1d", now - dt.timedelta(days=7), now + dt.timedelta(days=1)),
        ("now-2w", "now-1d", now - dt.timedelta(weeks=2), now - dt.timedelta(days=1)),
    ]
    for table in ("ledgers", "ttp_events", "asset_hour_partials", "network_activity"):
        for a, b, start, end in cases:
            got = read(gw, asset=table, closed_at=[a, b])
            assert rows(got) == rows(reference(analytics, table, start, end)), (table, a, b)
    # GetFlightInfo resolves "now" once: its ticket holds the absolute window it described.
    desc = fl.FlightDescriptor.for_command(
        json.dumps({"asset": "ttp_events", "closed_at": ["now-1h", "now"]})
    )
    info = gw.client.get_flight_info(desc, bearer(READER))
    want = [iso(now - dt.timedelta(hours=1)), iso(now)]
    assert json.loads(info.app_metadata)["closed_at"] == want
    assert json.loads(info.endpoints[0].ticket.ticket)["closed_at"] == want


# -- bad tickets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"closed_at": ["2022-13-01T00:00:00Z", None]}, '"closed_at" from'),
        ({"closed_at": ["2022-03-01T12:00:00+02:00", None]}, "needs Z or +00:00"),
        ({"closed_at": ["2022-03-01T12:00:00", None]}, '"closed_at" from'),
        ({"closed_at": [None, "yesterday"]}, '"closed_at" to'),
        ({"closed_at": ["now-1y", None]}, '"closed_at" from'),
        ({"closed_at": [None, None]}, "at least one"),
        ({"closed_at": "now-1h"}, '"closed_at" must be [from, to]'),
        ({"closed_at": ["2022-03-02", "2022-03-01"]}, "is not before to"),
        ({"closed_at": ["2022-03-01T00:00:00Z", "2022-03-01"]}, "is not before to"),
        ({"closed_at": ["now", "now-1h"]}, "is not before to"),
        ({"closed_at": [7, None]}, '"closed_at" from must be a time string'),
    ],
)
def test_malformed_time_tickets_are_invalid_argument_naming_the_field(
    gw: Gateway, request_: dict[str, Any], message: str
) -> None:
    for asset in ("ttp_events", "asset_activity"):
        with pytest.raises(pa.ArrowInvalid) as err:
            read(gw, asset=asset, **request_)
        assert message in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"asset": "asset_activity", "filters": {"grain": "week"}},
            "filter 'grain': 'week' is not one of",
        ),
        ({"asset": "network_activity", "ledgers": [1, 2]}, "is a rollup"),
        ({"asset": "asset_activity", "partitions": ["0001410048-0001410079"]}, "is a rollup"),
        (
            {"asset": "asset_hour_partials", "filters": {"metric": "swap"}},
            "filter 'metric': 'swap' is not one of",
        ),
        (
            {"asset": "account_hour_partials", "ledgers": [TESTNET_FIRST + 5, TESTNET_LAST]},
            "has no ledger_sequence: a ledger range must cover whole partitions",
        ),
    ],
)
def test_bad_rollup_tickets_are_invalid_argument(
    gw: Gateway, request_: dict[str, Any], message: str
) -> None:
    with pytest.raises(pa.ArrowInvalid) as err:
        gw.read(ticket(**request_))
    assert message in str(err.value), str(err.value)
    with pytest.raises(pa.ArrowInvalid):
        gw.client.get_flight_info(
            fl.FlightDescriptor.for_path("asset_activity", "2022-03-01"), bearer(READER)
        )


def test_a_window_reads_only_the_partitions_and_days_it_can_match(
    gw: Gateway, ledger_times: list[dt.datetime]
) -> None:
    """The coverage records' close times prune ledger-range partitions (32 ledgers each) and
    the dates prune rollup days; the row filters cut the rest (the tests above)."""

    def partitions(asset: str, start: dt.datetime, end: dt.datetime) -> list[str]:
        request = {"asset": asset, "closed_at": [iso(start), iso(end)]}
        info = gw.client.get_flight_info(
            fl.FlightDescriptor.for_command(json.dumps(request)), bearer(READER)
        )
        assert info.total_records == -1  # filtered: not known without reading
        return json.loads(info.app_metadata)["partitions"]

    keys = list(KEYS)
    for asset in ("ledgers", "raw_ledgers", "ttp_events", "balance_changes", "ledger_activity"):
        # Ledgers 10..20 are in the first partition; 40..70 in the second and third.
        assert partitions(asset, ledger_times[10], ledger_times[20]) == keys[:1], asset
        assert partitions(asset, ledger_times[40], ledger_times[70]) == keys[1:3], asset
    # Hourly partials: every partition's ledgers closed in the same hour.
    hour = ledger_times[0].replace(minute=0, second=0)
    assert partitions("asset_hour_partials", hour, hour + dt.timedelta(minutes=1)) == keys
    assert partitions("asset_hour_partials", hour - dt.timedelta(hours=1), hour) == []
    day = hour.replace(hour=0)
    assert partitions("network_activity", day, day + dt.timedelta(hours=1)) == [
        day.date().isoformat()
    ]
    assert partitions("network_activity", day - dt.timedelta(days=3), day) == [
        (day - dt.timedelta(days=3)).date().isoformat(),
        (day - dt.timedelta(days=1)).date().isoformat(),
    ]


def test_hourly_partials_by_whole_partitions_of_ledgers(gw: Gateway, analytics: Settings) -> None:
    got = read(gw, asset="operation_hour_partials", ledgers=[TESTNET_FIRST + 32, TESTNET_LAST])
    want = read(gw, asset="operation_hour_partials", partitions=list(KEYS[1:]))
    assert got.num_rows > 0 and got.equals(want)
    whole = DeltaTable(str(Path(analytics.storage_uri) / "operation_hour_partials"))
    direct_rows = whole.to_pyarrow_table(filters=[("partition_key", "in", list(KEYS[1:]))])
    assert got.num_rows == direct_rows.num_rows


def test_a_rollup_read_sees_one_version_while_periods_are_replaced(
    analytics: Settings, ledger_times: list[dt.datetime], tmp_path: Path
) -> None:
    """A period replacement (the rollup job's one overwrite commit) during a stream: the stream
    delivers the version pinned when it started; the next request the new figures."""
    root = tmp_path / "store"
    shutil.copytree(analytics.storage_uri, root)
    store = RollupStore(open_location(str(root)), "asset_activity")
    day = ledger_times[0].replace(hour=0, minute=0, second=0)
    window = [iso(day), iso(day + dt.timedelta(days=1))]
    server = start_gateway(str(root), batch_rows=1)
    client = fl.connect(server.location)
    try:
        request = ticket(asset="asset_activity", closed_at=window)
        before = client.do_get(request, bearer(READER)).read_all()
        assert before.num_rows > 1
        stream = client.do_get(request, bearer(READER))
        first = stream.read_chunk()
        # Replace the day's periods with changed figures, as the rollup job does.
        real = store.read(ds.field("period_start") >= ts(day))
        changed = real.set_column(
            real.schema.get_field_index("transfer_count"),
            real.schema.field("transfer_count"),
            pc.add(real.column("transfer_count"), 1000),
        )
        periods: dict[str, set[dt.datetime]] = {}
        for r in real.select(["grain", "period_start"]).to_pylist():
            periods.setdefault(r["grain"], set()).add(r["period_start"])
        store.replace_periods(changed, periods)
        rest = pa.Table.from_batches([first.data, *(c.data for c in stream)], schema=stream.schema)
        assert rows(rest) == rows(before)
        after = client.do_get(request, bearer(READER)).read_all()
        assert rows(after) == rows(changed)
        assert rows(after) != rows(before)
    finally:
        client.close()
        server.stop()
