"""Conformance: derived-mode events of classic operations and fees (spec §5, §2a, §2b, §2d).

Each test mirrors a case of the reference's token_transfer_processor_test.go (named in the
docstring) and asserts the exact events, meta included.
"""

from __future__ import annotations

import pytest
from stellar_sdk import xdr

from ttp_assets_tests.reference.ttp import MuxedInfo, TokenTransferError
from ttp_assets_tests.reference.ttp.balances import deltas_from_changes, deltas_from_events
from ttp_assets_tests.reference.ttp.changes import operation_changes
from ttp_assets_tests.reference.ttp.classic import revoke_claimable_balance_hash

from .builders import (
    ACCOUNT_A,
    ACCOUNT_B,
    BTC,
    BTC_ISSUER,
    ETH,
    ETH_ISSUER,
    FEE_BUMP_SOURCE,
    LEDGER_SEQ,
    LP_BTC_ETH,
    LP_ETH_USDC,
    MUX_ID_A,
    MUX_ID_B,
    SELLER_1,
    SELLER_2,
    SOME_BALANCE_ID,
    TX_SEQ,
    TX_SOURCE,
    UNIT,
    USDC,
    USDC_ISSUER,
    XLM,
    BuiltLedger,
    Tx,
    account_id,
    balance_change,
    balance_id,
    build_ledger,
    cb,
    cb_entry,
    claim_atom_order_book,
    claim_atom_pool,
    created,
    derived_events,
    event,
    fee,
    invoke_host_function_op,
    lp,
    lp_entry,
    manage_offer_success,
    memo_hash,
    memo_id,
    memo_return,
    memo_text,
    muxed,
    one_op,
    op_result,
    operation,
    operation_events,
    payment_op,
    payment_result,
    removed,
    trustline_entry,
    tx_events,
    update,
)

_OP = xdr.OperationType
TEXT = MuxedInfo("text", "hello world")
HASH = bytes(range(32))

# Spec §5 conformance, against both implementations.
pytestmark = pytest.mark.usefixtures("implementation")


def _id(value: int) -> MuxedInfo:
    return MuxedInfo("id", value)


# --- TestClassicFeeEvent / TestSorobanFeeEvents (§2a) -----------------------------------------


def test_fee_only_for_failed_fee_bump_transaction() -> None:
    """Fee Event only - Failed Fee Bump Transaction: the fee-bump source pays feeCharged."""
    built = build_ledger(
        [
            Tx(
                [payment_op(muxed(ACCOUNT_B), XLM, UNIT)],
                success=False,
                fee_charged=UNIT // 100,
                fee_bump_source=muxed(FEE_BUMP_SOURCE, 77),
            )
        ]
    )
    result = tx_events(built)
    assert result.fee_events == [fee(built, FEE_BUMP_SOURCE, UNIT // 100)]
    assert result.operation_events == []
    assert derived_events(built) == [fee(built, FEE_BUMP_SOURCE, UNIT // 100)]


def test_fee_only_for_failed_v1_transaction() -> None:
    """Fee Event only - Failed V1 Transaction."""
    built = build_ledger(
        [Tx([payment_op(muxed(ACCOUNT_B), XLM, UNIT)], success=False, fee_charged=UNIT // 10000)]
    )
    assert derived_events(built) == [fee(built, TX_SOURCE, 1000)]


def _failed_soroban(fee_after: int, refunded_to: int | None) -> BuiltLedger:
    after = [] if refunded_to is None else balance_change(TX_SOURCE, fee_after, refunded_to)
    return build_ledger(
        [
            Tx(
                [invoke_host_function_op()],
                soroban=True,
                success=False,
                fee_changes=balance_change(TX_SOURCE, 1000 * UNIT, fee_after),
                tx_changes_after=after,
            )
        ],
        protocol=21,
    )


def test_soroban_failed_tx_with_no_refund() -> None:
    """Soroban Failed Tx with no refund: 1000→999 units charged, nothing back."""
    built = _failed_soroban(999 * UNIT, None)
    result = tx_events(built)
    assert result.fee_events == [fee(built, TX_SOURCE, UNIT)]
    assert result.operation_events == []


def test_soroban_failed_tx_with_some_refund() -> None:
    """Soroban Failed Tx with some refund: 300 units charged, 30 refunded (negative)."""
    built = _failed_soroban(700 * UNIT, 730 * UNIT)
    result = tx_events(built)
    assert result.fee_events == [
        fee(built, TX_SOURCE, 3000000000),
        fee(built, TX_SOURCE, -300000000),
    ]
    assert result.operation_events == []


def test_soroban_fee_balance_rising_in_fee_processing_is_an_error() -> None:
    """The reference panics; we raise, naming the ledger and the transaction."""
    built = _failed_soroban(1001 * UNIT, None)
    with pytest.raises(TokenTransferError) as err:
        derived_events(built)
    assert f"ledger {LEDGER_SEQ}: tx {built.tx_hash}: fee processing raised" in str(err.value)


# --- TestAccountCreateEvents / TestInflationEvents / TestMergeAccountEvents -------------------


def test_successful_account_creation() -> None:
    op = operation(
        _OP.CREATE_ACCOUNT,
        muxed(ACCOUNT_A),
        create_account_op=xdr.CreateAccountOp(account_id(ACCOUNT_B), xdr.Int64(100 * UNIT)),
    )
    result = op_result(
        _OP.CREATE_ACCOUNT,
        create_account_result=xdr.CreateAccountResult(
            xdr.CreateAccountResultCode.CREATE_ACCOUNT_SUCCESS
        ),
    )
    built = one_op(op, result)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, 100 * UNIT)
    ]


def test_inflation_payout_to_multiple_recipients() -> None:
    """inflation payout to multiple recipients - multiple mints, in payout order."""
    result = op_result(
        _OP.INFLATION,
        inflation_result=xdr.InflationResult(
            xdr.InflationResultCode.INFLATION_SUCCESS,
            payouts=[
                xdr.InflationPayout(account_id(ACCOUNT_A), xdr.Int64(111 * UNIT)),
                xdr.InflationPayout(account_id(ACCOUNT_B), xdr.Int64(123 * UNIT)),
            ],
        ),
    )
    built = one_op(operation(_OP.INFLATION), result)
    assert operation_events(built) == [
        event(built, "mint", None, ACCOUNT_A, XLM, 111 * UNIT),
        event(built, "mint", None, ACCOUNT_B, XLM, 123 * UNIT),
    ]


def _merge(balance: int) -> BuiltLedger:
    op = operation(_OP.ACCOUNT_MERGE, muxed(ACCOUNT_A), destination=muxed(ACCOUNT_B))
    result = op_result(
        _OP.ACCOUNT_MERGE,
        account_merge_result=xdr.AccountMergeResult(
            xdr.AccountMergeResultCode.ACCOUNT_MERGE_SUCCESS,
            source_account_balance=xdr.Int64(balance),
        ),
    )
    return one_op(op, result)


def test_successful_account_merge() -> None:
    built = _merge(100 * UNIT)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, 100 * UNIT)
    ]


# Not encodable as XDR (only an edited decoded object has it): the reference alone.
@pytest.mark.parametrize("implementation", ["reference"], indirect=True)
def test_empty_account_merge_has_no_events() -> None:
    """empty account merge - no events: no sourceAccountBalance in the result.

    XDR requires the balance in a successful merge result, so the reference's fixture (a nil
    balance) cannot be encoded; the decoded result is edited to match it.
    """
    built = _merge(0)
    result = built.ledger.transactions[0].operation_results[0]
    result.tr.account_merge_result.source_account_balance = None
    assert operation_events(built) == []


# --- TestReconciliation (protocol 5, §2d) --------------------------------------------------


def _pre_p8_payment(
    source: str | None, amount: int, source_changes: list[xdr.LedgerEntryChange]
) -> BuiltLedger:
    op_source = None if source is None else muxed(source)
    return one_op(
        payment_op(muxed(ACCOUNT_B), XLM, amount, source=op_source),
        op_changes=source_changes,
        protocol=5,
        meta_version=2,
    )


def test_source_account_mints_money_part_1() -> None:
    built = _pre_p8_payment(
        ACCOUNT_A, 70 * UNIT, balance_change(ACCOUNT_A, 1000 * UNIT, 1090 * UNIT)
    )
    assert operation_events(built) == [
        event(built, "mint", None, ACCOUNT_A, XLM, 160 * UNIT),
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, 70 * UNIT),
    ]


def test_source_account_burns_money_part_1() -> None:
    built = _pre_p8_payment(
        ACCOUNT_A, 70 * UNIT, balance_change(ACCOUNT_A, 1000 * UNIT, 800 * UNIT)
    )
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, 70 * UNIT),
        event(built, "burn", ACCOUNT_A, None, XLM, 130 * UNIT),
    ]


def test_source_account_mints_money_part_2() -> None:
    built = _pre_p8_payment(
        ACCOUNT_A, 70 * UNIT, balance_change(ACCOUNT_A, 1000 * UNIT, 980 * UNIT)
    )
    assert operation_events(built) == [
        event(built, "mint", None, ACCOUNT_A, XLM, 50 * UNIT),
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, 70 * UNIT),
    ]


def test_source_account_mints_money_part_3() -> None:
    """No changes at all for the source: the whole payment is minted first."""
    built = _pre_p8_payment(ACCOUNT_A, 70 * UNIT, [])
    assert operation_events(built) == [
        event(built, "mint", None, ACCOUNT_A, XLM, 70 * UNIT),
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, 70 * UNIT),
    ]


def test_tx_account_mints_money_by_sending_a_zero_payment() -> None:
    built = _pre_p8_payment(None, 0, balance_change(TX_SOURCE, 1000 * UNIT, 1020 * UNIT))
    assert operation_events(built) == [
        event(built, "mint", None, TX_SOURCE, XLM, 20 * UNIT),
        event(built, "transfer", TX_SOURCE, ACCOUNT_B, XLM, 0),
    ]


def test_tx_account_burns_money_by_sending_a_zero_payment() -> None:
    """The burn comes after the transfer (the reference's comment says "before"; the code and
    its expected output put it after)."""
    built = _pre_p8_payment(None, 0, balance_change(TX_SOURCE, 1000 * UNIT, 980 * UNIT))
    assert operation_events(built) == [
        event(built, "transfer", TX_SOURCE, ACCOUNT_B, XLM, 0),
        event(built, "burn", TX_SOURCE, None, XLM, 20 * UNIT),
    ]


def test_no_xlm_reconciliation_from_protocol_8() -> None:
    built = one_op(
        payment_op(muxed(ACCOUNT_B), XLM, 70 * UNIT, source=muxed(ACCOUNT_A)),
        op_changes=balance_change(ACCOUNT_A, 1000 * UNIT, 1090 * UNIT),
        protocol=8,
        meta_version=2,
    )
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, 70 * UNIT)
    ]


def test_no_xlm_reconciliation_for_operations_without_rules() -> None:
    op = operation(
        _OP.BUMP_SEQUENCE, bump_sequence_op=xdr.BumpSequenceOp(xdr.SequenceNumber(xdr.Int64(9)))
    )
    result = op_result(
        _OP.BUMP_SEQUENCE,
        bump_seq_result=xdr.BumpSequenceResult(xdr.BumpSequenceResultCode.BUMP_SEQUENCE_SUCCESS),
    )
    built = one_op(
        op, result, balance_change(TX_SOURCE, 1000 * UNIT, 1090 * UNIT), protocol=5, meta_version=2
    )
    assert operation_events(built) == []


# --- TestPaymentEvents ---------------------------------------------------------------------


def _payment(
    source: xdr.MuxedAccount, dest: xdr.MuxedAccount, asset: xdr.Asset, memo: xdr.Memo | None = None
) -> BuiltLedger:
    fields = {} if memo is None else {"memo": memo}
    return one_op(payment_op(dest, asset, 100 * UNIT, source=source), **fields)


def test_payment_g_to_g_xlm_transfer() -> None:
    built = _payment(muxed(ACCOUNT_A), muxed(ACCOUNT_B), XLM)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, XLM, 100 * UNIT)
    ]


def test_payment_g_to_g_usdc_transfer() -> None:
    built = _payment(muxed(ACCOUNT_A), muxed(ACCOUNT_B), USDC)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, USDC, 100 * UNIT)
    ]


def test_payment_m_to_g_usdc_transfer_strips_the_source() -> None:
    built = _payment(muxed(ACCOUNT_A, MUX_ID_A), muxed(ACCOUNT_B), USDC)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, USDC, 100 * UNIT)
    ]


def test_payment_issuer_to_g_usdc_mint() -> None:
    built = _payment(muxed(USDC_ISSUER), muxed(ACCOUNT_B), USDC)
    assert operation_events(built) == [event(built, "mint", None, ACCOUNT_B, USDC, 100 * UNIT)]


def test_payment_g_to_issuer_usdc_burn() -> None:
    built = _payment(muxed(ACCOUNT_A), muxed(USDC_ISSUER), USDC)
    assert operation_events(built) == [event(built, "burn", ACCOUNT_A, None, USDC, 100 * UNIT)]


def test_payment_m_to_issuer_usdc_burn() -> None:
    built = _payment(muxed(ACCOUNT_A, MUX_ID_A), muxed(USDC_ISSUER), USDC)
    assert operation_events(built) == [event(built, "burn", ACCOUNT_A, None, USDC, 100 * UNIT)]


def test_payment_muxed_issuer_to_itself_is_a_transfer() -> None:
    """Issuer sides are found on the G behind a muxed account, on both sides."""
    built = _payment(muxed(USDC_ISSUER, 5), muxed(USDC_ISSUER, 6), USDC)
    assert operation_events(built) == [
        event(built, "transfer", USDC_ISSUER, USDC_ISSUER, USDC, 100 * UNIT, _id(6))
    ]


# --- TestMuxedInformation (§1.6) -----------------------------------------------------------


def test_muxed_g_to_m_usdc_transfer() -> None:
    built = _payment(muxed(ACCOUNT_A), muxed(ACCOUNT_B, MUX_ID_B), USDC)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, USDC, 100 * UNIT, _id(MUX_ID_B))
    ]


def test_muxed_issuer_to_m_usdc_mint() -> None:
    built = _payment(muxed(USDC_ISSUER), muxed(ACCOUNT_B, MUX_ID_B), USDC)
    assert operation_events(built) == [
        event(built, "mint", None, ACCOUNT_B, USDC, 100 * UNIT, _id(MUX_ID_B))
    ]


def test_muxed_g_to_g_with_text_memo_transfer() -> None:
    built = _payment(muxed(ACCOUNT_A), muxed(ACCOUNT_B), USDC, memo_text("hello world"))
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, USDC, 100 * UNIT, TEXT)
    ]


def test_muxed_issuer_to_g_with_hash_memo_mint() -> None:
    built = _payment(muxed(USDC_ISSUER), muxed(ACCOUNT_B), USDC, memo_hash(HASH))
    assert operation_events(built) == [
        event(built, "mint", None, ACCOUNT_B, USDC, 100 * UNIT, MuxedInfo("hash", HASH))
    ]


def test_muxed_memo_return_is_reported_as_a_hash() -> None:
    built = _payment(muxed(ACCOUNT_A), muxed(ACCOUNT_B), USDC, memo_return(HASH))
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, USDC, 100 * UNIT, MuxedInfo("hash", HASH))
    ]


def test_muxed_g_to_m_with_memo_the_muxed_id_wins() -> None:
    built = _payment(muxed(ACCOUNT_A), muxed(ACCOUNT_B, MUX_ID_B), USDC, memo_text("hello world"))
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, USDC, 100 * UNIT, _id(MUX_ID_B))
    ]


def test_muxed_issuer_to_m_with_memo_the_muxed_id_wins() -> None:
    built = _payment(muxed(USDC_ISSUER), muxed(ACCOUNT_B, MUX_ID_B), USDC, memo_hash(HASH))
    assert operation_events(built) == [
        event(built, "mint", None, ACCOUNT_B, USDC, 100 * UNIT, _id(MUX_ID_B))
    ]


def test_weird_payment_issuer_to_itself_is_a_transfer_not_a_burn() -> None:
    built = _payment(muxed(USDC_ISSUER), muxed(USDC_ISSUER), USDC, memo_text(":fire: burn :fire:"))
    assert operation_events(built) == [
        event(
            built,
            "transfer",
            USDC_ISSUER,
            USDC_ISSUER,
            USDC,
            100 * UNIT,
            MuxedInfo("text", ":fire: burn :fire:"),
        )
    ]


def _strict_send(
    source: str,
    dest: xdr.MuxedAccount,
    send: xdr.Asset,
    dest_asset: xdr.Asset,
    atoms: list[xdr.ClaimAtom],
    last_amount: int,
    memo: xdr.Memo | None = None,
) -> BuiltLedger:
    op = operation(
        _OP.PATH_PAYMENT_STRICT_SEND,
        muxed(source),
        path_payment_strict_send_op=xdr.PathPaymentStrictSendOp(
            send, xdr.Int64(last_amount), dest, dest_asset, xdr.Int64(1), []
        ),
    )
    result = op_result(
        _OP.PATH_PAYMENT_STRICT_SEND,
        path_payment_strict_send_result=xdr.PathPaymentStrictSendResult(
            xdr.PathPaymentStrictSendResultCode.PATH_PAYMENT_STRICT_SEND_SUCCESS,
            success=xdr.PathPaymentStrictSendResultSuccess(
                atoms,
                xdr.SimplePaymentResult(account_id(ACCOUNT_B), dest_asset, xdr.Int64(last_amount)),
            ),
        ),
    )
    fields = {} if memo is None else {"memo": memo}
    return one_op(op, result, **fields)


def _strict_receive(
    source: str,
    dest: xdr.MuxedAccount,
    send: xdr.Asset,
    dest_asset: xdr.Asset,
    atoms: list[xdr.ClaimAtom],
    dest_amount: int,
    memo: xdr.Memo | None = None,
) -> BuiltLedger:
    op = operation(
        _OP.PATH_PAYMENT_STRICT_RECEIVE,
        muxed(source),
        path_payment_strict_receive_op=xdr.PathPaymentStrictReceiveOp(
            send, xdr.Int64(10**12), dest, dest_asset, xdr.Int64(dest_amount), []
        ),
    )
    result = op_result(
        _OP.PATH_PAYMENT_STRICT_RECEIVE,
        path_payment_strict_receive_result=xdr.PathPaymentStrictReceiveResult(
            xdr.PathPaymentStrictReceiveResultCode.PATH_PAYMENT_STRICT_RECEIVE_SUCCESS,
            success=xdr.PathPaymentStrictReceiveResultSuccess(
                atoms,
                xdr.SimplePaymentResult(account_id(ACCOUNT_B), dest_asset, xdr.Int64(dest_amount)),
            ),
        ),
    )
    fields = {} if memo is None else {"memo": memo}
    return one_op(op, result, **fields)


def test_muxed_path_payment_issuer_to_m_mint() -> None:
    built = _strict_send(BTC_ISSUER, muxed(ACCOUNT_B, MUX_ID_B), BTC, BTC, [], 100 * UNIT)
    assert operation_events(built) == [
        event(built, "mint", None, ACCOUNT_B, BTC, 100 * UNIT, _id(MUX_ID_B))
    ]


def test_muxed_path_payment_g_to_m_transfer() -> None:
    built = _strict_receive(ACCOUNT_A, muxed(ACCOUNT_B, MUX_ID_B), BTC, BTC, [], 100 * UNIT)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, BTC, 100 * UNIT, _id(MUX_ID_B))
    ]


def test_muxed_path_payment_g_to_g_with_id_memo_transfer() -> None:
    built = _strict_receive(
        ACCOUNT_A, muxed(ACCOUNT_B), BTC, BTC, [], 100 * UNIT, memo=memo_id(999)
    )
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, ACCOUNT_B, BTC, 100 * UNIT, _id(999))
    ]


def test_muxed_manage_sell_offer_with_memo_has_no_muxed_info() -> None:
    atoms = [claim_atom_order_book(SELLER_1, XLM, 30 * UNIT, USDC, 10 * UNIT)]
    built = _sell_offer(ACCOUNT_A, atoms, memo=memo_text("hello world"))
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, SELLER_1, USDC, 10 * UNIT),
        event(built, "transfer", SELLER_1, ACCOUNT_A, XLM, 30 * UNIT),
    ]


def test_muxed_claim_claimable_balance_with_memo_transfer() -> None:
    built = _claim(ACCOUNT_A, XLM, memo=memo_text("hello world"))
    assert operation_events(built) == [
        event(built, "transfer", cb(SOME_BALANCE_ID), ACCOUNT_A, XLM, 10 * UNIT, TEXT)
    ]


def test_muxed_liquidity_pool_withdraw_with_memo_transfers() -> None:
    """LP Removed: both withdrawals go to the tx source and carry the memo."""
    built = _withdraw(
        None, removed(lp_entry(LP_BTC_ETH, BTC, ETH, 5 * UNIT, 10 * UNIT)), memo_text("hello world")
    )
    assert operation_events(built) == [
        event(built, "transfer", lp(LP_BTC_ETH), TX_SOURCE, BTC, 5 * UNIT, TEXT),
        event(built, "transfer", lp(LP_BTC_ETH), TX_SOURCE, ETH, 10 * UNIT, TEXT),
    ]


# --- TestManageOfferEvents -----------------------------------------------------------------


def _sell_offer(
    source: str, atoms: list[xdr.ClaimAtom], memo: xdr.Memo | None = None
) -> BuiltLedger:
    op = operation(
        _OP.MANAGE_SELL_OFFER,
        muxed(source),
        manage_sell_offer_op=xdr.ManageSellOfferOp(
            USDC, XLM, xdr.Int64(20 * UNIT), xdr.Price(xdr.Int32(1), xdr.Int32(3)), xdr.Int64(0)
        ),
    )
    result = op_result(
        _OP.MANAGE_SELL_OFFER,
        manage_sell_offer_result=xdr.ManageSellOfferResult(
            xdr.ManageSellOfferResultCode.MANAGE_SELL_OFFER_SUCCESS,
            success=manage_offer_success(atoms),
        ),
    )
    fields = {} if memo is None else {"memo": memo}
    return one_op(op, result, **fields)


def _buy_offer(source: str, atoms: list[xdr.ClaimAtom]) -> BuiltLedger:
    op = operation(
        _OP.MANAGE_BUY_OFFER,
        muxed(source),
        manage_buy_offer_op=xdr.ManageBuyOfferOp(
            XLM, USDC, xdr.Int64(20 * UNIT), xdr.Price(xdr.Int32(3), xdr.Int32(1)), xdr.Int64(0)
        ),
    )
    result = op_result(
        _OP.MANAGE_BUY_OFFER,
        manage_buy_offer_result=xdr.ManageBuyOfferResult(
            xdr.ManageBuyOfferResultCode.MANAGE_BUY_OFFER_SUCCESS,
            success=manage_offer_success(atoms),
        ),
    )
    return one_op(op, result)


def test_manage_buy_offer_buys_usdc_for_xlm_two_atoms() -> None:
    atoms = [
        claim_atom_order_book(SELLER_1, USDC, 10 * UNIT, XLM, 30 * UNIT),
        claim_atom_order_book(SELLER_2, USDC, 5 * UNIT, XLM, 16 * UNIT),
    ]
    built = _buy_offer(ACCOUNT_A, atoms)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, SELLER_1, XLM, 30 * UNIT),
        event(built, "transfer", SELLER_1, ACCOUNT_A, USDC, 10 * UNIT),
        event(built, "transfer", ACCOUNT_A, SELLER_2, XLM, 16 * UNIT),
        event(built, "transfer", SELLER_2, ACCOUNT_A, USDC, 5 * UNIT),
    ]


def test_manage_sell_offer_sells_usdc_for_xlm_two_atoms() -> None:
    atoms = [
        claim_atom_order_book(SELLER_1, XLM, 30 * UNIT, USDC, 10 * UNIT),
        claim_atom_order_book(SELLER_2, XLM, 16 * UNIT, USDC, 5 * UNIT),
    ]
    built = _sell_offer(ACCOUNT_A, atoms)
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, SELLER_1, USDC, 10 * UNIT),
        event(built, "transfer", SELLER_1, ACCOUNT_A, XLM, 30 * UNIT),
        event(built, "transfer", ACCOUNT_A, SELLER_2, USDC, 5 * UNIT),
        event(built, "transfer", SELLER_2, ACCOUNT_A, XLM, 16 * UNIT),
    ]


def test_manage_buy_offer_by_the_issuer_burns() -> None:
    atoms = [
        claim_atom_order_book(SELLER_1, USDC, 10 * UNIT, XLM, 30 * UNIT),
        claim_atom_order_book(SELLER_2, USDC, 5 * UNIT, XLM, 16 * UNIT),
    ]
    built = _buy_offer(USDC_ISSUER, atoms)
    assert operation_events(built) == [
        event(built, "transfer", USDC_ISSUER, SELLER_1, XLM, 30 * UNIT),
        event(built, "burn", SELLER_1, None, USDC, 10 * UNIT),
        event(built, "transfer", USDC_ISSUER, SELLER_2, XLM, 16 * UNIT),
        event(built, "burn", SELLER_2, None, USDC, 5 * UNIT),
    ]


def test_manage_sell_offer_by_the_issuer_mints() -> None:
    atoms = [
        claim_atom_order_book(SELLER_1, XLM, 30 * UNIT, USDC, 10 * UNIT),
        claim_atom_order_book(SELLER_2, XLM, 16 * UNIT, USDC, 5 * UNIT),
    ]
    built = _sell_offer(USDC_ISSUER, atoms)
    assert operation_events(built) == [
        event(built, "mint", None, SELLER_1, USDC, 10 * UNIT),
        event(built, "transfer", SELLER_1, USDC_ISSUER, XLM, 30 * UNIT),
        event(built, "mint", None, SELLER_2, USDC, 5 * UNIT),
        event(built, "transfer", SELLER_2, USDC_ISSUER, XLM, 16 * UNIT),
    ]


def test_passive_sell_offer_result_in_the_manage_sell_offer_arm() -> None:
    """stellar-core files a passive offer's result under MANAGE_SELL_OFFER (core-tests data)."""
    op = operation(
        _OP.CREATE_PASSIVE_SELL_OFFER,
        muxed(ACCOUNT_A),
        create_passive_sell_offer_op=xdr.CreatePassiveSellOfferOp(
            USDC, XLM, xdr.Int64(20 * UNIT), xdr.Price(xdr.Int32(1), xdr.Int32(3))
        ),
    )
    atoms = [claim_atom_order_book(SELLER_1, XLM, 30 * UNIT, USDC, 10 * UNIT)]
    success = manage_offer_success(atoms)
    code = xdr.ManageSellOfferResultCode.MANAGE_SELL_OFFER_SUCCESS
    for arm in (_OP.MANAGE_SELL_OFFER, _OP.CREATE_PASSIVE_SELL_OFFER):
        key = (
            "manage_sell_offer_result"
            if arm == _OP.MANAGE_SELL_OFFER
            else "create_passive_sell_offer_result"
        )
        result = op_result(arm, **{key: xdr.ManageSellOfferResult(code, success=success)})
        built = one_op(op, result)
        assert operation_events(built) == [
            event(built, "transfer", ACCOUNT_A, SELLER_1, USDC, 10 * UNIT),
            event(built, "transfer", SELLER_1, ACCOUNT_A, XLM, 30 * UNIT),
        ]


def test_manage_offer_without_trades_has_no_events() -> None:
    assert operation_events(_sell_offer(ACCOUNT_A, [])) == []


# --- TestPathPaymentEvents -----------------------------------------------------------------


def _offer_atoms() -> list[xdr.ClaimAtom]:
    """BTC → XLM → ETH through two order-book offers."""
    return [
        claim_atom_order_book(SELLER_1, XLM, 5 * UNIT, BTC, 1 * UNIT),
        claim_atom_order_book(SELLER_2, ETH, 2 * UNIT, XLM, 10 * UNIT),
    ]


def _offer_trade_events(built: BuiltLedger) -> list:
    return [
        event(built, "mint", None, SELLER_1, BTC, 1 * UNIT),
        event(built, "transfer", SELLER_1, BTC_ISSUER, XLM, 5 * UNIT),
        event(built, "transfer", BTC_ISSUER, SELLER_2, XLM, 10 * UNIT),
        event(built, "transfer", SELLER_2, BTC_ISSUER, ETH, 2 * UNIT),
    ]


def test_strict_send_btc_issuer_to_b_as_eth_through_two_offers() -> None:
    built = _strict_send(BTC_ISSUER, muxed(ACCOUNT_B), BTC, ETH, _offer_atoms(), 100 * UNIT)
    assert operation_events(built) == [
        *_offer_trade_events(built),
        event(built, "transfer", BTC_ISSUER, ACCOUNT_B, ETH, 100 * UNIT),
    ]


def test_strict_receive_btc_issuer_to_eth_issuer_through_two_offers() -> None:
    """The final leg uses the op's destAmount and burns at the ETH issuer."""
    built = _strict_receive(BTC_ISSUER, muxed(ETH_ISSUER), BTC, ETH, _offer_atoms(), 6 * UNIT)
    assert operation_events(built) == [
        *_offer_trade_events(built),
        event(built, "burn", BTC_ISSUER, None, ETH, 6 * UNIT),
    ]


def _pool_atoms() -> list[xdr.ClaimAtom]:
    """BTC → ETH → USDC through the BTC/ETH and ETH/USDC pools."""
    return [
        claim_atom_pool(LP_BTC_ETH, ETH, 2 * UNIT, BTC, 1 * UNIT),
        claim_atom_pool(LP_ETH_USDC, USDC, 100 * UNIT, ETH, 2 * UNIT),
    ]


def _pool_trade_events(built: BuiltLedger) -> list:
    return [
        event(built, "mint", None, lp(LP_BTC_ETH), BTC, 1 * UNIT),
        event(built, "transfer", lp(LP_BTC_ETH), BTC_ISSUER, ETH, 2 * UNIT),
        event(built, "transfer", BTC_ISSUER, lp(LP_ETH_USDC), ETH, 2 * UNIT),
        event(built, "transfer", lp(LP_ETH_USDC), BTC_ISSUER, USDC, 100 * UNIT),
    ]


def test_strict_send_through_two_pool_sweeps() -> None:
    built = _strict_send(BTC_ISSUER, muxed(ACCOUNT_B), BTC, USDC, _pool_atoms(), 100 * UNIT)
    assert operation_events(built) == [
        *_pool_trade_events(built),
        event(built, "transfer", BTC_ISSUER, ACCOUNT_B, USDC, 100 * UNIT),
    ]


def test_strict_receive_to_the_usdc_issuer_through_two_pool_sweeps() -> None:
    built = _strict_receive(BTC_ISSUER, muxed(USDC_ISSUER), BTC, USDC, _pool_atoms(), 6 * UNIT)
    assert operation_events(built) == [
        *_pool_trade_events(built),
        event(built, "burn", BTC_ISSUER, None, USDC, 6 * UNIT),
    ]


def test_v0_claim_atom_seller_is_an_account() -> None:
    seller_key = xdr.Uint256(account_id(SELLER_1).account_id.ed25519.uint256)
    atom = xdr.ClaimAtom(
        xdr.ClaimAtomType.CLAIM_ATOM_TYPE_V0,
        v0=xdr.ClaimOfferAtomV0(
            seller_key, xdr.Int64(1), XLM, xdr.Int64(3 * UNIT), USDC, xdr.Int64(UNIT)
        ),
    )
    built = _sell_offer(ACCOUNT_A, [atom])
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, SELLER_1, USDC, UNIT),
        event(built, "transfer", SELLER_1, ACCOUNT_A, XLM, 3 * UNIT),
    ]


# --- TestLiquidityPoolEvents ---------------------------------------------------------------


def _deposit(source: str, lp_changes: list[xdr.LedgerEntryChange]) -> BuiltLedger:
    op = operation(
        _OP.LIQUIDITY_POOL_DEPOSIT,
        muxed(source),
        liquidity_pool_deposit_op=xdr.LiquidityPoolDepositOp(
            xdr.PoolID(xdr.Hash(LP_BTC_ETH)),
            xdr.Int64(10 * UNIT),
            xdr.Int64(10 * UNIT),
            xdr.Price(xdr.Int32(1), xdr.Int32(10)),
            xdr.Price(xdr.Int32(10), xdr.Int32(1)),
        ),
    )
    result = op_result(
        _OP.LIQUIDITY_POOL_DEPOSIT,
        liquidity_pool_deposit_result=xdr.LiquidityPoolDepositResult(
            xdr.LiquidityPoolDepositResultCode.LIQUIDITY_POOL_DEPOSIT_SUCCESS
        ),
    )
    return one_op(op, result, lp_changes)


def _withdraw(
    source: str | None, lp_changes: list[xdr.LedgerEntryChange], memo: xdr.Memo | None = None
) -> BuiltLedger:
    op = operation(
        _OP.LIQUIDITY_POOL_WITHDRAW,
        None if source is None else muxed(source),
        liquidity_pool_withdraw_op=xdr.LiquidityPoolWithdrawOp(
            xdr.PoolID(xdr.Hash(LP_BTC_ETH)), xdr.Int64(UNIT), xdr.Int64(0), xdr.Int64(0)
        ),
    )
    result = op_result(
        _OP.LIQUIDITY_POOL_WITHDRAW,
        liquidity_pool_withdraw_result=xdr.LiquidityPoolWithdrawResult(
            xdr.LiquidityPoolWithdrawResultCode.LIQUIDITY_POOL_WITHDRAW_SUCCESS
        ),
    )
    fields = {} if memo is None else {"memo": memo}
    return one_op(op, result, lp_changes, **fields)


def _pool(reserve_btc: int, reserve_eth: int) -> xdr.LedgerEntry:
    return lp_entry(LP_BTC_ETH, BTC, ETH, reserve_btc * UNIT, reserve_eth * UNIT)


def test_lp_deposit_new_pool_transfers() -> None:
    built = _deposit(ACCOUNT_A, [created(_pool(1, 3))])
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, lp(LP_BTC_ETH), BTC, 1 * UNIT),
        event(built, "transfer", ACCOUNT_A, lp(LP_BTC_ETH), ETH, 3 * UNIT),
    ]


def test_lp_deposit_existing_pool_transfers() -> None:
    built = _deposit(ACCOUNT_A, update(_pool(1, 3), _pool(5, 10)))
    assert operation_events(built) == [
        event(built, "transfer", ACCOUNT_A, lp(LP_BTC_ETH), BTC, 4 * UNIT),
        event(built, "transfer", ACCOUNT_A, lp(LP_BTC_ETH), ETH, 7 * UNIT),
    ]


def test_lp_deposit_new_pool_by_the_btc_issuer_mints() -> None:
    built = _deposit(BTC_ISSUER, [created(_pool(1, 3))])
    assert operation_events(built) == [
        event(built, "mint", None, lp(LP_BTC_ETH), BTC, 1 * UNIT),
        event(built, "transfer", BTC_ISSUER, lp(LP_BTC_ETH), ETH, 3 * UNIT),
    ]


def test_lp_withdraw_existing_pool_transfers() -> None:
    built = _withdraw(ACCOUNT_A, update(_pool(5, 10), _pool(2, 2)))
    assert operation_events(built) == [
        event(built, "transfer", lp(LP_BTC_ETH), ACCOUNT_A, BTC, 3 * UNIT),
        event(built, "transfer", lp(LP_BTC_ETH), ACCOUNT_A, ETH, 8 * UNIT),
    ]


def test_lp_withdraw_removed_pool_transfers() -> None:
    built = _withdraw(ACCOUNT_A, removed(_pool(5, 10)))
    assert operation_events(built) == [
        event(built, "transfer", lp(LP_BTC_ETH), ACCOUNT_A, BTC, 5 * UNIT),
        event(built, "transfer", lp(LP_BTC_ETH), ACCOUNT_A, ETH, 10 * UNIT),
    ]


def test_lp_withdraw_removed_pool_by_the_eth_issuer_burns() -> None:
    built = _withdraw(ETH_ISSUER, removed(_pool(5, 10)))
    assert operation_events(built) == [
        event(built, "transfer", lp(LP_BTC_ETH), ETH_ISSUER, BTC, 5 * UNIT),
        event(built, "burn", lp(LP_BTC_ETH), None, ETH, 10 * UNIT),
    ]


def test_lp_withdraw_rounding_to_zero_is_emitted() -> None:
    built = _withdraw(ACCOUNT_A, update(_pool(5, 10), _pool(5, 9)))
    assert operation_events(built) == [
        event(built, "transfer", lp(LP_BTC_ETH), ACCOUNT_A, BTC, 0),
        event(built, "transfer", lp(LP_BTC_ETH), ACCOUNT_A, ETH, 1 * UNIT),
    ]


# --- TestClawbackEvents / TestClawbackClaimableBalanceEvents / TestClaimClaimableBalanceEvents -


def _clawback(asset: xdr.Asset) -> BuiltLedger:
    op = operation(
        _OP.CLAWBACK,
        muxed(USDC_ISSUER),
        clawback_op=xdr.ClawbackOp(asset, muxed(ACCOUNT_A, MUX_ID_A), xdr.Int64(7 * UNIT)),
    )
    result = op_result(
        _OP.CLAWBACK, clawback_result=xdr.ClawbackResult(xdr.ClawbackResultCode.CLAWBACK_SUCCESS)
    )
    return one_op(op, result)


def test_clawback_xlm_from_some_account() -> None:
    built = _clawback(XLM)
    assert operation_events(built) == [event(built, "clawback", ACCOUNT_A, None, XLM, 7 * UNIT)]


def test_clawback_usdc_from_some_account() -> None:
    built = _clawback(USDC)
    assert operation_events(built) == [event(built, "clawback", ACCOUNT_A, None, USDC, 7 * UNIT)]


def _clawback_cb(asset: xdr.Asset) -> BuiltLedger:
    op = operation(
        _OP.CLAWBACK_CLAIMABLE_BALANCE,
        muxed(USDC_ISSUER),
        clawback_claimable_balance_op=xdr.ClawbackClaimableBalanceOp(balance_id(SOME_BALANCE_ID)),
    )
    result = op_result(
        _OP.CLAWBACK_CLAIMABLE_BALANCE,
        clawback_claimable_balance_result=xdr.ClawbackClaimableBalanceResult(
            xdr.ClawbackClaimableBalanceResultCode.CLAWBACK_CLAIMABLE_BALANCE_SUCCESS
        ),
    )
    return one_op(op, result, removed(cb_entry(SOME_BALANCE_ID, asset, 10 * UNIT)))


def test_clawback_xlm_claimable_balance() -> None:
    built = _clawback_cb(XLM)
    assert operation_events(built) == [
        event(built, "clawback", cb(SOME_BALANCE_ID), None, XLM, 10 * UNIT)
    ]


def test_clawback_usdc_claimable_balance() -> None:
    built = _clawback_cb(USDC)
    assert operation_events(built) == [
        event(built, "clawback", cb(SOME_BALANCE_ID), None, USDC, 10 * UNIT)
    ]


def _claim(
    source: str, asset: xdr.Asset, memo: xdr.Memo | None = None, extra_removed: int = 0
) -> BuiltLedger:
    op = operation(
        _OP.CLAIM_CLAIMABLE_BALANCE,
        muxed(source),
        claim_claimable_balance_op=xdr.ClaimClaimableBalanceOp(balance_id(SOME_BALANCE_ID)),
    )
    result = op_result(
        _OP.CLAIM_CLAIMABLE_BALANCE,
        claim_claimable_balance_result=xdr.ClaimClaimableBalanceResult(
            xdr.ClaimClaimableBalanceResultCode.CLAIM_CLAIMABLE_BALANCE_SUCCESS
        ),
    )
    op_changes = removed(cb_entry(SOME_BALANCE_ID, asset, 10 * UNIT))
    for i in range(extra_removed):
        op_changes += removed(cb_entry(bytes([9, i]) + bytes(30), asset, UNIT))
    fields = {} if memo is None else {"memo": memo}
    return one_op(op, result, op_changes, **fields)


def test_claim_xlm_claimable_balance_transfer() -> None:
    built = _claim(ACCOUNT_A, XLM)
    assert operation_events(built) == [
        event(built, "transfer", cb(SOME_BALANCE_ID), ACCOUNT_A, XLM, 10 * UNIT)
    ]


def test_claim_usdc_claimable_balance_by_the_issuer_burns() -> None:
    built = _claim(USDC_ISSUER, USDC)
    assert operation_events(built) == [
        event(built, "burn", cb(SOME_BALANCE_ID), None, USDC, 10 * UNIT)
    ]


def test_create_claimable_balance_by_the_issuer_mints_to_b() -> None:
    op = operation(
        _OP.CREATE_CLAIMABLE_BALANCE,
        muxed(USDC_ISSUER),
        create_claimable_balance_op=xdr.CreateClaimableBalanceOp(USDC, xdr.Int64(10 * UNIT), []),
    )
    result = op_result(
        _OP.CREATE_CLAIMABLE_BALANCE,
        create_claimable_balance_result=xdr.CreateClaimableBalanceResult(
            xdr.CreateClaimableBalanceResultCode.CREATE_CLAIMABLE_BALANCE_SUCCESS,
            balance_id=balance_id(SOME_BALANCE_ID),
        ),
    )
    built = one_op(op, result, memo=memo_text("no mux for balances"))
    assert operation_events(built) == [
        event(built, "mint", None, cb(SOME_BALANCE_ID), USDC, 10 * UNIT)
    ]


# --- TestAllowTrustAndSetTrustlineFlagsRevokeTrustlineTest (CAP-38) ------------------------


def _revocation_cb(pool: bytes, asset: xdr.Asset) -> bytes:
    return revoke_claimable_balance_hash(
        account_id(TX_SOURCE),
        xdr.SequenceNumber(xdr.Int64(TX_SEQ)),
        0,
        xdr.PoolID(xdr.Hash(pool)),
        asset,
    )


def _revoke(op_changes: list[xdr.LedgerEntryChange], allow_trust: bool = False) -> BuiltLedger:
    if allow_trust:
        op = operation(
            _OP.ALLOW_TRUST,
            muxed(BTC_ISSUER),
            allow_trust_op=xdr.AllowTrustOp(
                account_id(ACCOUNT_A),
                xdr.AssetCode(
                    xdr.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4,
                    asset_code4=xdr.AssetCode4(b"BTC\x00"),
                ),
                xdr.Uint32(0),
            ),
        )
        result = op_result(
            _OP.ALLOW_TRUST,
            allow_trust_result=xdr.AllowTrustResult(xdr.AllowTrustResultCode.ALLOW_TRUST_SUCCESS),
        )
    else:
        op = operation(
            _OP.SET_TRUST_LINE_FLAGS,
            muxed(BTC_ISSUER),
            set_trust_line_flags_op=xdr.SetTrustLineFlagsOp(
                account_id(ACCOUNT_A), BTC, xdr.Uint32(1), xdr.Uint32(0)
            ),
        )
        result = op_result(
            _OP.SET_TRUST_LINE_FLAGS,
            set_trust_line_flags_result=xdr.SetTrustLineFlagsResult(
                xdr.SetTrustLineFlagsResultCode.SET_TRUST_LINE_FLAGS_SUCCESS
            ),
        )
    return one_op(op, result, op_changes)


def test_revoked_trustline_without_pool_changes_has_no_events() -> None:
    built = _revoke(update(trustline_entry(ACCOUNT_A, BTC, 5), trustline_entry(ACCOUNT_A, BTC, 5)))
    assert operation_events(built) == []


def test_revoked_trustline_with_pools_but_no_claimable_balances_has_no_events() -> None:
    built = _revoke(update(_pool(5, 10), _pool(4, 8)))
    assert operation_events(built) == []


def test_revoked_trustline_with_claimable_balances_for_both_assets() -> None:
    btc_cb, eth_cb = _revocation_cb(LP_BTC_ETH, BTC), _revocation_cb(LP_BTC_ETH, ETH)
    built = _revoke(
        [
            *update(_pool(5, 10), _pool(4, 8)),
            created(cb_entry(btc_cb, BTC, 1 * UNIT)),
            created(cb_entry(eth_cb, ETH, 2 * UNIT)),
        ]
    )
    assert operation_events(built) == [
        event(built, "transfer", lp(LP_BTC_ETH), cb(btc_cb), BTC, 1 * UNIT),
        event(built, "transfer", lp(LP_BTC_ETH), cb(eth_cb), ETH, 2 * UNIT),
    ]


def test_revoked_trustline_with_one_claimable_balance_burns_the_other_asset() -> None:
    """Only 1 CB entry created: transfer of BTC into it, burn of the ETH that went back to its
    issuer (the trustor). The reference's name says "mint"; its expectation is a burn.

    This is the case where the reference's Go pointer comparison would burn BTC on decoded data
    (decision 1 in the package docstring); the full meta shows ETH is what left the books.
    """
    btc_cb = _revocation_cb(LP_BTC_ETH, BTC)
    built = _revoke([*update(_pool(5, 10), _pool(4, 8)), created(cb_entry(btc_cb, BTC, 1 * UNIT))])
    events = operation_events(built)
    assert events == [
        event(built, "transfer", lp(LP_BTC_ETH), cb(btc_cb), BTC, 1 * UNIT),
        event(built, "burn", lp(LP_BTC_ETH), None, ETH, 2 * UNIT),
    ]
    op_changes = operation_changes(built.ledger, built.ledger.transactions[0], 0)
    assert deltas_from_events(events) == deltas_from_changes(op_changes)


def test_revoked_trustline_with_one_claimable_balance_of_asset_b_burns_asset_a() -> None:
    eth_cb = _revocation_cb(LP_BTC_ETH, ETH)
    built = _revoke(
        [*update(_pool(5, 10), _pool(4, 8)), created(cb_entry(eth_cb, ETH, 2 * UNIT))],
        allow_trust=True,
    )
    assert operation_events(built) == [
        event(built, "transfer", lp(LP_BTC_ETH), cb(eth_cb), ETH, 2 * UNIT),
        event(built, "burn", lp(LP_BTC_ETH), None, BTC, 1 * UNIT),
    ]


def test_revoked_trustline_pools_in_ledger_key_order() -> None:
    """Pools are walked in ledger-key (pool id) order, not meta order."""
    pools = sorted([LP_BTC_ETH, LP_ETH_USDC])
    assets = {LP_BTC_ETH: (BTC, ETH), LP_ETH_USDC: (ETH, USDC)}
    meta: list[xdr.LedgerEntryChange] = []
    for pool in reversed(pools):
        a, b = assets[pool]
        meta += update(lp_entry(pool, a, b, 5, 10), lp_entry(pool, a, b, 4, 8))
        meta += [
            created(cb_entry(_revocation_cb(pool, a), a, 1)),
            created(cb_entry(_revocation_cb(pool, b), b, 2)),
        ]
    built = _revoke(meta)
    assert [e.from_address for e in operation_events(built)] == [
        lp(pools[0]),
        lp(pools[0]),
        lp(pools[1]),
        lp(pools[1]),
    ]


# --- other shapes ---------------------------------------------------------------------------


def test_fee_bump_inner_source_is_the_operation_source() -> None:
    built = build_ledger(
        [
            Tx(
                [payment_op(muxed(ACCOUNT_B), XLM, UNIT)],
                results=[payment_result()],
                fee_bump_source=muxed(FEE_BUMP_SOURCE),
                memo=memo_id(5),
            )
        ]
    )
    assert derived_events(built) == [
        fee(built, FEE_BUMP_SOURCE, 100),
        event(built, "transfer", TX_SOURCE, ACCOUNT_B, XLM, UNIT, _id(5)),
    ]


# --- inconsistent operation changes are errors naming the operation -----------------------------


def test_claim_with_two_removed_claimable_balances_is_an_error() -> None:
    built = _claim(ACCOUNT_A, XLM, extra_removed=1)
    with pytest.raises(TokenTransferError) as err:
        operation_events(built)
    message = str(err.value)
    assert f"ledger {LEDGER_SEQ}" in message
    assert built.tx_hash in message
    assert "operation 1 (1-based) of type CLAIM_CLAIMABLE_BALANCE" in message
    assert "2 claimable balances removed" in message


def test_clawback_claimable_balance_without_its_entry_is_an_error() -> None:
    op = operation(
        _OP.CLAWBACK_CLAIMABLE_BALANCE,
        clawback_claimable_balance_op=xdr.ClawbackClaimableBalanceOp(balance_id(SOME_BALANCE_ID)),
    )
    result = op_result(
        _OP.CLAWBACK_CLAIMABLE_BALANCE,
        clawback_claimable_balance_result=xdr.ClawbackClaimableBalanceResult(
            xdr.ClawbackClaimableBalanceResultCode.CLAWBACK_CLAIMABLE_BALANCE_SUCCESS
        ),
    )
    with pytest.raises(TokenTransferError, match="no claimable balance entry found"):
        operation_events(one_op(op, result))


def test_lp_deposit_of_nothing_is_an_error() -> None:
    with pytest.raises(TokenTransferError, match="LIQUIDITY_POOL_DEPOSIT: deposited amount 0"):
        operation_events(_deposit(ACCOUNT_A, update(_pool(1, 3), _pool(1, 5))))


def test_lp_operation_without_exactly_one_pool_change_is_an_error() -> None:
    with pytest.raises(TokenTransferError, match="no liquidity pool entry found"):
        operation_events(_withdraw(ACCOUNT_A, []))
    two_pools = [
        *update(_pool(5, 10), _pool(2, 2)),
        created(lp_entry(LP_ETH_USDC, ETH, USDC, 1, 1)),
    ]
    with pytest.raises(TokenTransferError, match="2 liquidity pool entries changed"):
        operation_events(_withdraw(ACCOUNT_A, two_pools))
