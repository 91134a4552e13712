"""The jobs: every asset of a run's partitions, and the checks alone."""

import dagster as dg

from ..core import schemas

ALL_ASSETS_JOB = "ttp_all_assets"
RECHECK_JOB = "ttp_recheck"
# Not about a partition's data but about the whole table's age: it has its own job and
# schedule (defs.live.freshness), never runs inside a partition's run.
FRESHNESS_CHECK = dg.AssetCheckKey(dg.AssetKey("ttp_events"), "ttp_events_freshness")
FRESHNESS = dg.AssetSelection.checks(FRESHNESS_CHECK)
ANALYTICS_PARTIALS_JOB = "ttp_analytics_partials"
ANALYTICS_ROLLUPS_JOB = "ttp_analytics_rollups"

ANALYTICS = dg.AssetSelection.groups("analytics")
# The rollups are the only assets not partitioned by ledger range (hours and days span ranges).
ROLLUP_KEYS = ("asset_activity", "network_activity", "network_operations")
ROLLUPS = dg.AssetSelection.assets(*ROLLUP_KEYS)

all_assets_job = dg.define_asset_job(
    ALL_ASSETS_JOB,
    selection=dg.AssetSelection.all() - ANALYTICS - FRESHNESS,
    description="Every ledger and token-transfer asset of the ledger-range partitions, with "
    "their checks (the analytics follow through automation or the ttp_analytics_* jobs).",
)

# The analytics checks run with the analytics jobs: the daily recheck picks partitions stored
# in every ledger and token table, whose analytics partials may not exist (yet).
recheck_job = dg.define_asset_job(
    RECHECK_JOB,
    selection=dg.AssetSelection.all_asset_checks()
    - dg.AssetSelection.checks_for_assets(*schemas.ANALYTICS_PARTIAL_TABLES, *ROLLUP_KEYS)
    - FRESHNESS,
    description="Every ledger and token-transfer check, re-run over stored partitions (nothing "
    "is rewritten).",
)

analytics_partials_job = dg.define_asset_job(
    ANALYTICS_PARTIALS_JOB,
    selection=ANALYTICS - ROLLUPS,
    description="The analytics partials of the run's ledger-range partitions, with checks.",
)

analytics_rollups_job = dg.define_asset_job(
    ANALYTICS_ROLLUPS_JOB,
    selection=ROLLUPS,
    description="Hourly and daily rollups: recomputes the periods changed partitions touch.",
)
