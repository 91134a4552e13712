"""The ledger stage: source -> verified ``raw_ledgers`` rows -> decoded table rows.

Plain functions over iterators and spool writers; the Dagster assets only call them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from .. import schemas
from ..ledger_ranges import LedgerRange
from ..network import Network
from ..sources.base import LedgerSource, MissingLedgerError
from ..storage.spool import SpoolWriter
from ..tables.decoded import decoded_rows
from ..tables.rows import BatchBuilder
from ..xdr.framing import LedgerDataError, LedgerHeaderInfo, read_lcm_header, verify_header_hash
from ..xdr.lcm_decoder import decode_lcm
from ..xdr.ledger import decode_ledger, verify_network

log = logging.getLogger(__name__)

# Ledgers per raw batch: large enough for efficient Parquet pages, small enough that a batch of
# modern 2 MB ledgers stays around 100 MB in memory.
RAW_BATCH_LEDGERS = 48
DECODED_BATCH_ROWS = 50_000


@dataclass
class IngestResult:
    first_ledger: int
    last_ledger: int
    ledgers: int
    xdr_bytes: int
    last_hash: bytes | None


def verified_raw_rows(
    ledgers: Iterable, first: int, last: int, previous_hash: bytes | None = None
) -> Iterator[dict]:
    """Check each sourced ledger (sequence, header hash, hash chain) and yield its raw row.

    ``previous_hash`` is the hash of ledger ``first - 1`` when known (incremental runs).
    """
    expected = first
    prev = previous_hash
    for led in ledgers:
        where = led.origin
        if led.sequence != expected:
            raise LedgerDataError(
                f"{where}: source returned ledger {led.sequence} where {expected} was expected"
            )
        info = read_lcm_header(led.lcm, where)
        if info.sequence != led.sequence:
            raise LedgerDataError(
                f"{where}: holds ledger {info.sequence} where {led.sequence} was expected"
            )
        verify_header_hash(info, where)
        # The body must decode and hash to the header's commitments: a ledger is only stored
        # once every byte the network signed for is proven (meta is proven downstream).
        decode_lcm(led.lcm, where).verify_commitments(where)
        if prev is not None and info.previous_hash != prev:
            raise LedgerDataError(
                f"{where}: ledger {info.sequence} says the previous ledger hash is "
                f"{info.previous_hash.hex()} but ledger {info.sequence - 1} hashes to "
                f"{prev.hex()}: the hash chain is broken"
            )
        prev = info.ledger_hash
        yield raw_ledger_row(info, led.lcm)
        expected += 1
    if expected != last + 1:
        raise MissingLedgerError(
            f"source stopped after ledger {expected - 1}: ledgers {expected}-{last} are missing"
        )


def ingest_range(
    source: LedgerSource,
    rng: LedgerRange,
    through: int,
    writer: SpoolWriter,
    *,
    resume_after: int | None = None,
    previous_hash: bytes | None = None,
) -> IngestResult:
    """Fetch ledgers of ``rng`` up to ``through``, verify them and spool raw rows.

    With ``resume_after``, only ledgers after it are fetched (the caller has already written
    the earlier rows into ``writer``) and ``previous_hash`` must be that ledger's hash.
    """
    first = rng.first_ledger if resume_after is None else resume_after + 1
    builder = BatchBuilder(schemas.RAW_LEDGERS)
    count = size = 0
    last_hash = previous_hash
    for row in verified_raw_rows(source.ledgers(first, through), first, through, previous_hash):
        builder.append(row)
        count += 1
        size += len(row["lcm_xdr"])
        last_hash = bytes.fromhex(row["ledger_hash"])
        if len(builder) >= RAW_BATCH_LEDGERS:
            writer.write(builder.flush())
    if len(builder):
        writer.write(builder.flush())
    return IngestResult(first, through, count, size, last_hash)


@dataclass
class DecodeWriters:
    ledgers: SpoolWriter
    transactions: SpoolWriter
    operations: SpoolWriter


def decode_raw_batches(
    raw: Iterable[pa.RecordBatch], network: Network, writers: DecodeWriters
) -> int:
    """Decode raw-ledger batches into the three decoded tables; returns ledgers decoded."""
    b_led = BatchBuilder(schemas.LEDGERS)
    b_tx = BatchBuilder(schemas.TRANSACTIONS)
    b_op = BatchBuilder(schemas.OPERATIONS)
    n = 0
    for batch in raw:
        seqs = batch.column("ledger_sequence").to_pylist()
        versions = batch.column("lcm_version").to_pylist()
        blobs = batch.column("lcm_xdr")
        for i, seq in enumerate(seqs):
            ledger = decode_ledger(blobs[i].as_py(), network, where=f"ledger {seq}")
            verify_network(ledger)
            rows = decoded_rows(ledger, versions[i])
            b_led.append(rows.ledger)
            for r in rows.transactions:
                b_tx.append(r)
            for r in rows.operations:
                b_op.append(r)
            n += 1
            if len(b_op) >= DECODED_BATCH_ROWS or len(b_tx) >= DECODED_BATCH_ROWS:
                writers.transactions.write(b_tx.flush())
                writers.operations.write(b_op.flush())
        writers.ledgers.write(b_led.flush())
    writers.transactions.write(b_tx.flush())
    writers.operations.write(b_op.flush())
    return n


def raw_ledger_row(info: LedgerHeaderInfo, lcm: bytes) -> dict[str, object]:
    """One ``raw_ledgers`` row (schema ``RAW_LEDGERS``) of an LCM and its parsed header."""
    return {
        "ledger_sequence": info.sequence,
        "closed_at": info.close_time,
        "ledger_hash": info.ledger_hash.hex(),
        "previous_ledger_hash": info.previous_hash.hex(),
        "protocol_version": info.protocol_version,
        "lcm_version": info.lcm_version,
        "lcm_xdr": lcm,
    }
