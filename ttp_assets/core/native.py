"""The native ledger core (the Rust crate in ``native/``): LCM bytes in, verified tables out.

This is the one way ledgers are decoded at run time. A batch of ``LedgerCloseMeta`` XDR (a
pyarrow binary array) goes in with the network and the token-event mode; Arrow record batches of
every table the ledger stages write come out through the Arrow C data interface, typed by
``core.schemas`` (the core refuses to start if its builders disagree with those schemas). The
core verifies every ledger as it goes (header hash, tx-set and result commitments, transactions
paired with their envelopes under the passphrase, and the sequence and hash chain when the
caller says where the batch starts), releases the GIL and processes the ledgers of a batch in
parallel, in ledger order. There is no Python fallback: a failure is an error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa
import ttp_native

from . import schemas
from .errors import LedgerDataError, TokenTransferError
from .network import Network, NetworkMismatchError

RAW = "raw_ledgers"
# sha256 of the crate's sources, manifest and lock file, computed when it was built.
SOURCE_HASH: str = ttp_native.SOURCE_HASH
DECODED = ("ledgers", "transactions", "operations")
TOKEN_EVENTS = ("ttp_events", "balance_changes")
TOKEN_METADATA = "token_metadata"

_ERRORS: dict[type[BaseException], type[Exception]] = {
    ttp_native.LedgerDataError: LedgerDataError,
    ttp_native.TokenTransferError: TokenTransferError,
    ttp_native.NetworkMismatchError: NetworkMismatchError,
}


def default_threads() -> int:
    """All the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class BatchResult:
    """What one batch produced: the tables asked for, and what the ledgers were."""

    tables: dict[str, list[pa.RecordBatch]]
    ledgers: int
    xdr_bytes: int
    sequences: list[int]
    last_hash: bytes | None
    first_close_time: int | None
    last_close_time: int | None
    events: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    ledgers_by_derivation: dict[str, int] = field(default_factory=dict)


def as_binary_array(lcm: pa.Array | pa.ChunkedArray | Sequence[bytes]) -> pa.Array:
    """LCM bytes as one Arrow ``binary`` array (zero-copy for a binary array)."""
    if isinstance(lcm, pa.ChunkedArray):
        lcm = lcm.combine_chunks()
    if not isinstance(lcm, pa.Array):
        return pa.array(lcm, pa.binary())
    if lcm.type != pa.binary():
        lcm = lcm.cast(pa.binary())
    return lcm


class LedgerCore:
    """The native core for one network, token-event mode and number of threads."""

    def __init__(self, network: Network, mode: str = "auto", threads: int = 0) -> None:
        self.network = network
        self.mode = mode
        self.threads = threads or default_threads()
        self._core = ttp_native.LedgerCore(
            network.passphrase, network.name, mode, self.threads, dict(schemas.NATIVE_TABLES)
        )

    def process(
        self,
        lcm: pa.Array | pa.ChunkedArray | Sequence[bytes],
        tables: Sequence[str],
        *,
        first_sequence: int | None = None,
        previous_hash: bytes | None = None,
        labels: Sequence[str] | None = None,
        check_commitments: bool = True,
    ) -> BatchResult:
        """Verify and process a batch; raises (and returns nothing of it) on any bad ledger.

        ``first_sequence`` / ``previous_hash`` pin the batch in its chain: the ledgers must be
        ``first_sequence, first_sequence + 1, ...`` and link to ``previous_hash``. ``labels``
        name the ledgers in error messages (e.g. the lake object each came from).
        ``check_commitments=False`` skips only the tx-set and result commitments, for synthetic
        load-test ledgers whose tx sets were rewritten after the header was made; the
        platform's stages never pass it.
        """
        try:
            out = self._core.process(
                as_binary_array(lcm),
                list(tables),
                first_sequence=first_sequence,
                previous_hash=previous_hash,
                labels=list(labels) if labels is not None else None,
                check_commitments=check_commitments,
            )
        except ttp_native.NativeError as exc:
            raise _ERRORS.get(type(exc), RuntimeError)(str(exc)) from exc
        return BatchResult(**out)


@lru_cache(maxsize=32)
def ledger_core(network: Network, mode: str = "auto", threads: int = 0) -> LedgerCore:
    """A shared core per (network, mode, threads): creating one checks every schema."""
    return LedgerCore(network, mode, threads)


@dataclass(frozen=True)
class HeaderRead:
    """An LCM's header read on its own: hashes as hex, or why it could not be read."""

    sequence: int | None
    recorded_hash: str | None
    computed_hash: str | None  # sha256 of the stored header bytes
    problem: str | None


def read_headers(lcm: pa.Array | Sequence[bytes]) -> list[HeaderRead]:
    """The header of every LCM of a batch, decoding nothing else."""
    return [HeaderRead(*row) for row in ttp_native.read_headers(as_binary_array(lcm))]


def split_lcm_batch_offsets(data: bytes) -> tuple[int, int, list[tuple[int, int]]]:
    """(first, last, [(offset, length)]) of the LCMs in ``LedgerCloseMetaBatch`` bytes."""
    try:
        return ttp_native.split_lcm_batch(data)
    except ttp_native.NativeError as exc:
        raise LedgerDataError(str(exc)) from exc
