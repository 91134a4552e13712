"""Running the asset graph over ledger ranges without the daemon (main job, CLI backfills)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from .definitions import ALL_ASSETS_JOB, build_definitions
from .defs.jobs import ANALYTICS_PARTIALS_JOB, ANALYTICS_ROLLUPS_JOB
from .defs.partitions import FROM_LEDGER_TAG, RANGE_END_TAG, RANGE_START_TAG, THROUGH_LEDGER_TAG
from .settings import Settings


@dataclass
class RunSummary:
    run_id: str
    success: bool
    keys: list[str]
    totals: dict[str, tuple[int, int, int]]  # asset -> (partitions, rows, bytes)
    checks_passed: int
    checks_failed: list[str]
    errors: list[str]


# Who runs a run in this process: lets a later process tell a run that died with its process
# (killed, out of memory) from one still going.
PID_TAG = "ttp/pid"
HOST_TAG = "ttp/host"


@contextmanager
def _instance_lock(home: Path) -> Iterator[None]:
    """One process at a time creates a brand-new instance's databases (two racing on a fresh
    DAGSTER_HOME both try to create the same SQLite tables, and one fails)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".ttp-instance.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


LOCAL_HOME = ".dagster_home"


def default_home(root: Path | None = None) -> Path:
    """``DAGSTER_HOME`` when none is set: ``.dagster_home`` in the project folder, holding a link
    to the project's ``dagster.yaml``, so everything Dagster writes at run time (storage, logs,
    ``.nux``, ``.logs_queue``) stays inside it, and the UI, the CLI and the main job share it."""
    root = root or Path.cwd()
    home = root / LOCAL_HOME
    home.mkdir(exist_ok=True)
    link, config = home / "dagster.yaml", root / "dagster.yaml"
    if config.exists() and not link.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            link.symlink_to(Path("..") / "dagster.yaml")
    return home


def ensure_home() -> Path:
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(default_home())
    return Path(os.environ["DAGSTER_HOME"])


def open_instance() -> dg.DagsterInstance:
    """The instance of ``DAGSTER_HOME``, its storage created, runs of dead processes failed."""
    home = Path(os.environ["DAGSTER_HOME"])
    with _instance_lock(home):
        instance = dg.DagsterInstance.get()
        instance.get_runs(limit=1)  # creates the run, event log and schedule storages now
    mark_interrupted_runs(instance)
    return instance


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted_runs(instance: dg.DagsterInstance) -> list[str]:
    """Report as failed the runs this host started in-process whose process is gone.

    A run killed with its process (``kill -9``, the machine rebooting) would stay STARTED in
    the instance forever; the next CLI command or main job closes it, so the UI and the
    completeness of its partitions tell the truth.
    """
    host = socket.gethostname()
    closed = []
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={HOST_TAG: host})
    )
    for run in runs:
        pid = run.tags.get(PID_TAG)
        if pid and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            instance.report_run_failed(
                run, message=f"interrupted: its process {pid} on {host} is gone"
            )
            closed.append(run.run_id)
    return closed


def execute_keys(
    instance: dg.DagsterInstance,
    settings: Settings,
    keys: list[str],
    through: int | None = None,
    log_level: str = "INFO",
    start: int | None = None,
) -> RunSummary:
    """One ranged run over ``keys`` (registered, consecutive) of every asset and check, from
    ledger ``start`` (default: the first key's first) through ``through`` (default: the last
    key's last)."""
    tags = {
        RANGE_START_TAG: keys[0],
        RANGE_END_TAG: keys[-1],
        PID_TAG: str(os.getpid()),
        HOST_TAG: socket.gethostname(),
    }
    if through is not None:
        tags[THROUGH_LEDGER_TAG] = str(through)
    if start is not None:
        tags[FROM_LEDGER_TAG] = str(start)
    job = build_definitions(settings).resolve_job_def(ALL_ASSETS_JOB)
    result = job.execute_in_process(
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        tags=tags,
        raise_on_error=False,
    )
    return summarize(result, keys)


def execute_analytics(
    instance: dg.DagsterInstance, settings: Settings, keys: list[str], log_level: str = "INFO"
) -> list[RunSummary]:
    """The analytics of ``keys`` (stored in every ledger table): their partials in one ranged
    run, then the rollups of the hours and days they touch. What automation does in the
    daemon, here in process for the main job."""
    defs = build_definitions(settings)
    common = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    partials = defs.resolve_job_def(ANALYTICS_PARTIALS_JOB).execute_in_process(
        instance=instance,
        run_config=config,
        tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1], **common},
        raise_on_error=False,
    )
    out = [summarize(partials, keys)]
    if partials.success:
        rollups = defs.resolve_job_def(ANALYTICS_ROLLUPS_JOB).execute_in_process(
            instance=instance, run_config=config, tags=common, raise_on_error=False
        )
        out.append(summarize(rollups, keys))
    return out


def summarize(result: dg.ExecuteInProcessResult, keys: list[str]) -> RunSummary:
    totals: dict[str, list[int]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        t = totals.setdefault(mat.asset_key.to_user_string(), [0, 0, 0])
        t[0] += 1
        for i, name in ((1, "dagster/row_count"), (2, "bytes")):
            if name in mat.metadata:
                t[i] += int(mat.metadata[name].value)
    evaluations = result.get_asset_check_evaluations()
    failed = [f"{e.asset_key.to_user_string()}.{e.check_name}" for e in evaluations if not e.passed]
    errors = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            # The cause says what went wrong (Dagster wraps IO manager errors in its own).
            err = event.step_failure_data.error
            messages = [err.message.strip()]
            while err.cause is not None:
                err = err.cause
                messages.append(err.message.strip())
            errors.append(f"{event.step_key}: " + " <- ".join(dict.fromkeys(messages)))
    return RunSummary(
        run_id=result.run_id,
        success=result.success,
        keys=keys,
        totals={k: (v[0], v[1], v[2]) for k, v in totals.items()},
        checks_passed=len(evaluations) - len(failed),
        checks_failed=failed,
        errors=errors,
    )
