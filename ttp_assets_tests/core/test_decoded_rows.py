"""Decoded rows against what the data README publishes about the real ledgers."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ttp_assets.core.network import resolve_network
from ttp_assets.core.xdr.framing import LedgerDataError
from ttp_assets_tests.reference.tables.decoded import LedgerRows, decoded_rows
from ttp_assets_tests.reference.xdr.ledger import decode_ledger, verify_network
from ttp_assets_tests.shared_data import LedgerFile, core_test_files, lake_files


def _rows(files: list[LedgerFile]) -> list[LedgerRows]:
    out = []
    for f in files:
        for lcm in f.ledgers():
            led = decode_ledger(lcm, f.network)
            out.append(decoded_rows(led, led.lcm.v))
    return out


@pytest.fixture(scope="module")
def pubnet() -> LedgerRows:
    (rows,) = _rows(lake_files("pubnet"))
    return rows


@pytest.fixture(scope="module")
def testnet() -> list[LedgerRows]:
    return _rows(lake_files("testnet-2022"))


def test_pubnet_ledger_matches_published_counts(pubnet: LedgerRows) -> None:
    txs, ops = pubnet.transactions, pubnet.operations
    assert len(txs) == 163
    assert sum(t["successful"] for t in txs) == 101
    assert sum(t["envelope_type"] == "tx_fee_bump" for t in txs) == 3
    assert len(ops) == 234
    assert Counter(o["type"] for o in ops) == {
        "create_claimable_balance": 54,
        "manage_buy_offer": 53,
        "manage_sell_offer": 47,
        "path_payment_strict_receive": 39,
        "path_payment_strict_send": 24,
        "payment": 9,
        "change_trust": 4,
        "claim_claimable_balance": 3,
        "invoke_host_function": 1,
    }
    led = pubnet.ledger
    assert (led["transaction_count"], led["operation_count"]) == (163, 234)
    assert led["successful_transaction_count"] == 101
    assert led["fee_charged"] == sum(t["fee_charged"] for t in txs)
    assert led["protocol_version"] == 21 and led["lcm_version"] == 1


def test_testnet_lake_matches_published_counts(testnet: list[LedgerRows]) -> None:
    txs = [t for r in testnet for t in r.transactions]
    ops = [o for r in testnet for o in r.operations]
    assert (len(testnet), len(txs), sum(t["successful"] for t in txs)) == (160, 608, 346)
    assert Counter(o["type"] for o in ops) == {
        "payment": 278,
        "create_account": 204,
        "path_payment_strict_send": 105,
        "change_trust": 53,
        "allow_trust": 32,
        "account_merge": 14,
        "set_options": 10,
        "clawback": 6,
        "manage_buy_offer": 2,
        "bump_sequence": 2,
        "claim_claimable_balance": 1,
    }


def test_identifiers_and_indexes(pubnet: LedgerRows) -> None:
    txs = pubnet.transactions
    assert [t["transaction_index"] for t in txs] == list(range(1, 164))
    assert all(
        t["transaction_id"] == (53312000 << 32) | (t["transaction_index"] << 12) for t in txs
    )
    for o in pubnet.operations:
        assert (
            o["operation_id"]
            == (53312000 << 32) | (o["transaction_index"] << 12) | o["operation_index"]
        )
        assert o["operation_index"] >= 1
        json.loads(o["details"])
        assert not o["successful"] or o["transaction_successful"]
    bumps = [t for t in txs if t["envelope_type"] == "tx_fee_bump"]
    assert all(t["inner_transaction_hash"] and t["inner_max_fee"] is not None for t in bumps)
    assert len({t["transaction_hash"] for t in txs}) == 163


def test_operation_details_are_promoted(testnet: list[LedgerRows]) -> None:
    ops = [o for r in testnet for o in r.operations]
    payments = [o for o in ops if o["type"] == "payment"]
    assert all(o["destination"].startswith("G") and o["amount"] > 0 for o in payments)
    assert all(o["asset"] for o in payments)
    creates = [o for o in ops if o["type"] == "create_account"]
    assert all(o["asset"] == "native" and o["amount"] >= 0 for o in creates)
    ok_merges = [o for o in ops if o["type"] == "account_merge" and o["successful"]]
    assert ok_merges and all(o["amount"] is not None for o in ok_merges)
    assert {o["result_code"] for o in payments} >= {"PAYMENT_SUCCESS"}


def test_every_core_test_ledger_decodes_into_rows() -> None:
    rows = _rows(core_test_files())
    assert len(rows) > 11000
    ops = [o for r in rows for o in r.operations]
    assert Counter(o["type"] for o in ops)["invoke_host_function"] > 1000
    # Every op row carries parseable details, including the values the SDK cannot render.
    assert all(json.loads(o["details"]) for o in ops)


def test_wrong_passphrase_cannot_pair_envelopes() -> None:
    (lcm,) = lake_files("pubnet")[0].ledgers()
    led = decode_ledger(lcm, resolve_network("testnet"))
    with pytest.raises(LedgerDataError, match=r"no envelope .*\(check TTP_NETWORK\)"):
        verify_network(led)
