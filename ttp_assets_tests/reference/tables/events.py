"""Rows of ``ttp_events`` and ``balance_changes``, and stored event rows back to events.

The round trip matters: the reconciliation check proves the *stored* events, so it turns rows
back into :class:`TokenEvent` and applies the one set of balance rules in ``core.ttp.balances``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa

from ..ttp.balances import deltas_from_changes
from ..ttp.changes import transaction_changes
from ..ttp.events import MUXED_HASH, MUXED_ID, MUXED_TEXT, MuxedInfo, TokenEvent
from ..xdr.assets import NATIVE, NATIVE_INFO, AssetInfo
from ..xdr.ledger import DecodedLedger
from ..xdr.strkeys import m_address
from .rows import toid

_DECIMAL_MAX = 10**38 - 1
UNITS = Decimal(10) ** 7


def event_id(ev: TokenEvent, n: int) -> str:
    """Deterministic and unique: the TOID of the event's operation (or transaction, for fees)
    and its position among that operation's events. The same in derived and unified mode,
    which produce the same events in the same order."""
    return f"{toid(ev.ledger_sequence, ev.transaction_index, ev.operation_index or 0):019d}-{n:04d}"


def _muxed_columns(ev: TokenEvent) -> dict[str, Any]:
    info = ev.to_muxed_info
    if info is None:
        return {}
    out: dict[str, Any] = {"to_muxed_kind": info.kind}
    if info.kind == MUXED_ID:
        out["to_muxed_id"] = info.value
        if ev.to_address and ev.to_address.startswith("G"):
            from stellar_sdk import StrKey

            out["to_muxed"] = m_address(StrKey.decode_ed25519_public_key(ev.to_address), info.value)  # type: ignore[arg-type]
    elif info.kind == MUXED_TEXT:
        out["to_muxed_text"] = info.value
    elif info.kind == MUXED_HASH:
        out["to_muxed_hash"] = bytes(info.value).hex()  # type: ignore[arg-type]
    return out


def event_rows(events: list[TokenEvent], derivation: str) -> Iterator[dict[str, Any]]:
    """One row per event, in the given (spec) order; ``event_index`` is that order."""
    seen: dict[tuple[int, int | None], int] = {}
    for i, ev in enumerate(events):
        slot = (ev.transaction_index, ev.operation_index)
        n = seen.get(slot, 0)
        seen[slot] = n + 1
        a = ev.asset
        row: dict[str, Any] = {
            "event_id": event_id(ev, n),
            "ledger_sequence": ev.ledger_sequence,
            "closed_at": ev.closed_at,
            "transaction_hash": ev.tx_hash,
            "transaction_index": ev.transaction_index,
            "operation_index": ev.operation_index,
            "transaction_id": toid(ev.ledger_sequence, ev.transaction_index, 0),
            "operation_id": (
                toid(ev.ledger_sequence, ev.transaction_index, ev.operation_index)
                if ev.operation_index is not None
                else None
            ),
            "event_index": i,
            "event_type": ev.event_type,
            "from": ev.from_address,
            "to": ev.to_address,
            "asset": a.canonical if a else None,
            "asset_type": a.type if a else None,
            "asset_code": a.code if a else None,
            "asset_issuer": a.issuer if a else None,
            "contract_id": ev.contract_address,
            "amount_raw": str(ev.amount),
            "amount": Decimal(ev.amount) if abs(ev.amount) <= _DECIMAL_MAX else None,
            "amount_units": float(Decimal(ev.amount) / UNITS) if a else None,
            "derivation": derivation,
        }
        row.update(_muxed_columns(ev))
        yield row


def balance_change_rows(ledger: DecodedLedger) -> Iterator[dict[str, Any]]:
    """Per transaction, every (holder, asset) whose balance the ledger entries changed."""
    for tx in ledger.transactions:
        deltas = deltas_from_changes(transaction_changes(ledger, tx))
        for (holder, asset), delta in sorted(deltas.items()):
            yield {
                "ledger_sequence": ledger.sequence,
                "closed_at": ledger.close_time,
                "transaction_hash": tx.hash.hex(),
                "transaction_index": tx.index,
                "holder": holder,
                "asset": asset,
                "delta": delta,
            }


EVENT_COLUMNS_FOR_BALANCES = [
    "ledger_sequence",
    "closed_at",
    "transaction_hash",
    "transaction_index",
    "operation_index",
    "contract_id",
    "event_type",
    "from",
    "to",
    "asset",
    "asset_type",
    "asset_code",
    "asset_issuer",
    "amount_raw",
    "to_muxed_kind",
    "to_muxed_id",
    "to_muxed_text",
    "to_muxed_hash",
]


def events_from_batches(batches: Iterable[pa.RecordBatch]) -> Iterator[TokenEvent]:
    """Stored ``ttp_events`` rows (at least ``EVENT_COLUMNS_FOR_BALANCES``) back to events."""
    for batch in batches:
        for r in batch.to_pylist():
            if r["asset"] is None:
                asset = None
            elif r["asset"] == NATIVE:
                asset = NATIVE_INFO
            else:
                asset = AssetInfo(r["asset"], r["asset_type"], r["asset_code"], r["asset_issuer"])
            muxed = None
            kind = r.get("to_muxed_kind")
            if kind == MUXED_ID:
                muxed = MuxedInfo(kind, r["to_muxed_id"])
            elif kind == MUXED_TEXT:
                muxed = MuxedInfo(kind, r["to_muxed_text"])
            elif kind == MUXED_HASH:
                muxed = MuxedInfo(kind, bytes.fromhex(r["to_muxed_hash"]))
            closed = r["closed_at"]
            yield TokenEvent(
                ledger_sequence=r["ledger_sequence"],
                closed_at=int(closed.timestamp()) if hasattr(closed, "timestamp") else closed,
                tx_hash=r["transaction_hash"],
                transaction_index=r["transaction_index"],
                operation_index=r["operation_index"],
                contract_address=r["contract_id"],
                event_type=r["event_type"],
                from_address=r["from"],
                to_address=r["to"],
                asset=asset,
                amount=int(r["amount_raw"]),
                to_muxed_info=muxed,
            )
