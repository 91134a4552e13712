"""Analytics assets: ``token_metadata`` (the SEP-41 metadata the ledgers show, made by the
native core from ``raw_ledgers``) and ``analytics_partials`` (ledger-range partitioned, one run
per range like every other asset), and ``analytics_rollups`` (hours and days, unpartitioned).

The rollups are not ledger-range partitioned: an hour or a day spans several ranges, and it is
reported once. They are kept up to date by automation (they run when a partial partition lands)
and recompute only the periods that changed (``core.analytics.rollups``).
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pyarrow as pa
from pydantic import Field

from ...core import schemas
from ...core.analytics.categories import AmountCategories
from ...core.analytics.partials import (
    EVENT_COLUMNS,
    LEDGER_COLUMNS,
    OPERATION_COLUMNS,
    TRANSACTION_COLUMNS,
    compute_partials,
)
from ...core.analytics.rollups import period_span, top_assets_markdown, update_rollups
from ...core.pipeline.events_stage import derive_token_metadata
from ...core.storage.catalog import io_manager_key, table_format
from ...core.storage.location import open_location
from ...core.storage.partitions_reader import PartitionedInput
from ...core.storage.rollup_store import RollupStore
from ...core.storage.spool import PartitionedOutput, PartitionStats, Spool, SpoolWriter
from ..partitions import backfill_policy, ledger_ranges
from ..resources import NativeCoreResource, StellarNetwork, TokenEventsConfig
from ..runs import ProgressLog, column_schema, derive_from_raw, partition_failure, table_outs
from ..warehouse import WarehouseResource

GROUP = "analytics"
PARTIALS = schemas.ANALYTICS_PARTIAL_TABLES
ROLLUPS = schemas.ROLLUP_TABLES
FULL_ROLLUP_TAG = "ttp/analytics_full"

# A partial partition follows its sources; the rollups follow any partial partition, one run at
# a time (they share the rollup state), never while a partial run is still writing.
PARTIALS_AUTOMATION = dg.AutomationCondition.eager()
ROLLUPS_AUTOMATION = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.any_deps_in_progress()
).with_label("a partial partition changed")


class AnalyticsConfig(dg.ConfigurableResource):
    """Transfer amount categories in whole token units (``core.analytics.categories``)."""

    small_below: int = Field(default=100, description="Transfers below this are small")
    large_from: int = Field(default=100_000, description="Transfers from this on are large")

    def categories(self) -> AmountCategories:
        return AmountCategories(self.small_below, self.large_from)


METADATA_TABLES = schemas.CORE_ANALYTICS_TABLES


@dg.multi_asset(
    outs=table_outs(METADATA_TABLES, GROUP),
    ins={"raw_ledgers": dg.AssetIn()},
    partitions_def=ledger_ranges,
    backfill_policy=backfill_policy,
)
def token_metadata(
    context: dg.AssetExecutionContext,
    raw_ledgers: PartitionedInput,
    network: StellarNetwork,
    token_events: TokenEventsConfig,
    native_core: NativeCoreResource,
    warehouse: WarehouseResource,
) -> PartitionedOutput:
    """The SEP-41 METADATA (decimals, name, symbol) of every contract instance the range's
    ledgers create, update or restore: the source of the token decimals the rollups use."""
    core = native_core.get(network.get(), token_events.mode)

    def derive(raw: Iterator[pa.RecordBatch], writers: dict[str, SpoolWriter]) -> str:
        writer = writers["token_metadata"]
        ledgers = derive_token_metadata(raw, core, writer)
        return f"{ledgers} new ledgers, {writer.stats.rows} metadata rows"

    outs = derive_from_raw(
        context,
        "token_metadata",
        raw_ledgers,
        warehouse,
        dict(METADATA_TABLES),
        ["ledger_sequence", "lcm_xdr"],
        derive,
    )
    return outs["token_metadata"]


def _outs() -> dict[str, dg.AssetOut]:
    return {
        name: dg.AssetOut(
            io_manager_key=io_manager_key(name),
            group_name=GROUP,
            kinds={table_format(name), "duckdb"},
            description=schema.metadata[b"description"].decode(),
            metadata={"dagster/column_schema": column_schema(schema)},
            automation_condition=PARTIALS_AUTOMATION,
        )
        for name, schema in PARTIALS.items()
    }


@dg.multi_asset(
    outs=_outs(),
    ins={
        "ttp_events": dg.AssetIn(),
        "ledgers": dg.AssetIn(),
        "transactions": dg.AssetIn(),
        "operations": dg.AssetIn(),
    },
    partitions_def=ledger_ranges,
    backfill_policy=backfill_policy,
)
def analytics_partials(
    context: dg.AssetExecutionContext,
    ttp_events: PartitionedInput,
    ledgers: PartitionedInput,
    transactions: PartitionedInput,
    operations: PartitionedInput,
    analytics: AnalyticsConfig,
) -> tuple[PartitionedOutput, PartitionedOutput, PartitionedOutput, PartitionedOutput]:
    """What each ledger range contributes to the hourly and daily analytics, computed in
    DuckDB from the range's stored events, ledgers, transactions and operations."""
    categories = analytics.categories()
    spool = Spool("analytics_partials")
    outs = {name: PartitionedOutput() for name in PARTIALS}
    progress = ProgressLog(context.log)
    try:
        for key, part in ledgers.items():
            meta = part.metadata()
            with partition_failure("analytics_partials", key):
                tables = compute_partials(
                    ttp_events[key].read(EVENT_COLUMNS),
                    part.read(LEDGER_COLUMNS),
                    transactions[key].read(TRANSACTION_COLUMNS),
                    operations[key].read(OPERATION_COLUMNS),
                    categories,
                )
            for name, table in tables.items():
                # Coverage is the ledgers', whatever the table's rows: the rollups read it.
                stats = PartitionStats(
                    key,
                    int(meta["ttp.first_ledger"]),
                    int(meta["ttp.last_ledger"]),
                    meta.get("ttp.complete") == "true",
                    min_close_time=int(meta["ttp.first_close_time"]),
                    max_close_time=int(meta["ttp.last_close_time"]),
                )
                writer = spool.writer(PARTIALS[name], stats)
                for batch in table.to_batches():
                    writer.write(batch)
                outs[name][key] = writer.close()
            progress.add(
                f"analytics_partials {key}: "
                + ", ".join(f"{n} {t.num_rows} rows" for n, t in tables.items())
            )
    except BaseException:
        for o in outs.values():
            o.discard()
        spool.cleanup()
        raise
    finally:
        progress.flush()
    return tuple(outs[name] for name in PARTIALS)


def _rollup_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            name,
            group_name=GROUP,
            deps=[*PARTIALS, *METADATA_TABLES],
            kinds={"delta", "duckdb"},
            description=schema.metadata[b"description"].decode(),
            metadata={"dagster/column_schema": column_schema(schema)},
            automation_condition=ROLLUPS_AUTOMATION,
        )
        for name, schema in ROLLUPS.items()
    ]


@dg.multi_asset(specs=_rollup_specs(), pool="analytics_rollups", can_subset=False)
def analytics_rollups(context: dg.AssetExecutionContext, warehouse: WarehouseResource):  # type: ignore[no-untyped-def]
    """Hourly and daily figures per asset and for the network, exact across partition edges:
    recomputes only the periods that the partitions changed since the last run touch."""
    location = open_location(warehouse.storage_uri)
    full = context.run.tags.get(FULL_ROLLUP_TAG, "").lower() in ("1", "true", "yes")
    update = update_rollups(location, full=full)
    first, last, complete_days, incomplete_days = period_span(location)
    top = top_assets_markdown(location)
    context.log.info(
        f"analytics_rollups: {update.recomputed} period(s) recomputed from "
        f"{len(update.sources)} partition(s); changed partitions {update.dirty}"
    )
    for name in ROLLUPS:
        store = RollupStore(location, name)
        meta: dict[str, Any] = {
            "dagster/row_count": store.row_count(),
            "rows_written": update.rows.get(name, 0),
            "hours_recomputed": len(update.periods.get("hour", [])),
            "days_recomputed": len(update.periods.get("day", [])),
            "changed_partitions": ", ".join(update.dirty) or "none",
            "source_partitions": len(update.sources),
            "first_period": first or "none",
            "last_period_end": last or "none",
            "complete_days": complete_days,
            "incomplete_days": incomplete_days,
            "location": dg.MetadataValue.path(store.display()),
        }
        if name in update.versions:
            meta["delta_version"] = update.versions[name]
        if name == "asset_activity":
            meta["top_assets_by_volume"] = dg.MetadataValue.md(top)
        yield dg.MaterializeResult(asset_key=name, metadata=meta)
