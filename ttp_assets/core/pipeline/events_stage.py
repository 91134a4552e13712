"""The token-transfer stage: raw ledgers -> ``ttp_events`` and ``balance_changes`` rows.

The token transfer processor runs in the native core (``core.native``); this moves batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from ..native import TOKEN_EVENTS, TOKEN_METADATA, LedgerCore
from ..storage.spool import SpoolWriter
from .ledger_stage import ledger_labels


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
    raw: Iterable[pa.RecordBatch], core: LedgerCore, writers: EventWriters
) -> EventStageResult:
    """Each raw ledger's events (spec order) and its balance changes, one native pass.

    The core's mode is ``auto`` (per ledger: unified where the ledger carries CAP-67 events,
    else derived), ``derived`` or ``unified``.
    """
    result = EventStageResult()
    for batch in raw:
        out = core.process(batch.column("lcm_xdr"), TOKEN_EVENTS, labels=ledger_labels(batch))
        for ev in out.tables["ttp_events"]:
            writers.events.write(ev)
        for bal in out.tables["balance_changes"]:
            writers.balances.write(bal)
        result.ledgers += out.ledgers
        result.events += out.events
        result.by_type.update(out.events_by_type)
        result.by_derivation.update(out.ledgers_by_derivation)
    return result


def derive_token_metadata(
    raw: Iterable[pa.RecordBatch], core: LedgerCore, writer: SpoolWriter
) -> int:
    """The ``token_metadata`` rows of each raw ledger (one native pass); returns the ledgers."""
    ledgers = 0
    for batch in raw:
        out = core.process(batch.column("lcm_xdr"), [TOKEN_METADATA], labels=ledger_labels(batch))
        for rows in out.tables[TOKEN_METADATA]:
            writer.write(rows)
        ledgers += out.ledgers
    return ledgers
