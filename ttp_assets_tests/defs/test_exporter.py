"""The pipeline metrics exporter, scraped over HTTP like Prometheus does, after a live tail ran
against a real RPC server on loopback."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ttp_assets.definitions import build_definitions
from ttp_assets.exporter import PipelineMetrics, serve
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import TESTNET_FIRST
from ttp_assets_tests.live_harness import LiveDriver
from ttp_assets_tests.rpc_server import RpcTestServer

SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})? (\S+)$")


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def test_the_exporter_reports_runs_ledgers_and_lag(tmp_path: Path) -> None:
    with RpcTestServer.from_lake("testnet-2022") as rpc:
        settings = Settings(
            network="testnet",
            source="rpc",
            rpc_url=rpc.url,
            storage_uri=str(tmp_path / "store"),
            partition_width=32,
            source_retry_attempts=1,
            rpc_timeout_s=0.5,
        )
        driver = LiveDriver(build_definitions(settings))
        rpc.advance_to(TESTNET_FIRST + 12)
        assert all(r.success for r in driver.tick().runs)
        rpc.advance_to(TESTNET_FIRST + 20)

        server = serve(PipelineMetrics(settings, driver.instance), "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        try:
            got = scrape(url)
            assert got['ttp_runs{job="ttp_all_assets",status="SUCCESS"}'] == 1
            assert got['ttp_run_last_duration_seconds{job="ttp_all_assets"}'] > 0
            assert got["ttp_ledgers_materialized"] == 13  # ledgers FIRST .. FIRST + 12
            assert got["ttp_newest_ledger"] == TESTNET_FIRST + 12
            assert got["ttp_newest_ledger_age_seconds"] > 365 * 86400  # closed in 2022
            assert got["ttp_tip_ledger"] == TESTNET_FIRST + 20
            assert got["ttp_lag_ledgers"] == 8
            assert got["ttp_source_up"] == 1 and got["ttp_storage_up"] == 1

            rpc.fail_always("http503")  # the source is down: the rest still answers
            down = scrape(url)
            assert down["ttp_source_up"] == 0 and "ttp_tip_ledger" not in down
            assert down["ttp_newest_ledger"] == TESTNET_FIRST + 12
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=30)
            assert err.value.code == 404
        finally:
            server.shutdown()
            server.server_close()
