"""Operate ledger-range partitions from the command line (the UI can do the same).

python -m ttp_assets.cli register FIRST LAST
    Register the partitions covering FIRST..LAST (idempotent, in ascending order). Then
    backfill them from the Dagster UI: Assets -> select all -> Materialize -> pick the
    partition range -> Launch backfill (ranged runs of up to 10 partitions each).

python -m ttp_assets.cli backfill FIRST LAST [--per-run N] [--force]
    Register and materialize FIRST..LAST here, without the daemon, in ranged runs of N
    partitions; partitions already materialized complete in storage are skipped unless
    --force. Each run is recorded in the instance like any other.

python -m ttp_assets.cli status [FIRST LAST]
    What storage holds per asset: partitions, complete or not.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import dagster as dg


def _complete_keys(settings, table: str, among: list[str] | None = None) -> set[str]:  # type: ignore[no-untyped-def]
    """Partitions of ``table`` stored complete (of ``among`` only, when given).

    One listing of the table, then one footer read per stored partition considered: a backfill
    reads the footers of its own range, not of everything stored.
    """
    from .core.storage.catalog import open_store
    from .core.storage.location import open_location

    store = open_store(open_location(settings.storage_uri), table)
    stored = store.committed_keys()
    if among is not None:
        wanted = set(among)
        stored = [k for k in stored if k in wanted]
    return {k for k in stored if store.file_metadata(k).get("ttp.complete") == "true"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("register", "backfill", "status"):
        p = sub.add_parser(name)
        p.add_argument("first", type=int, nargs="?" if name == "status" else None)
        p.add_argument("last", type=int, nargs="?" if name == "status" else None)
        if name == "backfill":
            from .defs.partitions import MAX_PARTITIONS_PER_RUN

            p.add_argument("--per-run", type=int, default=MAX_PARTITIONS_PER_RUN)
            p.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("DAGSTER_HOME", str(Path.cwd()))

    from .core.ledger_ranges import parse_key
    from .defs.partitions import register_ranges
    from .runner import execute_keys
    from .settings import Settings

    settings = Settings.from_env()
    if args.cmd == "status":
        from .core.storage.location import open_location

        root = open_location(settings.storage_uri)
        from .core.storage.catalog import TABLE_FORMATS

        for table in TABLE_FORMATS:
            done = _complete_keys(settings, table)
            print(f"{table:<14} {len(done)} complete partition(s) under {root.display(table)}")
        return 0
    if args.last < args.first:
        raise SystemExit("LAST is before FIRST")
    instance = dg.DagsterInstance.get()
    keys = register_ranges(instance, args.first, args.last, settings.partition_width)
    print(f"registered {len(keys)} partition(s): {keys[0]} .. {keys[-1]}")
    if args.cmd == "register":
        return 0
    done = set() if args.force else _complete_keys(settings, "raw_ledgers", keys)
    todo = [k for k in keys if k not in done]
    print(f"{len(keys) - len(todo)} already complete; materializing {len(todo)}")
    status = 0
    for i in range(0, len(todo), args.per_run):
        chunk = todo[i : i + args.per_run]
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


if __name__ == "__main__":
    sys.exit(main())
