"""Every Python snippet of the README runs, as written, against what the offline quick start
produced.

The quick start (`TTP_LAKE_URI=../shared/data/lake/pubnet`, the main job) is run in a fresh
folder; the snippets then run there in README order, in one namespace (later ones use the
client of earlier ones), with `.ttp_data` the quick start's storage and a gateway started the
way `scripts/gateway.sh` starts it (a token in `.flight_token`). The only change made to a
snippet is the gateway's address: the README's default port is replaced by the test server's.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from flight_gateway.config import GatewayConfig
from flight_gateway.server import GatewayServer
from ttp_assets.core.storage.catalog import CORE_ANALYTICS_FORMATS, TABLE_FORMATS
from ttp_assets.definitions import defs
from ttp_assets_tests.shared_data import REPO_ROOT, lake_dir

README = REPO_ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
DEFAULT_GATEWAY = "127.0.0.1:8815"


def snippets(language: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced block of ``language`` in the README, in order."""
    text = README.read_text()
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) == language
    ]


PYTHON = snippets("python")


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder where the offline quick start ran, with a gateway serving its storage."""
    root = tmp_path_factory.mktemp("readme")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTP_", "DAGSTER_"))}
    env["TTP_LAKE_URI"] = str(lake_dir("pubnet"))
    done = subprocess.run(
        [sys.executable, "-m", "ttp_assets.main"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    token = secrets.token_urlsafe(24)
    (root / ".flight_token").write_text(token + "\n")
    config = GatewayConfig(
        storage_uri=str(root / ".ttp_data"), port=0, tokens={token: "reader"}, metrics_port=None
    )
    server = GatewayServer(config).start()
    try:
        yield root, server.location.split("://", 1)[1]
    finally:
        server.stop()


NAMESPACE: dict[str, Any] = {}


def test_the_readme_has_python_snippets() -> None:
    assert len(PYTHON) >= 3


@pytest.mark.parametrize("line,code", PYTHON, ids=[f"README.md:{n}" for n, _ in PYTHON])
def test_python_snippet_runs(
    line: int, code: str, quickstart: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, address = quickstart
    monkeypatch.chdir(root)
    source = code.replace(DEFAULT_GATEWAY, address)
    exec(compile(source, f"README.md:{line}", "exec"), NAMESPACE)


def test_json_snippets_are_json() -> None:
    blocks = snippets("json")
    assert blocks
    for line, code in blocks:
        try:
            json.loads(code)
        except ValueError as exc:
            raise AssertionError(f"README.md:{line}: {exc}") from None


def test_the_assets_table_says_what_the_definitions_do() -> None:
    """Each row of the README's asset table: its group and its storage format."""
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (Parquet|Delta) \|", README.read_text(), re.M)
    graph = defs.resolve_asset_graph()
    formats = {**TABLE_FORMATS, **CORE_ANALYTICS_FORMATS}
    assert {name for name, _, _ in rows} == set(formats)
    for name, group, storage in rows:
        assert graph.get(dg.AssetKey(name)).group_name == group, name
        assert formats[name] == storage.lower(), name
