"""The one error the token transfer processor raises for data it cannot turn into events."""

from __future__ import annotations


class TokenTransferError(ValueError):
    """A ledger's transactions break a rule the event derivation relies on.

    Raised for inconsistent operation changes (a claim without its removed claimable balance, a
    liquidity-pool operation without exactly one pool change, ...), malformed unified fee events,
    a wrong number of fee events, or a mode that does not fit the data. Contract events that are
    simply not token events are never errors: they are skipped.
    """


def operation_error(
    ledger_sequence: int, tx_hash: str, op_index0: int, op_type: str, reason: str
) -> TokenTransferError:
    """The error for one operation, naming where it happened (operation index 1-based)."""
    return TokenTransferError(
        f"failed to process token transfer events for ledger {ledger_sequence}, tx {tx_hash}, "
        f"operation {op_index0 + 1} (1-based) of type {op_type}: {reason}"
    )
