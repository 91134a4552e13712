"""Fixtures for the source tests: a real Stellar RPC server on loopback, a sleep recorder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ttp_assets.core.sources.retry import RetryPolicy
from ttp_assets_tests.rpc_server import RpcTestServer


class SleepRecorder:
    """Stands in for ``time.sleep`` in a :class:`RetryPolicy`: records, never sleeps."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    def policy(self, attempts: int = 4) -> RetryPolicy:
        return RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=20.0, sleep=self)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def rpc_server() -> Iterator[RpcTestServer]:
    """A fresh server over the 160 testnet ledgers 1410048-1410207, tip at the last one."""
    with RpcTestServer.from_lake("testnet-2022") as server:
        yield server
