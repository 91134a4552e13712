"""Which ledgers of a partition a check must read in this run.

A live tick appends a few ledgers to the open partition (see ``core.storage.parquet_store``);
checking the whole partition again would read it all back on every tick (the header hashes
alone read every ledger's XDR: up to 1.7 GB near the end of a pubnet partition). A check of a
partition therefore reads only the ledgers from the run's base on when both hold:

- the partition's latest materialization is this run's, continued it after ledger ``B`` (its
  ``continued_after`` metadata) and left it open, so ledgers up to ``B`` are what was stored
  before, as it was (appends never rewrite stored rows);
- the same check's previous evaluation of that partition, in another run, passed: the stored
  ledgers were proven then.

Otherwise (a full write, the run that closes and compacts the partition, a first or failed
check, a check never run) it reads the partition whole: a closed partition is checked whole
once more, as one file. The scope starts at ``B`` itself, not ``B + 1``, so that checks comparing
a ledger with its predecessor (the fee pool) still compare the first new ledger. Contiguity and
the hash chain always read the whole partition: they read two small columns.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from ..core.checks.ledger_checks import CheckOutcome
from ..core.storage.partitions_reader import PartitionedInput, StoredPartition
from .io_managers import CONTINUED_AFTER


def check_scopes(
    context: dg.AssetCheckExecutionContext, asset: str, keys: list[str]
) -> dict[str, int | None]:
    """{partition: the first ledger to check, or None for all of it}."""
    (spec,) = context.check_specs
    run_id = context.run.run_id
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=keys),
        limit=len(keys) * 4,
    ).records
    bases: dict[str, int | None] = {}
    for record in records:  # newest first
        key = record.partition_key
        if key is None or key in bases:
            continue
        mat = record.asset_materialization
        meta = mat.metadata if mat is not None else {}
        value, complete = meta.get(CONTINUED_AFTER), meta.get("complete")
        still_open = complete is not None and complete.value is False
        ours = record.run_id == run_id and value is not None and still_open
        bases[key] = int(value.value) if ours else None  # type: ignore[union-attr,arg-type]
    scopes: dict[str, int | None] = dict.fromkeys(keys)
    for key, base in bases.items():
        if base is not None and _passed_before(context.instance, spec.key, key, run_id):
            scopes[key] = base
    return scopes


def _passed_before(
    instance: dg.DagsterInstance, check: dg.AssetCheckKey, key: str, run_id: str
) -> bool:
    history = instance.event_log_storage.get_asset_check_execution_history(
        check, limit=3, partition_filter=PartitionKeyFilter(key=key)
    )
    previous = next((r for r in history if r.run_id != run_id), None)
    return previous is not None and previous.status == AssetCheckExecutionRecordStatus.SUCCEEDED


def scoped(
    context: dg.AssetCheckExecutionContext, inp: PartitionedInput, asset: str
) -> dict[str, StoredPartition]:
    """``inp``'s partitions, each limited to the ledgers this run must check."""
    scopes = check_scopes(context, asset, list(inp))
    return {key: part.scoped(scopes[key]) for key, part in inp.items()}


def note_scope(part: StoredPartition, out: CheckOutcome) -> None:
    if part.since is not None:
        out.notes.append(
            f"partition {part.key}: checked ledgers {part.since} on (appended by this run; the "
            "ones before passed this check in an earlier run)"
        )
