"""Bearer tokens and roles, TLS (and mutual TLS), the CLI, health, metrics and logs."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from flight_gateway.catalog import SERVED_FORMATS
from flight_gateway.config import GatewayConfig
from ttp_assets.settings import Settings
from ttp_assets_tests.flight.conftest import (
    ADMIN,
    KEYS,
    READER,
    Gateway,
    Pki,
    bearer,
    spawn_gateway,
    start_gateway,
    stored,
    ticket,
)
from ttp_assets_tests.shared_data import REPO_ROOT

UNAUTH = fl.FlightUnauthenticatedError


def _calls(client: fl.FlightClient, options: fl.FlightCallOptions) -> list:  # type: ignore[type-arg]
    return [
        lambda: list(client.list_flights(options=options)),
        lambda: client.get_flight_info(fl.FlightDescriptor.for_path("ledgers"), options),
        lambda: client.get_schema(fl.FlightDescriptor.for_path("ledgers"), options),
        lambda: client.do_get(fl.Ticket(b"ledgers:1410048:1410050"), options).read_all(),
        lambda: list(client.do_action(fl.Action("health", b""), options)),
        lambda: list(client.list_actions(options)),
    ]


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"authorization", b"Bearer wrong-token-0123456789abcdef")],
        [(b"authorization", f"Basic {READER}".encode())],
        [(b"authorization", b"Bearer ")],
        [(b"authorization", READER.encode())],
    ],
    ids=["no header", "unknown token", "not bearer", "empty token", "no scheme"],
)
def test_every_call_needs_a_valid_bearer_token(gateway: Gateway, headers: list) -> None:  # type: ignore[type-arg]
    options = fl.FlightCallOptions(headers=headers, timeout=30)
    for call in _calls(gateway.client, options):
        # pyarrow's get_schema raises OSError for every Flight status; the status is the same.
        with pytest.raises((UNAUTH, OSError)) as info:
            call()
        assert "Detail: Unauthenticated" in str(info.value)
        assert "token" in str(info.value) or "Bearer" in str(info.value)


def test_roles(gateway: Gateway) -> None:
    c = gateway.client
    for call in _calls(c, bearer(READER)) + _calls(c, bearer(ADMIN)):
        call()  # both roles read
    with pytest.raises(fl.FlightUnauthorizedError, match="needs the 'admin' role"):
        list(c.do_action(fl.Action("refresh", b""), bearer(READER)))
    with pytest.raises(fl.FlightUnauthorizedError, match="needs the 'admin' role"):
        list(c.do_action(fl.Action("stats", b""), bearer(READER)))
    (done,) = c.do_action(fl.Action("refresh", b""), bearer(ADMIN))
    assert json.loads(done.body.to_pybytes()) == {"status": "refreshed"}
    (stats,) = c.do_action(fl.Action("stats", b""), bearer(ADMIN))
    numbers = json.loads(stats.body.to_pybytes())
    assert numbers["requests"] > 0 and numbers["rows_served"] > 0


def test_config_refuses_unsafe_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = {"storage_uri": str(tmp_path), "tokens": {READER: "reader"}}
    with pytest.raises(ValueError, match="plaintext"):
        GatewayConfig(**base, host="0.0.0.0").validate()
    GatewayConfig(**base, host="0.0.0.0", allow_insecure=True).validate()
    with pytest.raises(ValueError, match="loopback"):
        GatewayConfig(storage_uri=str(tmp_path), tokens=None, host="10.0.0.1").validate()
    with pytest.raises(ValueError, match="no bearer token"):
        GatewayConfig(storage_uri=str(tmp_path), tokens={}).validate()
    with pytest.raises(ValueError, match="both"):
        GatewayConfig(**base, tls_cert=str(tmp_path / "c.pem")).validate()
    with pytest.raises(ValueError, match="TTP_FLIGHT_BATCH_BYTES"):
        GatewayConfig(**base, max_batch_bytes=64 * 1024 * 1024).validate()
    from flight_gateway.auth import Authenticator

    with pytest.raises(ValueError, match="shorter than"):
        Authenticator({"short": "reader"})
    with pytest.raises(ValueError, match="unknown role"):
        Authenticator({READER: "writer"})
    env = {"TTP_STORAGE_URI": str(tmp_path), "TTP_FLIGHT_TOKENS": f"reader:{READER},admin:{ADMIN}"}
    assert GatewayConfig.from_env(env).tokens == {READER: "reader", ADMIN: "admin"}
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"# role token\nreader {READER}\n")
    env = {"TTP_STORAGE_URI": str(tmp_path), "TTP_FLIGHT_TOKENS_FILE": str(tokens_file)}
    assert GatewayConfig.from_env(env).tokens == {READER: "reader"}


def test_tls_is_enforced(store: Settings, pki: Pki) -> None:
    server = start_gateway(
        store.storage_uri, tls_cert=str(pki.server_cert), tls_key=str(pki.server_key)
    )
    try:
        assert server.location.startswith("grpc+tls://127.0.0.1:")
        trusted = fl.connect(server.location, tls_root_certs=pki.ca_cert.read_bytes())
        table = trusted.do_get(fl.Ticket(b"ledgers:1410048:1410079"), bearer(READER)).read_all()
        assert table.equals(stored(store, "ledgers", [KEYS[0]]))
        trusted.close()
        port = server.port
        plain = fl.connect(f"grpc://127.0.0.1:{port}")  # no TLS
        with pytest.raises(fl.FlightUnavailableError):
            list(plain.list_flights(options=bearer(READER, timeout=10)))
        untrusted = fl.connect(server.location)  # TLS, but the system roots do not know our CA
        with pytest.raises(fl.FlightUnavailableError):
            list(untrusted.list_flights(options=bearer(READER, timeout=10)))
        # TLS does not replace the token.
        again = fl.connect(server.location, tls_root_certs=pki.ca_cert.read_bytes())
        with pytest.raises(UNAUTH):
            again.do_get(fl.Ticket(b"ledgers:1410048:1410079")).read_all()
        again.close()
    finally:
        server.stop()


def test_mutual_tls_needs_a_client_certificate(store: Settings, pki: Pki) -> None:
    server = start_gateway(
        store.storage_uri,
        tls_cert=str(pki.server_cert),
        tls_key=str(pki.server_key),
        tls_client_ca=str(pki.ca_cert),
    )
    try:
        ca = pki.ca_cert.read_bytes()
        anonymous = fl.connect(server.location, tls_root_certs=ca)
        with pytest.raises(fl.FlightUnavailableError):
            list(anonymous.list_flights(options=bearer(READER, timeout=10)))
        with_cert = fl.connect(
            server.location,
            tls_root_certs=ca,
            cert_chain=pki.client_cert.read_bytes(),
            private_key=pki.client_key.read_bytes(),
        )
        assert len(list(with_cert.list_flights(options=bearer(READER)))) == len(SERVED_FORMATS)
        with_cert.close()
    finally:
        server.stop()


def test_the_cli_serves_tls_with_metrics_health_and_json_logs(store: Settings, pki: Pki) -> None:
    env = {
        "TTP_STORAGE_URI": store.storage_uri,
        "TTP_FLIGHT_PORT": "0",
        "TTP_FLIGHT_METRICS_PORT": "0",
        "TTP_FLIGHT_TOKENS": f"reader:{READER}",
        "TTP_FLIGHT_TLS_CERT": str(pki.server_cert),
        "TTP_FLIGHT_TLS_KEY": str(pki.server_key),
    }
    gw = spawn_gateway(env)
    try:
        assert gw.location.startswith("grpc+tls://127.0.0.1:") and gw.metrics
        client = fl.connect(gw.location, tls_root_certs=pki.ca_cert.read_bytes())
        events = client.do_get(
            ticket(asset="ttp_events", filters={"event_type": "fee"}), bearer(READER)
        ).read_all()
        assert events.num_rows > 0 and set(events.column("event_type").to_pylist()) == {"fee"}
        with pytest.raises(UNAUTH):
            client.do_get(fl.Ticket(b"ttp_events:1410048:1410050")).read_all()
        with pytest.raises(pa.ArrowKeyError):
            client.do_get(fl.Ticket(b"ttp_events:1:5"), bearer(READER)).read_all()
        client.close()
        health = json.loads(urllib.request.urlopen(gw.metrics + "/healthz", timeout=10).read())
        assert health["status"] == "ok"
        text = urllib.request.urlopen(gw.metrics + "/metrics", timeout=10).read().decode()
        assert 'flight_gateway_requests_total{code="OK",method="DoGet"} 1' in text
        assert 'flight_gateway_requests_total{code="UNAUTHENTICATED",method="DoGet"} 1' in text
        assert 'flight_gateway_errors_total{code="NOT_FOUND",method="DoGet"} 1' in text
        assert f'flight_gateway_rows_served_total{{asset="ttp_events"}} {events.num_rows}' in text
        assert 'flight_gateway_bytes_served_total{asset="ttp_events"}' in text
        assert 'flight_gateway_request_duration_seconds_bucket{method="DoGet",le="+Inf"} 3' in text
        assert 'flight_gateway_first_batch_seconds_count{asset="ttp_events"} 1' in text
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(gw.metrics + "/nothing", timeout=10)
    finally:
        code, err = gw.stop()
    assert code == 0, err
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    calls = [r for r in records if r["event"] == "call" and r["method"] == "DoGet"]
    assert [c["code"] for c in calls] == ["OK", "UNAUTHENTICATED", "NOT_FOUND"]
    ok = calls[0]
    assert ok["rows"] == events.num_rows and ok["asset"] == "ttp_events" and ok["role"] == "reader"
    assert ok["first_batch_ms"] >= 0 and ok["duration_ms"] >= ok["first_batch_ms"]
    assert READER not in err  # tokens are never logged
    assert "not materialized" in calls[2]["error"]
    assert records[0]["event"] == "gateway_started" and records[0]["tls"] is True
    assert records[-1]["event"] == "gateway_stopped"


def test_the_cli_refuses_to_start_without_a_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, "-m", "flight_gateway", "--storage", str(tmp_path), "--port", "0"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no bearer token configured" in proc.stderr


def test_the_gateway_never_imports_dagster() -> None:
    code = (
        "import sys, flight_gateway.__main__, flight_gateway.server, flight_gateway.demo; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


class _Context:
    """Enough of a ServerCallContext to call a handler directly."""

    def get_middleware(self, name: str) -> None:
        return None

    def peer(self) -> str:
        return "test"


def test_concurrent_streams_are_capped_and_released(store: Settings) -> None:
    server = start_gateway(store.storage_uri, max_streams=1)
    try:
        ctx = _Context()
        first = server.do_get(ctx, fl.Ticket(b"ledgers:1410048:1410207"))  # type: ignore[arg-type]
        with pytest.raises(fl.FlightUnavailableError, match="limit; ask again"):
            server.do_get(ctx, fl.Ticket(b"ledgers:1410048:1410207"))  # type: ignore[arg-type]
        assert server.metrics.value("flight_gateway_active_streams") == 1
        del first  # a stream dropped before it started still gives its slot back
        assert server.metrics.value("flight_gateway_active_streams") == 0
        client = fl.connect(server.location)
        for _ in range(3):  # and so does every finished one
            t = client.do_get(fl.Ticket(b"ledgers:1410048:1410207"), bearer(READER)).read_all()
            assert t.num_rows == 160
        client.close()
        assert server.metrics.value("flight_gateway_active_streams") == 0
    finally:
        server.stop()
