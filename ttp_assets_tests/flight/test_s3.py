"""The gateway over storage on S3 (a real S3 HTTP server on loopback, written by the assets)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as fl

from ttp_assets.core.storage.catalog import TABLE_FORMATS
from ttp_assets.settings import Settings
from ttp_assets_tests.flight.conftest import KEYS, READER, bearer, start_gateway, stored, ticket
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    failure_messages,
    materialize,
)
from ttp_assets_tests.shared_data import lake_dir


def test_serving_storage_on_s3(s3_server, aws_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s3_server.create_bucket("ttp-flight")
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=f"s3://ttp-flight/warehouse?endpoint={s3_server.endpoint}",
        partition_width=TEST_WIDTH,
    )
    result = materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 63)
    assert result.success, failure_messages(result)
    server = start_gateway(settings.storage_uri)
    client = fl.connect(server.location)
    opt = bearer(READER)
    try:
        listed = {
            i.descriptor.path[0].decode(): json.loads(i.app_metadata)
            for i in client.list_flights(options=opt)
        }
        assert all(
            listed[a]["ledgers"] == [[TESTNET_FIRST, TESTNET_FIRST + 63]] for a in TABLE_FORMATS
        )
        assert all(listed[a]["rows"] == 0 for a in set(listed) - set(TABLE_FORMATS))  # analytics
        for asset in ("ttp_events", "ledgers", "raw_ledgers"):
            got = client.do_get(ticket(asset=asset), opt).read_all()
            assert got.equals(stored(settings, asset)), asset
        part = client.do_get(ticket(asset="operations", partitions=[KEYS[1]]), opt).read_all()
        assert part.equals(stored(settings, "operations", [KEYS[1]]))
        fees = client.do_get(
            ticket(asset="ttp_events", ledgers=[1410050, 1410090], filters={"event_type": "fee"}),
            opt,
        ).read_all()
        assert fees.num_rows > 0 and set(fees.column("event_type").to_pylist()) == {"fee"}
        # A time window: the partitions its close times overlap, cut by closed_at.
        events = stored(settings, "ttp_events")
        times = sorted(set(events.column("closed_at").to_pylist()))
        start, end = times[len(times) // 3], times[2 * len(times) // 3]
        window = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in (start, end)]
        timed = client.do_get(ticket(asset="ttp_events", closed_at=window), opt).read_all()
        mask = pc.and_(
            pc.greater_equal(events["closed_at"], pa.scalar(start, events["closed_at"].type)),
            pc.less(events["closed_at"], pa.scalar(end, events["closed_at"].type)),
        )
        assert 0 < timed.num_rows < events.num_rows
        assert timed.equals(events.filter(mask))
        (health,) = client.do_action(fl.Action("health", b""), opt)
        assert json.loads(health.body.to_pybytes())["status"] == "ok"
    finally:
        client.close()
        server.stop()

    # The same reads with serving copies on the gateway's local disk, made from S3.
    copied = start_gateway(settings.storage_uri, serving_dir=str(tmp_path), serving_warm=0)
    assert copied.serving is not None
    client = fl.connect(copied.location)
    try:
        copied.serving.warm()
        assert copied.serving.drain(timeout=120)
        assert copied.serving.status()["copies"] >= 2 * 5  # two partitions of the copied tables
        for asset in ("ttp_events", "ledgers", "operations", "raw_ledgers"):
            got = client.do_get(ticket(asset=asset), opt).read_all()
            assert got.equals(stored(settings, asset)), asset
        timed = client.do_get(ticket(asset="ttp_events", closed_at=window), opt).read_all()
        assert timed.equals(events.filter(mask))
        account = pc.drop_null(events.column("to"))[0].as_py()
        mine = client.do_get(ticket(asset="ttp_events", filters={"account": account}), opt)
        who = pc.or_(pc.equal(events["from"], account), pc.equal(events["to"], account))
        assert mine.read_all().equals(events.filter(pc.fill_null(who, False)))
        assert copied.serving.status()["hits"] >= 3 * 2 + 2
    finally:
        client.close()
        copied.stop()
