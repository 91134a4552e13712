"""Ledger-range partitions: fixed-width, aligned ranges with keys that sort numerically.

A key is ``<start>-<end>`` with both numbers zero-padded to 10 digits (uint32 fits), e.g.
``0053312000-0053312999``. The key carries its own range, so parsing never needs the width;
the width is a deployment setting used when new keys are made and validated.

Width trade-off: Dagster recommends at most ~100,000 partitions per asset. Pubnet has ~64M
ledgers and grows by ~15,000 a day, so the default width of 1,000 gives ~64,000 partitions for
all of history today and stays under 100,000 for ~6 more years, while keeping one partition
small enough to re-materialize in minutes (1,000 modern pubnet ledgers are ~1.7 GB of XDR).
Wider ranges mean fewer, heavier partitions and a coarser unit of re-materialization.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_WIDTH = 1000
# Ledger 1 is genesis and has no LedgerCloseMeta; data lakes start at ledger 2.
FIRST_LEDGER = 2
MAX_LEDGER = 0xFFFFFFFF
_KEY = re.compile(r"^(\d{10})-(\d{10})$")


@dataclass(frozen=True, order=True)
class LedgerRange:
    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start <= self.end <= MAX_LEDGER):
            raise ValueError(f"invalid ledger range {self.start}-{self.end}")

    @property
    def key(self) -> str:
        return f"{self.start:010d}-{self.end:010d}"

    @property
    def first_ledger(self) -> int:
        """The first ledger that can exist in this range."""
        return max(self.start, FIRST_LEDGER)

    @property
    def width(self) -> int:
        return self.end - self.start + 1

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and self.start <= seq <= self.end

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


def parse_key(key: str) -> LedgerRange:
    m = _KEY.match(key)
    if not m:
        raise ValueError(
            f"invalid ledger-range partition key {key!r}: expected <start>-<end>, both "
            f"10-digit zero-padded, e.g. 0053312000-0053312999"
        )
    return LedgerRange(int(m.group(1)), int(m.group(2)))


def check_aligned(r: LedgerRange, width: int) -> None:
    if r.start % width or r.width != width:
        raise ValueError(
            f"partition {r.key} is not an aligned range of width {width} (this deployment's "
            f"TTP_PARTITION_WIDTH)"
        )


def range_for(seq: int, width: int) -> LedgerRange:
    if width < 1:
        raise ValueError("partition width must be positive")
    start = seq - seq % width
    return LedgerRange(start, min(start + width - 1, MAX_LEDGER))


def ranges_covering(first: int, last: int, width: int) -> list[LedgerRange]:
    """The aligned ranges that together cover ledgers ``first..last``, in order."""
    if last < first:
        return []
    out = []
    r = range_for(first, width)
    while True:
        out.append(r)
        if r.end >= last or r.end == MAX_LEDGER:
            return out
        r = range_for(r.end + 1, width)


def keys_covering(first: int, last: int, width: int) -> list[str]:
    return [r.key for r in ranges_covering(first, last, width)]
