"""Throughput and memory of each pipeline stage on the real ledgers in ../shared/data.

    .venv/bin/python benchmarks/bench.py [--repeat N] [--only STAGE ...] [--json out.json]

Every (dataset, stage) runs in its own process so that "peak MB" is that stage's own peak RSS.
Stages, each including the ones before it that it needs:

  fetch    read + zstd-decompress + split objects (the lake source; bench files from disk)
  xdr      decode LCM bytes into XDR objects (the hot path every later stage pays)
  ingest   fetch, then verify each ledger as raw_ledgers does (header hash, chain, tx-set and
           result commitments: a full XDR decode) and build the raw rows
  decode   decode LCMs and build the ledgers/transactions/operations rows
  events   decode LCMs and derive token transfer events (auto mode)
  parquet  write the raw_ledgers rows to Parquet (zstd) through the partition store

MB/s is megabytes of uncompressed LCM XDR per second. Datasets whose transactions hash under no
known passphrase (most load-test files: synthetic tx sets) run only the stages that need no
envelope pairing or commitment check; the table says which were skipped and why.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STAGES = ("fetch", "xdr", "ingest", "decode", "events", "parquet")


def datasets() -> dict[str, dict]:
    from ttp_assets_tests.shared_data import bench_files, lake_dir

    out: dict[str, dict] = {
        "lake/pubnet": {"lake": str(lake_dir("pubnet")), "network": "pubnet"},
        "lake/testnet-2022": {"lake": str(lake_dir("testnet-2022")), "network": "testnet"},
    }
    for f in bench_files():
        short = f.path.name.replace("load-test-ledgers", "lt").replace(".xdr.zstd", "")
        out[f"bench/{short[:22]}"] = {"files": [str(f.path)], "network": "standalone"}
    return out


def load_ledgers(spec: dict) -> list[bytes]:
    """All LCM bytes of a dataset (this is the 'fetch' stage for bench files)."""
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


def run_stage(name: str, stage: str, repeat: int) -> dict:
    from ttp_assets.core.network import resolve_network

    spec = datasets()[name]
    network = resolve_network(spec["network"])
    t0 = time.perf_counter()
    ledgers = load_ledgers(spec)
    fetch_s = time.perf_counter() - t0
    xdr_bytes = sum(len(x) for x in ledgers)
    result = {"dataset": name, "stage": stage, "ledgers": len(ledgers), "xdr_bytes": xdr_bytes}
    events = None
    skipped = None
    if stage == "fetch":
        seconds = fetch_s
        for _ in range(repeat - 1):
            t0 = time.perf_counter()
            load_ledgers(spec)
            seconds += time.perf_counter() - t0
        seconds /= repeat
    else:
        fn = {
            "xdr": _xdr,
            "ingest": _ingest,
            "decode": _decode,
            "events": _events,
            "parquet": _parquet,
        }[stage]
        seconds, events, skipped = _timed(fn, ledgers, network, repeat)
    result.update(
        seconds=seconds,
        events=events,
        skipped=skipped,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    return result


def _timed(fn, ledgers, network, repeat):  # type: ignore[no-untyped-def]
    best = None
    out = (None, None)
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(ledgers, network)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, out[0], out[1]


def _xdr(ledgers, network):  # type: ignore[no-untyped-def]
    from ttp_assets.core.xdr.lcm_decoder import decode_lcm

    for x in ledgers:
        decode_lcm(x, "bench")
    return None, None


def _ingest(ledgers, network):  # type: ignore[no-untyped-def]
    from ttp_assets.core.pipeline.ledger_stage import verified_raw_rows
    from ttp_assets.core.sources.base import SourcedLedger
    from ttp_assets.core.xdr.framing import LedgerDataError, read_lcm_header

    first = read_lcm_header(ledgers[0], "b").sequence
    contiguous = all(read_lcm_header(x, "b").sequence == first + i for i, x in enumerate(ledgers))
    if not contiguous:
        return None, "not a contiguous chain of ledgers"
    src = [SourcedLedger(first + i, x, "bench") for i, x in enumerate(ledgers)]
    try:
        rows = list(verified_raw_rows(src, first, first + len(ledgers) - 1))
    except LedgerDataError as exc:
        return None, f"refused: {str(exc)[:90]}"
    return len(rows), None


def _decode(ledgers, network):  # type: ignore[no-untyped-def]
    from ttp_assets.core.tables.decoded import decoded_rows
    from ttp_assets.core.xdr.ledger import decode_ledger

    from ttp_assets.core.xdr.framing import LedgerDataError

    ops = 0
    try:
        for x in ledgers:
            led = decode_ledger(x, network, verify=False)
            ops += len(decoded_rows(led, led.lcm.v).operations)
    except LedgerDataError as exc:
        return None, f"refused: {str(exc)[:90]}"
    return ops, None


def _events(ledgers, network):  # type: ignore[no-untyped-def]
    from ttp_assets.core.ttp import TokenTransferError, events_for_ledger
    from ttp_assets.core.xdr.ledger import decode_ledger

    from ttp_assets.core.xdr.framing import LedgerDataError

    n = 0
    try:
        for x in ledgers:
            n += len(events_for_ledger(decode_ledger(x, network, verify=False), network))
    except (LedgerDataError, TokenTransferError) as exc:
        return None, f"refused: {str(exc)[:90]}"
    return n, None


def _parquet(ledgers, network):  # type: ignore[no-untyped-def]
    from ttp_assets.core.tables.rows import BatchBuilder

    from ttp_assets.core import schemas
    from ttp_assets.core.pipeline.ledger_stage import RAW_BATCH_LEDGERS, raw_ledger_row
    from ttp_assets.core.storage.location import open_location
    from ttp_assets.core.storage.parquet_store import ParquetPartitionStore
    from ttp_assets.core.xdr.framing import read_lcm_header

    batches = []
    b = BatchBuilder(schemas.RAW_LEDGERS)
    for x in ledgers:
        info = read_lcm_header(x, "b")
        b.append(raw_ledger_row(info, x))
        if len(b) >= RAW_BATCH_LEDGERS:
            batches.append(b.flush())
    if len(b):
        batches.append(b.flush())
    with tempfile.TemporaryDirectory() as d:
        store = ParquetPartitionStore(open_location(d), "raw_ledgers", schemas.RAW_LEDGERS)
        store.write("0000000000-0000000999", batches)
    return None, None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per stage; the best is kept")
    ap.add_argument("--only", nargs="*", choices=STAGES, default=list(STAGES))
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_stage(args.child[0], args.child[1], args.repeat)))
        return 0
    rows = []
    print(
        f"{'dataset':<29}{'stage':<9}{'ledgers':>8}{'MB XDR':>8}{'s':>8}{'ledgers/s':>11}"
        f"{'MB/s':>8}{'events/s':>10}{'peak MB':>9}  note"
    )
    for name in datasets():
        for stage in args.only:
            proc = subprocess.run(
                [sys.executable, __file__, "--repeat", str(args.repeat), "--child", name, stage],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            if proc.returncode:
                print(f"{name:<29}{stage:<9} failed: {proc.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(r)
            mb = r["xdr_bytes"] / 1e6
            if r["skipped"]:
                print(f"{name:<29}{stage:<9}{r['ledgers']:>8}{mb:>8.1f}{'':>46}  {r['skipped']}")
                continue
            s = r["seconds"]
            eps = f"{r['events'] / s:>10.0f}" if stage == "events" and r["events"] else f"{'':>10}"
            note = f"{r['events']} events" if stage == "events" and r["events"] is not None else ""
            print(
                f"{name:<29}{stage:<9}{r['ledgers']:>8}{mb:>8.1f}{s:>8.2f}{r['ledgers'] / s:>11.1f}"
                f"{mb / s:>8.2f}{eps}{r['peak_mb']:>9.0f}  {note}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
