"""LCM framing on real data: zstd, batches, record-marked streams, headers and their hashes.

Headers are read by the native core (``read_headers``, the ``raw_ledgers_header_hashes``
check) and compared with the reference reader built on the SDK's types.
"""

from __future__ import annotations

import struct

import pyarrow as pa
import pytest
from stellar_sdk import xdr

from ttp_assets.core.native import LedgerCore, read_headers
from ttp_assets.core.xdr.framing import (
    LedgerDataError,
    decompress_zstd,
    split_lcm_batch,
    split_record_marked,
)
from ttp_assets_tests.reference.xdr.header import read_lcm_header
from ttp_assets_tests.shared_data import bench_files, core_test_files, lake_files


def _batch(lcms: list[bytes], start: int) -> bytes:
    return struct.pack(">III", start, start + len(lcms) - 1, len(lcms)) + b"".join(lcms)


def test_every_real_header_hashes_to_its_recorded_hash() -> None:
    files = (
        lake_files("pubnet")
        + lake_files("pubnet-p26")
        + lake_files("testnet-2022")
        + core_test_files()
        + bench_files()
    )
    lcms = [lcm for f in files for lcm in f.ledgers()]
    headers = read_headers(pa.array(lcms, pa.binary()))
    assert len(headers) == len(lcms) > 12000
    for lcm, header in zip(lcms, headers, strict=True):
        assert header.problem is None
        assert header.computed_hash == header.recorded_hash
        reference = read_lcm_header(lcm, "reference")
        assert header.recorded_hash == reference.ledger_hash.hex()
        assert header.sequence == reference.sequence


def test_header_fields_of_the_pubnet_ledger() -> None:
    (lcm,) = lake_files("pubnet")[0].ledgers()
    (header,) = read_headers([lcm])
    assert header.sequence == 53312000
    full = xdr.LedgerCloseMeta.from_xdr_bytes(lcm)
    assert header.recorded_hash == full.v1.ledger_header.hash.hash.hex()
    raw = LedgerCore(lake_files("pubnet")[0].network).process([lcm], ["raw_ledgers"])
    (row,) = raw.tables["raw_ledgers"][0].to_pylist()
    assert (row["protocol_version"], row["lcm_version"]) == (21, 1)
    assert row["closed_at"].timestamp() == 1725274219  # 2024-09-02, as the data README says


def test_multi_ledger_batch_splits_into_exact_ledger_bytes() -> None:
    lcms = [f.ledgers()[0] for f in lake_files("testnet-2022")[:5]]
    start = read_headers([lcms[0]])[0].sequence
    assert start is not None
    s, e, parts = split_lcm_batch(_batch(lcms, start), "batch")
    assert (s, e) == (start, start + 4)
    assert parts == lcms


def test_batch_with_wrong_count_or_trailing_bytes_is_rejected() -> None:
    lcms = [f.ledgers()[0] for f in lake_files("testnet-2022")[:3]]
    start = read_headers([lcms[0]])[0].sequence
    assert start is not None
    bad_count = struct.pack(">III", start, start + 3, 3) + b"".join(lcms)
    with pytest.raises(LedgerDataError, match="holds 3 ledgers"):
        split_lcm_batch(bad_count, "batch")
    with pytest.raises(LedgerDataError, match=r"batch: .*trailing bytes"):
        split_lcm_batch(_batch(lcms, start) + b"\0\0\0\0", "batch")
    with pytest.raises(LedgerDataError, match=r"batch: XDR of ledger #2 .* does not decode"):
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
    network = lake_files("pubnet")[0].network
    info = read_lcm_header(lcm, "pubnet")
    offset = lcm.index(info.header_xdr) + 200  # inside the header's hashes
    tampered = lcm[:offset] + bytes([lcm[offset] ^ 1]) + lcm[offset + 1 :]
    (header,) = read_headers([tampered])
    assert header.problem is None and header.computed_hash != header.recorded_hash
    with pytest.raises(
        LedgerDataError, match=r"obj: ledger 53312000 header hashes to .*\(tampered"
    ):
        LedgerCore(network).process([tampered], ["raw_ledgers"], labels=["obj"])
    (bad,) = read_headers([b"\0\0\0\x07" + lcm[4:]])
    assert bad.problem is not None and "unknown LedgerCloseMeta version 7" in bad.problem
