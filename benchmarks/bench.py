"""Throughput and memory of each ledger stage on the real ledgers in ../shared/data.

    .venv/bin/python benchmarks/bench.py [--repeat N] [--only STAGE ...] [--data NAME ...]
                                         [--json out.json]

Every (dataset, stage, threads) runs in its own process so that "peak MB" is its own peak RSS.
Ledgers go through the native core in batches of 48, as the assets do, and the output batches
are dropped as they come (the assets spool them), so memory does not grow with the range.

  fetch     read + zstd-decompress + split the lake objects (Python + pyarrow)
  floor     what no implementation avoids: zstd + SHA-256 + parse alone (the native core
            decoding, hashing and pairing, building nothing)
  ingest    raw_ledgers: the floor plus the ledger-chain checks and the raw rows
  decode    ledgers, transactions, operations (with their SEP-51 JSON)
  events    ttp_events and balance_changes (the token transfer processor, auto mode)
  all       every table in one pass: the whole raw -> all tables path
  all-x5    `all` over the dataset repeated 5 and 20 times: peak memory must not grow with
  all-x20   the number of ledgers (it is bounded by one batch)
  sdk       a plain stellar-sdk decode (xdr.LedgerCloseMeta.from_xdr_bytes), for scale
  python    the previous Python path (the reference implementation) computing every table
  parquet   write the raw_ledgers rows to Parquet (zstd) through the partition store
  aggregate the analytics tier in DuckDB: the partial aggregates of the dataset's events,
            ledgers, transactions and operations, then its hourly and daily rollups (the tables
            are made by the native core outside the clock); events/s is events aggregated
  aggregate-x20  the same over the dataset repeated 20 times (the fixed cost of planning
            seven queries amortized, as over a partition of 1,000 busy ledgers)

MB/s is megabytes of uncompressed LCM XDR per second of wall time; "MB/s/core" divides by the
process's CPU time (user + system), so it is what one core sustains. The load-test ledgers'
transactions pair under the standalone passphrase but their tx sets were rewritten after their
headers were made, so on them the commitments are not checked (stated in the note).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STAGES = (
    "fetch",
    "floor",
    "ingest",
    "decode",
    "events",
    "all",
    "all-x5",
    "all-x20",
    "sdk",
    "python",
    "parquet",
    "aggregate",
    "aggregate-x20",
)
THREADED = (
    "floor",
    "ingest",
    "decode",
    "events",
    "all",
    "all-x5",
    "all-x20",
    "aggregate",
    "aggregate-x20",
)
SLOW = ("sdk", "python")  # run once: they take seconds per busy ledger
BATCH = 48


def datasets() -> dict[str, dict]:
    from ttp_assets_tests.shared_data import bench_files, lake_dir

    out: dict[str, dict] = {
        "lake/pubnet-p26": {"lake": str(lake_dir("pubnet-p26")), "network": "pubnet"},
        "lake/pubnet": {"lake": str(lake_dir("pubnet")), "network": "pubnet"},
        "lake/testnet-2022": {"lake": str(lake_dir("testnet-2022")), "network": "testnet"},
    }
    for f in bench_files():
        if f.path.name.startswith("galexie"):
            out["bench/galexie-lt-v23"] = {
                "files": [str(f.path)],
                "network": "standalone",
                "commitments": False,
            }
    return out


def load_ledgers(spec: dict) -> list[bytes]:
    """All LCM bytes of a dataset (this is the 'fetch' stage)."""
    from ttp_assets.core.network import resolve_network
    from ttp_assets.core.sources.datalake import DataLakeSource
    from ttp_assets.core.xdr.framing import decompress_zstd, split_record_marked

    if "lake" in spec:
        src = DataLakeSource(spec["lake"], resolve_network(spec["network"]))
        first = _lake_first(Path(spec["lake"]))
        last = src.last_available(first, 1_000_000)
        return [led.lcm for led in src.ledgers(first, last)]
    out = []
    for path in spec["files"]:
        data = Path(path).read_bytes()
        out.extend(split_record_marked(decompress_zstd(data, path), path))
    # Keep only the busy ledgers: the idle ones around them say nothing about speed.
    return [lcm for lcm in out if len(lcm) > 4096]


def _lake_first(root: Path) -> int:
    names = [p.name.split("--")[1].split(".")[0].split("-")[0] for p in root.rglob("*.xdr.zst*")]
    return min(int(n) for n in names)


def _native(tables: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """The native core over the ledgers in batches of 48, as Arrow binary columns (what the
    stages hand it: the raw_ledgers column, or the source's bytes). Each batch's column is
    built just before its call, outside the clock, and dropped after it, as in the stages."""

    def run(ledgers: list[bytes], spec: dict, threads: int) -> tuple:
        import pyarrow as pa

        from ttp_assets.core.native import LedgerCore
        from ttp_assets.core.network import resolve_network

        core = LedgerCore(resolve_network(spec["network"]), "auto", threads)
        events = rows = 0
        wall = cpu = 0.0
        for i in range(0, len(ledgers), BATCH):
            chunk = pa.array(ledgers[i : i + BATCH], pa.binary())
            t0, c0 = time.perf_counter(), _cpu()
            out = core.process(chunk, tables, check_commitments=spec.get("commitments", True))
            wall += time.perf_counter() - t0
            cpu += _cpu() - c0
            events += out.events
            rows += sum(b.num_rows for batches in out.tables.values() for b in batches)
            del chunk, out
        return events, rows, (wall, cpu)

    return run


def _sdk(ledgers: list[bytes], spec: dict, threads: int) -> tuple:
    from stellar_sdk import xdr

    for x in ledgers:
        xdr.LedgerCloseMeta.from_xdr_bytes(x)
    return 0, 0, None


def _python(ledgers: list[bytes], spec: dict, threads: int) -> tuple:
    from ttp_assets.core.network import resolve_network
    from ttp_assets_tests.reference.pipeline import reference_tables

    tables = reference_tables(
        ledgers, resolve_network(spec["network"]), check_commitments=spec.get("commitments", True)
    )
    return tables["ttp_events"].num_rows, sum(t.num_rows for t in tables.values()), None


def _parquet(ledgers: list[bytes], spec: dict, threads: int) -> tuple:
    import tempfile

    import pyarrow as pa

    from ttp_assets.core import schemas
    from ttp_assets.core.native import LedgerCore
    from ttp_assets.core.network import resolve_network
    from ttp_assets.core.storage.location import open_location
    from ttp_assets.core.storage.parquet_store import ParquetPartitionStore

    core = LedgerCore(resolve_network(spec["network"]), "auto", threads)
    out = core.process(
        pa.array(ledgers, pa.binary()),
        ["raw_ledgers"],
        check_commitments=spec.get("commitments", True),
    )
    with tempfile.TemporaryDirectory() as d:
        store = ParquetPartitionStore(open_location(d), "raw_ledgers", schemas.RAW_LEDGERS)
        store.write("0000000000-0000000999", out.tables["raw_ledgers"])
    return 0, len(ledgers), None


def _aggregate(ledgers: list[bytes], spec: dict, threads: int) -> tuple:
    import pyarrow as pa

    from ttp_assets.core import schemas
    from ttp_assets.core.analytics.categories import AmountCategories
    from ttp_assets.core.analytics.partials import compute_partials
    from ttp_assets.core.analytics.periods import Coverage, floor, periods_of_hours
    from ttp_assets.core.analytics.rollups import StoredPartial, compute_rollups, periods_table
    from ttp_assets.core.native import LedgerCore
    from ttp_assets.core.network import resolve_network

    os.environ["TTP_ANALYTICS_THREADS"] = str(threads)
    names = ("ledgers", "transactions", "operations", "ttp_events")
    core = LedgerCore(resolve_network(spec["network"]), "auto", threads)
    got: dict[str, list] = {n: [] for n in names}
    for i in range(0, len(ledgers), BATCH):
        out = core.process(
            pa.array(ledgers[i : i + BATCH], pa.binary()),
            names,
            check_commitments=spec.get("commitments", True),
        )
        for n in names:
            got[n].extend(out.tables[n])
    tables = {n: pa.Table.from_batches(b, schema=schemas.schema_for(n)) for n, b in got.items()}
    t0, c0 = time.perf_counter(), _cpu()
    partials = compute_partials(
        tables["ttp_events"],
        tables["ledgers"],
        tables["transactions"],
        tables["operations"],
        AmountCategories(),
    )
    la = partials["ledger_activity"]
    seqs, closes = la["ledger_sequence"].to_pylist(), la["closed_at"].to_pylist()
    cov = Coverage(
        "bench", seqs[0], seqs[-1], int(closes[0].timestamp()), int(closes[-1].timestamp())
    )
    periods = periods_of_hours(floor(t, "hour") for t in closes)
    compute_rollups(partials, periods_table(periods, {"bench": StoredPartial(cov, "")}))
    took = (time.perf_counter() - t0, _cpu() - c0)
    return tables["ttp_events"].num_rows, la.num_rows, took


RUNNERS = {
    "floor": _native(()),
    "ingest": _native(("raw_ledgers",)),
    "decode": _native(("ledgers", "transactions", "operations")),
    "events": _native(("ttp_events", "balance_changes")),
    "all": _native(
        ("raw_ledgers", "ledgers", "transactions", "operations", "ttp_events", "balance_changes")
    ),
    "sdk": _sdk,
    "python": _python,
    "parquet": _parquet,
    "aggregate": _aggregate,
}
RUNNERS["all-x5"] = RUNNERS["all-x20"] = RUNNERS["all"]
RUNNERS["aggregate-x20"] = RUNNERS["aggregate"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_stage(name: str, stage: str, threads: int, repeat: int) -> dict:
    spec = datasets()[name]
    t0, c0 = time.perf_counter(), _cpu()
    ledgers = load_ledgers(spec)
    fetch = (time.perf_counter() - t0, _cpu() - c0)
    if "-x" in stage:
        ledgers = ledgers * int(stage.split("-x")[1])
    result = {
        "dataset": name,
        "stage": stage,
        "threads": threads,
        "ledgers": len(ledgers),
        "xdr_bytes": sum(len(x) for x in ledgers),
        "events": None,
        "note": "" if spec.get("commitments", True) else "commitments not checked",
    }
    if stage == "fetch":
        best = fetch
        for _ in range(repeat - 1):
            t0, c0 = time.perf_counter(), _cpu()
            load_ledgers(spec)
            best = min(best, (time.perf_counter() - t0, _cpu() - c0))
    else:
        fn = RUNNERS[stage]
        fn(ledgers[:1], spec, threads)  # warm-up: imports, thread pool, schema check
        best = None
        for _ in range(1 if stage in SLOW else repeat):
            t0, c0 = time.perf_counter(), _cpu()
            events, _, inside = fn(ledgers, spec, threads)
            # The native stages time their calls only; the others, the whole run.
            took = inside or (time.perf_counter() - t0, _cpu() - c0)
            best = took if best is None else min(best, took)
            result["events"] = events
    result["seconds"], result["cpu_seconds"] = best
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _print_row(r: dict) -> None:
    mb = r["xdr_bytes"] / 1e6
    s, cpu = r["seconds"], r["cpu_seconds"]
    events = r["events"]
    eps = f"{events / s:>10.0f}" if events else f"{'':>10}"
    print(
        f"{r['dataset']:<22}{r['stage']:<14}{r['threads']:>3}{r['ledgers']:>8}{mb:>8.1f}"
        f"{r['ledgers'] / s:>11.1f}{mb / s:>9.1f}{mb / max(cpu, 1e-9):>11.1f}{eps}"
        f"{r['peak_mb']:>9.0f}  {r['note']}",
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per stage; the best is kept")
    ap.add_argument("--only", nargs="*", choices=STAGES, default=list(STAGES))
    ap.add_argument("--data", nargs="*", help="dataset names (default: all)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, stage, threads = args.child
        print(json.dumps(run_stage(name, stage, int(threads), args.repeat)))
        return 0
    rows = []
    print(
        f"{'dataset':<22}{'stage':<14}{'thr':>3}{'ledgers':>8}{'MB XDR':>8}{'ledgers/s':>11}"
        f"{'MB/s':>9}{'MB/s/core':>11}{'events/s':>10}{'peak MB':>9}  note"
    )
    for name in args.data or datasets():
        for stage in args.only:
            for threads in (1, 2) if stage in THREADED else (1,):
                proc = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--repeat",
                        str(args.repeat),
                        "--child",
                        name,
                        stage,
                        str(threads),
                    ],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "PYTHONHASHSEED": "0"},
                )
                if proc.returncode:
                    err = (proc.stderr.strip().splitlines() or ["?"])[-1]
                    print(f"{name:<22}{stage:<14}{threads:>3} failed: {err}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                rows.append(r)
                _print_row(r)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
