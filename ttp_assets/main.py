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

DEFAULT_START = 53312000  # pubnet, 2024-09-02; also the ledger in shared/data/lake/pubnet
DEFAULT_COUNT = 100
SUMMARY_ASSET_ORDER = ("raw_ledgers", "ledgers", "transactions", "operations", "ttp_events")


def parse_ledgers(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    a, b = int(first), int(last or first)
    if b < a:
        raise ValueError(f"ledger range {text!r} ends before it starts")
    return a, b


def default_range(settings, network, count: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    if network.name != "pubnet" or settings.source == "rpc":
        raise SystemExit("give --ledgers FIRST-LAST (or TTP_LEDGERS) for this network/source")
    from .core.sources.datalake import DataLakeSource
    from .defs.resources import ledger_source_for

    lake = ledger_source_for(settings, "lake").open(network)
    assert isinstance(lake, DataLakeSource)
    last = lake.last_available(DEFAULT_START, count)
    if last is None:
        raise SystemExit(f"ledger {DEFAULT_START} is not in {lake.description}")
    return DEFAULT_START, last


def preflight(settings, network, first: int, last: int) -> None:  # type: ignore[no-untyped-def]
    """Refuse, before anything is registered or run, a lake of another network or a range whose
    ends it does not hold (a failed run would leave red partitions and a traceback)."""
    if settings.source != "lake":
        return  # RPC's window is checked by the run itself, with its own clear error
    from .core.sources.base import MissingLedgerError
    from .core.sources.datalake import DataLakeSource
    from .defs.resources import ledger_source_for

    lake = ledger_source_for(settings, "lake").open(network)
    assert isinstance(lake, DataLakeSource)
    missing = [seq for seq in sorted({first, last}) if not lake.has_ledger(seq)]
    if missing:
        raise MissingLedgerError(
            f"ledger {missing[0]} of {first}-{last} is not in {lake.description}"
        )


def print_summary(summaries, what: str = "") -> int:  # type: ignore[no-untyped-def]
    """The rows written per asset, the checks, the errors; 0 when every run and check passed."""
    if not isinstance(summaries, list):
        summaries = [summaries]
    order = {name: i for i, name in enumerate(SUMMARY_ASSET_ORDER)}
    totals = {name: t for s in summaries for name, t in s.totals.items()}
    width = max([16, *(len(n) + 2 for n in totals)])
    title = f"{what} asset" if what else "asset"
    print(f"\n{title:<{width}}{'partitions':>11}{'rows':>12}{'bytes':>14}")
    for name in sorted(totals, key=lambda n: (order.get(n, len(order)), n)):
        p, r, b = totals[name]
        print(f"{name:<{width}}{p:>11}{r:>12}{b:>14}")
    passed = sum(s.checks_passed for s in summaries)
    failed = [name for s in summaries for name in s.checks_failed]
    total = passed + len(failed)
    if total:
        print(f"\n{what + ' ' if what else ''}checks: {passed}/{total} passed")
    else:
        print(f"\n{what + ' ' if what else ''}checks: none ran (the run failed before them)")
    for name in failed:
        print(f"  FAILED {name}")
    for s in summaries:
        for err in s.errors:
            print(f"step {err}")
    if not all(s.success for s in summaries):
        return 1
    runs = ", ".join(s.run_id for s in summaries)
    print(
        f"{'run' if len(summaries) == 1 else 'runs'} {runs} succeeded; see it with: "
        "bash scripts/dev.sh"
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledgers", help="FIRST-LAST ledger range (default: see module doc)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from .runner import ensure_home

    ensure_home()

    from .core.network import resolve_network
    from .core.redact import redact_url
    from .core.storage.location import open_location
    from .core.storage.manifest import StorageMismatchError, check_storage
    from .defs.partitions import register_ranges
    from .hints import next_step
    from .runner import execute_analytics, execute_keys, open_instance
    from .settings import (
        Settings,
        environ,
        requested_ledgers,
        save_settings,
        settings_file,
    )

    settings = Settings.from_env()
    network = resolve_network(settings.network)
    text = args.ledgers or requested_ledgers()
    try:
        first, last = parse_ledgers(text) if text else default_range(settings, network, args.count)
        preflight(settings, network, first, last)
    except Exception as exc:
        hint = next_step(settings, exc)
        if hint is None:
            raise
        print(f"error: {hint}{_saved_note()}", file=sys.stderr)
        return 1
    try:
        check_storage(
            open_location(settings.storage_uri),
            network.name,
            network.passphrase,
            settings.partition_width,
        )
    except StorageMismatchError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    # What this run uses is what the UI, its daemon, the CLI and the gateway use from now on.
    saved = settings_file()
    if saved is not None:
        save_settings(environ(), saved)
    instance = open_instance()
    keys = register_ranges(instance, first, last, settings.partition_width)
    source = settings.lake_uri if "lake" in settings.source else redact_url(settings.rpc_url)
    print(
        f"network {network.name}; source {settings.source} ({source}); ledgers {first}-{last} "
        f"in {len(keys)} partition(s) of {settings.partition_width}; "
        f"storage {settings.storage_uri}",
        flush=True,
    )
    # Exactly the ledgers asked for: partitions at the edges hold the part of their range that
    # was requested (stored incomplete, with their coverage), so a lake starting or ending
    # inside a partition is no obstacle.
    code = print_summary(execute_keys(instance, settings, keys, through=last, start=first))
    if code == 0:
        code = print_summary(execute_analytics(instance, settings, keys), "analytics")
    if saved is not None:
        print(f"settings saved in {_shown(saved)}: the UI, the CLI and the gateway use them")
    return code or serve_back(settings.storage_uri)


def _saved_note() -> str:
    """Which of the settings in force came from the saved file, not the environment."""
    from .settings import saved_in_force

    path, from_file = saved_in_force()
    if path is None or not from_file:
        return ""
    return f" (also in force, saved in {_shown(path)}: {', '.join(from_file)})"


def _shown(path) -> str:  # type: ignore[no-untyped-def]
    try:
        return str(path.resolve().relative_to(os.getcwd()))
    except ValueError:
        return str(path)


def serve_back(storage_uri: str) -> int:
    """Serve what was written over Arrow Flight on loopback and read it back (one line)."""
    from flight_gateway.demo import probe

    try:
        print(probe(storage_uri), flush=True)
    except Exception as exc:
        print(f"flight gateway: FAILED to serve the written storage: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
