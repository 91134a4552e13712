"""The Arrow schema of every table the platform writes: the one place each is defined.

Writers build batches against these schemas (never inferring types), readers and the Flight
gateway serve them, and the schema snapshot test fails on any accidental change. Column
descriptions live in field metadata so that Parquet, Delta and Flight clients all see them.

Conventions:
- ``ledger_sequence`` is uint32 (as in XDR); every table carries it, which is what splits a
  multi-partition output into its partitions.
- times are ``timestamp[s, UTC]`` (ledger close times have second resolution);
- hashes are lowercase hex strings; accounts are strkeys (G/M/C/L/B);
- classic amounts are int64 stroops; token amounts that can exceed int64 are exact decimal
  strings plus a ``decimal128(38, 0)`` copy, with a float in whole units only for convenience;
- ids follow TOID (``ledger << 32 | tx << 12 | op``, tx and op 1-based), as stellar-etl.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("s", tz="UTC")


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": doc})


def _schema(name: str, doc: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata={"ttp.table": name, "description": doc})


RAW_LEDGERS = _schema(
    "raw_ledgers",
    "One row per ledger: the LedgerCloseMeta XDR exactly as the source served it.",
    [
        _f("ledger_sequence", pa.uint32(), "Ledger sequence number", False),
        _f("closed_at", TIMESTAMP, "Ledger close time (SCP value close time)", False),
        _f("ledger_hash", pa.string(), "Hex sha256 of the ledger header XDR", False),
        _f("previous_ledger_hash", pa.string(), "Hex hash of the previous ledger", False),
        _f("protocol_version", pa.uint32(), "Header ledgerVersion", False),
        _f("lcm_version", pa.uint8(), "LedgerCloseMeta union arm (0, 1 or 2)", False),
        _f("lcm_xdr", pa.binary(), "The LedgerCloseMeta XDR bytes", False),
    ],
)

LEDGERS = _schema(
    "ledgers",
    "One row per ledger: header fields and per-ledger totals.",
    [
        _f("ledger_sequence", pa.uint32(), "Ledger sequence number", False),
        _f("closed_at", TIMESTAMP, "Ledger close time", False),
        _f("ledger_hash", pa.string(), "Hex hash of the ledger header", False),
        _f("previous_ledger_hash", pa.string(), "Hex hash of the previous ledger", False),
        _f("protocol_version", pa.uint32(), "Header ledgerVersion", False),
        _f("lcm_version", pa.uint8(), "LedgerCloseMeta version", False),
        _f("tx_set_hash", pa.string(), "Hex hash of the transaction set", False),
        _f("tx_set_result_hash", pa.string(), "Hex hash of the transaction results", False),
        _f("bucket_list_hash", pa.string(), "Hex hash of the bucket list", False),
        _f("total_coins", pa.int64(), "Total lumens in existence, stroops", False),
        _f("fee_pool", pa.int64(), "Fee pool after this ledger, stroops", False),
        _f("inflation_seq", pa.uint32(), "Inflation sequence", False),
        _f("id_pool", pa.uint64(), "Last used global id", False),
        _f("base_fee", pa.uint32(), "Base fee per operation, stroops", False),
        _f("base_reserve", pa.uint32(), "Base reserve, stroops", False),
        _f("max_tx_set_size", pa.uint32(), "Maximum tx set size", False),
        _f("upgrade_count", pa.uint16(), "Protocol upgrades applied in this ledger", False),
        _f("transaction_count", pa.uint32(), "Transactions applied", False),
        _f("successful_transaction_count", pa.uint32(), "Transactions that succeeded", False),
        _f("failed_transaction_count", pa.uint32(), "Transactions that failed", False),
        _f("operation_count", pa.uint32(), "Operations in all applied transactions", False),
        _f(
            "successful_operation_count",
            pa.uint32(),
            "Operations in successful transactions",
            False,
        ),
        _f("soroban_transaction_count", pa.uint32(), "Transactions carrying Soroban data", False),
        _f("fee_charged", pa.int64(), "Sum of the transactions' fee_charged, stroops", False),
        _f("soroban_fee_write_1kb", pa.int64(), "LCM v1+ ext: fee per 1KB written, if given"),
    ],
)

TRANSACTIONS = _schema(
    "transactions",
    "One row per applied transaction, in apply order.",
    [
        _f("ledger_sequence", pa.uint32(), "Ledger sequence number", False),
        _f("closed_at", TIMESTAMP, "Ledger close time", False),
        _f("transaction_index", pa.uint32(), "1-based position in apply order", False),
        _f("transaction_id", pa.int64(), "TOID(ledger, transaction_index, 0)", False),
        _f("transaction_hash", pa.string(), "Hex hash (the outer hash for fee bumps)", False),
        _f("envelope_type", pa.string(), "tx_v0, tx or tx_fee_bump", False),
        _f("account", pa.string(), "Source account (G) of the (inner) transaction", False),
        _f("account_muxed", pa.string(), "Source account as M address, if muxed"),
        _f("account_muxed_id", pa.uint64(), "Muxed id of the source account, if muxed"),
        _f("account_sequence", pa.int64(), "Sequence number of the (inner) transaction", False),
        _f("fee_account", pa.string(), "Account that paid the fee (G)", False),
        _f("fee_account_muxed", pa.string(), "Fee account as M address, if muxed"),
        _f("inner_transaction_hash", pa.string(), "Hex hash of the inner tx of a fee bump"),
        _f("max_fee", pa.int64(), "Maximum fee bid (the outer bid for fee bumps)", False),
        _f("inner_max_fee", pa.int64(), "Inner transaction's fee bid for fee bumps"),
        _f(
            "fee_charged",
            pa.int64(),
            "Fee paid, stroops: the result's feeCharged, corrected for protocol-20 Soroban fee "
            "bumps (stellar-core#4188) as go ingest and stellar-etl do",
            False,
        ),
        _f("result_fee_charged", pa.int64(), "feeCharged exactly as the result reports it", False),
        _f("successful", pa.bool_(), "txSUCCESS or txFEE_BUMP_INNER_SUCCESS", False),
        _f("result_code", pa.string(), "Transaction result code, e.g. txSUCCESS", False),
        _f("inner_result_code", pa.string(), "Inner result code of a fee bump"),
        _f("operation_count", pa.uint32(), "Operations in the transaction", False),
        _f("memo_type", pa.string(), "none, text, id, hash or return", False),
        _f("memo", pa.string(), "Memo: text, decimal id, or hex hash"),
        _f("min_time", TIMESTAMP, "Lower time bound, if any (null beyond 9999-12-31)"),
        _f("max_time", TIMESTAMP, "Upper time bound, if any; null for 0 (none) or beyond 9999"),
        _f("min_ledger", pa.uint32(), "Lower ledger bound, if any"),
        _f("max_ledger", pa.uint32(), "Upper ledger bound, if any"),
        _f("signature_count", pa.uint16(), "Signatures on the (outer) envelope", False),
        _f("is_soroban", pa.bool_(), "Carries SorobanTransactionData", False),
        _f("soroban_resource_fee", pa.int64(), "Declared Soroban resource fee"),
        _f("tx_meta_version", pa.uint8(), "TransactionMeta version", False),
    ],
)

OPERATIONS = _schema(
    "operations",
    "One row per operation of every applied transaction.",
    [
        _f("ledger_sequence", pa.uint32(), "Ledger sequence number", False),
        _f("closed_at", TIMESTAMP, "Ledger close time", False),
        _f("transaction_index", pa.uint32(), "1-based transaction position", False),
        _f("transaction_hash", pa.string(), "Hex hash of the transaction", False),
        _f("transaction_successful", pa.bool_(), "Whether the transaction succeeded", False),
        _f("operation_index", pa.uint32(), "1-based position in the transaction", False),
        _f("operation_id", pa.int64(), "TOID(ledger, transaction_index, operation_index)", False),
        _f("type", pa.string(), "Operation type, e.g. payment", False),
        _f("type_code", pa.uint8(), "Operation type number", False),
        _f("source_account", pa.string(), "Operation source (G), else the tx source", False),
        _f("source_account_muxed", pa.string(), "Operation source as M address, if muxed"),
        _f("result_code", pa.string(), "Result, e.g. PAYMENT_SUCCESS or opNO_ACCOUNT"),
        _f("successful", pa.bool_(), "The operation's result is a success", False),
        _f("destination", pa.string(), "Destination account / contract / balance, if any"),
        _f("destination_muxed", pa.string(), "Destination as M address, if muxed"),
        _f("asset", pa.string(), "Main asset (destination asset for path payments)"),
        _f("amount", pa.int64(), "Main amount in stroops (the op's declared amount)"),
        _f("source_asset", pa.string(), "Asset sent, for path payments and offers (selling)"),
        _f("source_amount", pa.int64(), "Amount sent / max sent / min received, per type"),
        _f("details", pa.string(), "The operation body as SEP-51 XDR-JSON", False),
        _f("result_details", pa.string(), "The operation result as SEP-51 XDR-JSON"),
    ],
)

TTP_EVENTS = _schema(
    "ttp_events",
    "Token transfer events (transfer, mint, burn, clawback, fee) in the reference TTP's order.",
    [
        _f("event_id", pa.string(), "Unique id: ledger-tx-op-position, zero padded", False),
        _f("ledger_sequence", pa.uint32(), "Ledger sequence number", False),
        _f("closed_at", TIMESTAMP, "Ledger close time", False),
        _f("transaction_hash", pa.string(), "Hex tx hash (outer hash for fee bumps)", False),
        _f("transaction_index", pa.uint32(), "1-based transaction index (apply order)", False),
        _f("operation_index", pa.uint32(), "1-based operation index; null for fee events"),
        _f("transaction_id", pa.int64(), "TOID(ledger, transaction_index, 0)", False),
        _f("operation_id", pa.int64(), "TOID(ledger, tx, operation_index); null for fees"),
        _f("event_index", pa.uint32(), "0-based position of the event in the ledger", False),
        _f("event_type", pa.string(), "transfer, mint, burn, clawback or fee", False),
        _f("from", pa.string(), "Sender / burner / clawed-back holder / fee payer"),
        _f("to", pa.string(), "Receiver (transfer and mint)"),
        _f("asset", pa.string(), "native or CODE:ISSUER; null for custom contract tokens"),
        _f("asset_type", pa.string(), "native, credit_alphanum4, credit_alphanum12; null custom"),
        _f("asset_code", pa.string(), "Asset code, for credit assets"),
        _f("asset_issuer", pa.string(), "Asset issuer (G), for credit assets"),
        _f(
            "contract_id", pa.string(), "C address: the asset's SAC or the emitting contract", False
        ),
        _f("to_muxed", pa.string(), "M address of `to` with the muxed id (kind id, G `to`)"),
        _f("to_muxed_kind", pa.string(), "id, text or hash when muxed info is set"),
        _f("to_muxed_id", pa.uint64(), "Destination muxed id (kind id)"),
        _f("to_muxed_text", pa.string(), "Destination memo text (kind text)"),
        _f("to_muxed_hash", pa.string(), "Destination memo hash, hex (kind hash)"),
        _f("amount_raw", pa.string(), "Exact amount in raw units (i128 decimal string)", False),
        _f(
            "amount",
            pa.decimal128(38, 0),
            "Amount as decimal(38,0); null beyond 38 digits (i128 reaches 39), see amount_raw",
        ),
        _f(
            "amount_units",
            pa.float64(),
            "Convenience: amount / 10^7 for classic assets (7 decimals); null for custom "
            "tokens, whose decimals are their own (not the source of truth)",
        ),
        _f(
            "derivation",
            pa.string(),
            "derived or unified: how the ledger's events were made",
            False,
        ),
    ],
)

BALANCE_CHANGES = _schema(
    "balance_changes",
    "Per transaction, the net balance change of each (holder, asset) that the ledger entries "
    "show: accounts, trustlines (not pool shares), claimable balances, liquidity pools. What the "
    "token events must account for.",
    [
        _f("ledger_sequence", pa.uint32(), "Ledger sequence number", False),
        _f("closed_at", TIMESTAMP, "Ledger close time", False),
        _f("transaction_hash", pa.string(), "Hex transaction hash", False),
        _f("transaction_index", pa.uint32(), "1-based transaction index", False),
        _f("holder", pa.string(), "G, B or L address holding the balance", False),
        _f("asset", pa.string(), "native or CODE:ISSUER", False),
        _f("delta", pa.int64(), "post - pre over the transaction, raw units (never 0)", False),
    ],
)

TOKEN_METADATA = _schema(
    "token_metadata",
    "One row per contract-instance ledger entry change (created, updated or restored) whose "
    "instance storage holds a SEP-41 METADATA entry: the token's decimals, name and symbol as "
    "the ledger shows them. Made by the native core from raw_ledgers; the source of the "
    "token_decimals lookup the rollups join.",
    [
        _f("ledger_sequence", pa.uint32(), "Ledger sequence number", False),
        _f("closed_at", TIMESTAMP, "Ledger close time", False),
        _f("transaction_hash", pa.string(), "Hex tx hash (outer hash for fee bumps)", False),
        _f("transaction_index", pa.uint32(), "1-based transaction index (apply order)", False),
        _f(
            "operation_index",
            pa.uint32(),
            "1-based operation index; null for a transaction-level change",
        ),
        _f(
            "change_index",
            pa.uint32(),
            "0-based position of the change among all the transaction's ledger entry changes "
            "(STATE included), in apply order: fee processing, changes before, operations, "
            "changes after, post-apply fee processing",
            False,
        ),
        _f("change_type", pa.string(), "created, updated or restored", False),
        _f("contract_id", pa.string(), "The contract (C address)", False),
        _f(
            "executable",
            pa.string(),
            "wasm, stellar_asset (a Stellar Asset Contract) or external_ref",
            False,
        ),
        _f(
            "decimals",
            pa.uint32(),
            "METADATA `decimal` (u32); null when missing or not a u32",
        ),
        _f("name", pa.string(), "METADATA `name`; null when missing, not a string or not UTF-8"),
        _f(
            "symbol",
            pa.string(),
            "METADATA `symbol`; null when missing, not a string or not UTF-8",
        ),
    ],
)

# -- analytics (the fourth tier; see ``core.analytics``) ------------------------------------
#
# Partial aggregates are ledger-range partitioned like every table above: what one partition's
# ledgers contribute to each hour, with distinct sets kept exactly (one row per account), so
# that hours and days split across partitions add up exactly. Rollups are keyed by period,
# not by ledger range: one row per (grain, period, ...) with a completeness flag.

# Exact sums of i128 amounts are carried as two decimal(38,0) parts, high * 10^18 + low, each
# summed on its own: neither part can overflow for any realistic number of rows, and the
# rollup turns them into one exact decimal string (``core.analytics.engine``).
_HI = "sum of the amounts' high parts (amount div 10^18, truncated toward zero)"
_LO = "sum of the amounts' low parts (amount mod 10^18, sign of the amount)"


def _exact(name: str, doc: str) -> list[pa.Field]:
    return [
        _f(f"{name}_raw", pa.string(), f"{doc}: exact, raw units (decimal string)", False),
        _f(name, pa.decimal128(38, 0), f"{doc} as decimal(38,0); null beyond 38 digits"),
    ]


HOUR = "Start of the UTC hour the ledgers closed in"

LEDGER_ACTIVITY = _schema(
    "ledger_activity",
    "One row per ledger: its activity at full resolution (the network rollups' source).",
    [
        _f("ledger_sequence", pa.uint32(), "Ledger sequence number", False),
        _f("closed_at", TIMESTAMP, "Ledger close time", False),
        _f("protocol_version", pa.int64(), "Header ledgerVersion", False),
        _f("transaction_count", pa.int64(), "Transactions applied", False),
        _f("successful_transaction_count", pa.int64(), "Transactions that succeeded", False),
        _f("failed_transaction_count", pa.int64(), "Transactions that failed", False),
        _f("operation_count", pa.int64(), "Operations in all applied transactions", False),
        _f("successful_operation_count", pa.int64(), "Operations that succeeded", False),
        _f("fee_charged", pa.int64(), "Fees charged, stroops (native)", False),
        _f(
            "soroban_invocations",
            pa.int64(),
            "invoke_host_function operations that succeeded",
            False,
        ),
        _f("accounts_created", pa.int64(), "create_account operations that succeeded", False),
        _f("event_count", pa.int64(), "Token transfer events (all types)", False),
        _f("transfer_count", pa.int64(), "Transfer events", False),
        _f(
            "active_accounts",
            pa.int64(),
            "Distinct accounts that sourced a transaction or operation or paid a fee",
            False,
        ),
    ],
)

ASSET_HOUR_PARTIALS = _schema(
    "asset_hour_partials",
    "Per hour, asset and metric: what one ledger-range partition's events contribute.",
    [
        _f("hour", TIMESTAMP, HOUR, False),
        _f(
            "asset_key",
            pa.string(),
            "The asset: `asset` for classic assets, else contract_id",
            False,
        ),
        _f("asset", pa.string(), "native or CODE:ISSUER; null for custom contract tokens"),
        _f("contract_id", pa.string(), "The asset's contract (SAC or token contract)", False),
        _f(
            "metric",
            pa.string(),
            "transfer, mint, burn, clawback, fee; transfer_small / _medium / _large (classic "
            "assets); transfer_band:<k_l>:<k_s> (custom tokens, categorized by the rollups)",
            False,
        ),
        _f("event_count", pa.int64(), "Events", False),
        _f("amount_hi", pa.decimal128(38, 0), _HI, False),
        _f("amount_lo", pa.decimal128(38, 0), _LO, False),
        _f("first_ledger", pa.int64(), "First ledger with such events in the hour", False),
        _f("last_ledger", pa.int64(), "Last ledger with such events in the hour", False),
    ],
)

ACCOUNT_HOUR_PARTIALS = _schema(
    "account_hour_partials",
    "Per hour and scope, each distinct account active in one partition's ledgers: the exact "
    "distinct sets that hourly and daily unique counts are unions of.",
    [
        _f("hour", TIMESTAMP, HOUR, False),
        _f("scope", pa.string(), "asset_key of the asset, or `*` for the network", False),
        _f("account", pa.string(), "The address (G, C, M, B or L)", False),
        _f("sent", pa.bool_(), "Sender (`from`) of a transfer of the asset", False),
        _f("received", pa.bool_(), "Receiver (`to`) of a transfer of the asset", False),
    ],
)

OPERATION_HOUR_PARTIALS = _schema(
    "operation_hour_partials",
    "Per hour and operation type: one partition's operations.",
    [
        _f("hour", TIMESTAMP, HOUR, False),
        _f("type", pa.string(), "Operation type, e.g. payment", False),
        _f("operation_count", pa.int64(), "Operations applied", False),
        _f("successful_operation_count", pa.int64(), "Operations that succeeded", False),
    ],
)

_PERIOD = [
    _f("grain", pa.string(), "hour or day", False),
    _f("period_start", TIMESTAMP, "Start of the UTC hour or day", False),
    _f("period_end", TIMESTAMP, "End of the period (exclusive)", False),
    _f("day", pa.string(), "UTC date of the period (YYYY-MM-DD), the Delta partition", False),
    _f(
        "complete",
        pa.bool_(),
        "Every ledger that closed in the period is materialized: a stored ledger closed before "
        "it and one after it, with no sequence gap between them",
        False,
    ),
]

ASSET_ACTIVITY = _schema(
    "asset_activity",
    "Per asset, per hour and per day: transfers, supply changes, fees, unique accounts and "
    "transfers by amount category.",
    [
        *_PERIOD,
        _f(
            "asset_key",
            pa.string(),
            "The asset: `asset` for classic assets, else contract_id",
            False,
        ),
        _f("asset", pa.string(), "native or CODE:ISSUER; null for custom contract tokens"),
        _f("contract_id", pa.string(), "The asset's contract (SAC or token contract)", False),
        _f("decimals", pa.int32(), "Decimals the categories use (7 for classic); null if unknown"),
        _f("transfer_count", pa.int64(), "Transfer events", False),
        *_exact("transfer_volume", "Sum of transferred amounts"),
        _f("mint_count", pa.int64(), "Mint events", False),
        *_exact("minted", "Sum of minted amounts"),
        _f("burn_count", pa.int64(), "Burn events", False),
        *_exact("burned", "Sum of burned amounts"),
        _f("clawback_count", pa.int64(), "Clawback events", False),
        *_exact("clawed_back", "Sum of clawed-back amounts"),
        *_exact("net_supply_change", "minted - burned - clawed_back"),
        _f("fee_count", pa.int64(), "Fee events (native only)", False),
        *_exact("fees", "Sum of fee events (charges net of refunds)"),
        _f("unique_senders", pa.int64(), "Distinct `from` of transfers", False),
        _f("unique_receivers", pa.int64(), "Distinct `to` of transfers", False),
        _f(
            "unique_accounts",
            pa.int64(),
            "Distinct addresses in any non-fee event of the asset (either side)",
            False,
        ),
        _f("small_count", pa.int64(), "Transfers below the small threshold", False),
        *_exact("small_volume", "Volume of small transfers"),
        _f("medium_count", pa.int64(), "Transfers between the thresholds", False),
        *_exact("medium_volume", "Volume of medium transfers"),
        _f("large_count", pa.int64(), "Transfers at or above the large threshold", False),
        *_exact("large_volume", "Volume of large transfers"),
        _f(
            "first_ledger", pa.int64(), "First ledger with events of the asset in the period", False
        ),
        _f("last_ledger", pa.int64(), "Last ledger with events of the asset in the period", False),
    ],
)

NETWORK_ACTIVITY = _schema(
    "network_activity",
    "The network per hour and per day: ledgers, transactions, operations, fees, Soroban "
    "invocations, accounts created and active accounts.",
    [
        *_PERIOD,
        _f("first_ledger", pa.int64(), "First stored ledger closed in the period", False),
        _f("last_ledger", pa.int64(), "Last stored ledger closed in the period", False),
        _f("ledger_count", pa.int64(), "Stored ledgers closed in the period", False),
        _f("transaction_count", pa.int64(), "Transactions applied", False),
        _f("successful_transaction_count", pa.int64(), "Transactions that succeeded", False),
        _f("failed_transaction_count", pa.int64(), "Transactions that failed", False),
        _f("operation_count", pa.int64(), "Operations applied", False),
        _f("successful_operation_count", pa.int64(), "Operations that succeeded", False),
        _f("fee_charged", pa.int64(), "Fees charged, stroops", False),
        _f("soroban_invocations", pa.int64(), "Successful invoke_host_function operations", False),
        _f("accounts_created", pa.int64(), "Successful create_account operations", False),
        _f("event_count", pa.int64(), "Token transfer events", False),
        _f(
            "active_accounts",
            pa.int64(),
            "Distinct accounts that sourced a transaction or operation or paid a fee",
            False,
        ),
    ],
)

NETWORK_OPERATIONS = _schema(
    "network_operations",
    "Operations by type, per hour and per day.",
    [
        *_PERIOD,
        _f("type", pa.string(), "Operation type, e.g. payment", False),
        _f("operation_count", pa.int64(), "Operations applied", False),
        _f("successful_operation_count", pa.int64(), "Operations that succeeded", False),
    ],
)

# Ledger-range partitioned analytics tables (stored like ``ttp_events``) and period rollups.
ANALYTICS_PARTIAL_TABLES: dict[str, pa.Schema] = {
    s.metadata[b"ttp.table"].decode(): s
    for s in (LEDGER_ACTIVITY, ASSET_HOUR_PARTIALS, ACCOUNT_HOUR_PARTIALS, OPERATION_HOUR_PARTIALS)
}
ROLLUP_TABLES: dict[str, pa.Schema] = {
    s.metadata[b"ttp.table"].decode(): s
    for s in (ASSET_ACTIVITY, NETWORK_ACTIVITY, NETWORK_OPERATIONS)
}

TABLES: dict[str, pa.Schema] = {
    s.metadata[b"ttp.table"].decode(): s
    for s in (RAW_LEDGERS, LEDGERS, TRANSACTIONS, OPERATIONS, TTP_EVENTS, BALANCE_CHANGES)
}


# Ledger-range partitioned analytics tables the native core makes from ``raw_ledgers`` (in the
# analytics group, stored like the partials; not one of the ledger tables above, so not part
# of a partition's completeness).
CORE_ANALYTICS_TABLES: dict[str, pa.Schema] = {"token_metadata": TOKEN_METADATA}

# Every table the native core builds, as it receives their schemas.
NATIVE_TABLES: dict[str, pa.Schema] = {**TABLES, **CORE_ANALYTICS_TABLES}


def schema_for(table: str) -> pa.Schema:
    """The schema of any table the platform writes (ledger tables, analytics, rollups)."""
    known = {**TABLES, **CORE_ANALYTICS_TABLES, **ANALYTICS_PARTIAL_TABLES, **ROLLUP_TABLES}
    try:
        return known[table]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known: {sorted(known)}") from None
