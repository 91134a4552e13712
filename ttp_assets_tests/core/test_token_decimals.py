"""Custom tokens' decimals: the ``token_decimals`` lookup takes each contract's latest METADATA
over every stored partition, and the rollups categorize a custom token's transfers with it,
exactly as whole units say, whatever the number of decimals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from ttp_assets.core import schemas
from ttp_assets.core.analytics.categories import AmountCategories
from ttp_assets.core.analytics.partials import DECIMALS_SCHEMA, compute_partials
from ttp_assets.core.analytics.rollups import compute_rollups, token_decimals
from ttp_assets.core.storage.delta_store import DeltaPartitionStore, PartitionWrite
from ttp_assets.core.storage.location import open_location

TOKEN = "CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC"
OTHER = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
HOUR = dt.datetime(2026, 6, 19, 12, tzinfo=dt.UTC)
SMALL, LARGE = 100, 100_000


def _events(amounts: list[int], contract: str = TOKEN) -> pa.Table:
    n = len(amounts)
    return pa.table(
        {
            "ledger_sequence": pa.array([1000 + i for i in range(n)], pa.uint32()),
            "closed_at": pa.array([HOUR + dt.timedelta(seconds=5 * i) for i in range(n)]),
            "event_type": ["transfer"] * n,
            "from": [f"GFROM{i}" for i in range(n)],
            "to": [f"GTO{i}" for i in range(n)],
            "asset": pa.array([None] * n, pa.string()),
            "contract_id": [contract] * n,
            "amount_raw": [str(a) for a in amounts],
        }
    )


def _ledgers(events: pa.Table) -> pa.Table:
    seqs = events["ledger_sequence"].to_pylist()
    n = len(seqs)
    zero = pa.array([0] * n, pa.int64())
    return pa.table(
        {
            "ledger_sequence": pa.array(seqs, pa.uint32()),
            "closed_at": events["closed_at"],
            "protocol_version": pa.array([26] * n, pa.uint32()),
            "transaction_count": zero,
            "successful_transaction_count": zero,
            "failed_transaction_count": zero,
            "operation_count": zero,
            "successful_operation_count": zero,
            "fee_charged": zero,
        }
    )


def _empty(columns: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({c: pa.array([], t) for c, t in columns.items()})


def _rollup(amounts: list[int], decimals: int | None) -> dict:
    events = _events(amounts)
    partials = compute_partials(
        events,
        _ledgers(events),
        _empty(
            {
                "ledger_sequence": pa.uint32(),
                "closed_at": pa.timestamp("s", tz="UTC"),
                "account": pa.string(),
                "fee_account": pa.string(),
            }
        ),
        _empty(
            {
                "ledger_sequence": pa.uint32(),
                "closed_at": pa.timestamp("s", tz="UTC"),
                "type": pa.string(),
                "successful": pa.bool_(),
                "source_account": pa.string(),
            }
        ),
        AmountCategories(SMALL, LARGE),
    )
    periods = pa.table(
        {
            "grain": ["hour"],
            "period_start": pa.array([HOUR], pa.timestamp("s", tz="UTC")),
            "period_end": pa.array([HOUR + dt.timedelta(hours=1)], pa.timestamp("s", tz="UTC")),
            "day": [HOUR.strftime("%Y-%m-%d")],
            "complete": [True],
        }
    )
    lookup = DECIMALS_SCHEMA.empty_table()
    if decimals is not None:
        lookup = pa.table(
            {"contract_id": [TOKEN, OTHER], "decimals": pa.array([decimals, 3], pa.int32())},
            schema=DECIMALS_SCHEMA,
        )
    (row,) = compute_rollups(partials, periods, lookup)["asset_activity"].to_pylist()
    return row


AMOUNTS = [0, 1, 99, 100, 999_999, 10**6, 10**8, 10**9 - 1, 10**9, 10**11, 10**13, 5 * 10**18]
AMOUNTS += [10**38, 10**38 + 7, 2**127 - 1, 10**40 // 10**3]


@pytest.mark.parametrize("decimals", [0, 2, 6, 7, 9, 18, 35, 36, 38, 39, 40, 255, 2**31 - 1])
def test_a_custom_tokens_categories_use_its_decimals(decimals: int) -> None:
    row = _rollup(AMOUNTS, decimals)
    assert row["decimals"] == decimals
    want = {"small": [0, 0], "medium": [0, 0], "large": [0, 0]}
    units = 10 ** min(decimals, 60)  # beyond, every threshold exceeds any i128 amount anyway
    for a in AMOUNTS:
        cat = "small" if a < SMALL * units else "medium" if a < LARGE * units else "large"
        want[cat][0] += 1
        want[cat][1] += a
    for cat, (n, volume) in want.items():
        assert (row[f"{cat}_count"], row[f"{cat}_volume_raw"]) == (n, str(volume)), cat
    assert row["transfer_count"] == len(AMOUNTS)
    assert row["transfer_volume_raw"] == str(sum(AMOUNTS))


def test_unknown_decimals_leave_the_categories_empty() -> None:
    row = _rollup(AMOUNTS, None)
    assert row["decimals"] is None
    assert (row["small_count"], row["medium_count"], row["large_count"]) == (0, 0, 0)
    assert row["transfer_count"] == len(AMOUNTS)


def _metadata(rows: list[tuple[int, int, int, str, int | None]]) -> pa.RecordBatch:
    """token_metadata rows of (ledger, tx index, change index, contract, decimals)."""
    return pa.RecordBatch.from_pylist(
        [
            {
                "ledger_sequence": seq,
                "closed_at": 1_781_870_000 + seq,
                "transaction_hash": f"{seq:064x}",
                "transaction_index": tx,
                "operation_index": 1,
                "change_index": change,
                "change_type": "updated",
                "contract_id": contract,
                "executable": "wasm",
                "decimals": decimals,
                "name": "Token",
                "symbol": "TOK",
            }
            for seq, tx, change, contract, decimals in rows
        ],
        schema=schemas.TOKEN_METADATA,
    )


def test_the_lookup_takes_the_latest_decimals_over_every_partition(tmp_path: Path) -> None:
    location = open_location(str(tmp_path))
    assert token_decimals(location).num_rows == 0  # nothing stored yet
    store = DeltaPartitionStore(location, "token_metadata", schemas.TOKEN_METADATA)
    later, earlier = "0000002000-0000002999", "0000001000-0000001999"

    def write(key: str, batch: pa.RecordBatch) -> None:
        store.write([PartitionWrite(key, lambda: [batch], {"ttp.partition_key": key})])

    # The later partition lands first; within it, the order is ledger, tx, change.
    write(
        later,
        _metadata(
            [
                (2000, 1, 4, TOKEN, 9),
                (2000, 2, 0, TOKEN, 6),  # later transaction of the same ledger: wins
                (2000, 1, 9, OTHER, 4),
                (2001, 1, 1, OTHER, None),  # malformed (null): ignored, 4 stays
            ]
        ),
    )
    write(earlier, _metadata([(1500, 3, 2, TOKEN, 18), (1999, 1, 0, OTHER, 2)]))
    got = token_decimals(location)
    assert got.schema == DECIMALS_SCHEMA
    assert dict(zip(got["contract_id"].to_pylist(), got["decimals"].to_pylist(), strict=True)) == {
        TOKEN: 6,
        OTHER: 4,
    }
