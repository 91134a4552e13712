"""Deployment settings: every knob a deployment turns, read from the environment in one place.

| variable | default | meaning |
|---|---|---|
| TTP_NETWORK | pubnet | network name (pubnet, testnet, futurenet, ...) or full passphrase |
| TTP_SOURCE | lake | where ledgers come from: lake, rpc, or lake+rpc (lake, then RPC) |
| TTP_LAKE_URI | the public pubnet lake | SEP-54 data lake: a folder or s3://bucket/prefix |
| TTP_RPC_URL | (none) | Stellar RPC endpoint, for TTP_SOURCE=rpc or lake+rpc |
| TTP_STORAGE_URI | ./.ttp_data | where the assets are stored: a folder or s3://bucket/prefix |
| TTP_PARTITION_WIDTH | 1000 | ledgers per partition (see core.ledger_ranges) |
| TTP_EVENTS_MODE | auto | token-event derivation: auto, derived or unified |
| TTP_LAKE_WORKERS | 16 | concurrent object fetches from the lake |
| TTP_RPC_TIMEOUT_S | 60 | RPC response timeout, seconds |
| TTP_SOURCE_RETRY_ATTEMPTS | 5 | attempts per lake/RPC request on transient failures |
| TTP_LIVE_START_LEDGER | 0 | live tail: first ledger to follow (0: the partition holding the tip) |
| TTP_LIVE_MAX_LEDGERS_PER_TICK | 10000 | live tail: most ledgers one sensor tick requests |
| TTP_LIVE_REPAIR_ATTEMPTS | 3 | live tail: re-runs of a partition left short behind the cursor |
| TTP_NATIVE_THREADS | 0 | threads of the native ledger core per run (0: every core) |
| TTP_FRESHNESS_MAX_LAG_S | 300 | freshness check: most seconds since the newest stored close |
| TTP_ALERT_WEBHOOK_URL | (none) | failed runs are posted there as JSON (and always logged) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .core.ledger_ranges import DEFAULT_WIDTH
from .core.storage.location import PUBNET_PUBLIC_LAKE

SOURCE_KINDS = ("lake", "rpc", "lake+rpc")
EVENT_MODES = ("auto", "derived", "unified")


@dataclass(frozen=True)
class Settings:
    network: str = "pubnet"
    source: str = "lake"
    lake_uri: str = PUBNET_PUBLIC_LAKE
    rpc_url: str = ""
    storage_uri: str = ".ttp_data"
    partition_width: int = DEFAULT_WIDTH
    events_mode: str = "auto"
    lake_workers: int = 16
    rpc_timeout_s: float = 60.0
    source_retry_attempts: int = 5
    live_start_ledger: int = 0
    live_max_ledgers_per_tick: int = 10_000
    live_repair_attempts: int = 3
    native_threads: int = 0
    alert_webhook_url: str = ""
    freshness_max_lag_s: int = 300
    # Transfer amount categories, in whole token units (core.analytics.categories).
    analytics_small_below: int = 100
    analytics_large_from: int = 100_000

    def __post_init__(self) -> None:
        if self.source not in SOURCE_KINDS:
            raise ValueError(f"TTP_SOURCE must be one of {SOURCE_KINDS}, not {self.source!r}")
        if self.events_mode not in EVENT_MODES:
            raise ValueError(f"TTP_EVENTS_MODE must be one of {EVENT_MODES}")
        if self.partition_width < 1:
            raise ValueError("TTP_PARTITION_WIDTH must be a positive number of ledgers")
        if self.source_retry_attempts < 1:
            raise ValueError("TTP_SOURCE_RETRY_ATTEMPTS must be at least 1")
        if self.native_threads < 0:
            raise ValueError("TTP_NATIVE_THREADS must be 0 (every core) or a number of threads")
        if not 0 < self.analytics_small_below <= self.analytics_large_from:
            raise ValueError(
                "TTP_ANALYTICS_SMALL_BELOW and TTP_ANALYTICS_LARGE_FROM need "
                "0 < small below <= large from (whole token units)"
            )
        if "rpc" in self.source and not self.rpc_url:
            raise ValueError(f"TTP_SOURCE={self.source} needs TTP_RPC_URL")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        d = cls()
        storage = e.get("TTP_STORAGE_URI") or d.storage_uri
        if "://" not in storage:
            storage = str(Path(storage).expanduser().resolve())
        return cls(
            network=e.get("TTP_NETWORK") or d.network,
            source=e.get("TTP_SOURCE") or d.source,
            lake_uri=e.get("TTP_LAKE_URI") or d.lake_uri,
            rpc_url=e.get("TTP_RPC_URL") or d.rpc_url,
            storage_uri=storage,
            partition_width=int(e.get("TTP_PARTITION_WIDTH") or d.partition_width),
            events_mode=e.get("TTP_EVENTS_MODE") or d.events_mode,
            lake_workers=int(e.get("TTP_LAKE_WORKERS") or d.lake_workers),
            rpc_timeout_s=float(e.get("TTP_RPC_TIMEOUT_S") or d.rpc_timeout_s),
            source_retry_attempts=int(
                e.get("TTP_SOURCE_RETRY_ATTEMPTS") or d.source_retry_attempts
            ),
            live_start_ledger=int(e.get("TTP_LIVE_START_LEDGER") or d.live_start_ledger),
            live_max_ledgers_per_tick=int(
                e.get("TTP_LIVE_MAX_LEDGERS_PER_TICK") or d.live_max_ledgers_per_tick
            ),
            native_threads=int(e.get("TTP_NATIVE_THREADS") or d.native_threads),
            live_repair_attempts=int(e.get("TTP_LIVE_REPAIR_ATTEMPTS") or d.live_repair_attempts),
            alert_webhook_url=e.get("TTP_ALERT_WEBHOOK_URL") or d.alert_webhook_url,
            freshness_max_lag_s=int(e.get("TTP_FRESHNESS_MAX_LAG_S") or d.freshness_max_lag_s),
            analytics_small_below=int(
                e.get("TTP_ANALYTICS_SMALL_BELOW") or d.analytics_small_below
            ),
            analytics_large_from=int(e.get("TTP_ANALYTICS_LARGE_FROM") or d.analytics_large_from),
        )
