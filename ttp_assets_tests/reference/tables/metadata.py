"""Rows of ``token_metadata``: the SEP-41 ``METADATA`` entry of every contract instance a
ledger creates, updates or restores (the reference for ``native/src/tables/metadata.rs``).

A row per CREATED / UPDATED / RESTORED ledger entry change of a contract instance whose storage
holds the key ``Symbol("METADATA")``. Its fields are read only in the SEP-41 shape (a map with
``decimal`` u32, ``name`` and ``symbol`` strings); anything else leaves the column null.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stellar_sdk import Address, StrKey, xdr

from ..xdr.ledger import DecodedLedger, LedgerTransaction

_T = xdr.LedgerEntryChangeType
# The change types that carry an entry's new value (the change's attribute of the same name).
_KINDS = {
    _T.LEDGER_ENTRY_CREATED: "created",
    _T.LEDGER_ENTRY_UPDATED: "updated",
    _T.LEDGER_ENTRY_RESTORED: "restored",
}


_EXECUTABLES = {
    "CONTRACT_EXECUTABLE_WASM": "wasm",
    "CONTRACT_EXECUTABLE_STELLAR_ASSET": "stellar_asset",
}


def _field(entries: list[xdr.SCMapEntry], key: str) -> xdr.SCVal | None:
    for e in entries:
        if e.key.type == xdr.SCValType.SCV_SYMBOL and e.key.sym.sc_symbol == key.encode():
            return e.val
    return None


def _text(val: xdr.SCVal | None) -> str | None:
    if val is None or val.type != xdr.SCValType.SCV_STRING:
        return None
    try:
        return bytes(val.str.sc_string).decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_metadata(val: xdr.SCVal) -> tuple[int | None, str | None, str | None]:
    """(decimals, name, symbol) of a METADATA value; None where it is not the SEP-41 shape."""
    if val.type != xdr.SCValType.SCV_MAP or val.map is None:
        return None, None, None
    entries = val.map.sc_map
    d = _field(entries, "decimal")
    decimals = d.u32.uint32 if d is not None and d.type == xdr.SCValType.SCV_U32 else None
    return decimals, _text(_field(entries, "name")), _text(_field(entries, "symbol"))


def _instance_metadata(entry: xdr.LedgerEntry) -> tuple[str, str, xdr.SCVal] | None:
    if entry.data.type != xdr.LedgerEntryType.CONTRACT_DATA:
        return None
    data = entry.data.contract_data
    if data.key.type != xdr.SCValType.SCV_LEDGER_KEY_CONTRACT_INSTANCE:
        return None
    if data.val.type != xdr.SCValType.SCV_CONTRACT_INSTANCE:
        return None
    instance = data.val.instance
    if instance.storage is None:
        return None
    val = _field(instance.storage.sc_map, "METADATA")
    if val is None:
        return None
    executable = _EXECUTABLES.get(instance.executable.type.name, "external_ref")
    address = data.contract
    if address.type == xdr.SCAddressType.SC_ADDRESS_TYPE_CONTRACT:
        contract = StrKey.encode_contract(address.contract_id.contract_id.hash)
    else:  # not on any real ledger: rendered as any address
        contract = Address.from_xdr_sc_address(address).address
    return contract, executable, val


def _change_lists(tx: LedgerTransaction) -> list[tuple[int | None, xdr.LedgerEntryChanges]]:
    out: list[tuple[int | None, xdr.LedgerEntryChanges]] = [(None, tx.fee_processing)]
    meta = tx.meta
    before = after = None
    if meta.v == 1:
        before = meta.v1.tx_changes
    elif meta.v in (2, 3, 4):
        body = {2: meta.v2, 3: meta.v3, 4: meta.v4}[meta.v]
        before, after = body.tx_changes_before, body.tx_changes_after
    if before is not None:
        out.append((None, before))
    for i, op in enumerate(tx.operation_metas()):
        out.append((i + 1, op.changes))
    if after is not None:
        out.append((None, after))
    if tx.post_apply_fee_processing is not None:
        out.append((None, tx.post_apply_fee_processing))
    return out


def token_metadata_rows(ledger: DecodedLedger) -> Iterator[dict[str, Any]]:
    """One row per contract-instance change carrying METADATA, in apply order."""
    for tx in ledger.transactions:
        n = 0
        for operation_index, changes in _change_lists(tx):
            for change in changes.ledger_entry_changes:
                index, n = n, n + 1
                kind = _KINDS.get(change.type)
                if kind is None:
                    continue
                entry = getattr(change, kind)
                found = _instance_metadata(entry)
                if found is None:
                    continue
                contract, executable, val = found
                decimals, name, symbol = read_metadata(val)
                yield {
                    "ledger_sequence": ledger.sequence,
                    "closed_at": ledger.close_time,
                    "transaction_hash": tx.hash.hex(),
                    "transaction_index": tx.index,
                    "operation_index": operation_index,
                    "change_index": index,
                    "change_type": kind,
                    "contract_id": contract,
                    "executable": executable,
                    "decimals": decimals,
                    "name": name,
                    "symbol": symbol,
                }
