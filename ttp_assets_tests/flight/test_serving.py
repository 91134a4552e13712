"""Serving copies and lookups: the same rows as the tables, from memory-mapped copies and indexes.

Every read here goes through a real Flight client to a gateway whose copies were made from the
session store (the real testnet ledgers); the reference is the stored table filtered with pyarrow.
The consistency tests commit new versions through the real stores while clients read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.flight as fl
import pytest

from flight_gateway import reader, serving
from flight_gateway.catalog import PartRead, Plan
from flight_gateway.lookups import take_rows
from flight_gateway.reader import _select
from flight_gateway.server import GatewayServer
from flight_gateway.serving import META_FILE, ROWS_FILE, TMP_PREFIX, ServingCopy
from flight_gateway.tickets import Request
from ttp_assets.core.storage.catalog import open_store
from ttp_assets.core.storage.delta_store import PartitionWrite
from ttp_assets.core.storage.location import open_location
from ttp_assets.settings import Settings
from ttp_assets_tests.flight.conftest import (
    KEYS,
    READER,
    bearer,
    settings_at,
    spawn_gateway,
    start_gateway,
    stored,
    ticket,
)
from ttp_assets_tests.harness import TESTNET_FIRST, TESTNET_LAST, failure_messages, materialize

COPIED = ("ttp_events", "balance_changes", "ledgers", "transactions", "operations")


def copied_gateway(storage_uri: str, folder: Path, **kw: Any) -> GatewayServer:
    """A gateway keeping copies in ``folder`` and making them only when told (no timing)."""
    server = start_gateway(
        storage_uri,
        serving_dir=str(folder),
        serving_warm=0,
        batch_rows=kw.pop("batch_rows", 100),
        max_batch_bytes=64 * 1024,
        **kw,
    )
    assert server.serving is not None
    return server


def make_copies(server: GatewayServer) -> dict[str, Any]:
    assert server.serving is not None
    server.serving.warm()
    assert server.serving.drain(timeout=120)
    return server.serving.status()


@pytest.fixture(scope="module")
def copied(store: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    server = copied_gateway(store.storage_uri, tmp_path_factory.mktemp("serving"))
    try:
        yield server
    finally:
        server.stop()


def read(server: GatewayServer, **request: Any) -> pa.Table:
    client = fl.connect(server.location)
    try:
        return client.do_get(ticket(**request), bearer(READER)).read_all()
    finally:
        client.close()


def test_every_copied_table_is_served_from_its_copies_as_stored(
    copied: GatewayServer, store: Settings
) -> None:
    status = make_copies(copied)
    assert set(COPIED) <= set(status["tables"])
    assert "raw_ledgers" not in status["tables"]
    assert status["copies"] >= len(COPIED) * len(KEYS) - 5  # a few partitions have no rows
    assert status["pending"] == 0
    before = status["hits"]
    for asset in COPIED:
        assert read(copied, asset=asset).equals(stored(store, asset)), asset
    assert copied.serving is not None
    after = copied.serving.status()
    assert after["hits"] >= before + len(COPIED) * (len(KEYS) - 1)
    assert after["misses"] == status["misses"]  # nothing was read from the tables
    reads = copied.metrics.value(
        "flight_gateway_partition_reads_total", asset="ttp_events", source="copy"
    )
    assert reads >= len(KEYS)
    assert copied.metrics.value("flight_gateway_serving_copies") == after["copies"]
    assert copied.metrics.value("flight_gateway_serving_bytes") == after["bytes"]


def _events(store: Settings) -> pa.Table:
    return stored(store, "ttp_events")


def _by_count(values: list[Any]) -> list[Any]:
    counts: dict[Any, int] = {}
    for v in values:
        if v is not None:
            counts[v] = counts.get(v, 0) + 1
    return sorted(counts, key=lambda v: (counts[v], str(v)))


def lookup_cases(store: Settings) -> list[tuple[str, dict[str, Any], ds.Expression]]:
    """(name, request, the same selection as a pyarrow filter) over the real rows."""
    events = _events(store)
    accounts = _by_count(events.column("from").to_pylist() + events.column("to").to_pylist())
    rare, busy = accounts[0], accounts[-1]
    txs = _by_count(events.column("transaction_hash").to_pylist())
    assets = _by_count(events.column("asset").to_pylist())
    contract = events.column("contract_id")[0].as_py()
    closed = events.column("closed_at").to_pylist()
    t0, t1 = closed[len(closed) // 3], closed[2 * len(closed) // 3]
    iso = [t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (t0, t1)]
    seq = events.column("ledger_sequence").to_pylist()
    l0, l1 = seq[len(seq) // 4], seq[len(seq) // 2]

    def account(a: str) -> ds.Expression:
        return (ds.field("from") == a) | (ds.field("to") == a)

    window = (ds.field("closed_at") >= pa.scalar(t0, pa.timestamp("s", "UTC"))) & (
        ds.field("closed_at") < pa.scalar(t1, pa.timestamp("s", "UTC"))
    )
    ledgers = (ds.field("ledger_sequence") >= l0) & (ds.field("ledger_sequence") <= l1)
    ops = stored(store, "operations")
    op_account = _by_count(ops.column("source_account").to_pylist())[-1]
    txs_table = stored(store, "transactions")
    one_tx = txs_table.column("transaction_hash")[3].as_py()
    holder = _by_count(stored(store, "balance_changes").column("holder").to_pylist())[0]
    return [
        ("rare account", {"filters": {"account": rare}}, account(rare)),
        ("busiest account", {"filters": {"account": busy}}, account(busy)),
        ("two accounts", {"filters": {"account": [rare, busy]}}, account(rare) | account(busy)),
        ("absent account", {"filters": {"account": "G" + "A" * 55}}, account("G" + "A" * 55)),
        (
            "one transaction",
            {"filters": {"transaction_hash": txs[0]}},
            ds.field("transaction_hash") == txs[0],
        ),
        ("rare asset", {"filters": {"asset": assets[0]}}, ds.field("asset") == assets[0]),
        (
            "native by asset_key",
            {"filters": {"asset_key": "native"}},
            ds.field("asset") == "native",
        ),
        ("contract", {"filters": {"contract_id": contract}}, ds.field("contract_id") == contract),
        (
            "account and type",
            {"filters": {"account": busy, "event_type": ["transfer", "fee"]}},
            account(busy) & ds.field("event_type").isin(["transfer", "fee"]),
        ),
        (
            "type only (no index)",
            {"filters": {"event_type": "fee"}},
            ds.field("event_type") == "fee",
        ),
        ("time window", {"closed_at": iso}, window),
        (
            "account in a time window",
            {"closed_at": iso, "filters": {"account": busy}},
            window & account(busy),
        ),
        ("ledger range", {"ledgers": [l0, l1]}, ledgers),
        (
            "account in a ledger range",
            {"ledgers": [l0, l1], "filters": {"account": busy}},
            ledgers & account(busy),
        ),
        (
            "operations of an account",
            {"asset": "operations", "filters": {"account": op_account}},
            (ds.field("source_account") == op_account) | (ds.field("destination") == op_account),
        ),
        (
            "a transaction",
            {"asset": "transactions", "filters": {"transaction_hash": one_tx}},
            ds.field("transaction_hash") == one_tx,
        ),
        (
            "balance changes of a holder",
            {"asset": "balance_changes", "filters": {"account": holder}},
            ds.field("holder") == holder,
        ),
    ]


def test_lookups_and_windows_return_exactly_the_filtered_rows(
    copied: GatewayServer, store: Settings
) -> None:
    make_copies(copied)
    for name, request, expected in lookup_cases(store):
        asset = request.pop("asset", "ttp_events")
        want = stored(store, asset).filter(expected)
        got = read(copied, asset=asset, **request)
        assert got.equals(want), name
        if name not in ("absent account",):
            assert want.num_rows > 0, name


def test_a_lookup_takes_only_the_rows_it_returns(
    copied: GatewayServer, store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No scan: the rows taken from a copy for an account are the account's rows, and a ledger
    range or time window takes only the rows between its bounds."""
    make_copies(copied)
    events = _events(store)
    # An index matching more than 1/SCAN_FRACTION of the rows is not used: native is most rows.
    native = copied.catalog.plan(_request({"filters": {"asset_key": "native"}}))
    scanned = sum(_select(native, p, _copy(copied, native, p))[0].num_rows for p in native.parts)
    assert scanned == events.num_rows
    monkeypatch.setattr(reader, "SCAN_FRACTION", 1)  # from here on, every index is used
    for name, request, expected in lookup_cases(store):
        if request.get("asset", "ttp_events") != "ttp_events":
            continue
        if name == "type only (no index)":
            continue
        plan = copied.catalog.plan(_request(request))
        taken = 0
        for part in plan.parts:
            selected, _ = _select(plan, part, _copy(copied, plan, part))
            taken += selected.num_rows
        matching = events.filter(expected).num_rows
        if name == "account and type":  # narrowed by the account, then filtered by type
            matching = events.filter(
                (ds.field("from") == request["filters"]["account"])
                | (ds.field("to") == request["filters"]["account"])
            ).num_rows
        if name == "native by asset_key":  # the classic name or the contract id
            native = events.filter(ds.field("asset") == "native")
            ids = native.column("contract_id").unique()
            matching = events.filter(ds.field("contract_id").isin(ids)).num_rows
        assert taken == matching, name


def _copy(server: GatewayServer, plan: Plan, part: PartRead) -> ServingCopy:
    assert server.serving is not None
    found = server.serving.copy(plan.view, part.info)
    assert found is not None, part.info.key
    return found


def test_rows_are_taken_across_the_batches_of_a_copy() -> None:
    table = pa.Table.from_batches(
        pa.table({"n": range(300), "s": [f"row {i}" for i in range(300)]}).to_batches(
            max_chunksize=64
        )
    )
    assert table.column("n").num_chunks == 5
    for rows in ([], [0], [63, 64], [0, 1, 127, 128, 200, 299], list(range(300))):
        chosen = np.array(rows, dtype=np.uint32)
        assert take_rows(table, chosen).equals(table.take(pa.array(chosen))), rows


def _request(request: dict[str, Any]) -> Request:
    from flight_gateway.tickets import parse_ticket
    from ttp_assets.core import schemas

    body = {"asset": "ttp_events", **request}
    return parse_ticket(json.dumps(body).encode(), schemas.TABLES)


# -- consistency -------------------------------------------------------------------------------


def _two_partitions(tmp_path: Path) -> tuple[Settings, dg.DagsterInstance]:
    settings = settings_at(tmp_path / "store")
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 63, instance=instance)
    assert result.success, failure_messages(result)
    return settings, instance


def _half(settings: Settings, key: str) -> pa.Table:
    """Commit, through the store, a visibly different version of ``key``: its first 50 rows."""
    half = stored(settings, "ttp_events", [key]).slice(0, 50)
    _commit(settings, key, half)
    return half


def _commit(settings: Settings, key: str, rows: pa.Table) -> None:
    """Commit ``rows`` as partition ``key`` of ttp_events through the Delta store."""
    events = open_store(open_location(settings.storage_uri), "ttp_events")
    meta = {
        k: v
        for k, v in events.file_metadata(key).items()
        if k not in ("ttp.delta_version", "ttp.rows")
    }
    events.write([PartitionWrite(key, lambda: rows.to_batches(), meta)])  # type: ignore[attr-defined]


def test_clients_reading_while_versions_and_their_copies_change_each_get_one_version(
    tmp_path: Path,
) -> None:
    """Four clients read in a loop while one partition is committed again and again (full,
    half, full, ...) and each version's copy is made and the previous one deleted: every read
    is exactly one committed version of the table, and no copy is ever found unreadable."""
    settings, _ = _two_partitions(tmp_path)
    key = KEYS[1]
    full = stored(settings, "ttp_events", [key])
    other = stored(settings, "ttp_events", [KEYS[0]])
    versions = [pa.concat_tables([other, full]), pa.concat_tables([other, full.slice(0, 50)])]
    server = copied_gateway(settings.storage_uri, tmp_path / "serving", batch_rows=7)
    assert server.serving is not None
    make_copies(server)
    done = threading.Event()
    errors: list[BaseException] = []
    seen = [0, 0]

    def reader_loop() -> None:
        client = fl.connect(server.location)
        try:
            while not done.is_set():
                got = client.do_get(ticket(asset="ttp_events"), bearer(READER)).read_all()
                matches = [i for i, v in enumerate(versions) if got.equals(v)]
                assert len(matches) == 1, f"a read matching no committed version: {got.num_rows}"
                seen[matches[0]] += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=reader_loop) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            _commit(settings, key, full.slice(0, 50) if i % 2 == 0 else full)
            make_copies(server)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=120)
        server.stop()
    assert not errors, errors[0]
    assert seen[0] > 0 and seen[1] > 0
    assert server.metrics.value("flight_gateway_serving_copy_failures_total") == 0
    assert server.serving.status()["builds"] >= 10 + 6


def test_a_copy_replaced_while_a_client_reads_it_gives_that_client_one_whole_version(
    tmp_path: Path,
) -> None:
    settings, _ = _two_partitions(tmp_path)
    key = KEYS[1]
    before = stored(settings, "ttp_events")
    server = copied_gateway(settings.storage_uri, tmp_path / "serving", batch_rows=1)
    client = fl.connect(server.location)
    opt = bearer(READER)
    assert server.serving is not None
    try:
        make_copies(server)
        old = {c.folder for c in server.serving._copies.values()}
        reader = client.do_get(ticket(asset="ttp_events"), opt)
        first = reader.read_chunk()
        # A new version is committed and its copy made; the old copy is deleted from disk.
        half = _half(settings, key)
        status = make_copies(server)
        assert status["builds"] >= 1
        assert any(not f.exists() for f in old)
        # The open stream still reads the old version, whole; a new one reads the new version.
        rest = [first.data, *(c.data for c in reader)]
        assert pa.Table.from_batches(rest, schema=reader.schema).equals(before)
        hits = server.serving.status()["hits"]
        now = client.do_get(ticket(asset="ttp_events", partitions=[key]), opt).read_all()
        assert now.equals(half)
        assert server.serving.status()["hits"] == hits + 1
    finally:
        client.close()
        server.stop()


def test_a_commit_without_its_copy_is_read_from_the_table_never_the_old_copy(
    tmp_path: Path,
) -> None:
    """A crash (or a slow copy) between the table commit and the copy: the plan pins the new
    version, no copy has its identity, so the partition is read from the table."""
    settings, _ = _two_partitions(tmp_path)
    key = KEYS[0]
    server = copied_gateway(settings.storage_uri, tmp_path / "serving")
    assert server.serving is not None
    try:
        make_copies(server)
        server.serving.stop()  # no copy of what comes next is ever made
        half = _half(settings, key)
        misses = server.serving.status()["misses"]
        assert read(server, asset="ttp_events", partitions=[key]).equals(half)
        assert server.serving.status()["misses"] == misses + 1
        assert read(server, asset="ttp_events").equals(stored(settings, "ttp_events"))
    finally:
        server.stop()


def test_half_written_and_damaged_copies_are_never_served(tmp_path: Path) -> None:
    settings, _ = _two_partitions(tmp_path)
    folder = tmp_path / "serving"
    server = copied_gateway(settings.storage_uri, folder)
    try:
        make_copies(server)
    finally:
        server.stop()
    # A copy being written when the gateway died, and a published copy damaged on disk since.
    leftover = folder / "ttp_events" / f"{TMP_PREFIX}dead"
    leftover.mkdir()
    (leftover / ROWS_FILE).write_bytes(b"ARROW1 half a file")
    damaged = next((folder / "ttp_events").glob(f"{KEYS[0]}.*"))
    rows = damaged / ROWS_FILE
    rows.write_bytes(rows.read_bytes()[: rows.stat().st_size // 2])

    server = copied_gateway(settings.storage_uri, folder)
    try:
        assert not leftover.exists()
        assert read(server, asset="ttp_events").equals(stored(settings, "ttp_events"))
        assert not damaged.exists()  # dropped; made again when next asked for
        make_copies(server)
        assert read(server, asset="ttp_events").equals(stored(settings, "ttp_events"))
    finally:
        server.stop()


def test_the_copies_stay_within_their_budget(tmp_path: Path, store: Settings) -> None:
    folder = tmp_path / "serving"
    server = copied_gateway(store.storage_uri, folder, serving_bytes=256 * 1024)
    assert server.serving is not None
    try:
        make_copies(server)
        status = server.serving.status()
        on_disk = sum(
            f.stat().st_size for f in folder.rglob("*") if f.is_file() and f.name != META_FILE
        )
        assert status["bytes"] <= 256 * 1024 or status["copies"] == 1
        assert on_disk == status["bytes"]
        # Warming copies the newest ledgers first and stops at the budget: the oldest
        # partition is copied when it is read, the least recently used copies making room.
        keys = {c.source.key for c in server.serving._copies.values()}
        assert keys and KEYS[0] not in keys and KEYS[-1] in keys
        oldest = read(server, asset="ttp_events", partitions=[KEYS[0]])
        assert oldest.equals(stored(store, "ttp_events", [KEYS[0]]))
        assert server.serving.drain(timeout=120)
        assert server.serving._by_key.get(("ttp_events", KEYS[0])) is not None  # made on demand
        assert server.serving.status()["bytes"] <= 256 * 1024 + on_disk
        for asset in COPIED:
            assert read(server, asset=asset).equals(stored(store, asset)), asset
    finally:
        server.stop()


def test_a_copy_is_written_in_whole_batches_whatever_the_scan_gave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serving, "COPY_BATCH_ROWS", 100)
    schema = pa.schema([pa.field("n", pa.int64(), nullable=False)])
    sizes = [250, 1, 99, 0, 100, 37]
    start = 0
    scanned = []
    for size in sizes:  # the scan's nullable type, as a Delta cast gives it
        scanned.append(pa.record_batch({"n": pa.array(range(start, start + size), pa.int64())}))
        start += size
    out = list(serving._gathered(schema, iter(scanned)))
    assert [b.num_rows for b in out] == [100, 100, 100, 100, 87]
    assert all(b.schema == schema for b in out)
    assert pa.Table.from_batches(out).column("n").to_pylist() == list(range(start))


def test_copies_are_made_at_commit_by_the_warming_thread(tmp_path: Path) -> None:
    settings, instance = _two_partitions(tmp_path)
    server = start_gateway(
        settings.storage_uri, serving_dir=str(tmp_path / "serving"), serving_warm=0.05
    )
    assert server.serving is not None
    try:
        assert server.serving.drain(timeout=120)
        made = server.serving.status()
        again = materialize(
            settings, TESTNET_FIRST, TESTNET_FIRST + 63, keys=[KEYS[1]], instance=instance
        )
        assert again.success, failure_messages(again)
        server.serving.warm()  # what the thread does every serving_warm seconds
        assert server.serving.drain(timeout=120)
        assert server.serving.status()["builds"] > made["builds"]
        before = server.serving.status()["misses"]
        assert read(server, asset="ttp_events").equals(stored(settings, "ttp_events"))
        assert server.serving.status()["misses"] == before
    finally:
        server.stop()


def test_a_gateway_process_copies_what_is_committed_when_it_starts(
    store: Settings, tmp_path: Path
) -> None:
    env = {
        "TTP_STORAGE_URI": store.storage_uri,
        "TTP_FLIGHT_PORT": "0",
        "TTP_FLIGHT_METRICS_PORT": "off",
        "TTP_FLIGHT_TOKENS": f"reader:{READER}",
        "TTP_FLIGHT_SERVING_DIR": str(tmp_path / "serving"),
        "TTP_FLIGHT_SERVING_TABLES": "ttp_events,operations",
    }
    gw = spawn_gateway(env)
    client = fl.connect(gw.location)
    opt = bearer(READER)

    def status(body: bytes) -> dict[str, Any]:
        (result,) = client.do_action(fl.Action("serving_status", body), opt)
        return json.loads(result.body.to_pybytes())

    try:
        ready = status(b'{"wait": 120}')  # returns once the start-up copies are made
        assert ready["enabled"] and ready["pending"] == 0
        assert ready["tables"] == ["operations", "ttp_events"]
        assert ready["copies"] == 2 * len(KEYS)
        for asset in ("ttp_events", "operations", "ledgers"):  # ledgers: not copied, scanned
            got = client.do_get(ticket(asset=asset), opt).read_all()
            assert got.equals(stored(store, asset)), asset
        after = status(b"")
        assert after["hits"] == ready["hits"] + 2 * len(KEYS)
        with pytest.raises(pa.ArrowInvalid, match="wait"):
            status(b'{"wait": "soon"}')
    finally:
        client.close()
        code, log = gw.stop()
    assert code == 0, log
    assert '"serving_copy_made"' not in log  # debug level: not at the default INFO
    bad = subprocess.run(
        [sys.executable, "-m", "flight_gateway"],
        env={**os.environ, **env, "TTP_FLIGHT_SERVING_TABLES": "raw_ledger"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    assert "TTP_FLIGHT_SERVING_TABLES: raw_ledger are not ledger-range tables" in bad.stderr


def test_an_open_partition_is_copied_only_once_it_settles(tmp_path: Path) -> None:
    """The tip changes every live tick: it is read from the table (a tick is one small file)
    until a version of it stays unchanged for ``settle`` seconds."""
    settings = settings_at(tmp_path / "store")
    instance = dg.DagsterInstance.ephemeral()
    key = KEYS[0]
    server = copied_gateway(settings.storage_uri, tmp_path / "serving")
    assert server.serving is not None
    server.serving.settle = 3600.0
    try:
        for through in (TESTNET_FIRST + 12, TESTNET_FIRST + 20):
            grown = materialize(
                settings, TESTNET_FIRST, through, through=through, instance=instance
            )
            assert grown.success, failure_messages(grown)
            assert make_copies(server)["copies"] == 0
            for asset in COPIED:
                assert read(server, asset=asset).equals(stored(settings, asset)), asset
            assert server.serving.status()["hits"] == 0
        server.serving.settle = 0.0  # as if that version had stayed for the settle time
        made = make_copies(server)
        assert made["copies"] == len(COPIED)
        assert {c.source.key for c in server.serving._copies.values()} == {key}
        for asset in COPIED:
            assert read(server, asset=asset).equals(stored(settings, asset)), asset
        assert server.serving.status()["hits"] == len(COPIED)
    finally:
        server.stop()


def test_a_follow_stream_reads_history_from_the_copies(
    copied: GatewayServer, store: Settings
) -> None:
    make_copies(copied)
    hits = copied.serving.status()["hits"]  # type: ignore[union-attr]
    client = fl.connect(copied.location)
    follow = {"asset": "ttp_events", "follow": True, "from_ledger": TESTNET_FIRST}
    stream = client.do_get(ticket(**follow), bearer(READER))
    batches, through = [], 0
    try:
        for chunk in stream:
            batches.append(chunk.data)
            through = json.loads(chunk.app_metadata.to_pybytes())["through"]
            if through == TESTNET_LAST:
                break
    finally:
        stream.cancel()
        client.close()
    assert through == TESTNET_LAST
    got = pa.Table.from_batches(batches, schema=stream.schema)
    assert got.equals(stored(store, "ttp_events"))
    assert copied.serving.status()["hits"] >= hits + len(KEYS)  # type: ignore[union-attr]
