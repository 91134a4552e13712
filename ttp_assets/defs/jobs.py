"""The jobs: every asset of a run's partitions, and the checks alone."""

import dagster as dg

ALL_ASSETS_JOB = "ttp_all_assets"
RECHECK_JOB = "ttp_recheck"

all_assets_job = dg.define_asset_job(
    ALL_ASSETS_JOB,
    selection=dg.AssetSelection.all(),
    description="Every asset of the ledger-range partitions, with their checks.",
)

recheck_job = dg.define_asset_job(
    RECHECK_JOB,
    selection=dg.AssetSelection.all_asset_checks(),
    description="Every asset check, re-run over stored partitions (nothing is rewritten).",
)
