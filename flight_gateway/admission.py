"""Which DoGet streams may start: the gateway's limits on concurrent reads.

A stream is admitted only when all three hold, checked together under one lock:

- fewer than ``max_streams`` streams are open (``TTP_FLIGHT_MAX_STREAMS``);
- its bearer token has fewer than ``per_token`` streams open (``TTP_FLIGHT_MAX_STREAMS_PER_TOKEN``),
  so that one client cannot take every slot;
- its reservation of ``stream_memory`` bytes fits in what is left of ``memory_budget``
  (``TTP_FLIGHT_STREAM_MEMORY``, ``TTP_FLIGHT_MEMORY_BUDGET``). The reader sizes a stream's
  batches from its reservation (``reader.StreamMemory``), so the budget bounds what streams hold.

A stream that does not fit is refused at once with UNAVAILABLE and a message naming the limit and
its setting; nothing is queued (a queued call would hold a gRPC thread and the client's request).
pyarrow cannot send RESOURCE_EXHAUSTED from a Python handler (a MemoryError arrives as UNKNOWN),
so UNAVAILABLE, which clients retry with backoff, is the code for every refusal.

Each admitted stream holds a :class:`Lease` until it ends; the lease also records when the stream
last handed a batch to gRPC, which is how the stall watchdog (``stalls``) finds clients that stopped
reading.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pyarrow.flight as fl

from .metrics import Metrics

MiB = 1 << 20


@dataclass(eq=False)  # identity: list.remove must not run comparisons (see Admission)
class Lease:
    """One admitted stream's place under the limits; released exactly once."""

    token: str | None  # the token's id (digest prefix), None when authentication is off
    reserved: int  # bytes of the memory budget this stream holds
    peer: str  # gRPC peer of the call (the connection a stalled stream is dropped by)
    started: float = field(default_factory=time.monotonic)
    # monotonic time the stream handed its last batch to gRPC and was not pulled again since;
    # None while the stream is producing (reading storage) rather than waiting for the client
    waiting_since: float | None = None
    dropped: bool = False  # the stall watchdog closed its connection
    _owner: Admission | None = field(default=None, repr=False)

    def handed(self) -> None:
        self.waiting_since = time.monotonic()

    def pulled(self) -> None:
        self.waiting_since = None

    def waited(self, now: float) -> float:
        since = self.waiting_since
        return 0.0 if since is None else now - since

    def release(self) -> None:
        owner = self._owner
        if owner is not None:
            owner._release(self)


class Admission:
    """The open streams, per token and in total, and the memory they reserved."""

    def __init__(
        self,
        *,
        max_streams: int,
        per_token: int,
        memory_budget: int,
        stream_memory: int,
        metrics: Metrics,
    ):
        self.max_streams = max_streams
        self.per_token = per_token
        self.memory_budget = memory_budget
        self.stream_memory = stream_memory
        self.metrics = metrics
        # Reentrant: a lease is also released by the garbage collector (a dropped stream's
        # finalizer, or its generator's finally), which can run in a thread that holds this lock,
        # at any allocation. What runs then only gives capacity back, so an admission in progress
        # stays correct; and nothing done under the lock compares leases (identity only).
        self._lock = threading.RLock()
        self._leases: list[Lease] = []
        self._per_token: dict[str, int] = {}
        self._reserved = 0

    @property
    def active(self) -> int:
        return len(self._leases)

    @property
    def reserved(self) -> int:
        return self._reserved

    def leases(self) -> list[Lease]:
        with self._lock:
            return list(self._leases)

    def admit(self, token: str | None, peer: str) -> Lease:
        """A lease for one more stream of ``token``, or FlightUnavailableError saying why not."""
        with self._lock:
            refusal = self._refusal(token)
            if refusal is not None:
                reason, message = refusal
                self.metrics.inc("flight_gateway_streams_refused_total", reason=reason)
                raise fl.FlightUnavailableError(message)
            lease = Lease(token, self.stream_memory, peer, _owner=self)
            self._leases.append(lease)
            if token is not None:
                self._per_token[token] = self._per_token.get(token, 0) + 1
            self._reserved += lease.reserved
            self._publish()
            return lease

    def _refusal(self, token: str | None) -> tuple[str, str] | None:
        n = len(self._leases)
        if n >= self.max_streams:
            return "streams", (
                f"the gateway is serving {n} streams, its limit; ask again shortly "
                "(TTP_FLIGHT_MAX_STREAMS)"
            )
        mine = self._per_token.get(token, 0) if token is not None else 0
        if token is not None and mine >= self.per_token:
            return "token", (
                f"this token already has {mine} streams open, its limit "
                "(TTP_FLIGHT_MAX_STREAMS_PER_TOKEN); finish or cancel one, then ask again"
            )
        if self._reserved + self.stream_memory > self.memory_budget:
            return "memory", (
                f"the gateway's memory budget is taken: {n} streams reserve "
                f"{_mib(self._reserved)} of {_mib(self.memory_budget)} "
                f"(TTP_FLIGHT_MEMORY_BUDGET) and a stream needs {_mib(self.stream_memory)} "
                "(TTP_FLIGHT_STREAM_MEMORY); ask again shortly"
            )
        return None

    def _release(self, lease: Lease) -> None:
        with self._lock:
            if lease._owner is None:
                return  # released already (the stream's end and its finalizer both call this)
            lease._owner = None
            self._leases.remove(lease)
            if lease.token is not None:
                left = self._per_token[lease.token] - 1
                if left:
                    self._per_token[lease.token] = left
                else:
                    del self._per_token[lease.token]
            self._reserved -= lease.reserved
            self._publish()

    def _publish(self) -> None:
        self.metrics.set("flight_gateway_active_streams", len(self._leases))
        self.metrics.set("flight_gateway_memory_reserved_bytes", self._reserved)


def _mib(n: int) -> str:
    return f"{n / MiB:.0f} MiB"
