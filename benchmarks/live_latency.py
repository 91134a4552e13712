"""Live-tail latency and bytes per tick: from a ledger appearing on Stellar RPC to its token
events being readable, and what storage the tick wrote.

    .venv/bin/python benchmarks/live_latency.py [--lake pubnet-p26|testnet-2022] [--per-step K]

A local JSON-RPC server (the test server) serves the real ledgers of a shared lake
(../shared/data/lake/pubnet-p26 by default: 10 ledgers of today's pubnet, ~1 MB of XDR each;
or the 160 testnet ledgers of testnet-2022); the tip advances by K ledgers per step, then one
sensor tick is evaluated and its runs executed in process (what the daemon does), and the events
of the new ledgers are read back from the Delta table. Printed per step: the seconds from the
tip moving to the events being readable, the XDR of the new ledgers, and the bytes the tick wrote
to storage (every file created or replaced during it, from the file system), in total and for
``raw_ledgers``. An open partition grows by a segment per tick, so the bytes follow the new
ledgers, not the partition; the tick that completes a partition compacts it (``closes``). In
production add the sensor's interval (30 s) and the run launcher's start-up to the seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# (network, first ledger, last ledger, partition width): widths chosen so that the lake's first
# ledger starts a partition (the tail fills it from its first ledger, as at the tip).
LAKES = {
    "pubnet-p26": ("pubnet", 63092982, 63092991, 6),
    "testnet-2022": ("testnet", 1410048, 1410207, 64),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", choices=sorted(LAKES), default="pubnet-p26")
    ap.add_argument("--per-step", type=int, default=1, help="ledgers the tip advances per step")
    args = ap.parse_args()

    import pyarrow.dataset as ds

    from ttp_assets.core.ledger_ranges import parse_key
    from ttp_assets.core.storage.catalog import open_store
    from ttp_assets.core.storage.location import open_location
    from ttp_assets.definitions import build_definitions
    from ttp_assets.settings import Settings
    from ttp_assets_tests.live_harness import LiveDriver, written_since
    from ttp_assets_tests.rpc_server import RpcTestServer

    network, first, last, width = LAKES[args.lake]
    with tempfile.TemporaryDirectory() as tmp, RpcTestServer.from_lake(args.lake) as rpc:
        settings = Settings(
            network=network,
            source="rpc",
            rpc_url=rpc.url,
            storage_uri=tmp,
            partition_width=width,
            live_start_ledger=first,
        )
        driver = LiveDriver(build_definitions(settings))
        events = open_store(open_location(tmp), "ttp_events")
        print(
            f"{'tip':>9}{'new':>5}{'seconds':>9}{'XDR bytes':>11}{'written':>10}"
            f"{'raw_ledgers':>12}{'events':>8}  partition"
        )
        latencies, ratios = [], []
        tip = first - 1
        while tip + args.per_step <= last:
            tip += args.per_step
            rpc.advance_to(tip)
            since = time.time_ns() - 50_000_000  # file mtimes may lag the clock slightly
            t0 = time.perf_counter()
            tick = driver.tick()
            key = tick.requests[0].partition_key
            new = ds.field("ledger_sequence") > tip - args.per_step
            got = sum(b.num_rows for b in events.batches(key, ["ledger_sequence"], filter=new))
            dt = time.perf_counter() - t0
            assert all(r.success for r in tick.runs)
            xdr = sum(len(rpc.lcm(s)) for s in range(tip - args.per_step + 1, tip + 1))
            w = written_since(tmp, since)
            closes = tip == parse_key(key).end
            if tip >= first + args.per_step and not closes:  # steady state: appends
                latencies.append(dt)
                ratios.append(sum(w.values()) / xdr)
            print(
                f"{tip:>9}{args.per_step:>5}{dt:>9.2f}{xdr:>11,}{sum(w.values()):>10,}"
                f"{w.get('raw_ledgers', 0):>12,}{got:>8}  {key}{' closes' if closes else ''}"
            )
        latencies.sort()
        ratios.sort()
        print(
            f"\nappending ticks: ledger on RPC -> events readable median "
            f"{latencies[len(latencies) // 2]:.2f} s, max {latencies[-1]:.2f} s; bytes written "
            f"per byte of new XDR median {ratios[len(ratios) // 2]:.2f}, max {ratios[-1]:.2f} "
            "(plus the sensor interval of 30 s in production)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
