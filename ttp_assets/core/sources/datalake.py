"""The galexie / SEP-54 data lake as a ledger source (local folder or S3).

Layout (``.config.json`` says how many ledgers per object and objects per partition)::

    <root>/.config.json
    <root>/<FFFFFFFF-partStart as %08X>--<partStart>-<partEnd>/   (only if batchesPerPartition > 1)
        <FFFFFFFF-fileStart as %08X>--<fileStart>[-<fileEnd>].xdr.zst   zstd(LedgerCloseMetaBatch)

Objects are fetched concurrently in a bounded window and yielded in ledger order; transient
store errors are retried with backoff, a missing object is a missing ledger (never retried).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from ..network import Network
from ..storage.location import Location, open_location
from ..xdr.framing import LedgerDataError, decompress_zstd, split_lcm_batch
from .base import (
    MissingLedgerError,
    SourceConfigError,
    SourcedLedger,
    SourceUnavailableError,
)
from .retry import RetryPolicy

log = logging.getLogger(__name__)

EXTENSIONS = (".xdr.zst", ".xdr.zstd")


@dataclass(frozen=True)
class LakeConfig:
    network_passphrase: str
    ledgers_per_batch: int
    batches_per_partition: int
    compression: str
    version: str

    @classmethod
    def parse(cls, raw: bytes, where: str) -> LakeConfig:
        try:
            cfg = json.loads(raw)
        except ValueError as exc:
            raise SourceConfigError(f"{where} is not valid JSON: {exc}") from exc
        if not isinstance(cfg, dict):
            raise SourceConfigError(f"{where} must hold a JSON object")
        try:
            out = cls(
                network_passphrase=str(cfg["networkPassphrase"]),
                ledgers_per_batch=int(cfg["ledgersPerBatch"]),
                batches_per_partition=int(cfg["batchesPerPartition"]),
                compression=str(cfg.get("compression", "zstd")),
                version=str(cfg.get("version", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceConfigError(f"{where}: missing or invalid field {exc}") from exc
        if out.ledgers_per_batch < 1 or out.batches_per_partition < 1:
            raise SourceConfigError(
                f"{where}: ledgersPerBatch and batchesPerPartition must be positive"
            )
        if out.compression != "zstd":
            raise SourceConfigError(f"{where}: unsupported compression {out.compression!r}")
        return out

    def batch_start(self, seq: int) -> int:
        return seq - seq % self.ledgers_per_batch

    def object_stem(self, seq: int) -> str:
        """Object key of the batch holding ``seq``, without its extension."""
        start = self.batch_start(seq)
        end = start + self.ledgers_per_batch - 1
        name = f"{0xFFFFFFFF - start:08X}--{start}"
        if end != start:
            name += f"-{end}"
        if self.batches_per_partition > 1:
            size = self.ledgers_per_batch * self.batches_per_partition
            p_start = seq - seq % size
            p_end = p_start + size - 1
            return f"{0xFFFFFFFF - p_start:08X}--{p_start}-{p_end}/{name}"
        return name


def _is_transient(exc: BaseException) -> bool:
    # A missing object is an answer, not a failure; corrupt data will not improve on retry.
    if isinstance(exc, FileNotFoundError) or _is_missing_key(exc):
        return False
    return isinstance(exc, (OSError, pa.ArrowException))


class DataLakeSource:
    """Reads ledgers from a SEP-54 data lake at ``uri`` for ``network``."""

    def __init__(
        self,
        uri: str | Location,
        network: Network,
        *,
        max_workers: int = 16,
        retry: RetryPolicy | None = None,
    ):
        self.location = uri if isinstance(uri, Location) else open_location(uri)
        self.network = network
        self.max_workers = max_workers
        self.retry = retry or RetryPolicy()
        self._config: LakeConfig | None = None
        self._extension: str | None = None
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"data lake {self.location.uri}"

    # -- configuration ---------------------------------------------------------------------
    @property
    def config(self) -> LakeConfig:
        if self._config is None:
            where = self.location.display(".config.json")
            try:
                raw = self._read(".config.json", missing=f"the data lake has no {where}")
            except MissingLedgerError as exc:
                # No description means no lake here (a wrong TTP_LAKE_URI or a store that is
                # gone), not a ledger that has yet to be written.
                raise SourceConfigError(
                    f"{exc}: check TTP_LAKE_URI and that the store is reachable"
                ) from exc
            cfg = LakeConfig.parse(raw, where)
            self.network.require_passphrase(cfg.network_passphrase, f"data lake {where}")
            self._config = cfg
        return self._config

    # -- object access ---------------------------------------------------------------------
    def _read(self, key: str, missing: str) -> bytes:
        path = self.location.path(key)

        def read() -> bytes:
            with self.location.fs.open_input_stream(path, compression=None) as f:
                return f.read()

        try:
            return self.retry.call(
                read, is_transient=_is_transient, what=self.location.display(key)
            )
        except FileNotFoundError as exc:
            raise MissingLedgerError(missing) from exc
        except (OSError, pa.ArrowException) as exc:
            if _is_missing_key(exc):
                raise MissingLedgerError(missing) from exc
            raise SourceUnavailableError(
                f"cannot read {self.location.display(key)} after {self.retry.attempts} "
                f"attempts: {exc}"
            ) from exc

    def _object_bytes(self, seq: int) -> tuple[bytes, str]:
        """Raw bytes of the object holding ``seq`` and its display name."""
        stem = self.config.object_stem(seq)
        candidates = [self._extension] if self._extension else list(EXTENSIONS)
        last_missing: MissingLedgerError | None = None
        for ext in candidates:
            key = stem + ext
            try:
                data = self._read(
                    key,
                    missing=f"ledger {seq} is missing from the data lake: "
                    f"{self.location.display(key)} does not exist",
                )
            except MissingLedgerError as exc:
                last_missing = exc
                continue
            with self._lock:
                self._extension = ext
            return data, self.location.display(key)
        assert last_missing is not None
        cfg = self.config
        layout = (
            f" (object names follow .config.json: ledgersPerBatch={cfg.ledgers_per_batch}, "
            f"batchesPerPartition={cfg.batches_per_partition})"
        )
        if len(candidates) > 1:
            names = " or ".join(self.location.display(stem + e) for e in EXTENSIONS)
            raise MissingLedgerError(
                f"ledger {seq} is missing from the data lake: neither {names} exists{layout}"
            ) from last_missing
        raise MissingLedgerError(str(last_missing) + layout) from last_missing

    def _fetch_batch(self, batch_start: int) -> tuple[str, list[tuple[int, bytes]]]:
        data, where = self._object_bytes(batch_start)
        raw = decompress_zstd(data, where)
        start, end, metas = split_lcm_batch(raw, where)
        expected_end = batch_start + self.config.ledgers_per_batch - 1
        if start != batch_start or end != expected_end:
            raise LedgerDataError(
                f"{where}: holds ledgers {start}-{end}, expected {batch_start}-{expected_end} "
                f"(is ledgersPerBatch in .config.json right?)"
            )
        return where, [(start + i, m) for i, m in enumerate(metas)]

    # -- LedgerSource ----------------------------------------------------------------------
    def ledgers(self, start: int, end: int) -> Iterator[SourcedLedger]:
        if end < start:
            return
        cfg = self.config
        batches = range(cfg.batch_start(start), end + 1, cfg.ledgers_per_batch)
        window = max(1, self.max_workers * 2)
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="lake") as pool:
            pending: deque[Future] = deque()
            it = iter(batches)
            try:
                for b in it:
                    pending.append(pool.submit(self._fetch_batch, b))
                    if len(pending) >= window:
                        break
                while pending:
                    where, items = pending.popleft().result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending.append(pool.submit(self._fetch_batch, nxt))
                    for seq, lcm in items:
                        if start <= seq <= end:
                            yield SourcedLedger(seq, lcm, where)
            finally:
                for f in pending:
                    f.cancel()

    def has_ledger(self, seq: int) -> bool:
        try:
            self._object_bytes_exists(seq)
        except MissingLedgerError:
            return False
        return True

    def _object_bytes_exists(self, seq: int) -> None:
        stem = self.config.object_stem(seq)
        for ext in [self._extension] if self._extension else EXTENSIONS:
            path = self.location.path(stem + ext)

            def info(p: str = path) -> object:
                return self.location.fs.get_file_info(p)

            fi = self.retry.call(info, is_transient=_is_transient, what=self.location.display(path))
            if fi.type.name == "File":
                self._extension = ext
                return
        raise MissingLedgerError(f"ledger {seq} is not in the data lake")

    def last_available(self, start: int, limit: int) -> int | None:
        """The last ledger in ``start..start+limit-1`` present without a gap from ``start``.

        The lake is written contiguously, so a binary search over object existence finds the
        edge in a handful of requests, on a local folder or on S3 alike.
        """
        if not self.has_ledger(start):
            return None
        lo, hi = start, start + limit - 1
        if self.has_ledger(hi):
            return hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.has_ledger(mid):
                lo = mid
            else:
                hi = mid
        return lo

    def latest_ledger(self) -> int | None:
        return None


# pyarrow reports a missing object as FileNotFoundError; these are the shapes of the same answer
# when it arrives as a plain OSError. Never a bare "404": ports and ledger numbers contain it.
_MISSING_KEY = re.compile(
    r"NO_SUCH_KEY|NoSuchKey|RESOURCE_NOT_FOUND|Path does not exist|"
    r"(?:response code|HTTP status|status code)[:= ]+404\b",
    re.IGNORECASE,
)


def _is_missing_key(exc: BaseException) -> bool:
    return _MISSING_KEY.search(str(exc)) is not None
