"""Completeness as the CLI, the main job and ``cli status`` agree on it.

A partition is complete when every table stores all of its ledgers (``core.storage.completeness``)
and the run that last materialized it saw none of its blocking checks fail. A run records its
checks' evaluations in the instance (one per check per run, covering the run's partitions), so
a partition materialized by a run whose check failed counts as incomplete: a plain re-run then
rebuilds and re-checks it instead of skipping it.
"""

from __future__ import annotations

import dagster as dg

from ..core.storage.completeness import partition_states
from ..core.storage.location import Location

# The asset every run materializes last: its latest materialization names the run to ask.
LAST_ASSET = dg.AssetKey("ttp_events")


def _failed_check_runs(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, str]:
    """{key: run id} for keys whose latest materializing run had a failed check."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=LAST_ASSET, asset_partitions=keys), limit=len(keys) * 4
    ).records
    latest: dict[str, str] = {}
    for record in records:  # newest first
        partition = record.partition_key
        if partition is not None and partition not in latest:
            latest[partition] = record.run_id
    failed_runs = set()
    for run_id in set(latest.values()):
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data  # type: ignore[union-attr]
            if not evaluation.passed:  # type: ignore[union-attr]
                failed_runs.add(run_id)
                break
    return {k: r for k, r in latest.items() if r in failed_runs}


def incomplete_reasons(
    instance: dg.DagsterInstance, location: Location, keys: list[str]
) -> dict[str, str]:
    """{key: why it is not complete} for the keys that are not; complete keys are absent."""
    out = {s.key: s.describe() for s in partition_states(location, keys).values() if not s.complete}
    stored = [k for k in keys if k not in out]
    for key, run_id in _failed_check_runs(instance, stored).items():
        out[key] = f"{key}: a blocking check failed in run {run_id}"
    return out
