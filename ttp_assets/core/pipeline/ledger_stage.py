"""The ledger stage: source -> verified ``raw_ledgers`` rows -> decoded table rows.

Plain functions over iterators and spool writers; the Dagster assets only call them. All the
per-ledger work (verification, decoding, row building) is the native core's
(``core.native``); Python moves batches of ledgers between the source, the core and the spool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from ..errors import LedgerDataError
from ..ledger_ranges import LedgerRange
from ..native import DECODED, RAW, LedgerCore
from ..sources.base import LedgerSource, MissingLedgerError, SourcedLedger
from ..storage.spool import SpoolWriter

log = logging.getLogger(__name__)

# Ledgers per raw batch: large enough to keep both cores busy and Parquet pages efficient,
# small enough that a batch of modern 2 MB ledgers stays around 100 MB in memory.
RAW_BATCH_LEDGERS = 48


@dataclass
class IngestResult:
    first_ledger: int
    last_ledger: int
    ledgers: int
    xdr_bytes: int
    last_hash: bytes | None


def _batches(ledgers: Iterable[SourcedLedger], size: int) -> Iterator[list[SourcedLedger]]:
    batch: list[SourcedLedger] = []
    for led in ledgers:
        batch.append(led)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_range(
    source: LedgerSource,
    core: LedgerCore,
    rng: LedgerRange,
    through: int,
    writer: SpoolWriter,
    *,
    resume_after: int | None = None,
    previous_hash: bytes | None = None,
) -> IngestResult:
    """Fetch ledgers of ``rng`` up to ``through``, verify them and spool raw rows.

    Each ledger must be the one asked for, in order, with a header that hashes to its recorded
    hash, a tx set and results that hash to the header's commitments, transactions that pair
    with their envelopes under the network's passphrase, and an unbroken hash chain (from
    ``previous_hash``, the hash of the ledger before, when known). With ``resume_after``, only
    ledgers after it are fetched (the caller keeps the earlier rows).
    """
    first = rng.first_ledger if resume_after is None else resume_after + 1
    expected = first
    count = size = 0
    last_hash = previous_hash
    for batch in _batches(source.ledgers(first, through), RAW_BATCH_LEDGERS):
        for i, led in enumerate(batch):
            if led.sequence != expected + i:
                raise LedgerDataError(
                    f"{led.origin}: source returned ledger {led.sequence} where "
                    f"{expected + i} was expected"
                )
        result = core.process(
            [led.lcm for led in batch],
            [RAW],
            first_sequence=expected,
            previous_hash=last_hash,
            labels=[led.origin for led in batch],
        )
        for raw in result.tables[RAW]:
            writer.write(raw)
        count += result.ledgers
        size += result.xdr_bytes
        expected += result.ledgers
        last_hash = result.last_hash
    if expected != through + 1:
        raise MissingLedgerError(
            f"source stopped after ledger {expected - 1}: ledgers {expected}-{through} are missing"
        )
    return IngestResult(first, through, count, size, last_hash)


def ledger_labels(batch: pa.RecordBatch) -> list[str]:
    """``ledger <sequence>`` for each stored raw ledger, to name it in errors."""
    return [f"ledger {s}" for s in batch.column("ledger_sequence").to_pylist()]


@dataclass
class DecodeWriters:
    ledgers: SpoolWriter
    transactions: SpoolWriter
    operations: SpoolWriter


def decode_raw_batches(
    raw: Iterable[pa.RecordBatch], core: LedgerCore, writers: DecodeWriters
) -> int:
    """Decode raw-ledger batches into the three decoded tables; returns ledgers decoded."""
    n = 0
    for batch in raw:
        result = core.process(batch.column("lcm_xdr"), DECODED, labels=ledger_labels(batch))
        for name in DECODED:
            for out in result.tables[name]:
                getattr(writers, name).write(out)
        n += result.ledgers
    return n
