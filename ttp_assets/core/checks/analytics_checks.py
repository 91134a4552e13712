"""Checks of the analytics tier, computed with Arrow compute (not the engine that built them):
exact sums as decimal256, so that a bug in the SQL cannot hide behind the same SQL.

- partials of a partition add up to its events and ledgers (counts and exact sums per asset
  and event type, per ledger figures);
- rollups add up: each day equals the sum of its hours, and the days of each asset together
  equal its partials over every stored partition;
- completeness flags are right, recomputed from the stored ledger rows themselves (sequence
  gaps and close times), not from the coverage records the rollups used.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from .ledger_checks import CheckOutcome

D256 = pa.decimal256(76, 0)
_E18 = pa.scalar(10**18, pa.decimal256(19, 0))


def exact_amounts(raw: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Decimal strings (i128) as decimal256, exactly."""
    return pc.cast(raw, pa.decimal256(40, 0))


def recombine(hi: pa.ChunkedArray, lo: pa.ChunkedArray) -> pa.ChunkedArray:
    """hi * 10^18 + lo, exactly."""
    return pc.add(pc.multiply(hi.cast(pa.decimal256(38, 0)), _E18), lo.cast(pa.decimal256(38, 0)))


def _sums(table: pa.Table, keys: list[str], amount: str, count: str | None) -> dict:
    aggs = [(amount, "sum")] + ([(count, "sum")] if count else [(amount, "count")])
    g = table.group_by(keys).aggregate(aggs)
    cnt = f"{count}_sum" if count else f"{amount}_count"
    return {
        tuple(r[k] for k in keys): (int(r[cnt]), int(r[f"{amount}_sum"] or 0))
        for r in g.to_pylist()
    }


def check_partials(
    key: str,
    events: pa.Table,
    ledgers: pa.Table,
    asset_partials: pa.Table,
    ledger_activity: pa.Table,
    out: CheckOutcome,
) -> None:
    """One partition: per (asset, event type) the partials' count and exact sum equal the
    events'; per ledger, ledger_activity has exactly the ledgers and their event counts."""
    ev = pa.table(
        {
            "asset_key": pc.coalesce(events["asset"], events["contract_id"]),
            "metric": events["event_type"],
            "amount": exact_amounts(events["amount_raw"]),
        }
    )
    want = _sums(ev, ["asset_key", "metric"], "amount", None)
    p = pa.table(
        {
            "asset_key": asset_partials["asset_key"],
            "metric": asset_partials["metric"],
            "amount": recombine(asset_partials["amount_hi"], asset_partials["amount_lo"]),
            "n": asset_partials["event_count"],
        }
    )
    got = _sums(p, ["asset_key", "metric"], "amount", "n")
    categories = {k: v for k, v in got.items() if k[1].startswith("transfer_")}
    got = {k: v for k, v in got.items() if not k[1].startswith("transfer_")}
    out.checked += len(want)
    for k in sorted(set(want) | set(got)):
        if want.get(k) != got.get(k):
            out.add(
                f"partition {key}: {k[0]} {k[1]}: events give (count, sum) {want.get(k)}, "
                f"partials {got.get(k)}"
            )
    # Categories split the transfers of every asset whose decimals are known.
    per_asset: dict[str, tuple[int, int]] = {}
    for (asset, _), (n, total) in categories.items():
        c, s = per_asset.get(asset, (0, 0))
        per_asset[asset] = (c + n, s + total)
    for asset, split in per_asset.items():
        if split != want.get((asset, "transfer")):
            out.add(
                f"partition {key}: {asset}: amount categories add up to {split}, transfers "
                f"are {want.get((asset, 'transfer'))}"
            )
    seqs = ledgers["ledger_sequence"].to_pylist()
    if ledger_activity["ledger_sequence"].to_pylist() != seqs:
        out.add(f"partition {key}: ledger_activity does not hold exactly the stored ledgers")
        return
    per_ledger = pc.value_counts(events["ledger_sequence"]).to_pylist()
    counts = {d["values"]: d["counts"] for d in per_ledger}
    for seq, n in zip(seqs, ledger_activity["event_count"].to_pylist(), strict=True):
        out.checked += 1
        if n != counts.get(seq, 0):
            out.add(
                f"ledger {seq}: ledger_activity has {n} events, ttp_events {counts.get(seq, 0)}"
            )
    if ledger_activity["transaction_count"].to_pylist() != ledgers["transaction_count"].to_pylist():
        out.add(f"partition {key}: ledger_activity transaction counts differ from ledgers")


_ASSET_SUMS = [
    "transfer_count",
    "mint_count",
    "burn_count",
    "clawback_count",
    "fee_count",
    "small_count",
    "medium_count",
    "large_count",
]
_ASSET_AMOUNTS = [
    "transfer_volume_raw",
    "minted_raw",
    "burned_raw",
    "clawed_back_raw",
    "fees_raw",
    "net_supply_change_raw",
    "small_volume_raw",
    "medium_volume_raw",
    "large_volume_raw",
]


def _as_exact(table: pa.Table) -> pa.Table:
    cols = {c: exact_amounts(table[c]) for c in _ASSET_AMOUNTS}
    return pa.table(
        {
            "day": table["day"],
            "asset_key": table["asset_key"],
            **{c: table[c] for c in _ASSET_SUMS},
            **cols,
        }
    )


def check_days_are_their_hours(asset_activity: pa.Table, out: CheckOutcome) -> None:
    """Every day row of every asset equals the sum of that day's hour rows."""
    hours = _as_exact(asset_activity.filter(pc.equal(asset_activity["grain"], "hour")))
    days = _as_exact(asset_activity.filter(pc.equal(asset_activity["grain"], "day")))
    cols = _ASSET_SUMS + _ASSET_AMOUNTS
    summed = hours.group_by(["day", "asset_key"]).aggregate([(c, "sum") for c in cols])
    want = {(r["day"], r["asset_key"]): [r[f"{c}_sum"] for c in cols] for r in summed.to_pylist()}
    got = {(r["day"], r["asset_key"]): [r[c] for c in cols] for r in days.to_pylist()}
    out.checked += len(got)
    for k in sorted(set(want) | set(got)):
        if want.get(k) != got.get(k):
            out.add(
                f"asset_activity {k[1]} on {k[0]}: day row {got.get(k)} != its hours "
                f"{want.get(k)} ({', '.join(cols)})"
            )


def check_days_are_their_partials(
    asset_activity: pa.Table, asset_partials: pa.Table, out: CheckOutcome
) -> None:
    """Per asset, counts and exact amounts of every stored day together equal the partials of
    every stored partition (nothing counted twice, nothing lost at a partition edge)."""
    days = _as_exact(asset_activity.filter(pc.equal(asset_activity["grain"], "day")))
    metric_of = {
        "transfer_count": ("transfer", "transfer_volume_raw"),
        "mint_count": ("mint", "minted_raw"),
        "burn_count": ("burn", "burned_raw"),
        "clawback_count": ("clawback", "clawed_back_raw"),
        "fee_count": ("fee", "fees_raw"),
    }
    p = pa.table(
        {
            "asset_key": asset_partials["asset_key"],
            "metric": asset_partials["metric"],
            "amount": recombine(asset_partials["amount_hi"], asset_partials["amount_lo"]),
            "n": asset_partials["event_count"],
        }
    )
    from_partials = _sums(p, ["asset_key", "metric"], "amount", "n")
    totals = days.group_by(["asset_key"]).aggregate(
        [(c, "sum") for c in metric_of] + [(a, "sum") for _, a in metric_of.values()]
    )
    for r in totals.to_pylist():
        for count, (metric, amount) in metric_of.items():
            out.checked += 1
            rolled = (int(r[f"{count}_sum"]), int(r[f"{amount}_sum"]))
            part = from_partials.get((r["asset_key"], metric), (0, 0))
            if rolled != part:
                out.add(f"{r['asset_key']} {metric}: days add up to {rolled}, partials {part}")
    rolled_assets = set(totals["asset_key"].to_pylist())
    for asset, metric in from_partials:
        if asset not in rolled_assets:
            out.add(f"{asset} {metric}: in the partials but in no day of asset_activity")


def ledger_runs(sequences: pa.Array, closes: pa.Array) -> list[tuple[int, int]]:
    """(first close, last close) of each gap-free run of stored ledgers (epoch seconds)."""
    if len(sequences) == 0:
        return []
    order = pc.sort_indices(sequences)
    seq = pc.take(sequences, order).cast(pa.int64())
    close = pc.take(closes, order).cast(pa.int64())
    # A run starts at the first ledger and wherever the sequence jumps by more than one.
    starts = pc.indices_nonzero(pc.fill_null(pc.not_equal(pc.pairwise_diff(seq), 1), True))
    first = starts.to_pylist()
    last = [i - 1 for i in first[1:]] + [len(seq) - 1]
    return list(
        zip(close.take(first).to_pylist(), close.take(pa.array(last)).to_pylist(), strict=True)
    )


def check_completeness(
    rollup: pa.Table, sequences: pa.Array, closes: pa.Array, out: CheckOutcome
) -> None:
    """Each period row is flagged complete exactly when a gap-free run of stored ledgers holds
    one closed before the period and one closed at or after its end."""
    runs = ledger_runs(sequences, closes)
    for grain, start, end, flag in zip(
        rollup["grain"].to_pylist(),
        rollup["period_start"].to_pylist(),
        rollup["period_end"].to_pylist(),
        rollup["complete"].to_pylist(),
        strict=True,
    ):
        s, e = int(start.timestamp()), int(end.timestamp())
        want = any(a < s and b >= e for a, b in runs)
        out.checked += 1
        if flag != want:
            out.add(
                f"{grain} {start.astimezone(dt.UTC).isoformat()}: complete={flag}, but the "
                f"stored ledgers say {want}"
            )
