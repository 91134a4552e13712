"""The query engine of the analytics tier: DuckDB over Arrow, and exact i128 sums in SQL.

DuckDB runs the aggregations in vectorized, multi-threaded SQL over Arrow tables handed to it
without a copy, and has a native 128-bit integer (HUGEINT) for token amounts. Delta tables are
read through the storage layer (``deltalake`` / pyarrow), never through DuckDB's ``delta``
extension, which it would download at run time.

Exact sums: token amounts are i128, and a sum of i128 can exceed i128 (and decimal(38,0)).
Each amount is split into a high part (amount div 10^18) and a low part (amount mod 10^18, with
the amount's sign); each part is summed on its own as HUGEINT, which cannot overflow for fewer
than ~10^18 rows, and ``exact_text(hi, lo)`` renders hi * 10^18 + lo as an exact decimal string.
"""

from __future__ import annotations

import threading

import duckdb

# DuckDB may use this many threads; 0: its default (every core).
THREADS_ENV = "TTP_ANALYTICS_THREADS"

_MACROS = """
CREATE MACRO amount_hi(raw) AS
    (CASE WHEN starts_with(raw, '-') THEN -1 ELSE 1 END)::HUGEINT
    * (CASE WHEN length(ltrim(raw, '-')) > 18
            THEN left(ltrim(raw, '-'), length(ltrim(raw, '-')) - 18)::HUGEINT
            ELSE 0::HUGEINT END);
CREATE MACRO amount_lo(raw) AS
    (CASE WHEN starts_with(raw, '-') THEN -1 ELSE 1 END)::HUGEINT
    * right(ltrim(raw, '-'), 18)::HUGEINT;
-- lo normalized into [0, 10^18) and the carry moved into hi: value = h * 10^18 + l.
CREATE MACRO norm_lo(lo) AS ((lo % 1000000000000000000::HUGEINT) + 1000000000000000000::HUGEINT)
    % 1000000000000000000::HUGEINT;
CREATE MACRO norm_hi(hi, lo) AS hi + (lo - norm_lo(lo)) // 1000000000000000000::HUGEINT;
CREATE MACRO exact_parts(h, l) AS
    CASE
        WHEN h > 0 THEN h::VARCHAR || lpad(l::VARCHAR, 18, '0')
        WHEN h = 0 THEN l::VARCHAR
        WHEN l = 0 THEN '-' || (-h)::VARCHAR || repeat('0', 18)
        WHEN h = -1 THEN '-' || (1000000000000000000::HUGEINT - l)::VARCHAR
        ELSE '-' || (-h - 1)::VARCHAR
             || lpad((1000000000000000000::HUGEINT - l)::VARCHAR, 18, '0')
    END;
CREATE MACRO exact_text(hi, lo) AS
    exact_parts(norm_hi(hi::HUGEINT, lo::HUGEINT), norm_lo(lo::HUGEINT));
CREATE MACRO exact_decimal(txt) AS TRY_CAST(txt AS DECIMAL(38, 0));
"""


_base: duckdb.DuckDBPyConnection | None = None
_lock = threading.Lock()


def _database() -> duckdb.DuckDBPyConnection:
    """The process's in-memory database, holding the macros (made once: ~30 ms)."""
    global _base
    with _lock:
        if _base is None:
            con = duckdb.connect(":memory:")
            con.execute(_MACROS)
            _base = con
        return _base


def connect() -> duckdb.DuckDBPyConnection:
    """A private connection (a cursor of the process's database: the macros are there; the
    tables a caller registers are its own), safe to use from any thread."""
    con = _database().cursor()
    from ...settings import analytics_threads  # settings are read in one module

    threads = analytics_threads()
    if threads > 0:
        con.execute(f"SET threads = {threads}")
    # Hours and days are UTC periods, whatever the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    return con
