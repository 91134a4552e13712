"""The errors of bad ledger data, in one place: what every stage raises and the assets report.

Both the native core (``core.native``) and the Python reference implementation used by the
differential tests raise these, so callers catch one set of classes whichever produced them.
"""

from __future__ import annotations


class LedgerDataError(ValueError):
    """Ledger bytes that cannot be trusted: corrupt compression, bad XDR, a broken hash."""


class TokenTransferError(ValueError):
    """A ledger's transactions break a rule the event derivation relies on.

    Raised for inconsistent operation changes (a claim without its removed claimable balance, a
    liquidity-pool operation without exactly one pool change, ...), malformed unified fee events,
    a wrong number of fee events, or a mode that does not fit the data. Contract events that are
    simply not token events are never errors: they are skipped.
    """


class StorageWriteError(OSError):
    """A write that failed (a full disk, a store refusing it), naming what and where."""

    @classmethod
    def wrap(cls, exc: OSError, table: str, key: str, path: str) -> StorageWriteError:
        reason = exc.strerror or str(exc)
        err = cls(
            exc.errno,
            f"cannot write {table} partition {key} to {path}: {reason}; nothing of it was "
            f"committed",
        )
        return err
