"""Blocking checks that prove the stored token events against the ledgers."""

import dagster as dg

from ...core.checks.ledger_checks import CheckOutcome
from ...core.checks.ttp_checks import check_fee_totals, check_reconciliation
from ...core.storage.partitions_reader import PartitionedInput
from ..check_results import CheckEvents, per_partition
from ..check_scope import note_scope, scoped
from ..partitions import ledger_ranges


@dg.asset_check(
    asset="ttp_events",
    blocking=True,
    partitions_def=ledger_ranges,
    additional_ins={"balance_changes": dg.AssetIn("balance_changes")},
)
def ttp_events_reconcile(
    context: dg.AssetCheckExecutionContext,
    ttp_events: PartitionedInput,
    balance_changes: PartitionedInput,
) -> CheckEvents:
    """Per transaction, the balance deltas the events imply equal the ledger entries' changes
    (accounts, trustlines, claimable balances, liquidity pools), in exact integers. A
    continuing run checks the ledgers it appended (``defs.check_scope``)."""
    outcomes = {}
    for key, part in scoped(context, ttp_events, "ttp_events").items():
        outcomes[key] = out = CheckOutcome()
        check_reconciliation(part, balance_changes[key].scoped(part.since), out)
        note_scope(part, out)
    yield from per_partition(context, outcomes, "reconciliation (transactions)")


@dg.asset_check(
    asset="ttp_events",
    blocking=True,
    partitions_def=ledger_ranges,
    additional_ins={"ledgers": dg.AssetIn("ledgers")},
)
def ttp_events_fee_totals(
    context: dg.AssetCheckExecutionContext, ttp_events: PartitionedInput, ledgers: PartitionedInput
) -> CheckEvents:
    """Per ledger, fee events (charges net of refunds) sum to the fees charged."""
    outcomes = {}
    for key, part in scoped(context, ttp_events, "ttp_events").items():
        outcomes[key] = out = CheckOutcome()
        check_fee_totals(part, ledgers[key].scoped(part.since), out)
        note_scope(part, out)
    yield from per_partition(context, outcomes, "fee totals (ledgers)")


TTP_CHECKS = [ttp_events_reconcile, ttp_events_fee_totals]
