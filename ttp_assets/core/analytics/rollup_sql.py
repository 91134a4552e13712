"""The rollup queries: partial aggregates of any partitions summed into hours and days.

Each query reads the partial tables (as registered Arrow tables) and ``periods`` (grain,
period_start, period_end, day, complete: the periods to compute), and returns exactly the rows
of those periods. Sums of amounts stay exact (``engine.exact_text``); distinct counts are
counts of distinct accounts over the union of the hourly sets.
"""

from __future__ import annotations

from .categories import CLASSIC_DECIMALS
from .partials import BAND_PREFIX, MAX_BAND

# (column prefix, metric rows it sums)
_AMOUNTS = {
    "transfer_volume": ("transfer",),
    "minted": ("mint",),
    "burned": ("burn",),
    "clawed_back": ("clawback",),
    "fees": ("fee",),
    "small_volume": ("transfer_small",),
    "medium_volume": ("transfer_medium",),
    "large_volume": ("transfer_large",),
}
_COUNTS = {
    "transfer_count": "transfer",
    "mint_count": "mint",
    "burn_count": "burn",
    "clawback_count": "clawback",
    "fee_count": "fee",
    "small_count": "transfer_small",
    "medium_count": "transfer_medium",
    "large_count": "transfer_large",
}


def _pivot() -> str:
    cols = [f"coalesce(sum(n) FILTER (WHERE metric = '{m}'), 0) AS {c}" for c, m in _COUNTS.items()]
    cols += [
        f"coalesce(any_value(raw) FILTER (WHERE metric = '{metric}'), '0') AS {name}_raw"
        for name, (metric,) in _AMOUNTS.items()
    ]
    cols.append(
        "coalesce(any_value(raw) FILTER (WHERE metric = 'net_supply'), '0') "
        "AS net_supply_change_raw"
    )
    return ",\n           ".join(cols)


_DECIMAL_COPIES = ",\n       ".join(
    f"exact_decimal({n}_raw) AS {n}" for n in [*_AMOUNTS, "net_supply_change"]
)

# Both grains from the same hourly rows: an hour is its own period, a day groups its hours.
_BY_GRAIN = """
    SELECT 'hour' AS grain, {t} AS period_start, * FROM {src}
    UNION ALL
    SELECT 'day', date_trunc('day', {t}), * FROM {src}
"""

# Sums per (period, asset, metric) first, each rendered exactly once, then one row per asset:
# the exact rendering is a large expression, so it is not repeated per output column.
# A custom token's transfers come in bands (``partials``: ``transfer_band:<k_l>:<k_s>``): with
# its decimals d from ``decimals`` (the token_decimals lookup), a band is large for d < k_l,
# small for d >= k_s, else medium. A token without known decimals is in no category.
ASSET_ACTIVITY = f"""
WITH partial_sums AS (
    SELECT grain, period_start, asset_key, metric,
           any_value(asset) AS asset, any_value(contract_id) AS contract_id,
           sum(event_count) AS n, sum(amount_hi) AS hi, sum(amount_lo) AS lo,
           min(first_ledger) AS first_ledger, max(last_ledger) AS last_ledger
    FROM ({_BY_GRAIN.format(t="hour", src="asset_hour_partials")}) a
    SEMI JOIN periods USING (grain, period_start)
    GROUP BY grain, period_start, asset_key, metric
),
banded AS (
    SELECT b.grain, b.period_start, b.asset_key,
           CASE WHEN least(d.decimals, {MAX_BAND}) >= split_part(b.metric, ':', 3)::INTEGER
                    THEN 'transfer_small'
                WHEN least(d.decimals, {MAX_BAND}) < split_part(b.metric, ':', 2)::INTEGER
                    THEN 'transfer_large'
                ELSE 'transfer_medium' END AS metric,
           any_value(b.asset) AS asset, any_value(b.contract_id) AS contract_id,
           sum(b.n) AS n, sum(b.hi) AS hi, sum(b.lo) AS lo,
           min(b.first_ledger) AS first_ledger, max(b.last_ledger) AS last_ledger
    FROM partial_sums b
    JOIN decimals d ON b.asset IS NULL AND d.contract_id = b.contract_id AND d.decimals >= 0
    WHERE starts_with(b.metric, '{BAND_PREFIX}')
    GROUP BY ALL
),
long AS (
    SELECT * FROM partial_sums WHERE NOT starts_with(metric, '{BAND_PREFIX}')
    UNION ALL BY NAME
    SELECT * FROM banded
),
supply AS (
    SELECT grain, period_start, asset_key, 'net_supply' AS metric,
           any_value(asset) AS asset, any_value(contract_id) AS contract_id, 0 AS n,
           sum(CASE WHEN metric = 'mint' THEN hi ELSE -hi END) AS hi,
           sum(CASE WHEN metric = 'mint' THEN lo ELSE -lo END) AS lo,
           min(first_ledger) AS first_ledger, max(last_ledger) AS last_ledger
    FROM long WHERE metric IN ('mint', 'burn', 'clawback')
    GROUP BY grain, period_start, asset_key
),
rendered AS (
    SELECT *, exact_text(hi, lo) AS raw FROM long
    UNION ALL BY NAME
    SELECT *, exact_text(hi, lo) AS raw FROM supply
),
sums AS (
    SELECT grain, period_start, asset_key, any_value(asset) AS asset,
           any_value(contract_id) AS contract_id,
           {_pivot()},
           min(first_ledger) AS first_ledger, max(last_ledger) AS last_ledger
    FROM rendered
    GROUP BY grain, period_start, asset_key
),
uniq AS (
    SELECT grain, period_start, scope AS asset_key,
           count(DISTINCT account) FILTER (WHERE sent) AS unique_senders,
           count(DISTINCT account) FILTER (WHERE received) AS unique_receivers,
           count(DISTINCT account) AS unique_accounts
    FROM ({_BY_GRAIN.format(t="hour", src="account_hour_partials")}) u
    SEMI JOIN periods USING (grain, period_start)
    WHERE scope <> '*'
    GROUP BY ALL
)
SELECT p.grain, p.period_start, p.period_end, p.day, p.complete,
       CASE WHEN s.asset IS NOT NULL THEN {CLASSIC_DECIMALS} ELSE d.decimals END AS decimals,
       s.* EXCLUDE (grain, period_start),
       coalesce(uniq.unique_senders, 0) AS unique_senders,
       coalesce(uniq.unique_receivers, 0) AS unique_receivers,
       coalesce(uniq.unique_accounts, 0) AS unique_accounts,
       {_DECIMAL_COPIES}
FROM sums s
JOIN periods p USING (grain, period_start)
LEFT JOIN uniq USING (grain, period_start, asset_key)
LEFT JOIN decimals d ON s.asset IS NULL AND d.contract_id = s.contract_id
ORDER BY p.grain, p.period_start, s.asset_key
"""

NETWORK_ACTIVITY = f"""
WITH sums AS (
    SELECT grain, period_start,
           min(ledger_sequence) AS first_ledger, max(ledger_sequence) AS last_ledger,
           count(*) AS ledger_count,
           sum(transaction_count) AS transaction_count,
           sum(successful_transaction_count) AS successful_transaction_count,
           sum(failed_transaction_count) AS failed_transaction_count,
           sum(operation_count) AS operation_count,
           sum(successful_operation_count) AS successful_operation_count,
           sum(fee_charged) AS fee_charged,
           sum(soroban_invocations) AS soroban_invocations,
           sum(accounts_created) AS accounts_created,
           sum(event_count) AS event_count
    FROM ({_BY_GRAIN.format(t="date_trunc('hour', closed_at)", src="ledger_activity")}) l
    SEMI JOIN periods USING (grain, period_start)
    GROUP BY ALL
),
active AS (
    SELECT grain, period_start, count(DISTINCT account) AS active_accounts
    FROM ({_BY_GRAIN.format(t="hour", src="account_hour_partials")}) u
    SEMI JOIN periods USING (grain, period_start)
    WHERE scope = '*'
    GROUP BY ALL
)
SELECT p.grain, p.period_start, p.period_end, p.day, p.complete,
       s.* EXCLUDE (grain, period_start),
       coalesce(active.active_accounts, 0) AS active_accounts
FROM sums s
JOIN periods p USING (grain, period_start)
LEFT JOIN active USING (grain, period_start)
ORDER BY p.grain, p.period_start
"""

NETWORK_OPERATIONS = f"""
SELECT p.grain, p.period_start, p.period_end, p.day, p.complete, o.type,
       sum(o.operation_count) AS operation_count,
       sum(o.successful_operation_count) AS successful_operation_count
FROM ({_BY_GRAIN.format(t="hour", src="operation_hour_partials")}) o
JOIN periods p USING (grain, period_start)
GROUP BY ALL
ORDER BY p.grain, p.period_start, o.type
"""

QUERIES = {
    "asset_activity": ASSET_ACTIVITY,
    "network_activity": NETWORK_ACTIVITY,
    "network_operations": NETWORK_OPERATIONS,
}
