"""A real Stellar RPC server for tests: JSON-RPC 2.0 over HTTP on 127.0.0.1, real ledgers.

It answers ``getLedgers``, ``getLatestLedger``, ``getHealth`` and ``getNetwork`` in exactly the
shapes stellar-rpc uses (see ``../shared/data/rpc``), from a contiguous run of real
``LedgerCloseMeta`` held in memory, with the protocol's pagination rules:

* ``startLedger`` and ``pagination.cursor`` are mutually exclusive (-32600);
* ``pagination.limit`` defaults to 50 and is capped at 200 (``strict_limit=True`` instead
  answers -32600 "limit must not exceed 200", as current stellar-rpc releases do);
* the cursor is the last sequence returned; the next page starts after it and must lie in the
  window, else -32602 (so a cursor at the tip is an error, as on a real server);
* a ``startLedger`` outside ``[oldestLedger, latestLedger]`` is -32600 naming the window;
* -32601 for unknown methods, -32602 for bad params, -32700 for bodies that are not JSON.

Test controls (thread-safe; the server runs in its own threads):

* ``advance_to(seq)`` moves the tip (only ledgers up to it are visible), ``set_oldest(seq)``
  moves the start of the retention window, ``set_window(oldest, latest)`` both;
* ``fail_next(n, kind, method=...)`` makes the next ``n`` matching requests fail,
  ``fail_always(kind, ...)`` until ``clear_faults()``: see :data:`FAULT_KINDS`. A ``timeout``
  request is held (no reply) until ``release()``, then answered normally; ``wait_held(n)``
  blocks until ``n`` requests are being held. ``stop()`` releases everything;
* ``respond_with(method, result)`` replays a recorded result verbatim;
* ``requests`` counts requests per method (failed ones included), ``request_log`` keeps
  ``(method, params)`` in arrival order, ``reset_counts()`` clears both.

The socket is bound when the object is created, so ``url`` is valid before ``start()`` returns
and nothing ever waits for the server to come up.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import socket
import struct
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Literal, get_args

from stellar_sdk import xdr
from xdrlib3 import Unpacker

from ttp_assets.core.network import TESTNET_PASSPHRASE
from ttp_assets_tests.shared_data import lake_files

FaultKind = Literal[
    "timeout",  # hold the request without answering until release() (the client times out)
    "http500",  # HTTP 500 with a short text body
    "http503",  # HTTP 503, empty body (stellar-rpc's backlog limiter); Retry-After if given
    "http429",  # HTTP 429 with Retry-After
    "malformed",  # HTTP 200 whose body is the first half of the real JSON answer
    "truncated",  # Content-Length of the full answer, half the bytes, then the socket closes
    "rpc_error",  # a JSON-RPC error object (code and message configurable)
    "reset",  # the connection is reset (RST) without an answer
]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    method: str | None = None  # only requests for this method; None: any request
    retry_after: str | None = None  # Retry-After header for http429 / http503
    code: int = -32603  # for rpc_error
    message: str = "error fetching ledgers from db: injected failure"  # for rpc_error


@dataclass(frozen=True)
class _Ledger:
    sequence: int
    close_time: int
    hash_hex: str
    protocol_version: int
    entry: bytes  # the getLedgers entry, JSON-encoded
    latest: bytes  # the getLatestLedger result for this ledger as the tip, JSON-encoded


class _RpcFault(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@cache
def _prepare(lcm: bytes) -> _Ledger:
    """Everything the server says about one ledger, computed once from its LCM bytes."""
    u = Unpacker(lcm)
    version = u.unpack_int()
    if version in (1, 2):
        xdr.LedgerCloseMetaExt.unpack(u)
    elif version != 0:
        raise ValueError(f"unknown LedgerCloseMeta version {version}")
    entry_start = u.get_position()
    ledger_hash = u.unpack_fopaque(32)
    header_start = u.get_position()
    header = xdr.LedgerHeader.unpack(u)
    header_end = u.get_position()
    xdr.LedgerHeaderHistoryEntryExt.unpack(u)
    entry_end = u.get_position()
    seq = header.ledger_seq.uint32
    close_time = header.scp_value.close_time.time_point.uint64
    meta_b64 = base64.b64encode(lcm).decode()
    entry = {
        "hash": ledger_hash.hex(),
        "sequence": seq,
        "ledgerCloseTime": str(close_time),
        "headerXdr": base64.b64encode(lcm[entry_start:entry_end]).decode(),
        "metadataXdr": meta_b64,
    }
    latest = {
        "id": ledger_hash.hex(),
        "protocolVersion": header.ledger_version.uint32,
        "sequence": seq,
        "closeTime": str(close_time),
        "headerXdr": base64.b64encode(lcm[header_start:header_end]).decode(),
        "metadataXdr": meta_b64,
    }
    return _Ledger(
        seq,
        close_time,
        ledger_hash.hex(),
        header.ledger_version.uint32,
        json.dumps(entry, separators=(",", ":")).encode(),
        json.dumps(latest, separators=(",", ":")).encode(),
    )


@cache
def lake_ledgers(name: str) -> tuple[str, tuple[bytes, ...]]:
    """(passphrase, LCMs in sequence order) of a shared lake, e.g. ``testnet-2022``."""
    files = lake_files(name)
    lcms = [lcm for f in files for lcm in f.ledgers()]
    prepared = sorted(((_prepare(b).sequence, b) for b in lcms), key=lambda t: t[0])
    return files[0].network.passphrase, tuple(b for _, b in prepared)


class RpcTestServer:
    """A Stellar RPC server on 127.0.0.1 (free port) over ``ledgers`` (contiguous LCMs)."""

    def __init__(
        self,
        ledgers: Iterable[bytes],
        passphrase: str = TESTNET_PASSPHRASE,
        *,
        tip: int | None = None,
        oldest: int | None = None,
        default_limit: int = DEFAULT_LIMIT,
        max_limit: int = MAX_LIMIT,
        strict_limit: bool = False,
        compress: bool = False,
        friendbot_url: str | None = None,
        retention_window: int | None = None,
        path: str = "/",
    ):
        prepared = sorted((_prepare(b) for b in ledgers), key=lambda led: led.sequence)
        if not prepared:
            raise ValueError("an RPC test server needs at least one ledger")
        seqs = [led.sequence for led in prepared]
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            raise ValueError(f"ledgers must be contiguous, got {seqs[0]}..{seqs[-1]} with gaps")
        self._ledgers = {led.sequence: led for led in prepared}
        self.first_held, self.last_held = seqs[0], seqs[-1]
        self.passphrase = passphrase
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.strict_limit = strict_limit
        self.compress = compress  # gzip answers for clients that send Accept-Encoding: gzip
        self.friendbot_url = friendbot_url
        self.retention_window = retention_window or len(seqs)
        self.path = path

        self._lock = threading.Condition()
        self._oldest = self.first_held
        self._tip = self.last_held
        self.set_window(oldest if oldest is not None else self.first_held, tip or self.last_held)
        self._faults: deque[Fault] = deque()
        self._outage: Fault | None = None
        self._canned: dict[str, bytes] = {}
        self._hold = threading.Event()
        self._held = 0
        self.requests: Counter[str] = Counter()
        self.request_log: list[tuple[str, Any]] = []

        self._http = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._http.rpc = self
        self.port: int = self._http.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._thread: threading.Thread | None = None

    @classmethod
    def from_lake(cls, name: str = "testnet-2022", **kwargs: Any) -> RpcTestServer:
        """A server over all the ledgers of a shared lake (default: the 160 testnet ones)."""
        passphrase, lcms = lake_ledgers(name)
        return cls(lcms, passphrase, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> RpcTestServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._http.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"rpc-test-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        self._http.server_close()

    def __enter__(self) -> RpcTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- window ------------------------------------------------------------------------------
    @property
    def tip(self) -> int:
        with self._lock:
            return self._tip

    @property
    def oldest(self) -> int:
        with self._lock:
            return self._oldest

    def set_window(self, oldest: int, latest: int) -> None:
        if not self.first_held <= oldest <= latest <= self.last_held:
            raise ValueError(
                f"window {oldest}..{latest} must lie within the held ledgers "
                f"{self.first_held}..{self.last_held}"
            )
        with self._lock:
            self._oldest, self._tip = oldest, latest

    def advance_to(self, seq: int) -> None:
        """Move the tip: ledgers after ``seq`` become invisible, up to it visible."""
        self.set_window(self.oldest, seq)

    def set_oldest(self, seq: int) -> None:
        """Move the retention window's start (ledgers before ``seq`` age out)."""
        self.set_window(seq, self.tip)

    def lcm(self, seq: int) -> bytes:
        """The LCM bytes the server holds for ``seq`` (visible or not)."""
        return base64.b64decode(json.loads(self._ledgers[seq].entry)["metadataXdr"])

    # -- faults ------------------------------------------------------------------------------
    def fail_next(
        self,
        n: int = 1,
        kind: FaultKind = "http500",
        *,
        method: str | None = None,
        retry_after: str | float | None = None,
        code: int = -32603,
        message: str | None = None,
    ) -> None:
        """Make the next ``n`` requests (for ``method``, or any) fail with ``kind``."""
        fault = self._fault(kind, method, retry_after, code, message)
        with self._lock:
            self._faults.extend([fault] * n)

    def fail_always(
        self,
        kind: FaultKind = "http503",
        *,
        method: str | None = None,
        retry_after: str | float | None = None,
        code: int = -32603,
        message: str | None = None,
    ) -> None:
        """An outage: every matching request fails with ``kind`` until ``clear_faults()``."""
        fault = self._fault(kind, method, retry_after, code, message)
        with self._lock:
            self._outage = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._outage = None
            self._canned.clear()

    def respond_with(self, method: str, result: object | None) -> None:
        """Answer every ``method`` request with this exact ``result`` (None: back to normal).

        For replaying recorded responses (the examples in ``shared/data/rpc``) or serving a
        result that is wrong on purpose; the request's id is echoed as usual.
        """
        with self._lock:
            if result is None:
                self._canned.pop(method, None)
            else:
                self._canned[method] = json.dumps(result).encode()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def release(self) -> None:
        """Let every request held by a ``timeout`` fault go on and be answered normally."""
        with self._lock:
            self._hold.set()
            self._hold = threading.Event()

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    def wait_held(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests are being held (True) or ``timeout`` passes."""
        with self._lock:
            return self._lock.wait_for(lambda: self._held >= count, timeout)

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return self.requests[method] if method else sum(self.requests.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.request_log.clear()

    @staticmethod
    def _fault(
        kind: FaultKind,
        method: str | None,
        retry_after: str | float | None,
        code: int,
        message: str | None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if kind == "http429" and retry_after is None:
            retry_after = 1
        return Fault(
            kind,
            method,
            None if retry_after is None else _retry_after_text(retry_after),
            code,
            message or Fault.message,
        )

    def _take_fault(self, method: str) -> Fault | None:
        for i, f in enumerate(self._faults):
            if f.method is None or f.method == method:
                del self._faults[i]
                return f
        if self._outage is not None and self._outage.method in (None, method):
            return self._outage
        return None

    # -- HTTP --------------------------------------------------------------------------------
    def _serve(self, h: _Handler) -> None:
        if h.path.split("?")[0] != self.path:
            _send(h, 404, b"not found", "text/plain")
            return
        length = h.headers.get("Content-Length")
        if length is None:
            _send(h, 411, b"Content-Length required", "text/plain")
            return
        body = h.rfile.read(int(length))
        try:
            req: Any = json.loads(body)
        except ValueError:
            req = _PARSE_ERROR
        if isinstance(req, dict) and isinstance(req.get("method"), str):
            method = req["method"]
        else:
            method = "<batch>" if isinstance(req, list) else "<invalid>"
        with self._lock:
            self.requests[method] += 1
            self.request_log.append((method, req.get("params") if isinstance(req, dict) else req))
            fault = self._take_fault(method)
        if fault is None:
            self._answer(h, req)
        else:
            self._inject(h, req, fault)

    def _answer(self, h: _Handler, req: Any) -> None:
        out = self._respond(req)
        if out is None:  # notifications only
            _send(h, 204, b"", None)
        elif self.compress and "gzip" in (h.headers.get("Accept-Encoding") or ""):
            _send(h, 200, gzip.compress(out, 1), headers={"Content-Encoding": "gzip"})
        else:
            _send(h, 200, out)

    def _inject(self, h: _Handler, req: Any, fault: Fault) -> None:
        kind = fault.kind
        if kind == "timeout":
            with self._lock:
                event = self._hold
                self._held += 1
                self._lock.notify_all()
            event.wait()
            with self._lock:
                self._held -= 1
                self._lock.notify_all()
            h.close_connection = True
            with contextlib.suppress(OSError):  # the client may have given up long ago
                self._answer(h, req)
        elif kind in ("http500", "http503", "http429"):
            status = int(kind[4:])
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            body = b"internal server error\n" if status == 500 else b""
            _send(h, status, body, "text/plain", headers)
        elif kind == "malformed":
            full = self._respond(req) or b"{}"
            _send(h, 200, full[: max(1, len(full) // 2)])
        elif kind == "truncated":
            full = self._respond(req) or b"{}"
            h.close_connection = True
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(full)))
            h.end_headers()
            h.wfile.write(full[: len(full) // 2])
        elif kind == "rpc_error":
            rid = req.get("id") if isinstance(req, dict) else None
            _send(h, 200, _error(rid, fault.code, fault.message))
        elif kind == "reset":
            h.close_connection = True
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()  # closing with a zero linger sends RST, not FIN
        else:  # pragma: no cover - guarded by _fault
            raise AssertionError(kind)

    # -- JSON-RPC ----------------------------------------------------------------------------
    def _respond(self, req: Any) -> bytes | None:
        if req is _PARSE_ERROR:
            return _error(None, -32700, "parse error")
        if isinstance(req, list):
            if not req:
                return _error(None, -32600, "empty request batch")
            parts = [r for r in (self._one(x) for x in req) if r is not None]
            return b"[" + b",".join(parts) + b"]" if parts else None
        return self._one(req)

    def _one(self, req: Any) -> bytes | None:
        if (
            not isinstance(req, dict)
            or req.get("jsonrpc") != "2.0"
            or not isinstance(req.get("method"), str)
        ):
            rid = req.get("id") if isinstance(req, dict) else None
            return _error(rid, -32600, "invalid request")
        rid = req.get("id")
        method = req["method"]
        handler = self._methods.get(method)
        with self._lock:
            canned = self._canned.get(method)
        if canned is not None:
            out = (
                b'{"jsonrpc":"2.0","id":' + json.dumps(rid).encode() + b',"result":' + canned + b"}"
            )
        elif handler is None:
            out = _error(rid, -32601, f"no such method {json.dumps(method)}")
        else:
            try:
                result = handler(self, req.get("params"))
            except _RpcFault as f:
                out = _error(rid, f.code, f.message)
            else:
                out = b'{"jsonrpc":"2.0","id":' + json.dumps(rid).encode()
                out += b',"result":' + result + b"}"
        return None if "id" not in req else out

    def _window(self) -> tuple[int, int]:
        with self._lock:
            return self._oldest, self._tip

    def _get_health(self, params: Any) -> bytes:
        _no_params(params)
        oldest, tip = self._window()
        return _dumps(
            {
                "status": "healthy",
                "latestLedger": tip,
                "oldestLedger": oldest,
                "ledgerRetentionWindow": self.retention_window,
            }
        )

    def _get_network(self, params: Any) -> bytes:
        _no_params(params)
        _, tip = self._window()
        out: dict[str, object] = {}
        if self.friendbot_url:
            out["friendbotUrl"] = self.friendbot_url
        out["passphrase"] = self.passphrase
        out["protocolVersion"] = self._ledgers[tip].protocol_version
        return _dumps(out)

    def _get_latest_ledger(self, params: Any) -> bytes:
        _no_params(params)
        _, tip = self._window()
        return self._ledgers[tip].latest

    def _get_ledgers(self, params: Any) -> bytes:
        if not isinstance(params, dict):
            raise _RpcFault(-32602, "invalid parameters: getLedgers takes an object")
        start = _uint32(params.get("startLedger", 0), "startLedger")
        pagination = params.get("pagination")
        if pagination is not None and not isinstance(pagination, dict):
            raise _RpcFault(-32602, "invalid parameters: pagination must be an object")
        pagination = pagination or {}
        cursor = pagination.get("cursor", "")
        if cursor is None:
            cursor = ""
        if not isinstance(cursor, str):
            raise _RpcFault(
                -32602,
                "invalid parameters: json: cannot unmarshal number into Go struct field "
                "LedgerPaginationOptions.pagination.cursor of type string",
            )
        limit = _uint32(pagination.get("limit", 0), "pagination.limit")
        fmt = params.get("xdrFormat", "")
        if fmt not in ("", "base64"):
            raise _RpcFault(-32602, f"invalid parameters: unsupported xdrFormat {fmt!r}")

        oldest, tip = self._window()
        if cursor and start:
            raise _RpcFault(-32600, "startLedger and cursor cannot both be set")
        if limit > self.max_limit:
            if self.strict_limit:
                raise _RpcFault(-32600, f"limit must not exceed {self.max_limit}")
            limit = self.max_limit
        if limit == 0:
            limit = self.default_limit
        if cursor:
            if not cursor.isdigit() or int(cursor) >= 2**32:
                raise _RpcFault(-32602, f'strconv.ParseUint: parsing "{cursor}": invalid syntax')
            first = int(cursor) + 1
            if not oldest <= first <= tip:
                raise _RpcFault(
                    -32602,
                    f"cursor ('{cursor}') must be between the oldest ledger: {oldest} and the "
                    f"latest ledger: {tip} for this rpc instance",
                )
        else:
            if not oldest <= start <= tip:
                raise _RpcFault(
                    -32600,
                    f"start ledger must be between the oldest ledger: {oldest} and the latest "
                    f"ledger: {tip} for this rpc instance",
                )
            first = start
        last = min(first + limit - 1, tip)
        seqs = range(first, last + 1)
        # The cursor is the last ledger returned; with none, the request's cursor or start-1.
        next_cursor = str(last) if seqs else cursor or str(first - 1)
        entries = b",".join(self._ledgers[s].entry for s in seqs)
        tail = _dumps(
            {
                "latestLedger": tip,
                "latestLedgerCloseTime": self._ledgers[tip].close_time,
                "oldestLedger": oldest,
                "oldestLedgerCloseTime": self._ledgers[oldest].close_time,
                "cursor": next_cursor,
            }
        )
        return b'{"ledgers":[' + entries + b"]," + tail[1:]

    _methods: ClassVar[dict[str, Callable[[RpcTestServer, Any], bytes]]] = {
        "getHealth": _get_health,
        "getNetwork": _get_network,
        "getLatestLedger": _get_latest_ledger,
        "getLedgers": _get_ledgers,
    }


_PARSE_ERROR = object()


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _error(rid: object, code: int, message: str) -> bytes:
    return _dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})


def _no_params(params: Any) -> None:
    if params not in (None, {}, []):
        raise _RpcFault(-32602, "invalid parameters: no parameters accepted")


def _uint32(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise _RpcFault(
            -32602,
            f"invalid parameters: json: cannot unmarshal {json.dumps(value)} into Go struct "
            f"field {name} of type uint32",
        )
    return value


def _retry_after_text(value: str | float) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def _send(
    h: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    h.send_response(status)
    if content_type:
        h.send_header("Content-Type", content_type)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if body:
        h.wfile.write(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    rpc: RpcTestServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, injected resets) are expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ttp-test-rpc/1"
    timeout = 30  # idle keep-alive connections are dropped after this
    server: _HTTPServer

    def do_POST(self) -> None:
        self.server.rpc._serve(self)

    def do_GET(self) -> None:
        _send(self, 405, b"JSON-RPC takes POST\n", "text/plain", {"Allow": "POST"})

    def log_message(self, format: str, *args: Any) -> None:
        pass
