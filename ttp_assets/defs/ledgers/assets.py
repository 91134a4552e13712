"""Ledger assets: ``raw_ledgers`` from the source, and the decoded tables from it."""

import dagster as dg

from ...core import schemas
from ...core.pipeline.ledger_stage import DecodeWriters, decode_raw_batches, ingest_range
from ...core.storage.catalog import TABLE_FORMATS, io_manager_key
from ...core.storage.partitions_reader import PartitionedInput
from ...core.storage.spool import PartitionedOutput, PartitionStats, Spool
from ..partitions import backfill_policy, ledger_ranges, run_ranges
from ..resources import LedgerSourceResource, StellarNetwork
from ..runs import column_schema, partition_failure

GROUP = "ledgers"


@dg.asset(
    partitions_def=ledger_ranges,
    backfill_policy=backfill_policy,
    io_manager_key=io_manager_key("raw_ledgers"),
    group_name=GROUP,
    kinds={TABLE_FORMATS["raw_ledgers"]},
    description=(
        "One row per ledger: the LedgerCloseMeta XDR as the source served it, verified on "
        "ingest (sequence, header hash, hash chain) with its header fields."
    ),
    metadata={"dagster/column_schema": column_schema(schemas.RAW_LEDGERS)},
)
def raw_ledgers(
    context: dg.AssetExecutionContext,
    network: StellarNetwork,
    ledger_source: LedgerSourceResource,
) -> PartitionedOutput:
    net = network.get()
    source = ledger_source.open(net)
    spool = Spool("raw_ledgers")
    out = PartitionedOutput()
    try:
        for key, rng, last in run_ranges(context):
            stats = PartitionStats(key, rng.first_ledger, last, complete=last == rng.end)
            writer = spool.writer(schemas.RAW_LEDGERS, stats)
            with partition_failure("raw_ledgers", key):
                try:
                    res = ingest_range(source, rng, last, writer)
                except BaseException:
                    writer.abort()
                    raise
            stats.extra.update(xdr_bytes=res.xdr_bytes, network=net.name)
            out[key] = writer.close()
            context.log.info(
                f"raw_ledgers {key}: {res.ledgers} ledgers {res.first_ledger}-{res.last_ledger}, "
                f"{res.xdr_bytes} bytes of XDR from {source.description}"
            )
    except BaseException:
        out.discard()
        spool.cleanup()
        raise
    return out


DECODED_TABLES = {
    "ledgers": schemas.LEDGERS,
    "transactions": schemas.TRANSACTIONS,
    "operations": schemas.OPERATIONS,
}


@dg.multi_asset(
    outs={
        name: dg.AssetOut(
            io_manager_key=io_manager_key(name),
            group_name=GROUP,
            kinds={TABLE_FORMATS["raw_ledgers"]},
            description=schema.metadata[b"description"].decode(),
            metadata={"dagster/column_schema": column_schema(schema)},
        )
        for name, schema in DECODED_TABLES.items()
    },
    ins={"raw_ledgers": dg.AssetIn()},
    partitions_def=ledger_ranges,
    backfill_policy=backfill_policy,
)
def decoded_ledgers(
    context: dg.AssetExecutionContext,
    raw_ledgers: PartitionedInput,
    network: StellarNetwork,
) -> tuple[PartitionedOutput, PartitionedOutput, PartitionedOutput]:
    """Decode each raw ledger once into the ledgers, transactions and operations tables."""
    net = network.get()
    spool = Spool("decoded")
    outs = {name: PartitionedOutput() for name in DECODED_TABLES}
    try:
        for key, part in raw_ledgers.items():
            meta = part.metadata()
            first, last = int(meta["ttp.first_ledger"]), int(meta["ttp.last_ledger"])
            complete = meta["ttp.complete"] == "true"
            writers = {
                name: spool.writer(schema, PartitionStats(key, first, last, complete))
                for name, schema in DECODED_TABLES.items()
            }
            with partition_failure("decoded_ledgers", key):
                try:
                    n = decode_raw_batches(
                        part.batches(["ledger_sequence", "lcm_version", "lcm_xdr"], batch_size=32),
                        net,
                        DecodeWriters(**writers),
                    )
                except BaseException:
                    for w in writers.values():
                        w.abort()
                    raise
            for name, w in writers.items():
                outs[name][key] = w.close()
            context.log.info(
                f"decoded {key}: {n} ledgers, {outs['transactions'][key].stats.rows} "
                f"transactions, {outs['operations'][key].stats.rows} operations"
            )
    except BaseException:
        for o in outs.values():
            o.discard()
        spool.cleanup()
        raise
    return outs["ledgers"], outs["transactions"], outs["operations"]
