"""LCM framing on real data: zstd, batches, record-marked streams, headers and their hashes."""

from __future__ import annotations

import struct

import pytest
from stellar_sdk import xdr

from ttp_assets.core.xdr.framing import (
    LedgerDataError,
    decompress_zstd,
    read_lcm_header,
    split_lcm_batch,
    split_record_marked,
    verify_header_hash,
)
from ttp_assets_tests.shared_data import bench_files, core_test_files, lake_files


def _batch(lcms: list[bytes], start: int) -> bytes:
    return struct.pack(">III", start, start + len(lcms) - 1, len(lcms)) + b"".join(lcms)


def test_every_real_header_hashes_to_its_recorded_hash() -> None:
    files = lake_files("pubnet") + lake_files("testnet-2022") + core_test_files() + bench_files()
    n = 0
    for f in files:
        for lcm in f.ledgers():
            info = read_lcm_header(lcm, f.label)
            verify_header_hash(info, f.label)
            n += 1
    assert n > 12000


def test_header_fields_of_the_pubnet_ledger() -> None:
    (lcm,) = lake_files("pubnet")[0].ledgers()
    info = read_lcm_header(lcm, "pubnet")
    assert (info.sequence, info.protocol_version, info.lcm_version) == (53312000, 21, 1)
    assert info.close_time == 1725274219  # 2024-09-02, as the data README says
    full = xdr.LedgerCloseMeta.from_xdr_bytes(lcm)
    assert info.header_xdr == full.v1.ledger_header.header.to_xdr_bytes()


def test_multi_ledger_batch_splits_into_exact_ledger_bytes() -> None:
    lcms = [f.ledgers()[0] for f in lake_files("testnet-2022")[:5]]
    start = read_lcm_header(lcms[0], "t").sequence
    s, e, parts = split_lcm_batch(_batch(lcms, start), "batch")
    assert (s, e) == (start, start + 4)
    assert parts == lcms


def test_batch_with_wrong_count_or_trailing_bytes_is_rejected() -> None:
    lcms = [f.ledgers()[0] for f in lake_files("testnet-2022")[:3]]
    start = read_lcm_header(lcms[0], "t").sequence
    bad_count = struct.pack(">III", start, start + 3, 3) + b"".join(lcms)
    with pytest.raises(LedgerDataError, match="holds 3 ledgers"):
        split_lcm_batch(bad_count, "batch")
    with pytest.raises(LedgerDataError, match="trailing bytes"):
        split_lcm_batch(_batch(lcms, start) + b"\0\0\0\0", "batch")
    with pytest.raises(LedgerDataError, match="does not decode"):
        split_lcm_batch(_batch(lcms, start)[:-100], "batch")


def test_truncated_and_corrupt_zstd_are_errors_that_name_the_object() -> None:
    path = lake_files("pubnet")[0].path
    data = path.read_bytes()
    with pytest.raises(LedgerDataError, match=r"obj\.zst: corrupt or truncated zstd"):
        decompress_zstd(data[:-1000], "obj.zst")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    with pytest.raises(LedgerDataError, match=r"obj\.zst"):
        decompress_zstd(bytes(flipped), "obj.zst")
    with pytest.raises(LedgerDataError):
        decompress_zstd(b"not zstd at all", "obj.zst")


def test_record_marked_stream_errors() -> None:
    rec = struct.pack(">I", 0x80000000 | 4) + b"abcd"
    assert split_record_marked(rec * 3, "s") == [b"abcd"] * 3
    with pytest.raises(LedgerDataError, match="claims 4 bytes"):
        split_record_marked(rec[:-1], "s")
    with pytest.raises(LedgerDataError, match="not a last-fragment"):
        split_record_marked(struct.pack(">I", 4) + b"abcd", "s")


def test_tampered_header_fails_hash_verification() -> None:
    (lcm,) = lake_files("pubnet")[0].ledgers()
    info = read_lcm_header(lcm, "pubnet")
    offset = lcm.index(info.header_xdr) + 200  # inside the header's hashes
    tampered = lcm[:offset] + bytes([lcm[offset] ^ 1]) + lcm[offset + 1 :]
    with pytest.raises(LedgerDataError, match=r"header hashes to .*\(tampered or corrupt"):
        verify_header_hash(read_lcm_header(tampered, "x"), "x")
    with pytest.raises(LedgerDataError, match="unknown LedgerCloseMeta version"):
        read_lcm_header(b"\0\0\0\x07" + lcm[4:], "x")
