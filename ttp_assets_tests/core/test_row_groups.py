"""Row groups of the stored files, and what a Delta commit reports.

Writers get small batches (a few ledgers' rows each); the stores gather them into row groups of
up to ``ROW_GROUP_ROWS`` rows and ``ROW_GROUP_BYTES`` of Arrow data, in order, so a partition
of small ledgers is one row group instead of one per batch (whose footers outweighed the data).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ttp_assets.core import schemas
from ttp_assets.core.storage.delta_store import DeltaPartitionStore, PartitionWrite
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.parquet_store import ParquetPartitionStore, row_groups
from ttp_assets_tests.core.test_delta_store import rows

K1, K2 = "0000001000-0000001999", "0000002000-0000002999"


def small_batches(count: int, per: int = 3) -> list[pa.RecordBatch]:
    return [rows(per, 1000 + i, tag=f"t{i}-") for i in range(count)]


def test_row_groups_gather_in_order_within_both_bounds() -> None:
    schema = schemas.BALANCE_CHANGES
    batches = [*small_batches(5), pa.RecordBatch.from_pylist([], schema=schema), *small_batches(4)]
    groups = list(row_groups(batches, schema, max_rows=7))
    assert [g.num_rows for g in groups] == [6, 6, 6, 6, 3]  # whole batches, at most 7 rows
    got = pa.concat_tables(groups).column("holder").to_pylist()
    assert got == [h for b in batches for h in b.column("holder").to_pylist()]
    one = batches[0].nbytes
    by_bytes = list(row_groups(batches, schema, max_bytes=2 * one))
    assert [g.num_rows for g in by_bytes] == [6, 6, 6, 6, 3]
    # A batch bigger than the byte bound on its own is a row group on its own, never split.
    big = rows(50, 5000)
    out = list(row_groups([batches[0], big, batches[1]], schema, max_bytes=big.nbytes - 1))
    assert [g.num_rows for g in out] == [3, 50, 3]
    assert list(row_groups([], schema)) == []


def test_parquet_partition_of_small_batches_is_one_row_group(tmp_path: Path) -> None:
    s = ParquetPartitionStore(
        open_location(str(tmp_path)), "balance_changes", schemas.BALANCE_CHANGES
    )
    batches = small_batches(40)
    res = s.write(K1, batches, {"ttp.complete": "true"})
    f = pq.ParquetFile(s.path(K1))
    assert (res.rows, f.metadata.num_rows, f.metadata.num_row_groups) == (120, 120, 1)
    assert s.read(K1).equals(pa.Table.from_batches(batches, schema=s.schema))
    assert s.file_metadata(K1)["ttp.complete"] == "true"
    # Continuing the partition (stored rows kept, new ones after them) makes one group again.
    more = [rows(2, 2000, "n")]
    s.write(K1, more, {"ttp.complete": "true"}, keep_through=1039)
    f = pq.ParquetFile(s.path(K1))
    assert (f.metadata.num_rows, f.metadata.num_row_groups) == (122, 1)
    assert s.read(K1).column("holder").to_pylist()[-2:] == ["Gn0", "Gn1"]
    # The row cap still holds.
    s.write(K2, batches, row_group_rows=50)
    assert pq.ParquetFile(s.path(K2)).metadata.num_row_groups == 3


def test_delta_commit_reports_rows_and_bytes_of_its_version(tmp_path: Path) -> None:
    s = DeltaPartitionStore(
        open_location(str(tmp_path)), "balance_changes", schemas.BALANCE_CHANGES
    )
    meta = {"ttp.complete": "true"}
    commit = s.commit(
        [
            PartitionWrite(K1, lambda: small_batches(40), meta),
            PartitionWrite(K2, lambda: [], meta),
        ]
    )
    assert commit.rows == {K1: 120, K2: 0} == {K1: s.row_counts()[K1], K2: 0}
    assert commit.bytes == {K1: s.partition_bytes([K1])[K1], K2: 0}
    assert commit.version == 1 == int(s.file_metadata(K1)["ttp.delta_version"])
    assert s.file_metadata(K1)["ttp.rows"] == "120" and s.file_metadata(K2)["ttp.rows"] == "0"
    (path,) = (tmp_path / "balance_changes" / f"partition_key={K1}").glob("*.parquet")
    assert pq.ParquetFile(path).metadata.num_row_groups == 1
    got = pa.Table.from_batches(list(s.batches(K1)))
    assert got.column("holder").to_pylist() == [
        h for b in small_batches(40) for h in b.column("holder").to_pylist()
    ]
    assert s.write([PartitionWrite(K1, lambda: [rows(1, 1000)], meta)]) == 2
