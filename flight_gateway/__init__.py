"""Arrow Flight gateway: serves the committed assets to any Flight client, without Dagster.

Run it with ``python -m flight_gateway`` (or ``bash scripts/gateway.sh``); see the README.
Nothing here imports Dagster: the gateway reads storage through ``ttp_assets.core``.
"""
