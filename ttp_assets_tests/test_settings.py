"""One source of settings: what the main job ran with is what the UI, the daemon, the CLI and
the Flight gateway use (issue 12, item 1), and settings are read in one module."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from ttp_assets.settings import (
    PIPELINE_VARIABLES,
    VARIABLES,
    Settings,
    read_settings_file,
    save_settings,
)
from ttp_assets_tests.shared_data import REPO_ROOT, lake_dir

# The ledgers 1410048-1410207 of the testnet lake start inside the partition 1410000-1410999.
TESTNET_RANGE = "1410048-1410051"

# What the UI's code server does with workspace.yaml: import the definitions module from the
# project folder, then hand runs the resources it built. Printed: the settings they got, and the
# gateway's configuration in the same environment.
PROBE = """
import json
from ttp_assets.definitions import defs
from flight_gateway.config import GatewayConfig
r = defs.resources
print(json.dumps({
    "network": r["network"].network,
    "lake": r["ledger_source"].lake_uri,
    "storage": r["warehouse"].storage_uri,
    "gateway_storage": GatewayConfig.from_env().storage_uri,
}))
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTP_", "DAGSTER_"))}
    return {**env, **extra}


def test_the_ui_daemon_cli_and_gateway_use_what_the_main_job_ran_with(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "data"
    lake = lake_dir("testnet-2022")
    ran = subprocess.run(
        [sys.executable, "-m", "ttp_assets.main", "--ledgers", TESTNET_RANGE],
        cwd=REPO_ROOT,
        env=_clean_env(
            DAGSTER_HOME=str(home),
            TTP_NETWORK="testnet",
            TTP_LAKE_URI=str(lake),
            TTP_STORAGE_URI=str(data),
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "settings saved in " in ran.stdout
    saved = read_settings_file(home / "ttp.env")
    assert saved == {
        "TTP_NETWORK": "testnet",
        "TTP_LAKE_URI": str(lake),
        "TTP_STORAGE_URI": str(data),
    }
    assert (home / "ttp.env").stat().st_mode & 0o077 == 0  # an RPC URL may carry a key

    # The UI (scripts/dev.sh: DAGSTER_HOME, then `dagster dev -w workspace.yaml`) loads this
    # module from the project folder, with none of the main job's variables exported.
    (location,) = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())["load_from"]
    assert location["python_module"] == {
        "module_name": "ttp_assets.definitions",
        "working_directory": ".",
    }
    ui_env = _clean_env(DAGSTER_HOME=str(home))
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env=ui_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout.splitlines()[-1]) == {
        "network": "testnet",
        "lake": str(lake),
        "storage": str(data),
        "gateway_storage": str(data),
    }

    # The CLI on the same instance reads the same storage, of the same network.
    status = subprocess.run(
        [sys.executable, "-m", "ttp_assets.cli", "status"],
        cwd=REPO_ROOT,
        env=ui_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"storage {data}: testnet ledgers in partitions of 1000" in status.stdout

    # A variable set in the environment still wins over the saved file.
    override = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env={**ui_env, "TTP_STORAGE_URI": str(tmp_path / "other")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert override.returncode == 0, override.stderr
    got = json.loads(override.stdout.splitlines()[-1])
    assert got["storage"] == got["gateway_storage"] == str(tmp_path / "other")
    assert got["network"] == "testnet"


def test_saved_settings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ttp.env"
    env = {
        "TTP_NETWORK": "testnet",
        "TTP_STORAGE_URI": "relative/data",
        "TTP_RPC_URL": "https://rpc.example.org/?key=x=y",
        "TTP_LEDGERS": "1-2",  # one run's range: never saved
        "TTP_FLIGHT_TOKENS": "reader:secret",  # the gateway's: never saved by the main job
        "HOME": "/root",
    }
    written = save_settings(env, path)
    assert set(written) == {"TTP_NETWORK", "TTP_STORAGE_URI", "TTP_RPC_URL"}
    assert written["TTP_STORAGE_URI"] == str(Path("relative/data").resolve())
    assert read_settings_file(path) == written
    assert Settings.from_env(written).storage_uri == written["TTP_STORAGE_URI"]


def _reads_environment(tree: ast.AST) -> list[int]:
    """Lines that read the process environment (os.environ / os.getenv)."""
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            lines.append(node.lineno)
    return lines


def test_settings_are_read_in_one_module() -> None:
    """Only ttp_assets/settings.py reads TTP_* settings from the environment; the others that
    touch os.environ are Dagster's instance folder (runner) and the AWS SDK's own variables
    (storage location)."""
    allowed = {
        "ttp_assets/settings.py",
        "ttp_assets/runner.py",  # DAGSTER_HOME
        "ttp_assets/core/storage/location.py",  # AWS_* of the storage bucket
    }
    offenders = []
    for package in ("ttp_assets", "flight_gateway"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            rel = path.relative_to(REPO_ROOT).as_posix()
            text = path.read_text()
            if rel in allowed:
                continue
            lines = _reads_environment(ast.parse(text))
            offenders += [f"{rel}:{n}" for n in lines]
    assert offenders == []
    # ... and every TTP_ variable the code names (a string that is a variable name) is in the
    # settings' table.
    named = set()
    for package in ("ttp_assets", "flight_gateway"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and re.fullmatch(r"TTP_[A-Z0-9_]*[A-Z0-9]", node.value)
                ):
                    named.add(node.value)
    assert len(named) > 30
    assert named - VARIABLES == set()
    assert set(PIPELINE_VARIABLES) <= VARIABLES
