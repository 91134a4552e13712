"""VerifyEvents (§4): balance deltas from events against ledger-entry changes, fee totals.

Includes the cases of go-stellar-sdk's verify_events_test.go (big integers, custom tokens,
zero sums, contract holders, negative fees) and the change-pairing rules both sides rely on.
"""

from __future__ import annotations

import pickle

import pytest
from stellar_sdk import xdr

from ttp_assets_tests.reference.ttp import (
    BalanceDifference,
    MuxedInfo,
    TokenEvent,
    TokenTransferError,
    TransactionMismatch,
    fee_totals,
    reconcile_ledger,
    reconcile_transaction,
)
from ttp_assets_tests.reference.ttp.balances import deltas_from_changes, deltas_from_events
from ttp_assets_tests.reference.ttp.changes import operation_changes, paired, transaction_changes

from .builders import (
    ACCOUNT_A,
    ACCOUNT_B,
    BTC,
    ETH,
    LP_BTC_ETH,
    SOME_BALANCE_ID,
    UNIT,
    USDC,
    XLM,
    Tx,
    account_entry,
    balance_change,
    build_ledger,
    cb,
    cb_entry,
    changes,
    contract_data_entry,
    created,
    derived_events,
    event,
    info,
    lp,
    lp_entry,
    muxed,
    payment_op,
    payment_result,
    pool_share_trustline_entry,
    removed,
    restored,
    sac_id,
    trustline_entry,
    update,
    updated,
)

BIG = 18446947143889701584  # beyond int64, as in go-stellar-sdk's verify_events_test.go


def _ev(
    event_type: str,
    frm: str | None,
    to: str | None,
    amount: int,
    asset: xdr.Asset | None = XLM,
) -> TokenEvent:
    return TokenEvent(
        1, 0, "00", 1, 1, "C", event_type, frm, to, None if asset is None else info(asset), amount
    )


# --- deltas from events ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "frm", "to", "expected"),
    [
        (
            "transfer",
            ACCOUNT_A,
            ACCOUNT_B,
            {(ACCOUNT_A, "native"): -BIG, (ACCOUNT_B, "native"): BIG},
        ),
        ("mint", None, ACCOUNT_B, {(ACCOUNT_B, "native"): BIG}),
        ("burn", ACCOUNT_A, None, {(ACCOUNT_A, "native"): -BIG}),
        ("clawback", ACCOUNT_A, None, {(ACCOUNT_A, "native"): -BIG}),
    ],
)
def test_event_deltas_are_exact_beyond_int64(
    kind: str, frm: str | None, to: str | None, expected: dict
) -> None:
    assert deltas_from_events([_ev(kind, frm, to, BIG)]) == expected


def test_fee_events_debit_and_refunds_credit() -> None:
    events = [_ev("fee", ACCOUNT_A, None, 1000), _ev("fee", ACCOUNT_A, None, -200)]
    assert deltas_from_events(events) == {(ACCOUNT_A, "native"): -800}


def test_custom_token_events_are_skipped() -> None:
    assert deltas_from_events([_ev("transfer", ACCOUNT_A, ACCOUNT_B, 5, asset=None)]) == {}


def test_zero_sums_are_deleted() -> None:
    events = [_ev("transfer", ACCOUNT_A, ACCOUNT_B, 5), _ev("transfer", ACCOUNT_B, ACCOUNT_A, 5)]
    assert deltas_from_events(events) == {}
    assert deltas_from_events([_ev("transfer", ACCOUNT_A, ACCOUNT_B, 0)]) == {}


def test_contract_holders_are_skipped() -> None:
    contract = "CAAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQC526"
    events = [_ev("transfer", contract, ACCOUNT_B, 5), _ev("mint", None, contract, 7)]
    assert deltas_from_events(events) == {(ACCOUNT_B, "native"): 5}


def test_unknown_event_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown token event type"):
        deltas_from_events([_ev("approve", ACCOUNT_A, ACCOUNT_B, 5)])


# --- deltas from changes and their pairing ----------------------------------------------------


def test_change_deltas_cover_accounts_trustlines_balances_and_pools() -> None:
    meta = changes(
        [
            *balance_change(ACCOUNT_A, 10, 4),
            *update(trustline_entry(ACCOUNT_B, USDC, 1), trustline_entry(ACCOUNT_B, USDC, 8)),
            *update(
                pool_share_trustline_entry(ACCOUNT_B, LP_BTC_ETH, 1),
                pool_share_trustline_entry(ACCOUNT_B, LP_BTC_ETH, 9),
            ),
            created(cb_entry(SOME_BALANCE_ID, ETH, 3)),
            *removed(lp_entry(LP_BTC_ETH, BTC, ETH, 5, 6)),
            created(contract_data_entry(sac_id(XLM), "Balance")),
        ]
    )
    assert deltas_from_changes(paired(meta)) == {
        (ACCOUNT_A, "native"): -6,
        (ACCOUNT_B, info(USDC).canonical): 7,
        (cb(SOME_BALANCE_ID), info(ETH).canonical): 3,
        (lp(LP_BTC_ETH), info(BTC).canonical): -5,
        (lp(LP_BTC_ETH), info(ETH).canonical): -6,
    }


def test_an_entry_whose_only_change_leaves_its_balance_is_absent() -> None:
    """The big-integer reference stores a first delta of 0 and would then report a mismatch;
    we keep the int64 version's rule (decision in the package docstring)."""
    assert deltas_from_changes(paired(changes(balance_change(ACCOUNT_A, 10, 10)))) == {}


def test_an_update_after_a_restore_starts_from_the_restored_entry() -> None:
    entry = contract_data_entry(sac_id(XLM), "Balance")
    [restore, update_] = paired(changes([restored(entry), updated(entry)]))
    assert restore.pre is None and restore.post is not None
    assert update_.pre is restore.post


def test_an_update_without_a_previous_state_is_an_error() -> None:
    with pytest.raises(TokenTransferError, match="not preceded by the entry's state"):
        list(paired(changes([updated(account_entry(ACCOUNT_A, 1))])))


# --- reconcile_transaction / reconcile_ledger -------------------------------------------------


def _payment(
    receiver_after: int, result_code: xdr.TransactionResultCode | None = None, protocol: int = 20
):
    return build_ledger(
        [
            Tx(
                [payment_op(muxed(ACCOUNT_B), XLM, 10 * UNIT)],
                results=[payment_result()],
                source=muxed(ACCOUNT_A),
                op_changes=[
                    [
                        *balance_change(ACCOUNT_A, 100 * UNIT, 90 * UNIT),
                        *balance_change(ACCOUNT_B, 0, receiver_after),
                    ]
                ],
                fee_changes=balance_change(ACCOUNT_A, 100 * UNIT + 100, 100 * UNIT),
                result_code=result_code,
            )
        ],
        protocol,
    )


def test_matching_transaction_reconciles() -> None:
    built = _payment(10 * UNIT)
    assert reconcile_ledger(built.ledger, derived_events(built)) == []


def test_mismatch_names_the_transaction_and_the_differing_balances() -> None:
    built = _payment(9 * UNIT)
    [mismatch] = reconcile_ledger(built.ledger, derived_events(built))
    assert mismatch == TransactionMismatch(
        12345,
        built.tx_hash,
        1,
        (BalanceDifference(ACCOUNT_B, "native", 10 * UNIT, 9 * UNIT),),
    )
    assert f"ledger 12345 tx 1 ({built.tx_hash})" in str(mismatch)
    assert f"{ACCOUNT_B} native: events 100000000, changes 90000000" in str(mismatch)


def test_missing_events_are_mismatches() -> None:
    built = _payment(10 * UNIT)
    tx = built.ledger.transactions[0]
    mismatch = reconcile_transaction(built.ledger, tx, [])
    assert mismatch is not None
    assert {(d.holder, d.from_events, d.from_changes) for d in mismatch.differences} == {
        (ACCOUNT_A, 0, -10 * UNIT - 100),
        (ACCOUNT_B, 0, 10 * UNIT),
    }


def test_events_of_another_ledger_are_refused() -> None:
    built = _payment(10 * UNIT)
    stranger = _ev("fee", ACCOUNT_A, None, 1)
    with pytest.raises(ValueError, match="does not belong to ledger 12345"):
        reconcile_ledger(built.ledger, [stranger])
    with pytest.raises(ValueError, match="does not belong to ledger 12345"):
        fee_totals(built.ledger, [stranger])


def test_internal_error_drops_operation_changes_up_to_protocol_12() -> None:
    """stellar/go#2111: a txINTERNAL_ERROR transaction's operation metas are not counted."""
    code = xdr.TransactionResultCode.txINTERNAL_ERROR
    old, newer = _payment(10 * UNIT, code, 12), _payment(10 * UNIT, code, 13)
    for built, op_changes in ((old, 0), (newer, 2)):
        tx = built.ledger.transactions[0]
        assert len(transaction_changes(built.ledger, tx)) == 1 + op_changes
        assert len(operation_changes(built.ledger, tx, 0)) == op_changes


def test_fee_totals() -> None:
    built = _payment(10 * UNIT)
    assert fee_totals(built.ledger, derived_events(built)) == (100, 100)


# --- the event record ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["transfer", "mint", "burn", "clawback", "fee"])
def test_events_round_trip_and_are_immutable(kind: str) -> None:
    """The reference round-trips each kind through protobuf; ours must survive pickling (it
    crosses process boundaries) and stay a frozen, slotted, hashable value."""
    built = _payment(10 * UNIT)
    ev = event(built, kind, ACCOUNT_A, None, USDC, 2**100, MuxedInfo("hash", b"\x01" * 32))
    assert pickle.loads(pickle.dumps(ev)) == ev
    assert hash(ev) == hash(pickle.loads(pickle.dumps(ev)))
    assert not hasattr(ev, "__dict__")
    with pytest.raises(AttributeError):
        ev.amount = 1  # type: ignore[misc]
