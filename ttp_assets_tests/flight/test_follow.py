"""Live follow with a real Flight client: a stream that stays open receives exactly the rows of
the ledgers committed while it is open (an open partition growing, the next one starting), in
order; a client that reconnects from its last resume point gets the rest, nothing twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as fl
import pytest

from ttp_assets.settings import Settings
from ttp_assets_tests.harness import TESTNET_FIRST, failure_messages, materialize

from .conftest import READER, bearer, settings_at, start_gateway, stored, ticket

STEPS = (TESTNET_FIRST + 9, TESTNET_FIRST + 20, TESTNET_FIRST + 40)  # the third opens KEYS[1]


class Follower:
    """One follow stream: what it received, and its resume point."""

    def __init__(self, client: fl.FlightClient, **request: object):
        self.reader = client.do_get(
            ticket(asset="ttp_events", follow=True, **request), bearer(READER)
        )
        self.batches: list[pa.RecordBatch] = []
        self.through: int | None = None

    def read_through(self, ledger: int, max_batches: int | None = None) -> None:
        """Read until every row of ledgers up to ``ledger`` has arrived (or ``max_batches``)."""
        n = 0
        while self.through is None or self.through < ledger:
            if max_batches is not None and n == max_batches:
                return
            chunk = self.reader.read_chunk()
            self.batches.append(chunk.data)
            self.through = json.loads(chunk.app_metadata.to_pybytes())["through"]
            n += 1

    def rows(self, upto: int | None = None) -> pa.Table:
        t = pa.Table.from_batches(self.batches, schema=self.reader.schema)
        if upto is not None:
            t = t.filter(pc.less_equal(t.column("ledger_sequence"), upto))
        return t

    def close(self) -> None:
        self.reader.cancel()


def upto(table: pa.Table, ledger: int) -> pa.Table:
    return table.filter(pc.less_equal(table.column("ledger_sequence"), ledger))


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Settings, dg.DagsterInstance, fl.FlightClient]]:
    settings = settings_at(tmp_path / "store")
    instance = dg.DagsterInstance.ephemeral()
    first = materialize(settings, TESTNET_FIRST, STEPS[0], through=STEPS[0], instance=instance)
    assert first.success, failure_messages(first)
    server = start_gateway(settings.storage_uri, batch_rows=50)
    client = fl.connect(server.location)
    try:
        yield settings, instance, client
    finally:
        client.close()
        server.stop()


def grow(settings: Settings, instance: dg.DagsterInstance, through: int) -> None:
    result = materialize(settings, TESTNET_FIRST, through, through=through, instance=instance)
    assert result.success, failure_messages(result)


def test_a_follow_stream_receives_each_committed_ledger_once_in_order(live) -> None:  # type: ignore[no-untyped-def]
    settings, instance, client = live
    whole = Follower(client, from_ledger=TESTNET_FIRST)  # from the start: history, then live
    new_only = Follower(client)  # default: the ledgers after what is stored now
    try:
        whole.read_through(STEPS[0])
        assert whole.rows().equals(stored(settings, "ttp_events"))
        for through in STEPS[1:]:
            grow(settings, instance, through)  # the open partition grows, then the next opens
            whole.read_through(through)
            new_only.read_through(through)
        everything = stored(settings, "ttp_events")
        assert upto(everything, STEPS[-1]).num_rows == everything.num_rows
        assert whole.rows().equals(everything)
        after = everything.filter(pc.greater(everything.column("ledger_sequence"), STEPS[0]))
        assert new_only.rows().equals(after)
        seq = whole.rows().column("ledger_sequence").to_pylist()
        assert seq == sorted(seq)
    finally:
        whole.close()
        new_only.close()


def test_a_reconnect_from_the_resume_point_loses_and_repeats_nothing(live) -> None:  # type: ignore[no-untyped-def]
    settings, instance, client = live
    grow(settings, instance, STEPS[1])
    first = Follower(client, from_ledger=TESTNET_FIRST, batch_rows=7)
    first.read_through(STEPS[1], max_batches=4)  # then the connection drops
    first.close()
    assert first.through is not None and first.through < STEPS[1]
    kept = first.rows(upto=first.through)  # rows of ledgers past the resume point are dropped
    grow(settings, instance, STEPS[2])
    second = Follower(client, from_ledger=first.through + 1)
    try:
        second.read_through(STEPS[2])
        resumed = pa.concat_tables([kept, second.rows()])
        assert resumed.equals(stored(settings, "ttp_events"))
    finally:
        second.close()


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"asset": "asset_activity", "follow": True}, "cannot be followed"),
        ({"asset": "ttp_events", "from_ledger": 5}, 'give "follow"'),
        ({"asset": "ttp_events", "follow": True, "ledgers": [1, 2]}, 'not "ledgers"'),
        (
            {"asset": "ttp_events", "follow": True, "columns": ["amount_raw"]},
            "must include ledger_sequence",
        ),
        ({"asset": "ttp_events", "follow": "yes"}, '"follow" must be true or false'),
    ],
)
def test_bad_follow_tickets_are_invalid_argument(
    live,
    request_: dict[str, object],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    _, _, client = live
    with pytest.raises(pa.ArrowInvalid, match=message):
        client.do_get(fl.Ticket(json.dumps(request_).encode()), bearer(READER)).read_all()
