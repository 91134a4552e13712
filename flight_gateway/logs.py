"""Structured logs: one JSON object per line on stderr.

Every Flight call ends with one ``call`` record (method, code, duration, caller's role and token
id, peer, asset, request, rows and bytes served, first-batch latency, the client-facing error);
start-up and shutdown are ``gateway_started`` / ``gateway_stopped``. Internal errors also carry
the traceback (``exc``), which is never sent to clients.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from typing import Any

LOGGER = "flight_gateway"
log = logging.getLogger(LOGGER)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            # An explicit limit: the gateway process hides tracebacks from clients by setting
            # sys.tracebacklimit (see server.hide_tracebacks), never from its own log.
            out["exc"] = "".join(traceback.format_exception(*record.exc_info, limit=64))
        return json.dumps(out, default=str)


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Send the gateway's records, as JSON lines, to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


def event(
    name: str, level: int = logging.INFO, exc: BaseException | None = None, **fields: Any
) -> None:
    """Log ``name`` with ``fields`` as one structured record."""
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    log.log(level, name, extra={"fields": fields}, exc_info=exc_info)
