"""Rows of the decoded tables (``ledgers``, ``transactions``, ``operations``) from one ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stellar_sdk import xdr

from ..ttp.fees import paid_fee
from ..xdr import strkeys
from ..xdr.assets import asset_info, pool_share_or_asset
from ..xdr.ledger import DecodedLedger, LedgerTransaction
from .rows import toid

_ENVELOPE_NAMES = {
    xdr.EnvelopeType.ENVELOPE_TYPE_TX_V0: "tx_v0",
    xdr.EnvelopeType.ENVELOPE_TYPE_TX: "tx",
    xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP: "tx_fee_bump",
}
_MEMO_NAMES = {
    xdr.MemoType.MEMO_NONE: "none",
    xdr.MemoType.MEMO_TEXT: "text",
    xdr.MemoType.MEMO_ID: "id",
    xdr.MemoType.MEMO_HASH: "hash",
    xdr.MemoType.MEMO_RETURN: "return",
}
# The result union names its arm after the operation, except for these.
_RESULT_ARM = {
    xdr.OperationType.BUMP_SEQUENCE: "bump_seq_result",
}


@dataclass
class LedgerRows:
    ledger: dict[str, Any]
    transactions: list[dict[str, Any]] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)


def memo_fields(memo: xdr.Memo) -> tuple[str, str | None]:
    t = memo.type
    if t == xdr.MemoType.MEMO_TEXT:
        # Memo text is 28 arbitrary bytes; invalid UTF-8 is shown with replacement characters.
        return "text", memo.text.decode("utf-8", errors="replace")
    if t == xdr.MemoType.MEMO_ID:
        return "id", str(memo.id.uint64)
    if t == xdr.MemoType.MEMO_HASH:
        return "hash", memo.hash.hash.hex()
    if t == xdr.MemoType.MEMO_RETURN:
        return "return", memo.ret_hash.hash.hex()
    return "none", None


# Times beyond this (9999-12-31T23:59:59Z) are null: most readers cannot represent them.
LAST_SECOND_OF_9999 = 253_402_300_799


def timestamp_or_none(seconds: int | None) -> int | None:
    return seconds if seconds is not None and seconds <= LAST_SECOND_OF_9999 else None


def _bounds(tx: xdr.Transaction | xdr.TransactionV0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(tx, xdr.TransactionV0):
        tb, lb = tx.time_bounds, None
    else:
        cond = tx.cond
        tb = cond.time_bounds if cond.type == xdr.PreconditionType.PRECOND_TIME else None
        lb = None
        if cond.type == xdr.PreconditionType.PRECOND_V2:
            tb, lb = cond.v2.time_bounds, cond.v2.ledger_bounds
    if tb is not None:
        out["min_time"] = timestamp_or_none(tb.min_time.time_point.uint64)
        out["max_time"] = timestamp_or_none(tb.max_time.time_point.uint64 or None)
    if lb is not None:
        out["min_ledger"] = lb.min_ledger.uint32
        out["max_ledger"] = lb.max_ledger.uint32 or None
    return out


def _signature_count(env: xdr.TransactionEnvelope) -> int:
    if env.type == xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        return len(env.fee_bump.signatures)
    if env.type == xdr.EnvelopeType.ENVELOPE_TYPE_TX:
        return len(env.v1.signatures)
    return len(env.v0.signatures)


# stellar-core#4188: protocol 20 reported a wrong feeCharged for Soroban fee bumps.
FIRST_PROTOCOL_WITH_CORRECT_SOROBAN_FEE_BUMP_FEE = 21


def fee_charged(ledger: DecodedLedger, tx: LedgerTransaction) -> int:
    """The fee the transaction paid (see ``core.ttp.fees.paid_fee`` for the one exception)."""
    if (
        ledger.protocol_version < FIRST_PROTOCOL_WITH_CORRECT_SOROBAN_FEE_BUMP_FEE
        and tx.is_fee_bump
        and tx.is_soroban
    ):
        return paid_fee(tx)
    return tx.result.fee_charged.int64


def transaction_row(ledger: DecodedLedger, tx: LedgerTransaction) -> dict[str, Any]:
    env = tx.envelope
    src_g, src_id, src_m = strkeys.muxed_parts(tx.source_account)
    fee_g, _, fee_m = strkeys.muxed_parts(tx.fee_account)
    memo_type, memo = memo_fields(tx.memo)
    inner = tx.tx
    soroban = tx.soroban_data
    row: dict[str, Any] = {
        "ledger_sequence": ledger.sequence,
        "closed_at": ledger.close_time,
        "transaction_index": tx.index,
        "transaction_id": toid(ledger.sequence, tx.index, 0),
        "transaction_hash": tx.hash.hex(),
        "envelope_type": _ENVELOPE_NAMES[env.type],
        "account": src_g,
        "account_muxed": src_m,
        "account_muxed_id": src_id,
        "account_sequence": tx.sequence_number,
        "fee_account": fee_g,
        "fee_account_muxed": fee_m,
        "inner_transaction_hash": tx.inner_hash.hex() if tx.is_fee_bump else None,
        "max_fee": env.fee_bump.tx.fee.int64 if tx.is_fee_bump else inner.fee.uint32,
        "inner_max_fee": inner.fee.uint32 if tx.is_fee_bump else None,
        "fee_charged": fee_charged(ledger, tx),
        "result_fee_charged": tx.result.fee_charged.int64,
        "successful": tx.successful,
        "result_code": tx.result_code.name,
        "inner_result_code": tx.inner_result_code.name if tx.is_fee_bump else None,
        "operation_count": len(tx.operations),
        "memo_type": memo_type,
        "memo": memo,
        "signature_count": _signature_count(env),
        "is_soroban": soroban is not None,
        "soroban_resource_fee": soroban.resource_fee.int64 if soroban is not None else None,
        "tx_meta_version": tx.meta_version,
    }
    row.update(_bounds(inner))
    return row


def xdr_json(value: Any) -> str:
    """SEP-51 XDR-JSON of an XDR value; the base64 XDR where the SDK cannot render it.

    The SDK's renderer rejects some valid values (an uninitialised ScMap, for one); the fallback
    keeps the data exact: ``{"xdr_base64": ...}``.
    """
    try:
        return json.dumps(value.to_json_dict(), separators=(",", ":"))
    except Exception:  # any renderer failure falls back to the exact bytes
        return json.dumps({"xdr_base64": value.to_xdr()}, separators=(",", ":"))


def _result_code(op_type: xdr.OperationType, res: xdr.OperationResult) -> tuple[str, bool]:
    if res.code != xdr.OperationResultCode.opINNER:
        return res.code.name, False
    arm = _RESULT_ARM.get(op_type, f"{op_type.name.lower()}_result")
    inner = getattr(res.tr, arm, None)
    if inner is None:
        # The SDK fills the arm of the result's own type tag (e.g. the manage-sell-offer arm
        # for a passive offer), so fall back to that tag.
        inner = getattr(res.tr, _RESULT_ARM.get(res.tr.type, f"{res.tr.type.name.lower()}_result"))
    # Every inner result enum has its success code at 0.
    return inner.code.name, inner.code.value == 0


def _main_fields(op: xdr.Operation, res: xdr.OperationResult | None, ok: bool) -> dict[str, Any]:
    """The columns analysts filter on, by operation type; the rest is in ``details``."""
    b = op.body
    T = xdr.OperationType
    t = b.type
    out: dict[str, Any] = {}

    def dest(m: xdr.MuxedAccount) -> None:
        g, _, mx = strkeys.muxed_parts(m)
        out["destination"], out["destination_muxed"] = g, mx

    if t == T.CREATE_ACCOUNT:
        o = b.create_account_op
        out.update(
            destination=strkeys.account_id(o.destination),
            asset="native",
            amount=o.starting_balance.int64,
        )
    elif t == T.PAYMENT:
        o = b.payment_op
        dest(o.destination)
        out.update(asset=asset_info(o.asset).canonical, amount=o.amount.int64)
    elif t == T.PATH_PAYMENT_STRICT_RECEIVE:
        o = b.path_payment_strict_receive_op
        dest(o.destination)
        out.update(
            asset=asset_info(o.dest_asset).canonical,
            amount=o.dest_amount.int64,
            source_asset=asset_info(o.send_asset).canonical,
            source_amount=o.send_max.int64,
        )
    elif t == T.PATH_PAYMENT_STRICT_SEND:
        o = b.path_payment_strict_send_op
        dest(o.destination)
        out.update(
            asset=asset_info(o.dest_asset).canonical,
            amount=o.dest_min.int64,
            source_asset=asset_info(o.send_asset).canonical,
            source_amount=o.send_amount.int64,
        )
    elif t in (T.MANAGE_SELL_OFFER, T.CREATE_PASSIVE_SELL_OFFER):
        o = b.manage_sell_offer_op if t == T.MANAGE_SELL_OFFER else b.create_passive_sell_offer_op
        out.update(
            asset=asset_info(o.buying).canonical,
            source_asset=asset_info(o.selling).canonical,
            source_amount=o.amount.int64,
        )
    elif t == T.MANAGE_BUY_OFFER:
        o = b.manage_buy_offer_op
        out.update(
            asset=asset_info(o.buying).canonical,
            amount=o.buy_amount.int64,
            source_asset=asset_info(o.selling).canonical,
        )
    elif t == T.CHANGE_TRUST:
        o = b.change_trust_op
        out.update(asset=pool_share_or_asset(o.line), amount=o.limit.int64)
    elif t == T.ALLOW_TRUST:
        o = b.allow_trust_op
        code = o.asset.asset_code4 or o.asset.asset_code12
        raw = (code.asset_code4 if o.asset.asset_code4 else code.asset_code12).rstrip(b"\x00")
        out.update(destination=strkeys.account_id(o.trustor), asset=raw.decode("ascii", "replace"))
    elif t == T.ACCOUNT_MERGE:
        dest(b.destination)
        out["asset"] = "native"
        if ok and res is not None:
            bal = res.tr.account_merge_result.source_account_balance
            out["amount"] = bal.int64 if bal is not None else None
    elif t == T.CREATE_CLAIMABLE_BALANCE:
        o = b.create_claimable_balance_op
        out.update(asset=asset_info(o.asset).canonical, amount=o.amount.int64)
        if ok and res is not None:
            bid = res.tr.create_claimable_balance_result.balance_id
            out["destination"] = strkeys.claimable_balance_id(bid)
    elif t == T.BEGIN_SPONSORING_FUTURE_RESERVES:
        out["destination"] = strkeys.account_id(b.begin_sponsoring_future_reserves_op.sponsored_id)
    elif t == T.CLAWBACK:
        o = b.clawback_op
        dest(o.from_)
        out.update(asset=asset_info(o.asset).canonical, amount=o.amount.int64)
    elif t == T.SET_TRUST_LINE_FLAGS:
        o = b.set_trust_line_flags_op
        out.update(destination=strkeys.account_id(o.trustor), asset=asset_info(o.asset).canonical)
    elif t == T.LIQUIDITY_POOL_DEPOSIT:
        o = b.liquidity_pool_deposit_op
        out.update(destination=strkeys.pool_id(o.liquidity_pool_id))
    elif t == T.LIQUIDITY_POOL_WITHDRAW:
        o = b.liquidity_pool_withdraw_op
        out.update(destination=strkeys.pool_id(o.liquidity_pool_id), amount=o.amount.int64)
    elif t == T.INVOKE_HOST_FUNCTION:
        hf = b.invoke_host_function_op.host_function
        if hf.type == xdr.HostFunctionType.HOST_FUNCTION_TYPE_INVOKE_CONTRACT:
            out["destination"] = strkeys.sc_address(hf.invoke_contract.contract_address)
    return out


def operation_rows(ledger: DecodedLedger, tx: LedgerTransaction) -> list[dict[str, Any]]:
    results = tx.operation_results or []
    tx_src = tx.source_account
    rows = []
    for i, op in enumerate(tx.operations):
        res = results[i] if i < len(results) else None
        code, ok = _result_code(op.body.type, res) if res is not None else (None, False)
        ok = ok and tx.successful
        src_g, _, src_m = strkeys.muxed_parts(op.source_account or tx_src)
        row: dict[str, Any] = {
            "ledger_sequence": ledger.sequence,
            "closed_at": ledger.close_time,
            "transaction_index": tx.index,
            "transaction_hash": tx.hash.hex(),
            "transaction_successful": tx.successful,
            "operation_index": i + 1,
            "operation_id": toid(ledger.sequence, tx.index, i + 1),
            "type": op.body.type.name.lower(),
            "type_code": op.body.type.value,
            "source_account": src_g,
            "source_account_muxed": src_m,
            "result_code": code,
            "successful": ok,
            "details": xdr_json(op.body),
            "result_details": xdr_json(res) if res is not None else None,
        }
        row.update(_main_fields(op, res, ok))
        rows.append(row)
    return rows


def decoded_rows(ledger: DecodedLedger, lcm_version: int) -> LedgerRows:
    """All decoded rows of one ledger."""
    header = ledger.header
    txs = [transaction_row(ledger, tx) for tx in ledger.transactions]
    ops = [row for tx in ledger.transactions for row in operation_rows(ledger, tx)]
    ok = sum(1 for t in txs if t["successful"])
    body = ledger.body
    fee_write = None
    if lcm_version in (1, 2) and body.ext.v == 1:
        fee_write = body.ext.v1.soroban_fee_write1_kb.int64
    row = {
        "ledger_sequence": ledger.sequence,
        "closed_at": ledger.close_time,
        "ledger_hash": ledger.ledger_hash.hex(),
        "previous_ledger_hash": header.previous_ledger_hash.hash.hex(),
        "protocol_version": ledger.protocol_version,
        "lcm_version": lcm_version,
        "tx_set_hash": header.scp_value.tx_set_hash.hash.hex(),
        "tx_set_result_hash": header.tx_set_result_hash.hash.hex(),
        "bucket_list_hash": header.bucket_list_hash.hash.hex(),
        "total_coins": header.total_coins.int64,
        "fee_pool": header.fee_pool.int64,
        "inflation_seq": header.inflation_seq.uint32,
        "id_pool": header.id_pool.uint64,
        "base_fee": header.base_fee.uint32,
        "base_reserve": header.base_reserve.uint32,
        "max_tx_set_size": header.max_tx_set_size.uint32,
        "upgrade_count": len(header.scp_value.upgrades),
        "transaction_count": len(txs),
        "successful_transaction_count": ok,
        "failed_transaction_count": len(txs) - ok,
        "operation_count": sum(t["operation_count"] for t in txs),
        "successful_operation_count": sum(t["operation_count"] for t in txs if t["successful"]),
        "soroban_transaction_count": sum(1 for t in txs if t["is_soroban"]),
        "fee_charged": sum(t["fee_charged"] for t in txs),
        "soroban_fee_write_1kb": fee_write,
    }
    return LedgerRows(row, txs, ops)
