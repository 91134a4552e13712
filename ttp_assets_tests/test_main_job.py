"""The README's main job, run the way a user runs it (offline, on the shared pubnet lake)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg

from ttp_assets.core.storage.catalog import open_store
from ttp_assets.core.storage.location import open_location
from ttp_assets_tests.shared_data import REPO_ROOT, lake_dir


def run_main(tmp_path: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "TTP_STORAGE_URI": str(tmp_path / "data"),
        "TTP_LAKE_URI": str(lake_dir("pubnet")),
        **env_vars,
    }
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "ttp_assets.main", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_main_job_materializes_and_summarizes(tmp_path: Path) -> None:
    proc = run_main(tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    # Clamped to what the offline lake holds: the one pubnet ledger.
    assert "ledgers 53312000-53312000 in 1 partition(s) of 1000" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert lines["raw_ledgers"] == ["1", "1", lines["raw_ledgers"][2]]
    assert lines["transactions"][:2] == ["1", "163"]
    assert lines["operations"][:2] == ["1", "234"]
    assert lines["token_metadata"][:2] == ["1", "0"]  # no contract instance changes there
    assert "checks: " in out and "FAILED" not in out
    # The run is in the persistent instance, where `dagster dev` shows it.
    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    runs = instance.get_runs()  # newest first: the ledger assets, then their analytics
    assert [r.job_name for r in reversed(runs)] == [
        "ttp_all_assets",
        "ttp_analytics_partials",
        "ttp_analytics_rollups",
    ]
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert "analytics checks: 3/3 passed" in out
    assert instance.get_dynamic_partitions("ledger_ranges") == ["0053312000-0053312999"]
    # The offline lake holds part of the partition: it is stored open (see "Storage").
    raw = open_store(open_location(str(tmp_path / "data")), "raw_ledgers")
    assert raw.committed_keys() == ["0053312000-0053312999"]
    assert raw.file_metadata("0053312000-0053312999")["ttp.complete"] == "false"


def _one_line_error(proc: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    """The first-mistake contract: exit 1, one line saying what to do, no traceback, nothing
    registered or run."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    assert instance.get_runs() == [] and instance.get_dynamic_partitions("ledger_ranges") == []
    return line


def test_a_range_the_lake_does_not_hold_is_refused_in_one_line(tmp_path: Path) -> None:
    line = _one_line_error(run_main(tmp_path, "--ledgers", "53312000-53312005"), tmp_path)
    assert "ledger 53312005 of 53312000-53312005 is not in data lake" in line
    assert "Choose --ledgers FIRST-LAST inside what" in line


def test_a_lake_of_another_network_is_refused_in_one_line(tmp_path: Path) -> None:
    proc = run_main(tmp_path, "--ledgers", "53312000-53312000", TTP_NETWORK="testnet")
    line = _one_line_error(proc, tmp_path)
    assert "is for network 'Public Global Stellar Network ; September 2015'" in line
    assert "set TTP_NETWORK" in line


def test_offline_default_points_to_a_local_lake(tmp_path: Path) -> None:
    """The default source is the public lake; unreachable (here: its endpoint is a closed port
    on loopback), the job says how to run offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    public = (
        f"s3://aws-public-blockchain/v1.1/stellar/ledgers/pubnet?endpoint=http://127.0.0.1:{closed}"
    )
    proc = run_main(tmp_path, TTP_LAKE_URI=public, TTP_SOURCE_RETRY_ATTEMPTS="2")
    line = _one_line_error(proc, tmp_path)
    assert "cannot reach the public pubnet lake" in line
    assert "Offline? Point TTP_LAKE_URI at a local SEP-54 lake" in line
    # The retries name what they retry.
    assert "pubnet/.config.json: attempt 1 of 2 failed" in proc.stderr


def test_cli_backfill_runs_ranged_and_skips_what_is_complete(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "TTP_NETWORK": "testnet",
        "TTP_LAKE_URI": str(lake_dir("testnet-2022")),
        "TTP_STORAGE_URI": str(tmp_path / "data"),
        "TTP_PARTITION_WIDTH": "32",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ttp_assets.cli", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    first = cli("backfill", "1410048", "1410207", "--per-run", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count(": ok (run ") == 3  # 5 partitions, 2 per run
    again = cli("backfill", "1410048", "1410207")
    assert "5 already complete; materializing 0" in again.stdout
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    assert len(instance.get_runs()) == 3
    status = cli("status", "1410048", "1410207")
    assert status.returncode == 0, status.stdout + status.stderr
    for table in ("raw_ledgers", "ledgers", "ttp_events", "balance_changes"):
        assert f"{table:<16} 5 partition(s), 5 complete" in status.stdout
    assert "5 of 5 partition(s) of 1410048-1410207 complete" in status.stdout


def test_a_lake_starting_inside_a_partition_gives_the_ledgers_it_has(tmp_path: Path) -> None:
    """The README's testnet command: the lake holds 1410048-1410207, inside the 1,000-ledger
    partition 0001410000-0001410999. The partition holds exactly the ledgers asked for, marked
    incomplete with its coverage; every check passes."""
    proc = run_main(
        tmp_path,
        "--ledgers",
        "1410048-1410207",
        TTP_NETWORK="testnet",
        TTP_LAKE_URI=str(lake_dir("testnet-2022")),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checks: 6/6 passed" in proc.stdout
    key = "0001410000-0001410999"
    raw = open_store(open_location(str(tmp_path / "data")), "raw_ledgers")
    meta = raw.file_metadata(key)
    assert (meta["ttp.first_ledger"], meta["ttp.last_ledger"], meta["ttp.complete"]) == (
        "1410048",
        "1410207",
        "false",
    )
    seqs = [s for b in raw.batches(key, ["ledger_sequence"]) for s in b.column(0).to_pylist()]
    assert seqs == list(range(1410048, 1410208))
    status = subprocess.run(
        [sys.executable, "-m", "ttp_assets.cli", "status", "1410048", "1410207"],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "DAGSTER_HOME": str(tmp_path / "home"),
            "TTP_STORAGE_URI": str(tmp_path / "data"),
            "TTP_NETWORK": "testnet",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert f"{key}: " in status.stdout and "raw_ledgers holds only 1410048-1410207" in status.stdout


def test_a_mistake_that_comes_from_the_saved_settings_says_so(tmp_path: Path) -> None:
    """A network saved by an earlier testnet run, then the pubnet lake given: the one-line error
    names the saved setting that is in force, and where it is saved."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "ttp.env").write_text("TTP_NETWORK=testnet\n")
    env = {k: v for k, v in os.environ.items() if k != "TTP_NETWORK"}
    proc = subprocess.run(
        [sys.executable, "-m", "ttp_assets.main", "--ledgers", "53312000-53312000"],
        cwd=REPO_ROOT,
        env={
            **env,
            "DAGSTER_HOME": str(tmp_path / "home"),
            "TTP_STORAGE_URI": str(tmp_path / "data"),
            "TTP_LAKE_URI": str(lake_dir("pubnet")),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = _one_line_error(proc, tmp_path)
    assert "set TTP_NETWORK" in line
    assert line.endswith(f"(also in force, saved in {tmp_path / 'home' / 'ttp.env'}: TTP_NETWORK)")
