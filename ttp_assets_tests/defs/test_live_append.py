"""The live tail at today's pubnet scale: a local RPC server serves the real `pubnet-p26` ledgers
(~1 MB of XDR each) one per tick, and every tick adds only its new ledgers' rows to storage.

Bytes are measured on the disk (every file created or replaced during the tick), not timed: an
open partition takes a new segment (Parquet) or a new data file (Delta) per tick and is
compacted once, by the tick that completes it. The stored rows then equal a one-shot backfill.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ttp_assets.core.storage.catalog import TABLE_FORMATS, open_store
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.parquet_store import ParquetPartitionStore
from ttp_assets.definitions import build_definitions
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import all_checks_passed, materialize, stored_table
from ttp_assets_tests.live_harness import LiveDriver, written_since
from ttp_assets_tests.rpc_server import RpcTestServer
from ttp_assets_tests.shared_data import lake_dir

FIRST, LAST = 63092982, 63092991  # the ledgers of lake/pubnet-p26
WIDTH = 6  # 63092982 is a multiple of 6: partitions 982-987 (closed by the tail) and 988-993
CLOSED, OPEN = "0063092982-0063092987", "0063092988-0063092993"
# What a tick writes besides its rows: manifests, coverage records, Delta log entries (and a
# checkpoint every 10 commits), the analytics partials of the open partition and the day's
# rollups, which are re-aggregated (small tables) on every tick.
FIXED_BYTES = 512 << 10


@pytest.fixture
def rpc() -> Iterator[RpcTestServer]:
    with RpcTestServer.from_lake("pubnet-p26") as server:
        yield server


def test_each_tick_writes_only_its_new_ledgers(rpc: RpcTestServer, tmp_path: Path) -> None:
    storage = tmp_path / "store"
    settings = Settings(
        network="pubnet",
        source="rpc",
        rpc_url=rpc.url,
        storage_uri=str(storage),
        partition_width=WIDTH,
        source_retry_attempts=1,
        live_start_ledger=FIRST,
    )
    driver = LiveDriver(build_definitions(settings))
    location = open_location(str(storage))
    raw = open_store(location, "raw_ledgers")
    assert isinstance(raw, ParquetPartitionStore)
    ticks = []
    checked: dict[int, dict[str, object]] = {}
    for tip in range(FIRST, LAST + 1):
        rpc.advance_to(tip)
        # The file system's clock (mtimes) may lag time.time_ns() by a tick of its own.
        since = time.time_ns() - 50_000_000
        tick = driver.tick()
        assert [r.success for r in tick.runs] == [True], tick.skipped
        assert all_checks_passed(tick.runs[0])
        xdr = len(rpc.lcm(tip))
        ticks.append((tip, xdr, written_since(storage, since)))
        checked[tip] = {
            e.check_name: e.metadata["checked"].value
            for e in tick.runs[0].get_asset_check_evaluations()
        }

    for tip, xdr, written in ticks:
        if tip in (FIRST, FIRST + WIDTH - 1):
            continue  # the first tick creates every table; the sixth compacts the partition
        # The raw table grows by the new ledger's row: its XDR compressed, a footer, a
        # manifest. Rewriting the open partition would write every ledger stored before.
        assert written["raw_ledgers"] < 0.3 * xdr, (tip, written)
        assert sum(written.values()) < 2 * xdr + FIXED_BYTES, (tip, written)

    # Appending to the open partition costs the same at its fourth ledger as at its second
    # (rewriting it would cost 3x); and per byte of XDR, the same as in the first partition.
    second, *_, fourth = [sum(w.values()) / xdr for tip, xdr, w in ticks if tip > FIRST + WIDTH]
    assert fourth < 1.5 * second, ticks

    # Checks read the ledgers a tick appended (from its base on) once the stored ones passed;
    # the first write and the closing compaction are checked whole. Contiguity and the hash
    # chain always read the whole partition (two small columns).
    scoped = ("raw_ledgers_header_hashes", "ttp_events_fee_totals", "ledgers_fee_pool")
    for tip, by_check in checked.items():
        start = FIRST if tip < FIRST + WIDTH else FIRST + WIDTH
        whole = tip - start + 1
        first_or_closing = tip in (start, FIRST + WIDTH - 1)
        assert by_check["raw_ledgers_contiguous"] == whole, (tip, by_check)
        assert by_check["raw_ledgers_header_hashes"] == (whole if first_or_closing else 2)
        assert by_check["ttp_events_fee_totals"] == (whole if first_or_closing else 2)
        assert set(scoped) <= set(by_check)

    # The tick that completed 982-987 compacted it into one file with all six ledgers: it wrote
    # the partition's rows once more. The next partition is open, a segment per tick.
    closing = next(w for tip, _, w in ticks if tip == FIRST + WIDTH - 1)
    appended = sum(w["raw_ledgers"] for tip, _, w in ticks if tip < FIRST + WIDTH - 1)
    assert closing["raw_ledgers"] > appended
    assert raw.files(CLOSED) == [f"{CLOSED}.parquet"]
    assert raw.manifest(CLOSED) is None
    assert pq.ParquetFile(raw.path(CLOSED)).metadata.num_rows == WIDTH
    assert len(raw.files(OPEN)) == LAST - (FIRST + WIDTH) + 1
    events = open_store(location, "ttp_events")
    assert events.file_metadata(OPEN)["ttp.complete"] == "false"

    # The same rows as materializing the lake at once, raw XDR included.
    once = tmp_path / "once"
    lake = Settings(
        network="pubnet",
        lake_uri=str(lake_dir("pubnet-p26")),
        storage_uri=str(once),
        partition_width=WIDTH,
    )
    assert materialize(lake, FIRST, LAST, through=LAST).success
    for name in TABLE_FORMATS:
        assert stored_table(storage, name).equals(stored_table(once, name)), name
