"""Delta commit time over many commits: does it stay flat between checkpoints?

    .venv/bin/python benchmarks/delta_commits.py [--partitions 30] [--ticks 8]

Drives ``DeltaPartitionStore.commit`` the way a live tail does: each partition is opened, then
appended to once per tick (one small file per commit) and compacted by the tick that completes
it. Prints the median commit time per block of 40 commits. Every commit replays the log since
the last checkpoint; the tables checkpoint every ``CHECKPOINT_INTERVAL`` commits, so the
medians should not grow with the number of commits.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partitions", type=int, default=30)
    ap.add_argument("--ticks", type=int, default=8, help="commits per partition")
    args = ap.parse_args()

    import pyarrow as pa

    from ttp_assets.core import schemas
    from ttp_assets.core.storage.delta_store import (
        CHECKPOINT_INTERVAL,
        DeltaPartitionStore,
        PartitionWrite,
    )
    from ttp_assets.core.storage.location import open_location

    def rows(ledger: int) -> pa.RecordBatch:
        row = {
            "ledger_sequence": ledger,
            "closed_at": 1_700_000_000 + ledger,
            "transaction_hash": f"{ledger:064x}",
            "transaction_index": 1,
            "holder": "GA",
            "asset": "native",
            "delta": ledger,
        }
        return pa.RecordBatch.from_pylist([row], schema=schemas.BALANCE_CHANGES)

    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = DeltaPartitionStore(open_location(tmp), "balance_changes", schemas.BALANCE_CHANGES)
        for p in range(1, args.partitions + 1):
            first = p * 1000
            key = f"{first:010d}-{first + 999:010d}"
            for tick in range(args.ticks):
                batch = rows(first + tick)
                done = tick == args.ticks - 1
                meta = {
                    "ttp.partition_key": key,
                    "ttp.first_ledger": str(first),
                    "ttp.last_ledger": str(first + 999 if done else first + tick),
                    "ttp.complete": "true" if done else "false",
                }
                base = None if tick == 0 else first + tick - 1
                t0 = time.perf_counter()
                store.commit([PartitionWrite(key, lambda b=batch: [b], meta, base)])
                times.append(time.perf_counter() - t0)
    print(f"{len(times)} commits, checkpoint every {CHECKPOINT_INTERVAL}")
    for i in range(0, len(times), 40):
        block = sorted(times[i : i + 40])
        print(
            f"commits {i + 1:>4}-{i + len(block):<4} median {block[len(block) // 2] * 1000:6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
