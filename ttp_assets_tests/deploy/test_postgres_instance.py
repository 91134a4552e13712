"""The production instance config (``deploy/dagster.yaml``) on a real PostgreSQL server.

A throwaway PostgreSQL cluster is started on a free loopback port (``pg_ctl -w`` returns once it
accepts connections); the asset graph runs through an instance built from the deployment's own
config, and everything Dagster must keep (runs, events per partition, check results, dynamic
partitions) is read back from PostgreSQL by a second instance, as the webserver and daemon of a
distributed deployment would.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ttp_assets.settings import Settings
from ttp_assets_tests.conftest import free_port
from ttp_assets_tests.harness import TEST_WIDTH, TESTNET_FIRST, materialize
from ttp_assets_tests.shared_data import REPO_ROOT, lake_dir


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if not found:
        raise FileNotFoundError(
            f"PostgreSQL server binary {name!r} not found: these tests need a real PostgreSQL "
            f"(Debian: apt-get install postgresql; .ci/run installs it)"
        )
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so the server runs as "postgres".
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    root = Path(tempfile.mkdtemp(prefix="ttp-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = str(free_port())
    subprocess.run(
        _as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "dagster", "--auth=trust"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = root / "server.log"
    started = subprocess.run(
        # -l: the server's output goes to a file; on inherited pipes, run() would wait for it.
        _as_postgres(
            [_pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if started.returncode:
        text = log.read_text() if log.exists() else "(no server log)"
        raise RuntimeError(f"PostgreSQL did not start (pg_ctl exit {started.returncode}):\n{text}")
    try:
        subprocess.run(
            [
                _pg_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                port,
                "-U",
                "dagster",
                "-d",
                "postgres",
                "-c",
                "CREATE DATABASE dagster",
            ],
            check=True,
            capture_output=True,
        )
        yield {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": port,
            "DAGSTER_PG_USER": "dagster",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": "dagster",
        }
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def deploy_instance(home: Path) -> dg.DagsterInstance:
    home.mkdir(exist_ok=True)
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def test_assets_run_on_the_postgres_backed_instance(
    postgres: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in postgres.items():
        monkeypatch.setenv(k, v)
    writer = deploy_instance(tmp_path / "writer")
    assert type(writer.run_storage).__name__ == "PostgresRunStorage"
    assert type(writer.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(writer.schedule_storage).__name__ == "PostgresScheduleStorage"
    assert type(writer.run_coordinator).__name__ == "QueuedRunCoordinator"
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "store"),
        partition_width=TEST_WIDTH,
    )
    result = materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 63, instance=writer)
    assert result.success

    # Another process (the webserver, the daemon) sees it all through PostgreSQL.
    reader = deploy_instance(tmp_path / "reader")
    (run,) = reader.get_runs()
    assert run.status == dg.DagsterRunStatus.SUCCESS
    keys = reader.get_dynamic_partitions("ledger_ranges")
    assert keys == ["0001410048-0001410079", "0001410080-0001410111"]
    events = reader.get_latest_materialization_events([dg.AssetKey("ttp_events")])
    assert events[dg.AssetKey("ttp_events")] is not None
    status = reader.get_materialized_partitions(dg.AssetKey("ttp_events"))
    assert status == set(keys)
    checks = reader.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("ttp_events"), "ttp_events_reconcile")]
    )
    assert checks

    count = subprocess.run(
        [
            _pg_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            postgres["DAGSTER_PG_PORT"],
            "-U",
            "dagster",
            "-d",
            "dagster",
            "-tAc",
            "SELECT count(*) FROM runs",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert count.stdout.strip() == "1"
