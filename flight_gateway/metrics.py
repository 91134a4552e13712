"""Prometheus metrics (text exposition format 0.0.4) and a health endpoint, over stdlib HTTP.

``GET /metrics`` serves:

| metric | type | labels |
|---|---|---|
| ``flight_gateway_requests_total`` | counter | method, code |
| ``flight_gateway_errors_total`` | counter | method, code (every code but OK) |
| ``flight_gateway_rows_served_total`` | counter | asset |
| ``flight_gateway_bytes_served_total`` | counter | asset (Arrow bytes of the batches sent) |
| ``flight_gateway_request_duration_seconds`` | histogram | method (DoGet: until the last batch) |
| ``flight_gateway_first_batch_seconds`` | histogram | asset (DoGet: request to first batch) |
| ``flight_gateway_active_streams`` | gauge | |
| ``flight_gateway_start_time_seconds`` | gauge | |
| ``flight_gateway_partition_reads_total`` | counter | asset, source (``copy`` / ``table``) |
| ``flight_gateway_serving_copies`` | gauge | |
| ``flight_gateway_serving_bytes`` | gauge | |
| ``flight_gateway_serving_copies_made_total`` | counter | |
| ``flight_gateway_serving_copy_failures_total`` | counter | |

``GET /healthz`` answers 200 ``{"status": "ok"}`` when the storage root can be listed, 503
otherwise; it needs no token (for probes), and says nothing about the data.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

_HELP = {
    "flight_gateway_requests_total": ("counter", "Flight calls, by method and status code."),
    "flight_gateway_errors_total": ("counter", "Flight calls that failed, by method and code."),
    "flight_gateway_rows_served_total": ("counter", "Rows sent to clients, by asset."),
    "flight_gateway_bytes_served_total": (
        "counter",
        "Arrow bytes of the record batches sent to clients, by asset.",
    ),
    "flight_gateway_request_duration_seconds": (
        "histogram",
        "Duration of Flight calls (DoGet: until the stream ends), by method.",
    ),
    "flight_gateway_first_batch_seconds": (
        "histogram",
        "DoGet time from the request to the first batch, by asset.",
    ),
    "flight_gateway_active_streams": ("gauge", "DoGet streams in progress."),
    "flight_gateway_start_time_seconds": ("gauge", "Unix time the gateway started."),
    "flight_gateway_partition_reads_total": (
        "counter",
        "Partitions read for DoGet streams, by asset and source (serving copy or table).",
    ),
    "flight_gateway_serving_copies": ("gauge", "Serving copies on the gateway's disk."),
    "flight_gateway_serving_bytes": ("gauge", "Bytes the serving copies take on disk."),
    "flight_gateway_serving_copies_made_total": ("counter", "Serving copies made."),
    "flight_gateway_serving_copy_failures_total": (
        "counter",
        "Serving copies that could not be made or read (the table is read instead).",
    ),
}

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """A small thread-safe registry of counters, gauges and histograms."""

    def __init__(self) -> None:
        # Reentrant: streams released by the garbage collector update gauges from whatever
        # thread it runs in, possibly one inside this lock.
        self._lock = threading.RLock()
        self._values: dict[tuple[str, Labels], float] = {}
        self._hist: dict[tuple[str, Labels], list[float]] = {}  # bucket counts, then sum, count
        self.set("flight_gateway_start_time_seconds", time.time())
        self.set("flight_gateway_active_streams", 0)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + value

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[(name, tuple(sorted(labels.items())))] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            h = self._hist.get(key)
            if h is None:
                h = self._hist[key] = [0.0] * (len(LATENCY_BUCKETS) + 2)
            for i, bound in enumerate(LATENCY_BUCKETS):
                if value <= bound:
                    h[i] += 1
            h[-2] += value
            h[-1] += 1

    def value(self, name: str, **labels: str) -> float:
        """A counter or gauge value (0 when never set); for tests and the stats action."""
        with self._lock:
            return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str) -> float:
        """A counter summed over all its labels."""
        with self._lock:
            return sum(v for (n, _), v in self._values.items() if n == name)

    def render(self) -> str:
        with self._lock:
            values = dict(self._values)
            hist = {k: list(v) for k, v in self._hist.items()}
        lines: list[str] = []
        for name, (kind, text) in _HELP.items():
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            if kind == "histogram":
                for (n, labels), h in sorted(hist.items()):
                    if n != name:
                        continue
                    for i, bound in enumerate(LATENCY_BUCKETS):
                        le = (*labels, ("le", _num(bound)))
                        lines.append(f"{name}_bucket{_labels(le)} {_num(h[i])}")
                    lines.append(f"{name}_bucket{_labels((*labels, ('le', '+Inf')))} {_num(h[-1])}")
                    lines.append(f"{name}_sum{_labels(labels)} {_num(h[-2])}")
                    lines.append(f"{name}_count{_labels(labels)} {_num(h[-1])}")
            else:
                for (n, labels), v in sorted(values.items()):
                    if n == name:
                        lines.append(f"{name}{_labels(labels)} {_num(v)}")
        return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels
    )
    return "{" + inner + "}"


def _num(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return str(int(v)) if float(v).is_integer() else repr(float(v))


class MetricsServer:
    """``/metrics`` and ``/healthz`` on their own port, served from a daemon thread."""

    def __init__(
        self,
        metrics: Metrics,
        health: Callable[[], dict[str, object]],
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        registry, check = metrics, health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/metrics":
                    body = registry.render().encode()
                    self._send(200, "text/plain; version=0.0.4; charset=utf-8", body)
                elif self.path.split("?")[0] in ("/healthz", "/health"):
                    status = check()
                    code = 200 if status.get("status") == "ok" else 503
                    self._send(code, "application/json", json.dumps(status).encode())
                else:
                    self._send(404, "text/plain", b"not found: try /metrics or /healthz\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # scrapes every few seconds would drown the call log

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="flight-gateway-metrics", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
