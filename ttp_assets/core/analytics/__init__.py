"""The analytics tier: partial aggregates per ledger-range partition, and period rollups.

See ``partials`` (what one partition contributes), ``periods`` (which periods a partition
touches and when a period is complete) and ``rollups`` (hours and days, recomputed only where a
partition changed). Every aggregation runs in DuckDB (``engine``) over Arrow tables.
"""
