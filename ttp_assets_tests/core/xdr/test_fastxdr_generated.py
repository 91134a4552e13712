"""Every generated decoder against the SDK, on random encodings of every type and union arm.

Real ledgers exercise the types the network uses; these cover the rest of the model (every arm
of every union, every enum, max-length fields), with bytes made from the model rather than from
SDK objects, and mutated bytes that both decoders must refuse or agree on.
"""

from __future__ import annotations

import random
import struct

import pytest
from stellar_sdk import xdr

from ttp_assets_tests.core.xdr.compare import assert_same
from ttp_assets_tests.core.xdr.random_xdr import RandomXdr
from ttp_assets_tests.reference.xdr import fastxdr
from ttp_assets_tests.reference.xdr.fastxdr.model import EnumDef, UnionDef

MODEL = fastxdr.type_model()
CLASSES = sorted(MODEL.defs, key=lambda c: c.__name__)


def _sdk(cls: type, data: bytes) -> object:
    return cls.from_xdr_bytes(data)  # type: ignore[attr-defined]


def _samples(rx: RandomXdr, cls: type, per_arm: int) -> list[bytes]:
    d = MODEL[cls]
    if isinstance(d, UnionDef):
        return [rx.encode(cls, i) for i in range(len(d.arms)) for _ in range(per_arm)]
    if isinstance(d, EnumDef):
        return [struct.pack(">i", v) for v in d.members]
    return [rx.encode(cls) for _ in range(per_arm * 2)]


def test_the_model_covers_the_ledger_types() -> None:
    names = {c.__name__ for c in CLASSES}
    assert len(CLASSES) > 300
    for root in fastxdr.ROOTS:
        assert root.__name__ in names
    assert {"SCVal", "LedgerEntry", "TransactionMetaV4", "OperationResult"} <= names


def test_every_type_and_arm_decodes_exactly_as_the_sdk() -> None:
    rx = RandomXdr(MODEL, random.Random(1))
    checked = 0
    for cls in CLASSES:
        for data in _samples(rx, cls, per_arm=3):
            expected = _sdk(cls, data)
            got = fastxdr.decode_all(cls, data)
            assert_same(got, expected, cls.__name__)
            assert fastxdr.skip(cls, data) == len(data), cls.__name__
            if not isinstance(MODEL[cls], EnumDef):
                assert got.to_xdr_bytes() == data, cls.__name__
            checked += 1
    assert checked > 2000


def test_decoding_at_an_offset_returns_the_end_offset() -> None:
    rx = RandomXdr(MODEL, random.Random(2))
    data = rx.encode(xdr.TransactionEnvelope)
    prefix = b"\x01\x02\x03\x04" * 3
    obj, end = fastxdr.decode(xdr.TransactionEnvelope, prefix + data + b"tail", len(prefix))
    assert end == len(prefix) + len(data)
    assert obj == xdr.TransactionEnvelope.from_xdr_bytes(data)
    assert fastxdr.skip("TransactionEnvelope", prefix + data + b"tail", len(prefix)) == end


def _mutations(data: bytes, rng: random.Random, n: int) -> list[bytes]:
    words = len(data) // 4
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.15 or words == 0:
            out.append(data[: rng.randrange(len(data) + 1)])
            continue
        i = rng.randrange(words) * 4
        value = rng.choice([0, 1, 2, 3, 7, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE, rng.getrandbits(32)])
        out.append(data[:i] + struct.pack(">I", value) + data[i + 4 :])
    return out


@pytest.mark.parametrize("seed", [3, 4])
def test_mutated_encodings_are_refused_or_decode_as_the_sdk(seed: int) -> None:
    """Either both refuse, or both decode to the same objects.

    The one allowed difference: the SDK reads any non-zero bool or optional-presence word as
    true, fastxdr refuses words other than 0 and 1. Such input does not re-encode to itself.
    """
    rng = random.Random(seed)
    rx = RandomXdr(MODEL, rng, max_depth=5)
    stricter = agreed_errors = agreed = 0
    for cls in CLASSES:
        if isinstance(MODEL[cls], EnumDef):
            continue
        for data in _mutations(rx.encode(cls), rng, 20):
            try:
                expected = _sdk(cls, data)
            except Exception:
                expected = None
            try:
                got = fastxdr.decode_all(cls, data)
            except ValueError as exc:
                assert isinstance(exc, fastxdr.XdrError), repr(exc)
                try:
                    end = fastxdr.skip(cls, data)
                except fastxdr.XdrError:
                    pass
                else:
                    assert end != len(data), f"{cls.__name__}: skip accepts what decode refuses"
                if expected is not None:
                    assert expected.to_xdr_bytes() != data, (cls.__name__, exc)
                    stricter += 1
                else:
                    agreed_errors += 1
                continue
            assert expected is not None, f"{cls.__name__}: the SDK refuses what fastxdr decodes"
            assert_same(got, expected, cls.__name__)
            assert fastxdr.skip(cls, data) == len(data)
            agreed += 1
    assert agreed > 1000 and agreed_errors > 1000 and stricter > 0
