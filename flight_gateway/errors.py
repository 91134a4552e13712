"""Errors a client sees, each mapped to one Flight / gRPC status code.

``pyarrow.flight`` maps Python exceptions raised in a handler to status codes: ``KeyError`` to
NOT_FOUND, ``ValueError`` to INVALID_ARGUMENT, the ``Flight*Error`` classes to UNAUTHENTICATED,
PERMISSION_DENIED, UNAVAILABLE... The two classes here carry the message a client should read;
everything a handler raises goes through :func:`client_error` so that nothing internal (paths,
tracebacks) reaches a client.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.flight as fl


class NotFound(KeyError):
    """NOT_FOUND: an unknown asset, or partitions / ledgers that are not materialized."""

    def __str__(self) -> str:  # KeyError quotes its argument; a client should read plain text
        return str(self.args[0]) if self.args else ""


class InvalidArgument(ValueError):
    """INVALID_ARGUMENT: a ticket or descriptor that is malformed or asks for the impossible."""


def status_code(exc: BaseException | None) -> str:
    """The gRPC status name a client receives for ``exc`` (as raised or as pyarrow re-raises)."""
    if exc is None:
        return "OK"
    if isinstance(exc, fl.FlightUnauthenticatedError):
        return "UNAUTHENTICATED"
    if isinstance(exc, fl.FlightUnauthorizedError):
        return "PERMISSION_DENIED"
    if isinstance(exc, fl.FlightUnavailableError):
        return "UNAVAILABLE"
    if isinstance(exc, fl.FlightCancelledError):
        return "CANCELLED"
    if isinstance(exc, fl.FlightTimedOutError):
        return "DEADLINE_EXCEEDED"
    if isinstance(exc, KeyError):
        return "NOT_FOUND"
    if isinstance(exc, ValueError | TypeError):
        return "INVALID_ARGUMENT"
    if isinstance(exc, NotImplementedError | pa.ArrowNotImplementedError):
        return "UNIMPLEMENTED"
    return "INTERNAL"


def client_error(exc: BaseException, what: str) -> BaseException:
    """The exception to raise to a client for ``exc``, raised while doing ``what``.

    Our own errors, refusals and Flight errors pass through; a missing file (a partition
    deleted between listing and reading) is NOT_FOUND; any other storage error is UNAVAILABLE
    (retryable); the rest is INTERNAL with a generic message (details: server log only).
    """
    if isinstance(exc, NotFound | InvalidArgument | NotImplementedError | fl.FlightError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"{what}: no longer in storage (replaced or deleted); ask again")
    if isinstance(exc, OSError):
        return fl.FlightUnavailableError(f"{what}: storage unavailable, retry later")
    return fl.FlightInternalError(f"{what}: internal error (see the gateway log)")
