"""Operate ledger-range partitions from the command line (the UI can do the same).

python -m ttp_assets.cli register FIRST LAST
    Register the partitions covering FIRST..LAST (idempotent, in ascending order). Then
    backfill them from the Dagster UI: Assets -> select all -> Materialize -> pick the
    partition range -> Launch backfill (ranged runs of up to 10 partitions each).

python -m ttp_assets.cli backfill FIRST LAST [--per-run N] [--force]
    Register and materialize FIRST..LAST here, without the daemon, in ranged runs of N
    partitions. Partitions already complete are skipped unless --force; complete means every
    table stores all of the partition's ledgers and the run that last materialized it had no
    failed check (``defs.completeness``), so a plain re-run repairs whatever a killed or failed
    run left short. Each run is recorded in the instance like any other.

python -m ttp_assets.cli remove FIRST LAST [--width W]
    Remove the partitions overlapping FIRST..LAST (only those W ledgers wide, with --width):
    their data in every table and their registration. Removing everything also forgets the
    storage's network and width (see README, "Changing the partition width").

python -m ttp_assets.cli status [FIRST LAST]
    What storage holds per table; with a range, which of its partitions are complete and why
    the others are not.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("register", "backfill", "remove", "status"):
        p = sub.add_parser(name)
        p.add_argument("first", type=int, nargs="?" if name == "status" else None)
        p.add_argument("last", type=int, nargs="?" if name == "status" else None)
        if name == "backfill":
            from .defs.partitions import MAX_PARTITIONS_PER_RUN

            p.add_argument("--per-run", type=int, default=MAX_PARTITIONS_PER_RUN)
            p.add_argument("--force", action="store_true")
        if name == "remove":
            p.add_argument("--width", type=int, help="only partitions of this many ledgers")
    args = ap.parse_args(argv)
    from .runner import ensure_home

    ensure_home()
    if args.first is not None and args.last is not None and args.last < args.first:
        raise SystemExit("LAST is before FIRST")

    from .core.network import resolve_network
    from .core.storage.location import open_location
    from .core.storage.manifest import StorageMismatchError, check_storage
    from .runner import open_instance
    from .settings import Settings

    settings = Settings.from_env()
    location = open_location(settings.storage_uri)
    network = resolve_network(settings.network)
    if args.cmd == "status":
        return status(settings, location, args.first, args.last)
    if args.cmd == "remove":
        return remove(location, args.first, args.last, args.width)
    try:
        check_storage(location, network.name, network.passphrase, settings.partition_width)
    except StorageMismatchError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    from .defs.partitions import register_ranges

    instance = open_instance()
    keys = register_ranges(instance, args.first, args.last, settings.partition_width)
    print(f"registered {len(keys)} partition(s): {keys[0]} .. {keys[-1]}")
    if args.cmd == "register":
        return 0
    return backfill(instance, settings, location, keys, args.per_run, args.force)


def backfill(instance, settings, location, keys, per_run: int, force: bool) -> int:  # type: ignore[no-untyped-def]
    from .core.ledger_ranges import parse_key
    from .defs.completeness import incomplete_reasons
    from .runner import execute_keys

    todo = keys if force else [k for k in keys if k in incomplete_reasons(instance, location, keys)]
    print(f"{len(keys) - len(todo)} already complete; materializing {len(todo)}")
    status = 0
    for i in range(0, len(todo), per_run):
        chunk = todo[i : i + per_run]
        # A run covers consecutive partitions only: split the chunk where a gap was skipped.
        runs: list[list[str]] = [[chunk[0]]]
        for k in chunk[1:]:
            prev = parse_key(runs[-1][-1])
            if parse_key(k).start == prev.end + 1:
                runs[-1].append(k)
            else:
                runs.append([k])
        for run_keys in runs:
            s = execute_keys(instance, settings, run_keys, log_level="WARNING")
            state = "ok" if s.success and not s.checks_failed else "FAILED"
            print(f"{run_keys[0]}..{run_keys[-1]}: {state} (run {s.run_id})", flush=True)
            for err in s.errors + s.checks_failed:
                print(f"  {err}")
            if state != "ok":
                status = 1
    return status


def status(settings, location, first: int | None, last: int | None) -> int:  # type: ignore[no-untyped-def]
    from .core.storage.catalog import TABLE_FORMATS, open_store
    from .core.storage.manifest import read_manifest

    manifest = read_manifest(location)
    if manifest is not None:
        print(
            f"storage {location.display()}: {manifest.network} ledgers in partitions of "
            f"{manifest.partition_width}"
        )
    for table in TABLE_FORMATS:
        store = open_store(location, table)
        stored = store.committed_keys()
        done = sum(1 for k in stored if store.file_metadata(k).get("ttp.complete") == "true")
        print(
            f"{table:<16} {len(stored)} partition(s), {done} complete, under "
            f"{location.display(table)}"
        )
    if first is not None and last is not None:
        from .core.ledger_ranges import keys_covering
        from .defs.completeness import incomplete_reasons
        from .runner import open_instance

        keys = keys_covering(first, last, settings.partition_width)
        reasons = incomplete_reasons(open_instance(), location, keys)
        print(f"{len(keys) - len(reasons)} of {len(keys)} partition(s) of {first}-{last} complete")
        for key in keys:
            if key in reasons:
                print(f"  {reasons[key]}")
    return 0


def remove(location, first: int, last: int, width: int | None) -> int:  # type: ignore[no-untyped-def]
    from .core.ledger_ranges import parse_key
    from .core.storage.catalog import TABLE_FORMATS, open_store
    from .core.storage.manifest import forget_storage
    from .defs.partitions import ledger_ranges
    from .runner import open_instance

    def chosen(key: str) -> bool:
        rng = parse_key(key)
        return rng.start <= last and first <= rng.end and (width is None or rng.width == width)

    instance = open_instance()
    registered = [k for k in instance.get_dynamic_partitions(ledger_ranges.name) if chosen(k)]
    removed = 0
    left = 0
    for store in (open_store(location, t) for t in TABLE_FORMATS):
        for key in store.committed_keys():
            if chosen(key):
                store.delete(key)
                removed += 1
            else:
                left += 1
    for key in registered:
        instance.delete_dynamic_partition(ledger_ranges.name, key)
    if left == 0:
        forget_storage(location)
    print(
        f"removed {removed} stored table partition(s) and {len(registered)} registered "
        f"partition(s) overlapping {first}-{last}"
        + ("; the storage is empty and holds no network or width any more" if left == 0 else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
