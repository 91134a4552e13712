"""The analytics tier on the real lakes: every rollup row equals an independent computation
(plain Python over the stored events, ledgers, transactions and operations), the same figures
whatever the partitioning and the order partitions land in, nothing changed by a re-run, and
completeness flags that follow the ledgers present."""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from ttp_assets.core import schemas
from ttp_assets.core.analytics.engine import connect
from ttp_assets.core.analytics.periods import Coverage, is_complete, runs, touched_hours
from ttp_assets.core.analytics.rollups import IncompletePeriod, StoredPartial, plan, update_rollups
from ttp_assets.core.ledger_ranges import keys_covering
from ttp_assets.core.storage.catalog import open_store
from ttp_assets.core.storage.delta_store import PartitionWrite
from ttp_assets.core.storage.location import open_location
from ttp_assets.core.storage.rollup_store import RollupStore
from ttp_assets.definitions import build_definitions
from ttp_assets.defs.jobs import ANALYTICS_PARTIALS_JOB, ANALYTICS_ROLLUPS_JOB
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    TESTNET_LAST,
    check_results,
    failure_messages,
    materialize,
    stored_table,
)
from ttp_assets_tests.shared_data import lake_dir

pytestmark = pytest.mark.slow

SMALL_BELOW, LARGE_FROM = 100, 100_000  # the defaults, in whole units (7 decimals: classic)
ANALYTICS_CHECKS = {"analytics_partials_add_up", "asset_activity_adds_up", "analytics_completeness"}
ROLLUPS = ("asset_activity", "network_activity", "network_operations")

# (lake, network, first, last, width): a few partitions each, small widths.
LAKES = {
    "testnet-2022": ("testnet", TESTNET_FIRST, TESTNET_LAST, TEST_WIDTH),
    "pubnet-p26": ("pubnet", 63092982, 63092991, 2),
    "pubnet": ("pubnet", 53312000, 53312000, 1000),
}


def settings_for(storage: Path, lake: str, width: int | None = None) -> Settings:
    network, _, _, default_width = LAKES[lake]
    return Settings(
        network=network,
        lake_uri=str(lake_dir(lake)),
        storage_uri=str(storage),
        partition_width=width or default_width,
    )


def run_partials(
    settings: Settings, instance: dg.DagsterInstance, keys: list[str]
) -> dg.ExecuteInProcessResult:
    job = build_definitions(settings).resolve_job_def(ANALYTICS_PARTIALS_JOB)
    return job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        },
        raise_on_error=False,
    )


def run_rollups(settings: Settings, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = build_definitions(settings).resolve_job_def(ANALYTICS_ROLLUPS_JOB)
    return job.execute_in_process(instance=instance, raise_on_error=False)


def passed(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    assert result.success, failure_messages(result)
    return check_results(result)


def ingest(settings: Settings, lake: str) -> tuple[dg.DagsterInstance, list[str]]:
    _, first, last, width = LAKES[lake]
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, first, last, instance=instance, through=last)
    assert result.success, failure_messages(result)
    return instance, keys_covering(first, last, settings.partition_width or width)


def rollup(settings: Settings, table: str) -> list[dict]:
    rows = RollupStore(open_location(settings.storage_uri), table).read().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in sorted(r)))


# -- the independent computation ----------------------------------------------------------------


def _periods(t: dt.datetime) -> list[tuple[str, dt.datetime, dt.timedelta]]:
    h = t.replace(minute=0, second=0, microsecond=0)
    d = h.replace(hour=0)
    return [("hour", h, dt.timedelta(hours=1)), ("day", d, dt.timedelta(days=1))]


def complete_flags(ledgers: list[dict]) -> dict[tuple[str, dt.datetime], bool]:
    """The definition: every ledger of the period, and the ones just before and after it,
    are stored, with no gap between."""
    close = {r["ledger_sequence"]: r["closed_at"] for r in ledgers}
    members: dict[tuple[str, dt.datetime], list[int]] = defaultdict(list)
    ends = {}
    for seq, t in close.items():
        for grain, start, length in _periods(t):
            members[(grain, start)].append(seq)
            ends[(grain, start)] = start + length
    out = {}
    for (grain, start), seqs in members.items():
        before, after = min(seqs) - 1, max(seqs) + 1
        out[(grain, start)] = (
            before in close
            and after in close
            and close[before] < start
            and close[after] >= ends[(grain, start)]
            and all(s in close for s in range(before, after + 1))
        )
    return out


_COUNT = {"transfer": "transfer_count", "mint": "mint_count", "burn": "burn_count"}
_COUNT |= {"clawback": "clawback_count", "fee": "fee_count"}
_SUM = {"transfer": "transfer_volume", "mint": "minted", "burn": "burned"}
_SUM |= {"clawback": "clawed_back", "fee": "fees"}


def latest_decimals(storage: Path | str) -> dict[str, int]:
    """Per contract, the decimals of its latest stored METADATA row (by ledger, transaction,
    change) that has them: the token_decimals lookup, computed independently."""
    rows = stored_table(storage, "token_metadata").to_pylist()
    out = {}
    for r in sorted(
        rows, key=lambda r: (r["ledger_sequence"], r["transaction_index"], r["change_index"])
    ):
        if r["decimals"] is not None:
            out[r["contract_id"]] = r["decimals"]
    return out


def expected_assets(events: list[dict], flags: dict, decimals: dict[str, int]) -> list[dict]:
    rows: dict[tuple, dict] = {}
    sets: dict[tuple, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for e in events:
        key = e["asset"] or e["contract_id"]
        amount = int(e["amount_raw"])
        for grain, start, length in _periods(e["closed_at"]):
            k = (grain, start, key)
            r = rows.setdefault(
                k,
                {
                    "grain": grain,
                    "period_start": start,
                    "period_end": start + length,
                    "day": start.strftime("%Y-%m-%d"),
                    "complete": flags[(grain, start)],
                    "asset_key": key,
                    "asset": e["asset"],
                    "contract_id": e["contract_id"],
                    "decimals": 7 if e["asset"] else decimals.get(e["contract_id"]),
                    **dict.fromkeys(_COUNT.values(), 0),
                    **dict.fromkeys(_SUM.values(), 0),
                    **dict.fromkeys(["small", "medium", "large"], (0, 0)),
                    "first_ledger": e["ledger_sequence"],
                    "last_ledger": e["ledger_sequence"],
                },
            )
            typ = e["event_type"]
            r[_COUNT[typ]] += 1
            r[_SUM[typ]] += amount
            r["first_ledger"] = min(r["first_ledger"], e["ledger_sequence"])
            r["last_ledger"] = max(r["last_ledger"], e["ledger_sequence"])
            if typ == "transfer" and r["decimals"] is not None:
                units = 10 ** r["decimals"]
                cat = (
                    "small"
                    if amount < SMALL_BELOW * units
                    else "medium"
                    if amount < LARGE_FROM * units
                    else "large"
                )
                n, s = r[cat]
                r[cat] = (n + 1, s + amount)
            if typ != "fee":
                for side in ("from", "to"):
                    if e[side]:
                        sets[k]["accounts"].add(e[side])
                if typ == "transfer":
                    if e["from"]:
                        sets[k]["senders"].add(e["from"])
                    if e["to"]:
                        sets[k]["receivers"].add(e["to"])
    out = []
    for k, r in rows.items():
        r["net_supply_change"] = r["minted"] - r["burned"] - r["clawed_back"]
        for cat in ("small", "medium", "large"):
            r[f"{cat}_count"], r[f"{cat}_volume"] = r.pop(cat)
        for name in [
            *_SUM.values(),
            "net_supply_change",
            *(f"{c}_volume" for c in ("small", "medium", "large")),
        ]:
            v = r[name]
            r[f"{name}_raw"] = str(v)
            r[name] = Decimal(v) if abs(v) < 10**38 else None
        r["unique_senders"] = len(sets[k]["senders"])
        r["unique_receivers"] = len(sets[k]["receivers"])
        r["unique_accounts"] = len(sets[k]["accounts"])
        out.append(r)
    return out


def expected_network(
    ledgers: list[dict], txs: list[dict], ops: list[dict], events: list[dict], flags: dict
) -> tuple[list[dict], list[dict]]:
    net: dict[tuple, dict] = {}
    active: dict[tuple, set[str]] = defaultdict(set)
    by_type: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    events_per_ledger: dict[int, int] = defaultdict(int)
    for e in events:
        events_per_ledger[e["ledger_sequence"]] += 1
    for lg in ledgers:
        for grain, start, length in _periods(lg["closed_at"]):
            r = net.setdefault(
                (grain, start),
                {
                    "grain": grain,
                    "period_start": start,
                    "period_end": start + length,
                    "day": start.strftime("%Y-%m-%d"),
                    "complete": flags[(grain, start)],
                    "first_ledger": lg["ledger_sequence"],
                    "last_ledger": lg["ledger_sequence"],
                    "ledger_count": 0,
                    "transaction_count": 0,
                    "successful_transaction_count": 0,
                    "failed_transaction_count": 0,
                    "operation_count": 0,
                    "successful_operation_count": 0,
                    "fee_charged": 0,
                    "soroban_invocations": 0,
                    "accounts_created": 0,
                    "event_count": 0,
                },
            )
            r["first_ledger"] = min(r["first_ledger"], lg["ledger_sequence"])
            r["last_ledger"] = max(r["last_ledger"], lg["ledger_sequence"])
            r["ledger_count"] += 1
            for c in (
                "transaction_count",
                "successful_transaction_count",
                "failed_transaction_count",
                "operation_count",
                "successful_operation_count",
                "fee_charged",
            ):
                r[c] += lg[c]
            r["event_count"] += events_per_ledger[lg["ledger_sequence"]]
    for tx in txs:
        for grain, start, _ in _periods(tx["closed_at"]):
            active[(grain, start)] |= {tx["account"], tx["fee_account"]}
    for op in ops:
        for grain, start, _ in _periods(op["closed_at"]):
            active[(grain, start)].add(op["source_account"])
            counts = by_type[(grain, start, op["type"])]
            counts[0] += 1
            counts[1] += op["successful"]
            if op["successful"] and op["type"] == "invoke_host_function":
                net[(grain, start)]["soroban_invocations"] += 1
            if op["successful"] and op["type"] == "create_account":
                net[(grain, start)]["accounts_created"] += 1
    for k, r in net.items():
        r["active_accounts"] = len(active[k])
    operations = [
        {
            "grain": grain,
            "period_start": start,
            "period_end": net[(grain, start)]["period_end"],
            "day": start.strftime("%Y-%m-%d"),
            "complete": flags[(grain, start)],
            "type": typ,
            "operation_count": n,
            "successful_operation_count": ok,
        }
        for (grain, start, typ), (n, ok) in by_type.items()
    ]
    return list(net.values()), operations


def expected_rollups(storage: Path | str, keys: list[str] | None = None) -> dict[str, list[dict]]:
    """Every rollup row, from the stored tables of ``keys`` (default: every stored partition)."""

    def rows(table: str) -> list[dict]:
        t = stored_table(storage, table)
        if keys is not None:
            stored = set(keys)
            t = t.filter(
                pa.compute.is_in(
                    t["ledger_sequence"],
                    pa.array(
                        [
                            s
                            for k in stored
                            for s in range(int(k.split("-")[0]), int(k.split("-")[1]) + 1)
                        ],
                        t.schema.field("ledger_sequence").type,
                    ),
                )
            )
        return t.to_pylist()

    ledgers, events = rows("ledgers"), rows("ttp_events")
    flags = complete_flags(ledgers)
    net, ops = expected_network(ledgers, rows("transactions"), rows("operations"), events, flags)
    key = lambda r: tuple(str(r[k]) for k in sorted(r))  # noqa: E731
    return {
        "asset_activity": sorted(expected_assets(events, flags, latest_decimals(storage)), key=key),
        "network_activity": sorted(net, key=key),
        "network_operations": sorted(ops, key=key),
    }


def assert_rollups_are(settings: Settings, expected: dict[str, list[dict]]) -> None:
    for table in ROLLUPS:
        got = rollup(settings, table)
        assert len(got) == len(expected[table]), table
        for g, want in zip(got, expected[table], strict=True):
            assert g == want, (table, g, want)


# -- tests -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Settings, list]]:
    """Each lake ingested, its partials computed in one run, then the rollups."""
    out = {}
    for lake in LAKES:
        settings = settings_for(tmp_path_factory.mktemp(lake), lake)
        instance, keys = ingest(settings, lake)
        results = [run_partials(settings, instance, keys), run_rollups(settings, instance)]
        out[lake] = (settings, results, instance, keys)
    return out


@pytest.mark.parametrize("lake", list(LAKES))
def test_rollups_equal_an_independent_computation(lakes, lake: str) -> None:  # type: ignore[no-untyped-def]
    settings, results, _, _ = lakes[lake]
    checks = {**passed(results[0]), **passed(results[1])}
    assert checks == dict.fromkeys(ANALYTICS_CHECKS, True), checks
    expected = expected_rollups(settings.storage_uri)
    assert expected["asset_activity"] and expected["network_activity"]
    assert_rollups_are(settings, expected)


# The custom SEP-41 tokens whose METADATA pubnet-p26's ledgers change (both 7 decimals), with
# the ledger of each one's latest change. Neither has token events in those ledgers.
P26_METADATA = {
    "CAM7DY53G63XA4AJRS24Z6VFYAFSSF76C3RZ45BE5YU3FQS5255OOABP": 63092990,
    "CCA2ZJP5BVRXYTQH4FAGHCAUMRYCXVC4CRYC2NXHWMR7TIVX36U7F5HR": 63092983,
}


def test_custom_tokens_without_known_decimals_have_no_units_or_categories(lakes) -> None:  # type: ignore[no-untyped-def]
    settings, *_ = lakes["pubnet-p26"]
    events = stored_table(settings.storage_uri, "ttp_events")
    custom = events.filter(pa.compute.is_null(events["asset"]))
    classic = events.filter(pa.compute.is_valid(events["asset"]))
    assert custom.num_rows > 0 and classic.num_rows > 0
    # amount_units: null for every custom token (empty rather than wrong; see the README).
    assert custom["amount_units"].null_count == custom.num_rows
    assert classic["amount_units"].null_count == 0
    meta = stored_table(settings.storage_uri, "token_metadata").to_pylist()
    assert {r["contract_id"]: r["ledger_sequence"] for r in meta} == P26_METADATA
    assert latest_decimals(settings.storage_uri) == dict.fromkeys(P26_METADATA, 7)
    rows = [r for r in rollup(settings, "asset_activity") if r["asset"] is None]
    assert rows and not {r["contract_id"] for r in rows} & set(P26_METADATA)
    assert all(r["decimals"] is None and r["small_count"] == 0 for r in rows)


def _metadata_row(seq: int, contract: str, decimals: int) -> dict:
    return {
        "ledger_sequence": seq,
        "closed_at": dt.datetime(2026, 6, 19, 23, tzinfo=dt.UTC),
        "transaction_hash": "ab" * 32,
        "transaction_index": 1,
        "operation_index": 1,
        "change_index": 3,
        "change_type": "updated",
        "contract_id": contract,
        "executable": "wasm",
        "decimals": decimals,
        "name": "Test token",
        "symbol": "TEST",
    }


def test_decimals_from_a_later_partition_recategorize_the_tokens_periods(
    lakes, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Metadata stored in a partition after the token's events (and no partial changed): the
    rollups recompute that token's periods with its decimals; the latest value wins; removing
    the partition brings back the figures of before."""
    reference, _, _, _ = lakes["pubnet-p26"]
    copy = tmp_path / "p26"
    shutil.copytree(reference.storage_uri, copy)
    settings = settings_for(copy, "pubnet-p26")
    instance = dg.DagsterInstance.ephemeral()
    before = {t: rollup(settings, t) for t in ROLLUPS}
    custom = [r for r in before["asset_activity"] if r["asset"] is None and r["transfer_count"]]
    token = max(custom, key=lambda r: r["transfer_count"])["contract_id"]
    store = open_store(open_location(str(copy)), "token_metadata")
    later = "0063093000-0063093001"  # after every stored ledger; no partial partition of it
    rows = [_metadata_row(63093000, token, 18), _metadata_row(63093001, token, 2)]
    store.write(
        [
            PartitionWrite(
                later,
                lambda: [pa.RecordBatch.from_pylist(rows, schema=schemas.TOKEN_METADATA)],
                {"ttp.partition_key": later},
            )
        ]
    )
    result = run_rollups(settings, instance)
    passed(result)
    meta = result.asset_materializations_for_node("analytics_rollups")[0].metadata
    assert meta["changed_partitions"].value == "none"
    assert meta["hours_recomputed"].value > 0
    got = [r for r in rollup(settings, "asset_activity") if r["asset_key"] == token]
    assert got and all(r["decimals"] == 2 for r in got)
    for r in got:
        assert r["small_count"] + r["medium_count"] + r["large_count"] == r["transfer_count"]
    assert_rollups_are(settings, expected_rollups(copy))
    # Gone again: the token's decimals are unknown again, and so are its categories.
    store.delete(later)
    passed(run_rollups(settings, instance))
    assert {t: rollup(settings, t) for t in ROLLUPS} == before


def test_metadata_shows_rows_periods_and_top_assets(lakes) -> None:  # type: ignore[no-untyped-def]
    settings, results, _, _ = lakes["testnet-2022"]
    mats = {
        m.asset_key.to_user_string(): m.metadata
        for m in results[1].asset_materializations_for_node("analytics_rollups")
    }
    assert set(mats) == set(ROLLUPS)
    for table, meta in mats.items():
        assert meta["dagster/row_count"].value == len(rollup(settings, table))
    days = [r for r in rollup(settings, "network_activity") if r["grain"] == "day"]
    assert mats["network_activity"]["first_period"].value == days[0]["period_start"].isoformat()
    top = mats["asset_activity"]["top_assets_by_volume"].value
    native = [
        r
        for r in rollup(settings, "asset_activity")
        if r["grain"] == "day" and r["asset_key"] == "native"
    ]
    assert f"| native | {native[0]['transfer_count']} | {native[0]['transfer_volume_raw']} |" in top


def test_same_figures_whatever_the_partitions_and_their_order(lakes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """testnet in 5 partitions landing out of order (rollups after each), and in one
    partition: the same rows as all 5 at once; figures follow each late partition."""
    reference, *_ = lakes["testnet-2022"]
    want = {t: rollup(reference, t) for t in ROLLUPS}

    settings = settings_for(tmp_path / "shuffled", "testnet-2022")
    instance, keys = ingest(settings, "testnet-2022")
    order = [keys[3], keys[0], keys[4], keys[2], keys[1]]
    landed: list[str] = []
    for key in order:
        passed(run_partials(settings, instance, [key]))
        passed(run_rollups(settings, instance))
        landed.append(key)
        # Exactly the events of the partitions landed so far, flagged by those ledgers.
        assert_rollups_are(settings, expected_rollups(settings.storage_uri, landed))
    assert {t: rollup(settings, t) for t in ROLLUPS} == want

    single = settings_for(tmp_path / "single", "testnet-2022", width=1024)
    instance, keys = ingest(single, "testnet-2022")
    assert len(keys) == 1
    passed(run_partials(single, instance, keys))
    passed(run_rollups(single, instance))
    assert {t: rollup(single, t) for t in ROLLUPS} == want


def test_rematerializing_changes_nothing(lakes) -> None:  # type: ignore[no-untyped-def]
    settings, _, instance, keys = lakes["pubnet-p26"]
    before = {t: rollup(settings, t) for t in ROLLUPS}
    passed(run_partials(settings, instance, [keys[2]]))
    result = run_rollups(settings, instance)
    passed(result)
    meta = result.asset_materializations_for_node("analytics_rollups")[0].metadata
    assert meta["changed_partitions"].value == keys[2]
    assert {t: rollup(settings, t) for t in ROLLUPS} == before


def test_completeness_rule_on_real_close_times(lakes) -> None:  # type: ignore[no-untyped-def]
    """``periods.is_complete`` over coverage runs agrees with the definition (every ledger of
    the period and its two neighbours stored, no gap) for every minute and 5-minute window of
    the testnet ledgers, with a partition missing in the middle."""
    settings, *_ = lakes["testnet-2022"]
    ledgers = stored_table(settings.storage_uri, "ledgers").to_pylist()
    close = {r["ledger_sequence"]: r["closed_at"] for r in ledgers}
    parts = [sorted(close)[i : i + 32] for i in range(0, len(close), 32)]
    for missing in (None, 2):
        kept = [p for i, p in enumerate(parts) if i != missing]
        stored = {s for p in kept for s in p}
        coverages = [
            Coverage(
                str(p[0]), p[0], p[-1], int(close[p[0]].timestamp()), int(close[p[-1]].timestamp())
            )
            for p in kept
        ]
        seen = {True: 0, False: 0}
        for minutes in (1, 5):
            length = dt.timedelta(minutes=minutes)
            start = min(close.values()).replace(second=0) - length
            while start <= max(close.values()) + length:
                inside = [s for s, t in close.items() if start <= t < start + length]
                if inside:
                    before, after = min(inside) - 1, max(inside) + 1
                    want = all(s in stored for s in range(before, after + 1))
                    got = is_complete(start, start + length, runs(coverages))
                    assert got == want, (missing, start, minutes)
                    seen[want] += 1
                start += length
        assert seen[True] and seen[False]


def test_a_new_partition_recomputes_only_what_it_touches() -> None:
    """A day of 1000-ledger partitions; one more lands in the gap: only its hours (and one on
    each side) and its day are recomputed; the incomplete tip hour is left alone."""
    day = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    t0 = int(day.timestamp())

    def part(i: int) -> StoredPartial:
        first = 1_000_000 + 1000 * i
        close = t0 + 5000 * i  # 5 s per ledger
        return StoredPartial(Coverage(f"p{i}", first, first + 999, close, close + 4995), "v1")

    current = {f"p{i}": part(i) for i in range(17) if i != 8}
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
    # Hours 10 and 11 sit at the gap (partition 8 holds 11:06:40-12:30:00).
    incomplete = [
        IncompletePeriod("hour", day + dt.timedelta(hours=11)),
        IncompletePeriod("hour", day + dt.timedelta(hours=12)),
        IncompletePeriod("day", day),
        IncompletePeriod("hour", day + dt.timedelta(hours=23)),  # the tip: stays incomplete
    ]
    current["p8"] = part(8)
    dirty, periods = plan(current, state, incomplete)
    assert dirty == ["p8"]
    hours = sorted(h.hour for h in periods["hour"])
    assert hours == [10, 11, 12, 13] == sorted(h.hour for h in touched_hours(part(8).coverage))
    assert periods["day"] == {day}
    # Nothing changed: nothing to do, even with incomplete periods stored.
    state["p8"] = {**state["p7"], "first_ledger": 1_008_000, "last_ledger": 1_008_999}
    state["p8"].update(first_close=t0 + 40000, last_close=t0 + 44995)
    assert plan(current, state, incomplete) == ([], {"hour": set(), "day": set()})


def test_exact_sums_beyond_i128() -> None:
    rng = random.Random(7)
    values = [rng.randint(-(2**127), 2**127 - 1) for _ in range(5000)]
    values += [2**127 - 1] * 50  # the sum exceeds i128 and decimal(38,0)
    con = connect()
    try:
        con.register("t", pa.table({"raw": [str(v) for v in values]}))
        got = con.sql(
            "SELECT exact_text(sum(amount_hi(raw)), sum(amount_lo(raw))), "
            "exact_decimal(exact_text(sum(amount_hi(raw)), sum(amount_lo(raw)))) FROM t"
        ).fetchone()
    finally:
        con.close()
    assert got is not None and got[0] == str(sum(values))
    assert abs(sum(values)) >= 10**38 and got[1] is None


def run_rollup_checks(settings: Settings) -> dict[str, bool]:
    job = dg.define_asset_job(
        "rollup_checks", selection=dg.AssetSelection.checks_for_assets(*ROLLUPS)
    )
    defs = dg.Definitions.merge(build_definitions(settings), dg.Definitions(jobs=[job]))
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("rollup_checks").execute_in_process(
            instance=instance, raise_on_error=False
        )
    return check_results(result)


def test_checks_catch_a_wrong_figure_and_a_wrong_flag(lakes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reference, *_ = lakes["testnet-2022"]
    settings = Settings(
        network="testnet",
        lake_uri=reference.lake_uri,
        storage_uri=str(shutil.copytree(reference.storage_uri, tmp_path / "store")),
        partition_width=reference.partition_width,
    )
    assert run_rollup_checks(settings) == {
        "asset_activity_adds_up": True,
        "analytics_completeness": True,
    }
    location = open_location(settings.storage_uri)

    def tamper(table: str, pick, change) -> None:  # type: ignore[no-untyped-def]
        store = RollupStore(location, table)
        rows = store.read()
        row = next(r for r in rows.to_pylist() if pick(r))
        change(row)
        store.replace_periods(
            pa.Table.from_pylist([row], schema=store.schema), {row["grain"]: {row["period_start"]}}
        )

    tamper(
        "asset_activity",
        lambda r: r["grain"] == "day" and r["asset_key"] == "native",
        lambda r: r.update(transfer_count=r["transfer_count"] + 1),
    )
    assert run_rollup_checks(settings)["asset_activity_adds_up"] is False
    tamper(
        "network_activity",
        lambda r: r["grain"] == "hour",
        lambda r: r.update(complete=True),
    )
    assert run_rollup_checks(settings)["analytics_completeness"] is False


def test_full_update_and_maintenance_change_no_figure(lakes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reference, *_ = lakes["pubnet-p26"]
    location = open_location(str(shutil.copytree(reference.storage_uri, tmp_path / "store")))
    # A full update rewrites every period (and leaves the replaced files to vacuum).
    update = update_rollups(location, full=True)
    stored = {(r["grain"], r["period_start"]) for r in rollup(reference, "network_activity")}
    assert update.dirty and stored <= {(g, p) for g, ps in update.periods.items() for p in ps}
    for table in ROLLUPS:
        store = RollupStore(location, table)
        before = rollup(reference, table)
        report = store.maintain(retention_hours=0)
        # The files the full update replaced are gone; compaction never adds files.
        assert report["vacuumed"] >= 1 and report["files_added"] <= report["files_removed"]
        got = sorted(store.read().to_pylist(), key=lambda r: tuple(str(r[k]) for k in sorted(r)))
        assert got == before


def test_automation_requests_partials_then_rollups(tmp_path: Path) -> None:
    """What the automation sensor would do: partials of the ledger ranges whose sources landed,
    then the rollups once partials changed, then nothing until something lands again."""
    settings = settings_for(tmp_path / "store", "pubnet-p26")
    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral() as empty:
        before = dg.evaluate_automation_conditions(defs=defs, instance=empty)
    assert before.total_requested == 0
    instance, keys = ingest(settings, "pubnet-p26")
    partials = [dg.AssetKey(t) for t in ("ledger_activity", "asset_hour_partials")]
    rollups = [dg.AssetKey(t) for t in ROLLUPS]

    def requested(result) -> dict[dg.AssetKey, set]:  # type: ignore[no-untyped-def]
        return {k: result.get_requested_partitions(k) for k in [*partials, *rollups]}

    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    got = requested(tick)
    assert all(got[k] == set(keys) for k in partials), got
    assert all(not got[k] for k in rollups), got

    passed(run_partials(settings, instance, keys))
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    got = requested(tick)
    assert all(not got[k] for k in partials), got
    assert all(got[k] == {None} for k in rollups), got

    passed(run_rollups(settings, instance))
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.total_requested == 0
