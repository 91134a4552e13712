"""``python -m flight_gateway``: serve the storage the IO managers write over Arrow Flight.

Settings come from the environment (see ``flight_gateway.config``); flags override them. On
start it prints one JSON line to stdout, ``{"event": "ready", "location": ..., "metrics": ...}``
(for supervisors and tests), and logs JSON lines to stderr. SIGINT / SIGTERM stop it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from . import logs
from .config import GatewayConfig


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m flight_gateway", description=__doc__.splitlines()[0]
    )
    p.add_argument("--storage", help="storage URI (TTP_STORAGE_URI)")
    p.add_argument("--host", help="interface (TTP_FLIGHT_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="Flight port (TTP_FLIGHT_PORT, default 8815)")
    p.add_argument("--metrics-port", help="metrics port or 'off' (TTP_FLIGHT_METRICS_PORT)")
    p.add_argument("--tls-cert", help="PEM certificate (TTP_FLIGHT_TLS_CERT)")
    p.add_argument("--tls-key", help="PEM key (TTP_FLIGHT_TLS_KEY)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.storage:
        overrides["storage_uri"] = args.storage
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.metrics_port is not None:
        mp = args.metrics_port.lower()
        overrides["metrics_port"] = None if mp in ("off", "none") else int(mp)
    if args.tls_cert:
        overrides["tls_cert"] = args.tls_cert
    if args.tls_key:
        overrides["tls_key"] = args.tls_key
    try:
        config = GatewayConfig.from_env(**overrides).validate()
    except (ValueError, OSError) as exc:
        print(f"flight_gateway: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_level)

    from .server import GatewayServer  # after the config is known to be usable

    # Signals go to sigwait below, in every thread (gRPC's threads inherit this mask).
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        server = GatewayServer(config)
    except (ValueError, OSError) as exc:
        print(f"flight_gateway: cannot start: {exc}", file=sys.stderr)
        return 2
    server.start()
    ready = {
        "event": "ready",
        "location": server.location,
        "metrics": server.metrics_server.url if server.metrics_server else None,
    }
    print(json.dumps(ready), flush=True)
    received = signal.sigwait(stop_signals)
    logs.event("gateway_stopping", signal=signal.Signals(received).name)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
