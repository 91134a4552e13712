"""The live tail: a sensor that follows the network's tip and keeps every asset current.

Each tick asks the ledger source for the newest ledger, registers the partitions the new ledgers
fall in and requests runs for them (see ``core.live.plan``). The open partition at the tip is
re-materialized incrementally by each run. Its cursor (the last ledger runs were requested for)
is stored by Dagster and survives restarts. A tick that cannot reach the source, or finds a live
run still queued, is skipped with the reason and moves nothing, so no ledger is ever skipped.
"""

import json

import dagster as dg
from pydantic import Field

from ...core.ledger_ranges import DEFAULT_WIDTH, parse_key, ranges_covering
from ...core.live.plan import initial_cursor, plan_tick
from ...core.live.repairs import Repair, plan_repairs, window_keys
from ...core.sources.base import LedgerSource, SourceConfigError, SourceError
from ...core.sources.datalake import DataLakeSource
from ...core.storage.location import open_location
from ...core.storage.manifest import StorageMismatchError, check_storage
from ..completeness import short_behind
from ..jobs import ALL_ASSETS_JOB
from ..partitions import (
    FULL_REBUILD_TAG,
    MAX_PARTITIONS_PER_RUN,
    RANGE_END_TAG,
    RANGE_START_TAG,
    THROUGH_LEDGER_TAG,
    ledger_ranges,
    unregistered,
)
from ..resources import LedgerSourceResource, StellarNetwork
from ..warehouse import WarehouseResource

LIVE_TAG = "ttp/live"
REPAIR_TAG = "ttp/repair"  # the attempt number of a run re-requested for a short partition
PARTITION_TAG = "dagster/partition"
TICK_SECONDS = 30


class LiveConfig(dg.ConfigurableResource):
    """How the live tail starts and how fast it may catch up."""

    start_ledger: int = Field(
        default=0,
        description="First ledger to follow; 0 = the start of the partition holding the tip",
    )
    max_ledgers_per_tick: int = Field(
        default=10_000, description="Upper bound of ledgers one tick requests runs for"
    )
    partition_width: int = Field(default=DEFAULT_WIDTH, description="TTP_PARTITION_WIDTH")
    repair_attempts: int = Field(
        default=3,
        description="TTP_LIVE_REPAIR_ATTEMPTS: re-runs of a short partition behind the cursor",
    )


def source_tip(source: LedgerSource, after: int | None, probe: int) -> int:
    """The newest ledger the source can serve now.

    RPC says it directly. A data lake cannot, cheaply: it is probed for the contiguous objects
    after the cursor (a binary search over at most ``probe`` ledgers).
    """
    tip = source.latest_ledger()
    if tip is not None:
        return tip
    if isinstance(source, DataLakeSource):
        if after is None:
            raise SourceConfigError(
                "following a data lake needs a start (TTP_LIVE_START_LEDGER); or follow Stellar "
                "RPC (TTP_SOURCE=rpc or lake+rpc), which knows the network's tip"
            )
        found = source.last_available(after + 1, probe)
        return after if found is None else found
    raise SourceConfigError(f"{source.description} cannot tell the newest ledger")


@dg.sensor(
    name="ledger_tail",
    job_name=ALL_ASSETS_JOB,
    minimum_interval_seconds=TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Follows the network: registers new ledger-range partitions and materializes "
    "them, the open one incrementally, within a tick or two of each ledger's close.",
)
def ledger_tail(
    context: dg.SensorEvaluationContext,
    network: StellarNetwork,
    ledger_source: LedgerSourceResource,
    live: LiveConfig,
    warehouse: WarehouseResource,
) -> dg.SensorResult | dg.SkipReason:
    state = json.loads(context.cursor) if context.cursor else None
    cursor = state["last"] if state else None
    width = live.partition_width
    net = network.get()
    location = open_location(warehouse.storage_uri)
    try:
        check_storage(location, net.name, net.passphrase, width)
    except StorageMismatchError as exc:
        return dg.SkipReason(f"refused: {exc}. Nothing was registered or requested.")
    source = ledger_source.open(net)
    start_cursor = cursor
    if start_cursor is None and live.start_ledger:
        start_cursor = initial_cursor(live.start_ledger, width, live.start_ledger)
    try:
        tip = source_tip(source, start_cursor, live.max_ledgers_per_tick)
    except SourceError as exc:
        return dg.SkipReason(
            f"cannot read the tip from {source.description}: {exc}. Nothing was requested; the "
            f"cursor stays at {cursor} and the next tick retries."
        )
    if cursor is None:
        cursor = initial_cursor(tip, width, live.start_ledger or None)
    queued = context.instance.get_run_records(
        dg.RunsFilter(
            tags={LIVE_TAG: "true"},
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
        ),
        limit=1,
    )
    if queued:
        return dg.SensorResult(
            skip_reason=f"a live run is still queued ({queued[0].dagster_run.run_id}); the tip "
            f"is {tip}, ledgers after {cursor} are requested once it starts",
            cursor=json.dumps({"last": cursor, "tip": tip}),
        )
    plan = plan_tick(cursor, tip, width, live.max_ledgers_per_tick, MAX_PARTITIONS_PER_RUN)
    first = state.get("first") if state else None
    first = cursor + 1 if first is None else first
    planned = set(plan.keys) if plan else set()
    # Closed partitions once found complete (with their checks passed) are not looked at again:
    # each tick reads the storage records of the others only.
    window = window_keys(first, cursor, width)
    verified = set((state or {}).get("verified", []))
    short = short_behind(
        context.instance, location, [k for k in window if k not in verified], cursor
    )
    verified = {k for k in window if parse_key(k).end <= cursor and k not in short}
    repairs, given_up, attempts = plan_repairs(
        cursor,
        {k: why for k, why in short.items() if k not in planned},
        live_run_keys(context.instance),
        (state or {}).get("repairs", {}),
        live.repair_attempts,
    )
    notes = []
    if given_up:
        notes.append(
            f"gave up on {', '.join(given_up)} after {live.repair_attempts} attempt(s): "
            "`cli backfill` repairs them"
        )
    requests = [repair_request(r) for r in repairs]
    for r in repairs:
        context.log.warning(f"re-requesting {r.key} (attempt {r.attempt}): {r.reason}")
    new_keys: list[str] = []
    last = cursor
    if plan is not None:
        new_keys = unregistered(context.instance, plan.keys)
        last = plan.last
        for run in plan.runs:
            tags = {LIVE_TAG: "true", THROUGH_LEDGER_TAG: str(run.through)}
            if len(run.keys) == 1:
                requests.append(
                    dg.RunRequest(run_key=run.run_key, partition_key=run.keys[0], tags=tags)
                )
            else:
                tags |= {RANGE_START_TAG: run.keys[0], RANGE_END_TAG: run.keys[-1]}
                requests.append(dg.RunRequest(run_key=run.run_key, tags=tags))
        context.log.info(
            f"tip {tip}: requesting ledgers {plan.first}-{plan.last} in {len(plan.runs)} run(s)"
            + (f", {len(new_keys)} new partition(s)" if new_keys else "")
        )
    for note in notes:
        context.log.warning(note)
    next_cursor = json.dumps(
        {
            "last": last,
            "tip": tip,
            "first": first,
            "repairs": attempts,
            "verified": sorted(verified),
        }
    )
    if not requests:
        reason = f"no new ledgers: the tip is {tip}, runs are requested through {cursor}"
        return dg.SensorResult(
            skip_reason="; ".join([reason, *notes]),
            cursor=next_cursor,
        )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[ledger_ranges.build_add_request(new_keys)] if new_keys else [],
        cursor=next_cursor,
    )


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def live_run_keys(instance: dg.DagsterInstance) -> set[str]:
    """Partition keys that a live run is queued or running for."""
    keys: set[str] = set()
    for record in instance.get_run_records(
        dg.RunsFilter(tags={LIVE_TAG: "true"}, statuses=IN_FLIGHT), limit=100
    ):
        tags = record.dagster_run.tags
        if PARTITION_TAG in tags:
            keys.add(tags[PARTITION_TAG])
        elif RANGE_START_TAG in tags:
            start = parse_key(tags[RANGE_START_TAG]).start
            end = parse_key(tags[RANGE_END_TAG]).end
            width = parse_key(tags[RANGE_START_TAG]).end - start + 1
            keys.update(r.key for r in ranges_covering(start, end, width))
    return keys


def repair_request(repair: Repair) -> dg.RunRequest:
    tags = {LIVE_TAG: "true", REPAIR_TAG: str(repair.attempt)}
    if repair.closed:
        tags[FULL_REBUILD_TAG] = "true"  # its stored rows or checks are not to be trusted
    else:
        tags[THROUGH_LEDGER_TAG] = str(repair.through)
    return dg.RunRequest(run_key=repair.run_key, partition_key=repair.key, tags=tags)
