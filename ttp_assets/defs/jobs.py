"""The jobs: every asset of a run's partitions, and the checks alone."""

import dagster as dg

ALL_ASSETS_JOB = "ttp_all_assets"
RECHECK_JOB = "ttp_recheck"
# Not about a partition's data but about the whole table's age: it has its own job and
# schedule (defs.live.freshness), never runs inside a partition's run.
FRESHNESS_CHECK = dg.AssetCheckKey(dg.AssetKey("ttp_events"), "ttp_events_freshness")

all_assets_job = dg.define_asset_job(
    ALL_ASSETS_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(FRESHNESS_CHECK),
    description="Every asset of the ledger-range partitions, with their checks.",
)

recheck_job = dg.define_asset_job(
    RECHECK_JOB,
    selection=dg.AssetSelection.all_asset_checks() - dg.AssetSelection.checks(FRESHNESS_CHECK),
    description="Every asset check, re-run over stored partitions (nothing is rewritten).",
)
