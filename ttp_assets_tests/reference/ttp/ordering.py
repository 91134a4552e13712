"""The order of a ledger's events (§3), which depends on the ledger's protocol version.

Fees are charged for every transaction before any is applied. Before protocol 23 a Soroban
refund is paid right after its transaction; from 23 on, all refunds are paid after the last
transaction. Neither the meta version nor the CAP-67 event stage is consulted.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import TokenTransferError
from .events import TokenEvent, TransactionEvents

FIRST_PROTOCOL_WITH_DEFERRED_REFUNDS = 23


def ledger_order(
    ledger_sequence: int,
    protocol_version: int,
    per_transaction: Sequence[tuple[str, TransactionEvents]],
) -> list[TokenEvent]:
    """All events of a ledger from (tx hash, events) of its transactions in apply order."""
    charges: list[TokenEvent] = []
    body: list[TokenEvent] = []
    refunds: list[TokenEvent] = []
    deferred = protocol_version >= FIRST_PROTOCOL_WITH_DEFERRED_REFUNDS
    for tx_hash, tx_events in per_transaction:
        fees = tx_events.fee_events
        if not 1 <= len(fees) <= 2:
            raise TokenTransferError(
                f"ledger {ledger_sequence}, tx {tx_hash}: {len(fees)} fee events, expected 1 or 2"
            )
        charges.append(fees[0])
        body.extend(tx_events.operation_events)
        if len(fees) == 2:
            (refunds if deferred else body).append(fees[1])
    return charges + body + refunds
