"""Live follow: a stream that stays open and sends each newly committed ledger's rows.

A ticket with ``"follow": true`` (on a table with ``ledger_sequence``) is served as a sequence of
ordinary ranged reads: from the resume point (``"from_ledger"``, default: the ledger after what
is stored when the stream starts) to the end of the *contiguous* committed coverage, then,
whenever the coverage grows past it (a live tick appended to the open partition, or the next
partition was committed), the new ledgers, and so on until the client goes or the gateway stops.
Storage is looked at every ``poll_s`` seconds while there is nothing new; the client never polls.

Resuming: every batch carries JSON ``app_metadata`` ``{"through": L}``: the rows of every ledger
up to ``L`` have been sent in full (a ledger's rows may span batches, so ``L`` can be behind the
batch's last ledger). A client that reconnects keeps the rows of ledgers up to the last
``through`` it saw and asks again ``from_ledger: through + 1``: nothing is lost or sent twice.

Memory stays bounded as for any read: the stream is pulled one batch at a time by the Flight
writer (gRPC flow control is the backpressure), and each ranged read is planned only when the
previous one is done. A gap in the coverage (a partition not committed yet behind a later one)
is waited for, never skipped: rows go out in ledger order only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pyarrow as pa

from .catalog import Catalog, merge_ranges
from .reader import StreamMemory, stream_batches
from .tickets import Request

DEFAULT_POLL_S = 0.5


def contiguous_through(coverage: list[tuple[int, int]], start: int) -> int | None:
    """The last ledger of the committed run holding ``start`` (None: ``start`` is not held)."""
    for a, b in merge_ranges(coverage):
        if a <= start <= b:
            return b
    return None


def follow_batches(
    catalog: Catalog,
    request: Request,
    stop: threading.Event,
    memory: StreamMemory,
    cancelled: Callable[[], bool] = lambda: False,
    poll_s: float = DEFAULT_POLL_S,
) -> Iterator[tuple[pa.RecordBatch, int, bytes]]:
    """``(batch, nbytes, app_metadata)`` of ``request``'s rows, ledger after ledger, until the
    gateway stops or the client cancels (looked at while waiting, so an abandoned stream gives
    its thread and admission lease back within ``poll_s``)."""
    view = catalog.view(request.asset)
    coverage = view.coverage()
    nxt: int | None = request.from_ledger
    if nxt is None and coverage:
        nxt = coverage[-1][1] + 1
    while not stop.is_set() and not cancelled():
        coverage = view.coverage()
        if nxt is None and coverage:  # nothing was stored when the stream started
            nxt = coverage[0][0]
        through = contiguous_through(coverage, nxt) if nxt is not None else None
        if nxt is None or through is None:
            stop.wait(poll_s)
            view = catalog.view(request.asset)
            continue
        plan = catalog.plan(replace(request, ledgers=(nxt, through), follow=False))
        pending: tuple[pa.RecordBatch, int] | None = None
        for batch, nbytes in stream_batches(plan, stop=stop.is_set, memory=memory):
            if pending is not None:
                # The ledgers before this batch's first are complete once it has arrived.
                first = batch.column("ledger_sequence")[0].as_py()
                yield pending[0], pending[1], _through(max(nxt - 1, first - 1))
            pending = (batch, nbytes)
        if pending is not None:
            yield pending[0], pending[1], _through(through)
        nxt = through + 1
        view = catalog.view(request.asset)


def _through(ledger: int) -> bytes:
    return json.dumps({"through": ledger}).encode()
