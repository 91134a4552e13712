"""The one ``Definitions`` object of the project (``dagster dev`` loads this module)."""

from __future__ import annotations

import dagster as dg

from .defs.ledgers.assets import decoded_ledgers, raw_ledgers
from .defs.ledgers.checks import LEDGER_CHECKS
from .defs.resources import build_resources
from .defs.ttp.assets import token_transfers
from .defs.ttp.checks import TTP_CHECKS
from .defs.warehouse import WarehouseResource
from .settings import Settings

ALL_ASSETS_JOB = "ttp_all_assets"


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    assets = [raw_ledgers, decoded_ledgers, token_transfers]
    all_assets = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.assets(*assets),
        description="Every asset of the ledger-range partitions, with their checks.",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=[*LEDGER_CHECKS, *TTP_CHECKS],
        jobs=[all_assets],
        resources={
            **build_resources(settings),
            "warehouse": WarehouseResource(storage_uri=settings.storage_uri),
        },
    )


defs = build_definitions()
