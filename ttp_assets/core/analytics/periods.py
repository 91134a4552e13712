"""Periods (UTC hours and days), which periods a partition touches, and when one is complete.

Completeness, exactly: the ledgers that closed in a period [start, end) are a contiguous run of
sequence numbers (close times never decrease along the chain). Every one of them is
materialized when some run of stored, gap-free ledgers holds a ledger that closed before
``start`` and one that closed at or after ``end``: the ledgers just before and just after the
period are present with no sequence gap between them. Stored partitions cover contiguous
ledger ranges (the ``raw_ledgers_contiguous`` check), so the runs are the partitions' coverage
records merged where one ends right before the next begins; no ledger row is read.

A period at the edge of what is stored (the tip, or next to a missing partition) is therefore
incomplete, and becomes complete when the partition beside it lands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
GRAINS = {"hour": HOUR, "day": DAY}


@dataclass(frozen=True)
class Coverage:
    """The ledgers one stored partition holds, and their close times (epoch seconds)."""

    key: str
    first_ledger: int
    last_ledger: int
    first_close: int
    last_close: int


@dataclass(frozen=True)
class Run:
    """Stored ledgers with no sequence gap: first..last, closing first_close..last_close."""

    first_ledger: int
    last_ledger: int
    first_close: int
    last_close: int


def runs(coverages: Iterable[Coverage]) -> list[Run]:
    out: list[Run] = []
    for c in sorted(coverages, key=lambda c: c.first_ledger):
        if out and c.first_ledger <= out[-1].last_ledger + 1:
            prev = out[-1]
            out[-1] = Run(
                prev.first_ledger,
                max(prev.last_ledger, c.last_ledger),
                prev.first_close,
                max(prev.last_close, c.last_close),
            )
        else:
            out.append(Run(c.first_ledger, c.last_ledger, c.first_close, c.last_close))
    return out


def is_complete(start: dt.datetime, end: dt.datetime, stored: list[Run]) -> bool:
    s, e = int(start.timestamp()), int(end.timestamp())
    return any(r.first_close < s and r.last_close >= e for r in stored)


def floor(t: dt.datetime, grain: str) -> dt.datetime:
    t = t.astimezone(dt.UTC)
    if grain == "day":
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    return t.replace(minute=0, second=0, microsecond=0)


def epoch(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def hours_between(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    out, h = [], floor(first, "hour")
    while h <= last:
        out.append(h)
        h += HOUR
    return out


def touched_hours(c: Coverage) -> set[dt.datetime]:
    """The hours whose figures or completeness a partition can change: those its ledgers
    closed in, and one on each side, whose completeness rests on its first or last ledger
    (the ledger just before or after them)."""
    return set(hours_between(epoch(c.first_close) - HOUR, epoch(c.last_close) + HOUR))


def periods_of_hours(hours: Iterable[dt.datetime]) -> dict[str, set[dt.datetime]]:
    hs = set(hours)
    return {"hour": hs, "day": {floor(h, "day") for h in hs}}


def overlaps(c: Coverage, start: dt.datetime, end: dt.datetime) -> bool:
    return c.first_close < int(end.timestamp()) and c.last_close >= int(start.timestamp())
