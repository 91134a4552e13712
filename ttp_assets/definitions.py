"""The one ``Definitions`` object of the project (``dagster dev`` loads this module)."""

from __future__ import annotations

import dagster as dg

from .defs.analytics.assets import (
    AnalyticsConfig,
    analytics_partials,
    analytics_rollups,
    token_metadata,
)
from .defs.analytics.checks import ANALYTICS_CHECKS
from .defs.jobs import (
    ALL_ASSETS_JOB,
    all_assets_job,
    analytics_partials_job,
    analytics_rollups_job,
    recheck_job,
)
from .defs.ledgers.assets import decoded_ledgers, raw_ledgers
from .defs.ledgers.checks import LEDGER_CHECKS
from .defs.live.alerts import AlertsResource, run_failure_alerts
from .defs.live.freshness import (
    FreshnessConfig,
    freshness_job,
    freshness_schedule,
    ttp_events_freshness,
)
from .defs.live.schedules import SCHEDULES, maintenance_job
from .defs.live.sensors import LiveConfig, ledger_tail
from .defs.resources import build_resources
from .defs.ttp.assets import token_transfers
from .defs.ttp.checks import TTP_CHECKS
from .defs.warehouse import WarehouseResource
from .settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    assets = [
        raw_ledgers,
        decoded_ledgers,
        token_transfers,
        token_metadata,
        analytics_partials,
        analytics_rollups,
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=[*LEDGER_CHECKS, *TTP_CHECKS, *ANALYTICS_CHECKS, ttp_events_freshness],
        jobs=[
            all_assets_job,
            recheck_job,
            maintenance_job,
            analytics_partials_job,
            analytics_rollups_job,
            freshness_job,
        ],
        sensors=[ledger_tail, run_failure_alerts],
        schedules=[*SCHEDULES, freshness_schedule],
        resources={
            **build_resources(settings),
            "warehouse": WarehouseResource(storage_uri=settings.storage_uri),
            "alerts": AlertsResource(webhook_url=settings.alert_webhook_url),
            "freshness": FreshnessConfig(max_lag_s=settings.freshness_max_lag_s),
            "analytics": AnalyticsConfig(
                small_below=settings.analytics_small_below,
                large_from=settings.analytics_large_from,
            ),
            "live": LiveConfig(
                start_ledger=settings.live_start_ledger,
                max_ledgers_per_tick=settings.live_max_ledgers_per_tick,
                partition_width=settings.partition_width,
                repair_attempts=settings.live_repair_attempts,
            ),
        },
    )


defs = build_definitions()


__all__ = ["ALL_ASSETS_JOB", "build_definitions", "defs"]
