"""The production instance config (``deploy/dagster.yaml``) on a real PostgreSQL server.

A throwaway PostgreSQL cluster is started on a free loopback port (``pg_ctl -w`` returns once it
accepts connections); the asset graph runs through an instance built from the deployment's own
config, and everything Dagster must keep (runs, events per partition, check results, dynamic
partitions) is read back from PostgreSQL by a second instance, as the webserver and daemon of a
distributed deployment would. The instance keeps compute logs in S3 (dagster-aws'
``S3ComputeLogManager``), here the local S3-compatible server: a run's logs land in the bucket
and the second instance reads them back from there, as the webserver shows them.

How a long backfill fans out is checked with the daemon's own dequeue logic on this instance:
a UI backfill is split into runs of at most ``MAX_PARTITIONS_PER_RUN`` partitions
(``BackfillPolicy.multi_run``), queued; the daemon starts at most ``max_concurrent_runs`` of them
at once and one ``ttp/live`` run at a time.
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
from ttp_assets_tests.conftest import S3Server, free_port
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


COMPUTE_LOGS_BUCKET = "ttp-compute-logs"


@pytest.fixture
def deploy_env(
    postgres: dict[str, str], s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> S3Server:
    """What deploy/dagster.yaml reads: PostgreSQL, and the compute logs' bucket (on the local
    S3 server; boto3 takes its endpoint from AWS_ENDPOINT_URL, as a MinIO deployment would)."""
    for k, v in postgres.items():
        monkeypatch.setenv(k, v)
    if COMPUTE_LOGS_BUCKET not in {b["Name"] for b in s3_server.client().list_buckets()["Buckets"]}:
        s3_server.create_bucket(COMPUTE_LOGS_BUCKET)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_BUCKET", COMPUTE_LOGS_BUCKET)
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    return s3_server


def test_assets_run_on_the_postgres_backed_instance(deploy_env: S3Server, tmp_path: Path) -> None:
    postgres = {k: os.environ[k] for k in ("DAGSTER_PG_PORT",)}
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

    # The run's compute logs (its process's stdout/stderr) are in the bucket ...
    (captured,) = [
        e.dagster_event.logs_captured_data
        for e in reader.all_logs(run.run_id, of_type=dg.DagsterEventType.LOGS_CAPTURED)
    ]
    log_key = [run.run_id, "compute_logs", captured.file_key]
    assert type(reader.compute_log_manager).__name__ == "S3ComputeLogManager"
    objects = deploy_env.client().list_objects_v2(
        Bucket=COMPUTE_LOGS_BUCKET, Prefix=f"dagster-compute-logs/storage/{run.run_id}/"
    )
    names = sorted(o["Key"].rsplit("/", 1)[-1] for o in objects.get("Contents", []))
    assert names == [f"{captured.file_key}.err", f"{captured.file_key}.out"]
    # ... and read back from there by another instance (the webserver's), once the writer's
    # local copies are gone.
    local = writer.compute_log_manager.local_manager  # type: ignore[attr-defined]
    for ext in ("err", "out", "complete"):
        Path(local.get_captured_local_path(log_key, ext)).unlink(missing_ok=True)
    data = reader.compute_log_manager.get_log_data(log_key)
    stderr = (data.stderr or b"").decode()
    assert "raw_ledgers" in stderr and "STEP_SUCCESS" in stderr, stderr[-2000:]
    writer.dispose()
    reader.dispose()


def test_a_backfill_fans_out_through_the_queue(deploy_env: S3Server, tmp_path: Path) -> None:
    """A 45-partition backfill from the UI is 5 ranged runs (at most 10 partitions each);
    with 3 live-tail runs queued too, the daemon's dequeue step on this instance starts 6 at
    once: the 5 ranged runs and one live run (``ttp/live`` limit 1), never more than 8."""
    from dagster._core.remote_origin import (
        InProcessCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.run_coordinator import SubmitRunContext
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )

    from ttp_assets.definitions import ALL_ASSETS_JOB, build_definitions
    from ttp_assets.defs.live.sensors import LIVE_TAG
    from ttp_assets.defs.partitions import MAX_PARTITIONS_PER_RUN, RANGE_END_TAG, RANGE_START_TAG

    instance = deploy_instance(tmp_path / "daemon")
    config = instance.get_concurrency_config().run_queue_config
    assert config is not None
    assert config.max_concurrent_runs == 8
    assert list(config.tag_concurrency_limits) == [{"key": LIVE_TAG, "limit": 1}]
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2

    job = build_definitions(
        Settings(network="testnet", storage_uri=str(tmp_path / "store"))
    ).resolve_job_def(ALL_ASSETS_JOB)
    keys = [f"{a:010d}-{a + 999:010d}" for a in range(1_000_000, 1_045_000, 1000)]
    chunks = [
        keys[i : i + MAX_PARTITIONS_PER_RUN] for i in range(0, len(keys), MAX_PARTITIONS_PER_RUN)
    ]
    assert len(chunks) == 5
    instance.add_dynamic_partitions("ledger_ranges", keys)  # registered, as before a backfill
    tags = [{RANGE_START_TAG: c[0], RANGE_END_TAG: c[-1]} for c in chunks]
    tags += [{LIVE_TAG: "true"}] * 3
    # Where the daemon would launch them from: the code location of deploy/docker/workspace.yaml
    # (the user-code server serving ttp_assets.definitions).
    origin = RemoteJobOrigin(
        RemoteRepositoryOrigin(
            InProcessCodeLocationOrigin(
                LoadableTargetOrigin(module_name="ttp_assets.definitions"),
                location_name="ttp_assets",
            ),
            "__repository__",
        ),
        ALL_ASSETS_JOB,
    )
    queued = []
    for t in tags:
        run = instance.create_run_for_job(
            job, tags=t, status=dg.DagsterRunStatus.NOT_STARTED, remote_job_origin=origin
        )
        queued.append(instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None)))  # type: ignore[arg-type]
    assert {r.status for r in queued} == {dg.DagsterRunStatus.QUEUED}

    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    first = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
    assert len(first) == 6
    assert sum(1 for r in first if LIVE_TAG in r.tags) == 1
    # Once they run (STARTED), only the remaining live runs wait, one at a time.
    for r in first:
        instance.report_dagster_event(
            dg.DagsterEvent(
                event_type_value=dg.DagsterEventType.RUN_START.value, job_name=r.job_name
            ),
            run_id=r.run_id,
        )
    assert daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None) == []
    instance.dispose()
