"""Check evaluations recorded against the partition they checked.

A ranged run checks many partitions in one step. An ``AssetCheckResult`` returned from such a
step is recorded without a partition, so the UI would show the check as never run for every
partition ("Skipped", "0/2 passed"). Each check therefore yields one ``AssetCheckEvaluation`` per
partition, naming the partition and the materialization it checked; Dagster then keeps a status
per (check, partition), a failed partition blocks the run like a failed result would, and the
completeness of a partition (``defs.completeness``) reads the same per-partition status.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationTargetMaterializationData,
)

from ..core.checks.ledger_checks import CheckOutcome

CheckEvents = Iterator[AssetCheckEvaluation | dg.Output]


def describe(outcome: CheckOutcome, what: str) -> str:
    if outcome.passed:
        return f"{what}: {outcome.checked} checked, all hold"
    return f"{what}: {len(outcome.problems)} problem(s); first: {outcome.problems[0]}"


def _latest_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, keys: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The materialization each evaluation checked: the partition's latest (written by this
    run, as checks run after their asset in the same step order)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=len(keys) * 4
    ).records
    out: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:  # newest first
        key = record.partition_key
        if key is not None and key not in out:
            out[key] = AssetCheckEvaluationTargetMaterializationData(
                run_id=record.run_id, storage_id=record.storage_id, timestamp=record.timestamp
            )
    return out


def per_partition(
    context: dg.AssetCheckExecutionContext,
    outcomes: Mapping[str, CheckOutcome],
    what: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> CheckEvents:
    """One evaluation per checked partition, then the check's (empty) output."""
    (spec,) = context.check_specs
    targets = _latest_materializations(context.instance, spec.asset_key, list(outcomes))
    for key, outcome in outcomes.items():
        yield AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=outcome.passed,
            metadata={"partition": key, **outcome.summary()},
            target_materialization_data=targets.get(key),
            severity=severity,
            description=describe(outcome, what),
            blocking=spec.blocking,
            partition=key,
        )
    yield dg.Output(None)


def single_result(outcome: CheckOutcome, what: str) -> dg.AssetCheckResult:
    """The result of a check that is not partitioned (it sees a whole table at once)."""
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=describe(outcome, what),
        metadata=outcome.summary(),
    )
