"""Only committed data is served: a partition re-materialized during a read, a growing partition."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.flight as fl
import pytest

from ttp_assets.core.storage.catalog import open_store
from ttp_assets.core.storage.delta_store import PartitionWrite
from ttp_assets.core.storage.location import open_location
from ttp_assets_tests.flight.conftest import (
    KEYS,
    READER,
    bearer,
    settings_at,
    start_gateway,
    stored,
    ticket,
)
from ttp_assets_tests.harness import TESTNET_FIRST, failure_messages, materialize


def _rest(reader: fl.FlightStreamReader, first: fl.FlightStreamChunk) -> pa.Table:
    chunks = [first.data, *(c.data for c in reader)]
    return pa.Table.from_batches(chunks, schema=reader.schema)


def test_a_partition_rematerialized_while_a_client_reads_it(tmp_path: Path) -> None:
    settings = settings_at(tmp_path / "store")
    instance = dg.DagsterInstance.ephemeral()
    last = TESTNET_FIRST + 63  # two partitions
    assert materialize(settings, TESTNET_FIRST, last, instance=instance).success
    location = open_location(settings.storage_uri)
    events_store, raw_store = (
        open_store(location, "ttp_events"),
        open_store(location, "raw_ledgers"),
    )
    before = {a: stored(settings, a) for a in ("ttp_events", "raw_ledgers")}
    key = KEYS[1]
    # One row per message, so that both streams are far from done when the partition changes.
    server = start_gateway(settings.storage_uri, batch_rows=1)
    client = fl.connect(server.location)
    opt = bearer(READER)
    try:
        version = json.loads(
            next(iter(client.list_flights(b"ttp_events", options=opt))).app_metadata
        )["delta_version"]
        # Delta: a stream over both partitions; Parquet: a stream of the partition itself.
        events = client.do_get(ticket(asset="ttp_events"), opt)
        raw = client.do_get(ticket(asset="raw_ledgers", partitions=[key]), opt)
        first_event, first_raw = events.read_chunk(), raw.read_chunk()

        # 1. The real IO managers re-materialize the partition (a full rebuild: new files, a new
        #    Delta commit), while both streams are open.
        again = materialize(settings, TESTNET_FIRST, last, keys=[key], instance=instance)
        assert again.success, failure_messages(again)
        # 2. Then the same stores commit a visibly different version of it: half its rows.
        half_events = stored(settings, "ttp_events", [key]).slice(0, 50)
        events_meta = {
            k: v
            for k, v in events_store.file_metadata(key).items()
            if k not in ("ttp.delta_version", "ttp.rows")
        }
        events_store.write(  # type: ignore[attr-defined]
            [PartitionWrite(key, lambda: half_events.to_batches(), events_meta)]
        )
        half_raw = stored(settings, "raw_ledgers", [key]).slice(0, 10)
        raw_store.write(key, half_raw.to_batches(), raw_store.file_metadata(key))  # type: ignore[attr-defined]

        # Both streams still deliver exactly the version committed when they started.
        assert _rest(events, first_event).equals(before["ttp_events"])
        assert _rest(raw, first_raw).equals(stored_slice(before["raw_ledgers"], key))

        # New requests see the latest committed version, and discovery says so.
        now = client.do_get(ticket(asset="ttp_events", partitions=[key]), opt).read_all()
        assert now.equals(half_events)
        assert (
            client.do_get(fl.Ticket(b"raw_ledgers:1410080:1410111"), opt)
            .read_all()
            .equals(half_raw)
        )
        listed = json.loads(
            next(iter(client.list_flights(b"ttp_events", options=opt))).app_metadata
        )
        assert listed["delta_version"] > version
        assert listed["rows"] == before["ttp_events"].num_rows - (
            stored_slice(before["ttp_events"], key).num_rows - 50
        )

        # 3. The IO managers restore it; the gateway serves the restored partition.
        restored = materialize(settings, TESTNET_FIRST, last, keys=[key], instance=instance)
        assert restored.success, failure_messages(restored)
        assert (
            client.do_get(ticket(asset="ttp_events"), opt).read_all().equals(before["ttp_events"])
        )
        assert (
            client.do_get(ticket(asset="raw_ledgers"), opt).read_all().equals(before["raw_ledgers"])
        )
    finally:
        client.close()
        server.stop()


def stored_slice(table: pa.Table, key: str) -> pa.Table:
    first, last = (int(x) for x in key.split("-"))
    seq = table.column("ledger_sequence").to_pylist()
    rows = [i for i, s in enumerate(seq) if first <= s <= last]
    return table.slice(rows[0], len(rows))


def test_an_open_partition_is_served_as_far_as_it_is_committed(tmp_path: Path) -> None:
    settings = settings_at(tmp_path / "store")
    instance = dg.DagsterInstance.ephemeral()
    key, through = KEYS[0], TESTNET_FIRST + 12
    first = materialize(settings, TESTNET_FIRST, through, through=through, instance=instance)
    assert first.success, failure_messages(first)
    server = start_gateway(settings.storage_uri, batch_rows=7)
    client = fl.connect(server.location)
    opt = bearer(READER)
    try:
        (part,) = (
            json.loads(r.body.to_pybytes())
            for r in client.do_action(fl.Action("list_partitions", b"ttp_events"), opt)
        )
        assert part["key"] == key and part["complete"] is False
        assert part["last_ledger"] == through
        ok = client.do_get(fl.Ticket(f"ttp_events:{TESTNET_FIRST}:{through}".encode()), opt)
        assert ok.read_all().equals(stored(settings, "ttp_events"))
        with pytest.raises(pa.ArrowKeyError, match=f"ledgers {through + 1}-{through + 5} are not"):
            client.do_get(
                fl.Ticket(f"ttp_events:{TESTNET_FIRST}:{through + 5}".encode()), opt
            ).read_all()
        # The partition grows (an incremental run appends the new ledgers as a new segment or
        # Delta file), then completes (one compacted file); the gateway serves it whole, in
        # ledger order, equal to what the store holds, each time.
        raw_store = open_store(open_location(settings.storage_uri), "raw_ledgers")
        for grown_to, files in ((TESTNET_FIRST + 20, 2), (TESTNET_FIRST + 31, 1)):
            grown = materialize(
                settings, TESTNET_FIRST, grown_to, through=grown_to, instance=instance
            )
            assert grown.success, failure_messages(grown)
            assert len(raw_store.files(key)) == files  # type: ignore[attr-defined]
            for asset in ("ttp_events", "balance_changes", "transactions", "raw_ledgers"):
                served = client.do_get(ticket(asset=asset), opt).read_all()
                assert served.equals(stored(settings, asset)), asset
                seq = served.column("ledger_sequence").to_pylist()
                assert seq == sorted(seq) and seq[-1] == grown_to
        ranged = client.do_get(
            fl.Ticket(f"ttp_events:{through - 2}:{through + 3}".encode()), opt
        ).read_all()
        assert set(ranged.column("ledger_sequence").to_pylist()) <= set(
            range(through - 2, through + 4)
        )
        assert ranged.num_rows > 0
    finally:
        client.close()
        server.stop()
