"""fastxdr and decode_lcm on every real ledger of the shared data, and against the SDK.

The SDK comparison runs on a subset covering everything the data holds (see
``real_ledgers``), decoded once by the SDK and checked from every entry point in one pass;
nothing large is kept between tests, since pytest runs full collections after each one.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import struct
from concurrent.futures import ProcessPoolExecutor
from functools import cache

from stellar_sdk import xdr

from ttp_assets_tests.core.xdr.compare import assert_same
from ttp_assets_tests.core.xdr.real_ledgers import (
    RealLedger,
    covering_subset,
    real_ledgers,
    signature,
)
from ttp_assets_tests.reference.xdr import fastxdr
from ttp_assets_tests.reference.xdr.lcm_decoder import LcmParts, decode_lcm
from ttp_assets_tests.reference.xdr.ledger import tx_set_envelopes


def _survey(bounds: tuple[int, int]) -> list[frozenset[str]]:
    """Decode ledgers [lo, hi) once: round trip, skip, and what each holds."""
    out = []
    for led in real_ledgers()[bounds[0] : bounds[1]]:
        obj, end = fastxdr.decode(xdr.LedgerCloseMeta, led.data)
        assert end == len(led.data), led.label
        assert obj.to_xdr_bytes() == led.data, f"{led.label}: does not re-encode to its bytes"
        assert fastxdr.skip(xdr.LedgerCloseMeta, led.data) == end, led.label
        out.append(signature(obj))
    return out


@cache
def _signatures() -> tuple[frozenset[str], ...]:
    """The survey of every ledger, split over the cores (re-encoding with the SDK is slow)."""
    ledgers = real_ledgers()
    workers = max(1, min(2, os.cpu_count() or 1))
    total, acc, cuts = sum(len(x.data) for x in ledgers), 0, [0]
    for i, led in enumerate(ledgers):
        acc += len(led.data)
        if acc >= total * len(cuts) / workers and len(cuts) < workers:
            cuts.append(i + 1)
    cuts.append(len(ledgers))
    chunks = list(itertools.pairwise(cuts))
    if workers == 1:
        return tuple(_survey(chunks[0]))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return tuple(sig for part in pool.map(_survey, chunks) for sig in part)


@cache
def _subset() -> tuple[RealLedger, ...]:
    return tuple(covering_subset(list(real_ledgers()), list(_signatures())))


def test_every_real_ledger_round_trips_and_skips_to_its_end() -> None:
    ledgers, signatures = real_ledgers(), _signatures()
    assert len(ledgers) > 12000
    assert sum(len(x.data) for x in ledgers) > 100_000_000
    seen = frozenset().union(*signatures)
    # What the subset must cover: every LCM and tx-meta version, many protocols, all arms seen.
    assert {"lcm:0", "lcm:1", "lcm:2", "meta:2", "meta:3", "meta:4"} <= seen
    assert len({s for s in seen if s.startswith("protocol:")}) >= 10
    assert len(_subset()) < len(ledgers) / 10


def _body(lcm: xdr.LedgerCloseMeta) -> object:
    return {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]


def _parts(lcm: xdr.LedgerCloseMeta) -> list[tuple[type, object]]:
    """The sub-structures of a ledger that have their own entry points."""
    body = _body(lcm)
    out: list[tuple[type, object]] = [
        (xdr.LedgerHeaderHistoryEntry, body.ledger_header),
        (xdr.LedgerHeader, body.ledger_header.header),
        (type(body.tx_set), body.tx_set),
    ]
    out += [(xdr.TransactionEnvelope, env) for env in tx_set_envelopes(lcm)]
    for tp in body.tx_processing:
        out.append((xdr.TransactionResultPair, tp.result))
        out.append((xdr.LedgerEntryChanges, tp.fee_processing))
        out.append((xdr.TransactionMeta, tp.tx_apply_processing))
    return out


def test_the_covering_subset_decodes_exactly_as_the_sdk_from_every_entry_point() -> None:
    covered: set[str] = set()
    kinds: set[type] = set()
    for led in _subset():
        expected = xdr.LedgerCloseMeta.from_xdr_bytes(led.data)
        covered |= signature(expected)
        assert_same(fastxdr.decode_all(xdr.LedgerCloseMeta, led.data), expected, led.label)

        # Re-encoding with the SDK is slow: the small ledgers already hold every kind of part.
        for cls, part in _parts(expected) if len(led.data) < 200_000 else []:
            data = part.to_xdr_bytes()  # type: ignore[attr-defined]
            assert_same(fastxdr.decode_all(cls, data), part, f"{led.label} {cls.__name__}")
            assert fastxdr.skip(cls, data) == len(data)
            kinds.add(cls)

        full = decode_lcm(led.data, led.label)
        assert_same(full.lcm, expected, led.label)
        assert_same(full.envelopes, tx_set_envelopes(expected), led.label)
        light = decode_lcm(led.data, led.label, with_meta=False)
        assert (light.tx_set_hash, light.result_set_hash) == (
            full.tx_set_hash,
            full.result_set_hash,
        )
        assert light.payloads == full.payloads
        assert_same(light.envelopes, full.envelopes)
        assert_same(_body(light.lcm).ledger_header, _body(expected).ledger_header)
        assert_same(_body(light.lcm).tx_set, _body(expected).tx_set)
        results = [tp.result for tp in _body(expected).tx_processing]
        assert_same([tp.result for tp in _body(light.lcm).tx_processing], results)
    assert covered == frozenset().union(*_signatures())
    assert len(kinds) == 8


def _check_payloads(parts: LcmParts, network_id: bytes, label: str) -> None:
    """Each payload hashes to an applied transaction's hash, as the network computed it."""
    applied = {tp.result.transaction_hash.hash for tp in _body(parts.lcm).tx_processing}
    hashes = {hashlib.sha256(network_id + p).digest() for p in parts.payloads}
    assert hashes == applied, label


def test_every_verifiable_ledger_meets_its_commitments_without_building_meta() -> None:
    verified = 0
    for led in real_ledgers():
        if not led.verifiable:  # load-test tx sets are synthetic: no commitments, no hashes
            continue
        parts = decode_lcm(led.data, led.label, with_meta=False)
        parts.verify_commitments(led.label)
        _check_payloads(parts, led.network_id, led.label)
        verified += 1
        body = _body(parts.lcm)
        assert body.upgrades_processing is None and body.scp_info is None
        if parts.lcm.v:
            assert body.evicted_keys is None
        if parts.lcm.v == 1:
            assert body.unused is None
        for tp in body.tx_processing:
            assert tp.fee_processing is None and tp.tx_apply_processing is None
            if parts.lcm.v == 2:
                assert tp.post_tx_apply_fee_processing is None
    assert verified > 12000


def test_a_multi_ledger_batch_of_every_lcm_version() -> None:
    by_version: dict[int, bytes] = {}
    for led in _subset():
        by_version.setdefault(struct.unpack_from(">i", led.data)[0], led.data)
    assert sorted(by_version) == [0, 1, 2]
    batch = struct.pack(">III", 7, 9, 3) + b"".join(by_version.values())
    got = fastxdr.decode_all(xdr.LedgerCloseMetaBatch, batch)
    assert_same(got, xdr.LedgerCloseMetaBatch.from_xdr_bytes(batch))
    assert fastxdr.skip(xdr.LedgerCloseMetaBatch, batch) == len(batch)
