"""The analytics asset group: partial aggregates per ledger range, and hourly / daily rollups."""
