"""The token-transfer stage: raw ledgers -> ``ttp_events`` and ``balance_changes`` rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from .. import schemas
from ..network import Network
from ..storage.spool import SpoolWriter
from ..tables.events import balance_change_rows, event_rows
from ..tables.rows import BatchBuilder
from ..ttp import choose_mode, events_for_ledger
from ..xdr.ledger import decode_ledger

EVENT_BATCH_ROWS = 50_000


@dataclass
class EventWriters:
    events: SpoolWriter
    balances: SpoolWriter


@dataclass
class EventStageResult:
    ledgers: int = 0
    events: int = 0
    by_type: Counter = field(default_factory=Counter)
    by_derivation: Counter = field(default_factory=Counter)


def derive_events(
    raw: Iterable[pa.RecordBatch], network: Network, mode: str, writers: EventWriters
) -> EventStageResult:
    """Decode each raw ledger once; write its events (spec order) and its balance changes.

    ``mode`` is ``auto`` (per ledger: unified where the ledger carries CAP-67 events, else
    derived), ``derived`` or ``unified``.
    """
    ev_builder = BatchBuilder(schemas.TTP_EVENTS)
    bal_builder = BatchBuilder(schemas.BALANCE_CHANGES)
    result = EventStageResult()
    for batch in raw:
        seqs = batch.column("ledger_sequence").to_pylist()
        blobs = batch.column("lcm_xdr")
        for i, seq in enumerate(seqs):
            ledger = decode_ledger(blobs[i].as_py(), network, where=f"ledger {seq}")
            derivation = choose_mode(ledger) if mode == "auto" else mode
            events = events_for_ledger(ledger, network, derivation)
            for row in event_rows(events, derivation):
                ev_builder.append(row)
            for row in balance_change_rows(ledger):
                bal_builder.append(row)
            result.ledgers += 1
            result.events += len(events)
            result.by_type.update(e.event_type for e in events)
            result.by_derivation[derivation] += 1
            if len(ev_builder) >= EVENT_BATCH_ROWS:
                writers.events.write(ev_builder.flush())
            if len(bal_builder) >= EVENT_BATCH_ROWS:
                writers.balances.write(bal_builder.flush())
    writers.events.write(ev_builder.flush())
    writers.balances.write(bal_builder.flush())
    return result
