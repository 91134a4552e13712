"""The Flight server: discovery, reads and actions over what the IO managers committed.

- ListFlights: one FlightInfo per served asset: schema, descriptor ``[asset]``, rows, and in
  ``app_metadata`` (JSON) its partitions, ledger coverage, rows and stored bytes;
- GetFlightInfo: for a descriptor (asset, partition, ledger range or any ticket), the schema, one
  endpoint whose ticket is the canonical request, and the exact rows when knowable;
- GetSchema: the schema a descriptor's request streams (after projection);
- DoGet: the rows of a ticket, as bounded record batches;
- DoAction: ``list_partitions``, ``health`` (reader); ``refresh``, ``stats`` (admin);
- DoPut, DoExchange: refused, the gateway is read-only.

Denial of service: a DoGet is admitted under the stream, per-token and memory limits
(``admission``), its batches are sized to its memory reservation (``reader.StreamMemory``), a
stream whose client stops reading is dropped (``stalls``), and every request part is size-checked
before it is parsed (``tickets``). What pyarrow cannot bound in-process, gRPC receiving a whole
request message before any handler or middleware runs, is bounded by the front proxy in
``deploy/flight-front`` (pyarrow's Flight server has no option for gRPC's receive limit).

Handlers run on gRPC's thread pool. Python only plans a request and hands each batch from the
C++ scanner to the C++ writer, so the GIL is held for microseconds per (multi-megabyte) batch
and calls proceed in parallel (measured: ``benchmarks/flight_bench.py``).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl

from ttp_assets.core.storage.catalog import PARTITIONED_FORMATS
from ttp_assets.core.storage.location import open_location

from . import logs
from .admission import Admission, Lease
from .auth import Authenticator, Principal
from .catalog import Catalog, Plan
from .config import GatewayConfig
from .errors import InvalidArgument, NotFound, client_error, status_code
from .follow import follow_batches
from .metrics import Metrics, MetricsServer
from .reader import StreamMemory, partition_rows, stream_batches
from .serving import NOT_COPIED, ServingCache
from .stalls import StallWatchdog
from .tickets import (
    Request,
    check_size,
    load_json,
    parse_descriptor,
    parse_ticket,
    projected_schema,
)

MAX_CRITERIA = 1024  # ListFlights criteria: an asset name

ACTIONS = {
    "list_partitions": (
        "reader",
        'Partitions of an asset, one JSON object per result; body: the asset name or {"asset": ..}',
    ),
    "health": ("reader", "Gateway and storage health, as JSON"),
    "refresh": ("admin", "Forget cached listings and metadata"),
    "stats": ("admin", "Requests, rows and bytes served so far, as JSON"),
    "serving_status": (
        "reader",
        "Serving copies: folder, copies, bytes, budget, pending copies to make, hits, misses; "
        'body {"wait": seconds}: first wait (at most 600 s) until none is pending',
    ),
}


# -- per-call state (a middleware instance) --------------------------------------------------


class CallState(fl.ServerMiddleware):
    """What one call did: filled by the handlers, logged and counted when the call ends."""

    def __init__(self, method: str, principal: Principal, metrics: Metrics, started: float):
        super().__init__()
        self.method = method
        self.principal = principal
        self.metrics = metrics
        self.started = started
        self.peer = ""
        self.asset = ""
        self.request = ""
        self.rows = 0
        self.bytes = 0
        self.first_batch: float | None = None
        self.error: BaseException | None = None  # the client-facing error a handler raised

    def served(self, batch: pa.RecordBatch, nbytes: int) -> None:
        if self.first_batch is None:
            self.first_batch = time.perf_counter() - self.started
            self.metrics.observe(
                "flight_gateway_first_batch_seconds", self.first_batch, asset=self.asset
            )
        n, b = batch.num_rows, nbytes
        self.rows += n
        self.bytes += b
        self.metrics.inc("flight_gateway_rows_served_total", n, asset=self.asset)
        self.metrics.inc("flight_gateway_bytes_served_total", b, asset=self.asset)

    def call_completed(self, exception: BaseException | None) -> None:
        exc = exception if exception is not None else self.error
        finish(self.metrics, self.method, self.started, exc, self.fields())

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.principal.role, "token": self.principal.token_id}
        for k in ("peer", "asset", "request"):
            if getattr(self, k):
                out[k] = getattr(self, k)
        if self.method == "DoGet":
            out.update(rows=self.rows, bytes=self.bytes)
            if self.first_batch is not None:
                out["first_batch_ms"] = round(self.first_batch * 1000, 2)
        return out


def finish(
    metrics: Metrics,
    method: str,
    started: float,
    exc: BaseException | None,
    fields: dict[str, Any],
) -> None:
    code = status_code(exc)
    elapsed = time.perf_counter() - started
    metrics.inc("flight_gateway_requests_total", method=method, code=code)
    if code != "OK":
        metrics.inc("flight_gateway_errors_total", method=method, code=code)
    metrics.observe("flight_gateway_request_duration_seconds", elapsed, method=method)
    level = logging.INFO if code in ("OK", "NOT_FOUND", "INVALID_ARGUMENT") else logging.WARNING
    extra = {"error": str(exc).split(". Detail:")[0]} if exc is not None else {}
    logs.event(
        "call",
        level,
        method=method,
        code=code,
        duration_ms=round(elapsed * 1000, 2),
        **fields,
        **extra,
    )


_METHODS = {
    fl.FlightMethod.HANDSHAKE: "Handshake",
    fl.FlightMethod.LIST_FLIGHTS: "ListFlights",
    fl.FlightMethod.GET_FLIGHT_INFO: "GetFlightInfo",
    fl.FlightMethod.GET_SCHEMA: "GetSchema",
    fl.FlightMethod.DO_GET: "DoGet",
    fl.FlightMethod.DO_PUT: "DoPut",
    fl.FlightMethod.DO_ACTION: "DoAction",
    fl.FlightMethod.LIST_ACTIONS: "ListActions",
    fl.FlightMethod.DO_EXCHANGE: "DoExchange",
}


class GatewayMiddlewareFactory(fl.ServerMiddlewareFactory):
    """Authenticates and authorizes every call, then times, counts and logs it."""

    def __init__(self, authenticator: Authenticator, metrics: Metrics):
        super().__init__()
        self.authenticator = authenticator
        self.metrics = metrics

    def start_call(self, info: fl.CallInfo, headers: dict[str, list[Any]]) -> CallState:
        started = time.perf_counter()
        method = _METHODS.get(info.method, str(info.method))
        try:
            principal = self.authenticator.authenticate(headers)
            self.authenticator.authorize(principal, info.method)
        except fl.FlightError as exc:
            # A refused call never reaches call_completed: count and log it here.
            finish(self.metrics, method, started, exc, {})
            raise
        return CallState(method, principal, self.metrics, started)


# -- tracebacks ------------------------------------------------------------------------------

_tb_lock = threading.Lock()
_tb_users = 0
_tb_saved: Any = None


def hide_tracebacks(on: bool) -> None:
    """Keep Python tracebacks out of the error messages clients receive.

    pyarrow appends ``traceback.format_exception(...)`` of a handler's exception to the status
    it sends; with ``sys.tracebacklimit = 0`` that is just ``<Type>: <message>``. Reference
    counted across servers in one process, and restored when the last one stops; the gateway's
    own log formats tracebacks with an explicit limit, so it keeps them.
    """
    global _tb_users, _tb_saved
    with _tb_lock:
        if on:
            if _tb_users == 0:
                _tb_saved = getattr(sys, "tracebacklimit", None)
                sys.tracebacklimit = 0
            _tb_users += 1
        elif _tb_users > 0:
            _tb_users -= 1
            if _tb_users == 0:
                if _tb_saved is None:
                    if hasattr(sys, "tracebacklimit"):
                        del sys.tracebacklimit
                else:
                    sys.tracebacklimit = _tb_saved


# -- the server ------------------------------------------------------------------------------


class GatewayServer(fl.FlightServerBase):
    """The Arrow Flight gateway over one storage location."""

    def __init__(self, config: GatewayConfig, metrics: Metrics | None = None):
        config.validate()
        self.config = config
        self.metrics = metrics or Metrics()
        self.catalog = Catalog(
            open_location(config.storage_uri), list_ttl=config.list_ttl, clock=config.clock
        )
        self.authenticator = Authenticator(config.tokens)
        self.serving: ServingCache | None = None
        if config.serving_dir is not None:
            self.serving = self._serving_cache(config, config.serving_dir)
            self.catalog.serving = self.serving
        self._stopping = threading.Event()
        self.admission = Admission(
            max_streams=config.max_streams,
            per_token=config.max_streams_per_token,
            memory_budget=config.memory_budget,
            stream_memory=config.stream_memory,
            metrics=self.metrics,
        )
        tls: dict[str, Any] = {}
        if config.tls:
            assert config.tls_cert and config.tls_key
            with open(config.tls_cert, "rb") as c, open(config.tls_key, "rb") as k:
                tls["tls_certificates"] = [fl.CertKeyPair(c.read(), k.read())]
            if config.tls_client_ca:
                with open(config.tls_client_ca, "rb") as ca:
                    tls["root_certificates"] = ca.read()
                tls["verify_client"] = True
        super().__init__(
            f"{config.scheme}://{config.host}:{config.port}",
            middleware={"gateway": GatewayMiddlewareFactory(self.authenticator, self.metrics)},
            **tls,
        )
        self.metrics_server: MetricsServer | None = None
        if config.metrics_port is not None:
            self.metrics_server = MetricsServer(
                self.metrics,
                self.health,
                config.metrics_host or config.host,
                config.metrics_port,
            )
        self.watchdog = StallWatchdog(
            self.admission, config.stall_timeout, lambda: self.port, self.metrics
        )
        self._thread: threading.Thread | None = None
        self._tracebacks_hidden = False

    def _serving_cache(self, config: GatewayConfig, folder: str) -> ServingCache:
        copied = [t for t in self.catalog.formats if t in PARTITIONED_FORMATS]
        tables = config.serving_tables
        if tables is None:
            tables = tuple(t for t in copied if t not in NOT_COPIED)
        unknown = [t for t in tables if t not in copied]
        if unknown:
            raise ValueError(
                f"TTP_FLIGHT_SERVING_TABLES: {', '.join(unknown)} are not ledger-range tables "
                f"this gateway serves ({', '.join(copied)})"
            )
        location = self.catalog.location
        return ServingCache(
            Path(folder),
            config.serving_bytes,
            tables,
            read=lambda view, info: partition_rows(location, view, info),
            views=self.catalog.view,
            warm_interval=config.serving_warm,
            metrics=self.metrics,
        )

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def location(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"{self.config.scheme}://{host}:{self.port}"

    def open(self) -> None:
        """Everything but the Flight serving loop: metrics endpoint, clean errors, log line."""
        hide_tracebacks(True)
        self._tracebacks_hidden = True
        if self.metrics_server is not None:
            self.metrics_server.start()
        self.watchdog.start()
        if self.serving is not None:
            self.serving.start()
        logs.event(
            "gateway_started",
            location=self.location,
            storage=self.catalog.location.uri,
            tls=self.config.tls,
            mutual_tls=bool(self.config.tls_client_ca),
            auth="token" if self.authenticator.enabled else "none",
            metrics=self.metrics_server.url if self.metrics_server else None,
            assets=self.catalog.assets(),
            max_streams=self.config.max_streams,
            max_streams_per_token=self.config.max_streams_per_token,
            memory_budget=self.config.memory_budget,
            stream_memory=self.config.stream_memory,
            stall_timeout_s=self.config.stall_timeout,
            serving=self.serving.status() if self.serving is not None else None,
        )

    def start(self) -> GatewayServer:
        """Serve from a background thread (the port is bound already); for tests and demos."""
        self.open()
        self._thread = threading.Thread(target=self.serve, name="flight-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop: end open streams at their next batch, wait for calls to finish, close all."""
        self._stopping.set()
        self.shutdown()
        if self._thread is not None:
            self._thread.join()
        self.close_rest()

    def close_rest(self) -> None:
        self.watchdog.stop()
        if self.serving is not None:
            self.serving.stop()
        if self.metrics_server is not None:
            self.metrics_server.stop()
            self.metrics_server = None
        if self._tracebacks_hidden:
            hide_tracebacks(False)
            self._tracebacks_hidden = False
        logs.event("gateway_stopped", location=self.location)

    def health(self) -> dict[str, Any]:
        try:
            self.catalog.check_storage()
        except OSError as exc:
            logs.event("health_check_failed", logging.WARNING, exc=exc)
            return {"status": "unavailable", "storage": "unreachable"}
        return {
            "status": "ok",
            "storage": "ok",
            "active_streams": self.admission.active,
            "memory_reserved_bytes": self.admission.reserved,
        }

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _state(context: fl.ServerCallContext) -> CallState | None:
        state = context.get_middleware("gateway")
        if isinstance(state, CallState):
            if not state.peer:
                state.peer = context.peer()
            return state
        return None

    def _plan(self, context: fl.ServerCallContext, request: Request) -> Plan:
        state = self._state(context)
        if state is not None:
            state.asset, state.request = request.asset, request.describe()
        try:
            return self.catalog.plan(request)
        except Exception as exc:
            raise self._fail(state, exc, f"{request.asset}") from None

    def _fail(self, state: CallState | None, exc: BaseException, what: str) -> BaseException:
        err = client_error(exc, what)
        if err is not exc:
            logs.event("internal_error", logging.ERROR, exc=exc, what=what)
        if state is not None:
            state.error = err
        return err

    def _guard(self, context: fl.ServerCallContext, what: str, fn: Any, *args: Any) -> Any:
        """Run ``fn`` and turn whatever it raises into a client-facing error."""
        try:
            return fn(*args)
        except Exception as exc:
            raise self._fail(self._state(context), exc, what) from None

    def _info(self, plan: Plan, descriptor: fl.FlightDescriptor) -> fl.FlightInfo:
        meta = {
            "asset": plan.view.asset,
            "format": plan.view.format,
            "partitions": [p.info.key for p in plan.parts][:1000],
            "partition_count": len(plan.parts),
            "rows_in_partitions": sum(p.info.rows for p in plan.parts),
            "stored_bytes": sum(p.info.stored_bytes for p in plan.parts),
            "request": plan.request.to_json(),
        }
        if plan.view.delta is not None:
            meta["delta_version"] = plan.view.delta.version
        if plan.window is not None:
            meta["closed_at"] = plan.window.to_json()  # the resolved window, [from, to)
        endpoint = fl.FlightEndpoint(plan.request.ticket(), [])
        return fl.FlightInfo(
            plan.schema,
            descriptor,
            [endpoint],
            total_records=plan.total_records,
            total_bytes=-1,
            ordered=True,
            app_metadata=json.dumps(meta),
        )

    # -- discovery -----------------------------------------------------------------------------
    def list_flights(
        self, context: fl.ServerCallContext, criteria: bytes
    ) -> Iterator[fl.FlightInfo]:
        assets = self.catalog.assets()
        if len(criteria) > MAX_CRITERIA:
            raise self._fail(
                self._state(context),
                InvalidArgument(
                    f"criteria too long ({len(criteria)} bytes, at most {MAX_CRITERIA})"
                ),
                "ListFlights",
            )
        if criteria:
            wanted = criteria.decode("utf-8", "replace").strip()
            if wanted not in assets:
                raise self._fail(
                    self._state(context),
                    NotFound(f"unknown asset {wanted[:40]!r}; served: {', '.join(assets)}"),
                    "ListFlights",
                )
            assets = [wanted]
        infos = []
        for asset in assets:
            view = self._guard(context, asset, self.catalog.view, asset)
            endpoints = [fl.FlightEndpoint(Request(asset).ticket(), [])] if view.partitions else []
            infos.append(
                fl.FlightInfo(
                    view.schema,
                    fl.FlightDescriptor.for_path(asset),
                    endpoints,
                    total_records=view.rows,
                    total_bytes=-1,
                    ordered=True,
                    app_metadata=json.dumps(view.summary()),
                )
            )
        return iter(infos)

    def get_flight_info(
        self, context: fl.ServerCallContext, descriptor: fl.FlightDescriptor
    ) -> fl.FlightInfo:
        request = self._guard(
            context, "descriptor", parse_descriptor, descriptor, self.catalog.schemas
        )
        return self._info(self._plan(context, request), descriptor)

    def get_schema(
        self, context: fl.ServerCallContext, descriptor: fl.FlightDescriptor
    ) -> fl.SchemaResult:
        request = self._guard(
            context, "descriptor", parse_descriptor, descriptor, self.catalog.schemas
        )
        return fl.SchemaResult(self._plan(context, request).schema)

    # -- reads ---------------------------------------------------------------------------------
    def do_get(self, context: fl.ServerCallContext, ticket: fl.Ticket) -> fl.GeneratorStream:
        request = self._guard(context, "ticket", parse_ticket, ticket.ticket, self.catalog.schemas)
        state = self._state(context)
        # Admission before planning: a refused stream costs no storage listing.
        token = (
            state.principal.token_id if state is not None and self.authenticator.enabled else None
        )
        try:
            lease = self.admission.admit(token, context.peer())
        except fl.FlightError as exc:
            raise self._fail(state, exc, "DoGet") from None
        memory = self._memory(request)
        try:
            if request.follow:
                if state is not None:
                    state.asset, state.request = request.asset, request.describe()
                view = self.catalog.view(request.asset)
                schema = projected_schema(view.schema, request.columns)
                source: Iterator[tuple[pa.RecordBatch, int, bytes | None]] = follow_batches(
                    self.catalog, request, self._stopping, memory, context.is_cancelled
                )
            else:
                plan = self._plan(context, request)
                schema = plan.schema
                source = (
                    (b, n, None)
                    for b, n in stream_batches(plan, stop=self._stopping.is_set, memory=memory)
                )
        except BaseException as exc:
            lease.release()
            if isinstance(exc, fl.FlightError):
                raise
            raise self._fail(state, exc, request.asset) from None
        stream = self._stream(source, request, state, lease)
        # The lease is given back when the stream ends (its finally) or, for a stream dropped
        # before it ever ran (a client gone at once: no finally to run), when it is collected.
        weakref.finalize(stream, lease.release)
        options = pa.ipc.IpcWriteOptions(compression=request.compression)
        return fl.GeneratorStream(schema, stream, options=options)

    def _memory(self, request: Request) -> StreamMemory:
        rows = self.config.batch_rows
        if request.batch_rows is not None:  # the client's choice, within the gateway's
            rows = min(rows, request.batch_rows)
        return StreamMemory(self.config.stream_memory, rows, self.config.max_batch_bytes)

    def _stream(
        self,
        batches: Iterator[tuple[pa.RecordBatch, int, bytes | None]],
        request: Request,
        state: CallState | None,
        lease: Lease,
    ) -> Iterator[pa.RecordBatch | tuple[pa.RecordBatch, bytes]]:
        try:
            while True:
                try:
                    batch, nbytes, meta = next(batches)
                except StopIteration:
                    return
                except Exception as exc:
                    raise self._fail(state, exc, request.describe()) from None
                if state is not None:
                    state.served(batch, nbytes)
                lease.handed()
                yield batch if meta is None else (batch, meta)
                # Pulled again: the client read. One that took too long (the watchdog could not
                # close its connection, or had not looked yet) is dropped here.
                waited = lease.waited(time.monotonic())
                lease.pulled()
                if lease.dropped or waited > self.config.stall_timeout:
                    lease.dropped = True
                    raise self._fail(state, self._stalled(waited), request.describe())
        except GeneratorExit:
            # Closed by gRPC: the client went, or the watchdog closed a stalled connection.
            if lease.dropped and state is not None and state.error is None:
                state.error = self._stalled(lease.waited(time.monotonic()))
            raise
        finally:
            lease.release()

    def _stalled(self, waited: float) -> BaseException:
        return fl.FlightTimedOutError(
            f"stream dropped: the client read nothing for {waited:.1f} s, more than "
            f"{self.config.stall_timeout:g} s (TTP_FLIGHT_STALL_TIMEOUT)"
        )

    def do_put(self, context: fl.ServerCallContext, *args: Any) -> None:
        raise self._fail(self._state(context), _read_only(), "DoPut")

    def do_exchange(self, context: fl.ServerCallContext, *args: Any) -> None:
        raise self._fail(self._state(context), _read_only(), "DoExchange")

    # -- actions -------------------------------------------------------------------------------
    def list_actions(self, context: fl.ServerCallContext) -> list[tuple[str, str]]:
        return [(name, f"{desc} (role: {role})") for name, (role, desc) in ACTIONS.items()]

    def do_action(self, context: fl.ServerCallContext, action: fl.Action) -> Iterator[bytes]:
        state = self._state(context)
        name = action.type
        if state is not None:
            state.request = f"action {name[:40]}"
        if name not in ACTIONS:
            raise self._fail(
                state,
                InvalidArgument(f"unknown action {name[:40]!r}; actions: {', '.join(ACTIONS)}"),
                "DoAction",
            )
        role = ACTIONS[name][0]
        principal = state.principal if state is not None else None
        if principal is not None and not principal.can(role):
            raise self._fail(
                state,
                fl.FlightUnauthorizedError(f"action {name!r} needs the {role!r} role"),
                "DoAction",
            )
        if action.body is not None:
            self._guard(context, "action body", check_size, action.body.size, "action body")
        body = action.body.to_pybytes() if action.body is not None else b""
        if name == "list_partitions":
            asset = self._guard(context, "list_partitions", _action_asset, body, self.catalog)
            if state is not None:
                state.asset = asset
            view = self._guard(context, asset, self.catalog.view, asset)
            return iter([json.dumps(p.to_json()).encode() for p in view.partitions.values()])
        if name == "health":
            return iter([json.dumps(self.health()).encode()])
        if name == "refresh":
            self.catalog.refresh()
            return iter([b'{"status": "refreshed"}'])
        if name == "serving_status":
            wait = self._guard(context, "serving_status", _wait_seconds, body)
            if self.serving is None:
                return iter([b'{"enabled": false}'])
            if wait:
                self.serving.drain(wait)
            return iter([json.dumps({"enabled": True, **self.serving.status()}).encode()])
        stats = {
            "requests": self.metrics.total("flight_gateway_requests_total"),
            "errors": self.metrics.total("flight_gateway_errors_total"),
            "rows_served": self.metrics.total("flight_gateway_rows_served_total"),
            "bytes_served": self.metrics.total("flight_gateway_bytes_served_total"),
            "active_streams": self.admission.active,
            "memory_reserved_bytes": self.admission.reserved,
            "streams_refused": self.metrics.total("flight_gateway_streams_refused_total"),
            "stalled_streams": self.metrics.total("flight_gateway_stalled_streams_total"),
        }
        return iter([json.dumps(stats).encode()])


def _read_only() -> BaseException:
    return NotImplementedError(
        "the gateway is read-only: the IO managers are the only writers of the storage"
    )


def _wait_seconds(body: bytes) -> float:
    if not body.strip():
        return 0.0
    obj = load_json(body.decode("utf-8", "replace"), "action body")
    wait = obj.get("wait") if isinstance(obj, dict) and set(obj) <= {"wait"} else None
    if not isinstance(wait, int | float) or isinstance(wait, bool) or not 0 <= wait <= 600:
        raise InvalidArgument('serving_status body must be empty or {"wait": 0..600 seconds}')
    return float(wait)


def _action_asset(body: bytes, catalog: Catalog) -> str:
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        obj = load_json(text, "action body")
        if not isinstance(obj, dict) or set(obj) != {"asset"} or not isinstance(obj["asset"], str):
            raise InvalidArgument('action body must be {"asset": "<name>"} or the asset name')
        text = obj["asset"]
    if not text:
        raise InvalidArgument("list_partitions needs an asset name")
    if text not in catalog.schemas:
        raise NotFound(f"unknown asset {text[:40]!r}; served assets: {', '.join(catalog.assets())}")
    return text
