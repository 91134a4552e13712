"""Malformed XDR: every kind of damage raises a clear error, quickly, never garbage.

Through the fastxdr API the error is ``XdrError`` (a ``ValueError``); through ``decode_lcm``,
``split_lcm_batch`` and ``read_lcm_header`` it is the project's ``LedgerDataError``.
"""

from __future__ import annotations

import random
import struct
import time
from functools import cache

import pytest
from stellar_sdk import xdr

from ttp_assets.core.xdr.framing import LedgerDataError, split_lcm_batch
from ttp_assets_tests.core.xdr.real_ledgers import real_ledgers
from ttp_assets_tests.reference.xdr import fastxdr
from ttp_assets_tests.reference.xdr.header import read_lcm_header
from ttp_assets_tests.reference.xdr.lcm_decoder import decode_lcm


@cache
def _small_ledgers() -> dict[int, bytes]:
    """A small real ledger with transactions, per LCM version."""
    out: dict[int, bytes] = {}
    for led in sorted(real_ledgers(), key=lambda x: len(x.data)):
        v = struct.unpack_from(">i", led.data)[0]
        if v in out or len(led.data) < 3000:
            continue
        lcm = xdr.LedgerCloseMeta.from_xdr_bytes(led.data)
        body = {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[v]
        if body.tx_processing:
            out[v] = led.data
    assert sorted(out) == [0, 1, 2]
    return out


def _refused_everywhere(data: bytes, match: str | None = None) -> None:
    with pytest.raises(fastxdr.XdrError, match=match):
        fastxdr.decode_all(xdr.LedgerCloseMeta, data)
    with pytest.raises(LedgerDataError, match=r"does not decode|unknown|trailing|exceeds"):
        decode_lcm(data, "here")
    try:
        end = fastxdr.skip(xdr.LedgerCloseMeta, data)
    except fastxdr.XdrError:
        return
    assert end != len(data), "skip accepts what decode refuses"


def test_truncated_ledgers_are_refused_at_every_cut() -> None:
    rng = random.Random(5)
    started = time.perf_counter()
    cuts = 0
    for data in _small_ledgers().values():
        # Every word boundary in the first 2 KB (header, tx set), then random cuts.
        points = list(range(0, 2048, 4)) + rng.sample(range(len(data)), 300)
        for cut in points:
            _refused_everywhere(data[:cut])
            cuts += 1
        with pytest.raises(LedgerDataError, match="ledger header XDR does not decode"):
            read_lcm_header(data[:200], "here")
    assert cuts > 2000
    assert time.perf_counter() - started < 60  # nothing loops or allocates by a bad length


def test_trailing_bytes_are_refused() -> None:
    for data in _small_ledgers().values():
        with pytest.raises(fastxdr.XdrError, match="4 trailing bytes"):
            fastxdr.decode_all(xdr.LedgerCloseMeta, data + b"\0\0\0\0")
        with pytest.raises(LedgerDataError, match="here: 4 trailing bytes after the LCM"):
            decode_lcm(data + b"\0\0\0\0", "here")
        assert fastxdr.skip(xdr.LedgerCloseMeta, data + b"\0\0\0\0") == len(data)
    lcms = list(_small_ledgers().values())
    batch = struct.pack(">III", 1, 3, 3) + b"".join(lcms)
    assert split_lcm_batch(batch, "b")[2] == lcms
    with pytest.raises(LedgerDataError, match="b: 8 trailing bytes"):
        split_lcm_batch(batch + bytes(8), "b")


def test_unknown_union_discriminants_are_refused() -> None:
    data = _small_ledgers()[1]
    bad = struct.pack(">i", 3) + data[4:]
    with pytest.raises(fastxdr.XdrError, match="invalid LedgerCloseMeta discriminant 3"):
        fastxdr.decode_all(xdr.LedgerCloseMeta, bad)
    with pytest.raises(LedgerDataError, match="here: unknown LedgerCloseMeta version 3"):
        decode_lcm(bad, "here")
    with pytest.raises(LedgerDataError, match="unknown LedgerCloseMeta version 3"):
        read_lcm_header(bad, "here")
    # The LedgerCloseMetaExt union right after the version.
    bad_ext = data[:4] + struct.pack(">i", 9) + data[8:]
    with pytest.raises(fastxdr.XdrError, match="invalid LedgerCloseMetaExt discriminant 9"):
        fastxdr.decode_all(xdr.LedgerCloseMeta, bad_ext)
    with pytest.raises(LedgerDataError, match="LedgerCloseMeta XDR does not decode"):
        decode_lcm(bad_ext, "here")
    with pytest.raises(LedgerDataError, match="ledger header XDR does not decode"):
        read_lcm_header(bad_ext, "here")
    # The first envelope's type, inside a multi-ledger batch.
    v0 = _small_ledgers()[0]
    lcm = xdr.LedgerCloseMeta.from_xdr_bytes(v0)
    at = 4 + len(lcm.v0.ledger_header.to_xdr_bytes()) + 32 + 4
    assert struct.unpack_from(">i", v0, at)[0] in (0, 2, 5)
    bad_env = v0[:at] + struct.pack(">i", 77) + v0[at + 4 :]
    _refused_everywhere(bad_env, match="invalid TransactionEnvelope discriminant 77")
    batch = struct.pack(">III", 1, 2, 2) + v0 + bad_env
    with pytest.raises(LedgerDataError, match=r"XDR of ledger #1 .*does not decode"):
        split_lcm_batch(batch, "b")


def _contract_data_key() -> xdr.LedgerKey:
    return xdr.LedgerKey(
        xdr.LedgerEntryType.CONTRACT_DATA,
        contract_data=xdr.LedgerKeyContractData(
            xdr.SCAddress(
                xdr.SCAddressType.SC_ADDRESS_TYPE_CONTRACT,
                contract_id=xdr.ContractID(xdr.Hash(bytes(32))),
            ),
            xdr.SCVal(xdr.SCValType.SCV_BOOL, b=True),
            xdr.ContractDataDurability.PERSISTENT,
        ),
    )


def test_unknown_enum_values_and_non_canonical_words_are_refused() -> None:
    data = _contract_data_key().to_xdr_bytes()
    assert fastxdr.decode_all(xdr.LedgerKey, data) == xdr.LedgerKey.from_xdr_bytes(data)
    bad = data[:-4] + struct.pack(">i", 9)  # durability
    with pytest.raises(fastxdr.XdrError, match="invalid ContractDataDurability value 9"):
        fastxdr.decode_all(xdr.LedgerKey, bad)
    with pytest.raises(fastxdr.XdrError, match="invalid ContractDataDurability value 9"):
        fastxdr.skip(xdr.LedgerKey, bad)
    with pytest.raises(ValueError):
        xdr.LedgerKey.from_xdr_bytes(bad)
    # The SDK reads a bool word of 2 as True (and re-encodes it as 1); fastxdr refuses it.
    bad_bool = data[:-8] + struct.pack(">I", 2) + data[-4:]
    assert xdr.LedgerKey.from_xdr_bytes(bad_bool).to_xdr_bytes() != bad_bool
    with pytest.raises(fastxdr.XdrError, match="invalid bool value 2"):
        fastxdr.decode_all(xdr.LedgerKey, bad_bool)
    with pytest.raises(fastxdr.XdrError, match="invalid bool value 2"):
        fastxdr.skip(xdr.LedgerKey, bad_bool)
    # Same for an optional's presence word.
    vec = xdr.SCVal(xdr.SCValType.SCV_VEC, vec=xdr.SCVec([])).to_xdr_bytes()
    bad_flag = vec[:4] + struct.pack(">I", 2) + vec[8:]
    with pytest.raises(fastxdr.XdrError, match="invalid optional presence flag 2"):
        fastxdr.decode_all(xdr.SCVal, bad_flag)


def test_lengths_beyond_the_input_or_the_maximum_are_refused_fast() -> None:
    started = time.perf_counter()
    # An array count far beyond what remains: refused before any item is read.
    huge = struct.pack(">I", 0xFFFFFFF0) + bytes(8)
    with pytest.raises(fastxdr.XdrError, match="exceeds remaining input length 8"):
        fastxdr.decode_all(xdr.LedgerEntryChanges, huge)
    with pytest.raises(fastxdr.XdrError, match="exceeds remaining input length 8"):
        fastxdr.skip(xdr.LedgerEntryChanges, huge)
    data = _small_ledgers()[2]
    lcm = xdr.LedgerCloseMeta.from_xdr_bytes(data)
    body = lcm.v2
    at = 4 + 4 + len(body.ledger_header.to_xdr_bytes()) + len(body.tx_set.to_xdr_bytes())
    assert struct.unpack_from(">I", data, at)[0] == len(body.tx_processing)
    bad = data[:at] + struct.pack(">I", 0x7FFFFFFF) + data[at + 4 :]
    _refused_everywhere(bad, match="exceeds remaining input length")
    # Opaque data longer than the input.
    sc_bytes = struct.pack(">iI", xdr.SCValType.SCV_BYTES, 1000) + bytes(16)
    with pytest.raises(fastxdr.XdrError, match="opaque of 1000 bytes at byte 8 runs past the end"):
        fastxdr.decode_all(xdr.SCVal, sc_bytes)
    with pytest.raises(fastxdr.XdrError):
        fastxdr.skip(xdr.SCVal, sc_bytes)
    # Missing padding after the last opaque byte, which slicing alone would not notice.
    with pytest.raises(fastxdr.XdrError, match="runs past the end"):
        fastxdr.decode_all(xdr.SCVal, struct.pack(">iI", xdr.SCValType.SCV_BYTES, 3) + b"abc")
    # A string and an array over their XDR maximums (the SDK checks the array in __init__).
    memo = struct.pack(">iI", xdr.MemoType.MEMO_TEXT, 29) + bytes(32)
    with pytest.raises(fastxdr.XdrError, match="string length 29 exceeds maximum 28"):
        fastxdr.decode_all(xdr.Memo, memo)
    with pytest.raises(ValueError):
        xdr.Memo.from_xdr_bytes(memo)
    sig = xdr.DecoratedSignature(xdr.SignatureHint(bytes(4)), xdr.Signature(bytes(64)))
    tx = xdr.TransactionV1Envelope(_a_transaction(), [sig])
    raw = tx.to_xdr_bytes()
    count_at = len(tx.tx.to_xdr_bytes())
    many = raw[:count_at] + struct.pack(">I", 21) + sig.to_xdr_bytes() * 21
    with pytest.raises(fastxdr.XdrError, match="array length 21 exceeds maximum 20"):
        fastxdr.decode_all(xdr.TransactionV1Envelope, many)
    with pytest.raises(ValueError):
        xdr.TransactionV1Envelope.from_xdr_bytes(many)
    assert time.perf_counter() - started < 5


def _a_transaction() -> xdr.Transaction:
    for led in real_ledgers():
        lcm = xdr.LedgerCloseMeta.from_xdr_bytes(led.data) if len(led.data) < 20000 else None
        if lcm is not None and lcm.v == 0 and lcm.v0.tx_set.txs:
            env = lcm.v0.tx_set.txs[0]
            if env.v1 is not None:
                return env.v1.tx
    raise AssertionError("no v1 envelope in a small v0 ledger")


def _nested_vec(depth: int) -> bytes:
    """An SCVal that is a vector holding a vector ... ``depth`` deep, around a void."""
    head = struct.pack(">iII", xdr.SCValType.SCV_VEC, 1, 1)
    return head * depth + struct.pack(">i", xdr.SCValType.SCV_VOID)


def test_nesting_is_limited_as_in_the_sdk() -> None:
    shallow = _nested_vec(100)
    assert fastxdr.decode_all(xdr.SCVal, shallow) == xdr.SCVal.from_xdr_bytes(shallow)
    assert fastxdr.skip(xdr.SCVal, shallow) == len(shallow)
    deep = _nested_vec(600)
    with pytest.raises(ValueError, match="Maximum decoding depth reached"):
        xdr.SCVal.from_xdr_bytes(deep)
    with pytest.raises(fastxdr.XdrError, match="Maximum decoding depth reached"):
        fastxdr.decode_all(xdr.SCVal, deep)
    with pytest.raises(fastxdr.XdrError, match="Maximum decoding depth reached"):
        fastxdr.skip(xdr.SCVal, deep)


def test_positions_outside_the_input_and_unknown_types_are_refused() -> None:
    data = _small_ledgers()[0]
    with pytest.raises(fastxdr.XdrError, match="outside"):
        fastxdr.decode(xdr.LedgerCloseMeta, data, -4)
    with pytest.raises(fastxdr.XdrError, match="outside"):
        fastxdr.skip(xdr.LedgerCloseMeta, data, len(data) + 1)
    with pytest.raises(KeyError, match="not reachable"):
        fastxdr.decode(xdr.AuthenticatedMessage, data)
    with pytest.raises(KeyError, match="not reachable"):
        fastxdr.decoder("NoSuchType")
