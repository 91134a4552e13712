"""Ledger assets: ``raw_ledgers`` from the source, and the decoded tables from it."""

from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds

from ...core import schemas
from ...core.errors import LedgerDataError
from ...core.pipeline.incremental import continued_stats, resume_base, stored_coverage
from ...core.pipeline.ledger_stage import DecodeWriters, decode_raw_batches, ingest_range
from ...core.storage.catalog import TABLE_FORMATS, io_manager_key
from ...core.storage.partitions_reader import PartitionedInput, PartitionStore
from ...core.storage.spool import PartitionedOutput, Spool, SpoolWriter
from ..partitions import backfill_policy, full_rebuild, ledger_ranges, run_ranges
from ..resources import LedgerSourceResource, NativeCoreResource, StellarNetwork
from ..runs import ProgressLog, column_schema, derive_from_raw, partition_failure, table_outs
from ..versions import code_version
from ..warehouse import WarehouseResource

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
    code_version=code_version(schemas.RAW_LEDGERS),
)
def raw_ledgers(
    context: dg.AssetExecutionContext,
    network: StellarNetwork,
    ledger_source: LedgerSourceResource,
    native_core: NativeCoreResource,
    warehouse: WarehouseResource,
) -> PartitionedOutput:
    net = network.get()
    core = native_core.get(net)
    source = ledger_source.open(net)
    stored = warehouse.store("raw_ledgers")
    spool = Spool("raw_ledgers")
    out = PartitionedOutput()
    progress = ProgressLog(context.log)
    try:
        for key, rng, first, last in run_ranges(context):
            cov = [stored_coverage(stored, key)]
            base = resume_base(cov, rng, last, full_rebuild(context), start=first)
            stats = continued_stats(key, rng, last, base, cov, start=first)
            writer = spool.writer(schemas.RAW_LEDGERS, stats)
            with partition_failure("raw_ledgers", key):
                try:
                    prev_hash = last_hash(stored, key, base) if base is not None else None
                    res = ingest_range(
                        source,
                        core,
                        rng,
                        last,
                        writer,
                        resume_after=base if base is not None else first - 1,
                        previous_hash=prev_hash,
                    )
                except BaseException:
                    writer.abort()
                    raise
            stats.extra.update(xdr_bytes=res.xdr_bytes, network=net.name, new_ledgers=res.ledgers)
            out[key] = writer.close()
            progress.add(
                f"raw_ledgers {key}: {res.ledgers} new ledgers {res.first_ledger}-"
                f"{res.last_ledger} ({res.xdr_bytes} bytes of XDR) from {source.description}"
                + (f"; ledgers up to {base} kept from the stored partition" if base else "")
            )
    except BaseException:
        out.discard()
        spool.cleanup()
        raise
    finally:
        progress.flush()
    return out


def last_hash(store: PartitionStore, key: str, seq: int) -> bytes:
    """The stored hash of ledger ``seq``: the chain link a continued partition starts from."""
    rows = [
        r
        for b in store.batches(key, ["ledger_hash"], filter=ds.field("ledger_sequence") == seq)
        for r in b.column("ledger_hash").to_pylist()
    ]
    if len(rows) != 1:
        raise LedgerDataError(f"raw_ledgers {key}: stored partition has {len(rows)} rows for {seq}")
    return bytes.fromhex(rows[0])


RAW_DECODE_COLUMNS = ["ledger_sequence", "lcm_version", "lcm_xdr"]
DECODED_TABLES = {
    "ledgers": schemas.LEDGERS,
    "transactions": schemas.TRANSACTIONS,
    "operations": schemas.OPERATIONS,
}


@dg.multi_asset(
    outs=table_outs(DECODED_TABLES, GROUP),
    ins={"raw_ledgers": dg.AssetIn()},
    partitions_def=ledger_ranges,
    backfill_policy=backfill_policy,
)
def decoded_ledgers(
    context: dg.AssetExecutionContext,
    raw_ledgers: PartitionedInput,
    network: StellarNetwork,
    native_core: NativeCoreResource,
    warehouse: WarehouseResource,
) -> tuple[PartitionedOutput, PartitionedOutput, PartitionedOutput]:
    """Decode each raw ledger once into the ledgers, transactions and operations tables."""
    core = native_core.get(network.get())

    def decode(raw: Iterator[pa.RecordBatch], writers: dict[str, SpoolWriter]) -> str:
        n = decode_raw_batches(raw, core, DecodeWriters(**writers))
        writers["ledgers"].stats.extra["new_ledgers"] = n
        return (
            f"{n} new ledgers, {writers['transactions'].stats.rows} transactions, "
            f"{writers['operations'].stats.rows} operations"
        )

    outs = derive_from_raw(
        context,
        "decoded_ledgers",
        raw_ledgers,
        warehouse,
        DECODED_TABLES,
        RAW_DECODE_COLUMNS,
        decode,
    )
    return outs["ledgers"], outs["transactions"], outs["operations"]
