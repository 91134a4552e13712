"""Keep the hourly and daily rollups exact as ledger-range partitions land, change or go.

Each update:
1. lists the partitions present in all four partial tables, with a fingerprint (their data
   files) and their coverage (ledgers, close times), from the tables' Delta logs;
2. compares them with the state of the last update (``_analytics/rollup_state.json``): a
   partition that is new, re-materialized or removed is *dirty*;
3. recomputes the periods dirty partitions touch (``periods.touched_hours``, old and new
   coverage) and the periods still flagged incomplete (whose flag can change when a partition
   lands next to them), and only those: from the partials of the partitions overlapping them;
4. replaces exactly those periods in each rollup table (one Delta commit per table), then
   records the new state.

Custom tokens' decimals come from ``token_decimals`` (the latest ``decimal`` of each contract's
SEP-41 metadata over every stored ``token_metadata`` partition), joined here rather than in the
partials: a decimal stored in a later partition than a token's events still applies. The state
records the lookup it used; a token whose decimals changed (first seen, or changed) has every
stored period of it recomputed, so its amount categories follow.

Completeness flags come from the coverage of every stored partition (``periods``). A crash
between step 4's commits and the state leaves the state behind, so the next update recomputes
the same periods again; recomputing a period from the same partials gives the same rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from .. import schemas
from ..storage.catalog import open_store
from ..storage.delta_store import PARTITION_COLUMN
from ..storage.location import Location
from ..storage.rollup_store import RollupStore
from .engine import connect
from .partials import DECIMALS_SCHEMA, conform
from .periods import (
    GRAINS,
    Coverage,
    floor,
    is_complete,
    overlaps,
    periods_of_hours,
    runs,
    touched_hours,
)
from .rollup_sql import QUERIES

log = logging.getLogger(__name__)

PARTIAL_TABLES = tuple(schemas.ANALYTICS_PARTIAL_TABLES)
ROLLUPS = tuple(schemas.ROLLUP_TABLES)
STATE_PATH = ("_analytics", "rollup_state.json")
METADATA_TABLE = "token_metadata"
_INT32_MAX = 2**31 - 1
_TS = pa.timestamp("s", tz="UTC")


@dataclass(frozen=True)
class StoredPartial:
    coverage: Coverage
    fingerprint: str


@dataclass
class RollupUpdate:
    """What one update did."""

    periods: dict[str, list[dt.datetime]]
    dirty: list[str]
    sources: list[str]
    rows: dict[str, int] = field(default_factory=dict)  # rows written per table
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def recomputed(self) -> int:
        return sum(len(v) for v in self.periods.values())


def _data_files(location: Location, table: str) -> pa.Table:
    """The current data files of a partial table, with their statistics: one log read."""
    try:
        dt_ = DeltaTable(
            location.delta_uri(table), storage_options=location.delta_storage_options()
        )
    except TableNotFoundError:
        return pa.table({"path": pa.array([], pa.string()), "key": pa.array([], pa.string())})
    actions = pa.table(dt_.get_add_actions(flatten=True))
    return actions.rename_columns(
        ["key" if c == f"partition.{PARTITION_COLUMN}" else c for c in actions.column_names]
    )


def stored_partials(location: Location) -> dict[str, StoredPartial]:
    """Partitions committed in every partial table, with coverage and fingerprint.

    Read from each table's Delta log and a listing of its coverage records (a handful of
    requests, however many partitions): a partition's fingerprint is the data files it has in
    each table (a new materialization writes new files), its ledgers and close times are the
    min/max statistics of its ``ledger_activity`` files (one row per ledger, so never empty).
    """
    keys: set[str] | None = None
    files: dict[str, list[str]] = {}
    for table in PARTIAL_TABLES:
        committed = set(open_store(location, table).committed_keys())
        keys = committed if keys is None else keys & committed
        data = _data_files(location, table)
        for key, path in zip(
            data.column("key").to_pylist(), data.column("path").to_pylist(), strict=True
        ):
            files.setdefault(key, []).append(f"{table}/{path}")
    activity = _data_files(location, "ledger_activity")
    spans: dict[str, list[int]] = {}
    if activity.num_rows:
        cols = ["min.ledger_sequence", "max.ledger_sequence", "min.closed_at", "max.closed_at"]
        for row in activity.select(["key", *cols]).to_pylist():
            lo_seq, hi_seq = int(row[cols[0]]), int(row[cols[1]])
            lo_t, hi_t = int(row[cols[2]].timestamp()), int(row[cols[3]].timestamp())
            s = spans.setdefault(row["key"], [lo_seq, hi_seq, lo_t, hi_t])
            s[:] = [min(s[0], lo_seq), max(s[1], hi_seq), min(s[2], lo_t), max(s[3], hi_t)]
    return {
        key: StoredPartial(
            Coverage(key, *spans[key]),
            hashlib.sha256("|".join(sorted(files[key])).encode()).hexdigest()[:32],
        )
        for key in sorted(keys or set())
        if key in spans
    }


def token_decimals(location: Location) -> pa.Table:
    """The ``token_decimals`` lookup: per contract, the ``decimals`` of its latest METADATA row
    (by ledger, transaction and change) over every stored ``token_metadata`` partition. Rows
    whose decimal was not a u32 are left out; so is a decimal beyond int32 (no such token)."""
    try:
        table = DeltaTable(
            location.delta_uri(METADATA_TABLE), storage_options=location.delta_storage_options()
        )
    except TableNotFoundError:
        return DECIMALS_SCHEMA.empty_table()
    rows = table.to_pyarrow_dataset().to_table(
        columns=["contract_id", "decimals", "ledger_sequence", "transaction_index", "change_index"],
        filter=ds.field("decimals").is_valid(),
    )
    con = connect()
    try:
        con.register("token_metadata", rows)
        latest = con.sql(
            f"""
            SELECT contract_id,
                   CASE WHEN decimals <= {_INT32_MAX} THEN decimals END AS decimals
            FROM token_metadata
            QUALIFY row_number() OVER (
                PARTITION BY contract_id
                ORDER BY ledger_sequence DESC, transaction_index DESC, change_index DESC
            ) = 1
            ORDER BY contract_id
            """
        ).to_arrow_table()
    finally:
        con.close()
    return conform(latest, DECIMALS_SCHEMA).filter(pc.is_valid(latest["decimals"]))


def _decimals_map(decimals: pa.Table) -> dict[str, int]:
    return dict(
        zip(
            decimals.column("contract_id").to_pylist(),
            decimals.column("decimals").to_pylist(),
            strict=True,
        )
    )


def _read_full_state(location: Location) -> dict:
    fs = location.fs
    try:
        with fs.open_input_stream(location.path(*STATE_PATH), compression=None) as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return {}


def _write_state(
    location: Location, current: dict[str, StoredPartial], decimals: dict[str, int]
) -> None:
    state = {
        k: {
            "fingerprint": p.fingerprint,
            "first_ledger": p.coverage.first_ledger,
            "last_ledger": p.coverage.last_ledger,
            "first_close": p.coverage.first_close,
            "last_close": p.coverage.last_close,
        }
        for k, p in current.items()
    }
    fs = location.fs
    final = location.path(*STATE_PATH)
    tmp = final + ".tmp"
    if location.is_local:
        fs.create_dir(location.path(STATE_PATH[0]), recursive=True)
    with fs.open_output_stream(tmp, compression=None) as out:
        out.write(json.dumps({"partitions": state, "decimals": decimals}, sort_keys=True).encode())
    fs.move(tmp, final)


@dataclass(frozen=True)
class IncompletePeriod:
    grain: str
    start: dt.datetime


def _incomplete_periods(location: Location) -> list[IncompletePeriod]:
    rows = RollupStore(location, "network_activity").read(filter=~ds.field("complete"))
    return [
        IncompletePeriod(r["grain"], r["period_start"])
        for r in rows.select(["grain", "period_start"]).to_pylist()
    ]


def _state_coverage(key: str, s: dict) -> Coverage:
    return Coverage(key, s["first_ledger"], s["last_ledger"], s["first_close"], s["last_close"])


def plan(
    current: dict[str, StoredPartial],
    state: dict[str, dict],
    incomplete: list[IncompletePeriod],
) -> tuple[list[str], dict[str, set[dt.datetime]]]:
    """(dirty partitions, periods to recompute per grain).

    The figures of a period change only when a partition holding its ledgers changes: the
    hours a dirty partition's ledgers (new or old) closed in, and one on each side, whose
    completeness rests on the ledger just before or after them. A period stored as incomplete
    is recomputed when the stored ledgers now make it complete (a late partition filled the
    gap beside it, however far its ledgers are). Nothing else is read or rewritten.
    """
    dirty = sorted(
        k
        for k in set(current) | set(state)
        if k not in current or k not in state or state[k]["fingerprint"] != current[k].fingerprint
    )
    hours: set[dt.datetime] = set()
    for k in dirty:
        if k in current:
            hours |= touched_hours(current[k].coverage)
        if k in state:
            hours |= touched_hours(_state_coverage(k, state[k]))
    periods = periods_of_hours(hours)
    if dirty:
        stored = runs(p.coverage for p in current.values())
        for p in incomplete:
            if is_complete(p.start, p.start + GRAINS[p.grain], stored):
                periods[p.grain].add(p.start)
    return dirty, periods


def periods_table(
    periods: dict[str, set[dt.datetime]], current: dict[str, StoredPartial]
) -> pa.Table:
    stored = runs(p.coverage for p in current.values())
    rows: dict[str, list] = {
        k: [] for k in ("grain", "period_start", "period_end", "day", "complete")
    }
    for grain, starts in sorted(periods.items()):
        for start in sorted(starts):
            end = start + GRAINS[grain]
            rows["grain"].append(grain)
            rows["period_start"].append(start)
            rows["period_end"].append(end)
            rows["day"].append(floor(start, "day").strftime("%Y-%m-%d"))
            rows["complete"].append(is_complete(start, end, stored))
    return pa.table(
        {
            "grain": pa.array(rows["grain"], pa.string()),
            "period_start": pa.array(rows["period_start"], _TS),
            "period_end": pa.array(rows["period_end"], _TS),
            "day": pa.array(rows["day"], pa.string()),
            "complete": pa.array(rows["complete"], pa.bool_()),
        }
    )


def _windows(periods: dict[str, set[dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(s, s + GRAINS[g]) for g, starts in periods.items() for s in starts]


def _read_partials(
    location: Location, keys: Iterable[str], hours: list[dt.datetime]
) -> dict[str, pa.Table]:
    """The rows of ``hours`` in the partial tables of partitions ``keys``."""
    wanted = pa.array(sorted(hours), pa.timestamp("us", tz="UTC"))
    lo, hi = min(hours), max(hours) + GRAINS["hour"]
    out = {}
    for table in PARTIAL_TABLES:
        store = open_store(location, table)
        if table == "ledger_activity":
            flt = (ds.field("closed_at") >= pa.scalar(lo, pa.timestamp("us", tz="UTC"))) & (
                ds.field("closed_at") < pa.scalar(hi, pa.timestamp("us", tz="UTC"))
            )
        else:
            flt = ds.field("hour").isin(wanted)
        batches = [b for k in keys for b in store.batches(k, filter=flt)]
        out[table] = pa.Table.from_batches(batches, schema=store.schema)
    return out


def compute_rollups(
    partials: dict[str, pa.Table], periods: pa.Table, decimals: pa.Table | None = None
) -> dict[str, pa.Table]:
    """The rollup rows of ``periods`` from the partial rows given (pure; DuckDB). ``decimals``
    is the token_decimals lookup (one row per contract), for custom tokens' categories."""
    con = connect()
    try:
        for name, table in partials.items():
            con.register(name, table)
        con.register("periods", periods)
        con.register(
            "decimals", decimals if decimals is not None else DECIMALS_SCHEMA.empty_table()
        )
        return {
            name: conform(con.sql(sql).to_arrow_table(), schemas.ROLLUP_TABLES[name])
            for name, sql in QUERIES.items()
        }
    finally:
        con.close()


def update_rollups(location: Location, full: bool = False) -> RollupUpdate:
    """Bring every rollup table up to date with the stored partials (see the module docs).
    ``full`` recomputes every period of every stored partition."""
    current = stored_partials(location)
    full_state = {} if full else _read_full_state(location)
    state = full_state.get("partitions", {})
    decimals = token_decimals(location)
    now = _decimals_map(decimals)
    incomplete = _incomplete_periods(location)
    dirty, periods = plan(current, state, incomplete)
    if full:
        stale = {g: set(s) for g, s in _all_periods(location).items()}
        for g in periods:
            periods[g] |= stale.get(g, set())
    else:
        before = full_state.get("decimals", {})
        changed = sorted(c for c in set(before) | set(now) if before.get(c) != now.get(c))
        for g, starts in _periods_of_assets(location, changed).items():
            periods[g] |= starts
    windows = _windows(periods)
    sources = sorted(
        k for k, p in current.items() if any(overlaps(p.coverage, s, e) for s, e in windows)
    )
    update = RollupUpdate({g: sorted(s) for g, s in periods.items()}, dirty, sources)
    if windows:
        hours = sorted({h for s, e in windows for h in _hours_in(s, e)})
        partials = _read_partials(location, sources, hours)
        rows = compute_rollups(partials, periods_table(periods, current), decimals)
        for name in ROLLUPS:
            store = RollupStore(location, name)
            update.versions[name] = store.replace_periods(rows[name], periods)
            update.rows[name] = rows[name].num_rows
    _write_state(location, current, now)
    log.info(
        "rollups updated",
        extra={"dirty": dirty, "periods": update.recomputed, "sources": sources},
    )
    return update


def _hours_in(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    out, h = [], start
    while h < end:
        out.append(h)
        h += GRAINS["hour"]
    return out


def _periods_of_assets(location: Location, asset_keys: list[str]) -> dict[str, set[dt.datetime]]:
    """The stored periods of ``asset_keys`` in ``asset_activity`` (a custom token's key is its
    contract id): the periods to recompute when their decimals change."""
    out: dict[str, set[dt.datetime]] = {g: set() for g in GRAINS}
    if not asset_keys:
        return out
    rows = RollupStore(location, "asset_activity").read(
        filter=ds.field("asset_key").isin(asset_keys)
    )
    for grain, start in zip(
        rows.column("grain").to_pylist(), rows.column("period_start").to_pylist(), strict=True
    ):
        out[grain].add(start)
    return out


def _all_periods(location: Location) -> dict[str, set[dt.datetime]]:
    rows = RollupStore(location, "network_activity").read().select(["grain", "period_start"])
    out: dict[str, set[dt.datetime]] = {g: set() for g in GRAINS}
    for grain, start in zip(
        rows.column("grain").to_pylist(), rows.column("period_start").to_pylist(), strict=True
    ):
        out[grain].add(start)
    return out


def top_assets_markdown(location: Location, limit: int = 10) -> str:
    """The assets with the largest transfer volume over every stored day, as markdown (volumes
    are non-negative decimal strings: longer is larger, then lexicographic)."""
    days = RollupStore(location, "asset_activity").read(filter=ds.field("grain") == "day")
    if days.num_rows == 0:
        return "no transfers yet"
    con = connect()
    try:
        con.register("days", days.select(["asset_key", "transfer_count", "transfer_volume_raw"]))
        top = con.sql(
            f"""
            SELECT asset_key, sum(transfer_count) AS transfers,
                   exact_text(sum(amount_hi(transfer_volume_raw)),
                              sum(amount_lo(transfer_volume_raw))) AS volume
            FROM days GROUP BY asset_key
            ORDER BY length(volume) DESC, volume DESC, asset_key LIMIT {int(limit)}
            """
        ).fetchall()
    finally:
        con.close()
    lines = ["| asset | transfers | volume (raw units) |", "|---|---:|---:|"]
    lines += [f"| {a} | {n} | {v} |" for a, n, v in top]
    return "\n".join(lines)


def period_span(location: Location) -> tuple[str | None, str | None, int, int]:
    """(first period start, last period end, complete days, incomplete days) stored."""
    net = RollupStore(location, "network_activity").read(filter=ds.field("grain") == "day")
    if net.num_rows == 0:
        return None, None, 0, 0
    first = pc.min(net.column("period_start")).as_py()
    last = pc.max(net.column("period_end")).as_py()
    complete = pc.sum(net.column("complete").cast(pa.int64())).as_py() or 0
    return first.isoformat(), last.isoformat(), complete, net.num_rows - complete
