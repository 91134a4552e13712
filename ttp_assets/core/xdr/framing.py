"""Byte-level framing of ledger data: zstd objects, batches, record-marked streams, LCM headers.

Nothing here decodes a whole ``LedgerCloseMeta``: splitting and the header are read directly
from the bytes so that ingest stays cheap and hashes are computed over the exact bytes stored.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import pyarrow as pa
from stellar_sdk import xdr

from . import fastxdr

_skip_lcm = fastxdr.skipper(xdr.LedgerCloseMeta)
_skip_lcm_ext = fastxdr.skipper(xdr.LedgerCloseMetaExt)
_decode_header = fastxdr.decoder(xdr.LedgerHeader)


class LedgerDataError(ValueError):
    """Ledger bytes that cannot be trusted: corrupt compression, bad XDR, a broken hash."""


def decompress_zstd(data: bytes, where: str) -> bytes:
    """Decompress a whole zstd object, streaming (frames may carry no content size).

    pyarrow's stream reports truncated input, unlike ``zstandard.stream_reader`` which returns
    what it has without complaint.
    """
    try:
        stream = pa.CompressedInputStream(pa.BufferReader(data), "zstd")
        out = stream.read()
    except (OSError, pa.ArrowException) as exc:
        raise LedgerDataError(f"{where}: corrupt or truncated zstd data: {exc}") from exc
    if not out:
        raise LedgerDataError(f"{where}: zstd object decompressed to nothing")
    return out


def split_record_marked(raw: bytes, where: str) -> list[bytes]:
    """Split an XDR record-marked stream ([len|0x80000000][record]...) into its records."""
    out: list[bytes] = []
    pos, n = 0, len(raw)
    while pos < n:
        if pos + 4 > n:
            raise LedgerDataError(f"{where}: truncated record mark at byte {pos}")
        (mark,) = struct.unpack_from(">I", raw, pos)
        if not mark & 0x80000000:
            raise LedgerDataError(f"{where}: record at byte {pos} is not a last-fragment mark")
        size = mark & 0x7FFFFFFF
        if pos + 4 + size > n:
            raise LedgerDataError(
                f"{where}: record at byte {pos} claims {size} bytes, {n - pos - 4} remain"
            )
        out.append(raw[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


def split_lcm_batch(raw: bytes, where: str) -> tuple[int, int, list[bytes]]:
    """Split XDR ``LedgerCloseMetaBatch`` bytes into (start, end, [LCM bytes]).

    A one-ledger batch (what the public lake writes) is sliced without decoding; a larger batch
    is walked with the generated XDR skipper, which validates each ledger's structure and finds
    its byte boundaries without building it.
    """
    if len(raw) < 12:
        raise LedgerDataError(f"{where}: {len(raw)} bytes is too short for a LedgerCloseMetaBatch")
    start, end, count = struct.unpack_from(">III", raw, 0)
    if end < start or count != end - start + 1:
        raise LedgerDataError(
            f"{where}: batch header says ledgers {start}-{end} but holds {count} ledgers"
        )
    if count == 1:
        return start, end, [raw[12:]]
    pos = 12
    metas: list[bytes] = []
    try:
        for _ in range(count):
            begin = pos
            pos = _skip_lcm(raw, pos)
            metas.append(raw[begin:pos])
    except Exception as exc:  # ValueError on bad XDR, struct.error on truncated XDR
        raise LedgerDataError(
            f"{where}: XDR of ledger #{len(metas)} does not decode: {exc}"
        ) from exc
    if pos != len(raw):
        raise LedgerDataError(f"{where}: {len(raw) - pos} trailing bytes")
    return start, end, metas


@dataclass(frozen=True, slots=True)
class LedgerHeaderInfo:
    """The header of one LCM, read without decoding the rest of it."""

    lcm_version: int
    ledger_hash: bytes
    header_xdr: bytes
    header: xdr.LedgerHeader

    @property
    def sequence(self) -> int:
        return self.header.ledger_seq.uint32

    @property
    def previous_hash(self) -> bytes:
        return self.header.previous_ledger_hash.hash

    @property
    def protocol_version(self) -> int:
        return self.header.ledger_version.uint32

    @property
    def close_time(self) -> int:
        return self.header.scp_value.close_time.time_point.uint64

    @property
    def fee_pool(self) -> int:
        return self.header.fee_pool.int64

    def computed_hash(self) -> bytes:
        return hashlib.sha256(self.header_xdr).digest()


def read_lcm_header(lcm: bytes, where: str) -> LedgerHeaderInfo:
    """Parse the ``LedgerHeaderHistoryEntry`` at the front of an LCM (v0, v1 or v2)."""
    data = lcm if type(lcm) is bytes else bytes(lcm)
    try:
        (version,) = struct.unpack_from(">i", data, 0)
        if version not in (0, 1, 2):
            raise LedgerDataError(f"{where}: unknown LedgerCloseMeta version {version}")
        pos = _skip_lcm_ext(data, 4) if version in (1, 2) else 4
        begin = pos + 32
        header, end = _decode_header(data, begin)  # also checks the hash is all there
        ledger_hash = lcm[pos:begin]
        header_xdr = lcm[begin:end]
    except LedgerDataError:
        raise
    except Exception as exc:
        raise LedgerDataError(f"{where}: ledger header XDR does not decode: {exc}") from exc
    return LedgerHeaderInfo(version, ledger_hash, header_xdr, header)


def verify_header_hash(info: LedgerHeaderInfo, where: str) -> None:
    computed = info.computed_hash()
    if computed != info.ledger_hash:
        raise LedgerDataError(
            f"{where}: ledger {info.sequence} header hashes to {computed.hex()} but records "
            f"{info.ledger_hash.hex()} (tampered or corrupt data)"
        )
