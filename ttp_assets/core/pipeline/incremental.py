"""Continuing an open partition: only the ledgers after what is stored are processed.

A partition at the network's tip is materialized many times while its range fills up. Each
time, an asset computes the ledgers after the last one its stored partition covers, and marks
its spool with that base ledger; the IO manager then keeps the stored rows up to the base and
commits them with the new rows as the partition's next version, atomically (see the IO
managers). A partition is continued only when every output of the asset covers a prefix of the
range that is still open; anything else (nothing stored, a complete partition, a different
start, a forced rebuild) is computed in full.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ledger_ranges import LedgerRange
from ..storage.partitions_reader import PartitionStore
from ..storage.spool import PartitionStats


@dataclass(frozen=True)
class Coverage:
    first: int
    last: int
    complete: bool
    first_close_time: int | None
    last_close_time: int | None


def stored_coverage(store: PartitionStore, key: str) -> Coverage | None:
    if not store.exists(key):
        return None
    meta = store.file_metadata(key)
    try:
        first_close = meta.get("ttp.first_close_time")
        last_close = meta.get("ttp.last_close_time")
        return Coverage(
            int(meta["ttp.first_ledger"]),
            int(meta["ttp.last_ledger"]),
            meta["ttp.complete"] == "true",
            int(first_close) if first_close else None,
            int(last_close) if last_close else None,
        )
    except KeyError:
        return None  # written without coverage metadata: rebuild it


def resume_base(
    coverages: list[Coverage | None],
    rng: LedgerRange,
    last: int,
    full_rebuild: bool = False,
    start: int | None = None,
) -> int | None:
    """The ledger after which to continue, or None to build the partition in full.

    ``start`` is the first ledger the partition is built from (the range's first, unless the
    source holds only a later part of it, see ``FROM_LEDGER_TAG``)."""
    if full_rebuild or not coverages or any(c is None for c in coverages):
        return None
    covs = [c for c in coverages if c is not None]
    first = rng.first_ledger if start is None else start
    if any(c.complete or c.first != first for c in covs):
        return None
    base = min(c.last for c in covs)
    return base if base <= last else None


def continued_stats(
    key: str,
    rng: LedgerRange,
    last: int,
    base: int | None,
    coverages: list[Coverage | None],
    start: int | None = None,
) -> PartitionStats:
    """Stats of a partition output, carrying the stored prefix's close times when continued.
    Complete only when it holds the whole range, from its first ledger to its last."""
    first = rng.first_ledger if start is None else start
    complete = first == rng.first_ledger and last == rng.end
    stats = PartitionStats(key, first, last, complete, base_ledger=base)
    if base is not None:
        covs = [c for c in coverages if c is not None]
        firsts = [c.first_close_time for c in covs if c.first_close_time is not None]
        lasts = [c.last_close_time for c in covs if c.last_close_time is not None]
        stats.min_close_time = min(firsts) if firsts else None
        stats.max_close_time = max(lasts) if lasts else None
    return stats
