"""A CLI backfill end to end, its wall time split into per-ledger compute and fixed cost.

    .venv/bin/python benchmarks/cli_backfill.py [--lake pubnet-p26] [--width 2] [--first F --last L]

Runs ``python -m ttp_assets.cli backfill FIRST LAST`` in this process (so that the native core
and the lake reads can be timed from inside) into temporary storage and a fresh DAGSTER_HOME
holding the project's dagster.yaml, and prints:

  total      wall and CPU of the whole command (imports, instance creation, runs, checks)
  native     wall time inside the native ledger core (verification, decoding, the TTP, Arrow)
  lake       wall time reading and decompressing lake objects
  fixed      the rest: Dagster (runs, steps, events), storage writes and commits, the checks

The default is the whole of lake/pubnet-p26 (10 ledgers, 63092982-63092991, 10.6 MB of XDR,
6,534 token events) in partitions of 2 ledgers (ranges are aligned: 63092982 is even), so one
ranged run of 5 partitions materializes every asset and runs every check.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", default="pubnet-p26")
    ap.add_argument("--network", default="pubnet")
    ap.add_argument("--width", type=int, default=2)
    ap.add_argument("--first", type=int, default=63092982)
    ap.add_argument("--last", type=int, default=63092991)
    args = ap.parse_args()

    root = Path(os.environ.get("TTP_SHARED_DATA", REPO.parent / "shared" / "data"))
    lake = root / "lake" / args.lake
    if not (lake / ".config.json").is_file():
        raise SystemExit(f"lake not found at {lake} (set TTP_SHARED_DATA)")
    tmp = Path(tempfile.mkdtemp(prefix="ttp-cli-backfill-"))
    home = tmp / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    os.environ.update(
        DAGSTER_HOME=str(home),
        TTP_NETWORK=args.network,
        TTP_LAKE_URI=str(lake),
        TTP_STORAGE_URI=str(tmp / "data"),
        TTP_PARTITION_WIDTH=str(args.width),
    )
    wall0, cpu0 = time.perf_counter(), _cpu()

    import ttp_assets.core.native as native
    import ttp_assets.core.sources.datalake as datalake

    spent = {"native": 0.0, "lake": 0.0}
    xdr = [0]

    def timed(name, fn):  # type: ignore[no-untyped-def]
        def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] += time.perf_counter() - t

        return wrapper

    process = native.LedgerCore.process

    def counted(self, lcm, tables, **kw):  # type: ignore[no-untyped-def]
        out = process(self, lcm, tables, **kw)
        if "raw_ledgers" in tables:
            xdr[0] += out.xdr_bytes
        return out

    native.LedgerCore.process = timed("native", counted)  # type: ignore[method-assign]
    datalake.decompress_zstd = timed("lake", datalake.decompress_zstd)

    from ttp_assets.cli import main as cli

    code = cli(["backfill", str(args.first), str(args.last)])
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    shutil.rmtree(tmp, ignore_errors=True)
    ledgers = args.last - args.first + 1
    fixed = wall - spent["native"] - spent["lake"]
    print(
        f"\ncli backfill {args.first}-{args.last} (lake/{args.lake}, {ledgers} ledgers, "
        f"{xdr[0] / 1e6:.1f} MB of XDR, partitions of {args.width}): exit {code}\n"
        f"  total   {wall:6.2f} s wall, {cpu:6.2f} s CPU\n"
        f"  native  {spent['native']:6.2f} s wall (verify, decode, TTP, Arrow: all 3 asset steps)\n"
        f"  lake    {spent['lake']:6.2f} s wall (read + zstd)\n"
        f"  fixed   {fixed:6.2f} s wall (interpreter and imports, Dagster runs/steps/events, "
        f"storage writes and commits, checks)"
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
