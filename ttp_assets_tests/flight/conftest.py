"""The Flight gateway over storage written by the real asset graph, read by real Flight clients.

One session store: the 160 real testnet ledgers (``lake/testnet-2022``), partition width 32, five
partitions of every table, materialized by the real Dagster job and IO managers. Gateways run on
loopback, in-process (a server thread) or as ``python -m flight_gateway`` subprocesses.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from flight_gateway.config import GatewayConfig
from flight_gateway.server import GatewayServer
from ttp_assets.core.ledger_ranges import keys_covering
from ttp_assets.core.storage.catalog import open_store
from ttp_assets.core.storage.location import open_location
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    TESTNET_LAST,
    failure_messages,
    materialize,
)
from ttp_assets_tests.shared_data import REPO_ROOT, lake_dir

READER = "reader-token-for-tests-0123456789"
ADMIN = "admin-token-for-tests-0123456789"
TOKENS = {READER: "reader", ADMIN: "admin"}
KEYS = keys_covering(TESTNET_FIRST, TESTNET_LAST, TEST_WIDTH)


def settings_at(path: Path) -> Settings:
    return Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(path),
        partition_width=TEST_WIDTH,
    )


def bearer(token: str, timeout: float = 60) -> fl.FlightCallOptions:
    return fl.FlightCallOptions(
        headers=[(b"authorization", f"Bearer {token}".encode())], timeout=timeout
    )


def stored(settings: Settings, asset: str, keys: list[str] | None = None) -> pa.Table:
    """What the asset holds, read with the storage layer's own readers (the reference)."""
    store = open_store(open_location(settings.storage_uri), asset)
    keys = keys if keys is not None else store.committed_keys()
    return pa.Table.from_batches([b for k in keys for b in store.batches(k)], schema=store.schema)


def ticket(**request: Any) -> fl.Ticket:
    return fl.Ticket(json.dumps(request).encode())


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_at(tmp_path_factory.mktemp("flight") / "store")
    result = materialize(settings, TESTNET_FIRST, TESTNET_LAST)
    assert result.success, failure_messages(result)
    return settings


@dataclass
class Gateway:
    server: GatewayServer
    client: fl.FlightClient

    @property
    def metrics_url(self) -> str:
        assert self.server.metrics_server is not None
        return self.server.metrics_server.url

    def read(self, t: fl.Ticket, token: str = READER) -> pa.Table:
        return self.client.do_get(t, bearer(token)).read_all()


def start_gateway(storage_uri: str, **kw: Any) -> GatewayServer:
    options: dict[str, Any] = {"port": 0, "tokens": TOKENS, "metrics_port": 0, **kw}
    return GatewayServer(GatewayConfig(storage_uri=storage_uri, **options)).start()


@pytest.fixture(scope="module")
def gateway(store: Settings) -> Iterator[Gateway]:
    # Small batches so that every read is many messages and slicing is exercised.
    server = start_gateway(store.storage_uri, batch_rows=100, max_batch_bytes=64 * 1024)
    client = fl.connect(server.location)
    try:
        yield Gateway(server, client)
    finally:
        client.close()
        server.stop()


# -- TLS material -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _write_pki(folder: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def save(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (folder / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("ttp test CA"))
        .issuer_name(name("ttp test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, server: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return builder.sign(ca_key, hashes.SHA256()), key

    save("ca", ca, ca_key)
    save("server", *leaf("localhost", True))
    save("client", *leaf("ttp test client", False))
    return Pki(
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server.key",
        folder / "client.pem",
        folder / "client.key",
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _write_pki(tmp_path_factory.mktemp("pki"))


# -- the CLI as a subprocess ----------------------------------------------------------------


@dataclass
class GatewayProcess:
    proc: subprocess.Popen[str]
    location: str
    metrics: str | None
    _log: list[str] = field(default_factory=list)
    _drain: threading.Thread | None = None

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit code and the JSON log lines it wrote."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._drain is not None:
            self._drain.join(timeout=30)
        return self.proc.returncode, "".join(self._log)


def spawn_gateway(env: dict[str, str], *args: str) -> GatewayProcess:
    """``python -m flight_gateway``; returns once it printed its ready line (port bound).

    Without serving copies unless ``env`` sets ``TTP_FLIGHT_SERVING_DIR``: what these tests
    measure (memory, load) must not include a background thread copying partitions meanwhile;
    ``test_serving`` runs a gateway process with them.

    Its log (stderr) is read all along by a thread: a gateway that logs more than a pipe holds
    (64 KiB: a few hundred calls) would otherwise block in its logging, every call with it.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "flight_gateway", *args],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "TTP_FLIGHT_SERVING_DIR": "off",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    log: list[str] = []
    stderr = proc.stderr
    drain = threading.Thread(target=lambda: log.extend(iter(stderr.readline, "")), daemon=True)
    drain.start()
    line = proc.stdout.readline()  # blocks until ready (or EOF if it failed to start)
    if not line:
        proc.wait(timeout=30)
        drain.join(timeout=30)
        raise AssertionError(f"gateway did not start (exit {proc.returncode}): {''.join(log)}")
    ready = json.loads(line)
    assert ready["event"] == "ready", line
    return GatewayProcess(proc, ready["location"], ready["metrics"], log, drain)
