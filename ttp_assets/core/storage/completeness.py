"""When a partition is complete: every table holds all of its ledgers.

The one definition the CLI, the main job and the status report use. A partition is complete
when each of the six tables has it committed, marked complete, covering exactly the key's
range. A run that died after writing some tables, a partition still open at the tip, or one
whose tables cover different ledgers is incomplete, so a plain re-run rebuilds it. (Whether its
blocking checks passed is in the Dagster instance: ``defs.completeness`` adds that.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ledger_ranges import parse_key
from .catalog import TABLE_FORMATS, open_store
from .location import Location


@dataclass
class PartitionState:
    key: str
    # table -> why it is not complete ("missing", "holds only 5-9", "covers 5-9")
    gaps: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.gaps

    def describe(self) -> str:
        if self.complete:
            return f"{self.key}: complete"
        return f"{self.key}: " + ", ".join(f"{t} {why}" for t, why in sorted(self.gaps.items()))


# Up to this many keys, each is looked up on its own instead of listing every table (the live
# sensor asks about its recent window on every tick; a full table lists every partition).
LOOKUP_KEYS = 32


def partition_states(location: Location, keys: list[str]) -> dict[str, PartitionState]:
    """The state of each of ``keys`` across every table: one footer or coverage record read per
    stored partition asked about (after one listing per table, for many keys)."""
    states = {k: PartitionState(k) for k in keys}
    wanted = set(keys)
    for table in TABLE_FORMATS:
        store = open_store(location, table)
        stored = wanted if len(keys) <= LOOKUP_KEYS else wanted & set(store.committed_keys())
        for key in keys:
            try:
                meta = store.file_metadata(key) if key in stored else None
            except FileNotFoundError:
                meta = None
            if meta is None:
                states[key].gaps[table] = "missing"
                continue
            rng = parse_key(key)
            first, last = meta.get("ttp.first_ledger"), meta.get("ttp.last_ledger")
            if meta.get("ttp.complete") != "true":
                states[key].gaps[table] = f"holds only {first}-{last}"
            elif (first, last) != (str(rng.first_ledger), str(rng.end)):
                states[key].gaps[table] = f"covers {first}-{last}"
    return states


def complete_keys(location: Location, keys: list[str]) -> set[str]:
    return {k for k, s in partition_states(location, keys).items() if s.complete}
