"""Arrow Flight gateway throughput, next to this machine's raw Flight throughput, in one run.

    .venv/bin/python benchmarks/flight_bench.py [--rows 2000000] [--repeat 3] [--clients 4]

1. Data: the real asset graph materializes the 160 real testnet ledgers of
   ``../shared/data/lake/testnet-2022`` (890 token events, written by the real IO managers);
   those events are then replicated, with shifted ledgers and ids, into a larger ``ttp_events``
   Delta table written through the same store (``DeltaPartitionStore.write``): ``--rows`` rows
   in partitions of 20,000 ledgers (~111,000 events each).
2. Servers, each in its own process on loopback: the gateway (``python -m flight_gateway``,
   default settings: batches of at most 4 MiB / 65,536 rows) and a raw Flight server that
   streams the same rows from memory with ``RecordBatchStream`` (pure C++, no storage, no
   Python per batch), in batches of the same size: the ceiling of this machine.
3. A pyarrow client (this process) reads: every ttp_events row; a filtered scan (one account,
   as ``from`` or ``to``); a projected scan; one small ledger range; and ``--clients`` full scans
   at once. It reports rows/s, MB/s (Arrow bytes of the batches received, 10^6 bytes) and the
   first-batch latency (DoGet call to first batch); best of ``--repeat``, plus the gateway's
   peak RSS after a small read and after everything else (memory stays flat whatever the range).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.flight as fl  # noqa: E402

TOKEN = "benchmark-reader-token-0123456789"
WIDTH = 20_000
BASE = 2_000_000  # first synthetic ledger (a multiple of WIDTH)
SPAN = 160  # ledgers in one copy of the real events


# -- data --------------------------------------------------------------------------------------


def build_store(root: Path, rows: int) -> tuple[str, int, str]:
    """Materialize the real ledgers, then write the replicated ttp_events table.

    Returns (storage URI, rows written, the busiest account)."""
    from ttp_assets.core.storage.catalog import open_store
    from ttp_assets.core.storage.delta_store import PartitionWrite
    from ttp_assets.core.storage.location import open_location
    from ttp_assets.settings import Settings
    from ttp_assets_tests.harness import TEST_WIDTH, TESTNET_FIRST, TESTNET_LAST, materialize
    from ttp_assets_tests.shared_data import lake_dir

    real = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(root / "real"),
        partition_width=TEST_WIDTH,
    )
    result = materialize(real, TESTNET_FIRST, TESTNET_LAST)
    if not result.success:
        raise SystemExit("materializing the testnet ledgers failed")
    src = open_store(open_location(real.storage_uri), "ttp_events")
    base = pa.Table.from_batches(
        [b for k in src.committed_keys() for b in src.batches(k)], schema=src.schema
    )
    copies = max(1, -(-rows // base.num_rows))
    per_part = WIDTH // SPAN
    dest = open_store(open_location(str(root / "bench")), "ttp_events")

    def partition(p: int) -> list[pa.RecordBatch]:
        tables = []
        for c in range(p * per_part, min(copies, (p + 1) * per_part)):
            tables.append(shifted(base, c))
        return pa.concat_tables(tables).combine_chunks().to_batches(max_chunksize=65536)

    parts = []
    for p in range(-(-copies // per_part)):
        start = BASE + p * WIDTH
        last_copy = min(copies, (p + 1) * per_part) - 1
        last = BASE + last_copy * SPAN + SPAN - 1
        key = f"{start:010d}-{start + WIDTH - 1:010d}"
        meta = {
            "ttp.partition_key": key,
            "ttp.first_ledger": str(start),
            "ttp.last_ledger": str(last),
            "ttp.complete": "true" if last == start + WIDTH - 1 else "false",
        }
        parts.append(PartitionWrite(key, lambda p=p: partition(p), meta))
    for i in range(0, len(parts), 4):  # a few commits, bounded memory
        dest.write(parts[i : i + 4])  # type: ignore[attr-defined]
    counts: dict[str, int] = {}
    for col in ("from", "to"):
        for v in base.column(col).to_pylist():
            if v:
                counts[v] = counts.get(v, 0) + 1
    busiest = max(counts, key=lambda a: counts[a])
    return str(root / "bench"), copies * base.num_rows, busiest


def shifted(base: pa.Table, copy: int) -> pa.Table:
    """The real events moved ``copy`` spans of ledgers later (ids shifted accordingly)."""
    offset = copy * SPAN
    toid = offset << 32
    cols = {}
    for name in base.column_names:
        col = base.column(name)
        if name == "ledger_sequence":
            col = pc.add(col, pa.scalar(BASE - 1410048 + offset, pa.uint32()))
        elif name in ("transaction_id", "operation_id"):
            col = pc.add(col, pa.scalar(toid + ((BASE - 1410048) << 32), pa.int64()))
        elif name == "closed_at":
            col = pc.add(col, pa.scalar(offset * 5, pa.duration("s")))
        elif name == "event_id":
            col = pc.binary_join_element_wise(col, pa.scalar(f"c{copy}"), "-")
        cols[name] = col
    return pa.table(cols, schema=base.schema)


# -- the raw Flight baseline server (run as a subprocess of this script) ------------------------


class RawServer(fl.FlightServerBase):
    """Streams one in-memory table with RecordBatchStream: no storage, no Python per batch."""

    def __init__(self, table: pa.Table, batches: list[pa.RecordBatch]):
        super().__init__("grpc://127.0.0.1:0")
        self.table = table
        self.batches = batches

    def do_get(self, context: fl.ServerCallContext, ticket: fl.Ticket) -> fl.RecordBatchStream:
        return fl.RecordBatchStream(
            pa.RecordBatchReader.from_batches(self.table.schema, iter(self.batches))
        )


def serve_raw(storage: str) -> None:
    from flight_gateway.reader import DEFAULT_BATCH_ROWS, DEFAULT_MAX_BATCH_BYTES, bounded
    from ttp_assets.core.storage.catalog import open_store
    from ttp_assets.core.storage.location import open_location

    store = open_store(open_location(storage), "ttp_events")
    table = pa.Table.from_batches(
        [
            b
            for k in store.committed_keys()
            for b in store.batches(k, batch_size=DEFAULT_BATCH_ROWS)
        ],
        schema=store.schema,
    )
    # The same batch sizes the gateway sends: at most 65,536 rows and 4 MiB each.
    batches = [
        piece
        for b in table.to_batches(max_chunksize=DEFAULT_BATCH_ROWS)
        for piece, _ in bounded(b, table.schema, DEFAULT_MAX_BATCH_BYTES)
    ]
    server = RawServer(table, batches)
    print(json.dumps({"event": "ready", "location": f"grpc://127.0.0.1:{server.port}"}), flush=True)
    server.serve()


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Result:
    rows: int
    nbytes: int
    seconds: float
    first_batch: float

    @property
    def rows_s(self) -> float:
        return self.rows / self.seconds

    @property
    def mb_s(self) -> float:
        return self.nbytes / self.seconds / 1e6


def read(client: fl.FlightClient, ticket: bytes, options: fl.FlightCallOptions) -> Result:
    t0 = time.perf_counter()
    reader = client.do_get(fl.Ticket(ticket), options)
    first = None
    rows = nbytes = 0
    for chunk in reader:
        if first is None:
            first = time.perf_counter() - t0
        rows += chunk.data.num_rows
        nbytes += chunk.data.nbytes
    total = time.perf_counter() - t0
    return Result(rows, nbytes, total, first if first is not None else total)


def best(results: list[Result]) -> Result:
    fastest = min(results, key=lambda r: r.seconds)
    return Result(
        fastest.rows,
        fastest.nbytes,
        fastest.seconds,
        statistics.median(r.first_batch for r in results),
    )


def concurrent(location: str, ticket: bytes, options: fl.FlightCallOptions, n: int) -> Result:
    results: list[Result] = []
    lock = threading.Lock()

    def one() -> None:
        client = fl.connect(location)
        r = read(client, ticket, options)
        client.close()
        with lock:
            results.append(r)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.perf_counter() - t0
    if len(results) != n:
        raise RuntimeError("a concurrent client failed")
    return Result(
        sum(r.rows for r in results),
        sum(r.nbytes for r in results),
        elapsed,
        statistics.median(r.first_batch for r in results),
    )


def spawn(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{args} did not start")
    return proc, json.loads(line)["location"]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="ttp_events rows to serve")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4, help="concurrent full scans")
    parser.add_argument("--serve-raw", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_raw:
        serve_raw(args.serve_raw)
        return

    with tempfile.TemporaryDirectory(prefix="flight-bench-") as tmp:
        t0 = time.perf_counter()
        storage, rows, account = build_store(Path(tmp), args.rows)
        print(f"data: {rows:,} ttp_events rows in {storage} ({time.perf_counter() - t0:.0f} s)")
        gateway, gw_location = spawn(
            ["-m", "flight_gateway"],
            {
                "TTP_STORAGE_URI": storage,
                "TTP_FLIGHT_PORT": "0",
                "TTP_FLIGHT_METRICS_PORT": "off",
                "TTP_FLIGHT_TOKENS": f"reader:{TOKEN}",
                "TTP_FLIGHT_LOG_LEVEL": "WARNING",
                # One token, ``--clients`` scans at once: admit them all (per-token cap and
                # memory budget; the default budget admits 14 streams of 72 MiB).
                "TTP_FLIGHT_MAX_STREAMS_PER_TOKEN": str(max(8, args.clients)),
                "TTP_FLIGHT_MEMORY_BUDGET": f"{72 * max(16, args.clients)}M",
            },
        )
        raw, raw_location = spawn([__file__, "--serve-raw", storage], {})
        try:
            report(args, gateway, gw_location, raw_location, rows, account)
        finally:
            for p in (gateway, raw):
                p.terminate()
                p.wait(timeout=60)


def report(
    args: argparse.Namespace,
    gateway: subprocess.Popen[str],
    gw_location: str,
    raw_location: str,
    rows: int,
    account: str,
) -> None:
    opt = fl.FlightCallOptions(headers=[(b"authorization", f"Bearer {TOKEN}".encode())])
    gw = fl.connect(gw_location)
    raw = fl.connect(raw_location)
    small = b"ttp_events:2000000:2000999"
    first_key = f"{BASE:010d}-{BASE + WIDTH - 1:010d}"
    all_rows = json.dumps({"asset": "ttp_events"}).encode()
    cases: list[tuple[str, fl.FlightClient, bytes]] = [
        ("raw Flight, in memory (C++ stream)", raw, b"all"),
        ("gateway, 1,000 ledgers", gw, small),
        (
            "gateway, one partition",
            gw,
            json.dumps({"asset": "ttp_events", "partitions": [first_key]}).encode(),
        ),
        (
            "gateway, 4 partitions",
            gw,
            json.dumps({"asset": "ttp_events", "ledgers": [BASE, BASE + 4 * WIDTH - 1]}).encode(),
        ),
        ("gateway ttp_events, all rows", gw, all_rows),
        (
            "gateway, 4 columns",
            gw,
            json.dumps(
                {"asset": "ttp_events", "columns": ["ledger_sequence", "from", "to", "amount"]}
            ).encode(),
        ),
        (
            "gateway, account filter",
            gw,
            json.dumps({"asset": "ttp_events", "filters": {"account": account}}).encode(),
        ),
        (
            "gateway, transfers of native",
            gw,
            json.dumps(
                {"asset": "ttp_events", "filters": {"event_type": "transfer", "asset": "native"}}
            ).encode(),
        ),
    ]
    read(gw, small, opt)  # warm-up: imports, the first Delta log read
    print(f"gateway peak RSS after start and one small read: {peak_rss_mb(gateway.pid):.0f} MB")
    header = f"{'read':<38}{'rows':>11}{'rows/s':>12}{'MB/s':>7}{'first batch':>13}"
    print(f"\n{header}{'gateway peak RSS':>18}")
    results = {}
    for name, client, ticket in cases:
        r = best([read(client, ticket, opt) for _ in range(args.repeat)])
        results[name] = r
        rss = f"{peak_rss_mb(gateway.pid):>15.0f} MB" if client is gw else ""
        print(
            f"{name:<38}{r.rows:>11,}{r.rows_s:>12,.0f}{r.mb_s:>7.0f}"
            f"{r.first_batch * 1000:>10.1f} ms{rss}"
        )
    n = args.clients
    for name, location, ticket in (
        (f"raw Flight, {n} clients at once", raw_location, b"all"),
        (f"gateway all rows, {n} clients at once", gw_location, all_rows),
    ):
        r = concurrent(location, ticket, opt, n)
        rss = f"{peak_rss_mb(gateway.pid):>15.0f} MB" if location == gw_location else ""
        print(
            f"{name:<38}{r.rows:>11,}{r.rows_s:>12,.0f}{r.mb_s:>7.0f}"
            f"{r.first_batch * 1000:>10.1f} ms{rss}"
        )
    ratio = results["gateway ttp_events, all rows"].mb_s / results[cases[0][0]].mb_s
    print(
        f"\ngateway / raw Flight throughput (one client, all rows): {ratio:.0%}. "
        "MB = 10^6 bytes of Arrow data received; first batch = median time from DoGet to it."
    )
    print(f"machine: {os.cpu_count()} CPU(s); pyarrow {pa.__version__}; loopback, one process each")
    gw.close()
    raw.close()


if __name__ == "__main__":
    main()
