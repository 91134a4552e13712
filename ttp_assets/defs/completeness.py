"""Completeness as the CLI, the main job and ``cli status`` agree on it.

A partition is complete when every table stores all of its ledgers (``core.storage.completeness``)
and the latest evaluation of every blocking check on that partition passed. Checks record a
status per partition (``defs.check_results``), so a partition whose check failed, or whose run
died before its checks ran, counts as incomplete: a plain re-run then rebuilds and re-checks it
instead of skipping it.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from ..core.storage.completeness import partition_states
from ..core.storage.location import Location

_SAID = {
    AssetCheckExecutionRecordStatus.FAILED: "failed",
    # Planned by a run that ended (killed, or a check upstream failed) before evaluating it.
    AssetCheckExecutionRecordStatus.PLANNED: "did not run to the end",
}


def _check_keys() -> list[dg.AssetCheckKey]:
    from .ledgers.checks import LEDGER_CHECKS
    from .ttp.checks import TTP_CHECKS

    return [key for checks in (*LEDGER_CHECKS, *TTP_CHECKS) for key in checks.check_keys]


def unchecked_reasons(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, str]:
    """{key: why} for keys where some blocking check's latest evaluation of that partition did
    not pass: it failed, was skipped, or its run ended before the check (checks record one
    status per partition, ``defs.check_results``)."""
    check_keys = _check_keys()
    status: dict[tuple[dg.AssetCheckKey, str], tuple[str, str]] = {}
    for info in instance.event_log_storage.get_asset_check_partition_info(
        check_keys, partition_keys=keys
    ):
        if info.partition_key is not None:
            status[(info.check_key, info.partition_key)] = (
                _SAID.get(info.latest_execution_status, ""),
                info.latest_planned_run_id,
            )
    out: dict[str, str] = {}
    for key in keys:
        for check_key in check_keys:
            state, run_id = status.get((check_key, key), ("never run", ""))
            if state:
                run = f" in run {run_id}" if run_id else ""
                out[key] = f"{key}: check {check_key.name} {state}{run}"
                break
    return out


def incomplete_reasons(
    instance: dg.DagsterInstance, location: Location, keys: list[str]
) -> dict[str, str]:
    """{key: why it is not complete} for the keys that are not; complete keys are absent."""
    out = {s.key: s.describe() for s in partition_states(location, keys).values() if not s.complete}
    stored = [k for k in keys if k not in out]
    out.update(unchecked_reasons(instance, stored))
    return out


def short_behind(
    instance: dg.DagsterInstance, location: Location, keys: list[str], cursor: int
) -> dict[str, str]:
    """{key: why} for ``keys`` that do not hold what the live tail asked of them by ``cursor``:
    a closed partition that is not complete, or the open one (holding ``cursor``) stored short
    of it; either with a blocking check that did not pass."""
    from ..core.ledger_ranges import parse_key
    from ..core.pipeline.incremental import stored_coverage
    from ..core.storage.catalog import TABLE_FORMATS, open_store

    closed = [k for k in keys if parse_key(k).end <= cursor]
    out = incomplete_reasons(instance, location, closed)
    open_keys = [k for k in keys if k not in closed]
    for key in open_keys:
        for table in TABLE_FORMATS:
            cov = stored_coverage(open_store(location, table), key)
            if cov is None or cov.first != parse_key(key).first_ledger or cov.last < cursor:
                held = "nothing" if cov is None else f"{cov.first}-{cov.last}"
                out[key] = f"{key}: {table} holds {held}, runs were requested through {cursor}"
                break
    checks = unchecked_reasons(instance, [k for k in open_keys if k not in out])
    out.update(checks)
    return out
