"""The main job's last step: serve what it wrote over Flight and read a partition of each asset."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ttp_assets.main import serve_back
from ttp_assets.settings import Settings
from ttp_assets_tests.flight.conftest import KEYS, stored


def test_the_main_job_reads_back_a_partition_of_each_asset(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_back(store.storage_uri) == 0
    line = capsys.readouterr().out.strip()
    assert re.match(
        rf"flight gateway: read back {KEYS[-1]} of every asset over grpc://127\.0\.0\.1:\d+ \(",
        line,
    ), line
    counts = dict(re.findall(r"(\w+) (\d+)(?:,| rows)", line))
    for asset in ("raw_ledgers", "ledgers", "transactions", "operations", "ttp_events"):
        assert int(counts[asset]) == stored(store, asset, [KEYS[-1]]).num_rows, asset
    assert line.endswith("serve it: bash scripts/gateway.sh")


def test_the_main_job_says_when_nothing_is_materialized(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_back(str(tmp_path / "nothing-here")) == 0
    assert "nothing materialized to serve" in capsys.readouterr().out
