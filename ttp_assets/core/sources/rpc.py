"""Stellar RPC as a ledger source: a JSON-RPC 2.0 client and :class:`RpcSource`.

The client speaks the four methods a ledger source needs (``getHealth``, ``getNetwork``,
``getLatestLedger``, ``getLedgers``) over plain HTTP(S) with the standard library, one connection
per request (no stale keep-alive sockets to reason about; a page of up to 200 ledgers dwarfs a
TCP or TLS handshake).

Failures are classified once, here:

* retried with backoff (:class:`~.retry.RetryPolicy`, full jitter): connection errors and
  resets, connect and read timeouts, HTTP 408/429/5xx (``Retry-After`` honoured, capped), bodies
  that are not complete JSON-RPC responses (malformed or truncated JSON), and JSON-RPC errors
  whose code means "try again" (:data:`RETRYABLE_RPC_CODES`: internal/DB errors, the server's
  backlog and processing-time limits). When attempts run out: :class:`SourceUnavailableError`
  naming the URL, the method and the last error;
* never retried: every other JSON-RPC error object (:class:`RpcError`, naming method, code,
  message and request; a ``getLedgers`` start outside the server's retention window is
  :class:`RpcWindowError`, a :class:`MissingLedgerError` that carries the window), other HTTP
  statuses (:class:`RpcHttpError`), a TLS certificate the client refuses
  (:class:`SourceConfigError`) and results that are JSON-RPC but not in the method's shape
  (:class:`RpcResponseError`).

``getLedgers`` facts relied on: ``startLedger`` and ``pagination.cursor`` are mutually exclusive;
``pagination.limit`` defaults to 50 and may not exceed 200; the cursor is the last sequence
returned and the next page starts after it; the cursor (plus one) and the start ledger must lie
in ``[oldestLedger, latestLedger]`` or the server answers with an error.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import gzip
import http.client
import itertools
import json
import logging
import re
import ssl
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..network import Network
from ..redact import redact_url
from .base import (
    MissingLedgerError,
    SourceConfigError,
    SourcedLedger,
    SourceError,
    SourceUnavailableError,
)
from .retry import RetryPolicy

log = logging.getLogger(__name__)

MAX_PAGE_LIMIT = 200  # the protocol's cap on pagination.limit
SERVER_DEFAULT_PAGE_LIMIT = 50  # what a server returns when no limit is given

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# JSON-RPC error codes that mean "try again": stellar-rpc answers -32603 for database and
# datastore read failures, its jrpc2 server -32098/-32097/-32096 for system errors (including
# the request backlog being full), cancellation and deadlines, and its duration limiter -32001
# ("request exceeded processing limit threshold") and -32003 ("internal issue").
RETRYABLE_RPC_CODES = frozenset({INTERNAL_ERROR, -32098, -32097, -32096, -32001, -32003})
RETRYABLE_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_WINDOW_RE = re.compile(r"oldest ledger:? (\d+) and the latest ledger:? (\d+)")


# -- errors ---------------------------------------------------------------------------------
class RpcError(SourceError):
    """A JSON-RPC error object the server answered with (not retried, or retries ran out)."""

    def __init__(
        self,
        url: str,
        method: str,
        params: object,
        code: int,
        message: str,
        data: object = None,
    ):
        self.url = url
        self.method = method
        self.params = params
        self.code = code
        self.rpc_message = message
        self.data = data
        text = (
            f"Stellar RPC {url}: {_request(method, params)} failed with JSON-RPC error "
            f"{code}: {message}"
        )
        if data is not None:
            text += f" (data: {_compact(data)[:300]})"
        super().__init__(text)


class RpcWindowError(RpcError, MissingLedgerError):
    """``getLedgers`` asked for a ledger outside the server's window ``oldest..latest``."""

    def __init__(
        self,
        url: str,
        method: str,
        params: object,
        code: int,
        message: str,
        oldest: int,
        latest: int,
    ):
        self.oldest = oldest
        self.latest = latest
        super().__init__(url, method, params, code, message)


class RpcHttpError(SourceError):
    """An HTTP status that will not improve on retry (404, 401, 403, ...)."""

    def __init__(self, url: str, method: str, status: int, reason: str, body: bytes):
        self.status = status
        snippet = body[:200].decode("utf-8", "replace").strip()
        super().__init__(
            f"Stellar RPC {url}: {method} got HTTP {status} {reason}"
            + (f": {snippet}" if snippet else "")
            + " (is the URL a Stellar RPC endpoint?)"
        )


class RpcResponseError(SourceError):
    """A JSON-RPC result that is not in the shape the method's protocol promises."""


class _Transient(Exception):
    """A failure worth retrying; ``retry_after`` is the server's requested wait, if any."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


# -- parsed results -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RpcLedger:
    """One ``getLedgers`` entry, decoded."""

    sequence: int
    hash: bytes  # the ledger hash (32 bytes)
    close_time: int  # unix seconds
    header_xdr: bytes  # LedgerHeaderHistoryEntry
    metadata_xdr: bytes  # LedgerCloseMeta


@dataclass(frozen=True, slots=True)
class LedgersPage:
    ledgers: tuple[RpcLedger, ...]
    latest_ledger: int
    latest_ledger_close_time: int
    oldest_ledger: int
    oldest_ledger_close_time: int
    cursor: str

    @property
    def window(self) -> tuple[int, int]:
        return self.oldest_ledger, self.latest_ledger


@dataclass(frozen=True, slots=True)
class LatestLedger:
    sequence: int
    hash: bytes  # ``id``
    protocol_version: int
    # Newer servers also return these; None when absent.
    close_time: int | None = None
    header_xdr: bytes | None = None  # a bare LedgerHeader (sha256 of it is ``hash``)
    metadata_xdr: bytes | None = None


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    passphrase: str
    protocol_version: int
    friendbot_url: str | None = None


@dataclass(frozen=True, slots=True)
class Health:
    status: str
    latest_ledger: int | None
    oldest_ledger: int | None
    retention_window: int | None


@dataclass(frozen=True, slots=True)
class RpcTimeout:
    """Seconds to establish a connection, and to wait for each read of the response."""

    connect: float = 5.0
    read: float = 60.0


# -- the client -----------------------------------------------------------------------------
class RpcClient:
    """JSON-RPC 2.0 over HTTP(S) to one Stellar RPC endpoint. Thread-safe."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | RpcTimeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        max_retry_after: float = 60.0,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceConfigError(
                f"Stellar RPC URL {redact_url(url)!r} must be an http:// or https:// URL"
            )
        self.url = url
        if timeout is None:
            timeout = RpcTimeout()
        self.timeout = timeout if isinstance(timeout, RpcTimeout) else RpcTimeout(timeout, timeout)
        self.retry = retry or RetryPolicy()
        self.max_retry_after = max_retry_after
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # Messages and logs name the endpoint without anything that can hold a key.
        self.display_url = redact_url(url)
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "Connection": "close",
            "User-Agent": "ttp-assets",
            **(headers or {}),
        }
        if parts.username:
            cred = f"{parts.username}:{parts.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(cred).decode()
        self._ids = itertools.count(1)
        self._ssl = ssl.create_default_context() if self._https else None

    def __repr__(self) -> str:
        return f"RpcClient({self.display_url!r})"

    # -- transport ---------------------------------------------------------------------------
    def call(self, method: str, params: object = None) -> Any:
        """Call ``method`` and return its ``result``, retrying transient failures."""
        what = f"{method} on Stellar RPC {self.display_url}"
        try:
            return self.retry.call(
                lambda: self._call_once(method, params),
                is_transient=lambda e: isinstance(e, _Transient),
                what=what,
                retry_after=lambda e: getattr(e, "retry_after", None),
            )
        except _Transient as exc:
            raise SourceUnavailableError(
                f"Stellar RPC {self.display_url} is unavailable: {_request(method, params)} "
                f"failed {self.retry.attempts} times; last error: {exc}"
            ) from exc

    def _connection(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout.connect, context=self._ssl
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout.connect)

    def _call_once(self, method: str, params: object) -> Any:
        request_id = next(self._ids)
        payload: dict[str, object] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            payload["params"] = params
        body = json.dumps(payload).encode()
        conn = self._connection()
        try:
            try:
                conn.connect()
            except ssl.SSLCertVerificationError as exc:
                raise SourceConfigError(
                    f"Stellar RPC {self.display_url}: TLS certificate rejected: {exc}"
                ) from exc
            except TimeoutError as exc:
                raise _Transient(
                    f"could not connect within the connect timeout of {self.timeout.connect}s"
                ) from exc
            except OSError as exc:
                raise _Transient(f"could not connect: {_describe(exc)}") from exc
            try:
                assert conn.sock is not None
                conn.sock.settimeout(self.timeout.read)
                conn.request("POST", self._path, body, self._headers)
                resp = conn.getresponse()
                status, reason = resp.status, resp.reason
                retry_after = resp.getheader("Retry-After")
                encoding = (resp.getheader("Content-Encoding") or "").lower()
                data = resp.read()
            except TimeoutError as exc:
                raise _Transient(
                    f"no response within the read timeout of {self.timeout.read}s"
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise _Transient(f"connection failed: {_describe(exc)}") from exc
        finally:
            conn.close()

        if encoding == "gzip":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise _Transient(f"corrupt gzip response body: {exc}") from exc
        if status in RETRYABLE_HTTP_STATUSES:
            snippet = data[:200].decode("utf-8", "replace").strip()
            raise _Transient(
                f"HTTP {status} {reason}" + (f": {snippet}" if snippet else ""),
                retry_after=self._retry_after(retry_after) if status in (429, 503) else None,
            )
        if status != 200:
            # A JSON-RPC error object carried on another status is still the server's answer.
            obj = _loads(data)
            if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
                self._raise_rpc_error(method, params, obj["error"])
            raise RpcHttpError(self.display_url, method, status, reason, data)

        obj = _loads(data)
        if obj is None:
            raise _Transient(f"malformed JSON in a {len(data)}-byte response body")
        if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
            raise _Transient(f"response is not a JSON-RPC 2.0 object: {_compact(obj)[:200]}")
        if isinstance(obj.get("error"), dict):
            self._raise_rpc_error(method, params, obj["error"])
        if "result" not in obj:
            raise _Transient(f"response has neither result nor error: {_compact(obj)[:200]}")
        if obj.get("id") != request_id:
            raise _Transient(f"response id {obj.get('id')!r} does not match request {request_id}")
        return obj["result"]

    def _raise_rpc_error(self, method: str, params: object, err: dict) -> None:
        code = err.get("code")
        message = str(err.get("message", ""))
        if not isinstance(code, int) or isinstance(code, bool):
            raise _Transient(f"JSON-RPC error object without an integer code: {_compact(err)}")
        error = RpcError(self.display_url, method, params, code, message, err.get("data"))
        if code in RETRYABLE_RPC_CODES:
            raise _Transient(str(error))
        m = _WINDOW_RE.search(message)
        if method == "getLedgers" and code in (INVALID_REQUEST, INVALID_PARAMS) and m:
            raise RpcWindowError(
                self.display_url,
                method,
                params,
                code,
                message,
                int(m.group(1)),
                int(m.group(2)),
            )
        raise error

    def _retry_after(self, value: str | None) -> float | None:
        if not value:
            return None
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - time.time()
        return min(max(seconds, 0.0), self.max_retry_after)

    # -- methods -----------------------------------------------------------------------------
    def get_health(self) -> Health:
        r = self._object(self.call("getHealth"), "getHealth")
        return Health(
            status=_str(r, "status", "getHealth"),
            latest_ledger=_opt_int(r, "latestLedger", "getHealth"),
            oldest_ledger=_opt_int(r, "oldestLedger", "getHealth"),
            retention_window=_opt_int(r, "ledgerRetentionWindow", "getHealth"),
        )

    def get_network(self) -> NetworkInfo:
        r = self._object(self.call("getNetwork"), "getNetwork")
        friendbot = r.get("friendbotUrl")
        return NetworkInfo(
            passphrase=_str(r, "passphrase", "getNetwork"),
            protocol_version=_int(r, "protocolVersion", "getNetwork"),
            friendbot_url=str(friendbot) if friendbot else None,
        )

    def get_latest_ledger(self) -> LatestLedger:
        what = "getLatestLedger"
        r = self._object(self.call(what), what)
        return LatestLedger(
            sequence=_int(r, "sequence", what),
            hash=_hex32(r, "id", what),
            protocol_version=_int(r, "protocolVersion", what),
            close_time=_opt_int(r, "closeTime", what),
            header_xdr=_b64(r, "headerXdr", what) if "headerXdr" in r else None,
            metadata_xdr=_b64(r, "metadataXdr", what) if "metadataXdr" in r else None,
        )

    def get_ledgers(
        self,
        *,
        start: int | None = None,
        cursor: str | int | None = None,
        limit: int | None = None,
    ) -> LedgersPage:
        """One page of ``getLedgers``: from ``start``, or after ``cursor`` (exactly one)."""
        if (start is None) == (cursor is None):
            raise ValueError("getLedgers takes exactly one of start and cursor")
        params: dict[str, object] = {}
        pagination: dict[str, object] = {}
        if start is not None:
            params["startLedger"] = int(start)
        else:
            pagination["cursor"] = str(cursor)
        if limit is not None:
            pagination["limit"] = int(limit)
        if pagination:
            params["pagination"] = pagination
        return self._parse_page(self.call("getLedgers", params), params)

    def _parse_page(self, result: object, params: dict[str, object]) -> LedgersPage:
        what = f"getLedgers {_compact(params)}"
        r = self._object(result, what)
        entries = r.get("ledgers")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise self._shape(what, "'ledgers' is not a list")
        ledgers = []
        for i, e in enumerate(entries):
            where = f"{what} ledgers[{i}]"
            if not isinstance(e, dict):
                raise self._shape(where, "is not an object")
            ledgers.append(
                RpcLedger(
                    sequence=_int(e, "sequence", where),
                    hash=_hex32(e, "hash", where),
                    close_time=_int(e, "ledgerCloseTime", where),
                    header_xdr=_b64(e, "headerXdr", where),
                    metadata_xdr=_b64(e, "metadataXdr", where),
                )
            )
        return LedgersPage(
            ledgers=tuple(ledgers),
            latest_ledger=_int(r, "latestLedger", what),
            latest_ledger_close_time=_int(r, "latestLedgerCloseTime", what),
            oldest_ledger=_int(r, "oldestLedger", what),
            oldest_ledger_close_time=_int(r, "oldestLedgerCloseTime", what),
            cursor=str(r.get("cursor", "")),
        )

    def _object(self, result: object, what: str) -> dict:
        if not isinstance(result, dict):
            raise self._shape(what, f"result is not an object: {_compact(result)[:200]}")
        return result

    def _shape(self, what: str, problem: str) -> RpcResponseError:
        return RpcResponseError(f"Stellar RPC {self.display_url}: {what}: {problem}")


# -- the ledger source ----------------------------------------------------------------------
class RpcSource:
    """Ledgers from a Stellar RPC server's retention window (a :class:`LedgerSource`).

    Pages through ``getLedgers`` (the first page by ``startLedger``, then by ``cursor``), asking
    for no more than the range needs, and fetches the next page while the current one is being
    consumed (one page ahead, so at most two pages are in memory). The server's network
    passphrase is checked once, before the first ledger or tip is served.
    """

    def __init__(
        self,
        url: str,
        network: Network,
        *,
        page_limit: int = MAX_PAGE_LIMIT,
        retry: RetryPolicy | None = None,
        timeout: float | RpcTimeout | None = None,
        headers: Mapping[str, str] | None = None,
        prefetch: bool = True,
    ):
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise SourceConfigError(
                f"RPC page limit must be between 1 and {MAX_PAGE_LIMIT}, not {page_limit}"
            )
        self.client = RpcClient(url, timeout=timeout, retry=retry, headers=headers)
        self.network = network
        self.page_limit = page_limit
        self.prefetch = prefetch
        self._network_checked = False
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.client.display_url

    @property
    def description(self) -> str:
        return f"Stellar RPC {self.url}"

    def check_network(self) -> None:
        """Refuse a server for another network (:class:`NetworkMismatchError`); cached."""
        with self._lock:
            if self._network_checked:
                return
            info = self.client.get_network()
            self.network.require_passphrase(info.passphrase, f"Stellar RPC {self.url}")
            self._network_checked = True

    def latest_ledger(self) -> int:
        self.check_network()
        return self.client.get_latest_ledger().sequence

    def window(self) -> tuple[int, int]:
        """(oldest, latest) ledgers the server can serve now.

        ``getLatestLedger`` then a one-ledger ``getLedgers`` page at that ledger: both work on
        any server (``getHealth`` fails on a server that is behind, which can still serve).
        """
        self.check_network()
        latest = self.client.get_latest_ledger().sequence
        try:
            page = self.client.get_ledgers(start=latest, limit=1)
        except RpcWindowError as exc:  # the tip moved between the two calls (load balancers)
            return exc.oldest, exc.latest
        return page.oldest_ledger, page.latest_ledger

    def ledgers(self, start: int, end: int) -> Iterator[SourcedLedger]:
        if end < start:
            return
        self.check_network()
        pool = ThreadPoolExecutor(1, thread_name_prefix="rpc") if self.prefetch else None
        pending: deque[Future[LedgersPage] | _Deferred] = deque()

        def fetch(first: int, cursor: str | None) -> Future[LedgersPage] | _Deferred:
            if pool is not None:
                return pool.submit(self._page, first, end, cursor)
            return _Deferred(lambda: self._page(first, end, cursor))

        expected = start
        try:
            pending.append(fetch(start, None))
            while pending:
                page = pending.popleft().result()
                for i, led in enumerate(page.ledgers):
                    if led.sequence != expected + i:
                        raise RpcResponseError(
                            f"{self.description}: getLedgers returned ledger {led.sequence} "
                            f"where {expected + i} was expected"
                        )
                got = page.ledgers[: end - expected + 1]
                after = expected + len(got)
                if after <= end and got and after <= page.latest_ledger:
                    pending.append(fetch(after, page.cursor))  # fetched while we yield
                for led in got:
                    yield SourcedLedger(
                        led.sequence,
                        led.metadata_xdr,
                        f"{self.description} getLedgers ledger {led.sequence}",
                    )
                expected = after
                if expected <= end and not pending:
                    raise self._missing(expected, end, page.oldest_ledger, page.latest_ledger)
        finally:
            for f in pending:
                f.cancel()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def _page(self, first: int, end: int, cursor: str | None) -> LedgersPage:
        """The page starting at ``first`` (by ``startLedger``, or after ``cursor``)."""
        limit = min(self.page_limit, end - first + 1)
        try:
            if cursor is not None:
                return self.client.get_ledgers(cursor=cursor, limit=limit)
            return self.client.get_ledgers(start=first, limit=limit)
        except RpcWindowError as exc:
            raise self._missing(first, end, exc.oldest, exc.latest) from exc
        except RpcError as exc:
            # A server may reject an out-of-window start with another message (stellar-rpc
            # does when asked for history that only an unconfigured datastore would hold):
            # say the window when that is the reason, otherwise report the error as it is.
            if exc.code not in (INVALID_REQUEST, INVALID_PARAMS):
                raise
            oldest, latest = self.window()
            if oldest <= first <= latest:
                raise
            raise self._missing(first, end, oldest, latest) from exc

    def _missing(self, first: int, end: int, oldest: int, latest: int) -> MissingLedgerError:
        what = f"ledger {first}" if end == first else f"ledgers {first}-{end}"
        if first < oldest:
            why = "older ledgers have left its retention window (read them from the data lake)"
        elif first > latest:
            why = "it has not ingested them yet"
        else:
            why = f"yet it returned no ledger {first}"
        return MissingLedgerError(
            f"{what} not available from {self.description}: it holds ledgers "
            f"{oldest}..{latest} and {why}"
        )


class _Deferred:
    """A page fetched only when asked for (``prefetch=False``)."""

    def __init__(self, fn: Callable[[], LedgersPage]):
        self._fn = fn

    def result(self) -> LedgersPage:
        return self._fn()

    def cancel(self) -> bool:
        return True


# -- helpers --------------------------------------------------------------------------------
def _compact(obj: object) -> str:
    try:
        return json.dumps(obj, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(obj)


def _request(method: str, params: object) -> str:
    return method if params is None else f"{method} {_compact(params)}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _loads(data: bytes) -> Any:
    """The JSON value of ``data``, or None when it is not complete, valid JSON."""
    try:
        return json.loads(data)
    except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
        return None


def _missing_field(where: str, name: str, problem: str) -> RpcResponseError:
    return RpcResponseError(f"{where}: field {name!r} {problem}")


def _int(obj: dict, name: str, where: str) -> int:
    value = obj.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)  # stellar-rpc encodes some 64-bit numbers as strings
    if value is None:
        raise _missing_field(where, name, "is missing")
    raise _missing_field(where, name, f"is not an integer: {value!r}")


def _opt_int(obj: dict, name: str, where: str) -> int | None:
    return None if obj.get(name) is None else _int(obj, name, where)


def _str(obj: dict, name: str, where: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise _missing_field(where, name, "is missing" if value is None else "is not a string")
    return value


def _hex32(obj: dict, name: str, where: str) -> bytes:
    value = _str(obj, name, where)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise _missing_field(where, name, f"is not a 32-byte hex hash: {value[:80]!r}")
    return raw


def _b64(obj: dict, name: str, where: str) -> bytes:
    value = _str(obj, name, where)
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise _missing_field(where, name, f"is not valid base64 ({exc})") from exc
