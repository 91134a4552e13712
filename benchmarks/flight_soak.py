"""Soak: the Flight gateway behind its front, 32 authorized readers under an unauthenticated flood.

    .venv/bin/python benchmarks/flight_soak.py [--seconds 60] [--readers 32] [--flooders 4]

1. Data: the real asset graph materializes the 160 real testnet ledgers of
   ``../shared/data/lake/testnet-2022`` into a temporary store (as the tests do).
2. Servers, on loopback: the gateway (``python -m flight_gateway``, default limits: 32 streams,
   8 per token, 72 MiB per stream, 30 s stall timeout) and a 2.25 GiB memory budget (32 streams:
   the default 1 GiB admits 14) with four reader tokens, and in front of it the real nginx with
   ``deploy/flight-front``'s configuration (TLS).
3. For ``--seconds``: ``--readers`` clients (8 per token) read four tickets in a loop through
   the front, each result checked against its expected row count; ``--flooders`` clients send
   oversized tickets (16 MiB), garbage tickets and made-up tokens, each over a new connection;
   ``/healthz`` is asked and the gateway's RSS read from ``/proc`` every 0.2 s
   (``ttp_assets_tests/flight/soak.py``).

Prints the counts (authorized reads and their errors, flood answers by kind, ``/healthz``
answers and worst latency) and the gateway's RSS (baseline, sampled maximum, VmHWM peak) against
its memory budget. Exits 1 if an authorized read failed, a flood call got anything but its
refusal, or ``/healthz`` failed once.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow.flight as fl  # noqa: E402

from flight_gateway.config import GatewayConfig  # noqa: E402
from ttp_assets_tests.flight.conftest import (  # noqa: E402
    KEYS,
    _write_pki,
    settings_at,
    spawn_gateway,
    stored,
    ticket,
)
from ttp_assets_tests.flight.front import start_front  # noqa: E402
from ttp_assets_tests.flight.soak import run_soak  # noqa: E402
from ttp_assets_tests.harness import TESTNET_FIRST, TESTNET_LAST, materialize  # noqa: E402

TOKENS = [f"soak-benchmark-reader-{n}-0123456789abcdef" for n in range(4)]
BUDGET = 32 * GatewayConfig("unused").stream_memory  # every reader's stream admitted at once


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--readers", type=int, default=32)
    p.add_argument("--flooders", type=int, default=4)
    p.add_argument("--oversized-mib", type=int, default=16)
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="ttp-soak-") as tmp:
        root = Path(tmp)
        settings = settings_at(root / "store")
        result = materialize(settings, TESTNET_FIRST, TESTNET_LAST)
        if not result.success:
            print("materializing the test ledgers failed", file=sys.stderr)
            return 2
        tickets = [
            (ticket(asset="ttp_events"), stored(settings, "ttp_events").num_rows),
            (
                ticket(asset="raw_ledgers", partitions=[KEYS[2]]),
                stored(settings, "raw_ledgers", [KEYS[2]]).num_rows,
            ),
            (fl.Ticket(b"operations:1410048:1410207"), stored(settings, "operations").num_rows),
            (
                ticket(asset="ledgers", columns=["ledger_sequence"]),
                stored(settings, "ledgers").num_rows,
            ),
        ]
        gw = spawn_gateway(
            {
                "TTP_STORAGE_URI": settings.storage_uri,
                "TTP_FLIGHT_PORT": "0",
                "TTP_FLIGHT_METRICS_PORT": "0",
                "TTP_FLIGHT_TOKENS": ",".join(f"reader:{t}" for t in TOKENS),
                "TTP_FLIGHT_LOG_LEVEL": "WARNING",
                "TTP_FLIGHT_MEMORY_BUDGET": str(BUDGET),
            }
        )
        pki = _write_pki(_mkdir(root / "pki"))
        front = start_front(
            root / "front", gw.location.split("://", 1)[1], pki.server_cert, pki.server_key
        )
        try:
            assert gw.metrics is not None
            print(
                f"gateway {gw.location} (pid {gw.proc.pid}), front {front.location}; "
                f"{args.readers} readers, {args.flooders} flooders, {args.seconds:g} s",
                flush=True,
            )
            soak = run_soak(
                location=front.location,
                root_certs=pki.ca_cert.read_bytes(),
                metrics_url=gw.metrics,
                gateway_pid=gw.proc.pid,
                tokens=TOKENS,
                tickets=tickets,
                duration=args.seconds,
                readers=args.readers,
                flooders=args.flooders,
                oversized_bytes=args.oversized_mib << 20,
            )
            print(soak.report(BUDGET))
            metrics = urllib.request.urlopen(gw.metrics + "/metrics", timeout=10).read().decode()
            print("gateway counters:")
            for line in metrics.splitlines():
                if line.startswith(
                    (
                        "flight_gateway_requests_total",
                        "flight_gateway_streams_refused_total",
                        "flight_gateway_stalled_streams_total",
                    )
                ):
                    print(f"  {line}")
        finally:
            front.stop()
            code, log = gw.stop()
        for token in TOKENS:
            if token in log:
                print("a token appeared in the gateway's log", file=sys.stderr)
                return 1
        failed = soak.read_errors or soak.flood_unexpected or soak.health_failed
        return 1 if failed or code != 0 else 0


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
