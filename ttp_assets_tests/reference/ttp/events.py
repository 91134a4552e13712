"""The token transfer event: the one record every TTP path (derived or unified) produces.

It mirrors the reference's ``TokenTransferEvent`` (one of transfer/mint/burn/clawback/fee plus its
``EventMeta``) flattened into one row-shaped value, with the amount as an exact Python int
instead of a decimal string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..xdr.assets import AssetInfo

TRANSFER: Final = "transfer"
MINT: Final = "mint"
BURN: Final = "burn"
CLAWBACK: Final = "clawback"
FEE: Final = "fee"
EVENT_TYPES: Final = (TRANSFER, MINT, BURN, CLAWBACK, FEE)

MUXED_ID: Final = "id"
MUXED_TEXT: Final = "text"
MUXED_HASH: Final = "hash"


@dataclass(frozen=True, slots=True)
class MuxedInfo:
    """The destination's multiplexing detail (``to_muxed_info``).

    ``kind`` is ``id`` (value: int, a uint64), ``text`` (value: str) or ``hash`` (value: bytes).
    """

    kind: str
    value: int | str | bytes


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """One token movement.

    ``from_address`` is set for transfer/burn/clawback/fee and ``to_address`` for
    transfer/mint; the other is None. ``operation_index`` and ``transaction_index`` are 1-based;
    fee events have no operation index. ``asset`` is None only for custom (non-SAC) tokens.
    ``amount`` is raw units (stroops for classic assets); fee refunds are negative.
    """

    ledger_sequence: int
    closed_at: int
    tx_hash: str
    transaction_index: int
    operation_index: int | None
    contract_address: str
    event_type: str
    from_address: str | None
    to_address: str | None
    asset: AssetInfo | None
    amount: int
    to_muxed_info: MuxedInfo | None = None


@dataclass(frozen=True, slots=True)
class TxEventContext:
    """The part of every event's meta that one transaction fixes (the reference's EventMeta)."""

    ledger_sequence: int
    closed_at: int
    tx_hash: str
    transaction_index: int

    def event(
        self,
        op_index0: int | None,
        contract_address: str,
        event_type: str,
        from_address: str | None,
        to_address: str | None,
        asset: AssetInfo | None,
        amount: int,
        to_muxed_info: MuxedInfo | None = None,
    ) -> TokenEvent:
        """An event of this transaction; ``op_index0`` is 0-based (None for fees) as internally."""
        return TokenEvent(
            self.ledger_sequence,
            self.closed_at,
            self.tx_hash,
            self.transaction_index,
            None if op_index0 is None else op_index0 + 1,
            contract_address,
            event_type,
            from_address,
            to_address,
            asset,
            amount,
            to_muxed_info,
        )


@dataclass(frozen=True, slots=True)
class TransactionEvents:
    """One transaction's events: its fee charge (and refund) and its operations' events."""

    fee_events: list[TokenEvent]
    operation_events: list[TokenEvent]
