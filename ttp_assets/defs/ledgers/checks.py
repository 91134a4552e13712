"""Blocking checks on the stored ledger partitions; they run with every materialization.

A failed check stops the assets downstream of it in the same run (blocking) and names the
partition and ledger at fault. They read the committed files, so they also catch data changed
after it was written.
"""

from collections.abc import Callable

import dagster as dg

from ...core.checks.ledger_checks import (
    CheckOutcome,
    check_contiguity,
    check_fee_pool,
    check_hash_chain,
    check_header_hashes,
    inflation_ledgers,
    neighbour_keys,
)
from ...core.storage.partitions_reader import PartitionedInput
from ..check_results import CheckEvents, per_partition
from ..check_scope import note_scope, scoped
from ..partitions import ledger_ranges
from .assets import raw_ledgers


def _each(inp: PartitionedInput, fn: Callable[..., None]) -> dict[str, CheckOutcome]:
    outcomes = {}
    for key, part in inp.items():
        outcomes[key] = out = CheckOutcome()
        fn(part, out)
    return outcomes


@dg.asset_check(asset=raw_ledgers, blocking=True, partitions_def=ledger_ranges)
def raw_ledgers_contiguous(
    context: dg.AssetCheckExecutionContext, raw_ledgers: PartitionedInput
) -> CheckEvents:
    """Every ledger of each partition's range is present exactly once, and no other stored
    partition overlaps it."""
    stored = raw_ledgers.store.committed_keys()

    def one(part, out: CheckOutcome) -> None:  # type: ignore[no-untyped-def]
        check_contiguity(part, out, stored)

    yield from per_partition(context, _each(raw_ledgers, one), "contiguity")


@dg.asset_check(asset=raw_ledgers, blocking=True, partitions_def=ledger_ranges)
def raw_ledgers_hash_chain(
    context: dg.AssetCheckExecutionContext, raw_ledgers: PartitionedInput
) -> CheckEvents:
    """Each ledger names its predecessor's hash, inside the partition and across the
    boundaries with the neighbouring partitions that are materialized."""

    def one(part, out: CheckOutcome) -> None:  # type: ignore[no-untyped-def]
        before_key, after_key = neighbour_keys(part.key)
        before = raw_ledgers.neighbour(before_key) if before_key else None
        after = raw_ledgers.neighbour(after_key)
        check_hash_chain(part, before, after, out)

    yield from per_partition(context, _each(raw_ledgers, one), "hash chain")


@dg.asset_check(asset=raw_ledgers, blocking=True, partitions_def=ledger_ranges)
def raw_ledgers_header_hashes(
    context: dg.AssetCheckExecutionContext, raw_ledgers: PartitionedInput
) -> CheckEvents:
    """sha256 of every stored ledger header equals its recorded hash (of the ledgers a
    continuing run appended, when the stored ones passed before: ``defs.check_scope``)."""
    outcomes = {}
    for key, part in scoped(context, raw_ledgers, "raw_ledgers").items():
        outcomes[key] = out = CheckOutcome()
        check_header_hashes(part, out)
        note_scope(part, out)
    yield from per_partition(context, outcomes, "header hashes")


@dg.asset_check(
    asset="ledgers",
    blocking=True,
    partitions_def=ledger_ranges,
    additional_ins={"operations": dg.AssetIn("operations")},
)
def ledgers_fee_pool(
    context: dg.AssetCheckExecutionContext, ledgers: PartitionedInput, operations: PartitionedInput
) -> CheckEvents:
    """feePool(N) - feePool(N-1) equals the fees charged in ledger N (inflation ledgers, which
    pay out of the fee pool before protocol 12, are exempt and listed)."""
    outcomes = {}
    for key, part in scoped(context, ledgers, "ledgers").items():
        before_key, _ = neighbour_keys(key)
        before = ledgers.neighbour(before_key) if before_key else None
        outcomes[key] = out = CheckOutcome()
        skip = inflation_ledgers(operations[key].scoped(part.since))
        check_fee_pool(part, before if part.since is None else None, skip, out)
        note_scope(part, out)
    yield from per_partition(context, outcomes, "fee pool")


LEDGER_CHECKS = [
    raw_ledgers_contiguous,
    raw_ledgers_hash_chain,
    raw_ledgers_header_hashes,
    ledgers_fee_pool,
]
