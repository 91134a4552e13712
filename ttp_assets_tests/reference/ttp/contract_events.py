"""Contract events as token events: SAC and SEP-41 custom tokens (§2c), and unified fee events.

``token_event`` is the reference's ``parseEvent``: anything that is not a well-formed
transfer/mint/burn/clawback is "not a token event" and yields None, never an error.
``unified_fee_events`` is ``parseFeeEventsFromTransactionEvents``, where malformed fee events
are hard errors because every transaction must have its fee.
"""

from __future__ import annotations

from stellar_sdk import xdr

from ..xdr.ledger import LedgerTransaction
from ..xdr.strkeys import c_address, g_address, sc_address
from .classic import Party, movement_event
from .errors import TokenTransferError
from .events import (
    BURN,
    CLAWBACK,
    FEE,
    MINT,
    MUXED_HASH,
    MUXED_ID,
    MUXED_TEXT,
    TRANSFER,
    MuxedInfo,
    TokenEvent,
    TxEventContext,
)
from .sac_assets import SacAsset, SacAssets

_SC = xdr.SCValType
_CONTRACT_EVENT = xdr.ContractEventType.CONTRACT
_ADDR = xdr.SCAddressType

# Topic count at which a SAC event carries its SEP-11 asset string as the last topic.
# Meta v3 (pre-CAP-67 SAC): ["transfer", from, to, asset], ["mint", admin, to, asset],
# ["clawback", admin, from, asset], ["burn", from, asset].
# Meta v4 (CAP-67): ["transfer", from, to, asset], and [name, address, asset] for the others.
_SAC_TOPIC_COUNT = {
    3: {TRANSFER: 4, MINT: 4, CLAWBACK: 4, BURN: 3},
    4: {TRANSFER: 4, MINT: 3, CLAWBACK: 3, BURN: 3},
}


class _NotATokenEvent(Exception):
    """Internal: the contract event does not have a token event's shape."""


def contract_events_of_operation(tx: LedgerTransaction, op_index0: int) -> list[xdr.ContractEvent]:
    """``GetContractEventsForOperation``: v3 keeps them per transaction, v4 per operation."""
    meta = tx.meta
    if meta.v == 3:
        soroban = meta.v3.soroban_meta
        return [] if soroban is None else list(soroban.events)
    if meta.v == 4:
        operations = meta.v4.operations
        # A failed transaction's v4 meta has no operations.
        return list(operations[op_index0].events) if operations else []
    return []


def _i128(val: xdr.SCVal) -> int:
    if val.type != _SC.SCV_I128:
        raise _NotATokenEvent("amount is not an i128")
    parts = val.i128
    return (parts.hi.int64 << 64) + parts.lo.uint64


def _address(val: xdr.SCVal) -> xdr.SCAddress:
    if val.type != _SC.SCV_ADDRESS:
        raise _NotATokenEvent("topic is not an address")
    return val.address


def _party(addr: xdr.SCAddress) -> Party:
    t = addr.type
    if t == _ADDR.SC_ADDRESS_TYPE_ACCOUNT:
        return Party(sc_address(addr), True)
    if t == _ADDR.SC_ADDRESS_TYPE_MUXED_ACCOUNT:
        mux = addr.muxed_account
        return Party(g_address(mux.ed25519.uint256), True, mux.id.uint64)
    return Party(sc_address(addr), False)


def _string(val: xdr.SCVal) -> str | None:
    """A topic's ScString as text, or None when it is not a string (or not UTF-8)."""
    if val.type != _SC.SCV_STRING:
        return None
    try:
        return val.str.sc_string.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _v4_data(data: xdr.SCVal) -> tuple[int, MuxedInfo | None]:
    """A CAP-67 event's data: a bare i128, or a map with ``amount`` and maybe ``to_muxed_id``."""
    if data.type != _SC.SCV_MAP:
        return _i128(data), None
    if data.map is None:
        raise _NotATokenEvent("map is empty")
    amount: int | None = None
    info: MuxedInfo | None = None
    for entry in data.map.sc_map:
        if entry.key.type != _SC.SCV_SYMBOL:
            raise _NotATokenEvent("map key is not a symbol")
        key = entry.key.sym.sc_symbol
        if key == b"amount":
            amount = _i128(entry.val)
        elif key == b"to_muxed_id":
            val = entry.val
            t = val.type
            if t == _SC.SCV_U64:
                info = MuxedInfo(MUXED_ID, val.u64.uint64)
            elif t == _SC.SCV_BYTES:
                # Kept at the emitted length (decision in the package docstring).
                info = MuxedInfo(MUXED_HASH, val.bytes.sc_bytes)
            elif t == _SC.SCV_STRING:
                info = MuxedInfo(MUXED_TEXT, val.str.sc_string.decode("utf-8", errors="replace"))
            elif t != _SC.SCV_VOID:  # void means "no muxed destination" (decision)
                raise _NotATokenEvent(f"invalid to_muxed_id type {t.name}")
    if amount is None:
        raise _NotATokenEvent("amount field not found in map")
    return amount, info


def _parse(
    fn: str, topics: list[xdr.SCVal], data: xdr.SCVal, meta_version: int
) -> tuple[str, xdr.SCAddress | None, xdr.SCAddress | None, int, MuxedInfo | None]:
    """(type, from, to, amount, muxed info) of a SEP-41 event, by meta version (§2c table)."""
    if meta_version == 3:
        amount, info = _i128(data), None  # v3 never carries muxed info (stellar/go#5770)
    else:
        amount, info = _v4_data(data)
    n = len(topics)
    if fn == TRANSFER:
        if n < 3:
            raise _NotATokenEvent("transfer event requires at least 3 topics")
        return TRANSFER, _address(topics[1]), _address(topics[2]), amount, info
    if fn in (MINT, CLAWBACK):
        if meta_version == 3:
            # ["mint", admin, to] / ["clawback", admin, from]: the admin must be an address.
            if n < 3:
                raise _NotATokenEvent(f"{fn} event requires at least 3 topics")
            _address(topics[1])
            party = _address(topics[2])
        else:
            # ["mint", to] / ["clawback", from]. A third topic that is not the SAC asset string
            # means the v3 shape [name, admin, party], where topic 1 is not the party
            # (decision in the package docstring).
            if n >= 3 and topics[2].type != _SC.SCV_STRING:
                raise _NotATokenEvent(f"{fn} event's third topic is not a string")
            party = _address(topics[1])
        if fn == MINT:
            return MINT, None, party, amount, info
        return CLAWBACK, party, None, amount, info
    if fn == BURN:
        return BURN, _address(topics[1]), None, amount, info
    raise _NotATokenEvent(f"unsupported token event type {fn!r}")


def token_event(
    ctx: TxEventContext,
    op_index0: int,
    event: xdr.ContractEvent,
    meta_version: int,
    assets: SacAssets,
) -> TokenEvent | None:
    """The token event a contract event stands for, or None when it is not one."""
    if event.type != _CONTRACT_EVENT or event.contract_id is None or event.body.v != 0:
        return None
    topics = event.body.v0.topics
    if len(topics) < 2 or topics[0].type != _SC.SCV_SYMBOL or meta_version not in (3, 4):
        return None
    fn = topics[0].sym.sc_symbol.decode("utf-8", errors="replace")
    try:
        event_type, frm, to, amount, info = _parse(fn, topics, event.body.v0.data, meta_version)
    except _NotATokenEvent:
        return None
    contract_id = event.contract_id.contract_id.hash
    sac = _sac_asset(fn, topics, meta_version, contract_id, assets)
    if sac is not None and meta_version == 3 and event_type == TRANSFER:
        # Before CAP-67 the SAC emitted "transfer" for mints and burns too. Pre-protocol-23
        # Soroban transactions carry no muxed info, hence no destination rule (stellar/go#5770).
        return movement_event(ctx, op_index0, sac, _party(frm), _party(to), amount, None)
    return ctx.event(
        op_index0,
        c_address(contract_id),
        event_type,
        None if frm is None else sc_address(frm),
        None if to is None else sc_address(to),
        None if sac is None else sac.info,
        amount,
        info,
    )


def _sac_asset(
    fn: str, topics: list[xdr.SCVal], meta_version: int, contract_id: bytes, assets: SacAssets
) -> SacAsset | None:
    """The asset when the event is its SAC's: exact topic count, and the ids agree."""
    if len(topics) != _SAC_TOPIC_COUNT[meta_version][fn]:
        return None
    text = _string(topics[-1])
    if not text:
        return None
    sac = assets.from_sep11(text)
    if sac is None or sac.contract_id != contract_id:
        return None
    return sac


def unified_fee_events(
    ctx: TxEventContext, tx: LedgerTransaction, assets: SacAssets
) -> list[TokenEvent]:
    """A v4 transaction's ``fee`` events: the charge, then the refund if any."""
    if tx.meta.v != 4:
        raise TokenTransferError(
            f"tx {ctx.tx_hash}: unified events need TransactionMeta v4, found v{tx.meta.v}"
        )
    native = assets.native
    out = []
    for tx_event in tx.meta.v4.events:
        ev = tx_event.event
        if ev.type != _CONTRACT_EVENT or ev.contract_id is None or ev.body.v != 0:
            raise TokenTransferError(f"tx {ctx.tx_hash}: invalid transaction event format")
        topics = ev.body.v0.topics
        if not topics:
            raise TokenTransferError(f"tx {ctx.tx_hash}: transaction event without topics")
        if topics[0].type != _SC.SCV_SYMBOL or topics[0].sym.sc_symbol != FEE.encode():
            continue  # room for future transaction-level event kinds
        if len(topics) != 2:
            raise TokenTransferError(
                f"tx {ctx.tx_hash}: invalid topic length {len(topics)} for fee event"
            )
        data = ev.body.v0.data
        if data.type != _SC.SCV_I128:
            raise TokenTransferError(f"tx {ctx.tx_hash}: invalid fee amount type {data.type.name}")
        if topics[1].type != _SC.SCV_ADDRESS:
            raise TokenTransferError(f"tx {ctx.tx_hash}: fee event topic 1 is not an address")
        if ev.contract_id.contract_id.hash != native.contract_id:
            raise TokenTransferError(
                f"tx {ctx.tx_hash}: contractId in fee event does not match the native SAC"
            )
        out.append(
            ctx.event(
                None,
                native.contract_address,
                FEE,
                sc_address(topics[1].address),
                None,
                native.info,
                _i128(data),
            )
        )
    if not out:
        raise TokenTransferError(f"tx {ctx.tx_hash}: no fee events found")
    if len(out) > 2:
        raise TokenTransferError(f"tx {ctx.tx_hash}: too many fee events ({len(out)})")
    return out
