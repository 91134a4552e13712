"""The main job: materialize every asset for a ledger range on the local Dagster instance.

    python -m ttp_assets.main [--ledgers FIRST-LAST] [--count N]

Without ``--ledgers`` (or ``TTP_LEDGERS``) it takes up to ``--count`` ledgers from 53312000, a
pubnet ledger from 2024, clamped to what the configured lake holds. The run is recorded in the
local instance (``DAGSTER_HOME``), so ``dagster dev`` shows it afterwards.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import dagster as dg

DEFAULT_START = 53312000  # pubnet, 2024-09-02; also the ledger in shared/data/lake/pubnet
DEFAULT_COUNT = 100
SUMMARY_ASSET_ORDER = ("raw_ledgers", "ledgers", "transactions", "operations", "ttp_events")


def parse_ledgers(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    a, b = int(first), int(last or first)
    if b < a:
        raise ValueError(f"ledger range {text!r} ends before it starts")
    return a, b


def resolve_range(args: argparse.Namespace, settings, network) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    text = args.ledgers or os.environ.get("TTP_LEDGERS")
    if text:
        return parse_ledgers(text)
    if network.name != "pubnet" or settings.source == "rpc":
        raise SystemExit("give --ledgers FIRST-LAST (or TTP_LEDGERS) for this network/source")
    from .core.sources.datalake import DataLakeSource

    lake = DataLakeSource(settings.lake_uri, network)
    last = lake.last_available(DEFAULT_START, args.count)
    if last is None:
        raise SystemExit(f"ledger {DEFAULT_START} is not in {lake.description}")
    return DEFAULT_START, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledgers", help="FIRST-LAST ledger range (default: see module doc)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("DAGSTER_HOME", str(Path.cwd()))

    from .core.network import resolve_network
    from .definitions import ALL_ASSETS_JOB, build_definitions
    from .defs.partitions import RANGE_END_TAG, RANGE_START_TAG, THROUGH_LEDGER_TAG, register_ranges
    from .settings import Settings

    settings = Settings.from_env()
    network = resolve_network(settings.network)
    first, last = resolve_range(args, settings, network)
    instance = dg.DagsterInstance.get()
    keys = register_ranges(instance, first, last, settings.partition_width)
    print(
        f"network {network.name}; source {settings.source} "
        f"({settings.lake_uri if 'lake' in settings.source else settings.rpc_url}); "
        f"ledgers {first}-{last} in {len(keys)} partition(s) of {settings.partition_width}; "
        f"storage {settings.storage_uri}",
        flush=True,
    )
    job = build_definitions(settings).resolve_job_def(ALL_ASSETS_JOB)
    result = job.execute_in_process(
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1], THROUGH_LEDGER_TAG: str(last)},
        raise_on_error=False,
    )
    return print_summary(result, first)


def print_summary(result: dg.ExecuteInProcessResult, first: int) -> int:
    totals: dict[str, list[int]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        name = mat.asset_key.to_user_string()
        rows = mat.metadata["dagster/row_count"].value
        size = mat.metadata["bytes"].value
        t = totals.setdefault(name, [0, 0, 0])
        t[0] += 1
        t[1] += int(rows)
        t[2] += int(size)
    print(f"\n{'asset':<14}{'partitions':>11}{'rows':>12}{'bytes':>14}")
    order = {name: i for i, name in enumerate(SUMMARY_ASSET_ORDER)}
    for name in sorted(totals, key=lambda n: (order.get(n, len(order)), n)):
        p, r, b = totals[name]
        print(f"{name:<14}{p:>11}{r:>12}{b:>14}")
    failed_checks = []
    evaluations = result.get_asset_check_evaluations()
    for ev in evaluations:
        if not ev.passed:
            failed_checks.append(f"{ev.asset_key.to_user_string()}.{ev.check_name}")
    print(f"\nchecks: {len(evaluations) - len(failed_checks)}/{len(evaluations)} passed")
    for name in failed_checks:
        print(f"  FAILED {name}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                err = event.step_failure_data.error
                print(f"step {event.step_key} failed: {err.message.strip() if err else ''}")
        return 1
    print(f"run {result.run_id} succeeded; see it with: bash scripts/dev.sh")
    return 1 if failed_checks else 0


if __name__ == "__main__":
    sys.exit(main())
