"""What one ledger-range partition contributes to the analytics: the four partial tables.

Computed from the partition's stored ``ttp_events``, ``ledgers``, ``transactions`` and
``operations`` only, so a partition's partials never depend on another partition; hours that
straddle partitions are summed (and their distinct sets unioned) by the rollups.
"""

from __future__ import annotations

import pyarrow as pa

from .. import schemas
from .categories import CLASSIC_DECIMALS, AmountCategories
from .engine import connect

EVENT_COLUMNS = [
    "ledger_sequence",
    "closed_at",
    "event_type",
    "from",
    "to",
    "asset",
    "contract_id",
    "amount_raw",
]
LEDGER_COLUMNS = [
    "ledger_sequence",
    "closed_at",
    "protocol_version",
    "transaction_count",
    "successful_transaction_count",
    "failed_transaction_count",
    "operation_count",
    "successful_operation_count",
    "fee_charged",
]
TRANSACTION_COLUMNS = ["ledger_sequence", "closed_at", "account", "fee_account"]
OPERATION_COLUMNS = ["ledger_sequence", "closed_at", "type", "successful", "source_account"]

# The token_decimals lookup the rollups join (``rollups.token_decimals``): one row per contract.
DECIMALS_SCHEMA = pa.schema([("contract_id", pa.string()), ("decimals", pa.int32())])

# Custom tokens' transfers are put in *bands*, not categories: their decimals come from the
# ledgers' token metadata, which may be stored in another partition (even a later one), so the
# rollups categorize them (``rollup_sql``). A transfer of amount a is small for decimals d when
# a < S * 10^d, large when a >= L * 10^d (S, L: the thresholds in whole units). Both bounds grow
# with d, so with k_s = #{d in 0..38 : S * 10^d <= a} and k_l likewise for L, the transfer is
# large for d < k_l, small for d >= k_s, medium in between (beyond 38 decimals, a threshold
# exceeds every i128 amount: small). Its band is the metric ``transfer_band:<k_l>:<k_s>``; k
# is the number of digits of a div S (0 when a < S), at most 39.
BAND_PREFIX = "transfer_band:"
MAX_BAND = 39

_ASSET_HOUR = f"""
WITH units AS (
    SELECT small_below::HUGEINT AS s, large_from::HUGEINT AS l FROM thresholds WHERE decimals = 0
),
ev AS (
    SELECT date_trunc('hour', e.closed_at) AS hour,
           coalesce(e.asset, e.contract_id) AS asset_key, e.asset, e.contract_id,
           e.event_type, e.ledger_sequence, e.amount_raw, e.amount_raw::HUGEINT AS amount
    FROM events e
),
metrics AS (
    SELECT hour, asset_key, asset, contract_id, event_type AS metric, ledger_sequence,
           amount_raw
    FROM ev
    UNION ALL
    SELECT ev.hour, ev.asset_key, ev.asset, ev.contract_id,
           CASE WHEN ev.amount < th.small_below::HUGEINT THEN 'transfer_small'
                WHEN th.large_from IS NULL OR ev.amount < th.large_from::HUGEINT
                    THEN 'transfer_medium'
                ELSE 'transfer_large' END,
           ev.ledger_sequence, ev.amount_raw
    FROM ev JOIN thresholds th ON th.decimals = {CLASSIC_DECIMALS}
    WHERE ev.event_type = 'transfer' AND ev.asset IS NOT NULL
    UNION ALL
    SELECT ev.hour, ev.asset_key, ev.asset, ev.contract_id,
           '{BAND_PREFIX}'
           || (CASE WHEN ev.amount < u.l THEN 0
                    ELSE least(length((ev.amount // u.l)::VARCHAR), {MAX_BAND}) END)::VARCHAR
           || ':'
           || (CASE WHEN ev.amount < u.s THEN 0
                    ELSE least(length((ev.amount // u.s)::VARCHAR), {MAX_BAND}) END)::VARCHAR,
           ev.ledger_sequence, ev.amount_raw
    FROM ev CROSS JOIN units u
    WHERE ev.event_type = 'transfer' AND ev.asset IS NULL
)
SELECT hour, asset_key, asset, contract_id, metric,
       count(*) AS event_count,
       sum(amount_hi(amount_raw))::DECIMAL(38, 0) AS amount_hi,
       sum(amount_lo(amount_raw))::DECIMAL(38, 0) AS amount_lo,
       min(ledger_sequence) AS first_ledger,
       max(ledger_sequence) AS last_ledger
FROM metrics
GROUP BY ALL
ORDER BY hour, asset_key, metric
"""

# Network activity: the accounts that sourced a transaction or an operation, or paid a fee.
_NETWORK_ACCOUNTS = """
SELECT ledger_sequence, closed_at, account FROM transactions
UNION ALL SELECT ledger_sequence, closed_at, fee_account FROM transactions
UNION ALL SELECT ledger_sequence, closed_at, source_account FROM operations
"""

_ACCOUNT_HOUR = f"""
WITH roles AS (
    SELECT date_trunc('hour', closed_at) AS hour, coalesce(asset, contract_id) AS scope,
           "from" AS account, event_type = 'transfer' AS sent, false AS received
    FROM events WHERE event_type <> 'fee' AND coalesce("from", '') <> ''
    UNION ALL
    SELECT date_trunc('hour', closed_at), coalesce(asset, contract_id),
           "to", false, event_type = 'transfer'
    FROM events WHERE event_type <> 'fee' AND coalesce("to", '') <> ''
    UNION ALL
    SELECT date_trunc('hour', closed_at), '*', account, false, false
    FROM ({_NETWORK_ACCOUNTS}) WHERE coalesce(account, '') <> ''
)
SELECT hour, scope, account, bool_or(sent) AS sent, bool_or(received) AS received
FROM roles GROUP BY ALL ORDER BY hour, scope, account
"""

_OPERATION_HOUR = """
SELECT date_trunc('hour', closed_at) AS hour, type,
       count(*) AS operation_count,
       count(*) FILTER (WHERE successful) AS successful_operation_count
FROM operations GROUP BY ALL ORDER BY hour, type
"""

_LEDGER_ACTIVITY = f"""
WITH ops AS (
    SELECT ledger_sequence,
           count(*) FILTER (WHERE successful AND type = 'invoke_host_function') AS soroban,
           count(*) FILTER (WHERE successful AND type = 'create_account') AS created
    FROM operations GROUP BY ALL
),
ev AS (
    SELECT ledger_sequence, count(*) AS events,
           count(*) FILTER (WHERE event_type = 'transfer') AS transfers
    FROM events GROUP BY ALL
),
active AS (
    SELECT ledger_sequence, count(DISTINCT account) AS active
    FROM ({_NETWORK_ACCOUNTS}) WHERE coalesce(account, '') <> '' GROUP BY ALL
)
SELECT l.ledger_sequence, l.closed_at, l.protocol_version,
       l.transaction_count, l.successful_transaction_count, l.failed_transaction_count,
       l.operation_count, l.successful_operation_count, l.fee_charged,
       coalesce(ops.soroban, 0) AS soroban_invocations,
       coalesce(ops.created, 0) AS accounts_created,
       coalesce(ev.events, 0) AS event_count,
       coalesce(ev.transfers, 0) AS transfer_count,
       coalesce(active.active, 0) AS active_accounts
FROM ledgers l
LEFT JOIN ops USING (ledger_sequence)
LEFT JOIN ev USING (ledger_sequence)
LEFT JOIN active USING (ledger_sequence)
ORDER BY l.ledger_sequence
"""

QUERIES = {
    "ledger_activity": _LEDGER_ACTIVITY,
    "asset_hour_partials": _ASSET_HOUR,
    "account_hour_partials": _ACCOUNT_HOUR,
    "operation_hour_partials": _OPERATION_HOUR,
}


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table``'s columns in ``schema``'s order and types (DuckDB returns microsecond time
    stamps and its own integer widths); a value that does not fit fails the cast."""
    return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in schema], schema=schema)


def compute_partials(
    events: pa.Table,
    ledgers: pa.Table,
    transactions: pa.Table,
    operations: pa.Table,
    categories: AmountCategories,
) -> dict[str, pa.Table]:
    """The four partial tables of one partition, each conforming to its schema. Transfers of
    classic assets are categorized here (7 decimals), custom tokens' put in bands that the
    rollups categorize with the token's decimals."""
    con = connect()
    try:
        con.register("events", events.select(EVENT_COLUMNS))
        con.register("ledgers", ledgers.select(LEDGER_COLUMNS))
        con.register("transactions", transactions.select(TRANSACTION_COLUMNS))
        con.register("operations", operations.select(OPERATION_COLUMNS))
        con.register("thresholds", categories.thresholds())
        return {
            name: conform(con.sql(sql).to_arrow_table(), schemas.ANALYTICS_PARTIAL_TABLES[name])
            for name, sql in QUERIES.items()
        }
    finally:
        con.close()
