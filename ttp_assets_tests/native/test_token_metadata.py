"""``token_metadata`` on malformed METADATA: a real ledger (a Stellar Asset Contract deployed in
core-tests) whose instance METADATA is rewritten in the transaction meta (which no header hash
covers, so the ledger still verifies). Malformed fields are null, never an error, in the native
core as in the reference."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pyarrow as pa
import pytest
from stellar_sdk import xdr

from ttp_assets.core import schemas
from ttp_assets.core.native import LedgerCore
from ttp_assets.core.network import Network
from ttp_assets_tests.reference.pipeline import reference_tables
from ttp_assets_tests.shared_data import core_test_files


@cache
def sac_deployment() -> tuple[bytes, Network]:
    """The first core-tests ledger that creates a contract instance with METADATA."""
    for f in core_test_files():
        core = LedgerCore(f.network, "auto", 1)
        for lcm in f.ledgers():
            out = core.process([lcm], ["token_metadata"])
            if out.tables["token_metadata"]:
                return lcm, f.network
    raise AssertionError("no core-tests ledger deploys a Stellar Asset Contract")


def _metadata_maps(lcm: xdr.LedgerCloseMeta) -> list[xdr.SCVal]:
    """The METADATA values of the contract instances the LCM's transactions create."""
    body = {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]
    out = []
    for trm in body.tx_processing:
        meta = trm.tx_apply_processing
        ops = {3: getattr(meta, "v3", None), 4: getattr(meta, "v4", None)}.get(meta.v)
        for op in ops.operations if ops else []:
            for change in op.changes.ledger_entry_changes:
                if change.type != xdr.LedgerEntryChangeType.LEDGER_ENTRY_CREATED:
                    continue
                data = change.created.data
                if data.type != xdr.LedgerEntryType.CONTRACT_DATA:
                    continue
                val = data.contract_data.val
                if val.type != xdr.SCValType.SCV_CONTRACT_INSTANCE or val.instance.storage is None:
                    continue
                for e in val.instance.storage.sc_map:
                    if (
                        e.key.type == xdr.SCValType.SCV_SYMBOL
                        and e.key.sym.sc_symbol == b"METADATA"
                    ):
                        out.append(e)
    return out


def _sym(s: str) -> xdr.SCVal:
    return xdr.SCVal(xdr.SCValType.SCV_SYMBOL, sym=xdr.SCSymbol(s.encode()))


def _entry(key: str, val: xdr.SCVal) -> xdr.SCMapEntry:
    return xdr.SCMapEntry(_sym(key), val)


def _str(b: bytes) -> xdr.SCVal:
    return xdr.SCVal(xdr.SCValType.SCV_STRING, str=xdr.SCString(b))


def _not_a_map(entry: xdr.SCMapEntry) -> None:
    entry.val = xdr.SCVal(xdr.SCValType.SCV_U32, u32=xdr.Uint32(7))


def _wrong_types(entry: xdr.SCMapEntry) -> None:
    entry.val = xdr.SCVal(
        xdr.SCValType.SCV_MAP,
        map=xdr.SCMap(
            [
                _entry("decimal", xdr.SCVal(xdr.SCValType.SCV_I32, i32=xdr.Int32(7))),
                _entry("name", _str(b"\xff\xfe not utf-8")),
                _entry("symbol", _sym("SYM")),
            ]
        ),
    )


def _custom(entry: xdr.SCMapEntry) -> None:
    entry.val = xdr.SCVal(
        xdr.SCValType.SCV_MAP,
        map=xdr.SCMap(
            [
                _entry("decimal", xdr.SCVal(xdr.SCValType.SCV_U32, u32=xdr.Uint32(18))),
                _entry("decimal", xdr.SCVal(xdr.SCValType.SCV_U32, u32=xdr.Uint32(3))),
                _entry("name", _str("Jetón €".encode())),
            ]
        ),
    )


CASES: dict[str, tuple[Callable[[xdr.SCMapEntry], None], tuple]] = {
    # (decimals, name, symbol) expected in every row
    "not a map": (_not_a_map, (None, None, None)),
    "wrong types and bad UTF-8": (_wrong_types, (None, None, None)),
    "repeated key, missing symbol": (_custom, (18, "Jetón €", None)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_metadata_is_null_not_an_error(case: str) -> None:
    lcm_bytes, network = sac_deployment()
    lcm = xdr.LedgerCloseMeta.from_xdr_bytes(lcm_bytes)
    entries = _metadata_maps(lcm)
    assert entries
    rewrite, want = CASES[case]
    for e in entries:
        rewrite(e)
    changed = lcm.to_xdr_bytes()
    native = LedgerCore(network, "auto", 1).process([changed], ["token_metadata"])
    table = pa.Table.from_batches(native.tables["token_metadata"], schema=schemas.TOKEN_METADATA)
    assert table.num_rows == len(entries)
    for row in table.to_pylist():
        assert (row["decimals"], row["name"], row["symbol"]) == want
        assert row["executable"] == "stellar_asset" and row["change_type"] == "created"
    reference = reference_tables([changed], network, tables=["token_metadata"])
    assert reference["token_metadata"].equals(table)
