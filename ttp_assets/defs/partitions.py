"""The ledger-range partitions every asset shares, and the run tags that shape a run.

Partitions are dynamic: a key exists once someone registers it (the live sensor, the main job,
the ``register-ranges`` command or the UI). Dagster orders dynamic keys by registration, so
ranges are always registered in ascending order, and assets process exactly the keys of their
run, never a range inferred from the order.
"""

from __future__ import annotations

import dagster as dg

from ..core.ledger_ranges import LedgerRange, keys_covering, parse_key

ledger_ranges = dg.DynamicPartitionsDefinition(name="ledger_ranges")

# Materialize only up to this ledger (the open range at the network's tip, or a short demo);
# partitions that end after it are written incomplete and say so in their metadata.
THROUGH_LEDGER_TAG = "ttp/through_ledger"
# Start a run's first partition at this ledger rather than at its range's first: a source that
# holds only part of a range (a lake starting mid-partition) still gives the ledgers it has, and
# the partition is stored incomplete with its coverage.
FROM_LEDGER_TAG = "ttp/from_ledger"
# Compute open partitions in full instead of continuing what is stored.
FULL_REBUILD_TAG = "ttp/full_rebuild"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# A ranged backfill processes this many partitions per run: long backfills are not one run per
# partition, and a failed run redoes at most this much work.
MAX_PARTITIONS_PER_RUN = 10
backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)


def run_ranges(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> list[tuple[str, LedgerRange, int, int]]:
    """(key, range, first and last ledger to materialize) for each partition of the run."""
    through_tag = context.run.tags.get(THROUGH_LEDGER_TAG)
    from_tag = context.run.tags.get(FROM_LEDGER_TAG)
    through = int(through_tag) if through_tag else None
    start = int(from_tag) if from_tag else None
    out = []
    for key in sorted(context.partition_keys):
        rng = parse_key(key)
        last = rng.end if through is None else min(rng.end, through)
        first = rng.first_ledger if start is None else max(rng.first_ledger, start)
        if last < first:
            raise ValueError(
                f"partition {key} holds no ledger of {FROM_LEDGER_TAG}={start} .. "
                f"{THROUGH_LEDGER_TAG}={through}: nothing to do"
            )
        out.append((key, rng, first, last))
    return out


def full_rebuild(context: dg.AssetExecutionContext) -> bool:
    return context.run.tags.get(FULL_REBUILD_TAG, "").lower() in ("1", "true", "yes")


# Up to this many keys are looked up one by one; more in one read of every registered key.
LOOKUP_KEYS = 32


def unregistered(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """``keys`` not registered yet, in order.

    The live tail's ticks and the main job touch a partition or two: those are looked up rather
    than reading every registered key (all of history, tens of thousands on pubnet) each time.
    """
    if len(keys) <= LOOKUP_KEYS:
        return [k for k in keys if not instance.has_dynamic_partition(ledger_ranges.name, k)]
    registered = set(instance.get_dynamic_partitions(ledger_ranges.name))
    return [k for k in keys if k not in registered]


def register_ranges(instance: dg.DagsterInstance, first: int, last: int, width: int) -> list[str]:
    """Register (idempotently, in ascending order) the partitions covering ``first..last``."""
    keys = keys_covering(first, last, width)
    new = unregistered(instance, keys)
    if new:
        register_in_order(instance, new)
    return keys


def register_in_order(instance: dg.DagsterInstance, new: list[str]) -> None:
    """Add ``new`` keys so that all registered keys stay in ledger order.

    Dagster orders dynamic partitions by registration, and a range backfill from the UI takes
    the keys between its ends in that order: history registered after the live tail registered
    the tip would land after the tip and a range would pick the wrong partitions. The keys
    registered above the lowest new one are therefore removed and registered again together
    with the new ones, sorted. Only registrations move: materializations and check results are
    recorded by key and stay.
    """
    registered = list(instance.get_dynamic_partitions(ledger_ranges.name))
    target = sorted(set(registered) | set(new), key=lambda k: parse_key(k).start)
    keep = 0
    while keep < len(registered) and registered[keep] == target[keep]:
        keep += 1
    for key in registered[keep:]:
        instance.delete_dynamic_partition(ledger_ranges.name, key)
    instance.add_dynamic_partitions(ledger_ranges.name, target[keep:])
