"""Conformance: contract events as token events, meta v3 and v4 (spec §5, §1.6, §2c).

Each case runs through a ledger holding one InvokeHostFunction transaction (meta v3 at
protocol 21, meta v4 at protocol 23) and asserts its operation events; cases that are not
token events must yield none. Test names follow the reference's contract_events_test.go.
"""

from __future__ import annotations

import pytest
from stellar_sdk import Asset, xdr

from ttp_assets_tests.reference.ttp import MuxedInfo, TokenEvent, TokenTransferError
from ttp_assets_tests.reference.ttp.contract_events import token_event
from ttp_assets_tests.reference.ttp.events import TxEventContext
from ttp_assets_tests.reference.ttp.sac_assets import SacAssets
from ttp_assets_tests.reference.xdr.strkeys import c_address

from .builders import (
    ACCOUNT_A,
    ACCOUNT_B,
    BTC,
    LP_BTC_ETH,
    PASSPHRASE,
    SOME_BALANCE_ID,
    TX_SOURCE,
    USDC,
    USDC_ISSUER,
    XLM,
    BuiltLedger,
    Tx,
    addr,
    build_ledger,
    cb,
    contract_event,
    event,
    fee,
    fee_event,
    i128,
    i128_parts,
    info,
    invoke_host_function_op,
    invoke_host_function_result,
    lp,
    m_address,
    memo_id,
    operation_events,
    sac,
    sac_id,
    scbytes,
    scmap,
    string,
    sym,
    tx_events,
    u64,
    void,
)

CUSTOM = bytes([1, 2, 3, 4]) + bytes(28)  # a contract that is no asset's SAC
CUSTOM_C = c_address(CUSTOM)
AMOUNT = 1000
USDC_STR = f"USDC:{USDC_ISSUER}"
BTC_STR = f"BTC:{info(BTC).issuer}"

# Spec §5 conformance, against both implementations.
pytestmark = pytest.mark.usefixtures("implementation")


def _soroban(
    events: list[xdr.ContractEvent], meta_version: int, memo: xdr.Memo | None = None
) -> BuiltLedger:
    fields = {} if memo is None else {"memo": memo}
    if meta_version == 3:
        tx = Tx(
            [invoke_host_function_op()],
            results=[invoke_host_function_result()],
            soroban=True,
            soroban_events=events,
            meta_version=3,
            **fields,
        )
        return build_ledger([tx], protocol=21)
    tx = Tx(
        [invoke_host_function_op()],
        results=[invoke_host_function_result()],
        soroban=True,
        op_events=[events],
        meta_version=4,
        **fields,
    )
    return build_ledger([tx], protocol=23)


def _events(ev: xdr.ContractEvent, meta_version: int) -> tuple[BuiltLedger, list[TokenEvent]]:
    built = _soroban([ev], meta_version)
    return built, operation_events(built)


def _custom(
    built: BuiltLedger,
    event_type: str,
    frm: str | None,
    to: str | None,
    amount: int = AMOUNT,
    muxed: MuxedInfo | None = None,
) -> TokenEvent:
    return event(built, event_type, frm, to, None, amount, muxed, contract=CUSTOM_C)


# --- TestValidContractEventsV3 (each runs for three asset strings / three SACs) --------------

SEP41_ASSET_STRINGS = ["someNonSep11AssetString", "native", USDC_STR]
SAC_ASSETS = [XLM, USDC, BTC]


def _sep11(asset: xdr.Asset) -> str:
    return "native" if asset == XLM else f"{info(asset).code}:{info(asset).issuer}"


@pytest.mark.parametrize("asset_string", SEP41_ASSET_STRINGS)
def test_v3_transfer_sep41_token_event(asset_string: str) -> None:
    topics = [sym("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B), string(asset_string)]
    built, events = _events(contract_event(CUSTOM, topics, i128(AMOUNT)), 3)
    assert events == [_custom(built, "transfer", ACCOUNT_A, ACCOUNT_B)]


@pytest.mark.parametrize("asset", SAC_ASSETS)
def test_v3_transfer_sac_event(asset: xdr.Asset) -> None:
    topics = [sym("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B), string(_sep11(asset))]
    built, events = _events(contract_event(sac_id(asset), topics, i128(AMOUNT)), 3)
    assert events == [event(built, "transfer", ACCOUNT_A, ACCOUNT_B, asset, AMOUNT)]


@pytest.mark.parametrize("asset_string", SEP41_ASSET_STRINGS)
def test_v3_mint_sep41_token_event(asset_string: str) -> None:
    topics = [sym("mint"), addr(ACCOUNT_A), addr(ACCOUNT_B), string(asset_string)]
    built, events = _events(contract_event(CUSTOM, topics, i128(AMOUNT)), 3)
    assert events == [_custom(built, "mint", None, ACCOUNT_B)]


@pytest.mark.parametrize("asset", SAC_ASSETS)
def test_v3_mint_sac_event(asset: xdr.Asset) -> None:
    topics = [sym("mint"), addr(ACCOUNT_A), addr(ACCOUNT_B), string(_sep11(asset))]
    built, events = _events(contract_event(sac_id(asset), topics, i128(AMOUNT)), 3)
    assert events == [event(built, "mint", None, ACCOUNT_B, asset, AMOUNT)]


@pytest.mark.parametrize("asset_string", SEP41_ASSET_STRINGS)
def test_v3_burn_sep41_token_event(asset_string: str) -> None:
    topics = [sym("burn"), addr(ACCOUNT_A), string(asset_string)]
    built, events = _events(contract_event(CUSTOM, topics, i128(AMOUNT)), 3)
    assert events == [_custom(built, "burn", ACCOUNT_A, None)]


@pytest.mark.parametrize("asset", SAC_ASSETS)
def test_v3_burn_sac_event(asset: xdr.Asset) -> None:
    topics = [sym("burn"), addr(ACCOUNT_A), string(_sep11(asset))]
    built, events = _events(contract_event(sac_id(asset), topics, i128(AMOUNT)), 3)
    assert events == [event(built, "burn", ACCOUNT_A, None, asset, AMOUNT)]


@pytest.mark.parametrize("asset_string", SEP41_ASSET_STRINGS)
def test_v3_clawback_sep41_token_event(asset_string: str) -> None:
    topics = [sym("clawback"), addr(ACCOUNT_A), addr(ACCOUNT_B), string(asset_string)]
    built, events = _events(contract_event(CUSTOM, topics, i128(AMOUNT)), 3)
    assert events == [_custom(built, "clawback", ACCOUNT_B, None)]


@pytest.mark.parametrize("asset", SAC_ASSETS)
def test_v3_clawback_sac_event(asset: xdr.Asset) -> None:
    topics = [sym("clawback"), addr(ACCOUNT_A), addr(ACCOUNT_B), string(_sep11(asset))]
    built, events = _events(contract_event(sac_id(asset), topics, i128(AMOUNT)), 3)
    assert events == [event(built, "clawback", ACCOUNT_B, None, asset, AMOUNT)]


@pytest.mark.parametrize("asset_string", SEP41_ASSET_STRINGS)
def test_v3_transfer_sep41_amount_is_128_bits(asset_string: str) -> None:
    topics = [sym("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B), string(asset_string)]
    built, events = _events(contract_event(CUSTOM, topics, i128_parts(5000, 1000)), 3)
    assert events == [_custom(built, "transfer", ACCOUNT_A, ACCOUNT_B, (5000 << 64) + 1000)]


def test_negative_i128_amount_is_kept_signed() -> None:
    """String128Raw: hi is signed; TTP does not check the sign of contract amounts."""
    topics = [sym("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B)]
    built, events = _events(contract_event(CUSTOM, topics, i128(-(2**100))), 4)
    assert events == [_custom(built, "transfer", ACCOUNT_A, ACCOUNT_B, -(2**100))]


# --- v3 SAC transfers from or to the issuer (§2c step 5) -------------------------------------


def test_v3_sac_transfer_from_the_issuer_is_a_mint() -> None:
    topics = [sym("transfer"), addr(USDC_ISSUER), addr(ACCOUNT_B), string(USDC_STR)]
    built, events = _events(contract_event(sac_id(USDC), topics, i128(AMOUNT)), 3)
    assert events == [event(built, "mint", None, ACCOUNT_B, USDC, AMOUNT)]


def test_v3_sac_transfer_to_the_issuer_is_a_burn() -> None:
    topics = [sym("transfer"), addr(ACCOUNT_A), addr(USDC_ISSUER), string(USDC_STR)]
    built, events = _events(contract_event(sac_id(USDC), topics, i128(AMOUNT)), 3)
    assert events == [event(built, "burn", ACCOUNT_A, None, USDC, AMOUNT)]


def test_v4_sac_transfer_from_the_issuer_stays_a_transfer() -> None:
    """CAP-67 SACs emit mint/burn themselves; v4 events are taken as they are."""
    topics = [sym("transfer"), addr(USDC_ISSUER), addr(ACCOUNT_B), string(USDC_STR)]
    built, events = _events(contract_event(sac_id(USDC), topics, i128(AMOUNT)), 4)
    assert events == [event(built, "transfer", USDC_ISSUER, ACCOUNT_B, USDC, AMOUNT)]


# --- TestInvalidEventsV3 ---------------------------------------------------------------------


def _transfer_topics() -> list[xdr.SCVal]:
    return [sym("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B)]


INVALID_V3 = {
    "invalid contract event type": contract_event(
        CUSTOM, _transfer_topics(), i128(AMOUNT), xdr.ContractEventType.SYSTEM
    ),
    "missing contract id": contract_event(None, _transfer_topics(), i128(AMOUNT)),
    "insufficient topics": contract_event(CUSTOM, [sym("transfer")], i128(AMOUNT)),
    "invalid function name type": contract_event(
        CUSTOM, [string("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B)], i128(AMOUNT)
    ),
    "invalid amount format": contract_event(CUSTOM, _transfer_topics(), u64(AMOUNT)),
    "transfer: too few topics": contract_event(
        CUSTOM, [sym("transfer"), addr(ACCOUNT_A)], i128(AMOUNT)
    ),
    "transfer: invalid from address": contract_event(
        CUSTOM, [sym("transfer"), string(ACCOUNT_A), addr(ACCOUNT_B)], i128(AMOUNT)
    ),
    "transfer: invalid to address": contract_event(
        CUSTOM, [sym("transfer"), addr(ACCOUNT_A), sym("b")], i128(AMOUNT)
    ),
    "mint: too few topics": contract_event(CUSTOM, [sym("mint"), addr(ACCOUNT_A)], i128(AMOUNT)),
    "mint: invalid admin address": contract_event(
        CUSTOM, [sym("mint"), string("admin"), addr(ACCOUNT_B)], i128(AMOUNT)
    ),
    "mint: invalid to address": contract_event(
        CUSTOM, [sym("mint"), addr(ACCOUNT_A), u64(1)], i128(AMOUNT)
    ),
    "clawback: too few topics": contract_event(
        CUSTOM, [sym("clawback"), addr(ACCOUNT_A)], i128(AMOUNT)
    ),
    "clawback: invalid admin address": contract_event(
        CUSTOM, [sym("clawback"), u64(1), addr(ACCOUNT_B)], i128(AMOUNT)
    ),
    "clawback: invalid from address": contract_event(
        CUSTOM, [sym("clawback"), addr(ACCOUNT_A), string("from")], i128(AMOUNT)
    ),
    "burn: too few topics": contract_event(CUSTOM, [sym("burn")], i128(AMOUNT)),
    "burn: invalid from address": contract_event(
        CUSTOM, [sym("burn"), string(ACCOUNT_A)], i128(AMOUNT)
    ),
    "unsupported event type": contract_event(
        CUSTOM, [sym("approve"), addr(ACCOUNT_A), addr(ACCOUNT_B)], i128(AMOUNT)
    ),
}


@pytest.mark.parametrize("case", list(INVALID_V3))
def test_invalid_v3_event_is_not_a_token_event(case: str) -> None:
    _, events = _events(INVALID_V3[case], 3)
    assert events == []


# Not encodable as XDR (only an edited decoded object has it): the reference alone.
@pytest.mark.parametrize("implementation", ["reference"], indirect=True)
def test_invalid_body_version_is_not_a_token_event() -> None:
    """The body union has only v0, so v1 cannot be encoded; the decoded event is edited."""
    built = _soroban([contract_event(CUSTOM, _transfer_topics(), i128(AMOUNT))], 3)
    built.ledger.transactions[0].meta.v3.soroban_meta.events[0].body.v = 1
    assert operation_events(built) == []


def test_invalid_sac_asset_string_keeps_the_event_without_asset() -> None:
    topics = [*_transfer_topics(), string("not:a:valid:asset")]
    built, events = _events(contract_event(CUSTOM, topics, i128(AMOUNT)), 3)
    assert events == [_custom(built, "transfer", ACCOUNT_A, ACCOUNT_B)]


def test_custom_token_mint_in_v4_shape_under_v3_meta_is_rejected() -> None:
    """["mint", to] is too short for v3, which needs [mint, admin, to]."""
    _, events = _events(contract_event(CUSTOM, [sym("mint"), addr(ACCOUNT_B)], i128(AMOUNT)), 3)
    assert events == []


# --- TestSacAssetValidation (meta v3; only whether the asset is set changes) -----------------


def _v3_sac_transfer(contract: bytes, last_topics: list[xdr.SCVal]) -> list[TokenEvent]:
    return _events(contract_event(contract, [*_transfer_topics(), *last_topics], i128(5)), 3)[1]


def test_sac_matching_contract_id_sets_the_asset() -> None:
    [ev] = _v3_sac_transfer(sac_id(USDC), [string(USDC_STR)])
    assert ev.asset == info(USDC)
    assert ev.contract_address == sac(USDC)


def test_sac_mismatched_contract_id_leaves_the_asset_unset() -> None:
    [ev] = _v3_sac_transfer(sac_id(BTC), [string(USDC_STR)])
    assert ev.asset is None
    assert ev.contract_address == sac(BTC)


def test_sac_five_topics_leaves_the_asset_unset() -> None:
    [ev] = _v3_sac_transfer(sac_id(USDC), [string(USDC_STR), string(USDC_STR)])
    assert ev.asset is None


def test_sac_burn_with_three_topics_sets_the_asset() -> None:
    topics = [sym("burn"), addr(ACCOUNT_A), string(USDC_STR)]
    [ev] = _events(contract_event(sac_id(USDC), topics, i128(5)), 3)[1]
    assert ev.asset == info(USDC)


def test_sac_last_topic_not_a_string_leaves_the_asset_unset() -> None:
    [ev] = _v3_sac_transfer(sac_id(USDC), [sym("USDC")])
    assert ev.asset is None


def test_sac_empty_asset_string_leaves_the_asset_unset() -> None:
    [ev] = _v3_sac_transfer(sac_id(XLM), [string("")])
    assert ev.asset is None


def test_sac_two_assets_leave_the_asset_unset() -> None:
    [ev] = _v3_sac_transfer(sac_id(XLM), [string("native,native")])
    assert ev.asset is None


def test_sac_native_is_case_insensitive_and_codes_pick_their_width() -> None:
    [native] = _v3_sac_transfer(sac_id(XLM), [string("NaTiVe")])
    assert native.asset == info(XLM)
    long_code = Asset("LONGCODE", USDC_ISSUER).to_xdr_object()
    [credit12] = _v3_sac_transfer(sac_id(long_code), [string(f"LONGCODE:{USDC_ISSUER}")])
    assert credit12.asset is not None and credit12.asset.type == "credit_alphanum12"


# --- TestValidSep41EventsWithExtraTopicsAndDataV4 ---------------------------------------------

_V4_SHAPES = {
    "transfer": ([sym("transfer"), addr(ACCOUNT_A), addr(ACCOUNT_B)], ACCOUNT_A, ACCOUNT_B),
    "mint": ([sym("mint"), addr(ACCOUNT_B)], None, ACCOUNT_B),
    "burn": ([sym("burn"), addr(ACCOUNT_A)], ACCOUNT_A, None),
    "clawback": ([sym("clawback"), addr(ACCOUNT_A)], ACCOUNT_A, None),
}
_V4_DATA = {
    "i128 with extra topics": (
        i128(AMOUNT),
        [string("native,native"), sym("extra")],
        None,
    ),
    "map with to_muxed_id and an extra key": (
        scmap((sym("amount"), i128(AMOUNT)), (sym("to_muxed_id"), u64(999)), (sym("x"), u64(1))),
        [],
        MuxedInfo("id", 999),
    ),
    "map with amount only": (scmap((sym("amount"), i128(AMOUNT))), [], None),
}


@pytest.mark.parametrize("kind", list(_V4_SHAPES))
@pytest.mark.parametrize("data_case", list(_V4_DATA))
def test_v4_sep41_events_with_extra_topics_and_data(kind: str, data_case: str) -> None:
    topics, frm, to = _V4_SHAPES[kind]
    data, extra, muxed = _V4_DATA[data_case]
    built, events = _events(contract_event(CUSTOM, [*topics, *extra], data), 4)
    assert events == [_custom(built, kind, frm, to, muxed=muxed)]


# --- TestValidContractEventsV4 -----------------------------------------------------------------


def _amount_map(muxed_id: xdr.SCVal) -> xdr.SCVal:
    return scmap((sym("amount"), i128(AMOUNT)), (sym("to_muxed_id"), muxed_id))


def test_v4_transfer_sep41_direct_i128() -> None:
    built, events = _events(contract_event(CUSTOM, _transfer_topics(), i128(AMOUNT)), 4)
    assert events == [_custom(built, "transfer", ACCOUNT_A, ACCOUNT_B)]


@pytest.mark.parametrize(
    ("muxed_value", "expected"),
    [
        (u64(12345), MuxedInfo("id", 12345)),
        (string("hello world"), MuxedInfo("text", "hello world")),
        (scbytes(bytes(range(32))), MuxedInfo("hash", bytes(range(32)))),
    ],
    ids=["id memo", "text memo", "hash memo"],
)
def test_v4_transfer_sep41_with_amount_and_memo(
    muxed_value: xdr.SCVal, expected: MuxedInfo
) -> None:
    ev = contract_event(CUSTOM, _transfer_topics(), _amount_map(muxed_value))
    built, events = _events(ev, 4)
    assert events == [_custom(built, "transfer", ACCOUNT_A, ACCOUNT_B, muxed=expected)]


def test_v4_mint_sep41_without_admin() -> None:
    built, events = _events(contract_event(CUSTOM, [sym("mint"), addr(ACCOUNT_B)], i128(9)), 4)
    assert events == [_custom(built, "mint", None, ACCOUNT_B, 9)]


def test_v4_clawback_sep41_without_admin() -> None:
    topics = [sym("clawback"), addr(ACCOUNT_A)]
    built, events = _events(contract_event(CUSTOM, topics, i128(9)), 4)
    assert events == [_custom(built, "clawback", ACCOUNT_A, None, 9)]


def test_v4_burn_sep41_same_as_v3() -> None:
    built, events = _events(contract_event(CUSTOM, [sym("burn"), addr(ACCOUNT_A)], i128(9)), 4)
    assert events == [_custom(built, "burn", ACCOUNT_A, None, 9)]


_SAC_V4 = {
    "transfer": ([addr(ACCOUNT_A), addr(ACCOUNT_B)], ACCOUNT_A, ACCOUNT_B),
    "mint": ([addr(ACCOUNT_B)], None, ACCOUNT_B),
    "burn": ([addr(ACCOUNT_A)], ACCOUNT_A, None),
    "clawback": ([addr(ACCOUNT_A)], ACCOUNT_A, None),
}


@pytest.mark.parametrize("kind", list(_SAC_V4))
@pytest.mark.parametrize("with_memo", [False, True], ids=["direct amount", "with memo"])
def test_v4_sac_event(kind: str, with_memo: bool) -> None:
    """Includes "V4 Burn SAC Event - With Memo": muxed info set even on a burn."""
    middle, frm, to = _SAC_V4[kind]
    data = _amount_map(u64(99999)) if with_memo else i128(AMOUNT)
    topics = [sym(kind), *middle, string(USDC_STR)]
    built, events = _events(contract_event(sac_id(USDC), topics, data), 4)
    muxed = MuxedInfo("id", 99999) if with_memo else None
    assert events == [event(built, kind, frm, to, USDC, AMOUNT, muxed)]


# --- TestV4InvalidEvents and the §7 decisions on to_muxed_id -----------------------------------


def test_v4_map_missing_amount_is_not_a_token_event() -> None:
    data = scmap((sym("to_muxed_id"), u64(1)))
    assert _events(contract_event(CUSTOM, _transfer_topics(), data), 4)[1] == []


def test_v4_map_with_symbol_to_muxed_id_is_not_a_token_event() -> None:
    ev = contract_event(CUSTOM, _transfer_topics(), _amount_map(sym("nope")))
    assert _events(ev, 4)[1] == []


def test_v4_map_with_non_symbol_key_is_not_a_token_event() -> None:
    data = scmap((string("amount"), i128(AMOUNT)))
    assert _events(contract_event(CUSTOM, _transfer_topics(), data), 4)[1] == []


def test_unsupported_transaction_meta_version_is_not_a_token_event() -> None:
    """The reference rejects meta v5; stellar-sdk 16.1.1 cannot decode v5, so the parser is
    called directly with the version."""
    ctx = TxEventContext(1, 2, "00", 1)
    ev = contract_event(CUSTOM, _transfer_topics(), i128(AMOUNT))
    assets = SacAssets(PASSPHRASE)
    assert token_event(ctx, 0, ev, 5, assets) is None
    assert token_event(ctx, 0, ev, 4, assets) is not None


@pytest.mark.parametrize("length", [5, 40])
def test_v4_to_muxed_id_bytes_keep_their_emitted_length(length: int) -> None:
    """Decision (go-stellar-sdk @3a31a094): no padding or truncation to 32 bytes."""
    value = bytes(range(length))
    ev = contract_event(CUSTOM, _transfer_topics(), _amount_map(scbytes(value)))
    built, events = _events(ev, 4)
    assert events == [
        _custom(built, "transfer", ACCOUNT_A, ACCOUNT_B, muxed=MuxedInfo("hash", value))
    ]


def test_v4_void_to_muxed_id_means_no_muxed_destination() -> None:
    """Decision (go-stellar-sdk @3a31a094, CAP-86): the transfer is kept, without muxed info."""
    ev = contract_event(CUSTOM, _transfer_topics(), _amount_map(void()))
    built, events = _events(ev, 4)
    assert events == [_custom(built, "transfer", ACCOUNT_A, ACCOUNT_B)]


@pytest.mark.parametrize("kind", ["mint", "clawback"])
def test_v4_mint_or_clawback_with_a_non_string_third_topic_is_rejected(kind: str) -> None:
    """Decision (PR #6004): [name, admin, party] under v4 would report the admin."""
    topics = [sym(kind), addr(ACCOUNT_A), addr(ACCOUNT_B)]
    assert _events(contract_event(CUSTOM, topics, i128(AMOUNT)), 4)[1] == []


def test_v4_mint_with_a_string_third_topic_that_is_no_asset_is_kept() -> None:
    topics = [sym("mint"), addr(ACCOUNT_B), string("not an asset")]
    built, events = _events(contract_event(CUSTOM, topics, i128(AMOUNT)), 4)
    assert events == [_custom(built, "mint", None, ACCOUNT_B)]


def test_v4_addresses_are_not_stripped() -> None:
    """Contract events keep ScAddress.String(): M, L and B addresses as they are."""
    muxed_b = m_address(ACCOUNT_B, 7)
    built, events = _events(
        contract_event(CUSTOM, [sym("transfer"), addr(lp(LP_BTC_ETH)), addr(muxed_b)], i128(3)), 4
    )
    assert events == [_custom(built, "transfer", lp(LP_BTC_ETH), muxed_b, 3)]
    built, events = _events(
        contract_event(CUSTOM, [sym("burn"), addr(cb(SOME_BALANCE_ID))], i128(3)), 4
    )
    assert events == [_custom(built, "burn", cb(SOME_BALANCE_ID), None, 3)]


# --- TestVersionSpecificSACValidation ------------------------------------------------------


@pytest.mark.parametrize(
    ("meta_version", "kind", "middle", "asset_set"),
    [
        (3, "transfer", [addr(ACCOUNT_A), addr(ACCOUNT_B)], True),
        (3, "mint", [addr(ACCOUNT_A), addr(ACCOUNT_B)], True),
        (4, "mint", [addr(ACCOUNT_B)], True),
        (3, "clawback", [addr(ACCOUNT_A), addr(ACCOUNT_B)], True),
        (4, "clawback", [addr(ACCOUNT_A)], True),
        (3, "burn", [addr(ACCOUNT_A)], True),
        (4, "burn", [addr(ACCOUNT_A)], True),
    ],
)
def test_version_specific_sac_validation(
    meta_version: int, kind: str, middle: list[xdr.SCVal], asset_set: bool
) -> None:
    topics = [sym(kind), *middle, string(USDC_STR)]
    [ev] = _events(contract_event(sac_id(USDC), topics, i128(AMOUNT)), meta_version)[1]
    assert ev.event_type == kind
    assert (ev.asset == info(USDC)) is asset_set


def test_v4_mint_with_v3_shape_is_rejected() -> None:
    """ "V4 mint with V3 format should not set asset": the reference keeps it with to = admin
    and no asset; by decision (PR #6004) it is not a token event at all."""
    topics = [sym("mint"), addr(ACCOUNT_A), addr(ACCOUNT_B), string(USDC_STR)]
    assert _events(contract_event(sac_id(USDC), topics, i128(AMOUNT)), 4)[1] == []


# --- TestNoMuxedInfoInPreProtocol23SorobanTxEvents ---------------------------------------------


def test_no_muxed_info_in_pre_protocol_23_soroban_tx_events() -> None:
    contract_c = CUSTOM_C
    topics = [sym("transfer"), addr(contract_c), addr(ACCOUNT_B), string("native")]
    built = _soroban([contract_event(sac_id(XLM), topics, i128(AMOUNT))], 3, memo=memo_id(999))
    assert operation_events(built) == [event(built, "transfer", contract_c, ACCOUNT_B, XLM, AMOUNT)]


# --- TestV4FeeEventParsing (unified mode) ---------------------------------------------------


def _unified(fee_events: list[xdr.TransactionEvent]) -> BuiltLedger:
    tx = Tx(
        [invoke_host_function_op()],
        results=[invoke_host_function_result()],
        soroban=True,
        meta_version=4,
        tx_events=fee_events,
    )
    return build_ledger([tx], protocol=23)


def test_unified_one_fee_event() -> None:
    built = _unified([fee_event(TX_SOURCE, 100)])
    assert tx_events(built, "unified").fee_events == [fee(built, TX_SOURCE, 100)]


def test_unified_two_fee_events() -> None:
    built = _unified([fee_event(TX_SOURCE, 100), fee_event(TX_SOURCE, -20, stage=2)])
    assert tx_events(built, "unified").fee_events == [
        fee(built, TX_SOURCE, 100),
        fee(built, TX_SOURCE, -20),
    ]


def test_unified_fee_event_among_other_transaction_events() -> None:
    other = xdr.TransactionEvent(
        xdr.TransactionEventStage(0),
        contract_event(sac_id(XLM), [sym("foo"), addr(TX_SOURCE)], i128(1)),
    )
    built = _unified([other, fee_event(TX_SOURCE, 100)])
    assert tx_events(built, "unified").fee_events == [fee(built, TX_SOURCE, 100)]


def _bad_fee(topics: list[xdr.SCVal], data: xdr.SCVal, contract: bytes) -> xdr.TransactionEvent:
    return xdr.TransactionEvent(
        xdr.TransactionEventStage(0), contract_event(contract, topics, data)
    )


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "no fee events found"),
        ([fee_event(TX_SOURCE, 1)] * 3, "too many fee events"),
        (
            [_bad_fee([sym("fee"), addr(TX_SOURCE), sym("x")], i128(1), sac_id(XLM))],
            "invalid topic length 3 for fee event",
        ),
        (
            [_bad_fee([sym("fee"), addr(TX_SOURCE)], u64(1), sac_id(XLM))],
            "invalid fee amount",
        ),
        (
            [fee_event(TX_SOURCE, 100, contract=CUSTOM)],
            "contractId in fee event does not match the native SAC",
        ),
        (
            [_bad_fee([sym("fee"), string(TX_SOURCE)], i128(1), sac_id(XLM))],
            "fee event topic 1 is not an address",
        ),
        (
            [_bad_fee([], i128(1), sac_id(XLM))],
            "transaction event without topics",
        ),
    ],
    ids=[
        "no fee events",
        "more than two",
        "extra topics",
        "invalid amount",
        "invalid contract id",
        "invalid address",
        "no topics",
    ],
)
def test_unified_invalid_fee_events_are_errors(
    events: list[xdr.TransactionEvent], message: str
) -> None:
    built = _unified(events)
    with pytest.raises(TokenTransferError) as err:
        tx_events(built, "unified")
    assert message in str(err.value)
    assert built.tx_hash in str(err.value)
    assert "ledger 12345" in str(err.value)


def test_unified_fee_event_that_is_not_a_contract_event_is_an_error() -> None:
    system = xdr.TransactionEvent(
        xdr.TransactionEventStage(0),
        contract_event(
            sac_id(XLM), [sym("fee"), addr(TX_SOURCE)], i128(1), xdr.ContractEventType.SYSTEM
        ),
    )
    with pytest.raises(TokenTransferError, match="invalid transaction event format"):
        tx_events(_unified([system]), "unified")
