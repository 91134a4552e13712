"""Discovery and reads: what real Flight clients receive equals what the assets hold."""

from __future__ import annotations

import json

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as fl
import pytest

from flight_gateway.catalog import SERVED_FORMATS
from ttp_assets.core import schemas
from ttp_assets.core.storage.catalog import TABLE_FORMATS
from ttp_assets.settings import Settings
from ttp_assets_tests.flight.conftest import (
    ADMIN,
    KEYS,
    READER,
    Gateway,
    bearer,
    stored,
    ticket,
)
from ttp_assets_tests.harness import TESTNET_FIRST, TESTNET_LAST

ASSETS = sorted(TABLE_FORMATS)


def test_list_flights_describes_every_asset_and_what_is_materialized(
    gateway: Gateway, store: Settings
) -> None:
    infos = {
        i.descriptor.path[0].decode(): i
        for i in gateway.client.list_flights(options=bearer(READER))
    }
    # The analytics tables are listed too (empty here: this store has none; test_time.py).
    assert sorted(infos) == sorted(SERVED_FORMATS)
    for asset in sorted(set(SERVED_FORMATS) - set(ASSETS)):
        assert infos[asset].total_records == 0 and not infos[asset].endpoints, asset
        assert json.loads(infos[asset].app_metadata)["partitions"] == 0
    for asset, info in infos.items():
        if asset not in ASSETS:
            continue
        reference = stored(store, asset)
        assert info.schema.equals(schemas.TABLES[asset], check_metadata=True), asset
        assert info.total_records == reference.num_rows > 0
        meta = json.loads(info.app_metadata)
        assert meta["format"] == TABLE_FORMATS[asset]
        assert meta["partitions"] == meta["complete_partitions"] == 5
        assert (meta["first_partition"], meta["last_partition"]) == (KEYS[0], KEYS[-1])
        assert meta["ledgers"] == [[TESTNET_FIRST, TESTNET_LAST]]
        assert meta["rows"] == reference.num_rows and meta["stored_bytes"] > 0
        (endpoint,) = info.endpoints
        assert json.loads(endpoint.ticket.ticket) == {"asset": asset}
    assert infos["ttp_events"].total_records == 890  # the processor's events on these ledgers
    # Criteria narrow the listing to one asset.
    (only,) = gateway.client.list_flights(b"ttp_events", options=bearer(READER))
    assert only.descriptor.path == [b"ttp_events"]


@pytest.mark.parametrize("asset", ASSETS)
def test_a_whole_asset_streams_exactly_what_it_holds(
    gateway: Gateway, store: Settings, asset: str
) -> None:
    reader = gateway.client.do_get(ticket(asset=asset), bearer(READER))
    chunks = list(reader)
    table = pa.Table.from_batches([c.data for c in chunks], schema=reader.schema)
    reference = stored(store, asset)
    assert table.schema.equals(schemas.TABLES[asset], check_metadata=True)
    assert table.equals(reference)
    # Bounded batches: at most batch_rows rows and max_batch_bytes (or one oversize row).
    assert len(chunks) > 1
    for c in chunks:
        assert c.data.num_rows <= 100
        assert c.data.nbytes <= 64 * 1024 or c.data.num_rows == 1


@pytest.mark.parametrize("asset", ["ttp_events", "transactions", "raw_ledgers"])
def test_a_ledger_range_is_its_partitions_cut_to_the_range(
    gateway: Gateway, store: Settings, asset: str
) -> None:
    first, last = 1410070, 1410150  # from inside the first partition to inside the fourth
    plain = gateway.read(fl.Ticket(f"{asset}:{first}:{last}".encode()))
    reference = stored(store, asset)
    seq = reference.column("ledger_sequence")
    expected = reference.filter(pc.and_(pc.greater_equal(seq, first), pc.less_equal(seq, last)))
    assert plain.equals(expected)
    if asset == "raw_ledgers":  # one row per ledger: exactly the range
        assert plain.column("ledger_sequence").to_pylist() == list(range(first, last + 1))
    as_json = gateway.read(ticket(asset=asset, ledgers=[first, last]))
    assert as_json.equals(expected)
    # One ledger, and a range that is exactly two whole partitions.
    one = gateway.read(fl.Ticket(f"{asset}:1410100:1410100".encode()))
    assert set(one.column("ledger_sequence").to_pylist()) <= {1410100}
    whole = gateway.read(fl.Ticket(f"{asset}:1410080:1410143".encode()))
    assert whole.equals(stored(store, asset, KEYS[1:3]))


def test_a_set_of_partitions(gateway: Gateway, store: Settings) -> None:
    got = gateway.read(ticket(asset="operations", partitions=[KEYS[3], KEYS[0]]))
    assert got.equals(stored(store, "operations", [KEYS[0], KEYS[3]]))


EVENT = "ttp_events"


def _events(store: Settings) -> pa.Table:
    return stored(store, EVENT)


def _busiest_account(events: pa.Table) -> str:
    counts: dict[str, int] = {}
    for col in ("from", "to"):
        for v in events.column(col).to_pylist():
            if v:
                counts[v] = counts.get(v, 0) + 1
    froms = set(events.column("from").to_pylist())
    tos = set(events.column("to").to_pylist())
    both = [a for a in counts if a in froms and a in tos]
    return max(both, key=lambda a: counts[a])


def test_token_event_filters_and_projection_are_exact(gateway: Gateway, store: Settings) -> None:
    events = _events(store)
    account = _busiest_account(events)
    credit = next(a for a in events.column("asset").to_pylist() if a and a != "native")
    is_account = pc.or_kleene(
        pc.equal(events.column("from"), account), pc.equal(events.column("to"), account)
    )
    cases: list[tuple[dict, pa.Array]] = [
        ({"event_type": "fee"}, pc.equal(events.column("event_type"), "fee")),
        (
            {"event_type": ["transfer", "mint"]},
            pc.is_in(events.column("event_type"), pa.array(["transfer", "mint"])),
        ),
        ({"asset": "native"}, pc.equal(events.column("asset"), "native")),
        ({"asset": [credit]}, pc.equal(events.column("asset"), credit)),
        ({"account": account}, is_account),
        (
            {"account": account, "event_type": "transfer", "asset": "native"},
            pc.and_kleene(
                is_account,
                pc.and_kleene(
                    pc.equal(events.column("event_type"), "transfer"),
                    pc.equal(events.column("asset"), "native"),
                ),
            ),
        ),
    ]
    columns = ["ledger_sequence", "amount_raw", "to", "event_id"]  # filter columns not projected
    for filters, mask in cases:
        expected = events.filter(pc.fill_null(mask, False))
        assert expected.num_rows > 0, filters
        assert expected.num_rows < events.num_rows, filters
        full = gateway.read(ticket(asset=EVENT, filters=filters))
        assert full.equals(expected), filters
        projected = gateway.read(ticket(asset=EVENT, columns=columns, filters=filters))
        assert projected.schema.names == columns
        assert projected.equals(expected.select(columns)), filters
        # With a ledger range too (a partial first and last partition).
        ranged = gateway.read(
            ticket(asset=EVENT, ledgers=[1410060, 1410190], columns=columns, filters=filters)
        )
        seq = expected.column("ledger_sequence")
        in_range = expected.filter(
            pc.and_(pc.greater_equal(seq, 1410060), pc.less_equal(seq, 1410190))
        )
        assert ranged.equals(in_range.select(columns)), filters
    # A filter that matches nothing is an empty stream with the right schema, not an error.
    nobody = "G" + "A" * 55
    none = gateway.read(ticket(asset=EVENT, columns=columns, filters={"account": nobody}))
    assert none.num_rows == 0 and none.schema.names == columns


def test_filters_on_other_assets(gateway: Gateway, store: Settings) -> None:
    ops = stored(store, "operations")
    got = gateway.read(ticket(asset="operations", filters={"type": "payment"}))
    assert got.equals(ops.filter(pc.equal(ops.column("type"), "payment")))
    assert got.num_rows == 278
    txs = stored(store, "transactions")
    failed = gateway.read(ticket(asset="transactions", filters={"successful": False}))
    assert failed.equals(txs.filter(pc.invert(txs.column("successful"))))
    assert failed.num_rows == 608 - 346
    changes = stored(store, "balance_changes")
    holder = changes.column("holder")[0].as_py()
    mine = gateway.read(ticket(asset="balance_changes", filters={"account": holder}))
    assert mine.equals(changes.filter(pc.equal(changes.column("holder"), holder)))
    ledgers = gateway.read(ticket(asset="ledgers", filters={"transaction_count": [0, 1, 2]}))
    assert set(ledgers.column("transaction_count").to_pylist()) <= {0, 1, 2}


def test_flight_info_and_schema_for_an_asset_a_partition_and_a_range(
    gateway: Gateway, store: Settings
) -> None:
    c, opt = gateway.client, bearer(READER)
    whole = c.get_flight_info(fl.FlightDescriptor.for_path("ledgers"), opt)
    assert whole.total_records == 160 and whole.schema.equals(schemas.LEDGERS)
    part = c.get_flight_info(fl.FlightDescriptor.for_path("ttp_events", KEYS[2]), opt)
    assert part.total_records == stored(store, EVENT, [KEYS[2]]).num_rows
    assert json.loads(part.endpoints[0].ticket.ticket) == {
        "asset": "ttp_events",
        "partitions": [KEYS[2]],
    }
    meta = json.loads(part.app_metadata)
    assert meta["partitions"] == [KEYS[2]] and meta["delta_version"] >= 0
    # Whole partitions by range: exact rows; a partial range: unknown (-1) until read.
    exact = c.get_flight_info(fl.FlightDescriptor.for_path("ledgers", "1410080", "1410143"), opt)
    assert exact.total_records == 64
    partial = c.get_flight_info(fl.FlightDescriptor.for_command(b"ledgers:1410080:1410100"), opt)
    assert partial.total_records == -1
    assert c.do_get(partial.endpoints[0].ticket, opt).read_all().num_rows == 21
    # A command descriptor with a projection: GetSchema and GetFlightInfo give that schema.
    cmd = fl.FlightDescriptor.for_command(
        json.dumps({"asset": EVENT, "columns": ["to", "amount"], "filters": {"asset": "native"}})
    )
    schema = c.get_schema(cmd, opt).schema
    assert schema.names == ["to", "amount"]
    assert schema.field("amount").type == pa.decimal128(38, 0)
    assert schema.field("to").metadata == schemas.TTP_EVENTS.field("to").metadata
    info = c.get_flight_info(cmd, opt)
    assert info.schema.equals(schema) and info.total_records == -1
    assert c.get_schema(fl.FlightDescriptor.for_path("raw_ledgers"), opt).schema.equals(
        schemas.RAW_LEDGERS
    )


def test_list_partitions_action(gateway: Gateway, store: Settings) -> None:
    results = gateway.client.do_action(fl.Action("list_partitions", b"ttp_events"), bearer(READER))
    parts = [json.loads(r.body.to_pybytes()) for r in results]
    assert [p["key"] for p in parts] == KEYS
    assert sum(p["rows"] for p in parts) == 890
    assert all(p["complete"] for p in parts)
    assert parts[0]["first_ledger"] == TESTNET_FIRST and parts[-1]["last_ledger"] == TESTNET_LAST
    same = gateway.client.do_action(
        fl.Action("list_partitions", b'{"asset": "ttp_events"}'), bearer(ADMIN)
    )
    assert [json.loads(r.body.to_pybytes()) for r in same] == parts
    actions = {a.type for a in gateway.client.list_actions(bearer(READER))}
    assert actions == {"list_partitions", "health", "refresh", "stats", "serving_status"}
    (health,) = gateway.client.do_action(fl.Action("health", b""), bearer(READER))
    assert json.loads(health.body.to_pybytes())["status"] == "ok"


def test_polars_reads_the_stream(gateway: Gateway, store: Settings) -> None:
    reader = gateway.client.do_get(
        ticket(asset=EVENT, columns=["ledger_sequence", "event_type", "amount", "to_muxed_id"]),
        bearer(READER),
    )
    frame = pl.from_arrow(reader.read_all())
    assert isinstance(frame, pl.DataFrame)
    events = _events(store)
    assert frame.height == events.num_rows == 890
    by_type = dict(frame.group_by("event_type").len().iter_rows())
    expected = dict(zip(*pc.value_counts(events.column("event_type")).flatten(), strict=True))
    assert {k: v for k, v in by_type.items()} == {k.as_py(): v.as_py() for k, v in expected.items()}
    assert frame["ledger_sequence"].dtype == pl.UInt32
    assert frame["amount"].dtype == pl.Decimal(38, 0)
    assert frame.filter(pl.col("event_type") == "fee").height == by_type["fee"]
