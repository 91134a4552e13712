"""The Delta partition store: exact replacement, atomicity under a kill, concurrency, readers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from ttp_assets.core import schemas
from ttp_assets.core.storage.delta_store import (
    CHECKPOINT_INTERVAL,
    DeltaPartitionStore,
    PartitionWrite,
)
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.maintenance import compact_delta
from ttp_assets_tests.shared_data import REPO_ROOT

K1, K2, K3 = "0000001000-0000001999", "0000002000-0000002999", "0000003000-0000003999"


def rows(n: int, ledger: int, tag: str = "a") -> pa.RecordBatch:
    """``n`` balance-change rows of one ledger, marked by ``tag`` in the holder column."""
    return pa.RecordBatch.from_pylist(
        [
            {
                "ledger_sequence": ledger,
                "closed_at": 1_700_000_000 + i,
                "transaction_hash": f"{i:064x}",
                "transaction_index": i + 1,
                "holder": f"G{tag}{i}",
                "asset": "native",
                "delta": -(2**62) + i,
            }
            for i in range(n)
        ],
        schema=schemas.BALANCE_CHANGES,
    )


def store(tmp_path: Path, table: str = "balance_changes") -> DeltaPartitionStore:
    return DeltaPartitionStore(open_location(str(tmp_path)), table, schemas.schema_for(table))


def write(
    s: DeltaPartitionStore, key: str, batches: list[pa.RecordBatch], complete: bool = True
) -> int:
    meta = {"ttp.partition_key": key, "ttp.complete": str(complete).lower()}
    return s.write([PartitionWrite(key, lambda: batches, meta)])


def test_replacing_a_partition_replaces_exactly_it(tmp_path: Path) -> None:
    s = store(tmp_path)
    write(s, K1, [rows(3, 1000)])
    write(s, K2, [rows(4, 2000)])
    v = write(s, K1, [rows(2, 1001, tag="b")])
    assert s.row_counts() == {K1: 2, K2: 4}
    got = pa.Table.from_batches(list(s.batches(K1)))
    assert got.column("holder").to_pylist() == ["Gb0", "Gb1"]
    assert got.schema.equals(schemas.BALANCE_CHANGES, check_metadata=False)
    assert s.file_metadata(K1)["ttp.delta_version"] == str(v)
    assert s.committed_keys() == [K1, K2]


def test_one_commit_replaces_all_partitions_of_a_run(tmp_path: Path) -> None:
    s = store(tmp_path)
    v0 = write(s, K1, [rows(1, 1000)])
    meta = {"ttp.complete": "true"}
    v1 = s.write(
        [
            PartitionWrite(K1, lambda: [rows(2, 1000, "x")], meta),
            PartitionWrite(K2, lambda: [rows(3, 2000, "y")], meta),
        ]
    )
    assert v1 == v0 + 1
    assert s.row_counts() == {K1: 2, K2: 3}


def test_empty_partition_is_materialized_and_empty(tmp_path: Path) -> None:
    s = store(tmp_path)
    write(s, K1, [rows(3, 1000)])
    write(s, K1, [])
    assert s.exists(K1)
    assert list(s.batches(K1)) == []
    assert s.row_counts() == {}


def test_unsigned_and_wide_values_round_trip(tmp_path: Path) -> None:
    s = store(tmp_path, "ttp_events")
    big = 2**127 - 1
    row = {
        "event_id": "x",
        "ledger_sequence": 2**32 - 1,
        "closed_at": 1_700_000_000,
        "transaction_hash": "00",
        "transaction_index": 2**32 - 1,
        "transaction_id": 1,
        "event_index": 0,
        "event_type": "mint",
        "contract_id": "C",
        "to_muxed_id": 2**64 - 1,
        "amount_raw": str(big),
        "amount": None,
        "amount_units": float(big) / 1e7,
        "derivation": "unified",
    }
    write(s, K1, [pa.RecordBatch.from_pylist([row], schema=schemas.TTP_EVENTS)])
    (back,) = pa.Table.from_batches(list(s.batches(K1))).to_pylist()
    assert back["ledger_sequence"] == 2**32 - 1 and back["to_muxed_id"] == 2**64 - 1
    assert int(back["amount_raw"]) == big
    physical = pa.schema(DeltaTable(s.uri).schema().to_arrow())
    assert physical.field("ledger_sequence").type == pa.int64()  # Delta has no uint32
    assert physical.field("to_muxed_id").type == pa.decimal128(20, 0)


def test_readable_by_deltalake_duckdb_and_polars(tmp_path: Path) -> None:
    import duckdb
    import duckdb_extensions
    import polars as pl

    s = store(tmp_path)
    write(s, K1, [rows(3, 1000)])
    write(s, K2, [rows(4, 2000)])
    plain = DeltaTable(s.uri).to_pyarrow_table()
    assert plain.num_rows == 7
    con = duckdb.connect()
    duckdb_extensions.import_extension("delta", con)
    query = f"SELECT partition_key, count(*), sum(delta) FROM delta_scan('{s.uri}') GROUP BY 1"
    got = con.sql(query + " ORDER BY 1").fetchall()
    assert [(k, n) for k, n, _ in got] == [(K1, 3), (K2, 4)]
    assert got[0][2] == sum(-(2**62) + i for i in range(3))
    df = pl.read_delta(s.uri)
    assert df.height == 7 and set(df["partition_key"].unique()) == {K1, K2}
    # Filters on string and integer columns (engines prune files by our statistics).
    one = con.sql(f"SELECT count(*) FROM delta_scan('{s.uri}') WHERE holder = 'Ga1'").fetchone()
    assert one == (2,)
    assert pl.scan_delta(s.uri).filter(pl.col("holder") == "Ga2").collect().height == 2
    dt = DeltaTable(s.uri).to_pyarrow_dataset()
    assert dt.to_table(filter=pc.field("holder") == "Ga0").num_rows == 2
    assert dt.to_table(filter=pc.field("ledger_sequence") == 2000).num_rows == 4


KILLER = textwrap.dedent(
    """
    import sys
    import pyarrow as pa
    from ttp_assets.core import schemas
    from ttp_assets.core.storage.delta_store import DeltaPartitionStore, PartitionWrite
    from ttp_assets.core.storage.location import open_location
    from ttp_assets_tests.core.test_delta_store import rows

    s = DeltaPartitionStore(open_location(sys.argv[1]), "balance_changes", schemas.BALANCE_CHANGES)

    def slow():
        for i in range(50):
            yield rows(2000, 1000, tag="new")
            if i == 10:
                print("MIDWRITE", flush=True)
                sys.stdin.readline()  # wait here until killed

    s.write([PartitionWrite(sys.argv[2], slow, {"ttp.complete": "true"})])
    """
)


def test_a_writer_killed_midway_leaves_the_previous_version(tmp_path: Path) -> None:
    s = store(tmp_path)
    version = write(s, K1, [rows(3, 1000, tag="old")])
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLER, str(tmp_path), K1],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "MIDWRITE"  # batches are being written now
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert DeltaTable(s.uri).version() == version
    got = pa.Table.from_batches(list(s.batches(K1)))
    assert got.column("holder").to_pylist() == ["Gold0", "Gold1", "Gold2"]
    write(s, K1, [rows(1, 1000, tag="after")])  # and the table is still writable
    assert s.row_counts() == {K1: 1}


CONCURRENT = textwrap.dedent(
    """
    import sys
    from ttp_assets.core import schemas
    from ttp_assets.core.storage.delta_store import DeltaPartitionStore, PartitionWrite
    from ttp_assets.core.storage.location import open_location
    from ttp_assets_tests.core.test_delta_store import rows

    s = DeltaPartitionStore(open_location(sys.argv[1]), "balance_changes", schemas.BALANCE_CHANGES)
    key, n = sys.argv[2], int(sys.argv[3])
    for i in range(8):
        batch = rows(n, 1000 + i, tag=key[:10])
        s.write([PartitionWrite(key, lambda: [batch], {"ttp.complete": "true"})])
    """
)


@pytest.mark.parametrize("same_partition", [False, True])
def test_concurrent_writers_never_corrupt_or_duplicate(
    tmp_path: Path, same_partition: bool
) -> None:
    s = store(tmp_path)
    start = write(s, K3, [rows(1, 3000)])
    keys = [K1, K1, K1] if same_partition else [K1, K2, K3]
    sizes = [5, 6, 7]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(tmp_path), k, str(n)],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for k, n in zip(keys, sizes, strict=True)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    counts = s.row_counts()
    if same_partition:
        assert counts[K1] in sizes  # one writer's last version, never a mix or a sum
        holders = {r["holder"][:11] for b in s.batches(K1) for r in b.to_pylist()}
        assert len(holders) == 1
    else:
        assert counts == {K1: 5, K2: 6, K3: 7}
    assert DeltaTable(s.uri).version() == start + 24  # every write committed exactly once


def test_keys_are_validated_before_they_reach_a_predicate(tmp_path: Path) -> None:
    s = store(tmp_path)
    with pytest.raises(ValueError, match="invalid ledger-range partition key"):
        s.write([PartitionWrite("x') OR (1=1", lambda: [], {})])


def test_decimal_amounts_are_exact() -> None:
    from ttp_assets_tests.reference.tables.events import event_rows
    from ttp_assets_tests.reference.ttp import TokenEvent
    from ttp_assets_tests.reference.xdr.assets import NATIVE_INFO

    ev = TokenEvent(5, 0, "ab", 1, 1, "C", "transfer", "GA", "GB", NATIVE_INFO, 10**38 + 5)
    small = TokenEvent(5, 0, "ab", 1, 1, "C", "transfer", "GA", "GB", NATIVE_INFO, -123)
    big_row, small_row = list(event_rows([ev, small], "derived"))
    assert big_row["amount"] is None and big_row["amount_raw"] == str(10**38 + 5)
    assert small_row["amount"] == Decimal(-123) and small_row["amount_units"] == -0.0000123
    assert big_row["event_id"] != small_row["event_id"]


def test_the_log_is_checkpointed_every_few_commits(tmp_path: Path) -> None:
    """A tail commits every 30 s: the log since the last checkpoint stays short."""
    s = store(tmp_path)
    for i in range(2 * CHECKPOINT_INTERVAL + 1):
        write(s, K1, [rows(1, 1000 + i)])
    log = tmp_path / "balance_changes" / "_delta_log"
    checkpoints = sorted(p.name for p in log.glob("*.checkpoint.parquet"))
    assert [int(n.split(".")[0]) for n in checkpoints] == [
        CHECKPOINT_INTERVAL - 1,
        2 * CHECKPOINT_INTERVAL - 1,
    ]
    assert pa.Table.from_batches(list(s.batches(K1))).num_rows == 1


def test_maintenance_gives_older_tables_the_checkpoint_interval(tmp_path: Path) -> None:
    s = store(tmp_path)
    DeltaTable.create(s.uri, s.physical, partition_by=["partition_key"])  # as before the setting
    write(s, K1, [rows(2, 1000)])
    assert "delta.checkpointInterval" not in DeltaTable(s.uri).metadata().configuration
    compact_delta(s, retention_hours=0)
    table = DeltaTable(s.uri)
    assert table.metadata().configuration["delta.checkpointInterval"] == str(CHECKPOINT_INTERVAL)
    assert pa.Table.from_batches(list(s.batches(K1))).num_rows == 2
