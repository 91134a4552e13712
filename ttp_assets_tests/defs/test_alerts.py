"""Failed runs reach an operator: the run-failure sensor posts them to a real local webhook."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from ttp_assets.defs.live.alerts import AlertsResource, run_failure_alerts
from ttp_assets.settings import Settings
from ttp_assets_tests.conftest import free_port
from ttp_assets_tests.harness import TEST_WIDTH, TESTNET_LAST, materialize
from ttp_assets_tests.shared_data import lake_dir

SECRET = "hook-s3cret-42"


class Webhook:
    """An HTTP server on loopback that records what is posted and answers ``status``."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append((self.path, json.loads(body)))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{SECRET}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def failed_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dg.DagsterInstance, dg.ExecuteInProcessResult]:
    """A backfill of a partition the lake does not hold: the run fails on a missing ledger."""
    tmp = tmp_path_factory.mktemp("alerts")
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp / "store"),
        partition_width=TEST_WIDTH,
    )
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, TESTNET_LAST + 1, TESTNET_LAST + TEST_WIDTH, instance=instance)
    assert not result.success
    return instance, result


def _alert(
    failed: tuple[dg.DagsterInstance, dg.ExecuteInProcessResult], alerts: AlertsResource
) -> None:
    instance, result = failed
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alerts",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=result.get_run_failure_event(),
        resources={"alerts": alerts},
    ).for_run_failure()
    run_failure_alerts(context)


def test_a_failed_backfill_is_posted_with_its_partitions_and_cause(
    failed_run, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="ttp_assets.alerts")
    _alert(failed_run, AlertsResource(webhook_url=webhook.url))
    ((path, alert),) = webhook.posts
    assert path == f"/hooks/{SECRET}"
    key = f"{TESTNET_LAST + 1:010d}-{TESTNET_LAST + TEST_WIDTH:010d}"
    assert alert["run_id"] == failed_run[1].run_id and alert["kind"] == "backfill"
    assert alert["first_partition"] == alert["last_partition"] == key
    assert "missing" in (alert["error"] or "") + (alert["cause"] or "")
    assert alert["text"].startswith("ttp-assets: backfill run ") and key in alert["text"]
    (record,) = [r for r in caplog.records if r.name == "ttp_assets.alerts"]
    logged = json.loads(record.getMessage())
    assert logged["run_id"] == alert["run_id"] and "HTTP 200" in logged["alert"]
    assert SECRET not in caplog.text


def test_a_webhook_that_fails_or_is_gone_does_not_stop_the_alert(
    failed_run, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="ttp_assets.alerts")
    webhook.status = 500
    _alert(failed_run, AlertsResource(webhook_url=webhook.url))
    gone = f"http://127.0.0.1:{free_port()}/hooks/{SECRET}"
    _alert(failed_run, AlertsResource(webhook_url=gone, timeout_s=2))
    outcomes = [json.loads(r.getMessage())["alert"] for r in caplog.records]
    assert "refused the alert: HTTP 500" in outcomes[0]
    assert "unreachable" in outcomes[1]
    assert SECRET not in caplog.text


def test_the_sensor_is_part_of_the_definitions(tmp_path: Path) -> None:
    from ttp_assets.definitions import build_definitions

    defs = build_definitions(Settings(storage_uri=str(tmp_path), alert_webhook_url="http://x/"))
    assert defs.resolve_sensor_def("run_failure_alerts").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )
