"""Deployment settings: every knob a deployment turns, read from the environment in one place.

| variable | default | meaning |
|---|---|---|
| TTP_NETWORK | pubnet | network name (pubnet, testnet, futurenet, ...) or full passphrase |
| TTP_SOURCE | lake | where ledgers come from: lake, rpc, or lake+rpc (lake, then RPC) |
| TTP_LAKE_URI | the public pubnet lake | SEP-54 data lake: a folder or s3://bucket/prefix |
| TTP_RPC_URL | (none) | Stellar RPC endpoint, for TTP_SOURCE=rpc or lake+rpc |
| TTP_STORAGE_URI | ./.ttp_data | where the assets are stored: a folder or s3://bucket/prefix |
| TTP_PARTITION_WIDTH | 1000 | ledgers per partition (see core.ledger_ranges) |
| TTP_EVENTS_MODE | auto | token-event derivation: auto, derived or unified |
| TTP_LAKE_WORKERS | 16 | concurrent object fetches from the lake |
| TTP_RPC_TIMEOUT_S | 60 | RPC response timeout, seconds |
| TTP_SOURCE_RETRY_ATTEMPTS | 5 | attempts per lake/RPC request on transient failures |
| TTP_LIVE_START_LEDGER | 0 | live tail: first ledger to follow (0: the partition holding the tip) |
| TTP_LIVE_MAX_LEDGERS_PER_TICK | 10000 | live tail: most ledgers one sensor tick requests |
| TTP_LIVE_REPAIR_ATTEMPTS | 3 | live tail: re-runs of a partition left short behind the cursor |
| TTP_NATIVE_THREADS | 0 | threads of the native ledger core per run (0: every core) |
| TTP_FRESHNESS_MAX_LAG_S | 300 | freshness check: most seconds since the newest stored close |
| TTP_ALERT_WEBHOOK_URL | (none) | failed runs are posted there as JSON (and always logged) |
| TTP_ANALYTICS_SMALL_BELOW | 100 | analytics: transfers below this many whole units are small |
| TTP_ANALYTICS_LARGE_FROM | 100000 | analytics: transfers from this many whole units are large |
| TTP_ANALYTICS_THREADS | 0 | analytics: DuckDB threads (0: every core) |
| TTP_SPOOL_DIR | system temp | where runs spool partitions before they are written |
| TTP_LEDGERS | (none) | the main job's range when no --ledgers is given (not saved) |
| TTP_SETTINGS_FILE | $DAGSTER_HOME/ttp.env | the saved settings file (see below) |

The Flight gateway's own knobs (``TTP_FLIGHT_*``, see ``flight_gateway.config``) are read here
too: ``environ()`` is the one reader of the process environment and of the settings file, and
``VARIABLES`` lists every variable the code reads.

**One source of settings.** The main job (``scripts/main.sh``) saves the settings it ran with
to a settings file in the instance folder, ``$DAGSTER_HOME/ttp.env`` (``.dagster_home/ttp.env``
locally), ``KEY=value`` lines. Every entry point that runs on that instance (the CLI, the UI and
its daemon through ``ttp_assets.definitions``, the runs they launch, the metrics exporter, the
Flight gateway) reads it; a variable set in the environment still wins. So what the quick start
ran with is what the UI, its backfills and the gateway use. Without ``DAGSTER_HOME`` (and without
``TTP_SETTINGS_FILE``) no file is read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .core.ledger_ranges import DEFAULT_WIDTH
from .core.storage.location import PUBNET_PUBLIC_LAKE

SETTINGS_FILE_NAME = "ttp.env"
SETTINGS_FILE_ENV = "TTP_SETTINGS_FILE"

# Every environment variable the code reads, with what reads it. Deploy files are tested against
# this table (ttp_assets_tests/deploy/test_deploy_files.py).
PIPELINE_VARIABLES = (
    "TTP_NETWORK",
    "TTP_SOURCE",
    "TTP_LAKE_URI",
    "TTP_RPC_URL",
    "TTP_STORAGE_URI",
    "TTP_PARTITION_WIDTH",
    "TTP_EVENTS_MODE",
    "TTP_LAKE_WORKERS",
    "TTP_RPC_TIMEOUT_S",
    "TTP_SOURCE_RETRY_ATTEMPTS",
    "TTP_LIVE_START_LEDGER",
    "TTP_LIVE_MAX_LEDGERS_PER_TICK",
    "TTP_LIVE_REPAIR_ATTEMPTS",
    "TTP_NATIVE_THREADS",
    "TTP_FRESHNESS_MAX_LAG_S",
    "TTP_ALERT_WEBHOOK_URL",
    "TTP_ANALYTICS_SMALL_BELOW",
    "TTP_ANALYTICS_LARGE_FROM",
    "TTP_ANALYTICS_THREADS",
    "TTP_SPOOL_DIR",
)
# Read by the main job only, for one run: never saved.
RUN_VARIABLES = ("TTP_LEDGERS", SETTINGS_FILE_ENV)
GATEWAY_VARIABLES = (
    "TTP_STORAGE_URI",
    "TTP_FLIGHT_HOST",
    "TTP_FLIGHT_PORT",
    "TTP_FLIGHT_TOKENS",
    "TTP_FLIGHT_TOKENS_FILE",
    "TTP_FLIGHT_AUTH",
    "TTP_FLIGHT_TLS_CERT",
    "TTP_FLIGHT_TLS_KEY",
    "TTP_FLIGHT_TLS_CLIENT_CA",
    "TTP_FLIGHT_ALLOW_INSECURE",
    "TTP_FLIGHT_METRICS_PORT",
    "TTP_FLIGHT_METRICS_HOST",
    "TTP_FLIGHT_BATCH_BYTES",
    "TTP_FLIGHT_BATCH_ROWS",
    "TTP_FLIGHT_MAX_STREAMS",
    "TTP_FLIGHT_MAX_STREAMS_PER_TOKEN",
    "TTP_FLIGHT_MEMORY_BUDGET",
    "TTP_FLIGHT_STREAM_MEMORY",
    "TTP_FLIGHT_STALL_TIMEOUT",
    "TTP_FLIGHT_LIST_TTL",
    "TTP_FLIGHT_LOG_LEVEL",
    "TTP_FLIGHT_SERVING_DIR",
    "TTP_FLIGHT_SERVING_BYTES",
    "TTP_FLIGHT_SERVING_TABLES",
    "TTP_FLIGHT_SERVING_WARM",
)
# Standard variables of the libraries underneath (S3 access in core.storage.location and
# deltalake; Dagster's instance folder).
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
VARIABLES = frozenset(
    (*PIPELINE_VARIABLES, *RUN_VARIABLES, *GATEWAY_VARIABLES, *AWS_VARIABLES, "DAGSTER_HOME")
)
# Without these the deployed processes cannot do their work (Settings' defaults are local ones).
REQUIRED_IN_DEPLOYMENT = ("TTP_NETWORK", "TTP_SOURCE", "TTP_STORAGE_URI")


def settings_file(env: Mapping[str, str] | None = None) -> Path | None:
    """The saved settings file of this process's instance (it may not exist yet)."""
    e = os.environ if env is None else env
    if e.get(SETTINGS_FILE_ENV):
        return Path(e[SETTINGS_FILE_ENV]).expanduser()
    if e.get("DAGSTER_HOME"):
        return Path(e["DAGSTER_HOME"]).expanduser() / SETTINGS_FILE_NAME
    return None


def read_settings_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (``#`` comments, blank lines and an ``export`` prefix allowed)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return values
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ValueError(f"{path}:{n}: expected KEY=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def environ() -> dict[str, str]:
    """The settings this process runs with: the saved settings file, then the environment on top
    (a variable set in the environment wins). The one place the code reads its settings from."""
    path = settings_file()
    saved = read_settings_file(path) if path is not None else {}
    return {**saved, **os.environ}


def saved_in_force() -> tuple[Path | None, list[str]]:
    """The settings file and the variables in force that come from it, not the environment."""
    path = settings_file()
    if path is None:
        return None, []
    return path, sorted(set(read_settings_file(path)) - set(os.environ))


def save_settings(env: Mapping[str, str], path: Path) -> dict[str, str]:
    """Write the pipeline settings set in ``env`` to ``path`` (mode 600: an RPC URL or webhook
    may carry a key); local paths are made absolute so any working directory reads the same."""
    values: dict[str, str] = {}
    for key in PIPELINE_VARIABLES:
        value = env.get(key)
        if not value:
            continue
        if key in ("TTP_STORAGE_URI", "TTP_LAKE_URI", "TTP_SPOOL_DIR") and "://" not in value:
            value = str(Path(value).expanduser().resolve())
        values[key] = value
    lines = [
        "# The settings the main job last ran with (ttp_assets/settings.py). The UI, its daemon,",
        "# the CLI and the Flight gateway on this instance read them; the environment overrides.",
        *(f"{k}={v}" for k, v in values.items()),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return values


def resolve_storage_uri(value: str | None) -> str:
    """``TTP_STORAGE_URI`` as every process uses it (a local folder made absolute)."""
    storage = value or Settings.storage_uri
    if "://" not in storage:
        storage = str(Path(storage).expanduser().resolve())
    return storage


def spool_dir() -> Path:
    """``TTP_SPOOL_DIR``: where runs spool partitions before they are written."""
    return Path(environ().get("TTP_SPOOL_DIR") or tempfile.gettempdir())


def analytics_threads() -> int:
    """``TTP_ANALYTICS_THREADS``: DuckDB threads per computation (0: every core)."""
    return int(environ().get("TTP_ANALYTICS_THREADS") or 0)


def requested_ledgers() -> str | None:
    """``TTP_LEDGERS``: the main job's range when no ``--ledgers`` is given."""
    return os.environ.get("TTP_LEDGERS") or None


SOURCE_KINDS = ("lake", "rpc", "lake+rpc")
EVENT_MODES = ("auto", "derived", "unified")


@dataclass(frozen=True)
class Settings:
    network: str = "pubnet"
    source: str = "lake"
    lake_uri: str = PUBNET_PUBLIC_LAKE
    rpc_url: str = ""
    storage_uri: str = ".ttp_data"
    partition_width: int = DEFAULT_WIDTH
    events_mode: str = "auto"
    lake_workers: int = 16
    rpc_timeout_s: float = 60.0
    source_retry_attempts: int = 5
    live_start_ledger: int = 0
    live_max_ledgers_per_tick: int = 10_000
    live_repair_attempts: int = 3
    native_threads: int = 0
    alert_webhook_url: str = ""
    freshness_max_lag_s: int = 300
    # Transfer amount categories, in whole token units (core.analytics.categories).
    analytics_small_below: int = 100
    analytics_large_from: int = 100_000

    def __post_init__(self) -> None:
        if self.source not in SOURCE_KINDS:
            raise ValueError(f"TTP_SOURCE must be one of {SOURCE_KINDS}, not {self.source!r}")
        if self.events_mode not in EVENT_MODES:
            raise ValueError(f"TTP_EVENTS_MODE must be one of {EVENT_MODES}")
        if self.partition_width < 1:
            raise ValueError("TTP_PARTITION_WIDTH must be a positive number of ledgers")
        if self.source_retry_attempts < 1:
            raise ValueError("TTP_SOURCE_RETRY_ATTEMPTS must be at least 1")
        if self.native_threads < 0:
            raise ValueError("TTP_NATIVE_THREADS must be 0 (every core) or a number of threads")
        if not 0 < self.analytics_small_below <= self.analytics_large_from:
            raise ValueError(
                "TTP_ANALYTICS_SMALL_BELOW and TTP_ANALYTICS_LARGE_FROM need "
                "0 < small below <= large from (whole token units)"
            )
        if "rpc" in self.source and not self.rpc_url:
            raise ValueError(f"TTP_SOURCE={self.source} needs TTP_RPC_URL")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """From ``env``, or by default from ``environ()``: the saved settings file under the
        environment."""
        e = environ() if env is None else env
        d = cls()
        storage = resolve_storage_uri(e.get("TTP_STORAGE_URI"))
        return cls(
            network=e.get("TTP_NETWORK") or d.network,
            source=e.get("TTP_SOURCE") or d.source,
            lake_uri=e.get("TTP_LAKE_URI") or d.lake_uri,
            rpc_url=e.get("TTP_RPC_URL") or d.rpc_url,
            storage_uri=storage,
            partition_width=int(e.get("TTP_PARTITION_WIDTH") or d.partition_width),
            events_mode=e.get("TTP_EVENTS_MODE") or d.events_mode,
            lake_workers=int(e.get("TTP_LAKE_WORKERS") or d.lake_workers),
            rpc_timeout_s=float(e.get("TTP_RPC_TIMEOUT_S") or d.rpc_timeout_s),
            source_retry_attempts=int(
                e.get("TTP_SOURCE_RETRY_ATTEMPTS") or d.source_retry_attempts
            ),
            live_start_ledger=int(e.get("TTP_LIVE_START_LEDGER") or d.live_start_ledger),
            live_max_ledgers_per_tick=int(
                e.get("TTP_LIVE_MAX_LEDGERS_PER_TICK") or d.live_max_ledgers_per_tick
            ),
            native_threads=int(e.get("TTP_NATIVE_THREADS") or d.native_threads),
            live_repair_attempts=int(e.get("TTP_LIVE_REPAIR_ATTEMPTS") or d.live_repair_attempts),
            alert_webhook_url=e.get("TTP_ALERT_WEBHOOK_URL") or d.alert_webhook_url,
            freshness_max_lag_s=int(e.get("TTP_FRESHNESS_MAX_LAG_S") or d.freshness_max_lag_s),
            analytics_small_below=int(
                e.get("TTP_ANALYTICS_SMALL_BELOW") or d.analytics_small_below
            ),
            analytics_large_from=int(e.get("TTP_ANALYTICS_LARGE_FROM") or d.analytics_large_from),
        )
