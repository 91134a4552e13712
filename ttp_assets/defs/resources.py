"""Resources: the deployment's network, ledger source and storage, chosen in one place."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from ..core.native import LedgerCore, ledger_core
from ..core.network import Network, resolve_network
from ..core.sources.base import LedgerSource, SourceConfigError
from ..core.sources.combined import LakeThenRpcSource
from ..core.sources.datalake import DataLakeSource
from ..core.sources.retry import RetryPolicy
from ..core.sources.rpc import MAX_PAGE_LIMIT, RpcSource, RpcTimeout
from ..core.storage.location import PUBNET_PUBLIC_LAKE
from ..settings import Settings
from .io_managers import DeltaIOManager, ParquetIOManager


class StellarNetwork(dg.ConfigurableResource):
    """The network this deployment follows; every hash and contract id depends on it."""

    network: str = Field(default="pubnet", description="Network name or full passphrase")

    def get(self) -> Network:
        return resolve_network(self.network)


class LedgerSourceResource(dg.ConfigurableResource):
    """Where ``raw_ledgers`` comes from: the data lake, Stellar RPC, or the lake then RPC."""

    kind: str = Field(default="lake", description="lake, rpc or lake+rpc")
    lake_uri: str = Field(default=PUBNET_PUBLIC_LAKE, description="SEP-54 data lake location")
    rpc_url: str = Field(default="", description="Stellar RPC endpoint")
    lake_workers: int = Field(default=16, description="Concurrent lake object fetches")
    rpc_page_limit: int = Field(
        default=MAX_PAGE_LIMIT, description="Ledgers per getLedgers request (1-200)"
    )
    rpc_connect_timeout_s: float = Field(default=5.0, description="RPC connect timeout (s)")
    rpc_read_timeout_s: float = Field(default=60.0, description="RPC response read timeout (s)")
    retry_attempts: int = Field(
        default=5, description="Attempts per request on transient failures (lake and RPC)"
    )

    def open(self, network: Network) -> LedgerSource:
        retry = RetryPolicy(attempts=self.retry_attempts)
        if self.kind == "lake":
            return DataLakeSource(
                self.lake_uri, network, max_workers=self.lake_workers, retry=retry
            )
        if self.kind in ("rpc", "lake+rpc"):
            if not self.rpc_url:
                raise SourceConfigError(
                    f"ledger source kind {self.kind!r} needs an RPC endpoint (TTP_RPC_URL)"
                )
            rpc = RpcSource(
                self.rpc_url,
                network,
                page_limit=self.rpc_page_limit,
                timeout=RpcTimeout(self.rpc_connect_timeout_s, self.rpc_read_timeout_s),
                retry=retry,
            )
            if self.kind == "rpc":
                return rpc
            lake = DataLakeSource(
                self.lake_uri, network, max_workers=self.lake_workers, retry=retry
            )
            return LakeThenRpcSource(lake, rpc)
        raise SourceConfigError(
            f"unknown ledger source kind {self.kind!r}: expected lake, rpc or lake+rpc"
        )


class TokenEventsConfig(dg.ConfigurableResource):
    """How token events are derived: ``auto`` picks, per ledger, ``unified`` where the ledger
    carries CAP-67 events (meta v4 with fee events) and ``derived`` elsewhere."""

    mode: str = Field(default="auto", description="auto, derived or unified")


class NativeCoreResource(dg.ConfigurableResource):
    """The native ledger core that verifies and decodes ledgers and derives token events."""

    threads: int = Field(default=0, description="Worker threads per run (0: every core)")

    def get(self, network: Network, mode: str = "auto") -> LedgerCore:
        return ledger_core(network, mode, self.threads)


def ledger_source_for(settings: Settings, kind: str | None = None) -> LedgerSourceResource:
    """The source the settings describe (``kind`` overrides ``TTP_SOURCE``, e.g. the lake
    alone for the main job's preflight)."""
    return LedgerSourceResource(
        kind=kind or settings.source,
        lake_uri=settings.lake_uri,
        rpc_url=settings.rpc_url,
        lake_workers=settings.lake_workers,
        rpc_read_timeout_s=settings.rpc_timeout_s,
        retry_attempts=settings.source_retry_attempts,
    )


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "network": StellarNetwork(network=settings.network),
        "ledger_source": ledger_source_for(settings),
        "token_events": TokenEventsConfig(mode=settings.events_mode),
        "native_core": NativeCoreResource(threads=settings.native_threads),
        "parquet_io_manager": ParquetIOManager(
            storage_uri=settings.storage_uri, network=settings.network
        ),
        "delta_io_manager": DeltaIOManager(
            storage_uri=settings.storage_uri, network=settings.network
        ),
    }
