"""Blocking checks of the analytics: the aggregates add up to the events they come from, and
the completeness flags are right (``core.checks.analytics_checks``)."""

import dagster as dg
import pyarrow as pa

from ...core.checks.analytics_checks import (
    check_completeness,
    check_days_are_their_hours,
    check_days_are_their_partials,
    check_partials,
)
from ...core.checks.ledger_checks import CheckOutcome
from ...core.storage.catalog import open_store
from ...core.storage.location import open_location
from ...core.storage.partitions_reader import PartitionedInput
from ...core.storage.rollup_store import RollupStore
from ..check_results import CheckEvents, per_partition, single_result
from ..partitions import ledger_ranges
from ..warehouse import WarehouseResource


@dg.asset_check(
    asset="asset_hour_partials",
    blocking=True,
    partitions_def=ledger_ranges,
    additional_ins={
        "ttp_events": dg.AssetIn("ttp_events"),
        "ledgers": dg.AssetIn("ledgers"),
        "ledger_activity": dg.AssetIn("ledger_activity"),
    },
)
def analytics_partials_add_up(
    context: dg.AssetCheckExecutionContext,
    asset_hour_partials: PartitionedInput,
    ttp_events: PartitionedInput,
    ledgers: PartitionedInput,
    ledger_activity: PartitionedInput,
) -> CheckEvents:
    """Per partition: per asset and event type, the partials' counts and exact sums equal the
    events'; amount categories split the transfers; one ledger_activity row per ledger."""
    outcomes = {}
    for key, part in asset_hour_partials.items():
        outcomes[key] = out = CheckOutcome()
        check_partials(
            key,
            ttp_events[key].read(
                ["ledger_sequence", "event_type", "asset", "contract_id", "amount_raw"]
            ),
            ledgers[key].read(["ledger_sequence", "transaction_count"]),
            part.read(),
            ledger_activity[key].read(),
            out,
        )
    yield from per_partition(context, outcomes, "partials against events (asset, type)")


def _all_partitions(location, table: str, columns: list[str]) -> pa.Table:  # type: ignore[no-untyped-def]
    store = open_store(location, table)
    batches = [b for k in store.committed_keys() for b in store.batches(k, columns)]
    schema = pa.schema([store.schema.field(c) for c in columns])
    return pa.Table.from_batches(batches, schema=schema)


@dg.asset_check(asset="asset_activity", blocking=True)
def asset_activity_adds_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each day equals the sum of its hours, and per asset the days equal the partials of
    every stored partition: exact counts and sums."""
    location = open_location(warehouse.storage_uri)
    rollup = RollupStore(location, "asset_activity").read()
    partials = _all_partitions(
        location,
        "asset_hour_partials",
        ["asset_key", "metric", "event_count", "amount_hi", "amount_lo"],
    )
    out = CheckOutcome()
    check_days_are_their_hours(rollup, out)
    check_days_are_their_partials(rollup, partials, out)
    return single_result(out, "asset rollups against hours and partials")


@dg.asset_check(asset="network_activity", blocking=True)
def analytics_completeness(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every period of every rollup is flagged complete exactly when the stored ledgers
    (sequence numbers and close times of ledger_activity, not coverage records) hold all of it."""
    location = open_location(warehouse.storage_uri)
    ledgers = _all_partitions(location, "ledger_activity", ["ledger_sequence", "closed_at"])
    seqs = ledgers["ledger_sequence"].combine_chunks()
    closes = ledgers["closed_at"].combine_chunks().cast(pa.int64())
    out = CheckOutcome()
    for table in ("asset_activity", "network_activity", "network_operations"):
        rows = (
            RollupStore(location, table)
            .read()
            .select(["grain", "period_start", "period_end", "complete"])
        )
        check_completeness(rows, seqs, closes, out)
    return single_result(out, "completeness flags (periods)")


ANALYTICS_CHECKS = [analytics_partials_add_up, asset_activity_adds_up, analytics_completeness]
