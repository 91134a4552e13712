"""Repairs that repair and storage that cannot mix (issue: hardening, cases 1-5 and 10).

Each case is reproduced the way an unlucky operator meets it (a backfill killed with SIGKILL in
the middle of a run, a width changed on existing storage, two networks pointed at one storage,
a full disk, two processes on a brand-new instance, an RPC URL carrying a key) and ends either
with data equal to a clean run or with a clean refusal that says what to do.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from stellar_sdk import xdr

from ttp_assets.core.storage.catalog import TABLE_FORMATS, open_store
from ttp_assets.core.storage.completeness import partition_states
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.manifest import MANIFEST, read_manifest
from ttp_assets.runner import HOST_TAG, PID_TAG, mark_interrupted_runs
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TESTNET_FIRST,
    TESTNET_LAST,
    check_results,
    copy_lake,
    failure_messages,
    materialize,
    run_checks_only,
    stored_table,
)
from ttp_assets_tests.shared_data import REPO_ROOT, lake_dir

FIRST, LAST = str(TESTNET_FIRST), str(TESTNET_LAST)


def _env(home: Path, storage: Path, width: int = 32, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "TTP_NETWORK": "testnet",
        "TTP_LAKE_URI": str(lake_dir("testnet-2022")),
        "TTP_STORAGE_URI": str(storage),
        "TTP_PARTITION_WIDTH": str(width),
        **extra,
    }


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ttp_assets.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The testnet lake backfilled once, without incident: what any repair must equal."""
    root = tmp_path_factory.mktemp("clean")
    done = _cli(_env(root / "home", root / "data"), "backfill", FIRST, LAST)
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "data"


def _same_tables(a: Path, b: Path) -> None:
    for table in TABLE_FORMATS:
        left, right = stored_table(a, table), stored_table(b, table)
        assert left.num_rows == right.num_rows > 0, table
        assert left.equals(right), table


def test_a_killed_backfill_is_repaired_by_a_plain_rerun(tmp_path: Path, clean_run: Path) -> None:
    """Case 1: kill -9 after the first run; whatever it interrupted, a plain re-run completes
    every partition (equal to a clean run) and closes the killed run as failed."""
    env = _env(tmp_path / "home", tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttp_assets.cli", "backfill", FIRST, LAST, "--per-run", "2"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # blocks until the CLI reports its first run done
        if ": ok (run " in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    started = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    keys = [f"00014{n:05d}-00014{n + 31:05d}" for n in range(10048, 10208, 32)]
    states = partition_states(open_location(str(tmp_path / "data")), keys)
    assert [s.complete for s in states.values()] == [True, True, False, False, False]

    again = _cli(env, "backfill", FIRST, LAST, "--per-run", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 already complete; materializing 3" in again.stdout
    for run in started:
        closed = instance.get_run_by_id(run.run_id)
        assert closed is not None and closed.status == dg.DagsterRunStatus.FAILURE
    _same_tables(tmp_path / "data", clean_run)
    third = _cli(env, "backfill", FIRST, LAST)
    assert "5 already complete; materializing 0" in third.stdout


@dg.op
def _noop() -> None:
    pass


@dg.job
def _a_job() -> None:
    _noop()


def test_a_run_whose_process_died_is_marked_failed(tmp_path: Path) -> None:
    """What a SIGKILLed process leaves: a STARTED run of a process that is gone."""
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = os.uname().nodename
    dead = instance.create_run_for_job(
        _a_job,
        status=dg.DagsterRunStatus.STARTED,
        tags={PID_TAG: str(gone.pid), HOST_TAG: host},
    )
    alive = instance.create_run_for_job(
        _a_job,
        status=dg.DagsterRunStatus.STARTED,
        tags={PID_TAG: str(os.getppid()), HOST_TAG: host},
    )
    assert mark_interrupted_runs(instance) == [dead.run_id]
    closed = instance.get_run_by_id(dead.run_id)
    assert closed is not None and closed.status == dg.DagsterRunStatus.FAILURE
    still = instance.get_run_by_id(alive.run_id)
    assert still is not None and still.status == dg.DagsterRunStatus.STARTED


def _tamper_fee_balance(lake: Path, ledger: int) -> None:
    """Add 1 stroop to the fee account's balance before the fee, in the first transaction's
    meta of ``ledger``: meta is not covered by the header's hashes, so the ledger ingests, and
    the balance reconciliation (a blocking check) must catch it."""
    name = f"{0xFFFFFFFF - ledger:08X}--{ledger}.xdr.zst"
    (path,) = lake.rglob(name)
    raw = pa.CompressedInputStream(pa.BufferReader(path.read_bytes()), "zstd").read()
    lcm = xdr.LedgerCloseMeta.from_xdr_bytes(raw[12:])
    change = lcm.v0.tx_processing[0].fee_processing.ledger_entry_changes[0]
    assert change.type == xdr.LedgerEntryChangeType.LEDGER_ENTRY_STATE
    change.state.data.account.balance = xdr.Int64(change.state.data.account.balance.int64 + 1)
    path.write_bytes(pa.compress(raw[:12] + lcm.to_xdr_bytes(), "zstd", asbytes=True))


def test_a_partition_whose_check_failed_is_not_complete(tmp_path: Path, clean_run: Path) -> None:
    """Completeness includes the blocking checks: a partition stored whole by a run whose
    reconciliation failed is rebuilt by the next plain run, not skipped."""
    lake = copy_lake(lake_dir("testnet-2022"), tmp_path / "lake")
    original = {p: p.read_bytes() for p in lake.rglob("*.xdr.zst")}
    _tamper_fee_balance(lake, TESTNET_FIRST + 2)
    env = _env(tmp_path / "home", tmp_path / "data", TTP_LAKE_URI=str(lake))
    last = str(TESTNET_FIRST + 31)
    failed = _cli(env, "backfill", FIRST, last)
    assert failed.returncode == 1 and "ttp_events.ttp_events_reconcile" in failed.stdout
    status = _cli(env, "status", FIRST, last)
    assert "0 of 1 partition(s)" in status.stdout, status.stdout
    assert "check ttp_events_reconcile failed in run" in status.stdout
    for path, data in original.items():  # the lake is fixed
        path.write_bytes(data)
    again = _cli(env, "backfill", FIRST, last)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 already complete; materializing 1" in again.stdout
    assert "1 of 1 partition(s)" in _cli(env, "status", FIRST, last).stdout


def test_changing_the_width_on_existing_storage_is_refused(tmp_path: Path) -> None:
    """Case 2: width 16 after width 32 over the same ledgers would store every event twice."""
    home, data = tmp_path / "home", tmp_path / "data"
    assert _cli(_env(home, data), "backfill", FIRST, str(TESTNET_FIRST + 63)).returncode == 0
    refused = _cli(_env(home, data, width=16), "backfill", FIRST, str(TESTNET_FIRST + 63))
    assert refused.returncode == 2
    assert "is partitioned in ranges of 32 ledgers, this run uses 16" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert {len(k) for k in open_store(open_location(str(data)), "ttp_events").committed_keys()}
    keys = open_store(open_location(str(data)), "raw_ledgers").committed_keys()
    assert keys == ["0001410048-0001410079", "0001410080-0001410111"]
    # The way out that the README documents: remove everything, then backfill at the new width.
    removed = _cli(_env(home, data, width=16), "remove", "0", "4294967295")
    assert "the storage is empty" in removed.stdout
    assert not (data / MANIFEST).exists()
    again = _cli(_env(home, data, width=16), "backfill", FIRST, str(TESTNET_FIRST + 63))
    assert again.returncode == 0, again.stdout + again.stderr
    manifest = read_manifest(open_location(str(data)))
    assert manifest is not None and manifest.partition_width == 16
    assert len(open_store(open_location(str(data)), "raw_ledgers").committed_keys()) == 4


def test_another_network_is_refused(tmp_path: Path) -> None:
    """Case 3: a pubnet run into testnet storage never lands in the same tables."""
    home, data = tmp_path / "home", tmp_path / "data"
    assert _cli(_env(home, data), "backfill", FIRST, str(TESTNET_FIRST + 31)).returncode == 0
    env = _env(home, data, TTP_NETWORK="pubnet", TTP_LAKE_URI=str(lake_dir("pubnet")))
    refused = _cli(env, "backfill", "53312000", "53312000")
    assert refused.returncode == 2
    assert "holds testnet ledgers" in refused.stderr and "configured for pubnet" in refused.stderr
    main = subprocess.run(
        [sys.executable, "-m", "ttp_assets.main", "--ledgers", "53312000-53312000"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert main.returncode == 2 and "holds testnet ledgers" in main.stderr
    assert open_store(open_location(str(data)), "raw_ledgers").committed_keys() == [
        "0001410048-0001410079"
    ]


def test_an_overlapping_partition_is_refused_at_write_and_found_on_disk(tmp_path: Path) -> None:
    """A key of another width reaching the IO managers (registered by hand, say) is refused
    before anything is written; an overlap already on disk fails the contiguity check."""
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "data"),
        partition_width=32,
    )
    assert materialize(settings, TESTNET_FIRST, TESTNET_FIRST + 31).success
    narrow = Settings(**{**settings.__dict__, "partition_width": 16})
    result = materialize(narrow, TESTNET_FIRST, TESTNET_FIRST + 15)
    assert not result.success
    assert any("is partitioned in ranges of 32 ledgers" in m for m in failure_messages(result))
    # Put an overlapping partition on disk behind the platform's back, as old storage may have.
    raw = open_store(open_location(settings.storage_uri), "raw_ledgers")
    rows = pa.Table.from_batches(list(raw.batches("0001410048-0001410079")))
    first16 = rows.filter(pa.compute.less_equal(rows.column("ledger_sequence"), TESTNET_FIRST + 15))
    meta = {**raw.file_metadata("0001410048-0001410079"), "ttp.last_ledger": "1410063"}
    raw.write("0001410048-0001410063", first16.to_batches(), meta)  # type: ignore[attr-defined]
    checks = run_checks_only(settings, ["0001410048-0001410079"], "raw_ledgers")
    assert check_results(checks)["raw_ledgers_contiguous"] is False


@pytest.fixture
def small_disk(tmp_path: Path, clean_run: Path):  # type: ignore[no-untyped-def]
    """A filesystem (tmpfs) with room for about half of what the backfill writes, so that a write
    runs out of space for real, part-way through."""
    mount = tmp_path / "small"
    mount.mkdir()
    needed = sum(p.stat().st_size for p in clean_run.rglob("*") if p.is_file())
    size_kib = max(64, needed // 2 // 4096 * 4)  # whole 4 KiB pages
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_named_and_a_rerun_repairs_what_it_left_short(
    tmp_path: Path, small_disk: Path, clean_run: Path
) -> None:
    """Cases 4 and 1: the disk fills in the middle of a backfill. The error says what was
    being written and where; nothing is half-written; after space is freed, a plain re-run
    completes exactly the partitions the failure left short."""
    env = _env(tmp_path / "home", small_disk / "data")
    result = _cli(env, "backfill", FIRST, LAST)
    assert result.returncode == 1
    out = result.stdout
    assert "No space left on device" in out
    assert "cannot write " in out and " partition 00014" in out and str(small_disk) in out
    assert "nothing of it was committed" in out
    leftovers = [p for p in small_disk.rglob("*") if "_staging" in p.parts and p.is_file()]
    assert leftovers == []
    keys = [f"00014{n:05d}-00014{n + 31:05d}" for n in range(10048, 10208, 32)]
    short = [s for s in partition_states(open_location(str(small_disk / "data")), keys).values()]
    assert not all(s.complete for s in short)
    assert any(s.gaps and len(s.gaps) < len(TABLE_FORMATS) for s in short), "some tables written"
    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    again = _cli(env, "backfill", FIRST, LAST)
    assert again.returncode == 0, again.stdout + again.stderr
    _same_tables(small_disk / "data", clean_run)


def test_processes_on_a_brand_new_instance_do_not_race(tmp_path: Path) -> None:
    """Case 5: two commands creating the same fresh instance at once both succeed."""
    env = _env(tmp_path / "home", tmp_path / "data")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ttp_assets.cli", "register", FIRST, LAST],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "registered 5 partition(s)" in out


def test_an_rpc_url_with_a_key_is_never_printed(tmp_path: Path) -> None:
    """Case 10: the main job and the RPC errors show the endpoint without its secrets."""
    secret = "k3y-5ecret-123"
    env = _env(
        tmp_path / "home",
        tmp_path / "data",
        TTP_SOURCE="rpc",
        TTP_RPC_URL=f"http://user:{secret}@127.0.0.1:9/v1/{secret}?apikey={secret}",
        TTP_SOURCE_RETRY_ATTEMPTS="1",
        TTP_RPC_TIMEOUT_S="1",
    )
    main = subprocess.run(
        [sys.executable, "-m", "ttp_assets.main", "--ledgers", f"{FIRST}-{FIRST}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert main.returncode != 0  # nothing listens on port 9
    assert "http://127.0.0.1:9/…" in main.stdout
    assert secret not in main.stdout + main.stderr
    shutil.rmtree(tmp_path / "home", ignore_errors=True)
