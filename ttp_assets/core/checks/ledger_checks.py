"""Proofs over stored ledger partitions: contiguity, hash chain, header hashes, fee pool.

Each check reads only the columns it needs from a committed partition and returns a
:class:`CheckOutcome` whose problems name the partition and ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow.compute as pc
import pyarrow.dataset as ds

from ..ledger_ranges import LedgerRange, parse_key
from ..native import read_headers
from ..storage.manifest import overlapping_keys
from ..storage.partitions_reader import StoredPartition

MAX_REPORTED = 20


@dataclass
class CheckOutcome:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def summary(self) -> dict:
        return {
            "checked": self.checked,
            "problem_count": len(self.problems),
            "problems": self.problems[:MAX_REPORTED],
            "notes": self.notes[:MAX_REPORTED],
        }


def coverage(part: StoredPartition) -> tuple[int, int, bool]:
    """(first ledger, last ledger, complete) that the partition says it holds."""
    meta = part.metadata()
    rng = parse_key(part.key)
    first = int(meta.get("ttp.first_ledger", rng.first_ledger))
    last = int(meta.get("ttp.last_ledger", rng.end))
    return first, last, meta.get("ttp.complete", "true") == "true"


def check_contiguity(
    part: StoredPartition, out: CheckOutcome, stored_keys: list[str] | None = None
) -> None:
    """Every ledger of the covered range is present exactly once, in order; and no other
    stored partition of the table (``stored_keys``) covers any of its ledgers."""
    rng = parse_key(part.key)
    first, last, complete = coverage(part)
    seqs = part.read(["ledger_sequence"]).column("ledger_sequence").to_pylist()
    out.checked += len(seqs)
    where = f"partition {part.key}"
    overlaps = overlapping_keys(part.key, stored_keys or [])
    if overlaps:
        out.add(
            f"{where}: overlaps stored partition(s) {', '.join(overlaps)}: the same ledgers are "
            f"stored twice (a partition width changed on existing storage?); remove one set "
            f"with `cli remove`"
        )
    # An incomplete partition may start inside its range (the source held only that part);
    # a complete one, or one starting before its range, may not.
    if first < rng.first_ledger or (complete and first != rng.first_ledger):
        out.add(f"{where}: starts at ledger {first}, not at {rng.first_ledger}")
    if complete and last != rng.end:
        out.add(f"{where}: marked complete but ends at {last}, not {rng.end}")
    if not complete:
        out.notes.append(f"{where}: incomplete, holds {first}-{last} of {rng}")
    if seqs == list(range(first, last + 1)):
        return
    seen: set[int] = set()
    dupes = sorted({s for s in seqs if s in seen or seen.add(s)})
    missing = sorted(set(range(first, last + 1)) - seen)
    outside = sorted(s for s in seen if s < first or s > last)
    if dupes:
        out.add(f"{where}: ledgers present more than once: {_few(dupes)}")
    if missing:
        out.add(f"{where}: ledgers missing: {_few(missing)}")
    if outside:
        out.add(f"{where}: ledgers outside {first}-{last}: {_few(outside)}")
    if not (dupes or missing or outside):
        out.add(f"{where}: ledgers are not in ascending order")


def _chain_columns(part: StoredPartition) -> tuple[list[int], list[str], list[str]]:
    t = part.read(["ledger_sequence", "ledger_hash", "previous_ledger_hash"])
    return (
        t.column("ledger_sequence").to_pylist(),
        t.column("ledger_hash").to_pylist(),
        t.column("previous_ledger_hash").to_pylist(),
    )


def check_hash_chain(
    part: StoredPartition,
    before: StoredPartition | None,
    after: StoredPartition | None,
    out: CheckOutcome,
) -> None:
    """previous_ledger_hash of each ledger equals the hash of the ledger before it, also
    across the boundary with the neighbouring partitions when they are materialized."""
    seqs, hashes, prevs = _chain_columns(part)
    where = f"partition {part.key}"
    out.checked += len(seqs)
    for i in range(1, len(seqs)):
        if seqs[i] == seqs[i - 1] + 1 and prevs[i] != hashes[i - 1]:
            out.add(
                f"{where}: ledger {seqs[i]} names previous hash {prevs[i]} but ledger "
                f"{seqs[i - 1]} hashes to {hashes[i - 1]}"
            )
    if not seqs:
        return
    if before is not None:
        b_seqs, b_hashes, _ = _chain_columns(before)
        if b_seqs and b_seqs[-1] == seqs[0] - 1:
            if prevs[0] != b_hashes[-1]:
                out.add(
                    f"{where}: first ledger {seqs[0]} names previous hash {prevs[0]} but "
                    f"ledger {b_seqs[-1]} in partition {before.key} hashes to {b_hashes[-1]}"
                )
        else:
            out.notes.append(f"{where}: partition {before.key} does not end next to it")
    if after is not None:
        a_seqs, _, a_prevs = _chain_columns(after)
        if a_seqs and a_seqs[0] == seqs[-1] + 1 and a_prevs[0] != hashes[-1]:
            out.add(
                f"{where}: ledger {a_seqs[0]} in partition {after.key} names previous hash "
                f"{a_prevs[0]} but last ledger {seqs[-1]} hashes to {hashes[-1]}"
            )


def check_header_hashes(part: StoredPartition, out: CheckOutcome) -> None:
    """sha256 of each stored header equals the recorded ledger hash and sequence."""
    where = f"partition {part.key}"
    cols = ["ledger_sequence", "ledger_hash", "lcm_xdr"]
    for batch in part.batches(cols, batch_size=64):
        seqs = batch.column("ledger_sequence").to_pylist()
        hashes = batch.column("ledger_hash").to_pylist()
        for seq, row_hash, header in zip(
            seqs, hashes, read_headers(batch.column("lcm_xdr")), strict=True
        ):
            out.checked += 1
            if header.problem is not None:
                out.add(f"{where} ledger {seq}: {header.problem}")
                continue
            if header.sequence != seq:
                out.add(
                    f"{where}: row for ledger {seq} holds the header of ledger {header.sequence}"
                )
            if header.computed_hash != row_hash or header.recorded_hash != row_hash:
                out.add(
                    f"{where}: ledger {seq} header hashes to {header.computed_hash}, the LCM "
                    f"records {header.recorded_hash} and the row says {row_hash}"
                )


def _fee_columns(part: StoredPartition) -> tuple[list[int], list[int], list[int]]:
    t = part.read(["ledger_sequence", "fee_pool", "fee_charged"])
    return (
        t.column("ledger_sequence").to_pylist(),
        t.column("fee_pool").to_pylist(),
        t.column("fee_charged").to_pylist(),
    )


def inflation_ledgers(operations: StoredPartition) -> set[int]:
    """Ledgers with a successful inflation operation (protocol < 12), which pays out of the
    fee pool, so the fee-pool identity does not hold for them."""
    f = (ds.field("type") == "inflation") & (ds.field("successful") == True)  # noqa: E712
    t = operations.read(["ledger_sequence"], filter=f)
    return set(pc.unique(t.column("ledger_sequence")).to_pylist()) if t.num_rows else set()


def check_fee_pool(
    part: StoredPartition,
    before: StoredPartition | None,
    skip: set[int],
    out: CheckOutcome,
) -> None:
    """feePool(N) - feePool(N-1) equals the fees charged in ledger N.

    Holds on every ledger of the shared real data (protocols 19-28). Known exception: a ledger
    with a successful INFLATION operation, which distributes the fee pool; those are skipped
    and listed in the notes.
    """
    seqs, pools, fees = _fee_columns(part)
    where = f"partition {part.key}"
    prev: tuple[int, int] | None = None
    if before is not None:
        b_seqs, b_pools, _ = _fee_columns(before)
        if b_seqs and seqs and b_seqs[-1] == seqs[0] - 1:
            prev = (b_seqs[-1], b_pools[-1])
    for seq, pool, fee in zip(seqs, pools, fees, strict=True):
        if prev is not None and prev[0] == seq - 1:
            if seq in skip:
                out.notes.append(f"{where}: ledger {seq} ran inflation; fee pool not compared")
            else:
                out.checked += 1
                delta = pool - prev[1]
                if delta != fee:
                    out.add(
                        f"{where}: ledger {seq} fee pool moved by {delta} stroops but its "
                        f"transactions were charged {fee}"
                    )
        prev = (seq, pool)


def neighbour_keys(key: str) -> tuple[str | None, str]:
    rng = parse_key(key)
    width = rng.width
    before = LedgerRange(rng.start - width, rng.start - 1).key if rng.start >= width else None
    after = LedgerRange(rng.end + 1, rng.end + width).key
    return before, after


def _few(values: list[int]) -> str:
    shown = ", ".join(str(v) for v in values[:10])
    return shown + (f" and {len(values) - 10} more" if len(values) > 10 else "")
