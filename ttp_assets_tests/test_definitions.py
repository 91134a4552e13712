"""The Definitions load (as ``dagster dev`` loads them) and the asset graph does not drift.

The snapshot in ``snapshots/asset_graph.json`` records every asset's key, group, deps, partitions
and backfill policy and every check; an intended change is recorded by running the tests with
``TTP_UPDATE_SNAPSHOTS=1`` and reviewing the diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg

from ttp_assets.definitions import defs
from ttp_assets.runner import default_home
from ttp_assets_tests.shared_data import REPO_ROOT

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def graph_snapshot(d: dg.Definitions) -> dict:
    graph = d.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitions": getattr(node.partitions_def, "name", None),
            "backfill_policy": str(node.backfill_policy.policy_type)
            if node.backfill_policy
            else None,
            "max_partitions_per_run": node.backfill_policy.max_partitions_per_run
            if node.backfill_policy
            else None,
            "kinds": sorted(node.kinds),
            "io_manager": d.resolve_assets_def(key).get_io_manager_key_for_asset_key(key),
            "columns": [c.name for c in node.metadata["dagster/column_schema"].columns]
            if "dagster/column_schema" in node.metadata
            else None,
        }
    checks = {}
    for ck in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(ck)
        checks[f"{ck.asset_key.to_user_string()}.{ck.name}"] = {
            "blocking": spec.blocking,
            "partitioned": spec.partitions_def is not None,
        }
    jobs = sorted(j.name for j in d.resolve_all_job_defs() if not j.name.startswith("__"))
    return {"assets": assets, "checks": checks, "jobs": jobs}


def test_asset_graph_matches_snapshot() -> None:
    current = graph_snapshot(defs)
    if os.environ.get("TTP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(SNAPSHOT.read_text())
    assert current == recorded, "asset graph changed; if intended, TTP_UPDATE_SNAPSHOTS=1"


# Checks about a whole table rather than a partition's data: never blocking, own job.
TABLE_CHECKS = {"ttp_events.ttp_events_freshness"}
# The analytics rollups report each hour and day once, whichever ledger ranges it spans: they
# are the only assets (and their checks the only checks) not partitioned by ledger range.
ROLLUP_ASSETS = {"asset_activity", "network_activity", "network_operations"}


def test_every_check_is_blocking_and_partitioned() -> None:
    snap = graph_snapshot(defs)
    assert snap["checks"], "no checks defined"
    assert snap["checks"].keys() >= TABLE_CHECKS
    for name, check in snap["checks"].items():
        asset = name.rsplit(".", 1)[0]
        want = {
            "blocking": name not in TABLE_CHECKS,
            "partitioned": asset not in ROLLUP_ASSETS and name not in TABLE_CHECKS,
        }
        assert check == want, name
    for name, asset in snap["assets"].items():
        want = None if name in ROLLUP_ASSETS else "ledger_ranges"
        assert asset["partitions"] == want, name
    assert set(snap["assets"]) >= ROLLUP_ASSETS


def test_dagster_loads_the_workspace(tmp_path: Path) -> None:
    """What ``dagster dev`` does first: load workspace.yaml with the project's instance."""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr


def test_the_local_instance_lives_in_its_own_folder_without_telemetry_or_popup(
    tmp_path: Path,
) -> None:
    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    home = default_home(tmp_path)
    assert home == tmp_path / ".dagster_home"
    assert (home / "dagster.yaml").resolve() == (tmp_path / "dagster.yaml").resolve()
    instance = dg.DagsterInstance.from_config(str(home))
    assert not instance.nux_enabled and not instance.telemetry_enabled
    instance.get_runs(limit=1)  # creates its storage
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dagster_home", "dagster.yaml"]
    assert (home / "history").is_dir()  # Dagster's SQLite run and event storage
    assert default_home(tmp_path) == home  # idempotent
