"""A new user's first commands, in a fresh clone with ``../shared`` beside it: the offline quick
start and the README's testnet command, exactly as the README writes them, through
``scripts/main.sh``; then the CLI, run as a user would after them, sees what the main job saved.

The clone shares this checkout's ``.venv`` (the set-up the README's commands would repeat: the
same pyproject and native sources, so ``scripts/setup.sh`` finds nothing to do); everything else
is the clone's own: its scripts, its code, its instance and its storage.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ttp_assets_tests.shared_data import REPO_ROOT, shared_data_dir


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(repo)], check=True)
    (repo / ".venv").symlink_to(REPO_ROOT / ".venv")
    (tmp_path / "shared").symlink_to(shared_data_dir().parent)
    return repo


def user_env(**settings: str) -> dict[str, str]:
    """The environment of a new user's shell: none of this project's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTP_", "DAGSTER_"))}
    return {**env, **settings}


def run(repo: Path, *cmd: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), cwd=repo, env=user_env(**settings), capture_output=True, text=True, timeout=900
    )


def test_the_offline_quick_start_then_the_cli(clone: Path) -> None:
    # README: TTP_LAKE_URI=../shared/data/lake/pubnet bash scripts/main.sh
    proc = run(clone, "bash", "scripts/main.sh", TTP_LAKE_URI="../shared/data/lake/pubnet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ledgers 53312000-53312000 in 1 partition(s) of 1000" in proc.stdout
    assert "checks: 6/6 passed" in proc.stdout
    assert (clone / ".ttp_data" / "raw_ledgers").is_dir()
    assert (clone / ".dagster_home" / "ttp.env").is_file()
    # Runtime files stay in the instance folder, not in the repository's root.
    assert not [p for p in (".nux", ".logs_queue", "logs") if (clone / p).exists()]
    # The CLI, with no setting exported, reads the lake and storage the main job saved.
    status = run(
        clone,
        ".venv/bin/python",
        "-m",
        "ttp_assets.cli",
        "status",
        "53312000",
        "53312000",
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "0053312000-0053312999" in status.stdout


def test_the_readme_testnet_command(clone: Path) -> None:
    # README: TTP_NETWORK=testnet TTP_LAKE_URI=../shared/data/lake/testnet-2022 \
    #         bash scripts/main.sh --ledgers 1410048-1410207
    proc = run(
        clone,
        "bash",
        "scripts/main.sh",
        "--ledgers",
        "1410048-1410207",
        TTP_NETWORK="testnet",
        TTP_LAKE_URI="../shared/data/lake/testnet-2022",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "network testnet" in proc.stdout
    assert "checks: 6/6 passed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
