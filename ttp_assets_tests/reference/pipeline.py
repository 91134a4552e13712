"""The whole reference path: LCM bytes -> every table, as the platform computed them before the
native core (and as the differential tests and the benchmark still compute them)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from ttp_assets.core import schemas
from ttp_assets.core.network import Network

from .tables.decoded import decoded_rows
from .tables.events import balance_change_rows, event_rows
from .tables.metadata import token_metadata_rows
from .tables.rows import BatchBuilder
from .ttp import choose_mode, events_for_ledger
from .xdr.header import read_lcm_header
from .xdr.ledger import decode_ledger, verify_network

ALL_TABLES = tuple(schemas.NATIVE_TABLES)


def raw_ledger_row(lcm: bytes, where: str) -> dict[str, object]:
    info = read_lcm_header(lcm, where)
    return {
        "ledger_sequence": info.sequence,
        "closed_at": info.close_time,
        "ledger_hash": info.ledger_hash.hex(),
        "previous_ledger_hash": info.previous_hash.hex(),
        "protocol_version": info.protocol_version,
        "lcm_version": info.lcm_version,
        "lcm_xdr": lcm,
    }


def reference_tables(
    lcms: Sequence[bytes],
    network: Network,
    mode: str = "auto",
    tables: Sequence[str] = ALL_TABLES,
    check_commitments: bool = True,
) -> dict[str, pa.Table]:
    """Every table of ``lcms`` computed by the reference implementation, in ledger order."""
    builders = {name: BatchBuilder(schemas.NATIVE_TABLES[name]) for name in tables}
    decoded = any(t in tables for t in ("ledgers", "transactions", "operations"))
    token = any(t in tables for t in ("ttp_events", "balance_changes"))
    metadata = "token_metadata" in tables
    for i, lcm in enumerate(lcms):
        where = f"LedgerCloseMeta #{i}"
        if "raw_ledgers" in tables:
            builders["raw_ledgers"].append(raw_ledger_row(lcm, where))
        if not (decoded or token or metadata):
            continue
        ledger = decode_ledger(lcm, network, where, verify=check_commitments)
        verify_network(ledger)
        if decoded:
            rows = decoded_rows(ledger, ledger.lcm.v)
            for name, items in (
                ("ledgers", [rows.ledger]),
                ("transactions", rows.transactions),
                ("operations", rows.operations),
            ):
                if name in builders:
                    for row in items:
                        builders[name].append(row)
        if token:
            derivation = choose_mode(ledger) if mode == "auto" else mode
            events = events_for_ledger(ledger, network, derivation)
            if "ttp_events" in builders:
                for row in event_rows(events, derivation):
                    builders["ttp_events"].append(row)
            if "balance_changes" in builders:
                for row in balance_change_rows(ledger):
                    builders["balance_changes"].append(row)
        if metadata:
            for row in token_metadata_rows(ledger):
                builders["token_metadata"].append(row)
    return {
        name: pa.Table.from_batches([b.flush()], schema=schemas.NATIVE_TABLES[name])
        for name, b in builders.items()
    }
