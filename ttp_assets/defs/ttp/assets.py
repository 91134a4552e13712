"""Token transfer assets: ``ttp_events`` and ``balance_changes`` from one decode per ledger."""

from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from ...core import schemas
from ...core.pipeline.events_stage import EventWriters, derive_events
from ...core.storage.partitions_reader import PartitionedInput
from ...core.storage.spool import PartitionedOutput, SpoolWriter
from ..partitions import backfill_policy, ledger_ranges
from ..resources import NativeCoreResource, StellarNetwork, TokenEventsConfig
from ..runs import derive_from_raw, table_outs
from ..warehouse import WarehouseResource

GROUP = "token_transfers"
TABLES = {"ttp_events": schemas.TTP_EVENTS, "balance_changes": schemas.BALANCE_CHANGES}


@dg.multi_asset(
    outs=table_outs(TABLES, GROUP),
    ins={"raw_ledgers": dg.AssetIn()},
    partitions_def=ledger_ranges,
    backfill_policy=backfill_policy,
)
def token_transfers(
    context: dg.AssetExecutionContext,
    raw_ledgers: PartitionedInput,
    network: StellarNetwork,
    token_events: TokenEventsConfig,
    native_core: NativeCoreResource,
    warehouse: WarehouseResource,
) -> tuple[PartitionedOutput, PartitionedOutput]:
    """Every token movement (transfer, mint, burn, clawback, fee) as the reference TTP derives
    it, and the balance changes of the ledger entries that the events must account for."""
    core = native_core.get(network.get(), token_events.mode)

    def derive(raw: Iterator[pa.RecordBatch], writers: dict[str, SpoolWriter]) -> str:
        res = derive_events(
            raw, core, EventWriters(writers["ttp_events"], writers["balance_changes"])
        )
        writers["ttp_events"].stats.extra.update(
            {f"new_events_{t}": n for t, n in sorted(res.by_type.items())}
            | {f"new_ledgers_{m}": n for m, n in sorted(res.by_derivation.items())}
            | {"new_ledgers": res.ledgers}
        )
        return (
            f"{res.ledgers} new ledgers, {res.events} events {dict(res.by_type)}, "
            f"derivation {dict(res.by_derivation)}"
        )

    outs = derive_from_raw(
        context,
        "token_transfers",
        raw_ledgers,
        warehouse,
        TABLES,
        ["ledger_sequence", "lcm_xdr"],
        derive,
    )
    return outs["ttp_events"], outs["balance_changes"]
