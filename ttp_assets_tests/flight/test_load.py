"""Many concurrent clients against one gateway process: every call answers, correctly."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter

import pyarrow as pa
import pyarrow.flight as fl

from flight_gateway.catalog import SERVED_FORMATS
from flight_gateway.config import DEFAULT_STREAM_MEMORY
from ttp_assets.settings import Settings
from ttp_assets_tests.flight.conftest import (
    KEYS,
    READER,
    bearer,
    spawn_gateway,
    stored,
    ticket,
)

CLIENTS = 16
ROUNDS = 6
DEADLINE_S = 120  # the whole load test; each call also has its own timeout


def test_many_concurrent_clients(store: Settings) -> None:
    gw = spawn_gateway(
        {
            "TTP_STORAGE_URI": store.storage_uri,
            "TTP_FLIGHT_PORT": "0",
            "TTP_FLIGHT_METRICS_PORT": "0",
            "TTP_FLIGHT_TOKENS": f"reader:{READER}",
            "TTP_FLIGHT_BATCH_ROWS": "64",  # many messages per stream
            # One application with one token and 16 connections: admit all of them (the default
            # budget admits 14 streams).
            "TTP_FLIGHT_MAX_STREAMS_PER_TOKEN": str(CLIENTS),
            "TTP_FLIGHT_MEMORY_BUDGET": str(CLIENTS * DEFAULT_STREAM_MEMORY),
            "TTP_FLIGHT_LOG_LEVEL": "WARNING",
        }
    )
    expected = {
        "events": stored(store, "ttp_events").num_rows,
        "fees": stored(store, "ttp_events").column("event_type").to_pylist().count("fee"),
        "raw": stored(store, "raw_ledgers", [KEYS[2]]).num_rows,
        "ops": stored(store, "operations").num_rows,
    }
    errors: list[str] = []
    done: Counter[str] = Counter()
    lock = threading.Lock()

    def client_loop(n: int) -> None:
        client = fl.connect(gw.location)
        opt = bearer(READER, timeout=60)
        try:
            for r in range(ROUNDS):
                step = (n + r) % 6
                if step == 0:
                    got = client.do_get(ticket(asset="ttp_events"), opt).read_all().num_rows
                    assert got == expected["events"], got
                elif step == 1:
                    t = ticket(asset="ttp_events", filters={"event_type": "fee"}, columns=["to"])
                    got = client.do_get(t, opt).read_all().num_rows
                    assert got == expected["fees"], got
                elif step == 2:
                    d = fl.FlightDescriptor.for_path("raw_ledgers", KEYS[2])
                    info = client.get_flight_info(d, opt)
                    got = client.do_get(info.endpoints[0].ticket, opt).read_all().num_rows
                    assert got == info.total_records == expected["raw"], got
                elif step == 3:
                    infos = list(client.list_flights(options=opt))
                    assert len(infos) == len(SERVED_FORMATS)
                elif step == 4:
                    reader = client.do_get(fl.Ticket(b"operations:1410048:1410207"), opt)
                    rows = sum(c.data.num_rows for c in reader)
                    assert rows == expected["ops"], rows
                else:
                    try:
                        client.do_get(fl.Ticket(b"ledgers:1:100"), opt).read_all()
                        raise AssertionError("a range that is not materialized was served")
                    except pa.ArrowKeyError:
                        pass
                with lock:
                    done[str(step)] += 1
        except Exception as exc:
            with lock:
                errors.append(f"client {n}: {type(exc).__name__}: {exc}"[:500])
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
    started = time.monotonic()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(1.0, DEADLINE_S - (time.monotonic() - started)))
        assert not any(t.is_alive() for t in threads), "load test exceeded its deadline"
        assert errors == []
        assert sum(done.values()) == CLIENTS * ROUNDS
        text = urllib.request.urlopen(gw.metrics + "/metrics", timeout=10).read().decode()
        metrics = {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }
        assert metrics["flight_gateway_active_streams"] == 0
        assert metrics['flight_gateway_errors_total{code="NOT_FOUND",method="DoGet"}'] == done["5"]
        assert not [
            k
            for k in metrics
            if k.startswith("flight_gateway_errors_total") and ("NOT_FOUND" not in k)
        ]
        health = json.loads(urllib.request.urlopen(gw.metrics + "/healthz", timeout=10).read())
        assert health["status"] == "ok"
    finally:
        code, err = gw.stop()
    assert code == 0, err[-2000:]
