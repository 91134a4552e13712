"""Open partitions grow by appending and are compacted once, when they close (both stores), on
the rows of real testnet ledgers; readers always see one whole committed version."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ttp_assets.core.storage.catalog import open_store
from ttp_assets.core.storage.delta_store import DeltaPartitionStore, PartitionWrite
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.parquet_store import OPEN_DIR, ParquetPartitionStore
from ttp_assets_tests.defs.test_incremental import KEY, LAST, settings_at
from ttp_assets_tests.harness import TESTNET_FIRST, materialize, stored_table

A, B = TESTNET_FIRST + 9, TESTNET_FIRST + 20  # two steps into the 32-ledger partition KEY


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    """The transactions and balance changes of one partition of the testnet lake."""
    settings = settings_at(tmp_path_factory.mktemp("real"))
    assert materialize(settings, TESTNET_FIRST, LAST).success
    return {t: stored_table(settings.storage_uri, t) for t in ("transactions", "balance_changes")}


def ledgers(table: pa.Table, first: int, last: int) -> pa.Table:
    seq = table.column("ledger_sequence")
    return table.filter(pc.and_(pc.greater_equal(seq, first), pc.less_equal(seq, last)))


def meta(last: int) -> dict[str, str]:
    return {
        "ttp.partition_key": KEY,
        "ttp.first_ledger": str(TESTNET_FIRST),
        "ttp.last_ledger": str(last),
        "ttp.complete": "true" if last == LAST else "false",
    }


def parquet(tmp_path: Path) -> ParquetPartitionStore:
    s = open_store(open_location(str(tmp_path)), "transactions")
    assert isinstance(s, ParquetPartitionStore)
    return s


def read(s: ParquetPartitionStore | DeltaPartitionStore) -> pa.Table:
    return pa.Table.from_batches(list(s.batches(KEY)), schema=s.schema)


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_parquet_open_partition_appends_then_compacts_once(
    real: dict[str, pa.Table], tmp_path: Path
) -> None:
    txs = real["transactions"]
    s = parquet(tmp_path)
    first = s.write(KEY, ledgers(txs, TESTNET_FIRST, A).to_batches(), meta(A))
    second = s.write(KEY, ledgers(txs, A + 1, B).to_batches(), meta(B), keep_through=A)
    # The second write added one segment and a manifest: none of the first write's bytes.
    added = second.bytes - first.bytes
    assert 0 < added < second.written < added + 4096
    segments = s.files(KEY)
    assert len(segments) == 2 and all(f.startswith(f"{OPEN_DIR}/{KEY}/") for f in segments)
    assert read(s).equals(ledgers(txs, TESTNET_FIRST, B))
    assert s.file_metadata(KEY)["ttp.last_ledger"] == str(B)
    assert s.committed_keys() == [KEY] and s.exists(KEY)

    closed = s.write(KEY, ledgers(txs, B + 1, LAST).to_batches(), meta(LAST), keep_through=B)
    assert s.files(KEY) == [f"{KEY}.parquet"] and s.manifest(KEY) is None
    assert closed.rows == txs.num_rows and read(s).equals(txs)
    assert s.file_metadata(KEY)["ttp.complete"] == "true"
    # The old segments stay for a reader of the previous version, until the grace period ends.
    seg_dir = tmp_path / "transactions" / OPEN_DIR / KEY
    assert s.sweep() == 0 and len(list(seg_dir.iterdir())) == 2
    for f in seg_dir.iterdir():
        age(f, 3600)
    assert s.sweep() == 2 and not seg_dir.exists()
    assert read(s).equals(txs)


def test_parquet_segment_past_the_base_is_cut_back(
    real: dict[str, pa.Table], tmp_path: Path
) -> None:
    txs = real["transactions"]
    s = parquet(tmp_path)
    s.write(KEY, ledgers(txs, TESTNET_FIRST, A).to_batches(), meta(A))
    s.write(KEY, ledgers(txs, A + 1, B).to_batches(), meta(B), keep_through=A)
    # A sibling output lagged at A + 3: continue from there; the rows after it are replaced.
    s.write(KEY, ledgers(txs, A + 4, B + 2).to_batches(), meta(B + 2), keep_through=A + 3)
    assert read(s).equals(ledgers(txs, TESTNET_FIRST, B + 2))
    assert len(s.files(KEY)) == 3


def test_parquet_failed_append_leaves_the_partition_as_it_was(
    real: dict[str, pa.Table], tmp_path: Path
) -> None:
    txs = real["transactions"]
    s = parquet(tmp_path)
    s.write(KEY, ledgers(txs, TESTNET_FIRST, A).to_batches(), meta(A))
    before = (s.files(KEY), s.file_metadata(KEY), read(s))

    def dies() -> list[pa.RecordBatch]:
        yield from ledgers(txs, A + 1, A + 3).to_batches()
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed"):
        s.write(KEY, dies(), meta(B), keep_through=A)  # type: ignore[arg-type]
    assert (s.files(KEY), s.file_metadata(KEY), read(s)) == before
    assert len(list((tmp_path / "transactions" / OPEN_DIR / KEY).iterdir())) == 1


def test_parquet_closed_partition_rebuilt_as_open(
    real: dict[str, pa.Table], tmp_path: Path
) -> None:
    """A rebuild from a source that now holds less: the manifest lands, then the closed file
    goes; the closed file wins while both exist."""
    txs = real["transactions"]
    s = parquet(tmp_path)
    s.write(KEY, txs.to_batches(), meta(LAST))
    assert read(s).equals(txs)
    s.write(KEY, ledgers(txs, TESTNET_FIRST, A).to_batches(), meta(A))
    assert s.files(KEY)[0].startswith(OPEN_DIR) and read(s).equals(ledgers(txs, TESTNET_FIRST, A))
    assert not (tmp_path / "transactions" / f"{KEY}.parquet").exists()
    # Continuing appends to it; closing compacts it again.
    s.write(KEY, ledgers(txs, A + 1, LAST).to_batches(), meta(LAST), keep_through=A)
    assert s.files(KEY) == [f"{KEY}.parquet"] and read(s).equals(txs)
    s.delete(KEY)
    assert not s.exists(KEY) and s.committed_keys() == []


def test_delta_open_partition_appends_files_then_compacts_once(
    real: dict[str, pa.Table], tmp_path: Path
) -> None:
    bc = real["balance_changes"]
    s = open_store(open_location(str(tmp_path)), "balance_changes")
    assert isinstance(s, DeltaPartitionStore)

    def commit(first: int, last: int, base: int | None):
        part = ledgers(bc, first, last)
        return s.commit([PartitionWrite(KEY, lambda: part.to_batches(), meta(last), base)])

    commit(TESTNET_FIRST, A, None)
    c2 = commit(A + 1, B, A)
    # Only the new ledgers' file was added (the first file is still part of the version).
    assert s.files_per_partition() == {KEY: 2}
    assert c2.rows[KEY] == ledgers(bc, TESTNET_FIRST, B).num_rows
    assert read(s).equals(ledgers(bc, TESTNET_FIRST, B))
    # A sibling lagged: the file reaching past the base is cut back, the rest kept.
    commit(A + 4, B + 2, A + 3)
    assert s.files_per_partition() == {KEY: 3}
    assert read(s).equals(ledgers(bc, TESTNET_FIRST, B + 2))
    commit(B + 3, LAST, B + 2)
    assert s.files_per_partition() == {KEY: 1}
    assert read(s).equals(bc)
