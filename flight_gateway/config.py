"""The gateway's settings, from the environment (and command-line flags, which win).

They are read through ``ttp_assets.settings.environ()``: the instance's saved settings file
(``$DAGSTER_HOME/ttp.env``, written by the main job) with the environment on top, so the gateway
serves the storage the main job wrote. ``TTP_STORAGE_URI`` means what it means to the assets.

| variable | default | meaning |
|---|---|---|
| ``TTP_STORAGE_URI`` | ``./.ttp_data`` | the storage the IO managers write (folder or ``s3://``) |
| ``TTP_FLIGHT_HOST`` | ``127.0.0.1`` | interface to listen on |
| ``TTP_FLIGHT_PORT`` | ``8815`` | Flight port (``0``: any free port) |
| ``TTP_FLIGHT_TOKENS`` | | ``role:token[,role:token...]``, roles ``reader`` / ``admin`` |
| ``TTP_FLIGHT_TOKENS_FILE`` | | a file of ``<role> <token>`` lines (instead of / with the above) |
| ``TTP_FLIGHT_AUTH`` | ``token`` | ``none`` disables authentication (loopback only) |
| ``TTP_FLIGHT_TLS_CERT`` | | PEM certificate (chain): serve ``grpc+tls`` |
| ``TTP_FLIGHT_TLS_KEY`` | | PEM private key of that certificate |
| ``TTP_FLIGHT_TLS_CLIENT_CA`` | | PEM CA: also require client certificates (mutual TLS) |
| ``TTP_FLIGHT_ALLOW_INSECURE`` | ``false`` | allow plaintext on a non-loopback interface |
| ``TTP_FLIGHT_METRICS_PORT`` | ``8816`` | ``/metrics``, ``/healthz``; ``off``: none, ``0``: any |
| ``TTP_FLIGHT_METRICS_HOST`` | Flight host | interface of the metrics endpoint |
| ``TTP_FLIGHT_BATCH_BYTES`` | ``4194304`` | largest record batch sent (≤ 16 MiB) |
| ``TTP_FLIGHT_BATCH_ROWS`` | ``65536`` | most rows in one record batch |
| ``TTP_FLIGHT_MAX_STREAMS`` | ``32`` | concurrent DoGet streams; more are refused (UNAVAILABLE) |
| ``TTP_FLIGHT_MAX_STREAMS_PER_TOKEN`` | ``8`` | concurrent DoGet streams of one bearer token |
| ``TTP_FLIGHT_MEMORY_BUDGET`` | ``1G`` | memory all streams reserve together (bytes; K, M, G) |
| ``TTP_FLIGHT_STREAM_MEMORY`` | ``72M`` | one stream's reservation; its batches fit in it |
| ``TTP_FLIGHT_STALL_TIMEOUT`` | ``30`` | seconds a stream may wait for its client; then dropped |
| ``TTP_FLIGHT_LIST_TTL`` | ``0`` | seconds a storage listing is reused (for very large S3 stores) |
| ``TTP_FLIGHT_LOG_LEVEL`` | ``INFO`` | log level |
| ``TTP_FLIGHT_SERVING_DIR`` | under the temp dir | serving copies' local folder; ``off``: none |
| ``TTP_FLIGHT_SERVING_BYTES`` | ``4G`` | most bytes of copies; least recently used go first |
| ``TTP_FLIGHT_SERVING_TABLES`` | all but raw_ledgers | comma-separated tables to copy |
| ``TTP_FLIGHT_SERVING_WARM`` | ``2`` | seconds between looks for commits to copy; ``0``: on read |
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ttp_assets.settings import environ, resolve_storage_uri

from .admission import MiB
from .auth import parse_tokens, read_tokens_file
from .reader import DEFAULT_BATCH_ROWS, DEFAULT_MAX_BATCH_BYTES, HARD_MAX_BATCH_BYTES
from .serving import DEFAULT_WARM_INTERVAL

DEFAULT_PORT = 8815
DEFAULT_METRICS_PORT = 8816
DEFAULT_MAX_STREAMS = 32
DEFAULT_STREAMS_PER_TOKEN = 8
DEFAULT_MEMORY_BUDGET = 1024 * MiB
DEFAULT_STREAM_MEMORY = 72 * MiB  # measured: 66-69 MB of RSS per concurrent stream (README)
MIN_STREAM_MEMORY = MiB // 4
DEFAULT_STALL_TIMEOUT = 30.0
DEFAULT_SERVING_BYTES = 4096 * MiB
_TRUE = {"1", "true", "yes", "on"}
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@dataclass(frozen=True)
class GatewayConfig:
    storage_uri: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # token -> role; None: authentication disabled (TTP_FLIGHT_AUTH=none)
    tokens: dict[str, str] | None = field(default_factory=dict, repr=False)
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    allow_insecure: bool = False
    metrics_port: int | None = DEFAULT_METRICS_PORT  # None: no metrics endpoint
    metrics_host: str | None = None
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    batch_rows: int = DEFAULT_BATCH_ROWS
    max_streams: int = DEFAULT_MAX_STREAMS
    max_streams_per_token: int = DEFAULT_STREAMS_PER_TOKEN
    memory_budget: int = DEFAULT_MEMORY_BUDGET  # bytes all streams reserve together
    stream_memory: int = DEFAULT_STREAM_MEMORY  # bytes one stream reserves
    stall_timeout: float = DEFAULT_STALL_TIMEOUT  # seconds a stream waits for its client
    list_ttl: float = 0.0
    log_level: str = "INFO"
    # Serving copies (``serving``): their local folder (None: read the tables only), byte
    # budget, tables (None: every ledger-range table but raw_ledgers) and warm interval (s).
    serving_dir: str | None = None
    serving_bytes: int = DEFAULT_SERVING_BYTES
    serving_tables: tuple[str, ...] | None = None
    serving_warm: float = DEFAULT_WARM_INTERVAL
    # What "now" is in time windows ("closed_at": ["now-1h", "now"]): the system clock unless
    # given (tests pin it); not settable from the environment.
    clock: Callable[[], dt.datetime] | None = field(default=None, compare=False, repr=False)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def scheme(self) -> str:
        return "grpc+tls" if self.tls else "grpc"

    def validate(self) -> GatewayConfig:
        """Raise ValueError on settings that cannot work or would be unsafe."""
        if not self.storage_uri:
            raise ValueError("no storage: set TTP_STORAGE_URI (or --storage)")
        if self.serving_warm < 0:
            raise ValueError("TTP_FLIGHT_SERVING_WARM must be 0 or a positive number of seconds")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both TTP_FLIGHT_TLS_CERT and TTP_FLIGHT_TLS_KEY")
        if self.tls_client_ca and not self.tls:
            raise ValueError("TTP_FLIGHT_TLS_CLIENT_CA needs TLS (a certificate and key)")
        for p in (self.tls_cert, self.tls_key, self.tls_client_ca):
            if p is not None and not Path(p).is_file():
                raise ValueError(f"TLS file {p} does not exist")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"invalid port {self.port}")
        if not 1024 <= self.max_batch_bytes <= HARD_MAX_BATCH_BYTES:
            raise ValueError(f"TTP_FLIGHT_BATCH_BYTES must be 1024..{HARD_MAX_BATCH_BYTES}")
        if self.max_streams < 1:
            raise ValueError("TTP_FLIGHT_MAX_STREAMS must be at least 1")
        if self.max_streams_per_token < 1:
            raise ValueError("TTP_FLIGHT_MAX_STREAMS_PER_TOKEN must be at least 1")
        if self.stream_memory < MIN_STREAM_MEMORY:
            raise ValueError("TTP_FLIGHT_STREAM_MEMORY must be at least 256K")
        if self.memory_budget < self.stream_memory:
            raise ValueError(
                "TTP_FLIGHT_MEMORY_BUDGET must hold at least one stream (TTP_FLIGHT_STREAM_MEMORY)"
            )
        if not self.stall_timeout > 0:
            raise ValueError("TTP_FLIGHT_STALL_TIMEOUT must be a positive number of seconds")
        if not 1 <= self.batch_rows <= 1 << 20:
            raise ValueError("TTP_FLIGHT_BATCH_ROWS must be 1..1048576")
        if self.tokens is None and not is_loopback(self.host):
            raise ValueError(
                "TTP_FLIGHT_AUTH=none is only allowed on a loopback interface "
                f"(host is {self.host})"
            )
        if self.tokens is not None and not self.tokens:
            raise ValueError(
                "no bearer token configured: set TTP_FLIGHT_TOKENS=reader:<token> (or "
                "TTP_FLIGHT_TOKENS_FILE), or TTP_FLIGHT_AUTH=none on loopback"
            )
        if not self.tls and not is_loopback(self.host) and not self.allow_insecure:
            raise ValueError(
                f"refusing to send tokens and data in plaintext on {self.host}: configure "
                "TTP_FLIGHT_TLS_CERT / TTP_FLIGHT_TLS_KEY, or set TTP_FLIGHT_ALLOW_INSECURE=true "
                "(e.g. behind a TLS-terminating proxy)"
            )
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> GatewayConfig:
        # One source of settings (ttp_assets.settings): the instance's saved settings file
        # under the environment, and the same storage as the asset graph.
        e = environ() if env is None else env
        storage = resolve_storage_uri(e.get("TTP_STORAGE_URI"))
        tokens: dict[str, str] | None = {}
        auth = (e.get("TTP_FLIGHT_AUTH") or "token").lower()
        if auth == "none":
            tokens = None
        elif auth != "token":
            raise ValueError("TTP_FLIGHT_AUTH must be token or none")
        else:
            if e.get("TTP_FLIGHT_TOKENS"):
                tokens.update(parse_tokens(e["TTP_FLIGHT_TOKENS"]))
            if e.get("TTP_FLIGHT_TOKENS_FILE"):
                tokens.update(read_tokens_file(e["TTP_FLIGHT_TOKENS_FILE"]))
        metrics = (e.get("TTP_FLIGHT_METRICS_PORT") or str(DEFAULT_METRICS_PORT)).lower()
        cfg = cls(
            storage_uri=storage,
            host=e.get("TTP_FLIGHT_HOST") or "127.0.0.1",
            port=int(e.get("TTP_FLIGHT_PORT") or DEFAULT_PORT),
            tokens=tokens,
            tls_cert=e.get("TTP_FLIGHT_TLS_CERT") or None,
            tls_key=e.get("TTP_FLIGHT_TLS_KEY") or None,
            tls_client_ca=e.get("TTP_FLIGHT_TLS_CLIENT_CA") or None,
            allow_insecure=(e.get("TTP_FLIGHT_ALLOW_INSECURE") or "").lower() in _TRUE,
            metrics_port=None if metrics in ("off", "none", "") else int(metrics),
            metrics_host=e.get("TTP_FLIGHT_METRICS_HOST") or None,
            max_batch_bytes=int(e.get("TTP_FLIGHT_BATCH_BYTES") or DEFAULT_MAX_BATCH_BYTES),
            batch_rows=int(e.get("TTP_FLIGHT_BATCH_ROWS") or DEFAULT_BATCH_ROWS),
            max_streams=int(e.get("TTP_FLIGHT_MAX_STREAMS") or DEFAULT_MAX_STREAMS),
            max_streams_per_token=int(
                e.get("TTP_FLIGHT_MAX_STREAMS_PER_TOKEN") or DEFAULT_STREAMS_PER_TOKEN
            ),
            memory_budget=parse_bytes(
                e.get("TTP_FLIGHT_MEMORY_BUDGET"), DEFAULT_MEMORY_BUDGET, "TTP_FLIGHT_MEMORY_BUDGET"
            ),
            stream_memory=parse_bytes(
                e.get("TTP_FLIGHT_STREAM_MEMORY"), DEFAULT_STREAM_MEMORY, "TTP_FLIGHT_STREAM_MEMORY"
            ),
            stall_timeout=float(e.get("TTP_FLIGHT_STALL_TIMEOUT") or DEFAULT_STALL_TIMEOUT),
            list_ttl=float(e.get("TTP_FLIGHT_LIST_TTL") or 0),
            log_level=e.get("TTP_FLIGHT_LOG_LEVEL") or "INFO",
            serving_dir=serving_dir(e.get("TTP_FLIGHT_SERVING_DIR"), storage),
            serving_bytes=parse_bytes(
                e.get("TTP_FLIGHT_SERVING_BYTES"), DEFAULT_SERVING_BYTES, "TTP_FLIGHT_SERVING_BYTES"
            ),
            serving_tables=_names(e.get("TTP_FLIGHT_SERVING_TABLES")),
            serving_warm=float(e.get("TTP_FLIGHT_SERVING_WARM") or DEFAULT_WARM_INTERVAL),
        )
        return replace(cfg, **overrides) if overrides else cfg  # type: ignore[arg-type]


def _names(text: str | None) -> tuple[str, ...] | None:
    names = tuple(t.strip() for t in (text or "").split(",") if t.strip())
    return names or None


def serving_dir(text: str | None, storage: str) -> str | None:
    """The serving copies' folder: as set, none for ``off``, else one per storage and user
    under the system temp dir (copies are a cache: any local disk will do)."""
    if text and text.strip().lower() in ("off", "none"):
        return None
    if text:
        return text
    digest = hashlib.sha256(storage.encode()).hexdigest()[:12]
    return str(Path(tempfile.gettempdir()) / f"ttp-flight-serving-{os.getuid()}" / digest)


def parse_bytes(text: str | None, default: int, name: str) -> int:
    """A size: bytes, or a number with a binary K, M or G suffix (``512M``, ``2G``)."""
    if not text:
        return default
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    number = t[: len(t) - len(unit)].strip()
    if not number.isdigit():
        raise ValueError(f"{name} must be a size in bytes, or with K, M or G (e.g. 512M)")
    return int(number) * _UNITS[unit]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
