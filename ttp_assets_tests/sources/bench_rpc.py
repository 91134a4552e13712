"""Throughput of ``RpcSource.ledgers`` against the local test server (not a test).

    PYTHONPATH=. python -m ttp_assets_tests.sources.bench_rpc

Client and server share this process (and its GIL), so the numbers include the server's work:
they are a floor for the client over a real network, not a network benchmark.
"""

from __future__ import annotations

import time

from ttp_assets.core.network import STANDALONE_PASSPHRASE, TESTNET_PASSPHRASE, resolve_network
from ttp_assets.core.sources.rpc import RpcSource
from ttp_assets_tests.rpc_server import RpcTestServer, lake_ledgers
from ttp_assets_tests.shared_data import bench_files


def measure(label: str, server: RpcTestServer, passphrase: str, rounds: int) -> None:
    first, last = server.first_held, server.last_held
    for page_limit in (200, 50, 10):
        for prefetch in (True, False):
            src = RpcSource(
                server.url, resolve_network(passphrase), page_limit=page_limit, prefetch=prefetch
            )
            src.check_network()
            n = size = 0
            t0 = time.perf_counter()
            for _ in range(rounds):
                for led in src.ledgers(first, last):
                    n += 1
                    size += len(led.lcm)
            dt = time.perf_counter() - t0
            print(
                f"{label:<28} page_limit={page_limit:<3} prefetch={prefetch!s:<5} "
                f"{n / dt:8.0f} ledgers/s {size / dt / 1e6:7.1f} MB/s  ({n} ledgers, {dt:.2f} s)"
            )


def main() -> None:
    _, testnet = lake_ledgers("testnet-2022")
    with RpcTestServer(testnet, TESTNET_PASSPHRASE) as server:
        measure("testnet-2022 (4.8 KB/ledger)", server, TESTNET_PASSPHRASE, rounds=20)
    horizon = next(f for f in bench_files() if f.path.name.startswith("horizon-load-test"))
    with RpcTestServer(horizon.ledgers(), STANDALONE_PASSPHRASE) as server:
        measure("horizon load test (1.2 MB)", server, STANDALONE_PASSPHRASE, rounds=3)


if __name__ == "__main__":
    main()
