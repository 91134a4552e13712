"""The error the reference processor raises: the platform's own ``TokenTransferError``."""

from __future__ import annotations

from ttp_assets.core.errors import TokenTransferError

__all__ = ["TokenTransferError", "operation_error"]


def operation_error(
    ledger_sequence: int, tx_hash: str, op_index0: int, op_type: str, reason: str
) -> TokenTransferError:
    """The error for one operation, naming where it happened (operation index 1-based)."""
    return TokenTransferError(
        f"failed to process token transfer events for ledger {ledger_sequence}, tx {tx_hash}, "
        f"operation {op_index0 + 1} (1-based) of type {op_type}: {reason}"
    )
