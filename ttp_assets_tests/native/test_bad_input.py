"""Bad input to the native core: a clear Python exception naming the ledger, never a crash.

Truncated, corrupted and garbage XDR, unknown union arms, absurd counts, values nested too deep,
a wrong passphrase: each must raise ``LedgerDataError`` (or ``NetworkMismatchError``) whose
message names the ledger and says what is wrong, and nothing of the batch is returned. The fuzz
test mutates real ledgers at random for a bounded time and accepts only those outcomes (a
mutation in transaction meta, which no hash covers, may decode to different rows: that is what
the balance reconciliation is for).
"""

from __future__ import annotations

import random
import struct
import sys
import time
from functools import cache

import pyarrow as pa
import pytest
import ttp_native
from stellar_sdk import xdr

from ttp_assets.core.errors import LedgerDataError, TokenTransferError
from ttp_assets.core.native import DECODED, RAW, TOKEN_EVENTS, LedgerCore
from ttp_assets.core.network import NetworkMismatchError, resolve_network
from ttp_assets_tests.reference.xdr.ledger import tx_set_envelopes
from ttp_assets_tests.shared_data import core_test_files, lake_files

EVERY_TABLE = [RAW, *DECODED, *TOKEN_EVENTS]
EXPECTED = (LedgerDataError, NetworkMismatchError, TokenTransferError)


@cache
def small_ledgers() -> dict[int, tuple[bytes, object]]:
    """A small real ledger with transactions per LCM version, with its network."""
    out: dict[int, tuple[bytes, object]] = {}
    candidates = [(x, f.network) for f in lake_files("testnet-2022") for x in f.ledgers()]
    candidates += [(x, f.network) for f in core_test_files() for x in f.ledgers()]
    for lcm, network in sorted(candidates, key=lambda c: len(c[0])):
        version = struct.unpack_from(">i", lcm)[0]
        if version in out or len(lcm) < 3000:
            continue
        parsed = xdr.LedgerCloseMeta.from_xdr_bytes(lcm)
        body = {0: parsed.v0, 1: parsed.v1, 2: parsed.v2}[version]
        if body.tx_processing:
            out[version] = (lcm, network)
    assert sorted(out) == [0, 1, 2]
    return out


def refused(core: LedgerCore, data: bytes, match: str | None = None) -> str:
    with pytest.raises(EXPECTED, match=match) as err:
        core.process([data], EVERY_TABLE, labels=["obj.xdr"])
    message = str(err.value)
    assert message.startswith("obj.xdr: "), message
    return message


def test_truncated_ledgers_are_refused_at_every_cut() -> None:
    rng = random.Random(5)
    for lcm, network in small_ledgers().values():
        core = LedgerCore(network, threads=1)  # type: ignore[arg-type]
        for cut in list(range(0, 2048, 4)) + rng.sample(range(len(lcm)), 200):
            message = refused(core, lcm[:cut])
            assert "does not decode" in message or "unknown" in message, message


def test_a_truncation_says_so_and_where() -> None:
    lcm, network = small_ledgers()[2]
    message = refused(LedgerCore(network), lcm[: len(lcm) // 2])  # type: ignore[arg-type]
    assert "truncated data" in message and "at byte" in message


def test_trailing_bytes_and_garbage_are_refused() -> None:
    lcm, network = small_ledgers()[1]
    core = LedgerCore(network)  # type: ignore[arg-type]
    refused(core, lcm + b"\0\0\0\0", "4 trailing bytes")
    refused(core, b"", "does not decode")
    rng = random.Random(7)
    for n in (1, 4, 100, 5000):
        refused(core, rng.randbytes(n))


def test_unknown_union_arms_are_named() -> None:
    lcm, network = small_ledgers()[2]
    core = LedgerCore(network)  # type: ignore[arg-type]
    refused(core, struct.pack(">i", 3) + lcm[4:], "unknown LedgerCloseMeta version 3")
    parsed = xdr.LedgerCloseMeta.from_xdr_bytes(lcm)
    first = tx_set_envelopes(parsed)[0]
    at = lcm.index(first.to_xdr_bytes())  # its type tag
    assert struct.unpack_from(">i", lcm, at)[0] in (0, 2, 5)
    bad = lcm[:at] + struct.pack(">i", 77) + lcm[at + 4 :]
    refused(core, bad, "unknown transaction envelope type 77")
    # An enum value that does not exist: the first transaction's result code.
    result_at = lcm.index(parsed.v2.tx_processing[0].result.to_xdr_bytes())
    bad = lcm[: result_at + 40] + struct.pack(">i", -999) + lcm[result_at + 44 :]
    refused(core, bad, r"the result of transaction #1 at byte \d+ holds an invalid value")


def test_absurd_counts_are_refused_quickly() -> None:
    lcm, network = small_ledgers()[2]
    core = LedgerCore(network)  # type: ignore[arg-type]
    parsed = xdr.LedgerCloseMeta.from_xdr_bytes(lcm)
    header = parsed.v2.ledger_header.to_xdr_bytes()
    at = lcm.index(header) + len(header) + 4 + 32  # the generalized set's phase count
    started = time.perf_counter()
    refused(
        core, lcm[:at] + b"\xff\xff\xff\xf0" + lcm[at + 4 :], "the phase count 4294967280 at byte"
    )
    assert time.perf_counter() - started < 1


def _deeply_nested_ledger(depth: int) -> bytes:
    from ttp_assets_tests.core.ttp.builders import (
        Tx,
        contract_event,
        i128,
        invoke_host_function_op,
        invoke_host_function_result,
        ledger_xdr,
        sym,
    )

    value = i128(1)
    for _ in range(depth):
        value = xdr.SCVal(xdr.SCValType.SCV_VEC, vec=xdr.SCVec([value]))
    event = contract_event(bytes(32), [sym("transfer")], value)
    tx = Tx(
        [invoke_host_function_op()],
        results=[invoke_host_function_result()],
        soroban=True,
        op_events=[[event]],
        meta_version=4,
    )
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)  # the SDK encodes nested values recursively
    try:
        return ledger_xdr([tx], protocol=23)[0].to_xdr_bytes()
    finally:
        sys.setrecursionlimit(limit)


def test_values_nested_too_deep_are_refused() -> None:
    from ttp_assets_tests.core.ttp.builders import NETWORK

    lcm = _deeply_nested_ledger(ttp_native.MAX_DEPTH + 10)
    with pytest.raises(LedgerDataError, match=f"nested deeper than {ttp_native.MAX_DEPTH}"):
        LedgerCore(NETWORK).process([lcm], EVERY_TABLE)


def test_a_wrong_passphrase_is_refused_at_ingest() -> None:
    lcm, _ = small_ledgers()[1]
    core = LedgerCore(resolve_network("Some Other Network ; 2026"))
    with pytest.raises(NetworkMismatchError, match="check TTP_NETWORK") as err:
        core.process([lcm], [RAW], labels=["obj.xdr"])
    assert "has no envelope in the tx set when hashed for network" in str(err.value)


def test_an_error_in_one_ledger_fails_the_whole_batch_naming_it() -> None:
    files = lake_files("testnet-2022")
    lcms = [x for f in sorted(files, key=lambda f: f.path.name, reverse=True) for x in f.ledgers()]
    lcms = lcms[:20]
    broken = lcms[:]
    broken[13] = broken[13][:-8]
    labels = [f"object-{i}" for i in range(20)]
    core = LedgerCore(files[0].network, threads=2)
    with pytest.raises(LedgerDataError, match=r"^object-13: "):
        core.process(broken, EVERY_TABLE, labels=labels)
    chain = core.process(lcms, [RAW], first_sequence=1410048)
    assert chain.ledgers == 20
    with pytest.raises(LedgerDataError, match="holds ledger 1410048 where 1410049 was expected"):
        core.process(lcms, [RAW], first_sequence=1410049)
    with pytest.raises(LedgerDataError, match="the hash chain is broken"):
        core.process(lcms, [RAW], previous_hash=bytes(32))
    swapped = [lcms[1], lcms[0], *lcms[2:]]
    with pytest.raises(LedgerDataError, match="object-0: holds ledger 1410049"):
        core.process(swapped, [RAW], first_sequence=1410048, labels=labels)


def test_arguments_are_checked() -> None:
    lcm, network = small_ledgers()[0]
    core = LedgerCore(network)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown table"):
        core.process([lcm], ["nope"])
    with pytest.raises(ValueError, match="previous_hash must be 32 bytes"):
        core.process([lcm], [RAW], previous_hash=b"short")
    with pytest.raises(ValueError, match="1 labels for 2 ledgers"):
        core.process([lcm, lcm], [RAW], labels=["one"])
    with pytest.raises(LedgerDataError, match="no LedgerCloseMeta bytes"):
        core.process(pa.array([None], pa.binary()), [RAW])
    with pytest.raises(ValueError, match="unknown token transfer mode"):
        LedgerCore(network, "both")  # type: ignore[arg-type]


def test_fuzz_mutated_real_ledgers_within_a_time_bound() -> None:
    """Random damage to real ledgers: only the expected errors, or rows; never a crash."""
    rng = random.Random(2026)
    seeds = list(small_ledgers().values())
    p26 = lake_files("pubnet-p26")[0]
    seeds.append((p26.ledgers()[0], p26.network))
    cores = {id(n): LedgerCore(n, threads=2) for _, n in seeds}  # type: ignore[arg-type]
    interesting = [0, 1, 2, 3, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 1 << 20]
    outcomes = {"error": 0, "rows": 0}
    deadline = time.monotonic() + 20
    mutations = 0
    while time.monotonic() < deadline or mutations < 300:
        lcm, network = rng.choice(seeds)
        data = bytearray(lcm)
        for _ in range(rng.randint(1, 4)):
            if len(data) < 16:
                break
            kind = rng.randrange(5)
            pos = rng.randrange(len(data) - 4)
            if kind == 0:
                data[pos] ^= 1 << rng.randrange(8)
            elif kind == 1:
                data[pos & ~3 : (pos & ~3) + 4] = struct.pack(">I", rng.choice(interesting))
            elif kind == 2:
                del data[pos : pos + rng.randint(1, 64)]
            elif kind == 3:
                data[pos:pos] = rng.randbytes(rng.randint(1, 64))
            else:
                data = data[:pos]
        try:
            cores[id(network)].process([bytes(data)], EVERY_TABLE, labels=["fuzz"])
            outcomes["rows"] += 1
        except EXPECTED as exc:
            assert str(exc).startswith("fuzz: "), exc
            outcomes["error"] += 1
        mutations += 1
    assert mutations >= 300 and outcomes["error"] > 0
