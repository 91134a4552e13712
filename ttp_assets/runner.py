"""Running the asset graph over ledger ranges without the daemon (main job, CLI backfills)."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from .definitions import ALL_ASSETS_JOB, build_definitions
from .defs.partitions import RANGE_END_TAG, RANGE_START_TAG, THROUGH_LEDGER_TAG
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


def execute_keys(
    instance: dg.DagsterInstance,
    settings: Settings,
    keys: list[str],
    through: int | None = None,
    log_level: str = "INFO",
) -> RunSummary:
    """One ranged run over ``keys`` (registered, consecutive) of every asset and check."""
    tags = {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
    if through is not None:
        tags[THROUGH_LEDGER_TAG] = str(through)
    job = build_definitions(settings).resolve_job_def(ALL_ASSETS_JOB)
    result = job.execute_in_process(
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        tags=tags,
        raise_on_error=False,
    )
    return summarize(result, keys)


def summarize(result: dg.ExecuteInProcessResult, keys: list[str]) -> RunSummary:
    totals: dict[str, list[int]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        t = totals.setdefault(mat.asset_key.to_user_string(), [0, 0, 0])
        t[0] += 1
        t[1] += int(mat.metadata["dagster/row_count"].value)
        t[2] += int(mat.metadata["bytes"].value)
    evaluations = result.get_asset_check_evaluations()
    failed = [f"{e.asset_key.to_user_string()}.{e.check_name}" for e in evaluations if not e.passed]
    errors = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            errors.append(f"{event.step_key}: {event.step_failure_data.error.message.strip()}")
    return RunSummary(
        run_id=result.run_id,
        success=result.success,
        keys=keys,
        totals={k: (v[0], v[1], v[2]) for k, v in totals.items()},
        checks_passed=len(evaluations) - len(failed),
        checks_failed=failed,
        errors=errors,
    )
