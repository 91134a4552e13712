"""Ledger-level behaviour: event order by protocol (§3), modes and their choice (§2.0)."""

from __future__ import annotations

import pytest
from stellar_sdk import xdr

from ttp_assets.core.network import Network, NetworkMismatchError
from ttp_assets.core.xdr.framing import LedgerDataError
from ttp_assets_tests.reference.ttp import (
    TokenTransferError,
    TokenTransferProcessor,
    TransactionEvents,
    choose_mode,
    events_for_ledger,
    reconcile_ledger,
)
from ttp_assets_tests.reference.ttp.ordering import ledger_order

from .builders import (
    ACCOUNT_A,
    ACCOUNT_B,
    NETWORK,
    TX_SOURCE,
    UNIT,
    XLM,
    BuiltLedger,
    Tx,
    addr,
    balance_change,
    build_ledger,
    contract_event,
    derived_events,
    event,
    fee,
    fee_event,
    i128,
    invoke_host_function_op,
    invoke_host_function_result,
    muxed,
    payment_op,
    payment_result,
    sac_id,
    string,
    sym,
    tx_events,
    unified_events,
)

CHARGE, REFUND, SOROBAN_MOVE, PAYMENT = 3 * UNIT, UNIT, 5 * UNIT, 2 * UNIT


def _sac_transfer() -> xdr.ContractEvent:
    topics = [sym("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B), string("native")]
    return contract_event(sac_id(XLM), topics, i128(SOROBAN_MOVE))


def _three_transactions(protocol: int, with_unified_events: bool = False) -> BuiltLedger:
    """A successful Soroban tx with a refund, a classic payment, a failed Soroban tx with a
    refund; balances complete, so the ledger also reconciles."""
    unified = protocol >= 23
    meta_version = 4 if unified else 3

    def soroban(success: bool) -> Tx:
        refund = balance_change(TX_SOURCE, 97 * UNIT, 98 * UNIT)
        moves = [*balance_change(ACCOUNT_A, 50 * UNIT, 45 * UNIT)]
        moves += balance_change(ACCOUNT_B, 50 * UNIT, 55 * UNIT)
        tx = Tx(
            [invoke_host_function_op()],
            results=[invoke_host_function_result()] if success else [],
            op_changes=[moves] if success else None,
            soroban=True,
            success=success,
            meta_version=meta_version,
            fee_charged=CHARGE - REFUND,
            fee_changes=balance_change(TX_SOURCE, 100 * UNIT, 97 * UNIT),
            tx_changes_after=[] if unified else refund,
            post_apply_fee_changes=refund if unified else [],
        )
        if success and unified:
            tx.op_events = [[_sac_transfer()]]
        elif success:
            tx.soroban_events = [_sac_transfer()]
        if with_unified_events:
            tx.tx_events = [
                fee_event(TX_SOURCE, CHARGE),
                fee_event(TX_SOURCE, -REFUND, stage=2),
            ]
        return tx

    payment = Tx(
        [payment_op(muxed(ACCOUNT_B), XLM, PAYMENT)],
        results=[payment_result()],
        source=muxed(ACCOUNT_A),
        op_changes=[
            [
                *balance_change(ACCOUNT_A, 45 * UNIT, 43 * UNIT),
                *balance_change(ACCOUNT_B, 55 * UNIT, 57 * UNIT),
            ]
        ],
        meta_version=meta_version,
        fee_charged=100,
        fee_changes=balance_change(ACCOUNT_A, 43 * UNIT + 100, 43 * UNIT),
    )
    if with_unified_events:
        payment.tx_events = [fee_event(ACCOUNT_A, 100)]
        topics = [sym("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B), string("native")]
        payment.op_events = [[contract_event(sac_id(XLM), topics, i128(PAYMENT))]]
    return build_ledger([soroban(True), payment, soroban(False)], protocol)


def _fees_first(built: BuiltLedger) -> list:
    return [
        fee(built, TX_SOURCE, CHARGE, 1),
        fee(built, ACCOUNT_A, 100, 2),
        fee(built, TX_SOURCE, CHARGE, 3),
    ]


def test_before_protocol_23_refunds_follow_their_transaction() -> None:
    built = _three_transactions(22)
    assert derived_events(built) == [
        *_fees_first(built),
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, SOROBAN_MOVE, tx=1),
        fee(built, TX_SOURCE, -REFUND, 1),
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, PAYMENT, tx=2),
        fee(built, TX_SOURCE, -REFUND, 3),
    ]
    assert reconcile_ledger(built.ledger, derived_events(built)) == []


def test_from_protocol_23_all_refunds_come_last() -> None:
    built = _three_transactions(23)
    assert derived_events(built) == [
        *_fees_first(built),
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, SOROBAN_MOVE, tx=1),
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, PAYMENT, tx=2),
        fee(built, TX_SOURCE, -REFUND, 1),
        fee(built, TX_SOURCE, -REFUND, 3),
    ]
    assert reconcile_ledger(built.ledger, derived_events(built)) == []


def test_unified_mode_reads_the_same_events_from_cap67_events() -> None:
    built = _three_transactions(23, with_unified_events=True)
    assert choose_mode(built.ledger) == "unified"
    assert unified_events(built) == derived_events(built)
    assert events_for_ledger(built.ledger, NETWORK) == derived_events(built)


def test_unified_mode_gives_a_failed_transaction_its_fees_only() -> None:
    built = _three_transactions(23, with_unified_events=True)
    assert tx_events(built, "unified", index=2) == TransactionEvents(
        [fee(built, TX_SOURCE, CHARGE, 3), fee(built, TX_SOURCE, -REFUND, 3)], []
    )


def test_choose_mode() -> None:
    assert choose_mode(_three_transactions(22).ledger) == "derived"
    # meta v4 without CAP-67 events (core without EMIT_CLASSIC_EVENTS)
    assert choose_mode(_three_transactions(23).ledger) == "derived"
    partly = _three_transactions(23, with_unified_events=True)
    partly.ledger.transactions[1].meta.v4.events = []
    assert choose_mode(partly.ledger) == "derived"
    assert choose_mode(build_ledger([], 23).ledger) == "derived"


def test_mode_override() -> None:
    built = _three_transactions(23, with_unified_events=True)
    assert events_for_ledger(built.ledger, NETWORK, mode="derived") == derived_events(built)
    older = _three_transactions(22)
    with pytest.raises(TokenTransferError, match="unified events need TransactionMeta v4"):
        events_for_ledger(older.ledger, NETWORK, mode="unified")
    with pytest.raises(ValueError, match="unknown token transfer mode"):
        events_for_ledger(older.ledger, NETWORK, mode="both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown token transfer mode"):
        TokenTransferProcessor(NETWORK, "both")  # type: ignore[arg-type]


def test_unified_mode_needs_fee_events_in_meta_v4() -> None:
    with pytest.raises(TokenTransferError, match="no fee events found"):
        unified_events(_three_transactions(23))


def test_a_ledger_of_another_network_is_refused() -> None:
    built = _three_transactions(22)
    other = TokenTransferProcessor(Network("other", "another passphrase"))
    with pytest.raises(NetworkMismatchError):
        other.events_from_ledger(built.ledger)


@pytest.mark.parametrize("count", [0, 3])
def test_each_transaction_needs_one_or_two_fee_events(count: int) -> None:
    built = _three_transactions(22)
    fees = [fee(built, TX_SOURCE, 1)] * count
    with pytest.raises(TokenTransferError, match=f"ledger 12345, tx ab: {count} fee events"):
        ledger_order(12345, 22, [("ab", TransactionEvents(fees, []))])


def test_unified_mode_never_reads_envelopes() -> None:
    """Some ledgers hash under no known passphrase; unified data must not need the pairing."""
    built = _three_transactions(23, with_unified_events=True)
    expected = unified_events(built)
    unpairable = _three_transactions(23, with_unified_events=True)
    for tx in unpairable.ledger.transactions:
        tx.hash = tx.hash[::-1]  # a hash no envelope has
    events = unified_events(unpairable)
    assert [(e.event_type, e.amount) for e in events] == [
        (e.event_type, e.amount) for e in expected
    ]
    with pytest.raises(LedgerDataError, match="has no envelope in the tx set"):
        derived_events(unpairable)
