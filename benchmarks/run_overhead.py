"""Fixed cost of a Dagster run and of each partition, on the real testnet ledgers.

    .venv/bin/python benchmarks/run_overhead.py [--repeat N] [--registered K] [--json out.json]

Measured on ../shared/data/lake/testnet-2022 (160 small ledgers 1410048-1410207), with temporary
storage and a temporary DAGSTER_HOME holding the project's own dagster.yaml (SQLite instance):

  import    ``import ttp_assets.definitions`` in a fresh process (best of N), and what dominates
            it (``python -X importtime``, self time summed by top-level package)
  cli       the CLI in a fresh process and a fresh DAGSTER_HOME, ``cli backfill`` of one
            32-ledger partition: one small run end to end (interpreter, imports, creating the
            instance's databases, the run)
  run       one run of the whole asset graph (3 asset steps, 6 check steps) for ONE partition
            inside a warm process, with 32 ledgers and with 1 ledger (best of N each): the
            difference gives the per-ledger compute, the rest is the fixed cost of a run.
            "native" is the time inside the native ledger core (``LedgerCore.process``).
  ranged    the same 160 ledgers as 1 partition (width 256, the run stopping at ledger 1410207)
            and as 10 partitions of 16 (TTP_PARTITION_WIDTH=16, a full ranged run of
            MAX_PARTITIONS_PER_RUN): the difference over 9 is the marginal cost of a partition.
            (1410048 is a multiple of 16 and 256, not of 10: ranges are aligned.)

CPU is user + system time of the whole process, every thread (the native core runs on all
cores); "events" counts what the run stored in the instance's event log. Bytecode caching is on
in the child processes (PYTHONDONTWRITEBYTECODE is dropped), as in an installed deployment.

``--registered K`` first registers K earlier partitions, as a deployment has (all of pubnet at
the default width is ~64,000): Dagster reads every registered key of the dynamic partitions
whenever it resolves a range of more than one key, so ranged runs grow with K; single-partition
runs do not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIRST, LAST = 1410048, 1410207  # the 160 ledgers of lake/testnet-2022
SMALL_WIDTH = 32  # one partition: 1410048-1410079


def lake() -> Path:
    root = Path(os.environ.get("TTP_SHARED_DATA", REPO.parent / "shared" / "data"))
    path = root / "lake" / "testnet-2022"
    if not (path / ".config.json").is_file():
        raise SystemExit(f"lake not found at {path} (set TTP_SHARED_DATA)")
    return path


def dagster_home(tmp: Path) -> Path:
    """A fresh DAGSTER_HOME with the project's dagster.yaml, its folders moved under ``tmp``."""
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    text = (REPO / "dagster.yaml").read_text().replace(".dagster_home", str(home))
    (home / "dagster.yaml").write_text(text)
    return home


def base_env(tmp: Path, width: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **env,
        "DAGSTER_HOME": str(dagster_home(tmp)),
        "TTP_NETWORK": "testnet",
        "TTP_SOURCE": "lake",
        "TTP_LAKE_URI": str(lake()),
        "TTP_STORAGE_URI": str(tmp / "data"),
        "TTP_PARTITION_WIDTH": str(width),
        "TTP_SPOOL_DIR": str(tmp / "spool"),
        "PYTHONWARNINGS": "ignore",
        "PYTHONPATH": str(REPO),  # this tree's ttp_assets, whatever the venv has installed
    }


def run_process(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


# -- in the child processes -----------------------------------------------------------------------
def child_import() -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    import ttp_assets.definitions  # noqa: F401

    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}))


def child_runs(repeat: int, registered: int) -> None:
    """Runs of the whole graph in one process; prints one JSON line per case."""
    import dagster as dg

    import ttp_assets.core.native as native
    from ttp_assets.defs.partitions import register_ranges
    from ttp_assets.runner import execute_keys
    from ttp_assets.settings import Settings

    native_s = [0.0]
    process = native.LedgerCore.process

    def timed_process(self, *a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return process(self, *a, **k)
        finally:
            native_s[0] += time.perf_counter() - t

    native.LedgerCore.process = timed_process  # type: ignore[method-assign]
    instance = dg.DagsterInstance.get()
    if registered:
        register_ranges(instance, FIRST - 16 * registered, FIRST - 1, 16)
    root = Path(os.environ["TTP_STORAGE_URI"])
    n = [0]

    def one(width: int, first: int, last: int) -> dict[str, float]:
        n[0] += 1
        settings = Settings.from_env(
            {**os.environ, "TTP_PARTITION_WIDTH": str(width), "TTP_STORAGE_URI": f"{root}/{n[0]}"}
        )
        keys = register_ranges(instance, first, last, width)
        native_s[0] = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        s = execute_keys(instance, settings, keys, through=last, log_level="WARNING")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if not s.success or s.checks_failed or s.checks_passed != 6:
            raise SystemExit(f"run failed: {s.errors} {s.checks_failed}")
        events = len(instance.all_logs(s.run_id))
        return {"wall": wall, "cpu": cpu, "native": native_s[0], "events": events}

    def best(case: str, width: int, first: int, last: int, times: int) -> None:
        runs = [one(width, first, last) for _ in range(times)]
        print(json.dumps({"case": case, **min(runs, key=lambda r: r["cpu"])}), flush=True)

    # The first run of the process also pays one-off costs (lazy imports, caches): with
    # --repeat 2 or more, the best of the first case is a warm run.
    small_last = FIRST + SMALL_WIDTH - 1
    best("1 partition of 32 ledgers", SMALL_WIDTH, FIRST, small_last, repeat)
    best("1 partition of 1 ledger", SMALL_WIDTH, FIRST, FIRST, repeat)
    best("160 ledgers in 1 partition", 256, FIRST, LAST, 1)
    best("160 ledgers in 10 partitions of 16", 16, FIRST, LAST, 1)


# -- the table ------------------------------------------------------------------------------------
def import_profile(env: dict[str, str]) -> list[tuple[str, float]]:
    """Self time of ``import ttp_assets.definitions`` per top-level package, ms, largest first."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ttp_assets.definitions"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    by_pkg: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            by_pkg[m.group(4).split(".")[0]] += int(m.group(1)) / 1000
    return sorted(by_pkg.items(), key=lambda kv: -kv[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2, help="runs per case (the best is kept)")
    ap.add_argument(
        "--registered", type=int, default=0, help="earlier partitions to register first"
    )
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--child", choices=["import", "runs"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "import":
        child_import()
        return 0
    if args.child == "runs":
        child_runs(args.repeat, args.registered)
        return 0

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="ttp-overhead-") as tmp_s:
        tmp = Path(tmp_s)
        env = base_env(tmp / "import", SMALL_WIDTH)
        imports = []
        for _ in range(args.repeat):
            wall, cpu, stdout = run_process([sys.executable, __file__, "--child", "import"], env)
            inner = json.loads(stdout.strip().splitlines()[-1])
            imports.append({"process_wall": wall, "process_cpu": cpu, **inner})
        imp = min(imports, key=lambda r: r["cpu"])
        profile = import_profile(env)
        total_ms = sum(ms for _, ms in profile)
        out["import"] = {**imp, "by_package_ms": dict(profile)}
        print(f"\nimport ttp_assets.definitions, fresh process (best of {len(imports)})")
        print(f"  the import: {imp['wall']:.2f} s wall, {imp['cpu']:.2f} s CPU")
        print(
            f"  the process (python -c 'import ttp_assets.definitions'): "
            f"{imp['process_wall']:.2f} s wall, {imp['process_cpu']:.2f} s CPU"
        )
        print(f"  -X importtime, self time by package (total {total_ms:.0f} ms):")
        for pkg, ms in profile[:8]:
            print(f"    {pkg:<22}{ms:7.0f} ms {100 * ms / total_ms:5.1f}%")

        env = base_env(tmp / "cli", SMALL_WIDTH)
        cli = [sys.executable, "-m", "ttp_assets.cli", "backfill", str(FIRST), str(FIRST + 31)]
        wall, cpu, _ = run_process(cli, env)
        out["cli"] = {"wall": wall, "cpu": cpu}
        print("\nCLI in a fresh process: backfill of 1 partition of 32 ledgers (1 run)")
        print(f"  {wall:.2f} s wall, {cpu:.2f} s CPU")

        env = base_env(tmp / "runs", SMALL_WIDTH)
        _, _, stdout = run_process(
            [
                sys.executable,
                __file__,
                "--child",
                "runs",
                "--repeat",
                str(args.repeat),
                "--registered",
                str(args.registered),
            ],
            env,
        )
        cases = {r["case"]: r for r in map(json.loads, stdout.strip().splitlines())}
        out["runs"] = cases
        print(
            f"\nruns of the whole asset graph (3 assets, 6 checks), best of {args.repeat} "
            f"(ranged: once), {args.registered} earlier partitions registered"
        )
        print(f"  {'case':<54}{'wall s':>8}{'CPU s':>8}{'native s':>10}{'events':>8}")
        for name, r in cases.items():
            print(
                f"  {name:<54}{r['wall']:>8.2f}{r['cpu']:>8.2f}{r['native']:>10.3f}"
                f"{r['events']:>8d}"
            )
        one = cases["1 partition of 1 ledger"]
        small = cases["1 partition of 32 ledgers"]
        big = cases["160 ledgers in 1 partition"]
        split = cases["160 ledgers in 10 partitions of 16"]
        # Per ledger: 1 vs 160 ledgers in one partition (the widest difference, least noise).
        per_ledger = max(0.0, (big["cpu"] - one["cpu"]) / 159)
        fixed = one["cpu"] - per_ledger
        per_part_cpu = (split["cpu"] - big["cpu"]) / 9
        per_part_wall = (split["wall"] - big["wall"]) / 9
        out["derived"] = {
            "fixed_cpu_per_run": fixed,
            "cpu_per_ledger": per_ledger,
            "native_cpu_per_ledger": big["native"] / 160,
            "cpu_per_partition": per_part_cpu,
            "wall_per_partition": per_part_wall,
        }
        print(
            f"\n  one run, one small partition (32 ledgers): {small['cpu']:.2f} s CPU; fixed cost "
            f"of a run {fixed:.2f} s CPU (the 1-ledger run less one ledger); per-ledger compute "
            f"{1000 * per_ledger:.1f} ms CPU/ledger (1 vs 160 ledgers; in the native core "
            f"{1000 * big['native'] / 160:.1f} ms/ledger)"
        )
        print(
            f"  marginal cost of a partition in a ranged run: {per_part_cpu:.3f} s CPU, "
            f"{per_part_wall:.3f} s wall (10 partitions vs 1, same 160 ledgers)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
