"""The Dagster UI in a real browser (issue 12, "How it is shown"): Debian's Chromium, headless,
driven by Playwright for Python, against ``dagster dev`` started here on loopback after the
quick start over the testnet lake.

1. the quick start (the main job) over the testnet lake, 32-ledger partitions; its settings are
   saved in the instance folder, so the UI started afterwards runs with them (nothing exported);
2. two more partitions registered with the CLI (``cli register``), not materialized;
3. ``dagster dev -w workspace.yaml`` (webserver and daemon) on a free loopback port;
4. the global lineage page shows the assets;
5. a backfill of the two partitions is launched from the UI (the ``ttp_all_assets`` job's
   partitions page, "Launch backfill"), and the daemon runs it;
6. the asset checks of ``ttp_events`` show passed for those partitions.

A screenshot of each page is saved in ``test-artifacts/ui/`` (gitignored). Nothing sleeps: the
test waits on the server's own start line, on page conditions and on run status, each with a
timeout. Chromium comes from ``scripts/setup_browser.sh`` (``scripts/test.sh`` calls it);
Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from playwright.sync_api import Page, expect, sync_playwright

from ttp_assets_tests.conftest import free_port
from ttp_assets_tests.harness import TEST_WIDTH, TESTNET_FIRST
from ttp_assets_tests.shared_data import REPO_ROOT, lake_dir

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
LOCATION = "ttp_assets.definitions"
# The quick start materializes the first partition; the UI backfills the next two.
QUICKSTART = (TESTNET_FIRST, TESTNET_FIRST + TEST_WIDTH - 1)
BACKFILL = [
    f"{a:010d}-{a + TEST_WIDTH - 1:010d}"
    for a in (TESTNET_FIRST + TEST_WIDTH, TESTNET_FIRST + 2 * TEST_WIDTH)
]
# Under load a run of the whole graph (one subprocess per step) takes minutes.
RUN_TIMEOUT_MS = 900_000
JOB = "ttp_all_assets"
# The blocking checks of ttp_events, run with its materializations (the freshness check runs on
# its own schedule, and fails on 2022 ledgers by design).
TTP_EVENTS_CHECKS = ("ttp_events_reconcile", "ttp_events_fee_totals")
LEDGER_ASSETS = (
    "raw_ledgers",
    "ledgers",
    "transactions",
    "operations",
    "ttp_events",
    "balance_changes",
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTP_", "DAGSTER_"))}
    return {**env, **extra}


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``dagster dev`` on loopback over an instance where the quick start ran."""
    root = tmp_path_factory.mktemp("ui")
    home = root / "home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(REPO_ROOT / "dagster.yaml")  # as scripts/dev.sh does
    out = _run(
        ["ttp_assets.main", "--ledgers", f"{QUICKSTART[0]}-{QUICKSTART[1]}"],
        _env(
            DAGSTER_HOME=str(home),
            TTP_NETWORK="testnet",
            TTP_LAKE_URI=str(lake_dir("testnet-2022")),
            TTP_STORAGE_URI=str(root / "data"),
            TTP_PARTITION_WIDTH=str(TEST_WIDTH),
        ),
    )
    assert "checks: 6/6 passed" in out
    # Only DAGSTER_HOME from here on: the saved settings (ttp.env) do the rest.
    env = _env(DAGSTER_HOME=str(home))
    _run(["ttp_assets.cli", "register", str(TESTNET_FIRST), str(TESTNET_FIRST + 95)], env)

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the webserver's start line may come on either
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            log.append(line)
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    try:
        # The webserver says when it serves; waiting for that line is the readiness check.
        deadline = time.monotonic() + 300
        while True:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line, "dagster dev exited:\n" + "".join(log[-50:])
            if f"Serving dagster-webserver on http://127.0.0.1:{port}" in line:
                break
        yield f"http://127.0.0.1:{port}", home
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        if log:
            (root / "dagster-dev.log").write_text("".join(log))


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_lineage_page_shows_the_assets(ui: tuple[str, Path], page: Page) -> None:
    base, _ = ui
    page.goto(f"{base}/asset-groups")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    # The graph opens with the groups collapsed: expand each one (its "unfold" control).
    for group in ("ledgers", "token_transfers", "analytics"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    unfold = page.locator("[aria-label=unfold_more]")
    expect(unfold).to_have_count(3)
    while unfold.count():
        unfold.first.click()
    # The graph draws only the nodes in view: zoom out until the whole graph is drawn.
    names = (*LEDGER_ASSETS, "ledger_activity", "asset_activity")
    zoom_out = page.get_by_role("button", name="zoom_out")
    for _ in range(12):
        if all(page.get_by_text(n, exact=True).count() for n in names):
            break
        zoom_out.click()
    for name in names:
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    _shot(page, "1-lineage")


def test_a_two_partition_backfill_launched_from_the_ui(ui: tuple[str, Path], page: Page) -> None:
    base, home = ui
    page.goto(f"{base}/locations/{LOCATION}/jobs/{JOB}/partitions")
    expect(page.get_by_text("Missing partitions")).to_be_visible()
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Launch runs to materialize 6 assets")).to_be_visible()
    # The two partitions the CLI registered and nothing materialized yet.
    dialog.get_by_role("button", name="Missing", exact=True).click()
    expect(dialog.get_by_text("2 partitions")).to_be_visible()
    for key in BACKFILL:
        expect(dialog).to_contain_text(key)
    _shot(page, "2-launch-backfill")
    dialog.get_by_role("button", name="Launch backfill").click()
    created = page.get_by_text(re.compile(r"Created backfill \w+"))
    expect(created).to_be_visible()
    backfill_id = created.inner_text().split()[-1]

    # The daemon runs it; the backfill's page follows it until it has completed.
    page.goto(f"{base}/runs/b/{backfill_id}?tab=runs")
    expect(page.get_by_text("2 partitions")).to_be_visible()
    expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()  # its run
    _shot(page, "3-backfill-completed")

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        backfill = instance.get_backfill(backfill_id)
        assert backfill is not None
        assert sorted(backfill.get_partition_names(instance) or []) == BACKFILL
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert runs and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        assert set(instance.get_materialized_partitions(dg.AssetKey("ttp_events"))) >= set(BACKFILL)
    finally:
        instance.dispose()


def test_the_checks_of_ttp_events_passed_for_those_partitions(
    ui: tuple[str, Path], page: Page
) -> None:
    base, home = ui
    for n, check in enumerate(TTP_EVENTS_CHECKS):
        page.goto(f"{base}/assets/ttp_events?view=checks&checkDetail={check}")
        history = page.get_by_role("tab", name="Execution history")
        history.click()
        # One evaluation per partition: the backfill's two partitions passed.
        for key in BACKFILL:
            row = page.get_by_role("row").filter(has_text=key)
            expect(row.first).to_be_visible()
            expect(row.first.get_by_text("Passed", exact=True)).to_be_visible()
        _shot(page, f"{4 + n}-{check}")

    # What the pages show is what the instance recorded: the backfill's run evaluated each
    # check on each of the two partitions, and they passed.
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        (backfill,) = instance.get_backfills()
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        run_ids = {r.run_id for r in runs}
        assert run_ids
        for check in TTP_EVENTS_CHECKS:
            key = dg.AssetCheckKey(dg.AssetKey("ttp_events"), check)
            records = instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
            passed = {
                r.event.dagster_event.asset_check_evaluation_data.partition
                for r in records
                if r.run_id in run_ids
                and r.status == AssetCheckExecutionRecordStatus.SUCCEEDED
                and r.event is not None
                and r.event.dagster_event is not None
            }
            assert passed >= set(BACKFILL), (check, passed)
    finally:
        instance.dispose()
