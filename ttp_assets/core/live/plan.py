"""What one tick of the live tail does: which ledgers it covers and which runs it requests.

Pure arithmetic over ledger numbers, so the sensor stays thin and the rules are testable:

- the cursor is the last ledger runs were requested for; a tick covers the ledgers after it, up
  to the network's tip, but at most ``max_ledgers`` of them (a long outage is caught up in
  bounded steps instead of flooding the run queue);
- closed partitions (their range ended at or before the tip) are grouped into ranged runs of at
  most ``per_run`` consecutive partitions;
- the partition holding the tip gets its own run up to the tip; it is materialized incomplete
  and continued by later ticks, each run processing only the ledgers it adds;
- a new deployment starts at ``start_ledger``, or by default at the start of the partition
  holding the tip (the current range is complete once it closes; history is a backfill).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ledger_ranges import LedgerRange, range_for, ranges_covering


@dataclass(frozen=True)
class PlannedRun:
    keys: list[str]
    through: int  # last ledger to materialize
    open: bool  # the last partition is still filling up

    @property
    def run_key(self) -> str:
        """Identifies the request; the same tick planned twice asks for the same run once."""
        return f"{self.keys[0]}..{self.keys[-1]}@{self.through}"


@dataclass
class TickPlan:
    first: int
    last: int
    runs: list[PlannedRun] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [k for r in self.runs for k in r.keys]


def initial_cursor(tip: int, width: int, start_ledger: int | None) -> int:
    """The cursor of a deployment's first tick: the ledger before the first one to follow."""
    start = start_ledger if start_ledger else tip
    return range_for(start, width).first_ledger - 1


def plan_tick(cursor: int, tip: int, width: int, max_ledgers: int, per_run: int) -> TickPlan | None:
    """The runs for ledgers ``cursor + 1 ..``; None when there is nothing new."""
    if tip <= cursor:
        return None
    first = cursor + 1
    last = min(tip, cursor + max_ledgers)
    plan = TickPlan(first, last)
    batch: list[LedgerRange] = []
    for rng in ranges_covering(first, last, width):
        if rng.end <= last:
            batch.append(rng)
            if len(batch) == per_run:
                plan.runs.append(PlannedRun([r.key for r in batch], batch[-1].end, False))
                batch = []
        else:
            if batch:
                plan.runs.append(PlannedRun([r.key for r in batch], batch[-1].end, False))
                batch = []
            plan.runs.append(PlannedRun([rng.key], last, True))
    if batch:
        plan.runs.append(PlannedRun([r.key for r in batch], batch[-1].end, False))
    return plan
