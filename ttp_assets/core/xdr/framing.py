"""Byte-level framing of ledger data: zstd objects, LCM batches, record-marked streams.

Nothing here decodes a ledger: the native core does (``core.native``). Splitting a
``LedgerCloseMetaBatch`` of several ledgers needs their XDR lengths, so that one step asks the
native core where each ledger ends.
"""

from __future__ import annotations

import struct

import pyarrow as pa

from ..errors import LedgerDataError
from ..native import split_lcm_batch_offsets

__all__ = [
    "LedgerDataError",
    "decompress_zstd",
    "split_lcm_batch",
    "split_record_marked",
]


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
    is walked by the native core, which decodes each ledger to find where it ends.
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
    try:
        start, end, spans = split_lcm_batch_offsets(raw)
    except LedgerDataError as exc:
        raise LedgerDataError(f"{where}: {exc}") from exc
    return start, end, [raw[offset : offset + length] for offset, length in spans]
