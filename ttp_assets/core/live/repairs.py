"""Which partitions behind the live cursor the tail must run again, and how often it may try.

The cursor moves when runs are requested, not when they succeed: a run that fails (an RPC
outage mid-run, a full disk, a failed check) leaves its partitions short behind the cursor, and
nothing would ask for them again. Each tick therefore looks back over the most recent
partitions it followed and re-requests those that are short and have no run in flight, at most
``max_attempts`` times each; one that keeps failing is given up on (said in the tick's log and
reported by the run-failure alerts) until ``cli backfill`` repairs it.

Pure bookkeeping over keys, so the rules are testable without a sensor.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ledger_ranges import parse_key, ranges_covering

# How far back each tick looks, in partitions: one tick requests at most ten ledgers' ranges of
# runs, so a failure is seen by the next ticks long before it leaves the window.
REPAIR_WINDOW = 20


@dataclass(frozen=True)
class Repair:
    key: str
    through: int  # the last ledger the partition should hold now
    attempt: int  # 1 for the first re-run
    reason: str

    @property
    def closed(self) -> bool:
        return self.through == parse_key(self.key).end

    @property
    def run_key(self) -> str:
        return f"{self.key}@{self.through}#repair{self.attempt}"


def window_keys(first_followed: int, cursor: int, width: int) -> list[str]:
    """The partitions holding ledgers ``first_followed..cursor``, the latest ``REPAIR_WINDOW``."""
    if cursor < first_followed:
        return []
    start = max(first_followed, cursor - REPAIR_WINDOW * width + 1)
    return [r.key for r in ranges_covering(start, cursor, width)]


def plan_repairs(
    cursor: int,
    short: dict[str, str],
    busy: set[str],
    attempts: dict[str, int],
    max_attempts: int,
) -> tuple[list[Repair], list[str], dict[str, int]]:
    """(repairs to request, keys given up on, the attempts to remember).

    ``short``: key -> why it is short, for the window's keys that are; ``busy``: keys a run is
    queued or running for (they are left alone, and so is their count).
    """
    repairs, given_up, remembered = [], [], {}
    for key, reason in short.items():
        done = attempts.get(key, 0)
        if key in busy:
            remembered[key] = done
            continue
        if done >= max_attempts:
            given_up.append(key)
            remembered[key] = done
            continue
        through = min(parse_key(key).end, cursor)
        repairs.append(Repair(key, through, done + 1, reason))
        remembered[key] = done + 1
    return repairs, given_up, remembered
