"""Every real LCM of the shared data, decoded once per test session, and a diverse subset.

Decoding all ~12,000 ledgers with the SDK would take most of the test budget, so the SDK
comparison runs on a subset chosen to cover what the data holds: every LCM version, protocol
and transaction-meta version, and every envelope, operation, result code, ledger-entry and
change type, contract-event and SCVal type seen anywhere. All ledgers still get the checks that
need no SDK decode (re-encoding and skipping).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from stellar_sdk import xdr

from ttp_assets_tests.shared_data import all_verifiable_files, bench_files, rpc_ledgers


@dataclass(frozen=True)
class RealLedger:
    label: str
    data: bytes
    verifiable: bool  # its transactions hash under its network's passphrase
    network_id: bytes


@cache
def real_ledgers() -> tuple[RealLedger, ...]:
    out = []
    for f in all_verifiable_files():
        for i, x in enumerate(f.ledgers()):
            out.append(RealLedger(f"{f.label}#{i}", x, True, f.network.network_id))
    for f in bench_files():
        for i, x in enumerate(f.ledgers()):
            out.append(RealLedger(f"{f.label}#{i}", x, False, f.network.network_id))
    for i, (x, network) in enumerate(rpc_ledgers()):
        out.append(RealLedger(f"rpc#{i}", x, True, network.network_id))
    return tuple(out)


def _name(value: Any) -> str:
    return value.name if isinstance(value, enum.Enum) else str(value)


def _changes(changes: xdr.LedgerEntryChanges | None) -> Iterator[str]:
    for c in changes.ledger_entry_changes if changes else ():
        yield f"change:{c.type.name}"
        entry = c.created or c.updated or c.state or c.restored
        if entry is not None:
            yield f"entry:{entry.data.type.name}:ext{entry.ext.v}"
        if c.removed is not None:
            yield f"key:{c.removed.type.name}"


def _scval(v: xdr.SCVal, depth: int = 0) -> Iterator[str]:
    yield f"scval:{v.type.name}"
    if depth < 3:
        for item in (v.vec.sc_vec if v.vec else []) if v.type == xdr.SCValType.SCV_VEC else []:
            yield from _scval(item, depth + 1)
        if v.type == xdr.SCValType.SCV_MAP and v.map:
            for e in v.map.sc_map:
                yield from _scval(e.key, depth + 1)
                yield from _scval(e.val, depth + 1)


def _events(events: list[xdr.ContractEvent]) -> Iterator[str]:
    for ev in events:
        yield f"event:{ev.type.name}"
        for t in ev.body.v0.topics:
            yield from _scval(t)
        yield from _scval(ev.body.v0.data)


def _op_results(result: xdr.TransactionResult) -> Iterator[str]:
    r = result.result
    yield f"txresult:{r.code.name}"
    if r.inner_result_pair is not None:
        r = r.inner_result_pair.result.result
        yield f"inner:{r.code.name}"
    for op in r.results or ():
        yield f"opresult:{op.code.name}"
        if op.tr is not None:
            arm = next(v for k, v in vars(op.tr).items() if k != "type" and v is not None)
            code = getattr(arm, "code", None)
            yield f"tr:{op.tr.type.name}:{_name(code)}"


def _envelope(env: xdr.TransactionEnvelope) -> Iterator[str]:
    yield f"envelope:{env.type.name}"
    if env.fee_bump is not None:
        env = env.fee_bump.tx.inner_tx
    tx = env.v1.tx if env.v1 is not None else env.v0.tx
    yield f"memo:{tx.memo.type.name}"
    if env.v1 is not None:
        yield f"cond:{tx.cond.type.name}"
        yield f"txext:{tx.ext.v}"
    for op in tx.operations:
        yield f"op:{op.body.type.name}"


def signature(lcm: xdr.LedgerCloseMeta) -> frozenset[str]:
    """What kinds of things a decoded ledger holds, for choosing a covering subset."""
    body = {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]
    header = body.ledger_header.header
    out = {f"lcm:{lcm.v}", f"protocol:{header.ledger_version.uint32}", f"hext:{header.ext.v}"}
    out.add(f"scpext:{header.scp_value.ext.v.name}")
    if lcm.v == 0:
        envs = body.tx_set.txs
    else:
        envs = []
        for phase in body.tx_set.v1_tx_set.phases:
            out.add(f"phase:{phase.v}")
            if phase.v == 0:
                for comp in phase.v0_components:
                    envs.extend(comp.txs_maybe_discounted_fee.txs)
            else:
                for stage in phase.parallel_txs_component.execution_stages:
                    for cluster in stage.parallel_tx_execution_stage:
                        envs.extend(cluster.dependent_tx_cluster)
    for env in envs:
        out.update(_envelope(env))
    for tp in body.tx_processing:
        out.update(_op_results(tp.result.result))
        out.update(_changes(tp.fee_processing))
        meta = tp.tx_apply_processing
        out.add(f"meta:{meta.v}")
        inner = meta.v1 or meta.v2 or meta.v3 or meta.v4
        if meta.v == 0:
            ops = meta.operations
        else:
            ops = inner.operations
            out.update(_changes(getattr(inner, "tx_changes", None)))
            out.update(_changes(getattr(inner, "tx_changes_before", None)))
            out.update(_changes(getattr(inner, "tx_changes_after", None)))
        for op in ops:
            out.update(_changes(op.changes))
            out.update(_events(getattr(op, "events", None) or []))
        soroban = getattr(inner, "soroban_meta", None)
        if soroban is not None:
            out.add(f"soroban_meta_ext:{soroban.ext.v}")
            out.update(_events(getattr(soroban, "events", None) or []))
            diagnostic = getattr(soroban, "diagnostic_events", None) or []
            out.update(_events([e.event for e in diagnostic]))
            if soroban.return_value is not None:
                out.update(_scval(soroban.return_value))
        out.update(_events([e.event for e in getattr(inner, "events", None) or []]))
        out.update(_events([e.event for e in getattr(inner, "diagnostic_events", None) or []]))
        if lcm.v == 2:
            out.update(_changes(tp.post_tx_apply_fee_processing))
    for up in body.upgrades_processing:
        out.add(f"upgrade:{up.upgrade.type.name}")
        out.update(_changes(up.changes))
    for scp in body.scp_info:
        out.add(f"scp:{scp.v}")
    if lcm.v:
        out.add(f"lcmext:{body.ext.v}")
        for key in body.evicted_keys:
            out.add(f"evicted:{key.type.name}")
    return frozenset(out)


def covering_subset(
    ledgers: list[RealLedger], signatures: list[frozenset[str]], budget: int = 5_000_000
) -> list[RealLedger]:
    """Ledgers that together hold everything the data holds, plus big ones per protocol.

    Small ledgers first, each kept when it holds something no kept ledger holds; then, within
    ``budget`` bytes, the largest ledger of each protocol, for volume (busy pubnet-like ledgers
    repeat the same shapes thousands of times, which small ones do not).
    """
    seen: set[str] = set()
    chosen: dict[int, RealLedger] = {}
    order = sorted(range(len(ledgers)), key=lambda i: len(ledgers[i].data))
    for i in order:
        if not signatures[i] <= seen:
            seen |= signatures[i]
            chosen[i] = ledgers[i]
    largest: dict[str, int] = {}
    for i in order:
        (protocol,) = (s for s in signatures[i] if s.startswith("protocol:"))
        largest[protocol] = i
    spent = sum(len(x.data) for x in chosen.values())
    for i in sorted(largest.values(), key=lambda i: len(ledgers[i].data)):
        if i not in chosen and spent + len(ledgers[i].data) <= budget:
            chosen[i] = ledgers[i]
            spent += len(ledgers[i].data)
    return list(chosen.values())
