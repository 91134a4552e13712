"""What every ledger source provides, and the errors they raise."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class SourceError(RuntimeError):
    """A source could not provide the ledgers asked for."""


class MissingLedgerError(SourceError):
    """A ledger that should exist is not in the source."""


class SourceUnavailableError(SourceError):
    """The source is unreachable or kept failing after retries."""


class SourceConfigError(SourceError):
    """The source's own description of itself is wrong or unusable."""


@dataclass(frozen=True, slots=True)
class SourcedLedger:
    sequence: int
    lcm: bytes  # LedgerCloseMeta XDR
    origin: str  # the object or request it came from, for messages


class LedgerSource(Protocol):
    """A source of ``LedgerCloseMeta`` bytes by sequence number."""

    @property
    def description(self) -> str: ...

    def ledgers(self, start: int, end: int) -> Iterator[SourcedLedger]:
        """Ledgers ``start..end`` inclusive, in order, each exactly once, or an error."""
        ...

    def latest_ledger(self) -> int | None:
        """The newest ledger the source can serve, or None if it cannot tell cheaply."""
        ...
