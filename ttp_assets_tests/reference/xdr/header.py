"""The header of an LCM read with the SDK's types (the reference for the native header check)."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from stellar_sdk import xdr

from ttp_assets.core.errors import LedgerDataError

from . import fastxdr

_skip_lcm = fastxdr.skipper(xdr.LedgerCloseMeta)
_skip_lcm_ext = fastxdr.skipper(xdr.LedgerCloseMetaExt)
_decode_header = fastxdr.decoder(xdr.LedgerHeader)


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


def split_lcm_batch_sdk(raw: bytes, where: str) -> tuple[int, int, list[bytes]]:
    """``LedgerCloseMetaBatch`` bytes split with the SDK's decoders (reference for the native)."""
    start, end, count = struct.unpack_from(">III", raw, 0)
    pos = 12
    metas: list[bytes] = []
    try:
        for _ in range(count):
            begin = pos
            pos = _skip_lcm(raw, pos)
            metas.append(raw[begin:pos])
    except Exception as exc:
        raise LedgerDataError(
            f"{where}: XDR of ledger #{len(metas)} does not decode: {exc}"
        ) from exc
    return start, end, metas
