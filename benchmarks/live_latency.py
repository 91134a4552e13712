"""Live-tail latency: from a ledger appearing on Stellar RPC to its token events being readable.

    .venv/bin/python benchmarks/live_latency.py [--steps N] [--per-step K]

A local JSON-RPC server (the test server) serves the 160 real testnet ledgers of
../shared/data/lake/testnet-2022; the tip advances by K ledgers per step, then one sensor tick
is evaluated and its runs executed in process (what the daemon does), and the events of the new
ledgers are read back from the Delta table. Printed per step: the seconds from the tip moving to
the events being readable, and the incremental work of the run (ledgers fetched and decoded,
rows of the partition rewritten). In production add the sensor's interval (30 s) and the run
launcher's start-up to this figure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--per-step", type=int, default=3, help="ledgers the tip advances per step")
    args = ap.parse_args()

    import pyarrow.dataset as ds

    from ttp_assets.core.storage.catalog import open_store
    from ttp_assets.core.storage.location import open_location
    from ttp_assets.definitions import build_definitions
    from ttp_assets.settings import Settings
    from ttp_assets_tests.harness import TESTNET_FIRST
    from ttp_assets_tests.live_harness import LiveDriver
    from ttp_assets_tests.rpc_server import RpcTestServer

    with tempfile.TemporaryDirectory() as tmp, RpcTestServer.from_lake("testnet-2022") as rpc:
        settings = Settings(
            network="testnet",
            source="rpc",
            rpc_url=rpc.url,
            storage_uri=tmp,
            partition_width=64,  # 1410048 is aligned: one open partition all along, as at the tip
        )
        driver = LiveDriver(build_definitions(settings))
        events = open_store(open_location(tmp), "ttp_events")
        tip = TESTNET_FIRST + 9
        rpc.advance_to(tip)
        driver.tick()
        print(f"{'tip':>9}{'new ledgers':>13}{'seconds':>9}{'rows rewritten':>16}{'events':>8}")
        latencies = []
        for _ in range(args.steps):
            tip += args.per_step
            rpc.advance_to(tip)
            t0 = time.perf_counter()
            tick = driver.tick()
            key = tick.requests[0].partition_key
            new = ds.field("ledger_sequence") > tip - args.per_step
            got = sum(b.num_rows for b in events.batches(key, ["ledger_sequence"], filter=new))
            dt = time.perf_counter() - t0
            latencies.append(dt)
            rows = int(events.file_metadata(key)["ttp.rows"])
            (run,) = tick.runs
            assert run.success
            print(f"{tip:>9}{args.per_step:>13}{dt:>9.2f}{rows:>16}{got:>8}")
        latencies.sort()
        print(
            f"\nledger on RPC -> events readable: median {latencies[len(latencies) // 2]:.2f} s, "
            f"max {latencies[-1]:.2f} s (plus the sensor interval of 30 s in production)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
