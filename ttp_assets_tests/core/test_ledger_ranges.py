from __future__ import annotations

import pytest

from ttp_assets.core.ledger_ranges import (
    DEFAULT_WIDTH,
    LedgerRange,
    check_aligned,
    keys_covering,
    parse_key,
    range_for,
    ranges_covering,
)


def test_keys_are_zero_padded_and_sort_numerically() -> None:
    keys = keys_covering(999_000, 1_002_500, 1000)
    assert keys == [
        "0000999000-0000999999",
        "0001000000-0001000999",
        "0001001000-0001001999",
        "0001002000-0001002999",
    ]
    assert sorted(keys) == keys
    assert sorted(keys, key=lambda k: parse_key(k).start) == keys


def test_parse_round_trips_and_rejects_bad_keys() -> None:
    r = parse_key("0053312000-0053312999")
    assert r == LedgerRange(53312000, 53312999) and r.key == "0053312000-0053312999"
    for bad in ["53312000-53312999", "0053312000_0053312999", "../etc", "0000000010-0000000001"]:
        with pytest.raises(ValueError):
            parse_key(bad)


def test_alignment_and_first_ledger() -> None:
    assert range_for(53312345, 1000) == LedgerRange(53312000, 53312999)
    assert range_for(1, 1000).first_ledger == 2  # no LCM for genesis
    check_aligned(LedgerRange(1000, 1999), 1000)
    with pytest.raises(ValueError, match="not an aligned range"):
        check_aligned(LedgerRange(1500, 2499), 1000)
    assert ranges_covering(5, 4, 10) == []


def test_default_width_keeps_pubnet_history_under_dagster_partition_limit() -> None:
    pubnet_ledgers = 64_000_000
    assert pubnet_ledgers / DEFAULT_WIDTH < 100_000
