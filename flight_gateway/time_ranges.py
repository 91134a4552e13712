"""Time windows in tickets: ``"closed_at": [from, to]``, absolute or relative to now.

A bound is an ISO-8601 UTC time (``2022-03-01``, ``2022-03-01T12:00Z``,
``2022-03-01T12:00:00.5+00:00``: a time needs ``Z`` or ``+00:00``, a date alone is midnight UTC),
``now``, or ``now-<n><unit>`` / ``now+<n><unit>`` with a unit of ``s``, ``m``, ``h``, ``d`` or
``w`` (``now-1h``, ``now-7d``), or ``null`` (unbounded on that side; not both). The window is
half-open, ``[from, to)``: ``from`` included, ``to`` excluded, so consecutive windows never share
a row. ``now`` is read once per request, when it is planned (GetFlightInfo answers with a ticket
holding the resolved, absolute window: its rows are the ones it described).

What a window selects, per kind of table (:func:`time_kind`):

- **rows of ledgers** (every table with ``closed_at``: the ledger tables, ``ttp_events``,
  ``balance_changes``, ``ledger_activity``): ``from <= closed_at < to``, exactly the rows a
  reader of the stored table gets with that filter;
- **hourly partials** (``hour``: ``asset_hour_partials``, ``account_hour_partials``,
  ``operation_hour_partials``) and **rollups** (``period_start`` / ``period_end``:
  ``asset_activity``, ``network_activity``, ``network_operations``): the aggregates of the periods
  that *overlap* the window, ``period_start < to AND period_end > from`` (an hour row's period is
  ``[hour, hour + 1h)``). An aggregate is never cut: a period partly inside the window comes
  whole, so ``now-1h`` gives the current and the previous hour, and the current day.

Which partitions are read: a ledger-range partition's coverage record (Parquet footer or Delta
``_ttp_partitions/<key>.json``, already read and cached by the listing) carries the close times
of its first and last ledger (``ttp.first_close_time`` / ``ttp.last_close_time``), so a window is
mapped to partitions without reading a row or another table; the row filter above then cuts the
partitions at the window's edges, pushed down to the Parquet reader (row-group statistics skip
the rest). A partition without those times (an empty one, or written before they were recorded)
is scanned with the filter rather than skipped, so pruning never changes a result. Rollup day
partitions are pruned by their date (a day holds only periods starting that day).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from .errors import InvalidArgument

TIME_KEY = "closed_at"
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
TS = pa.timestamp("us", tz="UTC")
Clock = Callable[[], dt.datetime]

RELATIVE = re.compile(r"^now(?:([+-])(\d{1,6})([smhdw]))?$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|\+00:00)$")
# Far enough for any ledger (the network started in 2015) and within datetime's range.
MIN_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_TIME = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
EXAMPLES = "e.g. 2022-03-01T12:00:00Z, 2022-03-01, now, now-1h, now-7d"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Bound:
    """One side of a window: an absolute time, or an offset from the request's now."""

    text: str
    absolute: dt.datetime | None = None
    offset: dt.timedelta | None = None

    def at(self, now: dt.datetime) -> dt.datetime:
        if self.absolute is not None:
            return self.absolute
        assert self.offset is not None
        return now + self.offset


@dataclass(frozen=True)
class TimeSpec:
    """``closed_at`` as asked: bounds (None: unbounded), resolved by :meth:`resolve`."""

    start: Bound | None
    end: Bound | None

    @property
    def relative(self) -> bool:
        return any(b is not None and b.absolute is None for b in (self.start, self.end))

    def to_json(self) -> list[str | None]:
        return [b.text if b is not None else None for b in (self.start, self.end)]

    def resolve(self, now: dt.datetime) -> Window:
        """The window at ``now``; INVALID_ARGUMENT when ``from`` is not before ``to``."""
        start = self.start.at(now) if self.start is not None else None
        end = self.end.at(now) if self.end is not None else None
        if self.start is not None and self.end is not None and start and end and start >= end:
            raise InvalidArgument(
                f'"{TIME_KEY}": from {self.start.text!r} ({iso(start)}) is not before '
                f"to {self.end.text!r} ({iso(end)}); the window is [from, to), to excluded"
            )
        return Window(start, end)


@dataclass(frozen=True)
class Window:
    """A resolved, half-open UTC window ``[start, end)``; None: unbounded on that side."""

    start: dt.datetime | None
    end: dt.datetime | None

    def to_json(self) -> list[str | None]:
        return [iso(self.start) if self.start else None, iso(self.end) if self.end else None]

    def spec(self) -> TimeSpec:
        """The same window as absolute bounds (what a canonical ticket carries)."""
        a, b = self.to_json()
        return TimeSpec(
            Bound(a, self.start) if a is not None else None,
            Bound(b, self.end) if b is not None else None,
        )

    def overlaps(self, first: dt.datetime, end: dt.datetime) -> bool:
        """Whether ``[first, end)`` shares an instant with the window."""
        return (self.end is None or first < self.end) and (self.start is None or end > self.start)


# -- parsing --------------------------------------------------------------------------------


def parse_spec(value: Any) -> TimeSpec:
    """The ``closed_at`` ticket value, checked; errors name the key and the side."""
    if not (isinstance(value, list) and len(value) == 2):
        raise InvalidArgument(
            f'"{TIME_KEY}" must be [from, to]: two times or null ({EXAMPLES}); '
            "the window is [from, to), to excluded"
        )
    start, end = (_bound(v, side) for v, side in zip(value, ("from", "to"), strict=True))
    if start is None and end is None:
        raise InvalidArgument(f'"{TIME_KEY}": give at least one of from and to ({EXAMPLES})')
    spec = TimeSpec(start, end)
    if not spec.relative:
        spec.resolve(MIN_TIME)  # absolute bounds in the wrong order: refused while parsing
    return spec


def _bound(v: Any, side: str) -> Bound | None:
    if v is None:
        return None
    where = f'"{TIME_KEY}" {side}'
    if not isinstance(v, str) or not v or len(v) > 40:
        raise InvalidArgument(f"{where} must be a time string or null ({EXAMPLES})")
    text = v.strip()
    m = RELATIVE.match(text)
    if m:
        if m.group(1) is None:
            return Bound(text, offset=dt.timedelta(0))
        n = int(m.group(2)) * (-1 if m.group(1) == "-" else 1)
        try:
            offset = dt.timedelta(**{UNITS[m.group(3)]: n})
        except OverflowError:
            raise InvalidArgument(f"{where}: {text!r} is too far from now") from None
        return Bound(text, offset=offset)
    parsed: dt.datetime | None = None
    if DATE.match(text) or DATETIME.match(text):
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidArgument(
            f"{where}: {_clip(text)!r} is not an ISO-8601 UTC time (a time needs Z or +00:00) "
            f"nor a relative time ({EXAMPLES})"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if not MIN_TIME <= parsed < MAX_TIME:
        raise InvalidArgument(f"{where}: {_clip(text)!r} is out of range (1970 to 9998)")
    return Bound(text, absolute=parsed.astimezone(dt.UTC))


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n] + "..."


def iso(t: dt.datetime) -> str:
    """``t`` as ISO-8601 UTC with ``Z`` (microseconds only when there are some)."""
    t = t.astimezone(dt.UTC)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return t.strftime(fmt)


# -- what a window selects ------------------------------------------------------------------


def time_kind(schema: pa.Schema) -> str | None:
    """How a table is cut by time: ``closed_at`` (rows of ledgers), ``hour`` (hourly partials),
    ``period`` (rollups); None when it has no time column."""
    names = set(schema.names)
    if "period_start" in names and "period_end" in names:
        return "period"
    if "closed_at" in names:
        return "closed_at"
    if "hour" in names:
        return "hour"
    return None


def _ts(t: dt.datetime) -> pa.Scalar:
    return pa.scalar(t, type=TS)


def row_filter(kind: str, window: Window) -> ds.Expression | None:
    """The row filter selecting what ``window`` means for a table of ``kind``."""
    terms: list[ds.Expression] = []
    if kind == "closed_at":
        if window.start is not None:
            terms.append(ds.field("closed_at") >= _ts(window.start))
        if window.end is not None:
            terms.append(ds.field("closed_at") < _ts(window.end))
    elif kind == "hour":  # [hour, hour + 1h) overlaps [start, end)
        if window.start is not None:
            terms.append(ds.field("hour") > _ts(window.start - HOUR))
        if window.end is not None:
            terms.append(ds.field("hour") < _ts(window.end))
    elif kind == "period":
        if window.start is not None:
            terms.append(ds.field("period_end") > _ts(window.start))
        if window.end is not None:
            terms.append(ds.field("period_start") < _ts(window.end))
    else:
        raise ValueError(kind)
    out: ds.Expression | None = None
    for t in terms:
        out = t if out is None else out & t
    return out


def floor_hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def ledgers_may_match(
    kind: str, window: Window, first_close: int | None, last_close: int | None
) -> bool:
    """Whether a ledger-range partition whose ledgers closed from ``first_close`` to
    ``last_close`` (unix seconds; None: unknown) may hold rows of ``window``."""
    if first_close is None or last_close is None:
        return True  # unknown: scan it with the row filter
    lo = dt.datetime.fromtimestamp(first_close, dt.UTC)
    hi = dt.datetime.fromtimestamp(last_close, dt.UTC)
    if kind == "hour":  # its rows are the hours its ledgers closed in
        return window.overlaps(floor_hour(lo), floor_hour(hi) + HOUR)
    return window.overlaps(lo, hi + dt.timedelta(microseconds=1))  # [lo, hi]


def day_may_match(window: Window, day: str) -> bool:
    """Whether a rollup ``day`` partition (periods starting that UTC day) may overlap."""
    try:
        start = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        return True
    return window.overlaps(start, start + DAY)


def combine(*exprs: ds.Expression | None) -> ds.Expression | None:
    out: ds.Expression | None = None
    for e in exprs:
        if e is not None:
            out = e if out is None else out & e
    return out
