"""Token transfer assets: ``ttp_events`` and ``balance_changes`` from one decode per ledger."""

import dagster as dg
import pyarrow.dataset as ds

from ...core import schemas
from ...core.ledger_ranges import parse_key
from ...core.pipeline.events_stage import EventWriters, derive_events
from ...core.pipeline.incremental import continued_stats, resume_base, stored_coverage
from ...core.storage.catalog import TABLE_FORMATS, io_manager_key
from ...core.storage.partitions_reader import PartitionedInput
from ...core.storage.spool import PartitionedOutput, Spool
from ..partitions import backfill_policy, full_rebuild, ledger_ranges
from ..resources import StellarNetwork, TokenEventsConfig
from ..runs import column_schema, partition_failure
from ..warehouse import WarehouseResource

GROUP = "token_transfers"
TABLES = {"ttp_events": schemas.TTP_EVENTS, "balance_changes": schemas.BALANCE_CHANGES}


@dg.multi_asset(
    outs={
        name: dg.AssetOut(
            io_manager_key=io_manager_key(name),
            group_name=GROUP,
            kinds={TABLE_FORMATS[name]},
            description=schema.metadata[b"description"].decode(),
            metadata={"dagster/column_schema": column_schema(schema)},
        )
        for name, schema in TABLES.items()
    },
    ins={"raw_ledgers": dg.AssetIn()},
    partitions_def=ledger_ranges,
    backfill_policy=backfill_policy,
)
def token_transfers(
    context: dg.AssetExecutionContext,
    raw_ledgers: PartitionedInput,
    network: StellarNetwork,
    token_events: TokenEventsConfig,
    warehouse: WarehouseResource,
) -> tuple[PartitionedOutput, PartitionedOutput]:
    """Every token movement (transfer, mint, burn, clawback, fee) as the reference TTP derives
    it, and the balance changes of the ledger entries that the events must account for."""
    net = network.get()
    stores = {name: warehouse.store(name) for name in TABLES}
    spool = Spool("token_transfers")
    outs = {name: PartitionedOutput() for name in TABLES}
    try:
        for key, part in raw_ledgers.items():
            rng = parse_key(key)
            last = int(part.metadata()["ttp.last_ledger"])
            covs = [stored_coverage(s, key) for s in stores.values()]
            base = resume_base(covs, rng, last, full_rebuild(context))
            writers = {
                name: spool.writer(schema, continued_stats(key, rng, last, base, covs))
                for name, schema in TABLES.items()
            }
            new = None if base is None else ds.field("ledger_sequence") > base
            with partition_failure("token_transfers", key):
                try:
                    res = derive_events(
                        part.batches(["ledger_sequence", "lcm_xdr"], batch_size=32, filter=new),
                        net,
                        token_events.mode,
                        EventWriters(writers["ttp_events"], writers["balance_changes"]),
                    )
                except BaseException:
                    for w in writers.values():
                        w.abort()
                    raise
            writers["ttp_events"].stats.extra.update(
                {f"new_events_{t}": n for t, n in sorted(res.by_type.items())}
                | {f"new_ledgers_{m}": n for m, n in sorted(res.by_derivation.items())}
                | {"new_ledgers": res.ledgers}
            )
            for name, w in writers.items():
                outs[name][key] = w.close()
            context.log.info(
                f"token_transfers {key}: {res.ledgers} new ledgers, {res.events} events "
                f"{dict(res.by_type)}, derivation {dict(res.by_derivation)}"
                + (f"; ledgers up to {base} kept from the stored partition" if base else "")
            )
    except BaseException:
        for o in outs.values():
            o.discard()
        spool.cleanup()
        raise
    return outs["ttp_events"], outs["balance_changes"]
