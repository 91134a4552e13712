"""The stall watchdog: drops DoGet streams whose client stopped reading.

A stream hands each batch to gRPC and is pulled for the next one once gRPC has written it. A
client that stops reading fills the HTTP/2 window (a few MB) and then gRPC's write blocks, so the
stream is never pulled again: it keeps its slot, its memory reservation and a gRPC thread for as
long as the client likes (there is no write timeout in gRPC's synchronous server, and pyarrow
exposes no way to cancel a call). Measuring time between pulls inside the stream cannot see this,
since the stream's code does not run while the write is blocked; a separate thread can.

Every ``interval`` the watchdog looks at the open streams' leases: a stream that has waited for
its client longer than ``timeout`` since its last batch is dropped by closing its connection
(``connections.close_connection``), which fails the blocked write; the stream then ends, its
finally releases the lease, and the client sees UNAVAILABLE ("Socket closed"). A stream that is
busy reading storage is not waiting for its client and is never dropped for being slow.
If the connection cannot be closed (no ``/proc``), the stream is marked and ends when the client
next reads; the front proxy's ``send_timeout`` (``deploy/flight-front``) covers that case too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from . import logs
from .admission import Admission
from .connections import close_connection
from .metrics import Metrics


class StallWatchdog:
    def __init__(
        self,
        admission: Admission,
        timeout: float,
        local_port: Callable[[], int],
        metrics: Metrics,
    ):
        self.admission = admission
        self.timeout = timeout
        # How late a drop may come: a quarter of the timeout, at most a second.
        self.interval = min(1.0, timeout / 4)
        self._port = local_port
        self.metrics = metrics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flight-stall-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as exc:  # a watchdog that dies silently protects nothing
                logs.event("stall_watchdog_error", logging.ERROR, exc=exc)

    def check(self) -> int:
        """Drop the streams stalled now; returns how many."""
        now = time.monotonic()
        dropped = 0
        for lease in self.admission.leases():
            waited = lease.waited(now)
            if lease.dropped or waited <= self.timeout:
                continue
            lease.dropped = True
            closed = close_connection(self._port(), lease.peer)
            dropped += 1
            self.metrics.inc("flight_gateway_stalled_streams_total")
            logs.event(
                "stream_stalled",
                logging.WARNING,
                token=lease.token or "anonymous",
                peer=lease.peer,
                waited_s=round(waited, 2),
                connection_closed=closed,
            )
        return dropped
