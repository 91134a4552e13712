"""How far the stored data lags the network: a freshness check, run every few minutes.

Dagster's own freshness policies measure the time since an asset was last materialized; a
live tail that materializes every 30 s but keeps failing on the same ledger, or that follows a
stalled source, would look fresh to them. This check measures what a user of the data sees: the
newest ledger stored in *every* table, how many ledgers it is behind the source's tip, and how
old its close time is. It fails (severity WARN: nothing downstream should stop) past
``TTP_FRESHNESS_MAX_LAG_S`` seconds, or when the tip cannot be read.
"""

from __future__ import annotations

import time

import dagster as dg
from pydantic import Field

from ...core.ledger_ranges import parse_key
from ...core.pipeline.incremental import stored_coverage
from ...core.sources.base import SourceError
from ...core.storage.catalog import TABLE_FORMATS
from ..jobs import FRESHNESS_CHECK
from ..resources import LedgerSourceResource, StellarNetwork
from ..warehouse import WarehouseResource
from .sensors import LiveConfig, source_tip

FRESHNESS_JOB = "ttp_freshness"


class FreshnessConfig(dg.ConfigurableResource):
    max_lag_s: int = Field(
        default=300, description="TTP_FRESHNESS_MAX_LAG_S: oldest acceptable newest close time"
    )


def newest_stored(warehouse: WarehouseResource) -> tuple[int, int | None] | None:
    """(ledger, its close time in unix seconds) of the newest ledger every table holds."""
    newest: list[tuple[int, int | None]] = []
    for table in TABLE_FORMATS:
        store = warehouse.store(table)
        keys = sorted(store.committed_keys(), key=lambda k: parse_key(k).start)
        cov = stored_coverage(store, keys[-1]) if keys else None
        if cov is None:
            return None
        newest.append((cov.last, cov.last_close_time))
    return min(newest, key=lambda n: n[0])


@dg.asset_check(
    asset="ttp_events",
    name=FRESHNESS_CHECK.name,
    blocking=False,
    description="The newest ledger stored in every table is at most TTP_FRESHNESS_MAX_LAG_S "
    "seconds old (WARN), with its distance to the source's tip.",
)
def ttp_events_freshness(
    network: StellarNetwork,
    ledger_source: LedgerSourceResource,
    warehouse: WarehouseResource,
    live: LiveConfig,
    freshness: FreshnessConfig,
) -> dg.AssetCheckResult:
    warn = dg.AssetCheckSeverity.WARN
    newest = newest_stored(warehouse)
    if newest is None:
        return dg.AssetCheckResult(
            passed=False, severity=warn, description="no ledger is stored in every table yet"
        )
    ledger, closed_at = newest
    metadata: dict[str, int | float | str] = {"newest_ledger": ledger}
    age = None if closed_at is None else max(0.0, time.time() - closed_at)
    if age is not None:
        metadata["lag_seconds"] = round(age, 1)
    source = ledger_source.open(network.get())
    try:
        tip = source_tip(source, ledger, live.max_ledgers_per_tick)
    except SourceError as exc:
        return dg.AssetCheckResult(
            passed=False,
            severity=warn,
            description=f"cannot read the tip from {source.description}: {exc}",
            metadata=metadata,
        )
    metadata |= {"tip": tip, "lag_ledgers": max(0, tip - ledger)}
    fresh = age is not None and age <= freshness.max_lag_s
    said = "unknown" if age is None else f"{age:.0f} s"
    return dg.AssetCheckResult(
        passed=fresh,
        severity=warn,
        description=(
            f"newest ledger in every table: {ledger}, {max(0, tip - ledger)} behind the tip "
            f"{tip}, closed {said} ago (limit {freshness.max_lag_s} s)"
        ),
        metadata=metadata,
    )


freshness_job = dg.define_asset_job(
    FRESHNESS_JOB,
    selection=dg.AssetSelection.checks(ttp_events_freshness),
    description="The freshness check alone (see freshness_every_5_minutes).",
)

freshness_schedule = dg.ScheduleDefinition(
    name="freshness_every_5_minutes",
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    job=freshness_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
